"""What every browser session of one server process shares: settings, the store, the worker.

Sessions only read: the store through ``perpvol_core.analytics.volume`` queries, sync progress through the
worker's status. The live figures come from one process-wide cache so that N open tabs cost one query
per refresh interval, not N.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import cachetools

from perpvol_core.config import Settings
from perpvol_core.money import canonical_decimal
from perpvol_core.security.redaction import redact
from perpvol_core.store import read_cache

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """The process's settings, store and (lazily) vault and worker."""

    settings: Settings
    store: Any
    worker: Any = None
    _vault: Any = field(default=None, repr=False)
    #: the dashboard built ahead for the next session (``perpvol_app.ui.spare.SpareDashboard``, made on first use)
    spare: Any = field(default=None, repr=False)

    @property
    def vault(self) -> Any:
        if self._vault is None:
            from perpvol_core.security.vault import Vault

            self._vault = Vault.open(self.settings, self.store)
        return self._vault

    def summary(self) -> dict[str, Any]:
        """``volume.summary`` of the store; the core shares one computation per second and data version.

        Its 24h figure is refreshed every couple of seconds by the dashboard's live update."""
        from perpvol_core.analytics import volume

        return volume.summary(self.store)  # shared across callers per second and data version by the core

    def invalidate(self) -> None:
        forget(self.store)

    def worker_status(self) -> dict[str, Any]:
        """The worker's per-account status, or ``{}`` when no worker runs in this process."""
        if self.worker is None:
            return {}
        try:
            status = self.worker.status() or {}
        except Exception as exc:  # noqa: BLE001 - a status read must never break the page
            log.warning("worker status failed: %s", redact(exc))
            return {}
        accounts = status.get("accounts")
        if isinstance(accounts, list):  # perpvol_core.services.worker: {"accounts": [{"label": ...}, ...]}
            return {a["label"]: a for a in accounts if isinstance(a, dict) and "label" in a}
        return dict(status)


_context: AppContext | None = None
_context_lock = threading.Lock()


def get_context(settings: Settings | None = None, store: Any = None, worker: Any = None) -> AppContext:
    """The process-wide context, created on first use (``Settings.from_env()`` unless given)."""
    global _context
    with _context_lock:
        if _context is None:
            settings = settings or Settings.from_env()
            if worker is None:
                worker = _existing_worker(settings)
            if store is None and worker is not None:
                store = getattr(worker, "store", None)
            if store is None:
                from perpvol_core.store import Store

                settings.ensure_home()
                store = Store.open(settings)
            _context = AppContext(settings=settings, store=store, worker=worker)
            if worker is not None and getattr(worker, "store", None) is store:
                _context._vault = getattr(worker, "vault", None)
        return _context


def set_context(ctx: AppContext | None) -> None:
    """Install a context (tests, the demo) or clear it."""
    global _context
    with _context_lock:
        _context = ctx


def _existing_worker(settings: Settings) -> Any:
    """The worker started by the server plugin, if there is one (never starts one from a session)."""
    try:
        from perpvol_core.services import worker as worker_mod
    except ImportError:
        return None
    get_worker = getattr(worker_mod, "get_worker", None)
    return get_worker(settings) if callable(get_worker) else None


def money(value: Decimal | str | None, places: int = 2) -> str:
    """``$1,234,567.89`` from an exact Decimal (rounded half-even for display only)."""
    if value is None:
        return "—"
    d = Decimal(value)
    return f"${d:,.{places}f}"


def exact(value: Decimal | str | None) -> str:
    """The exact decimal string (no exponent, no float)."""
    if value is None:
        return ""
    return canonical_decimal(value)


# -- shared reads ------------------------------------------------------------------------------------

#: Reads shared by every session, keyed by (store, name): the store object itself is the key (kept alive by
#: the cache, so no id is reused). Short reads live ~1.5 s; memos live in the store's one read cache
#: (``perpvol_core.store.read_cache``), keyed on the data version and bounded.
SHORT_TTL_S = 1.5
_short: cachetools.TTLCache[tuple[Any, ...], Any] = cachetools.TTLCache(
    maxsize=256, ttl=SHORT_TTL_S, timer=time.monotonic
)
_lock = threading.Lock()
#: one lock per short-read key being computed; bounded (an evicted lock only lets a second session compute too)
_key_locks: cachetools.LRUCache[tuple[Any, ...], threading.Lock] = cachetools.LRUCache(maxsize=256)


def _key_lock(key: tuple[Any, ...]) -> threading.Lock:
    with _lock:
        lock = _key_locks.get(key)
        if lock is None:
            lock = _key_locks[key] = threading.Lock()
        return lock


def shared(store: Any, name: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` shared by every session for ~1.5 s per process: one computation per key at a time."""
    key = (store, name)
    with _key_lock(key):  # concurrent sessions wait for the one computation instead of repeating it
        with _lock:
            if key in _short:
                return _short[key]
        value = compute()
        with _lock:
            _short[key] = value
        return value


def data_version(store: Any) -> str:
    """The store's data version (changes whenever fills are added or removed, by any process), ~1.5 s fresh."""
    return str(shared(store, "data_version", store.data_version))


def memo(store: Any, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """A store read shared by every session until the data version changes (the store's read cache, bounded).

    Dashboards opened by several tabs, and the reload each does after a sync, cost one query.
    """
    return read_cache.for_store(store).get(("ui", *key, data_version(store)), compute)


def forget(store: Any) -> None:
    """Drop the shared reads of ``store`` (after a write from this process, e.g. removing an account)."""
    with _lock:
        for k in [k for k in _short if k[0] is store]:
            _short.pop(k, None)
    read_cache.for_store(store).clear()
