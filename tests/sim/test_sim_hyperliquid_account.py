"""The Hyperliquid simulator's account and metadata endpoints and its weight limit, over real HTTP: volume
figures recomputed from the raw fill JSON with Decimal, readings F12, F15, F21-F25."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from perpvol_sim.hyperliquid import HyperliquidSim, HyperliquidSimConfig, hyperliquid_history

MS_PER_DAY = 86_400_000


@pytest.fixture(scope="module")
def sim() -> Iterator[HyperliquidSim]:
    now_ms = int(time.time() * 1000)
    with HyperliquidSim(hyperliquid_history(31, 1500, now_ms=now_ms, days=40), sub_accounts=2) as running:
        yield running


@pytest.fixture
def client(sim: HyperliquidSim) -> Iterator[httpx.Client]:
    sim.state.config = HyperliquidSimConfig(weight_limit=10**9)
    sim.state.limiter.reset()
    with httpx.Client(base_url=sim.base_url, timeout=20) as c:
        yield c


def info(client: httpx.Client, **body: Any) -> Any:
    response = client.post("/info", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def all_fills(client: httpx.Client, user: str) -> list[dict[str, Any]]:
    """Every fill of ``user`` (the histories here are smaller than a page and than the retention cap)."""
    fills = info(client, type="userFillsByTime", user=user, startTime=0)
    assert len(fills) < 2000
    return fills


def is_spot(coin: str) -> bool:
    return "/" in coin or coin.startswith("@")


def notional(f: dict[str, Any]) -> Decimal:
    return Decimal(f["px"]) * Decimal(f["sz"])


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()


def daily(fills: list[dict[str, Any]], spot_factor: int) -> dict[str, tuple[Decimal, Decimal]]:
    out: dict[str, list[Decimal]] = {}
    for f in fills:
        row = out.setdefault(day_of(int(f["time"])), [Decimal(0), Decimal(0)])
        row[0 if f["crossed"] else 1] += notional(f) * (spot_factor if is_spot(f["coin"]) else 1)
    return {d: (v[0], v[1]) for d, v in out.items()}


@pytest.mark.parametrize(("days", "today", "spot"), [(15, True, "once"), (14, False, "none"), (15, True, "double")])
def test_daily_user_volume(sim: HyperliquidSim, client: httpx.Client, days: int, today: bool, spot: str) -> None:
    sim.configure(daily_days=days, daily_today=today, daily_spot=spot, vlm_includes_subs=False)  # F21, F22
    fees = info(client, type="userFees", user=sim.address)
    rows = fees["dailyUserVlm"]
    now = datetime.now(tz=UTC).date()
    last = now if today else now - timedelta(days=1)
    assert [r["date"] for r in rows] == [(last - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    expected = daily(all_fills(client, sim.address), {"none": 0, "once": 1, "double": 2}[spot])
    for row in rows:
        cross, add = expected.get(row["date"], (Decimal(0), Decimal(0)))
        assert (Decimal(row["userCross"]), Decimal(row["userAdd"])) == (cross, add)
        assert Decimal(row["exchange"]) > 0
    assert any(Decimal(r["userCross"]) > 0 for r in rows)


def test_daily_volume_with_sub_accounts(sim: HyperliquidSim, client: httpx.Client) -> None:
    rows = info(client, type="userFees", user=sim.address)["dailyUserVlm"]  # F22: subs included by default
    fills = [f for user in (sim.address, *sim.sub_addresses) for f in all_fills(client, user)]
    expected = daily(fills, 1)
    for row in rows:
        assert Decimal(row["userCross"]) + Decimal(row["userAdd"]) == sum(expected.get(row["date"], (0, 0)))


def test_fee_schedule_holds_the_vip_tiers(sim: HyperliquidSim, client: httpx.Client) -> None:
    fees = info(client, type="userFees", user=sim.address)
    schedule = fees["feeSchedule"]
    assert (schedule["cross"], schedule["add"]) == ("0.00045", "0.00015")
    vip = [(Decimal(t["ntlCutoff"]), Decimal(t["cross"]), Decimal(t["add"])) for t in schedule["tiers"]["vip"]]
    assert vip == [(Decimal(c), Decimal(x), Decimal(a)) for c, x, a in (
        ("5e6", "0.0004", "0.00012"), ("25e6", "0.00035", "0.00008"), ("100e6", "0.0003", "0.00004"),
        ("500e6", "0.00028", "0"), ("2e9", "0.00026", "0"), ("7e9", "0.00024", "0"))]  # notes §5
    assert all(Decimal(t["add"]) < 0 for t in schedule["tiers"]["mm"])
    # the user's tier from its 14 whole UTC days before today, perps + 2 x spot (with the sub-accounts)
    today = datetime.now(tz=UTC).date()
    window = {(today - timedelta(days=i)).isoformat() for i in range(1, 15)}
    fills = [f for user in (sim.address, *sim.sub_addresses) for f in all_fills(client, user)]
    weighted = sum((notional(f) * (2 if is_spot(f["coin"]) else 1) for f in fills
                    if day_of(int(f["time"])) in window), Decimal(0))  # fmt: skip
    cross = Decimal("0.00045")
    for cutoff, taker, _ in vip:
        if weighted > cutoff:
            cross = taker
    assert Decimal(fees["userCrossRate"]) == cross


@pytest.mark.parametrize("day", ["rolling", "utc"])
def test_portfolio_volumes(sim: HyperliquidSim, client: httpx.Client, day: str) -> None:
    sim.configure(portfolio_day=day, vlm_includes_subs=False)  # F23
    before = sim.state.now_ms()
    periods = dict(info(client, type="portfolio", user=sim.address))
    assert list(periods) == ["day", "week", "month", "allTime", "perpDay", "perpWeek", "perpMonth", "perpAllTime"]
    fills = all_fills(client, sim.address)
    perps = [f for f in fills if not is_spot(f["coin"])]
    assert Decimal(periods["perpAllTime"]["vlm"]) == sum(map(notional, perps))
    assert Decimal(periods["allTime"]["vlm"]) == sum(map(notional, fills))
    since = before - MS_PER_DAY if day == "rolling" else before // MS_PER_DAY * MS_PER_DAY
    recent = sum((notional(f) for f in perps if int(f["time"]) >= since), Decimal(0))
    assert Decimal(periods["perpDay"]["vlm"]) == recent
    assert all(isinstance(p["accountValueHistory"], list) for p in periods.values())


def test_rate_limit_budget_has_cumulative_volume(sim: HyperliquidSim, client: httpx.Client) -> None:
    budget = info(client, type="userRateLimit", user=sim.address)
    assert Decimal(budget["cumVlm"]) == sum(map(notional, all_fills(client, sim.address)))
    assert budget["nRequestsCap"] >= 10_000


def test_sub_accounts(sim: HyperliquidSim, client: httpx.Client) -> None:
    subs = info(client, type="subAccounts", user=sim.address)
    assert [s["subAccountUser"] for s in subs] == sim.sub_addresses
    assert all(s["master"] == sim.address for s in subs)
    assert info(client, type="subAccounts", user=sim.sub_addresses[0]) is None
    own = all_fills(client, sim.address)
    sub_fills = all_fills(client, sim.sub_addresses[0])
    assert sub_fills and not {f["tid"] for f in sub_fills} & {f["tid"] for f in own}
    sim.configure(master_includes_subs=True)  # F12
    merged = all_fills(client, sim.address)
    assert len(merged) == len(own) + sum(len(all_fills(client, s)) for s in sim.sub_addresses)
    assert [f["time"] for f in merged] == sorted(f["time"] for f in merged)


def test_no_sub_accounts_is_null() -> None:
    with HyperliquidSim(seed=2, n_fills=20) as lone, httpx.Client(base_url=lone.base_url, timeout=10) as client:
        assert info(client, type="subAccounts", user=lone.address) is None
        assert info(client, type="userRole", user=lone.address) == {"role": "user"}
        assert info(client, type="userRole", user="0x" + "12" * 20) == {"role": "missing"}


@pytest.mark.parametrize("delisted", ["flagged", "absent"])
def test_metadata(sim: HyperliquidSim, client: httpx.Client, delisted: str) -> None:
    sim.configure(delisted_in_meta=delisted)  # F24
    universe = {a["name"]: a for a in info(client, type="meta")["universe"]}
    assert {"BTC", "ETH", "HYPE", "SOL"} <= set(universe) and not any(":" in n for n in universe)
    if delisted == "flagged":
        assert universe["MATIC"]["isDelisted"] is True and "isDelisted" not in universe["BTC"]
    else:
        assert "MATIC" not in universe
    xyz = [a["name"] for a in info(client, type="meta", dex="xyz")["universe"]]
    assert xyz == ["xyz:TSLA"]
    spot = info(client, type="spotMeta")
    pairs = {p["name"]: p["index"] for p in spot["universe"]}
    assert pairs == {"PURR/USDC": 0, "@107": 107}
    dexes = info(client, type="perpDexs")
    assert dexes[0] is None and {d["name"] for d in dexes[1:]} == {"xyz", "flx"}
    meta, contexts = info(client, type="metaAndAssetCtxs")
    assert len(contexts) == len(meta["universe"])


def test_weight_limit_and_weights(sim: HyperliquidSim, client: httpx.Client) -> None:
    sim.configure(weight_limit=120)

    def admitted(body: dict[str, Any]) -> int:
        sim.state.limiter.reset()
        for n in range(200):
            response = client.post("/info", json=body)
            if response.status_code == 429:
                return n
            assert response.status_code == 200
        return 200

    assert admitted({"type": "userFees", "user": sim.address}) == 6  # weight 20
    assert admitted({"type": "allMids"}) == 60  # weight 2
    assert admitted({"type": "userRole", "user": sim.address}) == 2  # weight 60


@pytest.mark.parametrize(("body", "retry_after"), [("plain", None), ("json", 7)])
def test_429_readings(sim: HyperliquidSim, client: httpx.Client, body: str, retry_after: int | None) -> None:
    sim.configure(weight_limit=40, rate_limit_body=body, retry_after_s=retry_after)  # F15
    for _ in range(2):
        assert client.post("/info", json={"type": "meta"}).status_code == 200
    refused = client.post("/info", json={"type": "meta"})
    assert refused.status_code == 429
    assert refused.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))
    if body == "json":
        assert refused.json()["code"] == 429
    else:
        assert refused.headers["content-type"].startswith("text/plain") and refused.text


@pytest.mark.parametrize("extra", [True, False])
def test_extra_weight_per_20_fills(sim: HyperliquidSim, client: httpx.Client, extra: bool) -> None:
    sim.configure(weight_limit=130, page_cap=200, extra_weight_per_items=extra)  # F25
    body = {"type": "userFillsByTime", "user": sim.address, "startTime": 0}
    served = 0
    while client.post("/info", json=body).status_code == 200 and served < 20:
        served += 1
    # 200 fills cost 20 + 10: four fit in 130; flat 20: six fit
    assert served == (4 if extra else 6)
