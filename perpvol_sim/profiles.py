"""Venue profiles of the seeded histories (:mod:`perpvol_sim.history`): what one venue's fills look like.

Each simulator package has ``profile.py`` with a ``PROFILE``; :func:`profile` finds it by the venue's name,
so the history generator itself names no venue.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from perpvol_core import timeutil
from perpvol_core.timeutil import MS_PER_DAY


class SimFill(Protocol):
    """What the volume rules read of a simulated fill (``perpvol_sim.history.SimFill``)."""

    @property
    def market(self) -> str: ...
    @property
    def fill_type(self) -> str: ...
    @property
    def liquidity(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def size(self) -> Decimal: ...
    @property
    def fee(self) -> Decimal: ...


def utc_day(ts_ms: int) -> str:
    """The UTC calendar day ``YYYY-MM-DD`` of an epoch-ms timestamp."""
    return timeutil.date_of_ms(ts_ms).isoformat()


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market of a profile: typical price, tick and lot decimals, typical order size, how often traded."""

    name: str
    base_price: float
    price_dp: int
    size_dp: int
    notional_usd: float  # typical order notional
    weight: float
    kind: str  # "perp" | "spot" | "option" | a profile's own kinds (e.g. "hip3")
    base_asset: str
    quote_asset: str = ""  # "" = the profile's quote asset


def market(
    name: str, price: float, pdp: int, sdp: int, notional: float, weight: float, kind: str,
    base: str | None = None, quote: str = "",
) -> MarketSpec:
    """A :class:`MarketSpec`; the base asset defaults to the name's ``X`` of ``PERP_X_USDT`` or ``X-USD...``."""
    if base is None:
        base = name.split("_")[1] if "_" in name else name.split("-")[0]
    return MarketSpec(name, price, pdp, sdp, notional, weight, kind, base, quote)


_FEE_QUANT = Decimal("0.000001")

# Counter floor of live ids in the timestamp-plus-suffix id scheme: a 15-digit suffix after the 13-digit
# timestamp (room until ~2040).
_SUFFIX_LIVE_BASE = 300_000_000_000_000
_SUFFIX_EPOCH_US = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z


@dataclass(frozen=True)
class VenueProfile:
    """What a venue's histories look like; one per simulator package (``perpvol_sim/<name>/profile.py``)."""

    name: str
    markets: tuple[MarketSpec, ...]
    #: the kind of any market name (decides perp or not, also for markets outside ``markets``)
    kind_of: Callable[[str], str]
    quote_asset: str
    #: "int": ids are increasing integers; "ts_prefixed": 13-digit ms timestamp + 15-digit increasing suffix
    id_scheme: str
    #: (base, random span) of the first fill id and the first order id counter
    id_start: tuple[int, int]
    order_start: tuple[int, int]
    perp_kinds: frozenset[str] = frozenset({"perp"})
    #: fill types of a perp fill that count (None: all)
    counted_types: frozenset[str] | None = None
    #: fill types that carry no fee
    feeless_types: frozenset[str] = frozenset()
    #: the fill type of a new fill (None: :meth:`plain_fill_type`)
    draw_fill_type: Callable[[MarketSpec, random.Random], str] | None = None
    #: (market kind, fill type) pairs: the fill type of an ordinary fill of that kind (else "FILL")
    kind_fill_types: tuple[tuple[str, str], ...] = ()
    #: a few fills repeat the previous fill's id with another fill type
    twins: bool = False
    #: probability that a single taker perp fill has the user's own resting order on the other side
    self_trade_p: float = 0.0
    #: (probability of a single fill, smallest and largest size of a same-millisecond cluster)
    cluster: tuple[float, int, int] = (0.8, 2, 6)
    #: a cluster is one crossing order against several resting orders: always taker
    cluster_takes: bool = False
    #: one extra same-millisecond group of this many fills (one crossing order), 0: none
    burst: int = 0
    taker_rate: Decimal = Decimal("0.0005")
    maker_rate: Decimal = Decimal("0.0002")
    rebate_rate: Decimal = Decimal("-0.00005")
    #: spot buys pay the fee in the bought asset
    spot_buy_fee_in_base: bool = False

    def is_perp(self, market_name: str) -> bool:
        return self.kind_of(market_name) in self.perp_kinds

    def plain_fill_type(self, spec: MarketSpec) -> str:
        """The fill type of an ordinary fill of this market (live fills are ordinary)."""
        return dict(self.kind_fill_types).get(spec.kind, "FILL")

    def counts(self, market_name: str, fill_type: str) -> bool:
        """Whether perpvol counts this fill's notional as perp volume."""
        if not self.is_perp(market_name):
            return False
        return self.counted_types is None or fill_type in self.counted_types

    def daily_volume(self, fills: Iterable[SimFill]) -> dict[str, dict[str, Decimal | int]]:
        """Counted volume of ``fills`` per UTC day: ``{"YYYY-MM-DD": {volume_usd, maker_usd, taker_usd,
        fees_usd, fills}}``; days without counted fills are absent."""
        out: dict[str, dict[str, Decimal | int]] = {}
        day_names: dict[int, str] = {}
        for fill in fills:
            if not self.counts(fill.market, fill.fill_type):
                continue
            day_index = fill.ts_ms // MS_PER_DAY
            name = day_names.get(day_index)
            if name is None:
                name = day_names[day_index] = utc_day(fill.ts_ms)
            row = out.get(name)
            if row is None:
                row = out[name] = {
                    "volume_usd": Decimal(0),
                    "maker_usd": Decimal(0),
                    "taker_usd": Decimal(0),
                    "fees_usd": Decimal(0),
                    "fills": 0,
                }
            notional = fill.price * fill.size
            row["volume_usd"] += notional
            row["maker_usd" if fill.liquidity == "MAKER" else "taker_usd"] += notional
            row["fees_usd"] += fill.fee
            row["fills"] += 1
        return out

    def total_volume(self, fills: Iterable[SimFill], start_ms: int | None = None, end_ms: int | None = None) -> Decimal:
        """Counted volume of the ``fills`` with ``start_ms <= ts_ms < end_ms`` (either bound optional)."""
        total = Decimal(0)
        for fill in fills:
            if start_ms is not None and fill.ts_ms < start_ms:
                continue
            if end_ms is not None and fill.ts_ms >= end_ms:
                continue
            if self.counts(fill.market, fill.fill_type):
                total += fill.price * fill.size
        return total

    def fee(
        self, spec: MarketSpec, side: str, liquidity: str, fill_type: str, price: Decimal, size: Decimal,
        rng: random.Random,
    ) -> tuple[Decimal, str]:
        """(fee, fee asset) of one fill; a maker now and then earns a rebate (a negative fee)."""
        quote = spec.quote_asset or self.quote_asset
        if fill_type in self.feeless_types:
            return Decimal("0"), quote
        if liquidity == "TAKER":
            rate = self.taker_rate
        else:
            rate = self.rebate_rate if rng.random() < 0.08 else self.maker_rate
        if self.spot_buy_fee_in_base and spec.kind == "spot" and side == "BUY":
            return (size * rate).quantize(Decimal("0.00000001")), spec.base_asset
        return (price * size * rate).quantize(_FEE_QUANT), quote

    def spec(self, name: str) -> MarketSpec:
        """The market's spec; a plausible one for a market the caller named but the profile does not list."""
        known = next((m for m in self.markets if m.name == name), None)
        return known or market(name, 100, 2, 3, 1000, 5, self.kind_of(name))

    def format_id(self, counter: int, ts_ms: int) -> str:
        return str(counter) if self.id_scheme == "int" else f"{ts_ms}{counter:015d}"

    def live_floor(self, now_us: int) -> int:
        """The smallest counter a live id may use at wall-clock ``now_us``: grows by one per microsecond."""
        if self.id_scheme == "int":
            return now_us
        return _SUFFIX_LIVE_BASE + now_us - _SUFFIX_EPOCH_US


def profile(venue: str | VenueProfile) -> VenueProfile:
    """The profile of a simulated venue: ``PROFILE`` of ``perpvol_sim.<venue>.profile`` (or ``venue`` itself)."""
    if isinstance(venue, VenueProfile):
        return venue
    if not venue.isidentifier():
        raise ValueError(f"unknown exchange {venue!r}")
    try:
        module = importlib.import_module(f"perpvol_sim.{venue}.profile")
    except ModuleNotFoundError as exc:
        raise ValueError(f"unknown exchange {venue!r}") from exc
    found = getattr(module, "PROFILE", None)
    if not isinstance(found, VenueProfile):
        raise ValueError(f"unknown exchange {venue!r}")
    return found


