"""Domain types shared by every layer: one normalized fill, exchange names, what counts as volume.

A fill's identity is (exchange, account, fill_id, fill_type); money is ``Decimal`` and time is UTC
epoch milliseconds (``int``) everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

ExchangeName = Literal["woox", "paradex"]
EXCHANGES: tuple[str, ...] = ("woox", "paradex")

MAKER = "MAKER"
TAKER = "TAKER"

#: WOO X has a single kind of fill; we store it under this type so identities are uniform.
WOOX_FILL_TYPE = "FILL"
#: Paradex fill types counted as trading volume by default (design.md).
PARADEX_COUNTED_FILL_TYPES = frozenset({"FILL", "LIQUIDATION", "RPI", "BLOCK_TRADE"})
#: Stored and shown apart, never counted.
PARADEX_UNCOUNTED_FILL_TYPES = frozenset({"SETTLE_MARKET", "UNWIND_TRANSFER", "TRANSFER"})

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000


def is_perp_market(exchange: str, market: str) -> bool:
    """True when ``market`` is a perpetual on ``exchange`` (``PERP_*`` on WOO X, ``*-PERP`` on Paradex)."""
    if exchange == "woox":
        return market.startswith("PERP_")
    if exchange == "paradex":
        return market.endswith("-PERP")
    return False


def is_counted(exchange: str, market: str, fill_type: str) -> bool:
    """True when a fill counts as perp volume (design.md, "What counts as volume")."""
    if not is_perp_market(exchange, market):
        return False
    if exchange == "paradex":
        return fill_type in PARADEX_COUNTED_FILL_TYPES
    return True


@dataclass(frozen=True, slots=True)
class Fill:
    """One of the user's own fills, normalized from any exchange payload.

    ``market`` is the exchange's own symbol (``PERP_BTC_USDT``, ``BTC-USD-PERP``); ``liquidity`` is
    ``MAKER`` or ``TAKER``; ``fee`` is what the user paid (negative for a rebate) in ``fee_asset``.
    """

    exchange: str
    fill_id: str
    fill_type: str
    market: str
    side: str
    liquidity: str
    price: Decimal
    size: Decimal
    fee: Decimal
    fee_asset: str
    ts_ms: int

    @property
    def notional(self) -> Decimal:
        """USD notional: price × size (USDT counted 1:1)."""
        return self.price * self.size

    @property
    def is_perp(self) -> bool:
        return is_perp_market(self.exchange, self.market)

    @property
    def counted(self) -> bool:
        return is_counted(self.exchange, self.market, self.fill_type)

    @property
    def day_ms(self) -> int:
        """UTC midnight (epoch ms) of the fill's day."""
        return self.ts_ms - self.ts_ms % MS_PER_DAY
