"""The same as ``test_live_push.py`` with the worker and the server apart (``perpvol worker`` and ``perpvol serve
--no-worker``) on PostgreSQL and Redis: a fill of each venue reaches the API WebSocket and the page once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.test_live_push import _start, each_venue_once

pytestmark = pytest.mark.browser


def test_worker_and_server_apart_on_postgresql_and_redis(tmp_path: Path) -> None:
    rig = _start("pg", tmp_path)
    try:
        each_venue_once(rig)
    finally:
        rig.stop()
