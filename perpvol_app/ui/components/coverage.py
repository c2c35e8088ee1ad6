"""What the stored history covers, on the dashboard (``perpvol_core.analytics.coverage`` holds the rules).

A venue that serves only part of an account's history (a retention cap) leaves the days before its
``complete_from`` not covered: every figure over them is a lower bound. :class:`CoverageView` keeps the
venues' coverage (``venues``) and says so everywhere the dashboard shows such a figure:

* the headline: ``≥ $X`` on each partial figure (:meth:`partial_flags`, read by the headline), and a note
  under it, ``partial: <venue> not covered before <day>``, with each venue's own all-time perp volume
  (``reported_all_time``) beside ours;
* the history chart: a hatched band (the venue's colour) over the days before the venue's
  ``complete_from``, never a row of zero bars (:meth:`attach_chart`), and a key under the chart;
* range totals and a clicked day: ``≥`` on the venues and the total the range does not cover
  (:meth:`range_bounds`) and the range's note (``render_range(..., bound=..., note=...)``);
* the breakdowns: the note of the selected period (:meth:`watch_breakdowns`).

Venue names come from the registry (``display_name``), never from this module.
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from typing import Any

import panel as pn
import param

from perpvol_app.ui.components.context import exact, money
from perpvol_app.ui.theme import EXCHANGE_COLORS, GOLD
from perpvol_core import timeutil
from perpvol_core.analytics import coverage as cov
from perpvol_core.fill import MS_PER_DAY

#: the sign of a figure that is only a lower bound
AT_LEAST = "≥ "
#: days of the breakdowns' periods (None: all time), as ``breakdowns.PERIODS``
_PERIOD_DAYS = {"30d": 30, "90d": 90, "1y": 365, "all": None}


def _ms(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000


def _line(css: str, text: str, **data: str) -> str:
    attrs = "".join(f' data-{k}="{html.escape(v)}"' for k, v in data.items())
    return f'<div class="{css}"{attrs}>{html.escape(text)}</div>'


def note_html(venues: dict[str, cov.VenueCoverage], now_ms: int) -> str:
    """The note under the headline: what all time does not cover, and the venues' own all-time figures."""
    lines = []
    for gap in cov.gaps(venues, None):
        lines.append(_line("pv-partial", cov.partial_note([gap]), exchange=gap.exchange,
                           before=gap.before.isoformat() if gap.before else ""))  # fmt: skip
    for name, v in venues.items():
        theirs = v.reported_all_time
        if theirs is None:
            continue
        ours = v.ours_all_time
        partial = any(g.exchange == name for g in cov.gaps(venues, None))
        when = f" (as of {timeutil.display_utc(v.reported_ms)})" if v.reported_ms is not None else ""
        text = (f"{v.display_name} reports {money(theirs)} all-time perp volume{when} · "
                f"perpvol: {AT_LEAST if partial else ''}{money(ours)}")  # fmt: skip
        lines.append(_line("pv-reported", text, exchange=name, theirs=exact(theirs), ours=exact(ours)))
    # the 30-day window may start before a complete_from that all time does not (a short sync window)
    recent = [g for g in cov.gaps(venues, cov.window_start("30d", now_ms)) if g.before is not None]
    for gap in recent:
        if not any(g.exchange == gap.exchange for g in cov.gaps(venues, None)):
            lines.append(_line("pv-partial", cov.partial_note([gap]), exchange=gap.exchange,
                               before=gap.before.isoformat() if gap.before else ""))  # fmt: skip
    if not lines:
        return ""
    return f'<div class="pv-coverage pv-figure-sub" id="pv-coverage" style="color:{GOLD}">{"".join(lines)}</div>'


def chart_key_html(venues: dict[str, cov.VenueCoverage]) -> str:
    """The key of the chart's hatched bands ('' when no day shown is uncovered)."""
    parts = [
        f"{v.display_name} before {v.complete_from.isoformat()}"
        for v in venues.values()
        if v.complete_from is not None and any(a.partial for a in v.accounts)
    ]
    if not parts:
        return ""
    key = html.escape("; ".join(parts))
    return (f'<div class="pv-muted pv-chart-key" id="pv-chart-key">Hatched: not covered (the venue no longer '
            f"serves those fills; only what was stored shows there) — {key}</div>")  # fmt: skip


