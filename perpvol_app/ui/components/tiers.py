"""Fee-tier panel: Paradex 14-day volume against Paradex's own tier table, with Paradex's reported figure
beside ours per account; WOO X 30-day volume against indicative rungs (WOO X publishes neither).

The figures and the reconciliation come from ``perpvol_core.analytics.tiers``; this module only draws.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from perpvol_app.ui.components.context import exact, money
from perpvol_core.analytics.tiers import (
    NAMES,
    PACE_DAYS,
    Reconciliation,
    TierProgress,
    compute,
    tier_progress,
)

__all__ = ["FeeTiers", "TierProgress", "compute", "render", "tier_progress"]

_STATUS_TEXT = {"match": "matches ours", "explained": "differs from ours", "differs": "differs from ours"}


def _amount(value: Any) -> str:
    return f'<span data-exact="{exact(value)}" title="{exact(value)} USD">{money(value)}</span>'


def _reconciliation(r: Reconciliation) -> str:
    label = html.escape(r.label)
    if r.status == "unavailable":
        return (
            f'<div class="pv-figure-sub" data-reconcile="unavailable" data-label="{label}">{label}: Paradex\'s own '
            f"figure is not available — {html.escape('; '.join(r.causes))}</div>"
        )
    head = (
        f"{label}: Paradex reports {_amount(r.theirs)} over its {((r.end_ms or 0) - (r.start_ms or 0)) // 86_400_000}"
        f" days (tier <b>{html.escape(r.tier)}</b>) · perpvol {_amount(r.ours)} over the same window"
    )
    if r.status == "match":
        verdict = '<b data-verdict="match">match</b>'
    else:
        verdict = (
            f'<b data-verdict="{r.status}">{_STATUS_TEXT[r.status]} by {_amount(r.difference)}</b>'
            f" — {'cause' if r.status == 'explained' else 'likely causes'}: "
            + html.escape("; ".join(r.causes))
        )
    return (
        f'<div class="pv-figure-sub" data-reconcile="{r.status}" data-label="{label}"'
        f' data-theirs="{exact(r.theirs)}" data-ours="{exact(r.ours)}">{head} · {verdict}</div>'
    )


def render(progress: list[TierProgress]) -> str:
    rows = []
    for p in progress:
        if p.source == "none":
            nxt = "tier table not known yet"
        elif p.next_tier is None:
            nxt = "top tier"
        elif p.days_to_next is None:
            nxt = (
                f"{html.escape(p.next_tier)} at {money(p.next_threshold, 0)}: "
                f"not within {p.window_days} days at this pace"
            )
        else:
            nxt = (
                f"{html.escape(p.next_tier)} at {money(p.next_threshold, 0)}: "
                f'<b data-days-to-next="{p.days_to_next}">{p.days_to_next} day{"s" if p.days_to_next != 1 else ""}</b>'
                " at this pace"
            )
        source = {"reported": "the exchange's published tier table", "indicative": "indicative thresholds"}.get(
            p.source, ""
        )
        rows.append(
            f'<div class="pv-tier" data-exchange="{p.exchange}" data-source="{p.source}" style="margin-bottom:12px">'
            f"<div><b>{NAMES[p.exchange]}</b> · {p.window_days}-day volume (perpvol) {_amount(p.volume)}"
            f" · tier <b>{html.escape(p.tier)}</b>{f' ({source})' if source else ''}</div>"
            f'<div class="pv-bar" role="progressbar" aria-valuenow="{p.fraction * 100:.0f}">'
            f'<span style="width:{p.fraction * 100:.1f}%"></span></div>'
            f'<div class="pv-figure-sub">Next: {nxt} · pace {money(p.pace, 0)}/day (last {PACE_DAYS} days)</div>'
            + "".join(_reconciliation(r) for r in p.reported)
            + (f'<div class="pv-figure-sub" data-note="{p.exchange}">{html.escape(p.note)}</div>' if p.note else "")
            + "</div>"
        )
    return "".join(rows)


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
