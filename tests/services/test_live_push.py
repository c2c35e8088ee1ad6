"""A fill emitted by each registered venue's simulator reaches the API WebSocket as one event, exactly once, in
both deployment shapes: one ``perpvol serve`` on SQLite, and ``perpvol worker`` + ``perpvol serve --no-worker``
apart on PostgreSQL and Redis (the rig's own ``redis-server``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.live_rig import LiveRig, pg_available, recv_json

IN_CI = __import__("os").environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(params=["sqlite", "pg"], scope="module")
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRig]:
    if request.param == "pg" and (reason := pg_available()):
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {reason}")
        pytest.skip(f"PostgreSQL unreachable: {reason}")
    rig = LiveRig(tmp_path_factory.mktemp(f"rig-{request.param}"), request.param, fills=200)
    try:
        yield rig.start()
    finally:
        rig.stop()


def _drain_until(ws: Any, pred: Any, timeout: float, seen: list[dict[str, Any]]) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; last messages: {seen[-5:]}")
        msg = recv_json(ws, left)
        if msg is not None:
            seen.append(msg)


def test_a_fill_of_each_venue_reaches_the_websocket_once(rig: LiveRig) -> None:
    seen: list[dict[str, Any]] = []
    labels = set(rig.labels.values())
    with rig.ws() as ws:
        live = lambda: {m["label"] for m in seen if m["type"] == "live_status" and m["state"] == "live"}  # noqa: E731
        _drain_until(ws, lambda: live() >= labels, 60, seen)
        settle = time.monotonic() + 2.0  # the catch-up REST sync that follows each connection
        while time.monotonic() < settle:
            if (m := recv_json(ws, max(0.01, settle - time.monotonic()))) is not None:
                seen.append(m)
        for venue in rig.venues():
            start = len(seen)
            fill, _ = rig.emit(venue)
            expected = rig.expected_total()
            _drain_until(ws, lambda: any(m["type"] == "fills_stored" for m in seen[start:]), 15, seen)  # noqa: B023
            quiet = time.monotonic() + 1.5  # nothing else about this fill follows
            while time.monotonic() < quiet:
                if (m := recv_json(ws, max(0.01, quiet - time.monotonic()))) is not None:
                    seen.append(m)
            stored = [m for m in seen[start:] if m["type"] == "fills_stored"]
            assert len(stored) == 1, stored
            [event] = stored
            assert event["label"] == rig.labels[venue] and event["exchange"] == venue
            assert event["new_fills"] == 1 and event["first_ms"] == event["last_ms"] == fill.ts_ms
            assert Decimal(event["totals"]["all"]) == expected
            assert Decimal(event["by_exchange"][venue]["24h"]) > 0
            assert not [m for m in seen[start:] if m["type"] == "volume"], "the fill was announced twice"
