"""The database under the repositories: the SQLAlchemy engine for a SQLite file or PostgreSQL, one transaction
per write (``BEGIN IMMEDIATE`` on SQLite, so concurrent writers in several processes serialize instead of
failing half-way), reads, the dialect's INSERT (for upserts), and the migrations (Alembic, to the latest
schema, serialized on PostgreSQL by an advisory lock)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from perpvol_core.store.errors import StoreError

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 60
_MIGRATION_LOCK_ID = 0x70657270766F6C  # "perpvol"; PostgreSQL advisory lock serializing migrations
_PG_RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
PG_RETRIES = 5
_local_writes = [0]  # write transactions committed by this process (any Database): readers' cache checks
_local_writes_lock = threading.Lock()


def local_writes() -> int:
    """How many write transactions this process has committed so far: a reader that keeps something derived
    from the database between reads (``perpvol_app.api_memo``) knows from it that this process wrote."""
    return _local_writes[0]


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL, memory and URI databases)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def make_engine(url: str) -> Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        _install_sqlite_transactions(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True)
    raise StoreError(f"unsupported database URL scheme {parsed.drivername!r} (use sqlite:/// or postgresql+psycopg://)")


def _install_sqlite_transactions(engine: Engine) -> None:
    """Take over BEGIN from pysqlite so writes can be ``BEGIN IMMEDIATE`` and DDL is transactional."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite's implicit BEGIN is unreliable; we emit our own
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")  # readers never block the sync writer
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def is_retryable_pg(exc: sa.exc.DBAPIError) -> bool:
    """A PostgreSQL deadlock or serialization failure: the transaction may simply run again."""
    return getattr(exc.orig, "sqlstate", None) in _PG_RETRY_SQLSTATES


class Database:
    """One engine and its transactions. Raises StoreError for an unsupported URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect: str = self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn
        with _local_writes_lock:  # after the commit (an error skips it)
            _local_writes[0] += 1

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT (with ``on_conflict_do_*``)."""
        return (pg_dialect.insert if self.dialect == "postgresql" else sqlite_dialect.insert)(table)

    def migrate(self) -> None:
        """Upgrade the schema to the latest migration (one transaction; serialized on PostgreSQL)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def describe(self) -> str:
        """The URL without its password."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)
