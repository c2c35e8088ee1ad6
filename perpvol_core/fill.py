"""Domain types shared by every layer: one normalized fill, exchange names, what counts as volume.

A fill's identity is (exchange, account, fill_id, fill_type); money is ``Decimal`` and time is UTC
epoch milliseconds (``int``) everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from perpvol_core.timeutil import MS_PER_DAY, day_floor_ms  # noqa: F401  (MS_PER_DAY re-exported: fills are bucketed by day)

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


MS_PER_HOUR = 3_600_000

#: Bounds a fill must meet to be stored exactly (column widths, int64 ms, 38-digit decimals). A row outside
#: them is not a fill we can trust: parsers report and skip it rather than letting it block a whole page.
TEXT_LIMITS = {"fill_id": 200, "fill_type": 40, "market": 80, "side": 20, "liquidity": 10, "fee_asset": 20}
MIN_TS_MS = 1_230_768_000_000  # 2009-01-01, before any crypto derivatives venue
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
# polars Decimal columns hold 38 digits at one scale per column, so one fill with 36 decimal places would
# leave room for 2 integer digits in every notional: 12 places (notional at most 24) is far beyond any
# exchange tick and leaves 14 integer digits for sums.
MAX_MONEY = Decimal(10) ** 12
MAX_DECIMAL_PLACES = 12


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


def why_not_counted(exchange: str, market: str, fill_type: str) -> str | None:
    """Why a fill does not count as perp volume, in words (None when it counts): the first rule of
    :func:`is_counted` it fails. The wording only names the market's kind from the symbol's common shape
    (``SPOT`` in it; a strike and ``C``/``P`` at the end); the decision itself is :func:`is_counted`'s."""
    if not is_perp_market(exchange, market):
        parts = market.upper().replace("_", "-").split("-")
        if "SPOT" in parts:
            return "spot market"
        if len(parts) > 2 and parts[-1] in ("C", "P") and parts[-2].replace(".", "").isdigit():
            return "option"
        return "not a perpetual market"
    if not is_counted(exchange, market, fill_type):
        kinds = [k for k in ("settlement", "unwind", "transfer") if k[:6].upper() in fill_type.upper()]
        return f"{' / '.join(kinds) or fill_type}, not a trade"
    return None


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
    #: a fee paid to a third party on top of ``fee`` (Hyperliquid builder codes), kept apart; None when none
    builder_fee: Decimal | None = None

    def __post_init__(self) -> None:
        """Raises ``ValueError``/``TypeError`` when a field is outside what the store keeps exactly."""
        for name, limit in TEXT_LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"{name} is a {type(value).__name__}, not text")
            if len(value) > limit or (not value and name != "side"):
                raise ValueError(f"{name} is empty or longer than {limit} characters")
        if self.liquidity not in (MAKER, TAKER):
            raise ValueError(f"liquidity is {self.liquidity!r}")
        if not isinstance(self.ts_ms, int) or isinstance(self.ts_ms, bool):
            raise TypeError("ts_ms is not an integer")
        if not MIN_TS_MS <= self.ts_ms < MAX_TS_MS:
            raise ValueError(f"timestamp {self.ts_ms} ms is outside 2009..2100")
        for name in ("price", "size", "fee", "builder_fee"):
            value = getattr(self, name)
            if value is None and name == "builder_fee":
                continue
            if not isinstance(value, Decimal) or not value.is_finite():
                raise TypeError(f"{name} is not a finite Decimal")
            if abs(value) >= MAX_MONEY or value.as_tuple().exponent < -MAX_DECIMAL_PLACES:  # type: ignore[operator]
                raise ValueError(f"{name} {value} is beyond 12 integer digits or 12 decimal places")

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
        return day_floor_ms(self.ts_ms)
