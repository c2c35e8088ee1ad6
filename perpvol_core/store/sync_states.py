"""The sync state repository: one row per account, read back checked (:mod:`~perpvol_core.store.syncstate`),
written only from a typed :class:`~perpvol_core.store.syncstate.SyncUpdate`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from perpvol_core import timeutil
from perpvol_core.store import models as m
from perpvol_core.store.db import Database
from perpvol_core.store.errors import AccountNotFound
from perpvol_core.store.syncstate import SyncState, SyncUpdate, checked_values, read_state


class SyncStateRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def values(update: SyncUpdate) -> dict[str, Any]:
        """The checked columns of ``update`` (raises before anything is written). Raises TypeError when it is
        not a SyncUpdate, InputError for a value out of range."""
        if not isinstance(update, SyncUpdate):
            raise TypeError(f"a sync state update is a SyncUpdate, not {type(update).__name__}")
        values = checked_values(update)  # typed and bounded
        values["updated_ms"] = timeutil.now_ms()
        return values

    def upsert(self, conn: Connection, account_id: int, values: dict[str, Any]) -> None:
        """Write checked ``values`` inside the caller's transaction (the ingest's, for a page)."""
        ins = self.db.insert(m.sync_state).values(account_id=account_id, **values)
        conn.execute(ins.on_conflict_do_update(index_elements=["account_id"], set_=values))

    def get(self, account_id: int) -> SyncState:
        """The account's sync state (defaults when it never synced)."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(m.sync_state).where(m.sync_state.c.account_id == account_id)).first()
        return read_state(account_id, row)

    def update(self, account_id: int, update: SyncUpdate) -> SyncState:
        """Apply ``update`` (``cursor`` is a JSON-able dict; ``last_error`` is redacted); returns the new state.

        Raises:
            bounds.InputError: a value out of range (nothing is written).  AccountNotFound: no account ``account_id``.
        """
        values = self.values(update)
        try:
            with self.db.write() as conn:
                self.upsert(conn, account_id, values)
        except sa.exc.IntegrityError as exc:
            raise AccountNotFound(f"no account with id {account_id}") from exc
        return self.get(account_id)
