"""Reconciliation panel: each venue's own figures beside ours, per day and per window, with a status, the
days and the causes of any difference (``perpvol_core.analytics.reconcile``; this module only draws).

One line in the dashboard adds it: ``reconcile.section(dashboard)``, a titled section that renders on page
load and again when the dashboard's figures change (at most every ``REFRESH_S`` seconds).
"""

from __future__ import annotations

import time
from typing import Any

import panel as pn

from perpvol_app.templates import render as render_template
from perpvol_app.ui.components.context import exact, memo, money

REFRESH_S = 20.0


def _amount(value: Any) -> dict[str, str]:
    return {"exact": exact(value), "text": money(value)}


def _groups(rows: list[Any]) -> list[dict[str, Any]]:
    """Day figures of one series: the agreeing ones summed up in one line; other figures one by one."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        groups.setdefault((r.source, r.metric) if r.day else (r.key, ""), []).append(r)
    out = []
    for (key, metric), members in groups.items():
        agreeing = [r for r in members if r.status == "agrees" and r.day]
        summary = ""
        if len(agreeing) > 1:
            days = sorted(r.day for r in agreeing)
            summary = f"{agreeing[0].figure.rsplit(',', 1)[0]}: {len(agreeing)} days agree ({days[0]} … {days[-1]})"
            members = [r for r in members if r not in agreeing]
        out.append({"key": f"{key}:{metric}", "summary": summary, "count": len(agreeing), "rows": [
            {"status": r.status, "key": r.key, "day": r.day, "figure": r.figure, "theirs": _amount(r.theirs),
             "ours": _amount(r.ours), "difference": _amount(r.difference), "days": r.days, "causes": r.causes,
             "group": " + ".join(r.accounts) if len(r.accounts) > 1 else ""}
            for r in members]})  # fmt: skip
    return out


def render(rec: Any) -> str:
    """HTML of the panel (template ``ui/reconcile.html``; autoescape escapes labels, notes and causes)."""
    accounts = [{"label": a.label, "exchange": a.exchange, "venue": a.venue, "status": a.status, "note": a.note,
                 "fits": a.fits, "groups": _groups(a.rows), "main": a.main, "subaccounts": a.subaccounts,
                 "missing": a.missing_subaccounts} for a in rec.accounts]  # fmt: skip
    totals = {"agrees": rec.agrees, "differs": rec.differs, "not_reported": rec.not_reported}
    return render_template("ui/reconcile.html", accounts=accounts, totals=totals)


def compute(store: Any) -> Any:
    """The reconciliation, shared by every session until the fills or a venue's figures change."""
    from perpvol_core.analytics.reconcile import reconcile

    reports = tuple((a.label, (a.exchange_report or {}).get("stored_ms")) for a in store.list_accounts())
    return memo(store, ("reconcile", reports), lambda: reconcile(store))


class ReconcilePanel(pn.viewable.Viewer):
    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store
        self._last = 0.0
        self._pane = pn.pane.HTML('<div class="pv-muted">Loading…</div>', sizing_mode="stretch_width",
                                  margin=(5, 10))  # fmt: skip

    def refresh(self, *_events: Any, force: bool = True) -> None:
        if not force and time.monotonic() - self._last < REFRESH_S:
            return
        self._last = time.monotonic()
        self._pane.object = render(compute(self.store))

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane


def section(dashboard: Any) -> pn.Column:
    """The titled section for ``dashboard`` (a :class:`perpvol_app.ui.dashboard.Dashboard` being built)."""
    panel = ReconcilePanel(dashboard.context.store)  # refreshed by the dashboard's build_rest
    dashboard.param.watch(lambda *_e: panel.refresh(force=False), "summary")
    dashboard.reconcile = panel
    return pn.Column(
        pn.pane.HTML('<h3 id="reconcile" style="margin:6px 0 2px 0">Reconciliation</h3>', margin=(0, 10)),
        panel, sizing_mode="stretch_width", styles={"border-top": "1px solid #4d3f0f", "padding-top": "6px"},
        margin=(10, 0),
    )
