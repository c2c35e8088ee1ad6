"""In-process publish/subscribe of live events (sync progress, volume changes).

The sync engine and the live feed publish; the dashboard, the WebSocket route and the CLI subscribe.
A Redis-backed bus (``PERPVOL_REDIS_URL``) replaces it when several processes serve.
Events are JSON-able dicts with a ``type`` key: ``sync_progress``, ``sync_done``, ``volume``, ...
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

Event = dict[str, Any]
Subscriber = Callable[[Event], None]


class EventBus:
    """Thread-safe fan-out; a failing subscriber is logged and never breaks the publisher."""

    def __init__(self) -> None:
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()
        self.last: dict[str, Event] = {}

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subs.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subs:
                    self._subs.remove(callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        key = event.get("type", "") + ":" + str(event.get("label", ""))
        with self._lock:
            self.last[key] = event
            subs = list(self._subs)
        for cb in subs:
            try:
                cb(event)
            except Exception as exc:  # a broken subscriber must not stop sync
                log.warning("event subscriber failed: %s", redact(exc))


_bus: EventBus | None = None
_bus_lock = threading.Lock()


def get_bus() -> EventBus:
    """The process-wide bus."""
    global _bus
    with _bus_lock:
        if _bus is None:
            _bus = EventBus()
        return _bus


def set_bus(bus: EventBus) -> None:
    """Install another bus (e.g. the Redis one) for this process."""
    global _bus
    with _bus_lock:
        _bus = bus
