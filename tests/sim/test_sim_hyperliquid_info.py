"""The Hyperliquid simulator's fill endpoints over real HTTP: the history's awkward cases, paging and
retention readings (F1-F14, F26), and the truth recomputed from the raw JSON with Decimal."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from perpvol_sim.history import SimFill
from perpvol_sim.hyperliquid import HyperliquidSim, HyperliquidSimConfig, hyperliquid_history

N_FILLS = 1200


@pytest.fixture(scope="module")
def sim() -> Iterator[HyperliquidSim]:
    now_ms = int(time.time() * 1000)
    with HyperliquidSim(hyperliquid_history(21, N_FILLS, now_ms=now_ms, days=90)) as running:
        yield running


@pytest.fixture
def client(sim: HyperliquidSim) -> Iterator[httpx.Client]:
    # every test starts from the documented readings (the weight limit has its own tests)
    sim.state.config = HyperliquidSimConfig(weight_limit=10**9)
    sim.state.limiter.reset()
    with httpx.Client(base_url=sim.base_url, timeout=20) as c:
        yield c


def info(client: httpx.Client, **body: Any) -> Any:
    response = client.post("/info", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def walk(client: httpx.Client, user: str, start: int = 0, end: int | None = None) -> list[dict[str, Any]]:
    """The notes' pager (§3.7): next startTime = last time (inclusive), dedupe by (tid, oid)."""
    seen: dict[tuple[int, int], dict[str, Any]] = {}
    cursor = start
    for _ in range(1000):
        page = info(client, type="userFillsByTime", user=user, startTime=cursor, endTime=end, aggregateByTime=False)
        new = [f for f in page if (int(f["tid"]), int(f["oid"])) not in seen]
        if not new:
            break
        seen.update({(int(f["tid"]), int(f["oid"])): f for f in new})
        cursor = max(int(f["time"]) for f in page)
    return sorted(seen.values(), key=lambda f: (int(f["time"]), int(f["tid"])))


def is_spot(coin: str) -> bool:
    return "/" in coin or coin.startswith("@")  # §3.5


