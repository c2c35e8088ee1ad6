"""Breakdowns over a period: top markets, maker vs taker, fees paid, fill types (uncounted shown apart).

Tables show exact decimal strings; the small bar chart of the top markets uses floats only for heights.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401 - the bokeh backend, also outside a served app
import panel as pn
import param
import polars as pl
from bokeh.models import AdaptiveTicker, CustomJSTickFormatter

from perpvol_app.templates import render
from perpvol_app.ui.components.context import exact, money
from perpvol_app.ui.theme import EXCHANGE_COLORS, chart_opts, gold_toolbar_hook
from perpvol_core.exchanges import VENUES, display_name

#: the registered venues, in the registry's order (every breakdown lists each)
EXCHANGES: tuple[str, ...] = tuple(VENUES)

PERIODS = {"30d": 30, "90d": 90, "1y": 365, "all": None}
#: value-axis ticks of the top-markets chart: few and short ($1.2M), readable at 390 px beside long market names
MARKET_TICKS = 3
#: pixels to the right of the chart's frame: room for half of the widest value-axis label
MARKET_LABEL_HALF_WIDTH = 28
COMPACT_USD_JS = (
    "return new Intl.NumberFormat('en-US', {style: 'currency', currency: 'USD', notation: 'compact', "
    "maximumFractionDigits: 1}).format(tick);"
)
NAMES = {e: display_name(e) for e in EXCHANGES}


class _Money(NamedTuple):
    """Money cell: rounded for reading (``text``), exact in the tooltip (``exact``)."""

    exact: str
    text: str


def _table(headers: list[str], rows: list[list[str | _Money]], num_from: int = 2, table_id: str = "") -> str:
    """Table of ``rows`` (template ``ui/table.html``; autoescape escapes names, markets and fill types)."""
    return render("ui/table.html", headers=headers, rows=rows, num_from=num_from, table_id=table_id)


def _m(value: Any) -> _Money:
    """Money cell: rounded for reading, exact in the tooltip."""
    return _Money(exact(value), money(value))


def _value_axis(plot: Any, _element: Any) -> None:
    """HoloViews hook of the top-markets chart: a few compact ticks on the value axis, a name for tests."""
    fig = plot.state
    fig.name = "pv-markets-figure"
    # A tick at the frame's right edge is centred on it: half of the widest compact label ("$10.5M", ~46 px
    # at 12 px) hangs past the frame, so the border keeps it on the canvas (it was clipped at 390 px).
    fig.min_border_right = max(fig.min_border_right or 0, MARKET_LABEL_HALF_WIDTH)
    for axis in fig.xaxis:  # the value axis (the bars are horizontal)
        axis.ticker = AdaptiveTicker(desired_num_ticks=MARKET_TICKS, num_minor_ticks=0)
        axis.formatter = CustomJSTickFormatter(code=COMPACT_USD_JS)


class Breakdowns(pn.viewable.Viewer):
    """Top markets, maker/taker split, fees and fill types over ``period`` (from ``perpvol_core.analytics.volume``)."""

    period: param.Selector[str] = param.Selector(default="all", objects=list(PERIODS))
    top_n = param.Integer(default=10, bounds=(1, 50))
    store = param.Parameter(default=None, precedence=-1)
    markets = param.Parameter(default=None, doc="volume.by_market frame")
    liquidity = param.Parameter(default=None, doc="volume.by_liquidity frame")
    fill_types = param.Parameter(default=None, doc="volume.by_fill_type frame")
    uncounted = param.Parameter(default=None, doc="volume.not_counted frame (market and reason per row)")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._markets_plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=300)
        self._markets_table = pn.pane.HTML("", sizing_mode="stretch_width")
        self._liq = pn.pane.HTML("", sizing_mode="stretch_width")
        self._types = pn.pane.HTML("", sizing_mode="stretch_width")
        self._layout = pn.Column(
            pn.Row(
                pn.widgets.RadioButtonGroup.from_param(self.param.period, label=""),
                pn.widgets.IntInput.from_param(self.param.top_n, label="", width=80),
            ),
            pn.FlexBox(
                pn.Column("#### Top markets", self._markets_plot, self._markets_table, sizing_mode="stretch_width",
                          styles={"flex": "1 1 420px", "min-width": "280px"}),
                pn.Column("#### Maker vs taker, fees", self._liq, "#### Fill types", self._types,
                          sizing_mode="stretch_width", styles={"flex": "1 1 320px", "min-width": "280px"}),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )  # fmt: skip
        if self.store is not None:
            self.reload()
        else:
            self._render()

    def _start(self) -> dt.date | None:
        days = PERIODS[self.period]
        if days is None:
            return None
        return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)

    def fetch(self) -> dict[str, pl.DataFrame]:
        """The three breakdown frames (shared reads; safe off the event loop)."""
        from perpvol_app.ui.components.context import memo
        from perpvol_core.analytics import volume

        start, store, top_n = self._start(), self.store, self.top_n
        return {
            "markets": memo(
                store, ("by_market", start, top_n), lambda: volume.by_market(store, start=start, top_n=top_n)
            ),
            "liquidity": memo(store, ("by_liquidity", start), lambda: volume.by_liquidity(store, start=start)),
            "fill_types": memo(store, ("by_fill_type", start), lambda: volume.by_fill_type(store, start=start)),
            "uncounted": memo(store, ("not_counted", start), lambda: volume.not_counted(store, start=start)),
        }

    def apply(self, frames: dict[str, pl.DataFrame]) -> None:
        with param.parameterized.batch_call_watchers(self):
            self.markets = frames["markets"]
            self.liquidity = frames["liquidity"]
            self.fill_types = frames["fill_types"]
            self.uncounted = frames.get("uncounted")

    @param.depends("period", "top_n", watch=True)
    def reload(self) -> None:
        if self.store is not None:
            self.apply(self.fetch())

    # -- views -------------------------------------------------------------------------------------

    def liquidity_totals(self) -> dict[str, dict[str, Decimal]]:
        """exchange -> {"MAKER", "TAKER", "fees"} exact totals (sums to the counted volume)."""
        out: dict[str, dict[str, Decimal]] = {}
        if self.liquidity is None:
            return out
        for row in self.liquidity.iter_rows(named=True):
            d = out.setdefault(row["exchange"], {"MAKER": Decimal(0), "TAKER": Decimal(0), "fees": Decimal(0)})
            d[row["liquidity"]] += Decimal(row["volume_usd"])
            d["fees"] += Decimal(row["fees_usd"])
        return out

    @param.depends("markets", "liquidity", "fill_types", "uncounted", watch=True)
    def _render(self) -> None:
        self._render_markets()
        self._render_liquidity()
        self._render_types()

    def _render_markets(self) -> None:
        df = self.markets
        if df is None or df.is_empty():
            self._markets_plot.object = None
            self._markets_table.object = '<div class="pv-muted">No fills in this period.</div>'
            return
        shown = pl.col("exchange").replace_strict(NAMES, default=pl.col("exchange"))
        plot_df = df.select(
            (pl.col("market") + " (" + shown + ")").alias("market"),
            "exchange",
            pl.col("volume_usd").cast(pl.Float64).alias("height"),
            pl.col("volume_usd").map_elements(lambda v: money(v), return_dtype=pl.Utf8).alias("volume_s"),
        ).reverse()
        opts = {**chart_opts(), "hooks": [gold_toolbar_hook, _value_axis]}
        bars = hv.Bars(plot_df.to_pandas(), kdims=["market"], vdims=["height", "exchange", "volume_s"]).opts(
            invert_axes=True, color="exchange", cmap=EXCHANGE_COLORS, line_color=None,
            tools=["hover"], hover_tooltips=[("Market", "@market"), ("Volume", "@volume_s")],
            xlabel="", ylabel="USD", height=max(200, 26 * df.height + 60),
            show_legend=False, default_tools=[], **opts,
        )  # fmt: skip
        self._markets_plot.object = bars
        rows: list[list[str | _Money]] = [
            [NAMES.get(r["exchange"], r["exchange"]), r["market"], _m(r["volume_usd"]),
             _m(r["fees_usd"]), f"{r['fills']:,}"]
            for r in df.iter_rows(named=True)
        ]  # fmt: skip
        self._markets_table.object = _table(["Exchange", "Market", "Volume", "Fees", "Fills"], rows,
                                            table_id="pv-markets")  # fmt: skip

    def _render_liquidity(self) -> None:
        totals = self.liquidity_totals()
        if not totals:
            self._liq.object = '<div class="pv-muted">No fills in this period.</div>'
            return
        rows: list[list[str | _Money]] = []
        for exch, d in totals.items():
            vol = d["MAKER"] + d["TAKER"]
            share = f"{(d['MAKER'] / vol * 100):.1f}%" if vol else "—"
            rows.append([NAMES.get(exch, exch), _m(d["MAKER"]), _m(d["TAKER"]), share, _m(d["fees"])])
        self._liq.object = _table(["Exchange", "Maker", "Taker", "Maker share", "Fees paid"], rows, num_from=1,
                                  table_id="pv-liquidity") + (
            '<div class="pv-figure-sub">Fees: USD-settled fees of counted fills; negative = rebate.</div>'
        )  # fmt: skip

    def _render_types(self) -> None:
        df = self.fill_types
        if df is None or df.is_empty():
            self._types.object = '<div class="pv-muted">No fills in this period.</div>'
            return
        counted = [r for r in df.iter_rows(named=True) if r["counted"]]
        apart = list(self.uncounted.iter_rows(named=True)) if self.uncounted is not None else []

        def rows(items: list[dict[str, Any]]) -> list[list[str | _Money]]:
            return [[NAMES.get(r["exchange"], r["exchange"]), r["fill_type"],
                     _m(r["volume_usd"]), f"{r['fills']:,}"] for r in items]  # fmt: skip

        out = _table(["Exchange", "Counted type", "Notional", "Fills"], rows(counted), table_id="pv-types-counted")
        if apart:  # each with its market and the counting rule's reason (perpvol_core.exchanges.why_not_counted)
            rows_apart: list[list[str | _Money]] = [
                [NAMES.get(r["exchange"], r["exchange"]), r["market"], r["fill_type"], r["reason"],
                 _m(r["volume_usd"]), f"{r['fills']:,}"] for r in apart
            ]  # fmt: skip
            out += '<div class="pv-figure-sub" style="margin-top:8px">Not counted as perp volume:</div>' + _table(
                ["Exchange", "Market", "Type", "Why not counted", "Notional", "Fills"], rows_apart, num_from=4,
                table_id="pv-types-apart",
            )
        self._types.object = out

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
