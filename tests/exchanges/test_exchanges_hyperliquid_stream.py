"""The Hyperliquid stream adapter against the simulator's ``/ws`` over a real WebSocket: greeting skipped,
subscription acknowledged, the snapshot's fills, a live fill added to the history arriving (``isSnapshot``
false or absent), ping answered with pong, another address's fills ignored."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from perpvol_core.exchanges._spec import StreamReply
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.stream import HyperliquidStream
from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history


class Connection:
    """The live service's side of the socket, as the StreamConnection protocol describes it."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send_json(self, message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def recv_message(self, timeout: float) -> Any:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        try:
            return json.loads(raw, parse_float=Decimal)
        except ValueError:
            return raw


@pytest.fixture(scope="module")
def hl():
    sim = HyperliquidSim(hyperliquid_history(5, 120, days=20), snapshot_depth=50, weight_limit=10**9)
    sim.start()
    yield sim
    sim.stop()


async def _next_reply(adapter: HyperliquidStream, conn: Connection, want) -> StreamReply:
    for _ in range(20):
        reply = adapter.on_message(await conn.recv_message(5.0))
        if want(reply):
            return reply
    raise AssertionError("the expected message never came")


async def _session(sim: HyperliquidSim, update_flag: str) -> None:
    sim.configure(update_flag=update_flag)
    adapter = HyperliquidStream(HyperliquidAddress(address=sim.address), sim.base_url)
    target = await adapter.target()
    assert target.url == sim.ws_url
    async with connect(target.url) as ws:
        conn = Connection(ws)
        await adapter.handshake(conn)  # the greeting comes first and is skipped
        snapshot = await _next_reply(adapter, conn, lambda r: bool(r.fills))
        newest = sim.served_fills()[-50:]
        assert sorted(f.ts_ms for f in snapshot.fills) == sorted(f.ts_ms for f in newest)
        assert {f.fill_id.split(":")[0] for f in snapshot.fills} == {f.fill_id for f in newest}

        live = await asyncio.to_thread(sim.history.add_live_fill, None, "ETH")
        pushed = await _next_reply(adapter, conn, lambda r: bool(r.fills))
        [fill] = pushed.fills
        assert (fill.fill_id, fill.market, fill.price, fill.size, fill.ts_ms) == (
            f"{live.fill_id}:{live.order_id}", "ETH", live.price, live.size, live.ts_ms
        )

        await conn.send_json(adapter.heartbeat())
        pong = await conn.recv_message(5.0)
        assert pong.get("channel") == "pong" and adapter.on_message(pong).fills == []


@pytest.mark.parametrize("update_flag", ["false", "absent"])
def test_snapshot_then_a_live_fill_then_pong(hl, update_flag):
    asyncio.run(_session(hl, update_flag))


def test_an_api_wallet_subscription_brings_no_fills_of_the_master(hl):
    async def run() -> list:
        adapter = HyperliquidStream(HyperliquidAddress(address=hl.agent_address), hl.base_url)
        async with connect((await adapter.target()).url) as ws:
            conn = Connection(ws)
            await adapter.handshake(conn)
            await asyncio.to_thread(hl.history.add_live_fill, None, "BTC")
            await conn.send_json(adapter.heartbeat())
            fills = []
            for _ in range(5):
                message = await conn.recv_message(5.0)
                fills += adapter.on_message(message).fills
                if isinstance(message, dict) and message.get("channel") == "pong":
                    break
            return fills

    assert asyncio.run(run()) == []


@pytest.mark.parametrize("reset", ["any", "ping"])
def test_the_heartbeat_keeps_the_stream_open_past_the_idle_timeout_under_both_readings(reset):
    # F19, scaled down: the venue closes a connection 1.5 s after the last client message that resets it
    sim = HyperliquidSim(hyperliquid_history(6, 40, days=10), weight_limit=10**9, idle_timeout_s=1.5, idle_reset=reset)
    sim.start()

    async def run() -> None:
        adapter = HyperliquidStream(HyperliquidAddress(address=sim.address), sim.base_url)
        async with connect((await adapter.target()).url) as ws:
            conn = Connection(ws)
            await adapter.handshake(conn)
            for _ in range(8):  # 3.2 s in all, a heartbeat every 0.4 s: each answered, the connection stays open
                await asyncio.sleep(0.4)
                await conn.send_json(adapter.heartbeat())
                message = None
                while not (isinstance(message, dict) and message.get("channel") == "pong"):
                    message = await conn.recv_message(5.0)  # ConnectionClosed here would fail the test
            with pytest.raises(ConnectionClosed):  # silent from now on: the server closes it
                while True:
                    await conn.recv_message(5.0)

    try:
        asyncio.run(run())
    finally:
        sim.stop()
