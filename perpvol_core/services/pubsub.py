"""Redis-backed event bus: several processes (a ``perpvol worker``, several servers) share one live state.

:class:`RedisBus` is an :class:`~perpvol_core.services.events.EventBus` whose ``publish`` also goes out on a Redis
pub/sub channel; a listener thread delivers events published by *other* processes to this process's
subscribers. The latest event of each kind is kept in a Redis hash, so a process that starts late
still knows the current volume. Install it with :func:`install_bus` (a no-op without
``PERPVOL_REDIS_URL``).

When Redis is unreachable the bus keeps working locally (events still reach this process's
subscribers) and the listener reconnects with backoff.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from decimal import Decimal
from typing import Any

import redis

from perpvol_core.config import Settings
from perpvol_core.security.redaction import redact
from perpvol_core.services import events
from perpvol_core.services.events import Event, EventBus

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "perpvol:events"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def encode_event(event: Event) -> str:
    """JSON text of an event (``Decimal`` as decimal strings). Raises ``TypeError`` on other types."""
    return json.dumps(event, default=_json_default, separators=(",", ":"))


class RedisBus(EventBus):
    """An event bus fanned out through Redis pub/sub (channel ``perpvol:events`` by default).

    ``start()`` connects and waits until the listener is subscribed (raises ``redis.RedisError`` when
    Redis cannot be reached within ``connect_timeout_s``). ``close()`` stops the listener.
    """

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL, connect_timeout_s: float = 5.0) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self._last_key = f"{channel}:last"
        self._origin = uuid.uuid4().hex
        self._timeout = connect_timeout_s
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=connect_timeout_s, socket_timeout=connect_timeout_s, decode_responses=True
        )
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> RedisBus:
        """Load the latest shared state and start the listener. Raises ``redis.RedisError`` if unreachable."""
        self._client.ping()
        try:
            for key, text in (self._client.hgetall(self._last_key) or {}).items():
                # decode_responses=True: redis returns text (its stubs also allow bytes)
                self.last.setdefault(key if isinstance(key, str) else key.decode(), json.loads(text))
        except (redis.RedisError, ValueError) as exc:
            log.warning("could not load the shared live state: %s", redact(exc))
        self._thread = threading.Thread(target=self._listen, name="perpvol-redis-bus", daemon=True)
        self._thread.start()
        if not self._subscribed.wait(self._timeout):
            raise redis.ConnectionError("the Redis event listener did not subscribe in time")
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._client.close()

    # -- publishing ----------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Deliver locally at once, then share through Redis (a Redis failure is logged, never raised)."""
        self._deliver(event)
        try:
            text = encode_event(event)
        except TypeError as exc:
            log.warning("event not shared (not JSON-able): %s", redact(exc))
            return
        key = event.get("type", "") + ":" + str(event.get("label", ""))
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.hset(self._last_key, key, text)
                pipe.publish(self.channel, json.dumps({"origin": self._origin, "event": text}))
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("event not shared through Redis: %s", redact(exc))

    # -- listening -----------------------------------------------------------------------------
    def _listen(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self._subscribed.set()
                delay = 0.2
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if msg is None or msg.get("type") != "message":
                        continue
                    self._on_message(msg.get("data"))
            except redis.RedisError as exc:
                if self._stop.is_set():
                    break
                log.warning("Redis event listener lost its connection (retrying in %.1fs): %s", delay, redact(exc))
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001, S110 - best effort on a broken connection
                        pass

    def _on_message(self, data: Any) -> None:
        try:
            envelope = json.loads(data)
            if envelope.get("origin") == self._origin:
                return  # delivered locally when published
            event = json.loads(envelope["event"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignored a malformed shared event: %s", redact(exc))
            return
        if isinstance(event, dict):
            self._deliver(event)


_install_lock = threading.Lock()


def install_bus(settings: Settings) -> EventBus:
    """Install a :class:`RedisBus` as the process bus when ``settings.redis_url`` is set; idempotent.

    Returns the process bus (the in-process one when Redis is not configured). When Redis is set but
    unreachable, logs a warning and keeps the in-process bus (live updates then stay in this process).
    """
    with _install_lock:
        current = events.get_bus()
        if not settings.redis_url:
            return current
        if isinstance(current, RedisBus) and current.url == settings.redis_url:
            return current
        bus = RedisBus(settings.redis_url)
        try:
            bus.start()
        except redis.RedisError as exc:
            log.warning("PERPVOL_REDIS_URL is set but Redis is unreachable; live updates stay local: %s", redact(exc))
            bus.close()
            return current
        # subscribers that registered before the switch keep receiving events
        with current._lock:
            carried = list(current._subs)
            bus.last.update(current.last)
        for cb in carried:
            bus.subscribe(cb)
        events.set_bus(bus)
        return bus
