"""The ``meta`` key/value table, and the data version: a value that changes (in every process) whenever fills
are added or removed, so readers can key their caches on it."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from perpvol_core.store import models as m
from perpvol_core.store.db import Database

DATA_VERSION_KEY = "data_version"


class MetaRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, conn: Connection, key: str, value: str) -> None:
        """Set ``key`` inside the caller's transaction."""
        ins = self.db.insert(m.meta).values(key=key, value=value)
        conn.execute(ins.on_conflict_do_update(index_elements=["key"], set_={"value": value}))

    def get(self, key: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(sa.select(m.meta.c.value).where(m.meta.c.key == key)).scalar()

    def set(self, key: str, value: str) -> None:
        with self.db.write() as conn:
            self.put(conn, key, value)

    def set_if_absent(self, key: str, value: str) -> str:
        """Store ``value`` unless ``key`` is already set; returns the value now stored (race-free)."""
        with self.db.write() as conn:
            conn.execute(self.db.insert(m.meta).values(key=key, value=value).on_conflict_do_nothing())
            return conn.execute(sa.select(m.meta.c.value).where(m.meta.c.key == key)).scalar_one()

    def bump_data_version(self, conn: Connection) -> None:
        """A new data version inside the caller's transaction (the one that adds or removes fills)."""
        # a fresh random value, not a counter: concurrent writers need no read-modify-write
        self.put(conn, DATA_VERSION_KEY, uuid.uuid4().hex)

    def data_version(self) -> str:
        """Changes (in every process) whenever fills are added or removed; one indexed read."""
        return self.get(DATA_VERSION_KEY) or ""
