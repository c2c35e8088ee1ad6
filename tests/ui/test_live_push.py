"""A fill emitted by each registered venue's simulator reaches the API WebSocket and an open dashboard as one
event, exactly once, in both deployment shapes: one ``perpvol serve`` on SQLite, and ``perpvol worker`` +
``perpvol serve --no-worker`` apart on PostgreSQL and Redis (the rig's own ``redis-server``).

One page load per shape: the page records every change of its all-time figure with the browser's clock; each
fill must change it exactly once, to the simulators' own total.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.live_rig import CHROME_ARGS, CHROMIUM, WATCH_JS, LiveRig, pg_available, recv_json

pytestmark = pytest.mark.browser
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _read(ws: Any, seen: list[dict[str, Any]], until: Any, timeout: float) -> None:
    """Append messages to ``seen`` until ``until()`` holds (fails after ``timeout``); ``until=None``: all of
    ``timeout`` (nothing else may arrive meanwhile)."""
    deadline = time.monotonic() + timeout
    while until is None or not until():
        left = deadline - time.monotonic()
        if left <= 0:
            if until is None:
                return
            raise AssertionError(f"timed out; last messages: {seen[-5:]}")
        if (msg := recv_json(ws, left)) is not None:
            seen.append(msg)


def _start(shape: str, tmp_path: Path) -> LiveRig:
    if shape == "pg" and (reason := pg_available()):
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {reason}")
        pytest.skip(f"PostgreSQL unreachable: {reason}")
    return LiveRig(tmp_path, shape, fills=200).start()


def test_one_process_on_sqlite(tmp_path: Path) -> None:
    rig = _start("sqlite", tmp_path)
    try:
        each_venue_once(rig)
    finally:
        rig.stop()


def each_venue_once(rig: LiveRig) -> None:
    from playwright.sync_api import sync_playwright

    seen: list[dict[str, Any]] = []
    labels = set(rig.labels.values())
    with rig.ws() as ws, sync_playwright() as p:
        live = lambda: {m["label"] for m in seen if m["type"] == "live_status" and m["state"] == "live"}  # noqa: E731
        _read(ws, seen, lambda: live() >= labels, 60)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        page = browser.new_page()
        rig.login(page)
        page.evaluate(WATCH_JS, "all")
        _read(ws, seen, None, 2.0)  # the catch-up REST sync that follows each connection
        page.wait_for_function(f"window.pvChanges.length && window.pvChanges.at(-1)[1] === '{rig.expected_text()}'",
                               timeout=20_000)  # fmt: skip
        for venue in rig.venues():
            start, changes = len(seen), page.evaluate("window.pvChanges.length")
            fill, _ = rig.emit(venue)
            expected, text = rig.expected_total(), rig.expected_text()
            _read(ws, seen, lambda: any(m["type"] == "fills_stored" for m in seen[start:]), 15)  # noqa: B023
            page.wait_for_function(f"window.pvChanges.at(-1)[1] === '{text}'", timeout=15_000)
            _read(ws, seen, None, 1.0)  # nothing else about this fill follows
            stored = [m for m in seen[start:] if m["type"] == "fills_stored"]
            assert len(stored) == 1, stored
            [event] = stored
            assert event["label"] == rig.labels[venue] and event["exchange"] == venue
            assert event["new_fills"] == 1 and event["first_ms"] == event["last_ms"] == fill.ts_ms
            assert Decimal(event["totals"]["all"]) == expected
            assert Decimal(event["by_exchange"][venue]["24h"]) > 0
            assert not [m for m in seen[start:] if m["type"] == "volume"], "the fill was announced twice"
            after = page.evaluate("window.pvChanges").__getitem__(slice(changes, None))
            assert [v for _, v in after] == [text], after  # the page changed once, to the new total
        browser.close()
