"""Fee-tier panel: each venue's volume over its tier window against its tier table (the venue's own, or
indicative rungs where it publishes none), and the venue's reported figure beside ours per account.

The figures and the reconciliation come from ``perpvol_core.analytics.tiers``; this module only draws.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from perpvol_app.templates import render as render_template
from perpvol_app.ui.components.context import exact, money
from perpvol_core.analytics.tiers import (
    NAMES,
    PACE_DAYS,
    Reconciliation,
    TierProgress,
    compute,
    tier_progress,
)
from perpvol_core.timeutil import display_utc

__all__ = ["FeeTiers", "TierProgress", "compute", "render", "tier_progress"]

_STATUS_TEXT = {"explained": "exchange minus perpvol, cause found", "differs": "exchange minus perpvol"}


def _amount(value: Any) -> dict[str, str]:
    """An amount for the template: exact in ``data-exact`` and the tooltip, rounded for reading."""
    return {"exact": exact(value), "text": money(value)}


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


def render(progress: list[TierProgress]) -> str:
    """HTML of the panel (template ``ui/tiers.html``; autoescape escapes tier names, labels, causes and notes)."""
    tiers = [
        {
            "exchange": p.exchange,
            "source": p.source,
            "name": NAMES[p.exchange],
            "window_days": p.window_days,
            "volume": _amount(p.volume),
            "tier": p.tier,
            "pct_now": f"{p.fraction * 100:.0f}",
            "pct_width": f"{p.fraction * 100:.1f}",
            "next_tier": p.next_tier,
            "next_threshold": money(p.next_threshold, 0) if p.next_tier is not None and p.source != "none" else "",
            "days_to_next": p.days_to_next,
            "pace": money(p.pace, 0),
            "reported": [_reconciliation(r) for r in p.reported],
            "note": p.note,
        }
        for p in progress
    ]
    return render_template("ui/tiers.html", tiers=tiers, pace_days=PACE_DAYS)


class FeeTiers(pn.viewable.Viewer):
    """Progress to the next fee tier on each exchange, and the exchange's own figure beside ours."""

    progress = param.List(default=[], item_type=TierProgress)

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
