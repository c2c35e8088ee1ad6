"""The sync engine: backfill and incremental sync of every account, resumable after a crash.

For each account the engine plans *runs* (time ranges to read, :mod:`~perpvol_core.services.sync_plan`): a
backfill of ``days`` (default 730) on first sync, an incremental run from the last covered point (with a
small overlap) afterwards, and a deeper backfill when more days are asked than are covered. One account's
sync (:mod:`~perpvol_core.services.sync_run`) stores each page of fills together with the new resume position
in ONE transaction, so a crash, a kill or a network failure resumes exactly where it stopped and never
duplicates a fill. Accounts sync concurrently on threads; each connector paces itself at its exchange's
documented limits and is given the store's knowledge of its account as data (``StoredFacts``). Status,
progress, ETA and the coverage statement go to the store, and events to the bus
(:mod:`~perpvol_core.services.sync_progress`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from perpvol_core import bounds, timeutil
from perpvol_core.exchanges import Connector, StoredFacts, make_connector
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync_plan import complete_from_after, coverage_text
from perpvol_core.services.sync_progress import ProgressCallback, SyncProgress, error_text
from perpvol_core.services.sync_run import AccountResult, AccountSync

__all__ = [
    "DEFAULT_DAYS", "AccountResult", "ProgressCallback", "SyncEngine", "complete_from_after", "coverage_text",
    "error_text", "probe_server_profile", "test_credentials",
]  # fmt: skip

DEFAULT_DAYS = 730


def probe_server_profile(
    credentials: Any, base_url: str | None = None, profile: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any] | None:
    """Observe what the exchange does (a reading of its unconfirmed behaviour) with a few requests, starting from
    the stored ``profile``; ``keys test`` stores and prints the result. None for exchanges with nothing to
    observe. Raises :class:`ExchangeError` subclasses."""
    connector = make_connector(credentials, base_url, **options)
    try:
        connector.use_facts(StoredFacts(server_profile=profile))
        return connector.probe_server_profile()
    finally:
        connector.close()


def test_credentials(credentials: Any, base_url: str | None = None, **options: Any) -> str:
    """Check credentials against the exchange (``keys add`` calls this before saving).

    Returns the account's identity text. Raises :class:`ExchangeError` subclasses whose ``str()`` is
    a user-facing message (InvalidCredentials, RateLimited, ExchangeUnavailable, BadPayload).
    """
    connector = make_connector(credentials, base_url, **options)
    try:
        return connector.validate()
    finally:
        connector.close()


class SyncEngine:
    """Backfill and incremental sync of the stored accounts.

    ``connector_options`` maps an exchange name to keyword options of its connector (tests and the
    benchmark shrink rate limits and timeouts with it). Connectors are kept between syncs (a
    JWT or chain id is not fetched again), so an incremental sync with nothing new costs one request.
    """

    def __init__(
        self,
        store: Any,
        vault: Any,
        bus: EventBus | None = None,
        *,
        connector_options: dict[str, dict[str, Any]] | None = None,
        max_workers: int = 8,
        clock: Callable[[], int] = timeutil.now_ms,
    ) -> None:
        self.store = store
        self.vault = vault
        self.bus = bus
        self.connector_options = connector_options or {}
        self.max_workers = max_workers
        self.clock = clock
        self._connectors: dict[str, tuple[bytes, str | None, Connector]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------

    def sync(
        self, labels: Iterable[str] | None = None, days: int = DEFAULT_DAYS, progress: ProgressCallback | None = None
    ) -> list[AccountResult]:
        """Sync the accounts (all, or those labelled ``labels``) concurrently; one result per account.

        Never raises for an exchange failure: that is the account's ``error``. Raises
        ``AccountNotFound`` for an unknown label, ``bounds.InputError`` for ``days`` outside 1..730.
        """
        days = bounds.sync_days(days)  # raises InputError before any account is touched
        if labels is None:
            accounts = self.store.list_accounts()
        else:
            accounts = [self.store.get_account(label) for label in labels]
        if not accounts:
            return []
        if len(accounts) == 1:
            return [self.sync_account(accounts[0], days, progress)]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(accounts)), thread_name_prefix="sync") as pool:
            futures = [pool.submit(self.sync_account, acc, days, progress) for acc in accounts]
            return [f.result() for f in futures]

    def sync_account(
        self, account: Any, days: int = DEFAULT_DAYS, progress: ProgressCallback | None = None
    ) -> AccountResult:
        """Sync one account to completion or to a clear error; returns what happened."""
        days = bounds.sync_days(days)
        with self._account_lock(account.label):
            reporter = SyncProgress(account.label, account.exchange, self.bus, progress)
            return AccountSync(self.store, account, days, self._connector, reporter, self.clock).run()

    def close(self) -> None:
        with self._lock:
            items = list(self._connectors.values())
            self._connectors.clear()
        for _, _, conn in items:
            conn.close()

    # -- connectors and locks -----------------------------------------------------------------

    def _account_lock(self, label: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(label, threading.Lock())

    def _connector(self, account: Any) -> Connector:
        with self._lock:
            cached = self._connectors.get(account.label)
        if cached and cached[0] == account.credentials and cached[1] == account.base_url:
            return cached[2]
        creds = self.vault.decrypt_account(account)
        options = dict(self.connector_options.get(account.exchange, {}))
        connector = make_connector(creds, account.base_url or None, **options)
        with self._lock:
            old = self._connectors.get(account.label)
            self._connectors[account.label] = (account.credentials, account.base_url, connector)
        if old:
            old[2].close()
        return connector
