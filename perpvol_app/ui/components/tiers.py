"""Fee-tier progress: Paradex 14-day volume against its volume tiers, WOO X 30-day volume, and the days
to the next tier at the current pace.

Tier thresholds are a small table here (Paradex publishes them at ``GET /v1/system/volume-tiers``;
the exchange notes confirm VIP 1 = 100,000 USD over 14 days; the higher rungs are indicative and WOO X
exposes no volume-tier API at all). Edit ``TIERS`` when the exchanges change them.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import panel as pn
import param

from perpvol_app.ui.components.context import exact, money
from perpvol_core import timeutil
from perpvol_core.fill import MS_PER_DAY

#: exchange -> (window days, [(tier name, minimum window volume USD)]) ascending.
TIERS: dict[str, tuple[int, list[tuple[str, Decimal]]]] = {
    "paradex": (
        14,
        [
            ("VIP 0", Decimal(0)),
            ("VIP 1", Decimal(100_000)),
            ("VIP 2", Decimal(1_000_000)),
            ("VIP 3", Decimal(5_000_000)),
            ("VIP 4", Decimal(25_000_000)),
            ("VIP 5", Decimal(100_000_000)),
        ],
    ),
    "woox": (
        30,
        [
            ("VIP 0", Decimal(0)),
            ("VIP 1", Decimal(1_000_000)),
            ("VIP 2", Decimal(10_000_000)),
            ("VIP 3", Decimal(50_000_000)),
            ("VIP 4", Decimal(100_000_000)),
            ("VIP 5", Decimal(500_000_000)),
        ],
    ),
}
PACE_DAYS = 7
NAMES = {"woox": "WOO X", "paradex": "Paradex"}


@dataclass(frozen=True)
class TierProgress:
    exchange: str
    window_days: int
    volume: Decimal  # counted volume over the tier window
    pace: Decimal  # average daily volume of the last PACE_DAYS days
    tier: str
    next_tier: str | None
    next_threshold: Decimal | None
    days_to_next: int | None  # None: top tier, or the current pace never gets there

    @property
    def fraction(self) -> float:
        """Share of the way from 0 to the next threshold (drawing only)."""
        if not self.next_threshold:
            return 1.0
        return float(min(Decimal(1), self.volume / self.next_threshold))


def tier_progress(exchange: str, volume: Decimal, pace: Decimal) -> TierProgress:
    """Where ``volume`` (over the tier window) sits, and when the next tier comes at ``pace``/day.

    Over a rolling window of W days, trading ``pace`` a day while the oldest days (assumed average,
    ``volume / W``) drop out moves the window total by ``pace - volume / W`` per day.
    """
    window, tiers = TIERS[exchange]
    current = tiers[0][0]
    nxt: tuple[str, Decimal] | None = None
    for name, threshold in tiers:
        if volume >= threshold:
            current = name
        else:
            nxt = (name, threshold)
            break
    days: int | None = None
    if nxt is not None:
        gain = pace - volume / Decimal(window)
        if gain > 0:
            d = math.ceil((nxt[1] - volume) / gain)
            days = d if d <= window else None
    return TierProgress(
        exchange, window, volume, pace, current, nxt[0] if nxt else None, nxt[1] if nxt else None, days
    )


def compute(store: Any, now_ms: int | None = None) -> list[TierProgress]:
    from perpvol_core.analytics import volume as vol

    now_ms = timeutil.now_ms() if now_ms is None else now_ms
    out = []
    for exchange, (window, _tiers) in TIERS.items():
        in_window = vol.window_volume(store, now_ms - window * MS_PER_DAY, now_ms, exchange)
        recent = vol.window_volume(store, now_ms - PACE_DAYS * MS_PER_DAY, now_ms, exchange)
        out.append(tier_progress(exchange, Decimal(in_window), Decimal(recent) / PACE_DAYS))
    return out


def render(progress: list[TierProgress]) -> str:
    rows = []
    for p in progress:
        if p.next_tier is None:
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
        rows.append(
            f'<div class="pv-tier" data-exchange="{p.exchange}" style="margin-bottom:12px">'
            f"<div><b>{NAMES[p.exchange]}</b> · {p.window_days}-day volume "
            f'<span data-exact="{exact(p.volume)}" title="{exact(p.volume)} USD">{money(p.volume)}</span>'
            f" · tier <b>{html.escape(p.tier)}</b></div>"
            f'<div class="pv-bar" role="progressbar" aria-valuenow="{p.fraction * 100:.0f}">'
            f'<span style="width:{p.fraction * 100:.1f}%"></span></div>'
            f'<div class="pv-figure-sub">Next: {nxt} · pace {money(p.pace, 0)}/day (last {PACE_DAYS} days)</div>'
            "</div>"
        )
    rows.append(
        '<div class="pv-figure-sub">Thresholds: Paradex VIP 1 = $100k / 14 days (documented); '
        "higher rungs and WOO X tiers are indicative (WOO X tiers also depend on WOO holdings).</div>"
    )
    return "".join(rows)


class FeeTiers(pn.viewable.Viewer):
    """Progress to the next fee tier on each exchange."""

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
