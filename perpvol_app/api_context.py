"""What the API's routes share: :class:`ApiContext` (settings, store, vault, worker, bus, opened lazily), the
``Ctx`` dependency, and :func:`run` (blocking core calls in a thread, their errors as ``ApiError``)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from perpvol_app.api_errors import ApiError, map_exception
from perpvol_core.config import Settings
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.services.events import EventBus, get_bus

log = logging.getLogger(__name__)

class ApiContext:
    """What the routes need, opened lazily on first use and shared by every request.

    Pass explicit objects in tests; by default everything comes from ``Settings.from_env()``. Opening
    the store may raise the store's errors (they become a JSON 4xx per request).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Any = None,
        vault: Any = None,
        worker: Any = None,
        bus: EventBus | None = None,
        use_worker: bool = True,
    ) -> None:
        self._settings = settings
        self._store = store
        self._vault = vault
        self._worker = worker
        self._bus = bus
        self._use_worker = use_worker
        self._lock = threading.RLock()

    @property
    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                self._settings = Settings.from_env()
                from perpvol_core.services.pubsub import install_bus

                install_bus(self._settings)
            return self._settings

    @property
    def api_token(self) -> Secret | None:
        return self.settings.api_token

    @property
    def bus(self) -> EventBus:
        return self._bus or get_bus()

    @property
    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                from perpvol_core.store import Store

                self._store = Store.open(self.settings)
            return self._store

    @property
    def vault(self) -> Any:
        """The vault (only account routes use it; the embed routes never do)."""
        with self._lock:
            if self._vault is None:
                from perpvol_core.security.vault import Vault

                self._vault = Vault.open(self.settings, self.store)
            return self._vault

    @property
    def worker(self) -> Any | None:
        """The process's background worker, or ``None`` when there is none (e.g. a bare API app)."""
        with self._lock:
            if self._worker is None and self._use_worker and not os.environ.get("PERPVOL_NO_WORKER"):
                from perpvol_core.services.worker import get_worker

                self._worker = get_worker(self.settings)
            return self._worker


async def get_ctx(request: Request) -> ApiContext:
    """The app's context (async: FastAPI runs a plain ``def`` dependency in a worker thread, per request)."""
    return request.app.state.api_ctx


Ctx = Annotated[ApiContext, Depends(get_ctx)]


async def run(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking ``fn`` (database, exchange) in a thread; core errors become ``ApiError``."""
    try:
        return await run_in_threadpool(fn, *args)
    except ApiError:
        raise
    except Exception as exc:  # noqa: BLE001 - mapped to a clear JSON error
        err = map_exception(exc)
        if err.code == "unavailable":
            log.warning("API call failed: %s", redact(exc))
        raise err from None
