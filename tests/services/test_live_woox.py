"""WOO X live on the current stream: v3 ``/v3/private?key=<listenKey>`` (key renewed before it expires), the v2
stream as the fallback, fills of algo/stop orders (``algoexecutionreportv2``) on both, WS hosts per REST host.

Real simulator, store, worker, live feed and API stream client (see ``test_live.py``); waits are bounded.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from perpvol_core.exchanges.woox.stream import parse_fills, v2_url, v3_url
from perpvol_core.services.live import LIVE
from tests.services.test_live import live_setup, wait_until


@pytest.mark.parametrize("v3", [True, False], ids=["v3", "v2-fallback"])
def test_a_fill_and_an_algo_fill_arrive_live(tmp_path: Path, v3: bool) -> None:
    with live_setup(tmp_path, "woox", "key", v3_private_stream=v3) as env:
        env.wait_state(LIVE)
        client = env.client()
        try:
            client.next(10)
            client.wait_total(env.expected_total(), 10)
            env.history.add_live_fill(market="PERP_BTC_USDT")
            client.wait_total(env.expected_total(), 5)
            env.sim.add_algo_fill(market="PERP_ETH_USDT")
            client.wait_total(env.expected_total(), 5)
            # both came through the stream (a catch-up REST sync may have stored one first: counted once)
            wait_until(lambda: env.account_state()["fills_received"] >= 2, 5, "two pushed fills")
            if v3:
                assert env.sim.requests["listenKey"] >= 1 and env.sim.requests["ws_v3_private"] >= 1
                assert env.sim.requests["ws_private"] == 0
            else:
                assert env.sim.requests["ws_private"] >= 1 and env.sim.requests["ws_v3_private"] == 0
            env.worker.run_once([env.label])
            acc = env.store.get_account(env.label)
            assert env.store.fill_count(acc.id) == len(env.history.fills)
        finally:
            client.close()


def test_the_listen_key_is_renewed_before_it_expires(tmp_path: Path) -> None:
    # a 4 s key is replaced 2 s before it expires; the stream goes on with the new one
    with live_setup(tmp_path, "woox", "key", listen_key_ttl_ms=4000, feed_options={"listen_key_renew_s": 2.0}) as env:
        env.wait_state(LIVE)
        wait_until(lambda: env.sim.requests["listenKey"] >= 3, 15, "two renewals of the listenKey")
        env.wait_state(LIVE)
        client = env.client()
        try:
            client.next(10)
            client.wait_total(env.expected_total(), 10)
            env.history.add_live_fill(market="PERP_SOL_USDT")
            client.wait_total(env.expected_total(), 5)
        finally:
            client.close()
        assert env.account_state()["connects"] >= 3


def test_ws_hosts_follow_the_rest_host() -> None:
    assert v3_url("https://api.woox.io", "k") == "wss://wss.woox.io/v3/private?key=k"
    assert v3_url("https://api.woo.org", "k") == "wss://wss.woo.org/v3/private?key=k"  # legacy REST host
    assert v3_url("https://api.staging.woox.io", "k") == "wss://wss.staging.woox.io/v3/private?key=k"
    assert v3_url("http://127.0.0.1:9000", "k") == "ws://127.0.0.1:9000/v3/private?key=k"
    assert v2_url("https://api.woo.org", "app") == "wss://wss.woo.org/v2/ws/private/stream/app"


def test_algo_pushes_carry_a_list_of_order_updates() -> None:
    push = {"topic": "algoexecutionreportv2", "ts": 1, "data": [
        {"symbol": "PERP_BTC_USDT", "tradeId": 0, "executedPrice": 0, "executedQuantity": 0, "timestamp": 1},
        {"symbol": "PERP_BTC_USDT", "tradeId": 77, "executedPrice": "100.5", "executedQuantity": "2", "fee": "0.1",
         "feeAsset": "USDT", "side": "SELL", "maker": True, "timestamp": 1675406261689, "algoOrderId": 5},
    ]}
    [fill] = parse_fills(push)
    assert fill.fill_id == "77" and fill.notional == Decimal("201.0") and fill.liquidity == "MAKER"
    assert parse_fills({"topic": "balance", "data": {}}) == []
