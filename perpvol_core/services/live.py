"""The live feed: private fill streams of every account, ingested as they happen, and live volume totals.

One :class:`LiveFeed` per deployment runs inside the background worker (``worker.add_service``). For each
stored account it keeps a private WebSocket open. The wire is the venue's :class:`StreamAdapter` (its spec's
``stream``: where to connect, the handshake, what a pushed message means, its heartbeat); the feed owns the
socket (the ``websockets`` reconnecting client), the backoff, the states, the heartbeats and the ingest.

Pushed fills are classified by the venue's rules and ingested through the same idempotent
``store.ingest_fills`` as REST sync, so a fill seen live and later in REST counts once. A dropped stream
reconnects with exponential backoff; after every (re)connect one incremental REST sync of that account
closes the gap, and while a stream is down (or the credential cannot open one) the feed asks for
frequent incremental REST syncs instead. Fills stored from a stream are published on the event bus as one
:class:`~perpvol_core.services.events.FillsStored` per account and burst, carrying the 24h/7d/30d/all totals
after them; any other change of the totals (a REST sync stored fills, the rolling windows moved) as a
:class:`~perpvol_core.services.events.VolumeChanged`; stream states as
:class:`~perpvol_core.services.events.LiveStatus`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import websockets
from websockets.asyncio.client import process_exception
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from perpvol_core import timeutil
from perpvol_core.exchanges import ExchangeError, StreamAdapter, classify, make_stream
from perpvol_core.exchanges._errors import StreamAuthRefused, StreamProtocolError
from perpvol_core.exchanges._spec import StreamTarget
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import redact
from perpvol_core.services.events import BusStatus, EventBus, FillsStored, LiveStatus, VolumeChanged, get_bus

log = logging.getLogger(__name__)

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


def volume_event(store: Any, now_ms: int | None = None) -> VolumeChanged:
    """The ``volume`` bus event for the store's current totals."""
    from perpvol_core.analytics import volume

    now = timeutil.now_ms() if now_ms is None else now_ms
    s = volume.summary(store, now_ms=now)
    return VolumeChanged(totals=s["totals"], by_exchange=s["by_exchange"], ts_ms=now)


