"""Typed events at the bus boundary, and the Redis bus noticing a lost connection and recovering.

Validation: every publish (in-process and arriving through Redis) is checked against the event models; a bad
payload never reaches a subscriber. Redis: the rig's own ``redis-server`` is killed and started again on the
same port; both processes' buses (two :class:`RedisBus`, one origin each) say ``lost`` then ``connected``, the
dashboard's hub shows the "live updates paused" banner and clears it (and reads the figures again), and events
flow again.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from perpvol_core.services.events import (
    BusStatus,
    EventBus,
    FillsStored,
    InvalidEvent,
    SyncProgress,
    VolumeChanged,
    as_event,
)
from tests.live_rig import LiveRig

FIGURES = {"totals": {"24h": "12.5", "all": "1000.25"}, "by_exchange": {"venue": {"24h": "12.5", "all": "1000.25"}}}
BAD = [
    {"type": "volume"},  # no totals
    {"type": "volume", "totals": {"all": "lots"}, "by_exchange": {}},  # not a decimal
    {"type": "volume", "totals": {"all": 0.1}, "by_exchange": {}},  # a float: not exact
    {"type": "fills_stored", "label": "a", "exchange": "v", "new_fills": 0, "first_ms": 1, "last_ms": 1, **FIGURES},
    {"type": "sync_progress", "label": "a", "exchange": "v", "progress": 1.5, "fills": 0, "new_fills": 0,
     "requests": 0},
    {"type": "account", "action": "renamed", "label": "a"},
    {"type": "volume", "surprise": 1, **FIGURES},  # an unknown field
    {"type": "no_such_event"},
    {"label": "a"},  # no type
    "not json",
    42,
]


def wait_until(pred: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_the_bus_delivers_only_valid_typed_events() -> None:
    bus = EventBus()
    seen: list[Any] = []
    bus.subscribe(seen.append)
    for payload in BAD:
        with pytest.raises(InvalidEvent):
            bus.publish(payload)  # type: ignore[arg-type]
    assert seen == []
    event = bus.publish({"type": "volume", **FIGURES})
    assert isinstance(event, VolumeChanged) and seen == [event]
    assert event.totals["all"] == Decimal("1000.25")
    wire = json.loads(event.model_dump_json())
    assert wire["totals"] == {"24h": "12.5", "all": "1000.25"} and wire["type"] == "volume"
    assert as_event(event.model_dump_json()) == event  # the JSON round trip is exact
    stored = FillsStored(label="a", exchange="v", new_fills=1, first_ms=5, last_ms=5,
                         totals={"all": Decimal("1E+3")}, by_exchange={})  # fmt: skip
    assert json.loads(stored.model_dump_json())["totals"]["all"] == "1000"  # no exponent on the wire
    progress = bus.publish(SyncProgress(label="a", exchange="v", progress=0.5, fills=3, new_fills=3, requests=1))
    assert bus.last["sync_progress:a"] is progress and bus.last["volume:"] is event


def test_a_failing_subscriber_never_breaks_the_publisher() -> None:
    bus = EventBus()
    seen: list[Any] = []

    def broken(_event: Any) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    bus.publish({"type": "volume", **FIGURES})
    assert len(seen) == 1


class _Doc:
    """A session document as the hub sees it: next-tick callbacks (run at once here)."""

    def add_next_tick_callback(self, callback: Any) -> None:
        callback()


class _Page:
    """What the hub calls on an open dashboard."""

    def __init__(self) -> None:
        self.banners: list[str] = []
        self.figures: list[Any] = []

    def set_bus_status(self, html: str) -> None:
        self.banners.append(html)

    def apply_figures(self, totals: Any, by_exchange: Any) -> None:
        self.figures.append(totals)

    def apply_rows(self, rows: Any) -> None:
        pass

    def fetch_full(self) -> dict[str, Any]:
        return {}

    def apply_full(self, data: Any) -> None:
        pass


def test_redis_bus_validates_notices_a_lost_connection_and_recovers(tmp_path: Path) -> None:
    import redis

    from perpvol_app.ui.components.context import AppContext
    from perpvol_app.ui.live_hub import LiveHub
    from perpvol_core.config import Settings
    from perpvol_core.services.pubsub import RedisBus
    from perpvol_core.store import Store

    rig = LiveRig(tmp_path, "pg")
    rig.start_redis()
    url = f"redis://127.0.0.1:{rig.redis_port}/0"
    server = RedisBus(url, channel="t", health_check_s=1).start()  # plays the serving process
    worker = RedisBus(url, channel="t", health_check_s=1).start()  # plays `perpvol worker`
    seen: list[Any] = []
    server.subscribe(seen.append)
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'perpvol.db'}")
    store = Store.open(settings)
    hub = LiveHub(AppContext(settings=settings, store=store), server)  # the dashboard's side of the server
    page = _Page()
    hub.register(page, _Doc())
    try:
        # another process's malformed message is dropped; the next valid one arrives
        raw = redis.Redis(port=rig.redis_port)
        raw.publish("t", json.dumps({"origin": "x", "event": json.dumps({"type": "volume", "totals": "x"})}))
        raw.publish("t", "{not json")
        worker.publish({"type": "volume", **FIGURES})
        wait_until(lambda: any(isinstance(e, VolumeChanged) for e in seen), 5, "the valid event")
        assert [type(e) for e in seen] == [VolumeChanged]
        assert server.state == worker.state == "connected"

        rig.stop_redis()
        wait_until(lambda: any(isinstance(e, BusStatus) and e.state == "lost" for e in seen), 10, "lost noticed")
        assert server.state == "lost" and server.error
        wait_until(lambda: page.banners and "paused" in page.banners[-1], 5, "the page's banner")
        assert "Redis" in page.banners[-1] and 'data-state="lost"' in page.banners[-1]
        worker.publish({"type": "volume", "totals": {"all": "2"}, "by_exchange": {}})  # logged, never raised
        wait_until(lambda: worker.state == "lost", 10, "the publisher's bus lost")

        rig.start_redis()  # same port
        wait_until(lambda: server.state == worker.state == "connected", 20, "both reconnected")
        assert [e.state for e in seen if isinstance(e, BusStatus)] == ["lost", "connected"]
        wait_until(lambda: page.banners[-1] == "", 5, "the banner gone")
        wait_until(lambda: page.figures, 5, "the figures read again after the reconnection")
        seen.clear()
        worker.publish({"type": "volume", "totals": {"all": "3"}, "by_exchange": {}})
        wait_until(lambda: any(isinstance(e, VolumeChanged) for e in seen), 5, "events flowing again")
        assert [e.totals["all"] for e in seen if isinstance(e, VolumeChanged)] == [Decimal(3)]
    finally:
        hub.close()
        server.close()
        worker.close()
        store.close()
        rig.stop_redis()