def daily_from_json(fills: list[dict[str, Any]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        if not is_spot(f["coin"]):
            day = datetime.fromtimestamp(int(f["time"]) / 1000, tz=UTC).date().isoformat()
            out[day] += Decimal(f["px"]) * Decimal(f["sz"])
    return dict(out)


def daily_from_history(sim: HyperliquidSim, fills: list[SimFill] | None = None) -> dict[str, Decimal]:
    return {day: Decimal(row["volume_usd"]) for day, row in sim.history.expected_daily(fills).items()}


def test_history_holds_the_awkward_cases(sim: HyperliquidSim, client: httpx.Client) -> None:
    assert sim.address.startswith("0x") and len(sim.address) == 42 and sim.address == sim.address.lower()
    fills = walk(client, sim.address)
    assert len(fills) == N_FILLS
    coins = Counter(f["coin"] for f in fills)
    assert {"BTC", "ETH", "HYPE", "xyz:TSLA", "PURR/USDC", "@107", "MATIC"} <= set(coins)
    assert {f["feeToken"] for f in fills if f["coin"].startswith("xyz:")} == {"USDH"}
    assert any("liquidation" in f and f["liquidation"]["liquidatedUser"].startswith("0x") for f in fills)
    assert any(Decimal(f["fee"]) < 0 and f["crossed"] is False for f in fills)  # maker rebates
    builder = [f for f in fills if "builderFee" in f]
    assert builder and all(Decimal(f["builderFee"]) > 0 for f in builder)  # absent when 0
    assert len(builder) < len(fills)
    assert all(f["twapId"] is None and len(f["hash"]) == 66 for f in fills)
    groups: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for f in fills:
        groups[(int(f["time"]), int(f["oid"]))].append(f)
    crossing = [g for g in groups.values() if len(g) >= 5]
    assert crossing  # one crossing order, one oid, one hash, many tids
    for group in crossing:
        assert len({f["hash"] for f in group}) == 1 and len({f["tid"] for f in group}) == len(group)
        assert all(f["crossed"] for f in group)
    assert len({(f["tid"], f["oid"]) for f in fills}) == len(fills)
    # the truth: perp notional per UTC day from the raw JSON equals the history's expectation
    assert daily_from_json(fills) == daily_from_history(sim)


def test_same_millisecond_groups_fall_across_page_boundaries(sim: HyperliquidSim, client: httpx.Client) -> None:
    cut_inside = 0
    for cap in (100, 128, 250):
        sim.configure(page_cap=cap)
        cursor, pages = 0, 0
        while pages < 40 and not cut_inside:
            page = info(client, type="userFillsByTime", user=sim.address, startTime=cursor)
            pages += 1
            if len(page) < cap:
                break
            last = page[-1]["time"]
            following = info(client, type="userFillsByTime", user=sim.address, startTime=last)
            cut_inside += sum(1 for f in following if f["time"] == last) > sum(1 for f in page if f["time"] == last)
            cursor = last
    assert cut_inside > 0
    sim.configure(page_cap=100)
    assert len(walk(client, sim.address)) == N_FILLS  # the inclusive pager loses nothing


@pytest.mark.parametrize("page_cap", [2000, 500])
def test_pages_are_ascending_and_capped(sim: HyperliquidSim, client: httpx.Client, page_cap: int) -> None:
    sim.configure(page_cap=page_cap)  # F1
    page = info(client, type="userFillsByTime", user=sim.address, startTime=0, endTime=None, aggregateByTime=False)
    assert len(page) == min(page_cap, N_FILLS)
    times = [f["time"] for f in page]
    assert times == sorted(times) and times[0] == sim.history.fills[0].ts_ms  # the earliest N (F2 default)
    everything = walk(client, sim.address)
    assert daily_from_json(everything) == daily_from_history(sim)


@pytest.mark.parametrize("pick", ["latest", "descending"])
def test_window_pick_readings(sim: HyperliquidSim, client: httpx.Client, pick: str) -> None:
    sim.configure(page_cap=500, window_pick=pick)  # F2
    page = info(client, type="userFillsByTime", user=sim.address, startTime=0)
    times = [f["time"] for f in page]
    assert len(page) == 500 and times[0] > sim.history.fills[0].ts_ms
    newest = sim.history.fills[-1].ts_ms
    if pick == "latest":
        assert times == sorted(times) and times[-1] == newest
    else:
        assert times == sorted(times, reverse=True) and times[0] == newest


@pytest.mark.parametrize("inclusive", [True, False])
def test_end_time_bound(sim: HyperliquidSim, client: httpx.Client, inclusive: bool) -> None:
    sim.configure(end_inclusive=inclusive)  # F3
    at = Counter(f.ts_ms for f in sim.history.fills).most_common(1)[0][0]  # a same-ms group's time
    page = info(client, type="userFillsByTime", user=sim.address, startTime=at, endTime=at)
    assert len(page) == (sum(1 for f in sim.history.fills if f.ts_ms == at) if inclusive else 0)
    # startTime is inclusive; endTime absent and null both mean now
    absent = info(client, type="userFillsByTime", user=sim.address, startTime=at)
    null = info(client, type="userFillsByTime", user=sim.address, startTime=at, endTime=None)
    assert absent == null and absent[0]["time"] == at


@pytest.mark.parametrize("style", ["numbers", "strings", "mixed"])
def test_number_styles(sim: HyperliquidSim, client: httpx.Client, style: str) -> None:
    sim.configure(number_style=style)  # F4
    page = info(client, type="userFills", user=sim.address)
    kinds = {type(f[key]) for f in page for key in ("time", "oid", "tid")}
    assert kinds == {"numbers": {int}, "strings": {str}, "mixed": {int, str}}[style]
    assert all(isinstance(f["px"], str) and isinstance(f["sz"], str) for f in page)


def test_retention_cap_and_old_windows(sim: HyperliquidSim, client: httpx.Client) -> None:
    sim.configure(retention_cap=300)  # F6: count cap only
    served = sim.served_fills()
    assert len(served) == 300 and served[-1] == sim.history.fills[-1]
    fills = walk(client, sim.address)
    assert [int(f["tid"]) for f in fills] == [int(f.fill_id) for f in served]
    assert daily_from_json(fills) == daily_from_history(sim, served)  # the truth after complete_from
    oldest = served[0].ts_ms
    old = {"type": "userFillsByTime", "user": sim.address, "startTime": 0, "endTime": oldest - 1}
    assert info(client, **old) == []  # F5 "empty"
    sim.configure(retention_cap=300, old_window="error")
    assert "error" in info(client, **old)
    sim.configure(retention_cap=300, old_window="partial")
    partial = info(client, **old)
    held = sum(1 for f in sim.history.fills if f.ts_ms < oldest)
    assert 0 < len(partial) < held


def test_retention_spot_and_time_caps(sim: HyperliquidSim, client: httpx.Client) -> None:
    sim.configure(retention_cap=300, retention_counts_spot=False)  # F7
    fills = walk(client, sim.address)
    perps = [f for f in fills if not is_spot(f["coin"])]
    assert len(perps) == 300 and len(fills) > 300
    assert fills[0]["time"] >= min(int(f["time"]) for f in perps)
    days = 20
    sim.configure(retention_days=days)  # F6: count + time cap
    fills = walk(client, sim.address)
    oldest_allowed = sim.state.now_ms() - days * 86_400_000
    assert fills and min(int(f["time"]) for f in fills) >= oldest_allowed - 1000
    assert len(fills) < N_FILLS
    assert daily_from_json(fills) == daily_from_history(sim, sim.served_fills())


def test_builder_fee_in_or_out_of_fee(sim: HyperliquidSim, client: httpx.Client) -> None:
    apart = {f["tid"]: f for f in info(client, type="userFills", user=sim.address)}
    sim.configure(fee_includes_builder=True)  # F8
    together = {f["tid"]: f for f in info(client, type="userFills", user=sim.address)}
    with_builder = [t for t, f in apart.items() if "builderFee" in f]
    assert with_builder
    for tid in with_builder:
        assert Decimal(together[tid]["fee"]) == Decimal(apart[tid]["fee"]) + Decimal(apart[tid]["builderFee"])
    assert all(together[t]["fee"] == f["fee"] for t, f in apart.items() if "builderFee" not in f)


def test_self_trade_rows(sim: HyperliquidSim, client: httpx.Client) -> None:
    pairs = sim.history.self_trades
    assert pairs
    both = {int(f["tid"]): f for f in walk(client, sim.address)}
    for maker, taker in pairs.items():
        m, t = both[int(maker)], both[int(taker)]
        assert (m["crossed"], t["crossed"]) == (False, True) and m["oid"] != t["oid"]
        assert (m["px"], m["sz"], m["time"], m["hash"]) == (t["px"], t["sz"], t["time"], t["hash"])
    sim.configure(self_trade_tid="shared")  # F9
    shared = walk(client, sim.address)
    assert len(shared) == N_FILLS
    tids = Counter(int(f["tid"]) for f in shared)
    assert {int(t) for t in pairs.values()} <= {t for t, n in tids.items() if n == 2}
    sim.configure(self_trade_two_rows=False)  # F10: one row
    one = walk(client, sim.address)
    assert len(one) == N_FILLS - len(pairs)
    assert not {int(f["tid"]) for f in one if not f["crossed"]} & {int(m) for m in pairs}


@pytest.mark.parametrize(("price", "tid"), [("vwap", "first"), ("last", "last"), ("vwap", "new")])
def test_aggregate_by_time(sim: HyperliquidSim, client: httpx.Client, price: str, tid: str) -> None:
    sim.configure(agg_price=price, agg_tid=tid)  # F11
    raw = walk(client, sim.address)
    merged = info(client, type="userFills", user=sim.address, aggregateByTime=True)
    oldest_merged = min(int(m["time"]) for m in merged)
    recent = [f for f in raw if int(f["time"]) >= oldest_merged]
    groups: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for f in recent:
        if f["crossed"]:
            groups[(int(f["time"]), int(f["oid"]))].append(f)
    multi = {k: g for k, g in groups.items() if len(g) > 1}
    assert multi
    by_key = {(int(m["time"]), int(m["oid"])): m for m in merged if m["crossed"]}
    for key, group in multi.items():
        row = by_key[key]
        assert Decimal(row["sz"]) == sum(Decimal(f["sz"]) for f in group)
        assert Decimal(row["fee"]) == sum(Decimal(f["fee"]) for f in group)
        expected_tid = {"first": group[0]["tid"], "last": group[-1]["tid"]}.get(tid)
        if expected_tid is None:
            assert row["tid"] not in {f["tid"] for f in group}
        else:
            assert row["tid"] == expected_tid
        if price == "last":
            assert row["px"] == group[-1]["px"]
        else:
            vwap = sum(Decimal(f["px"]) * Decimal(f["sz"]) for f in group) / Decimal(row["sz"])
            assert abs(Decimal(row["px"]) - vwap) < Decimal("0.0001") * vwap


@pytest.mark.parametrize("mode", ["all", "core", "per_dex"])
def test_hip3_in_the_default_response(sim: HyperliquidSim, client: httpx.Client, mode: str) -> None:
    sim.configure(hip3_mode=mode)  # F13
    default = walk(client, sim.address)
    hip3 = {f["coin"].split(":")[0] for f in default if ":" in f["coin"]}
    assert hip3 == ({"xyz", "flx"} if mode == "all" else set())
    xyz = info(client, type="userFills", user=sim.address, dex="xyz")
    dexes = {f["coin"].split(":")[0] if ":" in f["coin"] else "" for f in xyz}
    assert dexes == {"all": {"", "xyz", "flx"}, "core": {"", "xyz"}, "per_dex": {"xyz"}}[mode]


@pytest.mark.parametrize("reading", ["accepted", "empty", "error"])
def test_mixed_case_user(sim: HyperliquidSim, client: httpx.Client, reading: str) -> None:
    sim.configure(mixed_case=reading)  # F14
    mixed = "0x" + sim.address[2:].upper()
    response = client.post("/info", json={"type": "userFills", "user": mixed})
    if reading == "error":
        assert response.status_code == 422 and response.headers["content-type"].startswith("text/plain")
    else:
        expected = info(client, type="userFills", user=sim.address) if reading == "accepted" else []
        assert response.status_code == 200 and response.json() == expected


def test_agent_and_unknown_addresses_read_empty(sim: HyperliquidSim, client: httpx.Client) -> None:
    for user in (sim.agent_address, "0x" + "ab" * 20):
        assert info(client, type="userFills", user=user) == []
        assert info(client, type="userFillsByTime", user=user, startTime=0) == []
    agents = info(client, type="extraAgents", user=sim.address)
    assert [a["address"] for a in agents] == [sim.agent_address]
    assert info(client, type="userRole", user=sim.agent_address) == {"role": "agent", "data": {"user": sim.address}}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"user": "0x00"}', b'{"type": "nope"}', b'{"type": "userFills"}',
     b'{"type": "userFills", "user": "0x12"}', b'{"type": "userFillsByTime", "user": "0x' + b"a" * 40 + b'"}',
     b'{"type": "userFillsByTime", "user": "0x' + b"a" * 40 + b'", "startTime": "1"}',
     b'{"type": "userFillsByTime", "user": "0x' + b"a" * 40 + b'", "startTime": 1.5}',
     b'{"type": "userFills", "user": "0x' + b"a" * 40 + b'", "aggregateByTime": "yes"}'],
)  # fmt: skip
def test_malformed_bodies(sim: HyperliquidSim, client: httpx.Client, body: bytes) -> None:
    response = client.post("/info", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("Failed to deserialize the JSON body into the target type")
    sim.configure(bad_request="400_json")  # F16
    response = client.post("/info", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == 400


@pytest.fixture(scope="module")
def burst() -> Iterator[HyperliquidSim]:
    """2300 fills, one crossing order of 600 fills in one millisecond (F26 "possible"), pages of 500."""
    now_ms = int(time.time() * 1000)
    with HyperliquidSim(hyperliquid_history(5, 2300, now_ms=now_ms, days=10, burst=600), page_cap=500) as running:
        yield running


def test_user_fills_newest_first_at_most_2000(burst: HyperliquidSim) -> None:
    with httpx.Client(base_url=burst.base_url, timeout=20) as client:
        recent = info(client, type="userFills", user=burst.address, aggregateByTime=False)
    assert len(recent) == 2000
    keys = [(f["time"], f["tid"]) for f in recent]
    assert keys == sorted(keys, reverse=True)
    newest = sorted(burst.history.fills, key=lambda f: (f.ts_ms, int(f.fill_id)))[-2000:]
    assert {int(f["tid"]) for f in recent} == {int(f.fill_id) for f in newest}


def test_more_than_a_page_in_one_millisecond(burst: HyperliquidSim) -> None:
    """The time pager is stuck: a whole page inside one millisecond that holds more than a page."""
    at, n = Counter(f.ts_ms for f in burst.history.fills).most_common(1)[0]
    assert n >= 600
    with httpx.Client(base_url=burst.base_url, timeout=20) as client:
        page = info(client, type="userFillsByTime", user=burst.address, startTime=at)
        assert len(page) == 500 and {f["time"] for f in page} == {at}
        assert len({f["oid"] for f in page}) == 1
        # the newest 2000 still hold the whole millisecond
        recent = info(client, type="userFills", user=burst.address)
        assert sum(1 for f in recent if f["time"] == at) == n


def test_live_fills_push_the_oldest_out_of_retention() -> None:
    now_ms = int(time.time() * 1000)
    with HyperliquidSim(hyperliquid_history(9, 200, now_ms=now_ms, days=5), retention_cap=100) as small, \
            httpx.Client(base_url=small.base_url, timeout=20) as client:  # fmt: skip
        before = walk(client, small.address)
        live = [small.history.add_live_fill() for _ in range(10)]
        after = walk(client, small.address)
        assert len(before) == len(after) == 100
        assert [f["tid"] for f in after] == [f["tid"] for f in before[10:]] + [int(f.fill_id) for f in live]
        assert daily_from_json(after) == daily_from_history(small, small.served_fills())
