"""One account's private fill stream on the wire, for :class:`perpvol_core.services.live.LiveFeed`.

:class:`AccountStreams` holds the socket side of the feed: for each account a loop that asks the venue's
:class:`StreamAdapter` for a target, keeps it open with the ``websockets`` reconnecting client (with our backoff
after a live period), runs the adapter's handshake and heartbeat, and hands every pushed fill to the feed's
``_ingest``. The feed (``live.py``) owns which accounts stream, the states it publishes, the REST catch-up and
the totals; this module knows nothing of the bus or the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import websockets
from websockets.asyncio.client import process_exception
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from perpvol_core import timeutil
from perpvol_core.exchanges import ExchangeError, StreamAdapter, make_stream
from perpvol_core.exchanges._errors import StreamAuthRefused, StreamProtocolError
from perpvol_core.exchanges._spec import StreamTarget
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import redact

log = logging.getLogger("perpvol_core.services.live")

# states of one account's stream
CONNECTING, LIVE, DOWN, REST_ONLY, STOPPED = "connecting", "live", "down", "rest_only", "stopped"


# ---------------------------------------------------------------------------------------------
# Per-account stream state
# ---------------------------------------------------------------------------------------------
@dataclass
class StreamStatus:
    """What the feed knows about one account's stream (all times UTC epoch ms)."""

    label: str
    exchange: str
    state: str = CONNECTING
    connected_ms: int | None = None
    last_message_ms: int | None = None
    last_fill_ms: int | None = None
    fills_received: int = 0
    fills_new: int = 0
    connects: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "exchange": self.exchange,
            "state": self.state,
            "connected_ms": self.connected_ms,
            "last_message_ms": self.last_message_ms,
            "last_fill_ms": self.last_fill_ms,
            "fills_received": self.fills_received,
            "fills_new": self.fills_new,
            "connects": self.connects,
            "last_error": self.last_error,
        }


class _Connection:
    """The open socket as an adapter sees it (:class:`~perpvol_core.exchanges._spec.StreamConnection`)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.last_sent = time.monotonic()

    async def send_json(self, message: Any) -> None:
        await self.ws.send(json.dumps(message, default=str))
        self.last_sent = time.monotonic()

    async def recv_message(self, timeout: float) -> Any:
        return _decode(await asyncio.wait_for(self.ws.recv(), timeout=timeout))


def _decode(raw: Any) -> Any:
    """Parsed JSON (non-integers as ``Decimal``: exact prices and sizes, never float), else the raw text."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        return raw


