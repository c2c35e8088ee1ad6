"""Typed live events and the in-process bus that carries them.

What happens is one of the models below (a discriminated union on ``type``); every publish is validated at
the bus boundary (:func:`as_event`), so a subscriber only ever sees a well-formed event and a bad payload is
refused with :class:`InvalidEvent` (or, arriving from another process, logged and dropped). On the wire (the
API WebSocket, Redis) an event is its JSON (``model_dump(mode="json")``): money as decimal strings, times as
UTC epoch milliseconds.

- ``fills_stored``: new fills of one account were stored (the window they span, how many, and the totals the
  page shows after them); the live feed publishes one per account per stored burst.
- ``volume``: the totals changed without a new fill (a REST sync stored some, the rolling windows moved).
- ``sync_progress``, ``sync_done`` (``ok`` false when it failed), ``account_status``: a sync's course.
- ``account``: an account was added, changed (its credentials) or removed.
- ``live_status``: one account's private stream changed state.
- ``bus_status``: this process lost or regained the shared bus (Redis); local, never shared.

The sync engine, the account path and the live feed publish; the API WebSocket and the dashboard subscribe.
A Redis-backed bus (``PERPVOL_REDIS_URL``, :mod:`perpvol_core.services.pubsub`) replaces this one when
several processes serve.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, TypeAdapter, ValidationError

from perpvol_core import timeutil
from perpvol_core.money import canonical_decimal
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)



def _not_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("an amount must be exact (a decimal string), not a float")
    return value


#: an exact amount (a float is refused); JSON: its canonical decimal string (no exponent)
Money = Annotated[
    Decimal, BeforeValidator(_not_float), PlainSerializer(canonical_decimal, return_type=str, when_used="json")
]
#: window name ("24h", "7d", "30d", "all") → exact USD volume
Figures = dict[str, Money]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ts_ms: int = Field(default_factory=timeutil.now_ms, ge=0, description="when it happened (UTC epoch ms)")

    @property
    def key(self) -> str:
        """What a newer event of the same key replaces (``type:label``): the bus keeps the last of each."""
        return f"{getattr(self, 'type', '')}:{getattr(self, 'label', '')}"


class _Totals(_Event):
    totals: Figures = Field(description="all accounts: window → volume")
    by_exchange: dict[str, Figures] = Field(description="venue → window → volume")


class VolumeChanged(_Totals):
    type: Literal["volume"] = "volume"
    snapshot: bool = False


class FillsStored(_Totals):
    """New fills of one account are stored; carries the totals after them (the page needs no read)."""

    type: Literal["fills_stored"] = "fills_stored"
    label: str
    exchange: str
    new_fills: int = Field(ge=1)
    first_ms: int = Field(ge=0, description="the oldest new fill's time")
    last_ms: int = Field(ge=0, description="the newest new fill's time")


class SyncProgress(_Event):
    type: Literal["sync_progress"] = "sync_progress"
    label: str
    exchange: str
    progress: float = Field(ge=0, le=1)
    eta_s: float | None = None
    fills: int = Field(ge=0)
    new_fills: int = Field(ge=0)
    requests: int = Field(ge=0)
    covered_from_ms: int | None = None
    covered_to_ms: int | None = None


class SyncDone(_Event):
    """A sync finished (``ok``) or failed (``error``)."""

    type: Literal["sync_done"] = "sync_done"
    label: str
    exchange: str
    ok: bool
    new_fills: int = Field(ge=0)
    fills: int = Field(ge=0)
    error: str | None = None
    coverage: str = ""
    covered_from_ms: int | None = None
    covered_to_ms: int | None = None


class AccountStatus(_Event):
    type: Literal["account_status"] = "account_status"
    label: str
    status: Literal["syncing", "ok", "error"]
    error: str | None = None


class AccountChanged(_Event):
    type: Literal["account"] = "account"
    action: Literal["added", "changed", "removed"]
    label: str
    exchange: str | None = None


class LiveStatus(_Event):
    type: Literal["live_status"] = "live_status"
    label: str
    exchange: str
    state: str
    error: str | None = None


class BusStatus(_Event):
    """This process's link to the shared bus: ``lost`` (events of other processes stop) or ``connected``."""

    type: Literal["bus_status"] = "bus_status"
    state: Literal["connected", "lost"]
    error: str | None = None


Event = Annotated[
    VolumeChanged | FillsStored | SyncProgress | SyncDone | AccountStatus | AccountChanged | LiveStatus | BusStatus,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[_Event], ...] = (
    VolumeChanged, FillsStored, SyncProgress, SyncDone, AccountStatus, AccountChanged, LiveStatus, BusStatus,
)  # fmt: skip
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
Subscriber = Callable[[Event], None]


class InvalidEvent(ValueError):
    """A payload that is not one of the events (unknown type, missing or malformed field)."""


def as_event(payload: _Event | Mapping[str, Any] | str | bytes) -> Event:
    """The validated event of ``payload`` (an event, a dict or its JSON). Raises :class:`InvalidEvent`."""
    if isinstance(payload, EVENT_TYPES):
        return payload  # type: ignore[return-value]  # already validated when it was built
    try:
        if isinstance(payload, str | bytes):
            return _ADAPTER.validate_json(payload)
        if isinstance(payload, Mapping):
            return _ADAPTER.validate_python(dict(payload))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()[:5])
        raise InvalidEvent(redact(f"not a valid event: {problems}")) from None
    raise InvalidEvent(f"not a valid event: a {type(payload).__name__}")


class EventBus:
    """Thread-safe fan-out of validated events; a failing subscriber is logged and never breaks the publisher.

    ``last`` keeps the latest event of each :attr:`~_Event.key` (a late subscriber's snapshot). ``state`` is
    ``local`` here; the Redis bus reports ``connected`` or ``lost``.
    """

    state = "local"

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

    def publish(self, event: _Event | Mapping[str, Any]) -> Event:
        """Validate (raises :class:`InvalidEvent`) and deliver; returns the event."""
        checked = as_event(event)
        self._deliver(checked)
        return checked

    def _deliver(self, event: Event) -> None:
        with self._lock:
            if not isinstance(event, BusStatus):
                self.last[event.key] = event
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


def publish_quietly(event: _Event) -> None:
    """Publish on the process bus after a change that is already made (a bus failure is logged, not raised)."""
    try:
        get_bus().publish(event)
    except Exception as exc:  # noqa: BLE001 - the change stands; only its live update is missed
        log.warning("%s event not published: %s", getattr(event, "type", "an"), redact(exc))


def set_bus(bus: EventBus) -> None:
    """Install another bus (e.g. the Redis one) for this process."""
    global _bus
    with _bus_lock:
        _bus = bus
