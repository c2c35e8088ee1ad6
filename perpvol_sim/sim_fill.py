"""One simulated fill, venue-neutral (each simulator formats it its own way), and the live-fill callback type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

FillCallback = Callable[["SimFill"], None]


@dataclass(frozen=True, slots=True)
class SimFill:
    """One fill, exchange-neutral. ``fee`` is what the user paid in ``fee_asset`` (negative = rebate)."""

    fill_id: str
    order_id: str
    market: str
    side: str  # "BUY" | "SELL"
    liquidity: str  # "MAKER" | "TAKER"
    price: Decimal
    size: Decimal
    fee: Decimal
    fee_asset: str
    ts_ms: int
    fill_type: str = "FILL"

    @property
    def notional(self) -> Decimal:
        return self.price * self.size
