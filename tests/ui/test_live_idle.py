"""Five open tabs do no work between events (counted, not timed), and one fill updates all five once.

The server and its worker run in this process (SQLite, every registered venue's simulator), so the test counts
inside: the hub's events, reads and session updates, each session's applied updates, and each session
document's periodic callbacks (there must be none: no per-session poll).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from bokeh.server.callbacks import PeriodicCallback

from tests.live_rig import CHROME_ARGS, CHROMIUM, WATCH_JS, LiveRig

pytestmark = pytest.mark.browser
TABS = 5


def _work(hub: Any) -> tuple[Any, ...]:
    with hub._lock:
        sessions = list(hub._sessions.values())
    stats = {k: v for k, v in hub.stats.items() if k != "heartbeats"}  # a heartbeat only looks at the bus state
    periodic = sum(isinstance(cb, PeriodicCallback) for _, doc in sessions for cb in doc.session_callbacks)
    return stats, sorted(d.applied for d, _ in sessions), periodic


def _quiet(hub: Any, seconds: float, limit: float = 40) -> tuple[Any, ...]:
    """The counters once they stood still for ``seconds`` (streams connected, catch-up syncs done)."""
    deadline = time.monotonic() + limit
    last, since = _work(hub), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = _work(hub)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return now
    raise AssertionError(f"the dashboards never went quiet: {last}")


def test_five_tabs_do_no_work_between_events(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from perpvol_app.ui import live_hub

    rig = LiveRig(tmp_path, "sqlite", fills=200).start(inprocess=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            context = browser.new_context()
            pages = [context.new_page() for _ in range(TABS)]
            rig.login(pages[0])  # the login cookie serves the other tabs
            for page in pages[1:]:  # the other four load side by side
                page.goto(f"{rig.url}/app", wait_until="commit")
            for page in pages[1:]:
                page.locator('[data-window="all"] .pv-figure-value').wait_for(timeout=60_000)
            for page in pages:
                page.evaluate(WATCH_JS, "all")
            hub = live_hub._hub
            assert hub is not None
            deadline = time.monotonic() + 30
            while hub.sessions < TABS and time.monotonic() < deadline:
                time.sleep(0.1)
            assert hub.sessions == TABS  # one hub, every tab registered with it

            before = _quiet(hub, 2.0)
            assert before[2] == 0, "a session polls on a timer"
            time.sleep(3.0)
            assert _work(hub) == before  # nothing ran: no event, no read, no session update

            venue = rig.venues()[0]
            rig.emit(venue)
            expected = rig.expected_text()
            for page in pages:
                page.wait_for_function(f"window.pvChanges.at(-1)[1] === '{expected}'", timeout=15_000)
            after = _quiet(hub, 2.0)
            assert after[0].get("events", 0) == before[0].get("events", 0) + 1  # the fill: one event for all five tabs
            # the rows once, each tab's own full view once
            assert after[0].get("reads", 0) - before[0].get("reads", 0) <= 1 + TABS
            assert all(a > b for a, b in zip(after[1], before[1], strict=True))
            for page in pages:  # each page changed once, to the new total
                changes = [v for _, v in page.evaluate("window.pvChanges")]
                assert changes.count(expected) == 1 and changes[-1] == expected
            time.sleep(2.0)
            assert _work(hub) == after
            browser.close()
    finally:
        rig.stop()
