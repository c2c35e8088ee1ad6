"""Fee-tier panel: per account, the venue's own tier tables (or a table marked not published), where the
account stands over the venue's rolling window, what it takes to reach the next tier and by when, the date
the tier is lost if trading stops today, and the fee paid in basis points, maker and taker apart, against the
tier's rate and the rate the venue reports. Under each account, the venue's own window figure beside ours
where the venue reports one.

The figures come from ``perpvol_core.analytics.tier_outlook`` and ``perpvol_core.analytics.tiers``
(``reconcile``); this module only draws (template ``ui/tiers.html``, one column: readable on a phone).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import panel as pn
import param

from perpvol_app.templates import render as render_template
from perpvol_app.ui.components.context import exact, money
from perpvol_core.analytics.fee_schedule import BPS, FeeTable
from perpvol_core.analytics.tier_outlook import PACE_DAYS, FeePaid, TierOutlook, outlook
from perpvol_core.analytics.tiers import Reconciliation, reconcile
from perpvol_core.timeutil import display_utc

__all__ = ["FeeTiers", "compute", "render"]

_STATUS_TEXT = {"explained": "exchange minus perpvol, cause found", "differs": "exchange minus perpvol"}


def _amount(value: Any, places: int = 2) -> dict[str, str]:
    """An amount for the template: exact in ``data-exact`` and the tooltip, rounded for reading."""
    return {"exact": exact(value), "text": money(value, places)}


def _bps(value: Decimal | None) -> dict[str, str]:
    if value is None:
        return {"exact": "", "text": "—"}
    return {"exact": exact(value), "text": f"{value:.2f}"}


def _rate(value: Decimal | None) -> dict[str, str]:
    return _bps(value * BPS if value is not None else None)


def _reconciliation(r: Reconciliation) -> dict[str, Any]:
    row: dict[str, Any] = {"status": r.status, "label": r.label, "causes": "; ".join(r.causes)}
    if r.status == "unavailable":
        return row
    row.update(
        theirs=_amount(r.theirs),
        ours=_amount(r.ours),
        days=((r.end_ms or 0) - (r.start_ms or 0)) // 86_400_000,
        window_end=display_utc((r.end_ms or 1) - 1),
        tier=r.tier,
    )
    if r.status != "match":
        row.update(status_text=_STATUS_TEXT[r.status], difference=_amount(r.difference))
    return row


def _table(t: FeeTable, current: str | None, nxt: str | None) -> dict[str, Any]:
    return {
        "kind": t.kind, "published": t.published, "note": t.note, "sign": ">" if t.above else "≥",
        "window_days": t.window_days,
        "rows": [{"name": r.name, "min": _amount(r.min_volume, 0), "taker": _rate(r.taker_rate),
                  "maker": _rate(r.maker_rate), "mark": "current" if r.name == current else (
                      "next" if r.name == nxt else "")} for r in t.tiers],
    }  # fmt: skip


def _side(name: str, paid: FeePaid) -> dict[str, Any]:
    return {"name": name, "volume": _amount(paid.fee_volume), "fees": _amount(paid.fees),
            "other": paid.other_asset_fills,
            "effective": _bps(paid.effective_bps), "schedule": _bps(paid.schedule_bps),
            "reported": _bps(paid.reported_bps)}  # fmt: skip


def _outlook(o: TierOutlook, rec: Reconciliation | None) -> dict[str, Any]:
    p = o.projection
    published = o.table is not None and o.table.published
    fraction = Decimal(1)
    if p.next_threshold:
        fraction = min(Decimal(1), p.volume / p.next_threshold)
    return {
        "label": o.label, "exchange": o.exchange, "venue": o.venue, "window_days": o.window_days,
        "scope": ",".join(o.scope),
        "window": f"{o.window_start.isoformat()} to {o.window_end.isoformat()}",
        "read": o.table is not None, "published": published, "volume": _amount(p.volume), "pace": _amount(p.pace, 0),
        "tier": p.tier, "reported_tier": o.reported_tier, "next_tier": p.next_tier,
        "next_threshold": _amount(p.next_threshold, 0), "needed": _amount(p.needed),
        "reach": p.reach_date.isoformat() if p.reach_date else "",
        "loss": p.loss_date.isoformat() if p.loss_date else "",
        "pct": f"{fraction * 100:.1f}",
        "sides": [_side("taker", o.taker), _side("maker", o.maker)],
        "tables": [_table(t, p.tier, p.next_tier) for t in ([o.table] if published and o.table else [])
                   + list(o.other_tables)],
        "notes": list(o.notes) + ([o.table.note] if o.table is not None and not published and o.table.note
                                  and o.table.note not in o.notes else []),
        "error": o.error or "",
        "reconciliation": _reconciliation(rec) if rec is not None else None,
    }  # fmt: skip


def compute(store: Any, now_ms: int | None = None) -> dict[str, Any]:
    """Every account's outlook and, where its venue reports its own window figure, the reconciliation."""
    outlooks = outlook(store, now_ms)
    recs: dict[str, Reconciliation] = {}
    for account in store.list_accounts():
        rec = reconcile(store, account)
        if rec is not None:
            recs[account.label] = rec
    return {"outlooks": outlooks, "reconciliations": recs}


def render(data: dict[str, Any] | None) -> str:
    """HTML of the panel (autoescape escapes labels, tier names, causes and notes)."""
    data = data or {}
    recs = data.get("reconciliations") or {}
    items = [_outlook(o, recs.get(o.label)) for o in data.get("outlooks") or []]
    return render_template("ui/tiers.html", accounts=items, pace_days=PACE_DAYS)


class FeeTiers(pn.viewable.Viewer):
    """Per account: the venue's tables, the next tier and by when, the date the tier is lost, the fee paid."""

    progress = param.Dict(default={}, doc="compute()'s result")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._pane = pn.pane.HTML(render(self.progress), sizing_mode="stretch_width", margin=(5, 10))

    def refresh(self, store: Any, now_ms: int | None = None) -> None:
        self.progress = compute(store, now_ms)

    @param.depends("progress", watch=True)
    def _update(self) -> None:
        self._pane.object = render(self.progress)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane
