"""Seeded, realistic fill histories for the simulators, with exactly known expected volume.

A :class:`History` holds one trader's fills on one exchange (``"woox"`` or ``"paradex"``) as
exchange-neutral :class:`SimFill` records; each simulator formats them its own way. The same
``(exchange, seed, n_fills, now_ms, days, markets)`` always yields the same fills.

What a generated history contains (so that tests exercise the awkward cases):

* several perps with a maker/taker mix, per-market tick decimals and a slow price walk;
* spot noise (WOO X ``SPOT_*``; Paradex spot, perp options and dated options), never counted;
* Paradex fill types: mostly ``FILL``, some ``LIQUIDATION``/``RPI``/``BLOCK_TRADE`` (counted) and
  ``SETTLE_MARKET``/``UNWIND_TRANSFER`` (stored, not counted); a few ids appear twice with a
  different ``fill_type`` (identity is ``(fill_id, fill_type)``);
* fees, occasionally negative (maker rebates), zero for settlements;
* quiet days (no fills) and burst days, same-timestamp clusters (one order, several fills);
* fills exactly at UTC midnight, one exactly ``days`` days old (``now_ms - days * 86_400_000``) and
  one a second before ``now_ms``.

``fills`` is a plain list sorted by ``(ts_ms, fill_id, fill_type)`` that only ever grows at the end
(live fills), so readers may index it without the lock. :meth:`History.expected_daily` and
:meth:`History.expected_total` recompute volume directly from the fields, independently of the
connectors and the store.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from perpvol_core import timeutil
from perpvol_core.timeutil import MS_PER_DAY

log = logging.getLogger(__name__)

PARADEX_COUNTED = frozenset({"FILL", "LIQUIDATION", "RPI", "BLOCK_TRADE"})

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


@dataclass(frozen=True, slots=True)
class _MarketSpec:
    name: str
    base_price: float
    price_dp: int
    size_dp: int
    notional_usd: float  # typical order notional
    weight: float
    kind: str  # "perp" | "spot" | "option"
    base_asset: str


def _spec(name: str, price: float, pdp: int, sdp: int, notional: float, weight: float, kind: str) -> _MarketSpec:
    base = name.split("_")[1] if "_" in name else name.split("-")[0]
    return _MarketSpec(name, price, pdp, sdp, notional, weight, kind, base)


_WOOX_MARKETS = (
    _spec("PERP_BTC_USDT", 60000, 1, 4, 6000, 30, "perp"),
    _spec("PERP_ETH_USDT", 3000, 2, 3, 3000, 22, "perp"),
    _spec("PERP_SOL_USDT", 150, 3, 2, 1500, 14, "perp"),
    _spec("PERP_DOGE_USDT", 0.15, 5, 0, 800, 6, "perp"),
    _spec("PERP_XRP_USDT", 0.6, 4, 1, 800, 6, "perp"),
    _spec("PERP_WOO_USDT", 0.25, 5, 0, 500, 4, "perp"),
    _spec("PERP_ARB_USDT", 1.1, 4, 1, 600, 3, "perp"),
    _spec("SPOT_BTC_USDT", 60000, 2, 5, 2000, 3, "spot"),
    _spec("SPOT_LTC_USDT", 85, 2, 2, 300, 2, "spot"),
)
_PARADEX_MARKETS = (
    _spec("BTC-USD-PERP", 60000, 1, 5, 6000, 30, "perp"),
    _spec("ETH-USD-PERP", 3000, 2, 4, 3000, 22, "perp"),
    _spec("SOL-USD-PERP", 150, 3, 2, 1500, 12, "perp"),
    _spec("DOGE-USD-PERP", 0.15, 5, 0, 800, 5, "perp"),
    _spec("HYPE-USD-PERP", 30, 3, 2, 900, 5, "perp"),
    _spec("ARB-USD-PERP", 1.1, 4, 1, 600, 3, "perp"),
    _spec("ETH-USD", 3000, 2, 4, 500, 2, "spot"),
    _spec("BTC-USD-96000-C", 1500, 1, 3, 400, 1.5, "option"),
    _spec("ETH-USD-3500-P", 120, 2, 2, 300, 1, "option"),
    _spec("BTC-USD-27JUN25-96000-C", 1800, 1, 3, 400, 0.5, "option"),
)

# Paradex fill types of a perp fill (weights in per mille); settlement-like types carry no fee.
_PARADEX_PERP_TYPES = (
    ("FILL", 920),
    ("LIQUIDATION", 15),
    ("RPI", 30),
    ("BLOCK_TRADE", 10),
    ("SETTLE_MARKET", 10),
    ("UNWIND_TRANSFER", 15),
)
_FEELESS_TYPES = frozenset({"SETTLE_MARKET", "UNWIND_TRANSFER"})

_TAKER_RATE = Decimal("0.0005")
_MAKER_RATE = Decimal("0.0002")
_REBATE_RATE = Decimal("-0.00005")
_FEE_QUANT = Decimal("0.000001")


def _default_spec(name: str, exchange: str) -> _MarketSpec:
    """A plausible spec for a market the caller named but we do not know."""
    if exchange == "woox":
        kind = "perp" if name.startswith("PERP_") else "spot"
    else:
        kind = "perp" if name.endswith("-PERP") else ("option" if name[-2:] in ("-C", "-P") else "spot")
    return _spec(name, 100, 2, 3, 1000, 5, kind)


def utc_day(ts_ms: int) -> str:
    """The UTC calendar day ``YYYY-MM-DD`` of an epoch-ms timestamp."""
    return timeutil.date_of_ms(ts_ms).isoformat()


class History:
    """A deterministic fill history for one exchange, plus live fills appended on demand (thread-safe).

    ``now_ms`` defaults to the current time; pass it for byte-identical output across runs. All fills
    lie in ``[now_ms - days * 86_400_000, now_ms]``.
    """

    def __init__(
        self,
        exchange: str,
        seed: int,
        n_fills: int,
        now_ms: int | None = None,
        days: int = 730,
        markets: list[str] | None = None,
    ) -> None:
        if exchange not in ("woox", "paradex"):
            raise ValueError(f"unknown exchange {exchange!r}")
        if n_fills < 0 or days < 1:
            raise ValueError("n_fills must be >= 0 and days >= 1")
        self.exchange = exchange
        self.seed = seed
        self.days = days
        self.now_ms = int(now_ms) if now_ms is not None else timeutil.now_ms()
        self.start_ms = self.now_ms - days * MS_PER_DAY
        known = {m.name: m for m in (_WOOX_MARKETS if exchange == "woox" else _PARADEX_MARKETS)}
        self._markets = (
            [known.get(m) or _default_spec(m, exchange) for m in markets] if markets else list(known.values())
        )
        self._rng = random.Random(f"{exchange}:{seed}")
        self._lock = threading.RLock()
        self._subscribers: list[FillCallback] = []
        self._live_thread: threading.Thread | None = None
        self._live_stop = threading.Event()
        self._price_walk: dict[str, list[float]] = {}
        self.fills: list[SimFill] = []
        self._next_id = 0  # woox: next trade id; paradex: next id suffix
        self._next_order = 0
        self._generate(n_fills)

    # ------------------------------------------------------------------ generation
    def _is_perp(self, market: str) -> bool:
        return market.startswith("PERP_") if self.exchange == "woox" else market.endswith("-PERP")

    def _counted(self, fill: SimFill) -> bool:
        if not self._is_perp(fill.market):
            return False
        return self.exchange == "woox" or fill.fill_type in PARADEX_COUNTED

    def _price(self, spec: _MarketSpec, ts_ms: int, rng: random.Random) -> Decimal:
        """A price on the market's tick near its (seeded) daily walk."""
        walk = self._price_walk.get(spec.name)
        day = max(0, (ts_ms - self.start_ms) // MS_PER_DAY)
        if walk is None or day >= len(walk):
            walk = walk or [1.0]
            while len(walk) <= day:
                walk.append(min(4.0, max(0.25, walk[-1] * (1 + rng.gauss(0, 0.025)))))
            self._price_walk[spec.name] = walk
        value = spec.base_price * walk[day] * (1 + rng.uniform(-0.01, 0.01))
        ticks = max(1, round(value * 10**spec.price_dp))
        return Decimal(ticks).scaleb(-spec.price_dp)

    def _size(self, spec: _MarketSpec, price: Decimal, rng: random.Random) -> Decimal:
        notional = spec.notional_usd * rng.lognormvariate(0, 0.9)
        lots = max(1, round(notional / float(price) * 10**spec.size_dp))
        return Decimal(lots).scaleb(-spec.size_dp)

    def _fee(
        self,
        spec: _MarketSpec,
        side: str,
        liquidity: str,
        fill_type: str,
        price: Decimal,
        size: Decimal,
        rng: random.Random,
    ) -> tuple[Decimal, str]:
        if fill_type in _FEELESS_TYPES:
            return Decimal("0"), self._quote_asset(spec)
        if liquidity == "TAKER":
            rate = _TAKER_RATE
        else:
            rate = _REBATE_RATE if rng.random() < 0.08 else _MAKER_RATE
        if self.exchange == "woox" and spec.kind == "spot" and side == "BUY":
            # WOO X charges spot buys in the bought asset (the recorded LTC fixture).
            return (size * rate).quantize(Decimal("0.00000001")), spec.base_asset
        return (price * size * rate).quantize(_FEE_QUANT), self._quote_asset(spec)

    def _quote_asset(self, spec: _MarketSpec) -> str:
        return "USDT" if self.exchange == "woox" else "USDC"

    def _day_weights(self, rng: random.Random) -> tuple[list[int], list[float]]:
        first_day = self.start_ms // MS_PER_DAY
        last_day = self.now_ms // MS_PER_DAY
        days = list(range(first_day, last_day + 1))
        weights = []
        for _ in days:
            r = rng.random()
            if r < 0.12:
                weights.append(0.0)  # quiet day
            elif r > 0.95:
                weights.append(rng.uniform(5, 12))  # burst
            else:
                weights.append(rng.uniform(0.3, 1.5))
        weights[-1] = max(weights[-1], 0.5)  # the current day is never quiet: 24h figures have data
        return days, weights

    def _draw_fill_type(self, spec: _MarketSpec, rng: random.Random) -> str:
        if self.exchange != "paradex":
            return "FILL"
        if spec.kind != "perp":
            return "SETTLE_MARKET" if spec.kind == "option" and rng.random() < 0.03 else "FILL"
        r = int(rng.random() * 1000)
        for name, weight in _PARADEX_PERP_TYPES:
            if r < weight:
                return name
            r -= weight
        return "FILL"

    def _generate(self, n_fills: int) -> None:
        rng = self._rng
        perps = [m for m in self._markets if m.kind == "perp"] or self._markets
        market_weights = [m.weight for m in self._markets]
        days, weights = self._day_weights(rng)

        # (ts_ms, order_key, spec, side, liquidity, fill_type, twin); order_key groups a same-timestamp
        # cluster; a twin repeats the previous fill's id with another fill_type (Paradex only).
        raw: list[tuple[int, int, _MarketSpec, str, str, str, bool]] = []
        specials: list[tuple[int, _MarketSpec]] = []
        if n_fills >= 1:
            specials.append((self.start_ms, perps[0]))  # exactly `days` days old
        if n_fills >= 2:
            specials.append((self.now_ms - 1000, perps[0]))  # now-ish
        active = [
            d for d, w in zip(days, weights, strict=True) if w > 0 and self.start_ms <= d * MS_PER_DAY <= self.now_ms
        ]
        for day in rng.sample(active, min(len(active), 4, max(0, n_fills - 2))):
            specials.append((day * MS_PER_DAY, rng.choice(perps)))  # exactly at UTC midnight
        for key, (ts, spec) in enumerate(specials):
            raw.append((ts, key, spec, rng.choice(("BUY", "SELL")), "TAKER", "FILL", False))

        remaining = n_fills - len(raw)
        chosen_days = rng.choices(days, weights, k=remaining) if remaining > 0 else []
        chosen_markets = rng.choices(self._markets, market_weights, k=len(chosen_days))
        key = len(raw)
        i = 0
        while remaining > 0:
            day, spec = chosen_days[i], chosen_markets[i]
            i += 1
            lo = max(day * MS_PER_DAY, self.start_ms)
            ts = lo + int(rng.random() * (min(day * MS_PER_DAY + MS_PER_DAY - 1, self.now_ms) - lo + 1))
            cluster = 1 if rng.random() < 0.8 else min(remaining, rng.randint(2, 6))
            side = "BUY" if rng.random() < 0.5 else "SELL"
            fill_type = self._draw_fill_type(spec, rng)
            maker = rng.random() < 0.45 and fill_type != "LIQUIDATION"
            liquidity = "MAKER" if maker else "TAKER"
            for _ in range(cluster):
                raw.append((ts, key, spec, side, liquidity, fill_type, False))
            remaining -= cluster
            if (
                self.exchange == "paradex"
                and spec.kind == "perp"
                and fill_type == "FILL"
                and remaining > 0
                and rng.random() < 0.002
            ):
                twin_type = rng.choice(("UNWIND_TRANSFER", "SETTLE_MARKET", "LIQUIDATION"))
                raw.append((ts, key, spec, side, "TAKER", twin_type, True))
                remaining -= 1
            key += 1

        raw.sort(key=lambda r: (r[0], r[1]))  # stable: a cluster keeps its order, a twin follows its fill
        self._init_counters(rng)
        fills: list[SimFill] = []
        order_ids: dict[int, str] = {}
        for ts, okey, spec, side, liquidity, fill_type, twin in raw:
            if twin:
                prev = fills[-1]
                fee, asset = self._fee(spec, side, liquidity, fill_type, prev.price, prev.size, rng)
                fills.append(
                    SimFill(
                        prev.fill_id,
                        prev.order_id,
                        prev.market,
                        side,
                        liquidity,
                        prev.price,
                        prev.size,
                        fee,
                        asset,
                        ts,
                        fill_type,
                    )
                )
                continue
            order_id = order_ids.get(okey)
            if order_id is None:
                order_id = order_ids[okey] = self._new_order_id(ts, rng)
            fills.append(self._make_fill(ts, spec, side, liquidity, fill_type, order_id, rng))
        fills.sort(key=lambda f: (f.ts_ms, f.fill_id, f.fill_type))
        self.fills.extend(fills)

    def _init_counters(self, rng: random.Random) -> None:
        if self.exchange == "woox":
            self._next_id = 1_700_000_000 + rng.randrange(1_000_000)
            self._next_order = 60_000_000_000 + rng.randrange(1_000_000_000)
        else:
            self._next_id = 200_000_000_000_000 + rng.randrange(10**13)
            self._next_order = 100_000_000_000_000 + rng.randrange(10**13)

    def _new_fill_id(self, ts_ms: int, rng: random.Random) -> str:
        # WOO X: increasing 10-digit ints; Paradex: 13-digit ms timestamp + 15-digit increasing suffix.
        self._next_id += 1 + int(rng.random() * 3)  # random() is far cheaper than randrange()
        return str(self._next_id) if self.exchange == "woox" else f"{ts_ms}{self._next_id:015d}"

    def _new_order_id(self, ts_ms: int, rng: random.Random) -> str:
        self._next_order += 1 + int(rng.random() * 50)
        return str(self._next_order) if self.exchange == "woox" else f"{ts_ms}{self._next_order:015d}"

    def _make_fill(
        self, ts: int, spec: _MarketSpec, side: str, liquidity: str, fill_type: str, order_id: str, rng: random.Random
    ) -> SimFill:
        price = self._price(spec, ts, rng)
        size = self._size(spec, price, rng)
        fee, asset = self._fee(spec, side, liquidity, fill_type, price, size, rng)
        return SimFill(
            self._new_fill_id(ts, rng), order_id, spec.name, side, liquidity, price, size, fee, asset, ts, fill_type
        )

    # ------------------------------------------------------------------ live fills
    def add_live_fill(
        self, ts_ms: int | None = None, market: str | None = None, notional_usd: float | None = None
    ) -> SimFill:
        """Append one new fill at ``ts_ms`` (default: now, never before the last fill); notify subscribers.

        ``notional_usd``: the fill's typical size in USD (spread around it; at least one lot of a market
        whose lot fits), instead of the market's own typical size.
        ``ts_ms`` older than the newest fill is refused (ValueError): the list stays sorted.
        """
        with self._lock:
            last = self.fills[-1].ts_ms if self.fills else self.start_ms
            if ts_ms is None:
                ts_ms = max(timeutil.now_ms(), last)
            elif ts_ms < last:
                raise ValueError("live fills must not be older than the newest fill")
            perps = [m for m in self._markets if m.kind == "perp"] or self._markets
            if market is None and notional_usd is not None:
                spec = self._rng.choice(self._fitting(perps, notional_usd))
            elif market is None:
                spec = self._rng.choice(perps)
            else:
                spec = next((m for m in self._markets if m.name == market), None) or _default_spec(
                    market, self.exchange
                )
            side = self._rng.choice(("BUY", "SELL"))
            liquidity = "MAKER" if self._rng.random() < 0.45 else "TAKER"
            fill = self._make_fill(
                ts_ms, spec, side, liquidity, "FILL", self._new_order_id(ts_ms, self._rng), self._rng
            )
            if notional_usd is not None:
                fill = self._resized(fill, spec, notional_usd)
            self.fills.append(fill)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(fill)
            except Exception:  # a broken subscriber must not stop the others
                log.exception("live fill subscriber failed")
        return fill

    def subscribe(self, callback: FillCallback) -> Callable[[], None]:
        """Call ``callback(fill)`` for each new live fill; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def typical_day_usd(self) -> Decimal:
        """The median counted volume of the days that have any (zero for an empty history)."""
        days = sorted(Decimal(row["volume_usd"]) for row in self.expected_daily().values())
        return days[len(days) // 2] if days else Decimal(0)

    def live_notional_usd(self, interval_s: float) -> float:
        """The size of one live fill every ``interval_s`` seconds that adds up to a typical day in 24 h."""
        return float(self.typical_day_usd()) * interval_s / 86_400

    def _fitting(self, perps: list[_MarketSpec], notional_usd: float) -> list[_MarketSpec]:
        """The markets whose smallest lot is at most ``notional_usd`` (the cheapest one when none is)."""
        def lot_usd(spec: _MarketSpec) -> float:
            return spec.base_price * 10.0 ** -spec.size_dp

        fitting = [m for m in perps if lot_usd(m) <= notional_usd]
        return fitting or [min(perps, key=lot_usd)]

    def _resized(self, fill: SimFill, spec: _MarketSpec, notional_usd: float) -> SimFill:
        target = notional_usd * self._rng.lognormvariate(0, 0.5)
        lots = max(1, round(target / float(fill.price) * 10**spec.size_dp))
        size = Decimal(lots).scaleb(-spec.size_dp)
        fee, asset = self._fee(spec, fill.side, fill.liquidity, fill.fill_type, fill.price, size, self._rng)
        return dataclasses.replace(fill, size=size, fee=fee, fee_asset=asset)

    def start_live(self, interval_s: float, notional_usd: float | None = None) -> None:
        """Add a live fill every ``interval_s`` seconds from a daemon thread until :meth:`stop_live`.

        Each fill is about ``notional_usd`` (default: :meth:`live_notional_usd`, so that the 24h figure
        climbs at a typical day's pace rather than a burst's)."""
        if notional_usd is None:
            notional_usd = self.live_notional_usd(interval_s)
        with self._lock:
            if self._live_thread is not None:
                return
            self._live_stop.clear()
            self._live_thread = threading.Thread(
                target=self._live_loop, args=(interval_s, notional_usd), name=f"sim-live-{self.exchange}",
                daemon=True,
            )
            self._live_thread.start()

    def _live_loop(self, interval_s: float, notional_usd: float) -> None:
        while not self._live_stop.wait(interval_s):
            self.add_live_fill(notional_usd=notional_usd)

    def stop_live(self) -> None:
        with self._lock:
            thread, self._live_thread = self._live_thread, None
        self._live_stop.set()
        if thread is not None:
            thread.join(5)

    # ------------------------------------------------------------------ expectations
    def snapshot(self) -> list[SimFill]:
        """A consistent copy of the fills."""
        with self._lock:
            return list(self.fills)

    def expected_daily(self) -> dict[str, dict[str, Decimal | int]]:
        """Counted perp volume per UTC day: ``{"YYYY-MM-DD": {volume_usd, maker_usd, taker_usd, fees_usd,
        fills}}``; days without counted fills are absent."""
        out: dict[str, dict[str, Decimal | int]] = {}
        day_names: dict[int, str] = {}
        for fill in self.snapshot():
            if not self._counted(fill):
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

    def expected_total(self, start_ms: int | None = None, end_ms: int | None = None) -> Decimal:
        """Counted perp volume of fills with ``start_ms <= ts_ms < end_ms`` (either bound optional)."""
        total = Decimal(0)
        for fill in self.snapshot():
            if start_ms is not None and fill.ts_ms < start_ms:
                continue
            if end_ms is not None and fill.ts_ms >= end_ms:
                continue
            if self._counted(fill):
                total += fill.price * fill.size
        return total
