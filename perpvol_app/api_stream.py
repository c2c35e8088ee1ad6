"""The API's WebSocket ``/api/v1/stream``: a volume snapshot on connect, then every bus event (bounded queue).

Each message is one typed event of :mod:`perpvol_core.services.events` as JSON (``type`` names it): a new fill
arrives as one ``fills_stored`` (with the totals after it), other changes of the totals as ``volume``.
``router`` is the WebSocket; ``upgrade`` documents it in the OpenAPI document (a plain GET gets a 426).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from perpvol_app import views
from perpvol_app.api_context import ApiContext
from perpvol_app.api_errors import error_response
from perpvol_app.api_models import ErrorBody
from perpvol_app.api_routing import secured_router
from perpvol_app.frontdoor import API_PREFIX
from perpvol_core import timeutil
from perpvol_core.security.redaction import redact
from perpvol_core.services.events import EventBus, FillsStored, VolumeChanged

log = logging.getLogger(__name__)

#: Event types the stream forwards to clients.
STREAM_EVENT_TYPES = frozenset({"volume", "fills_stored", "sync_progress", "sync_done", "account_status", "account",
                                "live_status", "bus_status"})
STREAM_QUEUE = 1000
router = APIRouter(prefix=API_PREFIX)


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """A snapshot on connect, then every volume change and sync progress event (authenticated by the front door).

    Bus callbacks come from any thread and hop to this connection's loop; the queue is bounded.
    """
    ctx: ApiContext = websocket.app.state.api_ctx
    await websocket.accept()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=STREAM_QUEUE)

    def on_event(event: Any) -> None:
        if event.type in STREAM_EVENT_TYPES:
            loop.call_soon_threadsafe(_offer, queue, event.model_dump(mode="json"))

    bus = ctx.bus
    unsubscribe = bus.subscribe(on_event)  # before the snapshot: nothing between is lost
    try:
        for event in await _snapshot(ctx, bus):
            await _send(websocket, event)
        reader = asyncio.create_task(_pings(websocket, queue))
        try:
            while not reader.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await _send(websocket, getter.result())
                else:
                    getter.cancel()
        finally:
            reader.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        unsubscribe()


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if not queue.full():  # a client too slow for 1000 events misses some, the server never grows without bound
        queue.put_nowait(event)


async def _snapshot(ctx: ApiContext, bus: EventBus) -> list[dict[str, Any]]:
    last = list(bus.last.values())
    totals = [e for e in last if isinstance(e, VolumeChanged | FillsStored)]
    snapshot: dict[str, Any] | None = None
    if totals:
        newest = max(totals, key=lambda e: e.ts_ms)
        snapshot = VolumeChanged(totals=newest.totals, by_exchange=newest.by_exchange, ts_ms=newest.ts_ms,
                                 snapshot=True).model_dump(mode="json")  # fmt: skip
    else:
        try:
            s = await run_in_threadpool(views.summary_payload, ctx.store)
            snapshot = {"type": "volume", "totals": s["totals"], "by_exchange": s["by_exchange"],
                        "ts_ms": timeutil.now_ms(), "snapshot": True}  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the stream still works without a snapshot
            log.warning("stream snapshot failed: %s", redact(exc))
    events = [snapshot] if snapshot is not None else []
    return events + [e.model_dump(mode="json") for e in last if e.type in ("sync_progress", "live_status")]


async def _pings(websocket: WebSocket, queue: asyncio.Queue[dict[str, Any]]) -> None:
    """Clients may send ``{"type": "ping"}``; anything else is ignored. Returns when the client leaves."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            data = json.loads(message.get("text") or message.get("bytes") or "")
        except (ValueError, TypeError):
            continue
        if isinstance(data, dict) and data.get("type") == "ping":
            _offer(queue, {"type": "pong", "ts_ms": timeutil.now_ms()})


async def _send(websocket: WebSocket, event: dict[str, Any]) -> None:
    await websocket.send_text(redact(json.dumps(views.jsonable(event), separators=(",", ":"))))


upgrade = secured_router()


@upgrade.get("/stream", status_code=426, response_model=ErrorBody,
             responses={101: {"description": "WebSocket upgrade: a volume snapshot, then every change as JSON"}},
             summary="WebSocket (token in the header or ?token=)")  # fmt: skip
async def stream_needs_upgrade() -> JSONResponse:
    return error_response(426, "upgrade_required", "this is a WebSocket: connect with ws:// (Upgrade: websocket)")
