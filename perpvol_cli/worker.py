"""``perpvol worker``: the background worker (periodic sync and the live feed) in the foreground."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from perpvol_core.services.worker import get_worker


def cmd_worker(args: Any) -> int:
    """``perpvol worker``: periodic sync (and attached services) in the foreground until Ctrl-C / SIGTERM."""
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
    print(f"perpvol worker: syncing every {worker.interval_s:.0f} s; Ctrl-C to stop", file=sys.stderr)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
    return 0
