"""``panel serve --plugins perpvol_app.plugin``: the process's one background worker, and routes.

Importing this module starts the worker (sync and live feed run here, never in a browser session)
unless ``PERPVOL_NO_WORKER`` is set. ``ROUTES`` are the extra Tornado routes: those of
``perpvol_app.api``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from perpvol_core.config import Settings
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)


def _start_worker() -> Any:
    if os.environ.get("PERPVOL_NO_WORKER"):
        return None
    from perpvol_core.services.live import attach_live_feed
    from perpvol_core.services.worker import get_worker

    settings = Settings.from_env()
    settings.ensure_home()
    worker = get_worker(settings)
    try:
        attach_live_feed(worker)  # private fill streams; also installs the Redis bus when configured
        worker.start()
    except Exception as exc:  # noqa: BLE001 - serve the (read-only) dashboard even if the worker fails
        log.error("background worker failed to start: %s", redact(exc))
    return worker


def _routes() -> list[Any]:
    from perpvol_app import api

    return list(api.ROUTES)


WORKER = _start_worker()
ROUTES: list[Any] = _routes()