# ---------------------------------------------------------------------------------------------
# The socket side of the feed
# ---------------------------------------------------------------------------------------------
class AccountStreams:
    """The per-account stream loops of :class:`~perpvol_core.services.live.LiveFeed` (its base class): the
    attributes below are the feed's settings and state; the three methods at the end are the feed's."""

    vault: Any
    stream_options: dict[str, Any]
    auth_retry_s: float
    handshake_timeout_s: float
    backoff_initial_s: float
    backoff_max_s: float
    _adapters: dict[str, StreamAdapter]
    _statuses: dict[str, StreamStatus]
    _lock: threading.Lock

    def _adapter(self, account: Any, creds: Any) -> StreamAdapter:
        """The account's stream adapter, kept between passes (it remembers e.g. a protocol fallback)."""
        adapter = self._adapters.get(account.label)
        if adapter is None or adapter.credentials != creds or adapter.base_url != account.base_url:
            adapter = make_stream(
                creds, account.base_url, auth_retry_s=self.auth_retry_s, handshake_timeout_s=self.handshake_timeout_s,
                **self.stream_options,
            )  # fmt: skip
            self._adapters[account.label] = adapter
        return adapter

    async def _stream_loop(self, account: Any) -> None:
        """One account's stream for as long as the feed runs.

        Each pass asks the adapter for a target (URL, maybe a renewal time) and lets the ``websockets``
        client's own reconnecting iterator (``async for ws in connect(...)``) reconnect it: transient connect
        failures are retried with the library's backoff, a connection dropped after the handshake with ours
        (from ``backoff_initial_s`` again after a live period). A target that cannot work (a refused
        handshake, a refused connection the adapter wants another target for, a renewal due) ends the pass.
        """
        st = self._statuses[account.label]
        backoff = self.backoff_initial_s
        while True:
            self._set_state(st, CONNECTING)
            connects_before = st.connects
            try:
                creds = await asyncio.to_thread(self.vault.decrypt_account, account)
                adapter = self._adapter(account, creds)
                target = await adapter.target()
                error = await self._run_target(account, adapter, st, target)
                if error is None:  # the target asked to be replaced (a key renewal): at once
                    continue
            except asyncio.CancelledError:
                raise
            except StreamAuthRefused as exc:
                self._set_state(st, REST_ONLY, f"the stream refused this credential: {exc}")
                await asyncio.sleep(self.auth_retry_s)
                continue
            except (TimeoutError, OSError, WebSocketException, StreamProtocolError, ValueError, ExchangeError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001 - keep trying, never crash the feed
                log.warning("stream of %s failed: %s", account.label, redact(exc))
                error = f"{type(exc).__name__}: {exc}"
            self._set_state(st, DOWN, error)
            if st.connects > connects_before:  # it was live: start the backoff over
                backoff = self.backoff_initial_s
            delay = backoff
            backoff = min(backoff * 2, self.backoff_max_s)
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))  # noqa: S311 - jitter

    async def _run_target(
        self, account: Any, adapter: StreamAdapter, st: StreamStatus, target: StreamTarget
    ) -> str | None:
        """Stream ``target`` through the reconnecting iterator; returns None when the target must be replaced
        (renewal due), else the reason it stopped. Raises StreamAuthRefused, StreamProtocolError, …"""
        backoff = self.backoff_initial_s

        def retryable(exc: Exception) -> Exception | None:
            self._set_state(st, DOWN, f"{type(exc).__name__}: {exc}")
            if isinstance(exc, InvalidStatus) and adapter.connect_failed(exc.response.status_code):
                return exc  # the adapter wants another target (another protocol version, a new key)
            return process_exception(exc)

        connections = websockets.connect(
            target.url,
            open_timeout=self.handshake_timeout_s,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
            max_size=2**22,
            user_agent_header="perpvol/0.1",
            process_exception=retryable,
        ).__aiter__()
        assert isinstance(connections, AsyncGenerator)  # an async generator: closable
        # closed here, inside this task, when it is cancelled (not later by the loop's shutdown)
        async with contextlib.aclosing(connections):
            async for ws in connections:
                went_live = False
                conn = _Connection(ws)
                try:
                    await adapter.handshake(conn)
                    went_live = True
                    with self._lock:
                        st.connects += 1
                        st.connected_ms = timeutil.now_ms()
                    self._set_state(st, LIVE)
                    # fills made while the stream was down are only in REST: one incremental sync closes the gap
                    asyncio.get_running_loop().create_task(self._request_sync(account.label, "stream (re)connected"))
                    if await self._consume(conn, account, adapter, st, target):
                        return None  # renewal due
                except ConnectionClosed as exc:
                    self._set_state(st, DOWN, f"stream closed: {exc}")
                    if went_live:
                        backoff = self.backoff_initial_s
                    delay = backoff
                    backoff = min(backoff * 2, self.backoff_max_s)
                    await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))  # noqa: S311 - jitter
                    self._set_state(st, CONNECTING)
                    continue  # the iterator reconnects
        return "stream closed"  # pragma: no cover - the iterator only ends by an exception

    def _wait_s(self, conn: _Connection, adapter: StreamAdapter, target: StreamTarget) -> float | None:
        """Seconds until the next thing to do without a message (a heartbeat, a renewal); None: none."""
        waits = []
        if target.renew_at is not None:
            waits.append(target.renew_at - time.monotonic())
        if adapter.heartbeat_s is not None:
            waits.append(conn.last_sent + adapter.heartbeat_s - time.monotonic())
        return max(0.0, min(waits)) if waits else None

    async def _consume(
        self, conn: _Connection, account: Any, adapter: StreamAdapter, st: StreamStatus, target: StreamTarget
    ) -> bool:
        """Ingest pushes until the connection drops (raises ConnectionClosed) or ``target.renew_at`` (True);
        sends the adapter's heartbeat after ``heartbeat_s`` without an outgoing message."""
        while True:
            if target.renew_at is not None and target.renew_at <= time.monotonic():
                return True
            if adapter.heartbeat_s is not None and time.monotonic() - conn.last_sent >= adapter.heartbeat_s:
                beat = adapter.heartbeat()
                if beat is not None:
                    await conn.send_json(beat)
                else:
                    conn.last_sent = time.monotonic()
            wait = self._wait_s(conn, adapter, target)
            try:
                raw = await (conn.ws.recv() if wait is None else asyncio.wait_for(conn.ws.recv(), timeout=wait))
            except TimeoutError:
                continue  # a heartbeat or a renewal is due
            st.last_message_ms = timeutil.now_ms()
            try:
                reply = adapter.on_message(_decode(raw))
            except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                log.warning("unreadable fill push on %s: %s", account.label, redact(exc))
                continue
            for answer in reply.replies:
                await conn.send_json(answer)
            for fill in reply.fills:
                await self._ingest(account, st, fill)

    # -- the feed's side -------------------------------------------------------------------------
    def _set_state(self, st: StreamStatus, state: str, error: str | None = None) -> None:
        raise NotImplementedError

    async def _request_sync(self, label: str, reason: str) -> None:
        raise NotImplementedError

    async def _ingest(self, account: Any, st: StreamStatus, fill: Fill) -> None:
        raise NotImplementedError
