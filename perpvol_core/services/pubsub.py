"""Redis-backed event bus: several processes (a ``perpvol worker``, several servers) share one live state.

:class:`RedisBus` is an :class:`~perpvol_core.services.events.EventBus` whose ``publish`` also goes out on a Redis
pub/sub channel as the event's JSON; a listener thread validates each event published by *another* process
(a malformed one is logged and dropped) and delivers it to this process's subscribers. The latest event of each
key is kept in a Redis hash, so a process that starts late, or comes back after losing Redis, still knows the
current volume. Install it with :func:`install_bus` (a no-op without ``PERPVOL_REDIS_URL``).

A lost connection is noticed by the listener (a read fails, or the health-check PING every
``health_check_s`` gets no answer) and by a failed publish: the bus's ``state`` becomes ``lost`` and a local
:class:`~perpvol_core.services.events.BusStatus` event says so; events still reach this process's subscribers.
The listener reconnects with backoff; once subscribed again it publishes ``BusStatus(state="connected")`` and
delivers what other processes published meanwhile (the newer entries of the hash).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import redis

from perpvol_core.config import Settings
from perpvol_core.security.redaction import redact
from perpvol_core.services import events
from perpvol_core.services.events import BusStatus, Event, EventBus, InvalidEvent, as_event

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "perpvol:events"


def encode_event(event: Event) -> str:
    """JSON text of an event (money as decimal strings)."""
    return event.model_dump_json()


class RedisBus(EventBus):
    """An event bus fanned out through Redis pub/sub (channel ``perpvol:events`` by default).

    ``start()`` connects and waits until the listener is subscribed (raises ``redis.RedisError`` when
    Redis cannot be reached within ``connect_timeout_s``). ``close()`` stops the listener.
    """

    def __init__(
        self, url: str, channel: str = DEFAULT_CHANNEL, connect_timeout_s: float = 5.0, health_check_s: float = 10.0
    ) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self.state = "connecting"
        self.error: str | None = None
        self._last_key = f"{channel}:last"
        self._origin = uuid.uuid4().hex
        self._timeout = connect_timeout_s
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=connect_timeout_s, socket_timeout=connect_timeout_s, decode_responses=True,
            health_check_interval=health_check_s,
        )  # fmt: skip
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, require: bool = True) -> RedisBus:
        """Load the latest shared state and start the listener. Raises ``redis.RedisError`` if unreachable,
        unless ``require`` is False: the bus then starts ``lost`` and the listener keeps trying."""
        try:
            self._client.ping()
        except redis.RedisError as exc:
            if require:
                raise
            self._set_state("lost", f"{type(exc).__name__}: {exc}")
        else:
            self._catch_up(deliver=False)
        self._thread = threading.Thread(target=self._listen, name="perpvol-redis-bus", daemon=True)
        self._thread.start()
        if not self._subscribed.wait(self._timeout) and require:
            self.close()
            raise redis.ConnectionError("the Redis event listener did not subscribe in time")
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._client.close()

    # -- state ---------------------------------------------------------------------------------
    def _set_state(self, state: str, error: str | None = None) -> None:
        with self._lock:
            changed = state != self.state
            was = self.state
            self.state, self.error = state, (redact(error) if error else None)
        if changed and (state == "lost" or was == "lost"):
            if state == "lost":
                log.warning("lost the Redis event bus: %s", self.error)
            else:
                log.info("the Redis event bus is back")
            self._deliver(BusStatus(state="lost" if state == "lost" else "connected", error=self.error))

    def _catch_up(self, deliver: bool) -> None:
        """Take the hash's entries newer than ours (all of them at start; delivered after a reconnection)."""
        try:
            stored = self._client.hgetall(self._last_key) or {}
        except redis.RedisError as exc:
            log.warning("could not load the shared live state: %s", redact(exc))
            return
        for text in stored.values():
            try:
                event = as_event(text)
            except InvalidEvent as exc:
                log.warning("ignored a malformed shared event: %s", exc)
                continue
            mine = self.last.get(event.key)
            if mine is not None and mine.ts_ms >= event.ts_ms:
                continue
            if deliver:
                self._deliver(event)
            else:
                with self._lock:
                    self.last[event.key] = event

    # -- publishing ----------------------------------------------------------------------------
    def publish(self, event: Any) -> Event:
        """Validate (raises ``InvalidEvent``), deliver locally at once, then share through Redis (a Redis
        failure marks the bus lost and is logged, never raised). ``bus_status`` events stay local."""
        checked = as_event(event)
        self._deliver(checked)
        if isinstance(checked, BusStatus):
            return checked
        text = encode_event(checked)
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.hset(self._last_key, checked.key, text)
                pipe.publish(self.channel, json.dumps({"origin": self._origin, "event": text}))
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("event not shared through Redis: %s", redact(exc))
            self._set_state("lost", f"{type(exc).__name__}: {exc}")
        return checked

    # -- listening -----------------------------------------------------------------------------
    def _listen(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self._client.pubsub()
                pubsub.subscribe(self.channel)
                confirm = pubsub.get_message(timeout=self._timeout)  # subscribed before saying "connected"
                if not confirm or confirm.get("type") != "subscribe":
                    raise redis.ConnectionError("Redis did not confirm the subscription")
                if self.state == "lost":
                    self._catch_up(deliver=True)
                self._set_state("connected")
                self._subscribed.set()
                delay = 0.2
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if msg is None or msg.get("type") != "message":
                        continue
                    self._on_message(msg.get("data"))
            except (redis.RedisError, OSError) as exc:
                if self._stop.is_set():
                    break
                self._set_state("lost", f"{type(exc).__name__}: {exc}")
                log.debug("Redis event listener retrying in %.1fs", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001, S110 - best effort on a broken connection
                        pass

    def _on_message(self, data: Any) -> None:
        try:
            envelope = json.loads(data)
            if not isinstance(envelope, Mapping):
                raise InvalidEvent("not an envelope")
            if envelope.get("origin") == self._origin:
                return  # delivered locally when published
            event = as_event(envelope["event"])
        except (ValueError, KeyError, TypeError) as exc:  # InvalidEvent is a ValueError
            log.warning("ignored a malformed shared event: %s", redact(exc))
            return
        if isinstance(event, BusStatus):
            return  # another process's link is not ours
        self._deliver(event)


_install_lock = threading.Lock()


def install_bus(settings: Settings) -> EventBus:
    """Install a :class:`RedisBus` as the process bus when ``settings.redis_url`` is set; idempotent.

    Returns the process bus (the in-process one when Redis is not configured). When Redis is set but
    unreachable, logs a warning; the bus starts ``lost`` and connects when Redis answers.
    """
    with _install_lock:
        current = events.get_bus()
        if not settings.redis_url:
            return current
        if isinstance(current, RedisBus) and current.url == settings.redis_url:
            return current
        bus = RedisBus(settings.redis_url).start(require=False)
        if bus.state != "connected":
            log.warning("PERPVOL_REDIS_URL is set but Redis is unreachable (%s); live updates stay in this "
                        "process until it answers", bus.error)  # fmt: skip
        # subscribers that registered before the switch keep receiving events
        with current._lock:
            carried = list(current._subs)
            bus.last.update(current.last)
        for cb in carried:
            bus.subscribe(cb)
        events.set_bus(bus)
        return bus
