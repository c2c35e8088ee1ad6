"""The background worker: one per server process (or ``perpvol worker`` on its own).

It runs the periodic incremental sync of every account (default every 60 s), ``sync_now`` on request,
and reports per-account status, progress and coverage from the store. Other long-running services
(the live fill feed) are attached with :meth:`Worker.add_service` and started/stopped with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from perpvol_core import bounds, timeutil
from perpvol_core.config import Settings
from perpvol_core.security.redaction import redact
from perpvol_core.services.sync import DEFAULT_DAYS, AccountResult, SyncEngine

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 60.0
#: ``perpvol worker`` touches ``PERPVOL_HOME/worker.heartbeat`` this often while its sync thread runs;
#: ``perpvol worker --check`` (the container health check) calls it stale after HEARTBEAT_STALE_S.
HEARTBEAT_FILE = "worker.heartbeat"
HEARTBEAT_EVERY_S = 5.0
HEARTBEAT_STALE_S = 60.0


def heartbeat_path(settings: Settings) -> Path:
    return settings.home / HEARTBEAT_FILE


def heartbeat_fresh(settings: Settings, max_age_s: float = HEARTBEAT_STALE_S) -> bool:
    """Whether a worker touched its heartbeat within ``max_age_s`` seconds (False when there is none)."""
    try:
        age = time.time() - heartbeat_path(settings).stat().st_mtime
    except OSError:
        return False
    return age <= max_age_s


class Service(Protocol):
    """Anything the worker starts and stops with itself (e.g. the live feed)."""

    def start(self) -> Any: ...

    def stop(self) -> Any: ...


class Worker:
    """Periodic incremental sync on one background thread, plus attached services.

    ``store``/``vault`` default to ``Store.open(settings)`` / ``Vault.open(settings, store)``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Any = None,
        vault: Any = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        days: int = DEFAULT_DAYS,
        engine: SyncEngine | None = None,
        connector_options: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        if store is None:
            from perpvol_core.store import Store

            store = Store.open(self.settings)
        if vault is None:
            from perpvol_core.security.vault import Vault

            vault = Vault.open(self.settings, store)
        self.store = store
        self.vault = vault
        self.interval_s = interval_s
        self.days = bounds.sync_days(days, name="days")  # a bad setting fails at start, not in every sync
        self.engine = engine or SyncEngine(store, vault, connector_options=connector_options)
        self.services: list[Service] = []
        self.last_results: dict[str, AccountResult] = {}
        self.last_run_ms: int | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: set[str] | None = None  # labels asked for by sync_now (empty set = all)
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running_sync = threading.Lock()

    # -- services -----------------------------------------------------------------------------

    def add_service(self, service: Service) -> None:
        """Attach a service (``start()``/``stop()``); started now if the worker already runs."""
        self.services.append(service)
        if self.running:
            service.start()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Worker:
        """Start the sync thread and the services (idempotent)."""
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="perpvol-worker", daemon=True)
        self._thread.start()
        for service in self.services:
            try:
                service.start()
            except Exception as exc:  # one broken service must not stop the sync
                log.error("service %r failed to start: %s", service, redact(exc))
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the services and the sync thread (the current page finishes; resume is exact anyway)."""
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as exc:
                log.warning("service %r failed to stop: %s", service, redact(exc))
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self.engine.close()

    def beat(self) -> None:
        """Touch the heartbeat file while the sync thread is alive; a failure is logged, never raised."""
        if not self.running:
            return
        try:
            heartbeat_path(self.settings).touch(mode=0o600)
        except OSError as exc:
            log.warning("cannot write the worker heartbeat: %s", redact(exc))

    def sync_now(self, labels: Iterable[str] | None = None) -> None:
        """Ask for a sync of ``labels`` (all when None) as soon as possible; returns at once."""
        with self._pending_lock:
            wanted = set(labels or ())
            if self._pending is None:
                self._pending = wanted
            elif not wanted or not self._pending:
                self._pending = set()
            else:
                self._pending |= wanted
        self._wake.set()

    def run_once(self, labels: Iterable[str] | None = None) -> list[AccountResult]:
        """Sync now on the calling thread (used by the loop and by tests)."""
        with self._running_sync:
            results = self.engine.sync(labels=list(labels) if labels else None, days=self.days)
        for r in results:
            self.last_results[r.label] = r
        self.last_run_ms = timeutil.now_ms()
        return results

    def _loop(self) -> None:
        next_at = 0.0
        while not self._stop.is_set():
            timeout = max(0.0, next_at - time.monotonic())
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                break
            with self._pending_lock:
                pending, self._pending = self._pending, None
            periodic = time.monotonic() >= next_at
            if pending is None and not periodic:
                continue
            labels = sorted(pending) if pending else None
            try:
                self.run_once(labels)
            except Exception as exc:  # never let the thread die
                log.error("worker sync failed: %s", redact(exc))
            if periodic or labels is None:
                next_at = time.monotonic() + self.interval_s

    # -- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Per-account status, progress, ETA, coverage and last error, read from the store (JSON-able)."""
        from perpvol_core.services.status import account_statuses

        accounts = []
        for view in account_statuses(self.store):
            st = self.store.get_sync_state(view.account_id)
            accounts.append(
                {
                    "label": view.label,
                    "exchange": view.exchange,
                    "status": view.status,
                    "error": view.last_error,
                    "progress": view.progress,
                    "eta_s": view.eta_s,
                    "fills_seen": st.fills_seen,
                    "fills": view.fills,
                    "covered_from_ms": view.covered_from_ms,
                    "covered_to_ms": view.covered_to_ms,
                    "coverage": view.coverage,
                    "last_success_ms": view.last_success_ms,
                    "resumable": st.cursor is not None,
                }
            )
        return {
            "running": self.running,
            "interval_s": self.interval_s,
            "last_run_ms": self.last_run_ms,
            "accounts": accounts,
        }


_worker: Worker | None = None
_worker_lock = threading.Lock()


def get_worker(settings: Settings | None = None, **options: Any) -> Worker:
    """The process-wide worker (created on first call, not started)."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = Worker(settings, **options)
        return _worker


def reset_worker() -> None:
    """Stop and forget the process-wide worker (tests)."""
    global _worker
    with _worker_lock:
        worker, _worker = _worker, None
    if worker is not None:
        worker.stop()
