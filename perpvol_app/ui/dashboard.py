"""The dashboard: every component assembled on the gold template, updated by events (the worker syncs and
publishes; sessions never read on a timer). A served session registers with the process's one
:class:`~perpvol_app.ui.live_hub.LiveHub`, which applies each event to what it changed.

First paint: a served session builds the headline and the history chart only; the chart's controls
and range selector, the range totals, calendar, breakdowns, fee tiers and keys are built once the page
has loaded (``pn.state.onload``), so they never delay the chart. Every store read is shared by the
sessions (``memo``, ``shared``), and the process keeps one dashboard built ahead for the next session
(:mod:`perpvol_app.ui.spare`).

``create_app(settings=None)`` returns the servable template (``perpvol_app/app.py`` serves it);
``warm(settings=None)`` is what a server calls once at start so that the first visitor does not pay
the imports and the first reads.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import panel as pn
import param

from perpvol_app.ui.components import reconcile
from perpvol_app.ui.components.accounts import SyncProgress, account_rows
from perpvol_app.ui.components.calendar import Calendar, render_range
from perpvol_app.ui.components.context import AppContext, get_context, memo
from perpvol_app.ui.components.coverage import CoverageView
from perpvol_app.ui.components.headline import Headline, render_summary
from perpvol_app.ui.components.history import HistoryChart, normalize_daily
from perpvol_app.ui.spare import SpareDashboard
from perpvol_app.ui.theme import apply_theme, make_template
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES

#: the registered venues, in the registry's order (every breakdown lists each)
EXCHANGES: tuple[str, ...] = tuple(VENUES)

log = logging.getLogger(__name__)

EMPTY_HTML = """
<div class="pv-empty" id="pv-empty">
  <h3 style="margin-top:0">Welcome to perpvol</h3>
  <p>No exchange account yet. Add <b>read-only</b> credentials of one of your exchanges in
  <b>Keys</b> below: they are tested against the exchange, encrypted, and two years of fills are synced.</p>
  <p>Just looking? Run <code>make demo</code> for simulated exchanges and a full dashboard.</p>
