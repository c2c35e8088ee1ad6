"""The seeded history generator: determinism, the awkward cases it must contain, exact expectations."""

from __future__ import annotations

import functools
import statistics
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from perpvol_core.exchanges import VENUE_PACKAGES, VENUES
from perpvol_core.exchanges import counts as is_counted
from perpvol_core.fill import MS_PER_DAY
from perpvol_sim.history import History, SimFill

NOW_MS = 1_780_012_345_678  # fixed "now" (not on a day boundary) so histories are reproducible


@functools.cache
def _history(name: str) -> History:
    """One 20,000-fill history per venue, shared by the module's tests (built on first use)."""
    return History(name, 11, 20_000, now_ms=NOW_MS)


@pytest.fixture
def woox() -> History:
    return _history("woox")


@pytest.fixture
def paradex() -> History:
    return _history("paradex")


def _recompute_daily(exchange: str, fills: list[SimFill]) -> dict[str, dict[str, Decimal | int]]:
    """The test's own recomputation, through the production definition of "counted" (the venue's spec)."""
    out: dict[str, dict[str, Decimal | int]] = defaultdict(
        lambda: {
            "volume_usd": Decimal(0),
            "maker_usd": Decimal(0),
            "taker_usd": Decimal(0),
            "fees_usd": Decimal(0),
            "fills": 0,
        }
    )
    for f in fills:
        if not is_counted(exchange, f.market, f.fill_type):
            continue
        day = datetime.fromtimestamp(f.ts_ms / 1000, tz=UTC).date().isoformat()
        row = out[day]
        row["volume_usd"] += f.price * f.size
        row["maker_usd" if f.liquidity == "MAKER" else "taker_usd"] += f.price * f.size
        row["fees_usd"] += f.fee
        row["fills"] += 1
    return dict(out)


@pytest.mark.parametrize("exchange", VENUE_PACKAGES)
def test_same_seed_same_history_other_seed_other_history(exchange: str) -> None:
    a = History(exchange, 5, 2_000, now_ms=NOW_MS)
    b = History(exchange, 5, 2_000, now_ms=NOW_MS)
    c = History(exchange, 6, 2_000, now_ms=NOW_MS)
    assert a.fills == b.fills
    assert a.fills != c.fills


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 1_000])
def test_exact_fill_count(n: int) -> None:
    for exchange in VENUE_PACKAGES:
        assert len(History(exchange, 2, n, now_ms=NOW_MS).fills) == n


@pytest.mark.parametrize("name", VENUE_PACKAGES)
def test_sorted_unique_and_inside_the_window(name: str) -> None:
    h = _history(name)
    keys = [(f.ts_ms, f.fill_id, f.fill_type) for f in h.fills]
    assert keys == sorted(keys)
    assert len({(f.fill_id, f.fill_type) for f in h.fills}) == len(h.fills)
    assert all(NOW_MS - 730 * MS_PER_DAY <= f.ts_ms <= NOW_MS for f in h.fills)
    for f in h.fills:
        assert f.side in ("BUY", "SELL") and f.liquidity in ("MAKER", "TAKER")
        assert isinstance(f.price, Decimal) and isinstance(f.size, Decimal) and isinstance(f.fee, Decimal)
        assert f.price > 0 and f.size > 0


def test_woox_ids_increase_and_markets(woox: History) -> None:
    ids = [int(f.fill_id) for f in woox.fills]
    assert all(b > a for a, b in zip(ids, ids[1:], strict=False))
    markets = Counter(f.market for f in woox.fills)
    assert sum(1 for m in markets if m.startswith("PERP_")) >= 3
    assert any(m.startswith("SPOT_") for m in markets)
    perp_assets = {f.fee_asset for f in woox.fills if f.market.startswith("PERP_")}
    assert perp_assets == {"USDT"}
    assert {f.fee_asset for f in woox.fills if f.market.startswith("SPOT_")} - {"USDT"}  # some in base asset


def test_paradex_ids_types_and_noise(paradex: History) -> None:
    for f in paradex.fills:
        assert f.fill_id.isdigit() and f.fill_id[:13] == str(f.ts_ms)
        assert f.fee_asset == "USDC"
    types = Counter(f.fill_type for f in paradex.fills)
    assert types.most_common(1)[0][0] == "FILL"
    assert {"LIQUIDATION", "RPI", "BLOCK_TRADE", "SETTLE_MARKET", "UNWIND_TRANSFER"} <= set(types)
    shared = Counter(f.fill_id for f in paradex.fills)
    twins = [i for i, n in shared.items() if n > 1]
    assert twins
    for fid in twins:
        assert len({f.fill_type for f in paradex.fills if f.fill_id == fid}) == shared[fid]
    markets = {f.market for f in paradex.fills}
    assert any(m.endswith("-PERP") for m in markets)
    assert "ETH-USD" in markets  # spot
    assert any(m.endswith(("-C", "-P")) for m in markets)  # options


