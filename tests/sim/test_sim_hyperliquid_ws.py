"""The Hyperliquid simulator's WebSocket ``/ws`` with a real client (websockets): greeting, ack, snapshot,
streamed live fills, ping/pong, userEvents, idle and forced closes, limits (F17-F20, F27)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from perpvol_sim.hyperliquid import HyperliquidSim, HyperliquidSimConfig, hyperliquid_history

WAIT_S = 10.0  # how long to wait for a message that must come (never a measured duration)


@pytest.fixture(scope="module")
def sim() -> Iterator[HyperliquidSim]:
    with HyperliquidSim(hyperliquid_history(41, 300, now_ms=int(time.time() * 1000), days=20)) as running:
        yield running


@pytest.fixture
def fresh(sim: HyperliquidSim) -> HyperliquidSim:
    sim.state.config = HyperliquidSimConfig(weight_limit=10**9)
    return sim


async def recv_json(ws: Any) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))


async def subscribe(ws: Any, user: str, kind: str = "userFills") -> dict[str, Any]:
    sub = {"type": kind, "user": user}
    await ws.send(json.dumps({"method": "subscribe", "subscription": sub}))
    ack = await recv_json(ws)
    assert ack == {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": sub}}
    return sub


async def live_fill(sim: HyperliquidSim) -> Any:
    return await asyncio.to_thread(sim.history.add_live_fill)


@pytest.mark.parametrize("flag", ["false", "absent"])
def test_greeting_snapshot_then_live_fills(fresh: HyperliquidSim, flag: str) -> None:
    fresh.configure(update_flag=flag, snapshot_depth=50)  # F17, F18

    async def scenario() -> None:
        async with websockets.connect(fresh.ws_url) as ws:
            assert await asyncio.wait_for(ws.recv(), WAIT_S) == "Websocket connection established."
            await subscribe(ws, fresh.address)
            snapshot = await recv_json(ws)
            assert snapshot["channel"] == "userFills" and snapshot["data"]["isSnapshot"] is True
            assert snapshot["data"]["user"] == fresh.address
            with httpx.Client(base_url=fresh.base_url) as client:
                recent = client.post("/info", json={"type": "userFills", "user": fresh.address}).json()
            assert snapshot["data"]["fills"] == recent[:50]
            fill = await live_fill(fresh)
            update = await recv_json(ws)
            assert update["channel"] == "userFills"
            assert ("isSnapshot" in update["data"]) == (flag == "false")
            assert update["data"].get("isSnapshot", False) is False
            [pushed] = update["data"]["fills"]
            assert int(pushed["tid"]) == int(fill.fill_id) and int(pushed["time"]) == fill.ts_ms
            assert Decimal(pushed["px"]) * Decimal(pushed["sz"]) == fill.price * fill.size
            await ws.send(json.dumps({"method": "ping"}))
            assert await recv_json(ws) == {"channel": "pong"}

    asyncio.run(scenario())


def test_empty_snapshot_without_greeting_and_user_events(fresh: HyperliquidSim) -> None:
    fresh.configure(snapshot_depth=0, greeting=None)  # F18 "empty"

    async def scenario() -> None:
        async with websockets.connect(fresh.ws_url) as ws:
            await subscribe(ws, fresh.address)
            snapshot = await recv_json(ws)  # the first frame is the ack's follower: no greeting
            assert snapshot["data"] == {"user": fresh.address, "isSnapshot": True, "fills": []}
            for kind in ("userEvents", "user"):  # F20: both names, fills on channel "user"
                await subscribe(ws, fresh.address, kind)
            fill = await live_fill(fresh)
            channels = [await recv_json(ws) for _ in range(3)]
            assert sorted(m["channel"] for m in channels) == ["user", "user", "userFills"]
            for message in channels:
                if message["channel"] == "user":
                    assert [int(f["tid"]) for f in message["data"]["fills"]] == [int(fill.fill_id)]

    asyncio.run(scenario())


def test_agent_address_gets_an_empty_snapshot_and_bad_requests_an_error(fresh: HyperliquidSim) -> None:
    async def scenario() -> None:
        async with websockets.connect(fresh.ws_url) as ws:
            await ws.recv()  # greeting
            await subscribe(ws, fresh.agent_address)
            assert (await recv_json(ws))["data"]["fills"] == []
            for bad in ("not json", json.dumps({"method": "subscribe", "subscription": {"type": "userFills"}}),
                        json.dumps({"method": "dance"})):  # fmt: skip
                await ws.send(bad)
                assert (await recv_json(ws))["channel"] == "error"

    asyncio.run(scenario())


def test_at_most_ten_users_per_connection(fresh: HyperliquidSim) -> None:
    async def scenario() -> None:
        async with websockets.connect(fresh.ws_url) as ws:
            await ws.recv()
            users = [fresh.address] + ["0x" + f"{i:040x}" for i in range(1, 10)]
            for user in users:
                await subscribe(ws, user)
                await recv_json(ws)  # snapshot
            await ws.send(json.dumps({"method": "subscribe",
                                      "subscription": {"type": "userFills", "user": "0x" + "f" * 40}}))  # fmt: skip
            assert (await recv_json(ws))["channel"] == "error"

    asyncio.run(scenario())


async def closed(ws: Any, keep_talking: str | None = None) -> bool:
    """True once the server closes the connection (while sending ``keep_talking`` now and then)."""
    deadline = time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline:
            if keep_talking is not None:
                await ws.send(keep_talking)
            try:
                await asyncio.wait_for(ws.recv(), 0.05)
            except TimeoutError:
                pass
    except ConnectionClosed:
        return True
    return False


def test_idle_connection_is_closed(fresh: HyperliquidSim) -> None:
    fresh.configure(idle_timeout_s=0.3)  # F19

    async def scenario() -> None:
        async with websockets.connect(fresh.ws_url) as silent:
            assert await closed(silent)

    asyncio.run(scenario())


def test_idle_timer_resets(fresh: HyperliquidSim) -> None:
    """F19 "ping": other messages do not keep the connection open, pings do (until the forced disconnect);
    F19 "any": any message does."""
    fresh.configure(idle_timeout_s=0.3, idle_reset="ping")
    bad = json.dumps({"method": "dance"})

    async def scenario() -> None:
        async with websockets.connect(fresh.ws_url) as chatty:
            assert await closed(chatty, keep_talking=bad)
        fresh.configure(idle_timeout_s=0.3, idle_reset="ping", max_connection_s=1.0)
        async with websockets.connect(fresh.ws_url) as pinging:
            assert await closed(pinging, keep_talking=json.dumps({"method": "ping"}))
            assert pinging.close_reason == "scheduled disconnect"
        fresh.configure(idle_timeout_s=0.3, idle_reset="any", max_connection_s=1.0)  # F19 "any"
        async with websockets.connect(fresh.ws_url) as chatty:
            assert await closed(chatty, keep_talking=bad)
            assert chatty.close_reason == "scheduled disconnect"

    asyncio.run(scenario())


def test_connection_limit(fresh: HyperliquidSim) -> None:
    fresh.configure(max_connections=1)  # F27

    async def scenario() -> None:
        async with websockets.connect(fresh.ws_url) as first:
            await first.recv()
            async with websockets.connect(fresh.ws_url) as second:
                assert await closed(second)
                assert second.close_code == 1013
            await first.send(json.dumps({"method": "ping"}))
            assert (await recv_json(first))["channel"] == "pong"

    asyncio.run(scenario())