</div>
"""


def with_all_time_of(summary: dict[str, Any], daily: Any) -> dict[str, Any]:
    """``summary`` whose all-time figures are the sums of ``daily`` (``volume.daily_volume``, the history's
    own read): the headline's "All time" and the history's total then come from one snapshot of the data,
    so they are the same figure even while fills keep arriving between two reads."""
    if daily is None:
        return summary
    frame = normalize_daily(daily)
    per: dict[str, Decimal] = {}
    for exch, value in frame.select("exchange", "volume_usd").iter_rows():
        per[exch] = per.get(exch, Decimal(0)) + Decimal(value)
    by_exchange = {e: dict(v) for e, v in (summary.get("by_exchange") or {}).items()}
    for exch in {*by_exchange, *per}:
        by_exchange.setdefault(exch, {})["all"] = per.get(exch, Decimal(0))
    totals = {**(summary.get("totals") or {}), "all": sum(per.values(), Decimal(0))}
    return {**summary, "totals": totals, "by_exchange": by_exchange}


def _loading() -> pn.pane.HTML:
    """What a deferred section shows until it is built (an empty layout would make Bokeh warn W-1002)."""
    return pn.pane.HTML('<div class="pv-muted">Loading…</div>', sizing_mode="stretch_width", margin=(5, 10))


def _section(title: str, *objects: Any, anchor: str) -> pn.Column:
    return pn.Column(
        pn.pane.HTML(f'<h3 id="{anchor}" style="margin:6px 0 2px 0">{title}</h3>', margin=(0, 10)),
        *objects,
        sizing_mode="stretch_width",
        styles={"border-top": "1px solid #4d3f0f", "padding-top": "6px"},
        margin=(10, 0),
    )


class Dashboard(pn.viewable.Viewer):
    """Headline figures, sync progress, history with range totals, calendar, breakdowns, fee tiers, keys.

    ``defer=True`` (a served session) builds only the headline and the chart; :meth:`build_rest`
    builds the other sections (called on page load). ``defer=False`` builds everything at once.
    """

    rows = param.List(default=[], doc="account rows (masked)")
    summary = param.Dict(default={}, doc="volume.summary() with the live 24h merged in")

    def __init__(self, context: AppContext, defer: bool = False, **params: Any) -> None:
        params.setdefault("rows", account_rows(context))
        from perpvol_core.analytics import volume

        # the daily read first: "All time" is its sum; days before a venue's complete_from are not covered
        history = HistoryChart(
            store=context.store, coverage=volume.complete_from(context.store), defer_controls=defer
        )
        params["summary"] = with_all_time_of(params.get("summary") or context.summary(), history.daily)
        super().__init__(**params)
        self.context = context
        self.coverage = CoverageView(**CoverageView.read(context.store))
        self.headline = Headline(summary=self.summary, partial=self.coverage.partial_flags())
        self.sync = SyncProgress(rows=self.rows)
        self.history = history
        self.coverage.attach_chart(history.figure)
        self.breakdowns: Any = None
        self.tiers: Any = None
        self.keys: Any = None
        self.reconcile: Any = None  # reconcile.section sets it
        self.calendar: Calendar | None = None
        self._range = pn.pane.HTML("", sizing_mode="stretch_width", margin=(5, 10))
        self._day = pn.pane.HTML("", sizing_mode="stretch_width", margin=(5, 10))
        self._empty = pn.pane.HTML(EMPTY_HTML, sizing_mode="stretch_width", visible=not self.rows, margin=(5, 10))
        self._bus_status = pn.pane.HTML("", sizing_mode="stretch_width", visible=False, margin=(5, 10))
        #: events applied to this session (the tests count work with it)
        self.applied = 0
        self._calendar_box = pn.Column(_loading(), sizing_mode="stretch_width")
        self._breakdowns_box = pn.Column(_loading(), sizing_mode="stretch_width")
        self._tiers_box = pn.Column(_loading(), sizing_mode="stretch_width")
        self._keys_box = pn.Column(_loading(), sizing_mode="stretch_width")
        #: the sections below the history, shown by build_rest (until then one "Loading…" line: fewer models
        #: for the browser to draw before the chart)
        self._below = [
            _section("Calendar", self._calendar_box, self._day, anchor="calendar"),
            _section("Breakdowns", self.coverage.breakdown_note, self._breakdowns_box, anchor="breakdowns"),
            _section("Fee tiers", self._tiers_box, anchor="tiers"),
            reconcile.section(self),
            _section("Keys", self._keys_box, anchor="keys"),
        ]
        self._rest = pn.Column(_loading(), sizing_mode="stretch_width")
        self._layout = pn.Column(
            self._bus_status,
            self._empty,
            self.headline,
            self.coverage,
            self.sync,
            _section("History", self.history, self.coverage.chart_key, self._range, anchor="history"),
            self._rest,
            sizing_mode="stretch_width",
        )
        self.history.param.watch(self._on_range, "date_range")
        if not defer:
            self.build_rest()

    def build_rest(self) -> None:
        """The sections below the chart (idempotent)."""
        if self.keys is not None:
            return
        from perpvol_app.ui.components.breakdowns import Breakdowns
        from perpvol_app.ui.components.keys import KeyManager
        from perpvol_app.ui.components.tiers import FeeTiers

        store = self.context.store
        self.history.show_controls()
        self._on_range()
        self.calendar = Calendar(daily=self.history.daily, coverage=self.history.coverage)
        self.calendar.param.watch(self._on_day, "day")
        self._calendar_box.objects = [self.calendar]
        self.breakdowns = Breakdowns(store=store)
        self._breakdowns_box.objects = [self.breakdowns]
        self.coverage.watch_breakdowns(self.breakdowns)
        self.tiers = FeeTiers()
        self.tiers.refresh(store)
        self._tiers_box.objects = [self.tiers]
        self.keys = KeyManager(context=self.context, rows=self.rows)
        self._keys_box.objects = [self.keys]
        self.reconcile.refresh()
        self._rest.objects = self._below

    def range_report(self, start: Any, end: Any) -> dict[str, Any]:
        """``volume.range_report`` of ``start``..``end``, shared by the sessions per data version."""
        from perpvol_core.analytics import volume

        store = self.context.store
        report: dict[str, Any] = memo(
            store, ("range_report", start, end), lambda: volume.range_report(store, start, end)
        )
        return report

    def _on_range(self, *_events: Any) -> None:
        rng = self.history.date_range
        bound, note = self.coverage.range_bounds(*rng) if rng else (set(), "")
        self._range.object = render_range(self.range_report(*rng) if rng else None, bound=bound, note=note)

    def _on_day(self, *_events: Any) -> None:
        day = self.calendar.day if self.calendar is not None else None
        if day is None:
            self._day.object = ""
            return
        bound, note = self.coverage.range_bounds(day, day)
        self._day.object = render_range(self.range_report(day, day), title=f"{day:%A %Y-%m-%d}", bound=bound, note=note)

    def freshen(self) -> None:
        """Read again what moves without a data change: the account rows and the summary (its 24h window).
        A dashboard built ahead (``perpvol_app.ui.spare``) calls it when a session takes it."""
        self.rows = account_rows(self.context)
        self.summary = with_all_time_of(self.context.summary(), self.history.daily)

    @param.depends("rows", watch=True)
    def _on_rows(self) -> None:
        self.sync.rows = self.rows
        if self.keys is not None:
            self.keys.rows = self.rows
        self._empty.visible = not self.rows

    @param.depends("summary", watch=True)
    def _on_summary(self) -> None:
        self.headline.summary = self.summary

    # -- live updates (called by the hub on this session's next tick) -----------------------------
    def apply_figures(self, totals: dict[str, Decimal], by_exchange: dict[str, dict[str, Decimal]]) -> None:
        """The headline figures of a ``fills_stored`` or ``volume`` event (no read)."""
        self.applied += 1
        if totals != (self.summary or {}).get("totals") or by_exchange != (self.summary or {}).get("by_exchange"):
            self.summary = {**(self.summary or {}), "totals": dict(totals), "by_exchange": dict(by_exchange)}

    def apply_rows(self, rows: list[dict[str, Any]]) -> None:
        """The account rows (sync progress, statuses) after a sync or account event."""
        self.applied += 1
        if rows != self.rows:
            self.rows = rows

    def set_bus_status(self, html: str) -> None:
        """The banner that says live updates are paused (empty: hidden)."""
        self.applied += 1
        self._bus_status.object = html
        self._bus_status.visible = bool(html)

    def _fetch(self) -> dict[str, Any]:
        """Everything from the store (shared reads: one query per data change for all sessions)."""
        from perpvol_app.ui.components import tiers
        from perpvol_core.analytics import volume

        daily = self.history.fetch()
        out = {"summary": with_all_time_of(self.context.summary(), daily), "daily": daily,
               "coverage": volume.complete_from(self.context.store),
               "coverage_view": CoverageView.read(self.context.store)}  # fmt: skip
        if self.breakdowns is not None:
            out["breakdowns"] = self.breakdowns.fetch()
            out["tiers"] = tiers.compute(self.context.store)
        return out

    def fetch_full(self) -> dict[str, Any]:
        """Everything a full update shows (shared reads; safe off the event loop)."""
        return self._fetch()

    def apply_full(self, data: dict[str, Any]) -> None:
        """History, calendar, breakdowns, tiers and figures after stored data changed."""
        self.applied += 1
        self._apply_full(data)

    def _apply_full(self, data: dict[str, Any]) -> None:
        self.summary = data["summary"]
        if "coverage_view" in data:
            self.coverage.param.update(**data["coverage_view"])
            self.headline.partial = self.coverage.partial_flags()
        with param.parameterized.batch_call_watchers(self.history):
            self.history.coverage = data.get("coverage") or {}
            self.history.daily = data["daily"]
        if self.calendar is not None:
            with param.parameterized.batch_call_watchers(self.calendar):
                self.calendar.coverage = data.get("coverage") or {}
                self.calendar.daily = data["daily"]
        if "breakdowns" in data and self.breakdowns is not None:
            self.breakdowns.apply(data["breakdowns"])
            self.tiers.progress = data["tiers"]
        self._on_range()
        self._on_day()

    def reload(self) -> None:
        """Everything from the store again (after a sync stored new fills)."""
        self._apply_full(self._fetch())

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def _served() -> bool:
    return pn.state.curdoc is not None and pn.state.curdoc.session_context is not None


def create_app(settings: Settings | None = None, context: AppContext | None = None) -> pn.template.BaseTemplate:
    """The servable page for this session (the store, vault and worker are shared per process)."""
    apply_theme()
    ctx = context or get_context(settings)
    served = _served()
    dashboard = spare_of(ctx).take() if served else None
    if dashboard is not None:
        dashboard.freshen()
    else:
        dashboard = Dashboard(ctx, defer=served)
    template = make_template()
    main = template.main
    assert main is not None  # a template always has its main area
    main.append(dashboard)
    if served:
        if dashboard.rows:  # the figures in the page HTML: readable before BokehJS has drawn anything
            template.first_paint(render_summary(dashboard.summary, dashboard.headline.partial))

        def loaded() -> None:
            dashboard.build_rest()
            spare_of(ctx).refill()  # the page is drawn: the process is idle until the next visitor

        pn.state.onload(loaded)
        from perpvol_app.ui.live_hub import get_hub

        unregister = get_hub(ctx).register(dashboard, pn.state.curdoc)  # events, not a timer
        pn.state.on_session_destroyed(lambda _ctx: unregister())
    template.dashboard = dashboard  # type: ignore[attr-defined]  # read back by tests and the benchmark
    return template


def spare_of(ctx: AppContext) -> SpareDashboard:
    """The context's one dashboard built ahead for the next session (made on first use)."""
    if ctx.spare is None:
        ctx.spare = SpareDashboard(ctx.store, lambda: _build_spare(ctx))
    spare: SpareDashboard = ctx.spare
    return spare


def _build_spare(ctx: AppContext) -> Dashboard:
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    with set_curdoc(Document()):  # not the document of a session being built at the same time (see warm)
        return Dashboard(ctx, defer=True)


def warm(settings: Settings | None = None, context: AppContext | None = None) -> None:
    """Import and read everything a first session needs, once, at server start (no session exists).

    Builds one full dashboard on a throwaway Bokeh document: the imports, the shared reads (summary,
    daily series, chart columns, breakdowns, tiers) and Bokeh's model classes are then ready.
    May raise whatever opening the store raises (the server decides whether to start anyway).
    """
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    doc = Document()
    # Panel falls back to Bokeh's curdoc, a process-wide value while a session's page is being built: a
    # visitor arriving during the warm-up would lend its document (and its stylesheet cache) to this one
    with set_curdoc(doc):
        apply_theme()
        ctx = context or get_context(settings)
        template = make_template()
        main = template.main
        assert main is not None  # a template always has its main area
        main.append(Dashboard(ctx, defer=False))
        template.server_doc(doc)
    spare_of(ctx).refill()  # and one built ahead for the first visitor