@pytest.mark.parametrize("name", VENUE_PACKAGES)
def test_awkward_cases_present(name: str) -> None:
    h = _history(name)
    ts = [f.ts_ms for f in h.fills]
    assert ts[0] == NOW_MS - 730 * MS_PER_DAY  # exactly two years old
    assert NOW_MS - 60_000 <= ts[-1] <= NOW_MS  # now-ish
    assert any(t % MS_PER_DAY == 0 for t in ts)  # exactly at UTC midnight
    assert max(Counter(ts).values()) > 1  # same-timestamp clusters
    assert any(f.fee < 0 for f in h.fills)  # maker rebates
    per_day = Counter(t // MS_PER_DAY for t in ts)
    all_days = range(ts[0] // MS_PER_DAY, NOW_MS // MS_PER_DAY + 1)
    assert any(d not in per_day for d in all_days)  # quiet days
    assert max(per_day.values()) > 3 * statistics.median(per_day.values())  # bursts
    # Tick decimals: prices and sizes carry their market's fixed decimals, sizes up to 5 dp.
    assert all(-f.size.as_tuple().exponent <= 5 for f in h.fills)
    by_market: dict[str, set[int]] = defaultdict(set)
    for f in h.fills:
        by_market[f.market].add(-f.price.as_tuple().exponent)
    assert all(len(exps) == 1 for exps in by_market.values())


@pytest.mark.parametrize("name", VENUE_PACKAGES)
def test_expected_daily_matches_an_independent_recomputation(name: str) -> None:
    h = _history(name)
    expected = h.expected_daily()
    assert expected == _recompute_daily(h.exchange, h.fills)
    total = sum((row["volume_usd"] for row in expected.values()), Decimal(0))
    assert h.expected_total() == total
    # A window: [start, end) bounds on the fill timestamps.
    start, end = NOW_MS - 30 * MS_PER_DAY, NOW_MS - 10 * MS_PER_DAY
    window = sum(
        (f.price * f.size for f in h.fills if start <= f.ts_ms < end and is_counted(h.exchange, f.market, f.fill_type)),
        Decimal(0),
    )
    assert h.expected_total(start, end) == window
    assert all(row["maker_usd"] + row["taker_usd"] == row["volume_usd"] for row in expected.values())


def test_live_fills_append_and_notify() -> None:
    h = History("woox", 3, 50, now_ms=NOW_MS)
    seen: list[SimFill] = []
    unsubscribe = h.subscribe(seen.append)
    fill = h.add_live_fill(ts_ms=NOW_MS + 5, market="PERP_ETH_USDT")
    assert h.fills[-1] == fill and seen == [fill]
    assert fill.market == "PERP_ETH_USDT" and int(fill.fill_id) > int(h.fills[-2].fill_id)
    with pytest.raises(ValueError):
        h.add_live_fill(ts_ms=NOW_MS - MS_PER_DAY)
    unsubscribe()
    h.add_live_fill()
    assert len(seen) == 1 and len(h.fills) == 52
    assert h.fills[-1].ts_ms >= fill.ts_ms


def test_start_live_produces_fills_until_stopped() -> None:
    h = History("paradex", 3, 10, now_ms=NOW_MS)
    got = threading.Event()
    count = Counter()

    def on_fill(f: SimFill) -> None:
        count["n"] += 1
        if count["n"] >= 2:
            got.set()

    h.subscribe(on_fill)
    h.start_live(0.01)
    try:
        assert got.wait(30)
    finally:
        h.stop_live()
    n = len(h.fills)
    assert n >= 12
    assert h.fills[-1].fill_id[:13] == str(h.fills[-1].ts_ms)
    assert [f.ts_ms for f in h.fills] == sorted(f.ts_ms for f in h.fills)


@pytest.mark.parametrize("exchange", VENUE_PACKAGES)  # every registered venue, without editing this file
def test_live_ids_never_repeat_across_a_restart_of_the_same_history(exchange: str) -> None:
    """A demo restart rebuilds the same seeded history later; its live fills must not reuse any id."""
    first = History(exchange, 9, 300, now_ms=NOW_MS, days=30)
    for i in range(40):
        first.add_live_fill(ts_ms=NOW_MS + i)
    later = History(exchange, 9, 300, now_ms=NOW_MS + 60_000, days=30)
    assert [f.fill_id[-9:] for f in later.fills[:50]] == [f.fill_id[-9:] for f in first.fills[:50]]  # same counters
    for i in range(40):
        later.add_live_fill(ts_ms=NOW_MS + 60_000 + i)
    first_ids = {(f.fill_id, f.fill_type) for f in first.fills}
    first_orders = {f.order_id for f in first.fills[300:]}
    live = later.fills[300:]
    assert len(live) == 40
    assert not {(f.fill_id, f.fill_type) for f in live} & first_ids
    assert not {f.order_id for f in live} & first_orders
    assert len({f.fill_id for f in later.fills}) == len({(f.fill_id, f.fill_type) for f in later.fills})


def test_unknown_venue_is_refused() -> None:
    for name in ("nosuchvenue", "../woox", "", "server"):
        with pytest.raises(ValueError, match="unknown exchange"):
            History(name, 1, 10, now_ms=NOW_MS)


@pytest.mark.parametrize("venue", VENUE_PACKAGES)
def test_demo_venue_contract(venue: str) -> None:
    """perpvol_core/exchanges/_spec.py: demo_venue(...) -> start() -> base_url, credentials(), history, stop()."""
    import importlib

    import httpx

    module = importlib.import_module(f"perpvol_sim.{VENUES[venue].simulator}")
    sim = module.demo_venue(seed=4, n_fills=40, now_ms=NOW_MS, days=10)
    assert isinstance(sim.history, History) and sim.history.exchange == venue and len(sim.history.fills) == 40
    assert sim.history.fills == History(venue, 4, 40, now_ms=NOW_MS, days=10).fills
    assert sim.live_interval_factor > 0
    base_url = sim.start()
    try:
        assert base_url == sim.base_url and base_url.startswith("http://127.0.0.1:")
        creds = sim.credentials()
        assert isinstance(creds["kind"], str) and creds["kind"]
        assert all(isinstance(v, str) and v for v in creds.values())
        with httpx.Client(timeout=10) as client:  # the server answers at the base URL it gave
            status = client.get(base_url + "/no-such-route").status_code
        assert 400 <= status < 500
    finally:
        sim.stop()


def test_hyperliquid_history_kinds_counting_and_ids() -> None:
    """Core and HIP-3 perps count, spot never (hyperliquid-api.md §3.5); fill types say which is which."""
    h = History("hyperliquid", 12, 3000, now_ms=NOW_MS, days=120)

    def spot(coin: str) -> bool:
        return "/" in coin or coin.startswith("@")

    for f in h.fills:
        expected_type = "SPOT" if spot(f.market) else ("HIP3" if ":" in f.market else "FILL")
        assert f.fill_type == expected_type
        if ":" in f.market:
            assert f.fee_asset == "USDH"
    markets = {f.market for f in h.fills}
    assert {"BTC", "xyz:TSLA", "PURR/USDC", "@107", "MATIC"} <= markets
    total = sum((f.price * f.size for f in h.fills if not spot(f.market)), Decimal(0))
    assert h.expected_total() == total
    assert sum((Decimal(r["volume_usd"]) for r in h.expected_daily().values()), Decimal(0)) == total
    served = h.fills[-500:]
    assert h.expected_total(fills=served) == sum((f.price * f.size for f in served if not spot(f.market)), Decimal(0))
    tids = [int(f.fill_id) for f in h.fills]
    assert len(set(tids)) == len(tids) and tids == sorted(tids)
    assert h.self_trades  # the user's own resting order on the other side
    for maker, taker in h.self_trades.items():
        m = next(f for f in h.fills if f.fill_id == maker)
        t = next(f for f in h.fills if f.fill_id == taker)
        assert (m.liquidity, t.liquidity) == ("MAKER", "TAKER") and m.order_id != t.order_id
        assert (m.price, m.size, m.ts_ms, m.market) == (t.price, t.size, t.ts_ms, t.market) and m.side != t.side
    # a same-millisecond cluster is one crossing order: one order id, taker
    by_order = Counter((f.ts_ms, f.order_id) for f in h.fills)
    assert max(by_order.values()) >= 10
    for (ts, order), n in by_order.items():
        if n > 1:
            assert all(f.liquidity == "TAKER" for f in h.fills if f.order_id == order and f.ts_ms == ts)
