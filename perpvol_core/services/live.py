"""The live feed: private fill streams of every account, ingested as they happen, and live volume totals.

One :class:`LiveFeed` per deployment runs inside the background worker (``worker.add_service``). For each
stored account it keeps a private WebSocket open. The wire is the venue's :class:`StreamAdapter` (its spec's
``stream``: where to connect, the handshake, what a pushed message means, its heartbeat); the feed owns the
socket (the ``websockets`` reconnecting client, the backoff and the heartbeats: ``live_stream.AccountStreams``,
its base class), the states, the REST catch-up, the ingest and the totals.

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
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perpvol_core import timeutil
from perpvol_core.exchanges import StreamAdapter, classify
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import redact
from perpvol_core.services.events import BusStatus, EventBus, FillsStored, LiveStatus, VolumeChanged, get_bus
from perpvol_core.services.live_stream import (  # noqa: F401 - the states are part of this module's interface
    CONNECTING,
    DOWN,
    LIVE,
    REST_ONLY,
    STOPPED,
    AccountStreams,
    StreamStatus,
)

log = logging.getLogger(__name__)


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


# ---------------------------------------------------------------------------------------------
# The feed
# ---------------------------------------------------------------------------------------------
class LiveFeed(AccountStreams):
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
