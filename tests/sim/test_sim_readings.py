"""Simulator options for the self-check and the reconciliation, over real HTTP: a silently dropped page
(both simulators), fills withheld from Paradex ``/v1/fills`` but counted by ``/v1/account/info``, the fill
types and window the account figure counts, and fees that follow the reported tier."""

from __future__ import annotations

from decimal import Decimal

import httpx

from perpvol_core.fill import MS_PER_DAY
from perpvol_sim.faults import DROP_PAGE, Faults
from perpvol_sim.history import History
from perpvol_sim.paradex import ParadexSim
from perpvol_sim.woox import WooxSim

ALL_TYPES = frozenset({"FILL", "LIQUIDATION", "RPI", "BLOCK_TRADE", "SETTLE_MARKET", "UNWIND_TRANSFER"})


def _pages(sim: ParadexSim, token: str, page_size: int = 100) -> list[list[str]]:
    pages = []
    params: dict = {"page_size": page_size}
    with httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {token}"}) as c:
        for _ in range(1000):
            body = c.get("/fills", params=params).json()
            alias = {"TRANSFER": "UNWIND_TRANSFER"}  # the legacy name of older fills (a reading of its own)
            pages.append([r["id"] + alias.get(r["fill_type"], r["fill_type"]) for r in body["results"]])
            if not body["next"]:
                return pages
            params = {"page_size": page_size, "cursor": body["next"]}
    raise AssertionError("no end")


def test_paradex_drop_page_skips_exactly_one_page_once() -> None:
    history = History("paradex", 4, 700)
    faults = Faults()
    with ParadexSim(history, faults=faults) as sim:
        token = sim.mint_read_only_token()
        clean = _pages(sim, token)
        faults.set(drop_page=("/v1/fills", 3))
        dropped = _pages(sim, token)
        assert faults.counts[DROP_PAGE] == 1
        assert dropped == clean[:2] + clean[3:]  # page 3 silently missing, nothing else changed
        assert _pages(sim, token) == clean  # once only


def test_woox_drop_page_skips_one_page() -> None:
    history = History("woox", 4, 700)
    faults = Faults(drop_page=("/v3/trade/transactionHistory", 2))
    with WooxSim(history, faults=faults, window_anchor_ms=history.now_ms,
                 rate_limits={"transactionHistory": (50, 1.0)}) as sim:
        from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, sign

        def get(page: int) -> list:
            import time

            ts = str(int(time.time() * 1000))
            query = f"limit=100&page={page}"
            path = "/v3/trade/transactionHistory"
            sig = sign(DEMO_API_SECRET, f"{ts}GET{path}?{query}")
            r = httpx.get(sim.base_url + path + "?" + query,
                          headers={"x-api-key": DEMO_API_KEY, "x-api-timestamp": ts, "x-api-signature": sig})
            return [row["id"] for row in r.json()["data"]["rows"]]

        first, second, third = get(1), get(2), get(3)
        assert first and second == third and faults.counts[DROP_PAGE] == 1  # page 2 was answered with page 3
        assert get(2) != third


def test_withheld_fills_are_counted_by_account_info_only() -> None:
    history = History("paradex", 6, 3000)
    delay = 2 * MS_PER_DAY
    with ParadexSim(history, fills_delay_ms=delay) as sim:
        token = sim.mint_read_only_token()
        listed = {i for page in _pages(sim, token, 1000) for i in page}
        now = sim.state.now_ms()
        hidden = {f.fill_id + f.fill_type for f in history.fills if f.ts_ms > now - delay + 5000}
        shown = {f.fill_id + f.fill_type for f in history.fills if f.ts_ms < now - delay - 5000}
        assert hidden and not (hidden & listed) and shown <= listed
        with httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {token}"}) as c:
            info = c.get("/account/info").json()["results"][0]
        start, end = sim.state.volume_window()
        assert Decimal(info["volume_tiers"]["retail"]["volume"]) == sim.state.counted_notional(start, end)


def test_account_info_counting_readings_and_fees_follow_the_tier() -> None:
    history = History("paradex", 5, 6000)
    with ParadexSim(history, volume_fill_types=ALL_TYPES, volume_window="utc_days") as sim:
        token = sim.mint_read_only_token()
        with httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {token}"}) as c:
            info = c.get("/account/info").json()["results"][0]
            tiers = c.get("/system/volume-tiers").json()["results"]
        now = sim.state.now_ms()
        start = now - now % MS_PER_DAY - 13 * MS_PER_DAY
        assert sim.state.volume_window()[0] == start
        reported = Decimal(info["volume_tiers"]["retail"]["volume"])
        assert reported == sim.state.counted_notional(start, now + 1, ALL_TYPES)
        tier = next(t for t in tiers if t["tier_name"] == info["volume_tiers"]["retail"]["tier"])
        assert info["fees"]["taker_rate"] == tier["fee_rates"]["taker_rate"]
