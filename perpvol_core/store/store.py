"""The store: a thin facade over the repositories, so every caller keeps one object to hold.

* :mod:`~perpvol_core.store.db`: the engine (SQLite file or PostgreSQL), transactions, migrations;
* :mod:`~perpvol_core.store.accounts`: accounts (with encrypted credentials), status, identity, documents;
* :mod:`~perpvol_core.store.fills`: fills, ingested with their rollups and the page's sync state in one
  transaction; :mod:`~perpvol_core.store.rollups`: the daily rollups;
* :mod:`~perpvol_core.store.sync_states`: sync state, written only from a typed ``SyncUpdate``;
* :mod:`~perpvol_core.store.embed`: embed tokens; :mod:`~perpvol_core.store.meta`: meta and the data version.

Every write is one transaction; on SQLite writes start with ``BEGIN IMMEDIATE`` so concurrent writers (several
processes) serialize instead of failing half-way. The repositories are attributes (``store.accounts``,
``store.fills``, ``store.rollups``, ``store.sync_states``, ``store.embed_tokens``, ``store.meta``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from perpvol_core.config import Settings
from perpvol_core.fill import Fill
from perpvol_core.store.accounts import ACCOUNT_STATUSES, KEEP, Account, AccountRepository
from perpvol_core.store.db import Database, sqlite_file
from perpvol_core.store.embed import EmbedToken, EmbedTokenRepository
from perpvol_core.store.errors import AccountExists, AccountNotFound, StoreError
from perpvol_core.store.fills import FillRepository
from perpvol_core.store.meta import MetaRepository
from perpvol_core.store.rollups import USD_ASSETS, RollupRepository
from perpvol_core.store.rollups import rollup_deltas as _rollup_deltas  # noqa: F401 - the UI's snapshot reads it
from perpvol_core.store.sync_states import SyncStateRepository
from perpvol_core.store.syncstate import SyncState, SyncUpdate

_sqlite_file = sqlite_file  # the name store/existing.py reads

__all__ = [
    "ACCOUNT_STATUSES", "USD_ASSETS", "Account", "AccountExists", "AccountNotFound", "EmbedToken", "Store",
    "StoreError", "SyncState", "SyncUpdate",
]  # fmt: skip


class Store:
    """Persistent state of perpvol. ``Store(url)`` connects and migrates to the latest schema.

    Raises (constructor):
        StoreError: unsupported URL; sqlalchemy errors when the database is unreachable.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(url)
        self.dialect = self.db.dialect
        self._engine = self.db.engine  # raw access for tests that read or edit rows by hand
        self.meta = MetaRepository(self.db)
        self.sync_states = SyncStateRepository(self.db)
        self.rollups = RollupRepository(self.db, self.meta)
        self.fills = FillRepository(self.db, self.meta, self.sync_states)
        self.accounts = AccountRepository(self.db, self.meta, self.fills)
        self.embed_tokens = EmbedTokenRepository(self.db)
        self.db.migrate()

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open the configured database; creates ``PERPVOL_HOME`` (0700) and a SQLite file with mode 0600."""
        home = settings.ensure_home()
        st = home.stat()
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.chmod(home, 0o700)  # the folder holds the key file and the database
        db_file = sqlite_file(settings.database_url)
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not db_file.exists():
                os.close(os.open(db_file, os.O_CREAT | os.O_WRONLY, 0o600))
        store = cls(settings.database_url)
        if db_file is not None:
            for path in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
                if path.exists():
                    os.chmod(path, 0o600)
        return store

    def close(self) -> None:
        """Release pooled connections."""
        self.db.dispose()

    def __repr__(self) -> str:
        return f"Store({self.db.describe()!r})"

    # -- accounts (store/accounts.py) ---------------------------------------------------------------

    def add_account(self, label: str, exchange: str, base_url: str | None, credentials: bytes, hint: str) -> Account:
        return self.accounts.add(label, exchange, base_url, credentials, hint)

    def replace_credentials(self, label: str, credentials: bytes, hint: str, *, base_url: Any = KEEP) -> Account:
        return self.accounts.replace_credentials(label, credentials, hint, base_url=base_url)

    def get_account(self, label: str) -> Account:
        return self.accounts.get(label)

    def get_account_by_id(self, account_id: int) -> Account:
        return self.accounts.get_by_id(account_id)

    def list_accounts(self) -> list[Account]:
        return self.accounts.all()

    def remove_account(self, label: str) -> None:
        self.accounts.remove(label)

    def set_identity(self, label: str, identity: str | None) -> Account:
        return self.accounts.set_identity(label, identity)

    def set_account_doc(self, label: str, name: str, doc: dict[str, Any] | None) -> None:
        self.accounts.set_doc(label, name, doc)

    def set_status(self, label: str, status: str, error: str | None = None) -> None:
        self.accounts.set_status(label, status, error)

    def rewrite_credentials(self, transform: Callable[[Any, bytes], bytes], meta: dict[str, str] | None = None) -> int:
        return self.accounts.rewrite_credentials(transform, meta)

    # -- fills and rollups (store/fills.py, store/rollups.py) ---------------------------------------

    def ingest_fills(self, account_id: int, fills: Iterable[Fill], sync_update: SyncUpdate | None = None) -> int:
        return self.fills.ingest(account_id, fills, sync_update)

    def fill_counts(self) -> dict[int, int]:
        return self.fills.counts()

    def fill_count(self, account_id: int | None = None) -> int:
        return self.fills.count(account_id)

    def fill_facts(self, account_id: int) -> tuple[frozenset[str], int, int | None]:
        """What a connector may know of an account's stored fills: (markets, fills, newest fill's ms or None)."""
        markets, count = self.rollups.markets_and_count(account_id)
        return markets, count, self.fills.last_fill_ms(account_id)

    def fills_frame(
        self, start_ms: int | None = None, end_ms: int | None = None, exchange: str | None = None,
        account_id: int | None = None,
    ) -> pl.DataFrame:  # fmt: skip
        return self.fills.frame(start_ms, end_ms, exchange, account_id)

    def rollups_frame(
        self, start_day_ms: int | None = None, end_day_ms: int | None = None, exchange: str | None = None,
        market: str | None = None, account_id: int | None = None,
    ) -> pl.DataFrame:  # fmt: skip
        return self.rollups.frame(start_day_ms, end_day_ms, exchange, market, account_id)

    def counted_notional_between(self, start_ms: int, end_ms: int, exchange: str | None = None) -> dict[str, Decimal]:
        return self.fills.counted_notional_between(start_ms, end_ms, exchange)

    # -- sync state (store/sync_states.py) ----------------------------------------------------------

    def get_sync_state(self, account_id: int) -> SyncState:
        return self.sync_states.get(account_id)

    def update_sync_state(self, account_id: int, update: SyncUpdate) -> SyncState:
        return self.sync_states.update(account_id, update)

    # -- data version and meta (store/meta.py) ------------------------------------------------------

    def data_version(self) -> str:
        return self.meta.data_version()

    def get_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self.meta.set(key, value)

    def set_meta_if_absent(self, key: str, value: str) -> str:
        return self.meta.set_if_absent(key, value)

    # -- embed tokens (store/embed.py) --------------------------------------------------------------

    def add_embed_token(self, name: str, token_hash: str) -> EmbedToken:
        return self.embed_tokens.add(name, token_hash)

    def list_embed_tokens(self, include_revoked: bool = True) -> list[EmbedToken]:
        return self.embed_tokens.all(include_revoked)

    def revoke_embed_token(self, token_id: int) -> bool:
        return self.embed_tokens.revoke(token_id)

    def find_embed_token(self, token_hash: str) -> EmbedToken | None:
        return self.embed_tokens.find(token_hash)