@dataclass
class _Stored:
    """New fills of one account stored since the last publish."""

    exchange: str
    count: int
    first_ms: int
    last_ms: int


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
# The feed
# ---------------------------------------------------------------------------------------------
class LiveFeed:
    """Streams every account's fills into the store and publishes live totals; a worker service.

    ``sync_now(labels)`` asks for an incremental REST sync of ``labels`` (``None``: all) and should
    return quickly (the worker's ``sync_now``); it is called from a helper thread. ``start()``/``stop()``
    are idempotent; nothing here raises into the caller after ``start()`` - errors are logged (redacted)
    and shown in :meth:`status`.
    """

    def __init__(
        self,
        store: Any,
        vault: Any,
        *,
        bus: EventBus | None = None,
        sync_now: Callable[[list[str] | None], Any] | None = None,
        fallback_interval_s: float = 10.0,
        refresh_interval_s: float = 30.0,
        account_poll_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        auth_retry_s: float = 300.0,
        handshake_timeout_s: float = 10.0,
        **stream_options: Any,
    ) -> None:
        self.store = store
        self.vault = vault
        self._bus = bus
        self._sync_now = sync_now
        self.fallback_interval_s = fallback_interval_s
        self.refresh_interval_s = refresh_interval_s
        self.account_poll_s = account_poll_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.auth_retry_s = auth_retry_s
        self.handshake_timeout_s = handshake_timeout_s
        #: passed to every stream adapter (each reads the options it knows, e.g. a key renewal lead)
        self.stream_options = stream_options
        self._adapters: dict[str, StreamAdapter] = {}
        self._statuses: dict[str, StreamStatus] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._dirty: asyncio.Event | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._last_totals: Any = None
        self._stored: dict[str, _Stored] = {}  # label → fills stored from its stream, not yet published
        self._sync_requests: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def bus(self) -> EventBus:
        return self._bus or get_bus()

    def start(self) -> LiveFeed:
        """Start the feed on its own thread and event loop (returns once the loop runs)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self
            self._ready.clear()
            self._thread = threading.Thread(target=self._run, name="perpvol-live", daemon=True)
            self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every stream and stop the loop (idempotent)."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and loop.is_running():
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    close = stop

    def status(self) -> dict[str, Any]:
        """Per-account stream states: ``{"streams": [{label, exchange, state, ...}], "running": bool}``."""
        with self._lock:
            streams = [s.as_dict() for s in self._statuses.values()]
        return {"running": bool(self._thread and self._thread.is_alive()), "streams": streams}

    def mark_dirty(self) -> None:
        """Ask for a recompute of the totals (thread-safe; e.g. after a REST sync ingested fills)."""
        loop, dirty = self._loop, self._dirty
        if loop is not None and dirty is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(dirty.set)

    # -- loop ----------------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except Exception as exc:  # noqa: BLE001 - the feed must never crash its host
            log.error("live feed stopped: %s", redact(exc))
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        self._dirty = asyncio.Event()
        self._unsubscribe = self.bus.subscribe(self._on_bus_event)
        self._ready.set()
        self._dirty.set()  # publish the current totals once at start
        helpers = [
            asyncio.create_task(self._publisher(), name="live-publisher"),
            asyncio.create_task(self._accounts_watch(), name="live-accounts"),
            asyncio.create_task(self._fallback(), name="live-fallback"),
            asyncio.create_task(self._refresh(), name="live-refresh"),
        ]
        await self._stopping.wait()
        for task in [*helpers, *self._tasks.values()]:
            task.cancel()
        await asyncio.gather(*helpers, *self._tasks.values(), return_exceptions=True)
        with self._lock:
            for st in self._statuses.values():
                st.state = STOPPED

    def _on_bus_event(self, event: Any) -> None:
        # a REST sync that finished (or ingested a page) may have changed the totals; bursts coalesce
        if event.type in ("sync_done", "sync_progress"):
            self.mark_dirty()
        elif isinstance(event, BusStatus) and event.state == "connected":
            self._last_totals = None  # the shared bus is back: others may have missed the totals, send them again
            self.mark_dirty()

    def _dirty_event(self) -> asyncio.Event:
        """The loop's "the totals may have changed" event (created when the loop starts)."""
        if self._dirty is None:
            raise RuntimeError("the live feed's loop is not running")
        return self._dirty

    async def _refresh(self) -> None:
        # rolling windows move with time even without new fills
        while True:
            await asyncio.sleep(self.refresh_interval_s)
            self._dirty_event().set()

    async def _publisher(self) -> None:
        """Coalesces bursts: one recompute per wake-up. Fills stored from the streams go out as one
        ``fills_stored`` per account (with the totals after them); otherwise a ``volume`` event when the
        totals changed."""
        dirty = self._dirty_event()
        while True:
            await dirty.wait()
            dirty.clear()
            with self._lock:
                stored, self._stored = self._stored, {}
            try:
                event = await asyncio.to_thread(volume_event, self.store)
            except Exception as exc:  # noqa: BLE001 - try again on the next change
                log.warning("live totals not computed: %s", redact(exc))
                with self._lock:
                    for label, s in stored.items():
                        self._stored.setdefault(label, s)
                continue
            key = (event.totals, event.by_exchange)
            for label, s in stored.items():
                self.bus.publish(FillsStored(label=label, exchange=s.exchange, new_fills=s.count, first_ms=s.first_ms,
                                             last_ms=s.last_ms, totals=event.totals, by_exchange=event.by_exchange,
                                             ts_ms=event.ts_ms))  # fmt: skip
            if stored:
                self._last_totals = key
            elif key != self._last_totals:
                self._last_totals = key
                self.bus.publish(event)

    # -- accounts ------------------------------------------------------------------------------
    async def _accounts_watch(self) -> None:
        while True:
            try:
                accounts = await asyncio.to_thread(self.store.list_accounts)
            except Exception as exc:  # noqa: BLE001
                log.warning("live feed cannot list accounts: %s", redact(exc))
                accounts = None
            if accounts is not None:
                current = {a.label: a for a in accounts}
                for label, task in list(self._tasks.items()):
                    if label not in current or task.done():
                        task.cancel()
                        self._tasks.pop(label, None)
                        self._adapters.pop(label, None)
                        with self._lock:
                            self._statuses.pop(label, None)
                for label, acc in current.items():
                    if label not in self._tasks:
                        with self._lock:
                            self._statuses[label] = StreamStatus(label=label, exchange=acc.exchange)
                        self._tasks[label] = asyncio.create_task(self._stream_loop(acc), name=f"live-{label}")
            await asyncio.sleep(self.account_poll_s)

    def _set_state(self, st: StreamStatus, state: str, error: str | None = None) -> None:
        changed = st.state != state
        with self._lock:
            st.state = state
            if error is not None:
                st.last_error = redact(error)
            if state == LIVE:
                st.last_error = None
        if changed:
            self.bus.publish(LiveStatus(label=st.label, exchange=st.exchange, state=state, error=st.last_error))

    async def _request_sync(self, label: str, reason: str) -> None:
        if self._sync_now is None:
            return
        log.debug("incremental REST sync of %s (%s)", label, reason)
        self._sync_requests[label] = time.monotonic()
        try:
            await asyncio.to_thread(self._sync_now, [label])
        except Exception as exc:  # noqa: BLE001
            log.warning("REST sync request for %s failed: %s", label, redact(exc))

    async def _fallback(self) -> None:
        """While a stream is not live, poll REST incrementally every ``fallback_interval_s``."""
        while True:
            await asyncio.sleep(self.fallback_interval_s)
            with self._lock:
                down = [s.label for s in self._statuses.values() if s.state in (DOWN, REST_ONLY, CONNECTING)]
            for label in down:
                last = self._sync_requests.get(label, 0.0)
                if time.monotonic() - last >= self.fallback_interval_s * 0.9:
                    await self._request_sync(label, "stream not live")

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

    async def _ingest(self, account: Any, st: StreamStatus, fill: Fill) -> None:
        new = await asyncio.to_thread(self.store.ingest_fills, account.id, [classify(fill)])
        with self._lock:
            st.fills_received += 1
            st.fills_new += int(new or 0)
            st.last_fill_ms = fill.ts_ms
            if new:
                s = self._stored.get(account.label)
                if s is None:
                    self._stored[account.label] = _Stored(account.exchange, int(new), fill.ts_ms, fill.ts_ms)
                else:
                    s.count += int(new)
                    s.first_ms, s.last_ms = min(s.first_ms, fill.ts_ms), max(s.last_ms, fill.ts_ms)
        if new:
            self._dirty_event().set()


def attach_live_feed(worker: Any, **options: Any) -> LiveFeed:
    """Install the Redis bus when ``PERPVOL_REDIS_URL`` is set and attach a :class:`LiveFeed` to ``worker``.

    Idempotent (one feed per worker). Call before or after ``worker.start()``; the feed starts and stops
    with the worker and asks it for incremental syncs when a stream is down or reconnected.
    """
    from perpvol_core.services.pubsub import install_bus

    install_bus(worker.settings)
    for service in getattr(worker, "services", []):
        if isinstance(service, LiveFeed):
            return service
    feed = LiveFeed(worker.store, worker.vault, sync_now=worker.sync_now, **options)
    worker.add_service(feed)
    return feed
