"""``perpvol worker``: the background worker (periodic sync and the live feed) in the foreground."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from perpvol_core.config import Settings
from perpvol_core.services.worker import HEARTBEAT_EVERY_S, get_worker, heartbeat_fresh


def cmd_worker(*, check: bool = False) -> int:
    """``perpvol worker``: periodic sync (and attached services) in the foreground until Ctrl-C / SIGTERM.

    ``perpvol worker --check``: exit 0 when a running worker's heartbeat is fresh, else 1 (health check).
    """
    if check:
        return 0 if heartbeat_fresh(Settings.from_env()) else 1
    worker = get_worker()
    stop = threading.Event()

    def _term(_signum: int, _frame: Any) -> None:
        stop.set()

    try:
        signal.signal(signal.SIGTERM, _term)
    except ValueError:  # not the main thread
        pass
    from perpvol_core.services.live import attach_live_feed  # the live feed also installs the Redis bus when configured

    attach_live_feed(worker)
    worker.start()
    worker.beat()
    print(f"perpvol worker: syncing every {worker.interval_s:.0f} s; Ctrl-C to stop", file=sys.stderr)
    try:
        while not stop.wait(HEARTBEAT_EVERY_S):
            worker.beat()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
    return 0