def add_bands(fig: Any) -> dict[str, Any]:
    """One hidden hatched band per registered venue (its colour) on ``fig``, a Bokeh figure with a datetime x
    axis: :func:`draw_bands` shows the bands of the venues with days not covered."""
    from bokeh.models.annotations import BoxAnnotation

    bands = {}
    for name, colour in EXCHANGE_COLORS.items():
        band = BoxAnnotation(
            right=0, fill_alpha=0.0, line_alpha=0.0, hatch_pattern="/", hatch_scale=9.0,
            hatch_weight=1.0, hatch_alpha=0.4, hatch_color=colour, visible=False, name=f"pv-not-covered-{name}",
            level="underlay",
        )  # fmt: skip
        fig.add_layout(band)
        bands[name] = band
    return bands


def draw_bands(bands: dict[str, Any], venues: dict[str, cov.VenueCoverage]) -> None:
    """Each band from the chart's left edge to the venue's ``complete_from`` when the venue served less than
    its sync read; hidden otherwise."""
    for name, band in bands.items():
        v = venues.get(name)
        first = v.complete_from if v is not None and any(a.partial for a in v.accounts) else None
        band.visible = first is not None
        if first is not None:
            band.right = _ms(first) - MS_PER_DAY / 2  # a day's bar is centred on its midnight


class CoverageView(pn.viewable.Viewer):
    """The venues' coverage and everything the dashboard says about it (see the module's docstring)."""

    venues = param.Dict(default={}, doc="analytics.coverage.venue_coverage(): every venue with an account")
    now_ms = param.Integer(default=0, doc="when ``venues`` was read (the rolling windows end there)")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.note = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self.chart_key = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self.breakdown_note = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self._bands: dict[str, Any] = {}
        self._period = "all"
        self._render()

    @classmethod
    def read(cls, store: Any) -> dict[str, Any]:
        """The parameters from the store (a plain read, safe off the event loop)."""
        return {"venues": cov.venue_coverage(store), "now_ms": timeutil.now_ms()}

    # -- what is partial ---------------------------------------------------------------------------

    def partial_flags(self) -> dict[str, Any]:
        """``{"totals": {period: bool}, "by_exchange": {exchange: {period: bool}}}`` for the headline."""
        periods = cov.summary_gaps(self.venues, self.now_ms or timeutil.now_ms())
        totals = {p: bool(found) for p, found in periods.items()}
        by_exchange = {e: {p: any(g.exchange == e for g in found) for p, found in periods.items()} for e in self.venues}
        return {"totals": totals, "by_exchange": by_exchange}

    def range_bounds(self, start: dt.date, end: dt.date) -> tuple[set[str], str]:
        """The venues whose figures over ``start``..``end`` are lower bounds, and the range's note."""
        found = cov.gaps(self.venues, start, end)
        return {g.exchange for g in found}, cov.partial_note(found)

    # -- drawing -----------------------------------------------------------------------------------

    def attach_chart(self, fig: Any) -> None:
        """One hatched band per venue on ``fig`` (a Bokeh figure with a datetime x axis), hidden until needed."""
        self._bands = add_bands(fig)
        draw_bands(self._bands, self.venues)

    def watch_breakdowns(self, breakdowns: Any) -> None:
        """Keep :attr:`breakdown_note` on ``breakdowns.period`` (the note of the period shown)."""

        def on_period(*_events: Any) -> None:
            self._period = str(breakdowns.period)
            self._render_breakdown_note()

        breakdowns.param.watch(on_period, "period")
        on_period()

    def _render_breakdown_note(self) -> None:
        days = _PERIOD_DAYS.get(self._period)
        now = self.now_ms or timeutil.now_ms()
        start = None if days is None else timeutil.date_of_ms(now) - dt.timedelta(days=days - 1)
        found = cov.gaps(self.venues, start)
        text = cov.partial_note(found)
        self.breakdown_note.object = (
            f'<div class="pv-partial pv-muted" id="pv-breakdown-coverage">{html.escape(text)}: the rows of '
            f'{html.escape(", ".join(g.display_name for g in found))} are lower bounds</div>' if found else ""
        )

    @param.depends("venues", "now_ms", watch=True)
    def _render(self) -> None:
        self.note.object = note_html(self.venues, self.now_ms or timeutil.now_ms())
        self.chart_key.object = chart_key_html(self.venues)
        draw_bands(self._bands, self.venues)
        self._render_breakdown_note()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.note


def bounded(value: Decimal, partial: bool, places: int = 2) -> str:
    """``money(value)``, with ``≥`` when it is only a lower bound."""
    return (AT_LEAST if partial else "") + money(value, places)
