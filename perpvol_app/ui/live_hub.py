"""The dashboard's live updates: one hub per server process between the event bus and every open dashboard.

The hub subscribes to the bus once (not once per tab). Each event updates only what it changed, in every
registered session, through the session document's next-tick callback (Bokeh's thread-safe entry):

- ``fills_stored`` / ``volume``: the headline figures, straight from the event (no read);
- ``fills_stored``, ``sync_progress``, ``account_status``, ``live_status``: the account rows (one shared read);
- ``sync_done`` (one that stored fills, or after live fills), ``account``: also the history, calendar,
  breakdowns and tiers (one shared read, at most every ``FULL_RELOAD_MIN_S``; a later one is scheduled, never
  dropped; the sessions redraw one after another, so a headline update waits behind one redraw, not all);
- ``bus_status``: the banner that says live updates are paused, and everything again once the bus is back.

Between events nothing runs: no session has a periodic callback and the hub's thread sleeps; it wakes every
``HEARTBEAT_S`` only to look at the bus's state (a lost Redis shows even when no event could say so).
A live fill does not redraw the charts: five tabs redrawing the two-year history after every fill put the
fill → page p99 at 8-15 s (``bench/live.py``); the chart and breakdowns take the live fills at the next sync.
``stats`` counts what the hub did (events, reads, session updates): the tests count work with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from perpvol_core.security.redaction import redact
from perpvol_core.services.events import BusStatus, EventBus, FillsStored, SyncDone, VolumeChanged

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
FULL_RELOAD_MIN_S = 10.0
#: at most this long for one session's full redraw before the next session's is queued
STAGGER_WAIT_S = 5.0
_ROWS = {"sync_progress", "account_status", "live_status", "fills_stored"}
_FULL = {"sync_done", "account"}

LOST_HTML = (
    '<div id="pv-bus-status" class="pv-error" data-state="lost" role="status">Live updates paused: the event bus '
    "(Redis) is unreachable; reconnecting… The figures shown may be behind. {error}</div>"
)


class LiveHub:
    """One per process (:func:`get_hub`). ``register(dashboard, doc)`` returns the function that unregisters it."""

    def __init__(self, context: Any, bus: EventBus, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.context = context
        self.bus = bus
        self.heartbeat_s = heartbeat_s
        self.stats: Counter[str] = Counter()
        self._sessions: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_full = 0.0
        self._fills_since_full = False  # live fills the charts do not show yet
        self._bus_state = getattr(bus, "state", "local")
        self._bus_error: str | None = getattr(bus, "error", None)
        self._unsubscribe = bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="perpvol-live-hub", daemon=True)
        self._thread.start()

    # -- sessions --------------------------------------------------------------------------------
    def register(self, dashboard: Any, doc: Any) -> Callable[[], None]:
        key = id(dashboard)
        with self._lock:
            self._sessions[key] = (dashboard, doc)
        dashboard.set_bus_status(self.status_html())

        def unregister() -> None:
            with self._lock:
                self._sessions.pop(key, None)

        return unregister

    @property
    def sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def status_html(self) -> str:
        if self._bus_state != "lost":
            return ""
        return LOST_HTML.format(error=redact(self._bus_error or ""))

    def _dispatch(self, method: str, *args: Any) -> None:
        """``dashboard.<method>(*args)`` in every session, on its own document's next tick."""
        with self._lock:
            sessions = list(self._sessions.values())
        for dashboard, doc in sessions:
            self.stats["updates"] += 1
            try:
                doc.add_next_tick_callback(partial(getattr(dashboard, method), *args))
            except Exception as exc:  # noqa: BLE001 - a closing session must not stop the others
                log.debug("session update skipped: %s", redact(exc))

    # -- events ----------------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        self.stats["events"] += 1
        if isinstance(event, FillsStored | VolumeChanged):
            self._dispatch("apply_figures", event.totals, event.by_exchange)
        if isinstance(event, BusStatus):
            self._set_bus_state(event.state, event.error)
            if event.state == "connected":
                self._ask({"rows", "full", "figures"})
            return
        if isinstance(event, FillsStored):
            self._fills_since_full = True
        if isinstance(event, SyncDone) and event.ok and not event.new_fills and not self._fills_since_full:
            self._ask({"rows"})  # a periodic sync that found nothing new: the charts are as they were
        elif event.type in _FULL:
            self._fills_since_full = False
            self._ask({"rows", "full"})
        elif event.type in _ROWS:
            self._ask({"rows"})

    def _set_bus_state(self, state: str, error: str | None) -> None:
        if state == self._bus_state:
            return
        self._bus_state, self._bus_error = state, error
        self._dispatch("set_bus_status", self.status_html())

    def _ask(self, what: set[str]) -> None:
        with self._lock:
            self._pending |= what
        self._wake.set()

    # -- the hub's thread: shared reads after events, and the heartbeat --------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = self.heartbeat_s
            with self._lock:
                if "full" in self._pending:
                    timeout = min(timeout, max(0.0, self._last_full + FULL_RELOAD_MIN_S - time.monotonic()))
            woke = self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not woke:
                self.stats["heartbeats"] += 1
                state = getattr(self.bus, "state", "local")
                if state in ("lost", "connected"):
                    self._set_bus_state(state, getattr(self.bus, "error", None))
            try:
                self._read_and_dispatch()
            except Exception as exc:  # noqa: BLE001 - the next event tries again
                log.warning("dashboard live update failed: %s", redact(exc))

    def _read_and_dispatch(self) -> None:
        from perpvol_app.ui.components.context import forget

        now = time.monotonic()
        with self._lock:
            pending = set(self._pending)
            full = "full" in pending and now - self._last_full >= FULL_RELOAD_MIN_S
            self._pending -= {"rows", "figures"} | ({"full"} if full else set())
            sessions = len(self._sessions)
        if not pending or not sessions:
            return
        store = self.context.store
        if full or "figures" in pending:
            forget(store)  # new data: the shared reads start over (one read for every tab)
        if "rows" in pending:
            from perpvol_app.ui.components.accounts import account_rows

            self.stats["reads"] += 1
            self._dispatch("apply_rows", account_rows(self.context))
        if "figures" in pending:
            self.stats["reads"] += 1
            summary = self.context.summary()
            self._dispatch("apply_figures", summary["totals"], summary["by_exchange"])
        if full:
            self._last_full = now
            with self._lock:
                registered = list(self._sessions.values())
            for dashboard, doc in registered:  # each session's own view (its period, its range), shared reads
                self.stats["reads"] += 1
                data = dashboard.fetch_full()
                self.stats["updates"] += 1
                applied = threading.Event()
                try:
                    doc.add_next_tick_callback(partial(_apply_full, dashboard, data, applied))
                except Exception as exc:  # noqa: BLE001 - a closing session must not stop the others
                    log.debug("session update skipped: %s", redact(exc))
                    continue
                # one tab's redraw at a time: a headline update queued meanwhile waits for one, not for all
                applied.wait(STAGGER_WAIT_S)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._unsubscribe()
        self._thread.join(5)


def _apply_full(dashboard: Any, data: dict[str, Any], applied: threading.Event) -> None:
    try:
        dashboard.apply_full(data)
    finally:
        applied.set()


_hub: LiveHub | None = None
_hub_lock = threading.Lock()


def get_hub(context: Any) -> LiveHub:
    """The process's hub on the process bus (created on first use; a new one when the bus or store changed).

    Installs the Redis bus first when ``PERPVOL_REDIS_URL`` is set (a dashboard served apart from the worker, e.g.
    by plain ``panel serve``, hears the worker through it; without Redis only an in-process worker is heard)."""
    global _hub
    from perpvol_core.services.pubsub import install_bus

    bus = install_bus(context.settings)
    with _hub_lock:
        if _hub is None or _hub.bus is not bus or _hub.context.store is not context.store:
            if _hub is not None:
                _hub.close()
            _hub = LiveHub(context, bus)
        return _hub


def close_hub() -> None:
    global _hub
    with _hub_lock:
        if _hub is not None:
            _hub.close()
            _hub = None
