"""The read-only view (``notebooks/readonly.ipynb``, rendered by Voila): aggregates only.

Headline totals (24h, 7d, 30d, all; per exchange), the daily volume chart, volume by exchange and by
market. A figure over days a venue no longer serves (before its ``complete_from``) reads ``≥ $X`` with the
note "partial: <venue> not covered before <day>", those days are hatched in the chart (never zero), and a
venue's own all-time perp volume stands beside ours (:mod:`perpvol_core.analytics.coverage`).
It reads the store through :mod:`perpvol_core.analytics.volume` and ``coverage`` only: it never imports the
vault, never reads a credential or the master key, and shows no input widget. It works with no master
key configured at all (``tests/ui/test_notebooks.py`` checks that the vault module is never imported and
that no key file appears).

Money is exact ``Decimal`` in every table and label; only the chart geometry uses floats.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

import holoviews as hv
import panel as pn
import polars as pl
from bokeh.models import NumeralTickFormatter

from perpvol_app.templates import render
from perpvol_app.ui.components.coverage import add_bands, chart_key_html, draw_bands, note_html
from perpvol_app.ui.theme import (
    BLACK,
    EXCHANGE_COLORS,
    GOLD,
    GOLD_DIM,
    GOLD_FAINT,
    apply_theme,
    bokeh_theme,
    chart_opts,
)
from perpvol_core import timeutil
from perpvol_core.analytics import coverage, volume
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.store import Store

#: the registered venues, in the registry's order (every breakdown lists each)
EXCHANGES: tuple[str, ...] = tuple(VENUES)

PERIOD_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days", "all": "All time"}
#: Each venue's display name, from the registry (connectors are not loaded by naming a venue).
EXCHANGE_LABELS = {name: spec.display_name for name, spec in VENUES.items()}
#: Days shown in the daily chart (two years, as the dashboard).
HISTORY_DAYS = 730
TOP_MARKETS = 12


def money(value: Decimal | None, places: int = 2) -> str:
    """``$1,234.57`` from an exact Decimal (rounded for display only)."""
    if value is None:
        return "—"
    return f"${Decimal(value):,.{places}f}"


def exact(value: Decimal) -> str:
    """The exact decimal string, no exponent."""
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def use_theme() -> None:
    """The gold/black theme for HoloViews and Panel, safe in a notebook after ``pn.extension(inline=True)``.

    ``perpvol_app.ui.theme.apply_theme`` calls ``hv.extension``, which in a notebook publishes BokehJS again
    from the CDN (unreachable offline, and it replaces the inline copy); here, once Panel's notebook
    extension is loaded, only the theme and the design are set.
    """
    if not pn.extension._loaded:
        apply_theme()
        return
    renderer = hv.renderer("bokeh")  # loads the bokeh backend without publishing any JS
    renderer.theme = bokeh_theme()
    renderer.webgl = False
    hv.Store.set_current_backend("bokeh")
    # No Panel design here: a design's CSS file is served from a route Voila answers with 403; the page
    # style (``page_style``) and the inline styles below carry the theme instead.
    pn.config.design = None
    pn.config.theme = "default"  # type: ignore[misc]  # Panel's dark theme would paint the charts grey over the gold theme


#: The whole Voila / notebook page black, whatever ``--theme`` Voila was started with.
PAGE_CSS = f"""
<style>
body, .jp-Notebook, .jp-LabShell, #rendered_cells, .jp-OutputArea-output, .jp-Cell, .jp-OutputArea,
main, .voila-main {{ background: {BLACK} !important; color: {GOLD}; }}
body {{ margin: 0; }}
.jp-OutputPrompt, .jp-InputPrompt {{ display: none !important; }}
.jp-Cell, .jp-OutputArea-output {{ padding: 0 !important; }}
</style>
"""


def page_style() -> Any:
    """The page's own CSS as a notebook output (global, unlike a Panel pane's shadow-root styles)."""
    from IPython.display import HTML

    return HTML(PAGE_CSS)


def open_store(settings: Settings | None = None) -> Store:
    """The configured store (``PERPVOL_DATABASE_URL`` / ``PERPVOL_HOME``); the vault is not opened."""
    return Store.open(settings or Settings.from_env())


@dataclass(frozen=True)
class Snapshot:
    """Everything the read-only view shows, read once."""

    generated_ms: int
    summary: dict[str, dict[str, Any]]
    daily: pl.DataFrame  # date, exchange, volume_usd, maker_usd, taker_usd, fees_usd, fills
    by_market: pl.DataFrame  # exchange, market, volume_usd, fees_usd, fills
    by_liquidity: pl.DataFrame  # exchange, liquidity, volume_usd, fees_usd, fills
    #: ``coverage.venue_coverage``: every venue with an account (complete_from, the venue's own figure)
    venues: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.daily.is_empty()


def load(store: Store, now_ms: int | None = None, days: int = HISTORY_DAYS) -> Snapshot:
    """Read the aggregates of ``store`` (counted perp volume only)."""
    now = timeutil.now_ms() if now_ms is None else now_ms
    start = timeutil.date_of_ms(now - (days - 1) * MS_PER_DAY)
    return Snapshot(
        generated_ms=now,
        summary=volume.summary(store, now_ms=now),
        daily=volume.daily_volume(store, start=start),
        by_market=volume.by_market(store, top_n=None),
        by_liquidity=volume.by_liquidity(store),
        venues=coverage.venue_coverage(store),
    )


# -- pieces ---------------------------------------------------------------------------------------


_STYLE = f"""
<style>
.pv-ro {{ color: {GOLD}; background: {BLACK}; }}
.pv-ro table {{ border-collapse: collapse; width: 100%; color: {GOLD}; font-variant-numeric: tabular-nums; }}
.pv-ro .pv-scroll {{ width: 100%; overflow-x: auto; }}
.pv-ro th, .pv-ro td {{ border-bottom: 1px solid {GOLD_FAINT}; padding: 4px 10px; text-align: right; }}
.pv-ro th:first-child, .pv-ro td:first-child {{ text-align: left; }}
.pv-ro th {{ color: {GOLD_DIM}; font-weight: normal; }}
.pv-ro h3 {{ color: {GOLD}; font-size: 18px; margin: 14px 0 6px; }}
.pv-cards {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.pv-card {{ border: 1px solid {GOLD_FAINT}; padding: 10px 16px; min-width: 160px; }}
.pv-card .pv-label {{ color: {GOLD_DIM}; font-size: 12px; }}
.pv-card .pv-value {{ color: {GOLD}; font-size: 24px; font-variant-numeric: tabular-nums; }}
.pv-note {{ color: {GOLD_DIM}; font-size: 12px; }}
.pv-coverage {{ font-size: 13px; margin: 8px 0; overflow-wrap: anywhere; }}
.pv-coverage div, .pv-chart-key {{ margin: 2px 0; overflow-wrap: anywhere; }}
@media (max-width: 600px) {{
  .pv-card {{ flex: 1 1 calc(50% - 12px); min-width: 0; padding: 8px 10px; box-sizing: border-box; }}
  .pv-card .pv-value {{ font-size: 18px; }}
  .pv-ro th, .pv-ro td {{ padding: 3px 5px; font-size: 12px; }}
}}
</style>
"""


def headline_html(snap: Snapshot) -> str:
    """Total counted perp volume per period, then the same per exchange; ``≥`` marks a lower bound (a venue
    does not cover the whole period), explained by the note under the cards."""
    totals = snap.summary["totals"]
    gaps = coverage.summary_gaps(snap.venues, snap.generated_ms)
    low = {p: {g.exchange for g in found} for p, found in gaps.items()}
    at_least = {True: "≥ ", False: ""}
    cards = [
        {"period": p, "exact": exact(totals[p]), "label": PERIOD_LABELS[p],
         "value": at_least[bool(low[p])] + money(totals[p], 0)}
        for p in volume.PERIODS
    ]  # fmt: skip
    rows = [
        [EXCHANGE_LABELS.get(e, e)] + [at_least[e in low[p]] + money(periods[p]) for p in volume.PERIODS]
        for e, periods in snap.summary["by_exchange"].items()
    ]
    rows.append(["Total"] + [at_least[bool(low[p])] + money(totals[p]) for p in volume.PERIODS])
    return _STYLE + render(
        "ui/readonly_headline.html",
        cards=cards,
        headers=["Exchange"] + [PERIOD_LABELS[p] for p in volume.PERIODS],
        rows=rows,
        when=timeutil.display_utc(snap.generated_ms),
    ) + note_html(snap.venues, snap.generated_ms)


def breakdown_html(snap: Snapshot) -> str:
    """Volume, maker share, fees and fills per exchange; then the top markets."""
    per_exchange: list[list[str]] = []
    liq = snap.by_liquidity
    low = {g.exchange for g in coverage.gaps(snap.venues, None)}  # all time: a lower bound for these venues
    for exch in EXCHANGES:
        rows = liq.filter(pl.col("exchange") == exch)
        total = sum((Decimal(v) for v in rows["volume_usd"]), Decimal(0))
        maker = sum((Decimal(v) for v in rows.filter(pl.col("liquidity") == "MAKER")["volume_usd"]), Decimal(0))
        fees = sum((Decimal(v) for v in rows["fees_usd"]), Decimal(0))
        fills = int(rows["fills"].sum()) if rows.height else 0
        share = f"{maker / total * 100:.1f}%" if total else "—"
        bps = f"{fees / total * 10000:.2f}" if total else "—"
        shown = ("≥ " if exch in low else "") + money(total)
        per_exchange.append([EXCHANGE_LABELS.get(exch, exch), shown, share, money(fees), bps, f"{fills:,}"])
    markets = [
        [r["market"], EXCHANGE_LABELS.get(r["exchange"], r["exchange"]), money(r["volume_usd"]),
         money(r["fees_usd"]), f"{int(r['fills']):,}"]
        for r in snap.by_market.head(TOP_MARKETS).iter_rows(named=True)
    ]  # fmt: skip
    return _STYLE + render(
        "ui/readonly_breakdown.html",
        exchange_headers=["Exchange", "Volume", "Maker share", "Fees", "Fees (bps)", "Fills"],
        exchange_rows=per_exchange,
        market_headers=["Market", "Exchange", "Volume", "Fees", "Fills"],
        market_rows=markets,
    )


def daily_series(snap: Snapshot) -> pl.DataFrame:
    """One row per UTC day from the first day with fills to today, a float column per exchange (chart only)."""
    today = timeutil.date_of_ms(snap.generated_ms)
    first = cast(date, snap.daily["date"].min()) if not snap.daily.is_empty() else today
    days = pl.DataFrame({"date": pl.date_range(first, max(first, today), "1d", eager=True)})
    wide = (
        snap.daily.select("date", "exchange", pl.col("volume_usd").cast(pl.Float64))
        .pivot(on="exchange", index="date", values="volume_usd")
        if not snap.daily.is_empty()
        else pl.DataFrame({"date": []}, schema={"date": pl.Date})
    )
    out = days.join(wide, on="date", how="left")
    for exch in EXCHANGES:
        if exch not in out.columns:
            out = out.with_columns(pl.lit(0.0).alias(exch))
    return out.select("date", *EXCHANGES).fill_null(0.0)


def _own_frame(plot: Any, _element: Any) -> None:
    """The figure lays out its own frame instead of lining it up with the other charts of the page.

    Bokeh aligns the frames of sibling plots by default (``frame_align``): the daily chart's frame then
    starts where the market chart's long market names end (~200 px in), which on a phone pushes it
    mostly off the canvas.
    """
    plot.state.frame_align = False


def _fit_width(plot: Any, element: Any) -> None:
    """The figure takes its container's width (a phone too) rather than a fixed default width."""
    _own_frame(plot, element)
    fig = plot.state
    fig.sizing_mode = "stretch_width"
    fig.width = None
    fig.min_border_left = 10
    fig.min_border_right = 10
    fig.toolbar.logo = None


def daily_chart(snap: Snapshot) -> hv.Overlay:
    """Daily counted volume, stacked by exchange (every day shown, zero when there were no fills)."""
    series = daily_series(snap)
    dates = series["date"].to_list()
    areas = [
        hv.Area((dates, series[exch].to_list()), "date", "volume", label=EXCHANGE_LABELS.get(exch, exch)).opts(
            color=EXCHANGE_COLORS.get(exch, GOLD), line_color=None, fill_alpha=0.9, height=320, min_height=260
        )
        for exch in EXCHANGES
    ]
    stacked = hv.Area.stack(hv.Overlay(areas))
    return stacked.opts(
        hv.opts.Area(tools=["hover"], **chart_opts()),  # the hover shows display names (the labels)
        hv.opts.Overlay(
            title="Daily perp volume (USD)",
            ylabel="",
            xlabel="",
            height=320,
            min_height=260,
            yformatter=NumeralTickFormatter(format="$0.[00]a"),  # "$1.5m", never the same label twice
            xticks=4,  # readable on a phone
            legend_position="top",
            hooks=[_fit_width, lambda plot, _el: draw_bands(add_bands(plot.state), snap.venues)],
            show_grid=True,
            **chart_opts(),
        ),
    )


def market_chart(snap: Snapshot, top: int = TOP_MARKETS) -> hv.Bars:
    """The largest markets by counted volume, all time."""
    top_rows = snap.by_market.head(top).reverse()  # an inverted Bars draws the first row at the bottom
    data: dict[str, list[Any]] = {
        "market": [
            f"{r['market']} ({EXCHANGE_LABELS.get(r['exchange'], r['exchange'])})"
            for r in top_rows.iter_rows(named=True)
        ],
        "volume": [float(v) for v in top_rows["volume_usd"]],
        "volume_text": [money(v) for v in top_rows["volume_usd"]],
    }
    bars = hv.Bars(data, kdims=["market"], vdims=["volume", "volume_text"])
    return bars.opts(
        invert_axes=True,
        color=GOLD,
        line_color=None,
        title="Volume by market (USD)",
        xlabel="",
        ylabel="USD",
        height=max(200, 28 * max(1, len(data["market"])) + 80),
        tools=["hover"],
        hover_tooltips=[("market", "@market"), ("volume", "@volume_text")],
        xformatter=NumeralTickFormatter(format="$0.[00]a"),
        hooks=[_own_frame],
        **chart_opts(),
    )


def readonly_view(
    settings: Settings | None = None, store: Store | None = None, now_ms: int | None = None
) -> pn.Column:
    """The whole read-only page as one Panel layout (no input widgets, no credentials)."""
    use_theme()
    own_store = store is None
    st = store if store is not None else open_store(settings)
    try:
        snap = load(st, now_ms=now_ms)
    finally:
        if own_store:
            st.close()
    style = {"background": BLACK, "color": GOLD, "padding": "12px"}
    parts: list[Any] = [
        pn.pane.HTML(f'<h2 style="color:{GOLD};margin:0">perpvol — perpetual volume (read-only)</h2>', name="title"),
        pn.pane.HTML(headline_html(snap), sizing_mode="stretch_width", name="headline"),
    ]
    if snap.empty:
        parts.append(pn.pane.HTML('<p class="pv-note">No fills stored yet.</p>', name="empty"))
    parts += [
        pn.pane.HoloViews(daily_chart(snap), sizing_mode="stretch_width", name="daily-chart", linked_axes=False),
        pn.pane.HTML(_STYLE + chart_key_html(snap.venues), sizing_mode="stretch_width", name="chart-key"),
        pn.pane.HTML(breakdown_html(snap), sizing_mode="stretch_width", name="breakdown"),
        pn.pane.HoloViews(market_chart(snap), sizing_mode="stretch_width", name="market-chart", linked_axes=False),
    ]
    return pn.Column(*parts, sizing_mode="stretch_width", styles=style, name="perpvol-readonly")
