"""Seeded, realistic fill histories for the simulators, with exactly known expected volume.

A :class:`History` holds one trader's fills on one venue as venue-neutral :class:`SimFill` records; each
simulator formats them its own way. What differs between venues (markets, what counts, fill types, fees,
ids) is the venue's :class:`VenueProfile` (``perpvol_sim/<name>/profile.py``, see :mod:`perpvol_sim.profiles`);
``History("<venue>", ...)`` looks it up by name, or takes a profile object. The same
``(venue, seed, n_fills, now_ms, days, markets)`` always yields the same fills.

What a generated history contains (so that tests exercise the awkward cases):

* several perps with a maker/taker mix, per-market tick decimals and a slow price walk;
* spot noise (and options, HIP-3 perps, ... as the profile lists), counted as the profile says;
* the profile's fill types (liquidations, settlements, transfers, ... as the venue has them; a few ids appear twice
  with a different ``fill_type``, identity is ``(fill_id, fill_type)``), optional self-trade pairs
  (:attr:`History.self_trades`) and an optional burst of many fills of one order in one millisecond;
* fees, occasionally negative (maker rebates), zero for fee-less types;
* quiet days (no fills) and burst days, same-timestamp clusters (one order, several fills);
* fills exactly at UTC midnight, one exactly ``days`` days old (``now_ms - days * 86_400_000``) and
  one a second before ``now_ms``.

``fills`` is a plain list sorted by ``(ts_ms, fill_id, fill_type)`` that only ever grows at the end
(live fills), so readers may index it without the lock. :meth:`History.expected_daily` and
:meth:`History.expected_total` recompute volume from the fields, independently of connectors and store.

Ids never repeat across restarts: a live fill's id counters first jump to :meth:`VenueProfile.live_floor`
of the wall clock in microseconds, so a later process issues larger ids than any earlier one did (making a
live fill takes far more than a microsecond: a counter never runs ahead of the clock).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

from perpvol_core import timeutil
from perpvol_core.timeutil import MS_PER_DAY
from perpvol_sim.profiles import MarketSpec, VenueProfile, market, profile, utc_day
from perpvol_sim.sim_fill import FillCallback, SimFill

__all__ = ["MS_PER_DAY", "History", "MarketSpec", "SimFill", "VenueProfile", "market", "profile", "utc_day"]

log = logging.getLogger(__name__)

class History:
    """A deterministic fill history for one venue, plus live fills appended on demand (thread-safe).

    ``exchange``: the venue's name (its profile is looked up) or a :class:`VenueProfile`. ``now_ms`` defaults
    to the current time; pass it for byte-identical output across runs. All fills lie in
    ``[now_ms - days * 86_400_000, now_ms]``.
    """

    def __init__(
        self,
        exchange: str | VenueProfile,
        seed: int,
        n_fills: int,
        now_ms: int | None = None,
        days: int = 730,
        markets: list[str] | None = None,
    ) -> None:
        self.profile = profile(exchange)
        if n_fills < 0 or days < 1:
            raise ValueError("n_fills must be >= 0 and days >= 1")
        self.exchange = self.profile.name
        self.seed = seed
        self.days = days
        self.now_ms = int(now_ms) if now_ms is not None else timeutil.now_ms()
        self.start_ms = self.now_ms - days * MS_PER_DAY
        self._markets = [self.profile.spec(m) for m in markets] if markets else list(self.profile.markets)
        self._rng = random.Random(f"{self.exchange}:{seed}")
        self._lock = threading.RLock()
        self._subscribers: list[FillCallback] = []
        self._live_thread: threading.Thread | None = None
        self._live_stop = threading.Event()
        self._price_walk: dict[str, list[float]] = {}
        self.fills: list[SimFill] = []
        #: self-trade pairs: the maker row's fill id -> the taker row's fill id (same price, size and time)
        self.self_trades: dict[str, str] = {}
        self._next_id = 0  # the fill id counter (see VenueProfile.format_id)
        self._next_order = 0
        self._generate(n_fills)

    def _price(self, spec: MarketSpec, ts_ms: int, rng: random.Random) -> Decimal:
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

    def _size(self, spec: MarketSpec, price: Decimal, rng: random.Random) -> Decimal:
        notional = spec.notional_usd * rng.lognormvariate(0, 0.9)
        lots = max(1, round(notional / float(price) * 10**spec.size_dp))
        return Decimal(lots).scaleb(-spec.size_dp)

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

    def _draw_fill_type(self, spec: MarketSpec, rng: random.Random) -> str:
        draw = self.profile.draw_fill_type
        return self.profile.plain_fill_type(spec) if draw is None else draw(spec, rng)

    def _generate(self, n_fills: int) -> None:
        rng = self._rng
        venue = self.profile
        perps = [m for m in self._markets if m.kind == "perp"] or self._markets
        market_weights = [m.weight for m in self._markets]
        days, weights = self._day_weights(rng)

        # (ts_ms, order_key, spec, side, liquidity, fill_type, copy); order_key groups a same-timestamp
        # cluster; copy "twin" repeats the previous fill's id with another fill_type, "self" is the user's
        # own resting order on the other side of the previous fill (same price and size, another order).
        raw: list[tuple[int, int, MarketSpec, str, str, str, str]] = []
        specials: list[tuple[int, MarketSpec]] = []
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
            raw.append((ts, key, spec, rng.choice(("BUY", "SELL")), "TAKER", "FILL", ""))
        key = len(raw)
        if venue.burst > 0 and n_fills - len(raw) >= venue.burst:
            # one crossing order filled by `burst` resting orders in one millisecond, a day or two ago
            ts = max(self.start_ms, self.now_ms - MS_PER_DAY - int(rng.random() * MS_PER_DAY))
            spec = perps[0]
            fill_type = self._draw_fill_type(spec, rng)
            raw.extend((ts, key, spec, "BUY", "TAKER", fill_type, "") for _ in range(venue.burst))
            key += 1

        remaining = n_fills - len(raw)
        chosen_days = rng.choices(days, weights, k=remaining) if remaining > 0 else []
        chosen_markets = rng.choices(self._markets, market_weights, k=len(chosen_days))
        single_p, smallest, largest = venue.cluster
        i = 0
        while remaining > 0:
            day, spec = chosen_days[i], chosen_markets[i]
            i += 1
            lo = max(day * MS_PER_DAY, self.start_ms)
            ts = lo + int(rng.random() * (min(day * MS_PER_DAY + MS_PER_DAY - 1, self.now_ms) - lo + 1))
            cluster = 1 if rng.random() < single_p else min(remaining, rng.randint(smallest, largest))
            side = "BUY" if rng.random() < 0.5 else "SELL"
            fill_type = self._draw_fill_type(spec, rng)
            maker = rng.random() < 0.45 and fill_type != "LIQUIDATION" and not (venue.cluster_takes and cluster > 1)
            liquidity = "MAKER" if maker else "TAKER"
            for _ in range(cluster):
                raw.append((ts, key, spec, side, liquidity, fill_type, ""))
            remaining -= cluster
            if venue.twins and spec.kind == "perp" and fill_type == "FILL" and remaining > 0 and rng.random() < 0.002:
                twin_type = rng.choice(("UNWIND_TRANSFER", "SETTLE_MARKET", "LIQUIDATION"))
                raw.append((ts, key, spec, side, "TAKER", twin_type, "twin"))
                remaining -= 1
            if (
                venue.self_trade_p > 0
                and cluster == 1
                and liquidity == "TAKER"
                and venue.is_perp(spec.name)
                and remaining > 0
                and rng.random() < venue.self_trade_p
            ):
                key += 1
                raw.append((ts, key, spec, "SELL" if side == "BUY" else "BUY", "MAKER", fill_type, "self"))
                remaining -= 1
            key += 1

        raw.sort(key=lambda r: (r[0], r[1]))  # stable: a cluster keeps its order, a copy follows its fill
        self._init_counters(rng)
        fills: list[SimFill] = []
        order_ids: dict[int, str] = {}
        for ts, okey, spec, side, liquidity, fill_type, copy in raw:
            if copy:
                fills.append(self._copy_of(fills[-1], copy, ts, spec, side, liquidity, fill_type, rng))
                continue
            order_id = order_ids.get(okey)
            if order_id is None:
                order_id = order_ids[okey] = self._new_order_id(ts, rng)
            fills.append(self._make_fill(ts, spec, side, liquidity, fill_type, order_id, rng))
        fills.sort(key=lambda f: (f.ts_ms, f.fill_id, f.fill_type))
        self.fills.extend(fills)

    def _copy_of(
        self, prev: SimFill, copy: str, ts: int, spec: MarketSpec, side: str, liquidity: str, fill_type: str,
        rng: random.Random,
    ) -> SimFill:
        """A twin (the previous fill's id with another type) or the user's own other side of it."""
        fee, asset = self.profile.fee(spec, side, liquidity, fill_type, prev.price, prev.size, rng)
        if copy == "twin":
            fill_id, order_id = prev.fill_id, prev.order_id
        else:
            order_id = self._new_order_id(ts, rng)
            fill_id = self._new_fill_id(ts, rng)
            self.self_trades[fill_id] = prev.fill_id
        return SimFill(
            fill_id, order_id, prev.market, side, liquidity, prev.price, prev.size, fee, asset, ts, fill_type
        )

    def _init_counters(self, rng: random.Random) -> None:
        id_base, id_span = self.profile.id_start
        order_base, order_span = self.profile.order_start
        self._next_id = id_base + rng.randrange(id_span)
        self._next_order = order_base + rng.randrange(order_span)

    def _new_fill_id(self, ts_ms: int, rng: random.Random) -> str:
        self._next_id += 1 + int(rng.random() * 3)  # random() is far cheaper than randrange()
        return self.profile.format_id(self._next_id, ts_ms)

    def _new_order_id(self, ts_ms: int, rng: random.Random) -> str:
        self._next_order += 1 + int(rng.random() * 50)
        return self.profile.format_id(self._next_order, ts_ms)

    def _raise_to_live_floor(self) -> None:
        """Live ids start above anything an earlier process of this history could have issued."""
        floor = self.profile.live_floor(time.time_ns() // 1000)
        self._next_id = max(self._next_id, floor)
        self._next_order = max(self._next_order, floor)

    def _make_fill(
        self, ts: int, spec: MarketSpec, side: str, liquidity: str, fill_type: str, order_id: str, rng: random.Random
    ) -> SimFill:
        price = self._price(spec, ts, rng)
        size = self._size(spec, price, rng)
        fee, asset = self.profile.fee(spec, side, liquidity, fill_type, price, size, rng)
        return SimFill(
            self._new_fill_id(ts, rng), order_id, spec.name, side, liquidity, price, size, fee, asset, ts, fill_type
        )

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
                spec = next((m for m in self._markets if m.name == market), None) or self.profile.spec(market)
            side = self._rng.choice(("BUY", "SELL"))
            liquidity = "MAKER" if self._rng.random() < 0.45 else "TAKER"
            self._raise_to_live_floor()
            fill = self._make_fill(
                ts_ms, spec, side, liquidity, self.profile.plain_fill_type(spec),
                self._new_order_id(ts_ms, self._rng), self._rng,
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

    def restore(self, fills: Iterable[SimFill]) -> int:
        """Append earlier live fills (a restarted demo's, from its journal) newer than the last fill, in
        order, without notifying subscribers; ids already present are skipped. Returns how many were added."""
        with self._lock:
            seen = {(f.fill_id, f.fill_type) for f in self.fills[-1000:]}
            added = 0
            for fill in sorted(fills, key=lambda f: (f.ts_ms, f.fill_id)):
                if (self.fills and fill.ts_ms < self.fills[-1].ts_ms) or (fill.fill_id, fill.fill_type) in seen:
                    continue
                self.fills.append(fill)
                seen.add((fill.fill_id, fill.fill_type))
                added += 1
            return added

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

    def _fitting(self, perps: list[MarketSpec], notional_usd: float) -> list[MarketSpec]:
        """The markets whose smallest lot is at most ``notional_usd`` (the cheapest one when none is)."""
        def lot_usd(spec: MarketSpec) -> float:
            return spec.base_price * 10.0 ** -spec.size_dp

        fitting = [m for m in perps if lot_usd(m) <= notional_usd]
        return fitting or [min(perps, key=lot_usd)]

    def _resized(self, fill: SimFill, spec: MarketSpec, notional_usd: float) -> SimFill:
        target = notional_usd * self._rng.lognormvariate(0, 0.5)
        lots = max(1, round(target / float(fill.price) * 10**spec.size_dp))
        size = Decimal(lots).scaleb(-spec.size_dp)
        fee, asset = self.profile.fee(spec, fill.side, fill.liquidity, fill.fill_type, fill.price, size, self._rng)
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

    def snapshot(self) -> list[SimFill]:
        """A consistent copy of the fills."""
        with self._lock:
            return list(self.fills)

    def expected_daily(self, fills: Iterable[SimFill] | None = None) -> dict[str, dict[str, Decimal | int]]:
        """Counted perp volume per UTC day: ``{"YYYY-MM-DD": {volume_usd, maker_usd, taker_usd, fees_usd,
        fills}}``; days without counted fills are absent. ``fills``: only these (e.g. the ones a venue with
        a retention cap still serves) instead of the whole history."""
        return self.profile.daily_volume(self.snapshot() if fills is None else fills)

    def expected_total(
        self, start_ms: int | None = None, end_ms: int | None = None, fills: Iterable[SimFill] | None = None
    ) -> Decimal:
        """Counted perp volume of fills with ``start_ms <= ts_ms < end_ms`` (either bound optional), of
        ``fills`` when given (else of the whole history)."""
        return self.profile.total_volume(self.snapshot() if fills is None else fills, start_ms, end_ms)
