"""Domain types shared by every layer: one normalized fill and its bounds.

A fill's identity is (exchange, account, fill_id, fill_type); money is ``Decimal`` and time is UTC
epoch milliseconds (``int``) everywhere. What counts as volume is each venue's rule (its spec's ``is_perp``
and ``counts``): ``perpvol_core.exchanges.classify`` sets ``is_perp`` and ``counted`` on a fill before it
is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from perpvol_core.timeutil import MS_PER_DAY, day_floor_ms  # noqa: F401  (MS_PER_DAY re-exported: fills are bucketed by day)

MAKER = "MAKER"
TAKER = "TAKER"


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
    #: a fee paid to a third party on top of ``fee`` (a venue's builder codes), kept apart; None when none
    builder_fee: Decimal | None = None
    #: the venue's classification (``perpvol_core.exchanges.classify``); None until classified. Not part of
    #: a fill's value: the same fill classified or not is the same fill.
    is_perp: bool | None = field(default=None, compare=False)
    #: True when the fill counts as perp volume (design.md, "What counts as volume"); None until classified
    counted: bool | None = field(default=None, compare=False)

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
    def day_ms(self) -> int:
        """UTC midnight (epoch ms) of the fill's day."""
        return day_floor_ms(self.ts_ms)
