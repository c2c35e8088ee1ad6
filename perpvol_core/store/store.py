"""The store: accounts (with encrypted credentials), fills, daily rollups, sync state, meta, embed tokens.

One class, :class:`Store`, over SQLAlchemy Core; works on SQLite files and PostgreSQL. Every write is one
transaction; on SQLite writes start with ``BEGIN IMMEDIATE`` so concurrent writers (several processes)
serialize instead of failing half-way.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from cachetools import LRUCache
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from perpvol_core import timeutil
from perpvol_core.config import Settings
from perpvol_core.fill import MAKER, TAKER, Fill
from perpvol_core.security.redaction import redact
from perpvol_core.store import conflicts
from perpvol_core.store import models as m
from perpvol_core.store.frames import frame
from perpvol_core.store.syncstate import SyncState, checked_values, read_state

log = logging.getLogger(__name__)

ACCOUNT_STATUSES = ("new", "ok", "syncing", "error")
#: Fee assets counted 1:1 as USD in rollups and reports.
USD_ASSETS = frozenset({"USDT", "USDC", "USD"})
#: Fills per INSERT round trip inside the one ingest transaction.
INGEST_CHUNK = 5000
DATA_VERSION_KEY = "data_version"
ROLLUPS_CACHE_SIZE = 64
SQLITE_BUSY_TIMEOUT_S = 60
_MIGRATION_LOCK_ID = 0x70657270766F6C  # "perpvol"; PostgreSQL advisory lock serializing migrations
_PG_RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
_PG_RETRIES = 5
#: the shape of a venue's name (``accounts.exchange`` is 20 characters wide)
_VENUE_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,19}")
_FILL_KEY = ("exchange", "fill_id", "fill_type")
_KEEP = object()


class StoreError(Exception):
    """The store cannot do what was asked; the message says why."""


class AccountExists(StoreError):
    """An account with this label already exists."""


class AccountNotFound(StoreError):
    """No account has this label (or id)."""


@dataclass
class Account:
    """One exchange account. ``credentials`` is the vault's ciphertext, never shown in a repr."""

    id: int
    label: str
    exchange: str
    base_url: str | None
    credentials: bytes = field(repr=False)
    hint: str
    status: str
    last_error: str | None
    created_ms: int
    identity: str | None = None
    server_profile: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    exchange_report: dict[str, Any] | None = None


@dataclass(frozen=True)
class EmbedToken:
    """A read-only embed link; only the hash of its token is stored."""

    id: int
    name: str
    token_hash: str
    created_ms: int
    revoked_ms: int | None


def _sqlite_file(url: str) -> Path | None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def _make_engine(url: str) -> Engine:
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


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _is_retryable_pg(exc: sa.exc.DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _PG_RETRY_SQLSTATES


def _fill_row(account_id: int, fill: Fill) -> dict[str, Any]:
    for name in ("price", "size", "fee"):
        value = getattr(fill, name)
        if not isinstance(value, Decimal):
            raise TypeError(f"fill {fill.fill_id}: {name} must be Decimal, got {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"fill {fill.fill_id}: {name} is not a finite decimal")
    if not isinstance(fill.ts_ms, int) or isinstance(fill.ts_ms, bool):
        raise TypeError(f"fill {fill.fill_id}: ts_ms must be int epoch milliseconds")
    if fill.liquidity not in (MAKER, TAKER):
        raise ValueError(f"fill {fill.fill_id}: liquidity must be MAKER or TAKER, got {fill.liquidity!r}")
    if not isinstance(fill.is_perp, bool) or not isinstance(fill.counted, bool):
        # the venue's rules live in its spec; the services classify (perpvol_core.exchanges.classify)
        raise ValueError(f"fill {fill.fill_id}: not classified (is_perp and counted are the venue's to set)")
    with localcontext() as ctx:
        ctx.prec = 80  # price × size stays exact for any realistic digits
        notional = fill.price * fill.size
    return {
        "account_id": account_id,
        "exchange": fill.exchange,
        "fill_id": str(fill.fill_id),
        "fill_type": fill.fill_type,
        "market": fill.market,
        "side": fill.side,
        "liquidity": fill.liquidity,
        "price": fill.price,
        "size": fill.size,
        "notional": notional,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "ts_ms": fill.ts_ms,
        "is_perp": fill.is_perp,
        "counted": fill.counted,
        "builder_fee": fill.builder_fee,
    }


def _rollup_deltas(rows: Iterable[dict[str, Any]]) -> dict[tuple[Any, ...], list[Any]]:
    """Sum new fills per rollup key: key -> [notional, usd fees, fill count] (exact)."""
    deltas: dict[tuple[Any, ...], list[Any]] = {}
    with localcontext() as ctx:
        ctx.prec = 80
        for row in rows:
            key = (
                row["account_id"],
                row["exchange"],
                timeutil.day_floor_ms(row["ts_ms"]),
                row["market"],
                row["liquidity"],
                row["fill_type"],
                row["counted"],
            )
            acc = deltas.setdefault(key, [Decimal(0), Decimal(0), 0])
            acc[0] += row["notional"]
            if row["fee_asset"].upper() in USD_ASSETS:
                acc[1] += row["fee"]
            acc[2] += 1
    return deltas


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        label=row.label,
        exchange=row.exchange,
        base_url=row.base_url,
        credentials=bytes(row.credentials),
        hint=row.hint,
        status=row.status,
        last_error=row.last_error,
        created_ms=row.created_ms,
        identity=row.identity,
        server_profile=_json_doc(row.server_profile),
        verification=_json_doc(row.verification),
        exchange_report=_json_doc(row.exchange_report),
    )


def _json_doc(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:  # a hand-edited cell: treat as unknown rather than failing every read
        return None
    return value if isinstance(value, dict) else None


def _embed(row: Any) -> EmbedToken:
    return EmbedToken(row.id, row.name, row.token_hash, row.created_ms, row.revoked_ms)


class Store:
    """Persistent state of perpvol. ``Store(url)`` connects and migrates to the latest schema.

    Raises (constructor):
        StoreError: unsupported URL; sqlalchemy errors when the database is unreachable.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = _make_engine(url)
        self.dialect: str = self._engine.dialect.name
        # rollups_frame results by (filters, data version): every surface re-reads the same rollups (API
        # requests, dashboard sessions), and they change only when fills are added or removed.
        self._rollups_cache: LRUCache[tuple[Any, ...], pl.DataFrame] = LRUCache(maxsize=ROLLUPS_CACHE_SIZE)
        self._rollups_cache_lock = threading.Lock()
        self._migrate()

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open the configured database; creates ``PERPVOL_HOME`` (0700) and a SQLite file with mode 0600."""
        home = settings.ensure_home()
        st = home.stat()
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.chmod(home, 0o700)  # the folder holds the key file and the database
        db_file = _sqlite_file(settings.database_url)
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
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Store({sa.engine.make_url(self.url).render_as_string(hide_password=True)!r})"

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        return (pg_dialect.insert if self.dialect == "postgresql" else sqlite_dialect.insert)(table)

    def _migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    # -- accounts -------------------------------------------------------------------------------

    def add_account(self, label: str, exchange: str, base_url: str | None, credentials: bytes, hint: str) -> Account:
        """Create an account with status ``new``.

        Raises:
            AccountExists: the label is taken.  ValueError: empty label, or an exchange that is not a venue's name
            (the services check it is one of the registry's; the store knows no venue).
        """
        label = label.strip()
        if not label:
            raise ValueError("label must not be empty")
        if not isinstance(exchange, str) or not _VENUE_NAME_RE.fullmatch(exchange):
            raise ValueError(f"{exchange!r} is not a venue's name (lower-case letters and digits, at most 20)")
        try:
            with self._write() as conn:
                if conn.execute(sa.select(m.accounts.c.id).where(m.accounts.c.label == label)).first():
                    raise AccountExists(f"an account labelled {label!r} already exists (use --replace)")
                conn.execute(
                    m.accounts.insert().values(
                        label=label,
                        exchange=exchange,
                        base_url=base_url,
                        credentials=bytes(credentials),
                        hint=hint,
                        status="new",
                        last_error=None,
                        created_ms=timeutil.now_ms(),
                    )
                )
        except sa.exc.IntegrityError as exc:  # a concurrent add of the same label (PostgreSQL)
            raise AccountExists(f"an account labelled {label!r} already exists (use --replace)") from exc
        return self.get_account(label)

    def replace_credentials(
        self, label: str, credentials: bytes, hint: str, *, base_url: str | None | object = _KEEP
    ) -> Account:
        """Swap the encrypted credentials (and optionally the base URL); status goes back to ``new``.

        Raises:
            AccountNotFound: no such label.
        """
        values: dict[str, Any] = {"credentials": bytes(credentials), "hint": hint, "status": "new", "last_error": None}
        if base_url is not _KEEP:
            values["base_url"] = base_url
        with self._write() as conn:
            res = conn.execute(m.accounts.update().where(m.accounts.c.label == label).values(**values))
            if res.rowcount == 0:
                raise AccountNotFound(f"no account labelled {label!r}")
        return self.get_account(label)

    def get_account(self, label: str) -> Account:
        """Raises: AccountNotFound."""
        with self._read() as conn:
            row = conn.execute(sa.select(m.accounts).where(m.accounts.c.label == label)).first()
        if row is None:
            raise AccountNotFound(f"no account labelled {label!r}")
        return _account(row)

    def get_account_by_id(self, account_id: int) -> Account:
        """Raises: AccountNotFound."""
        with self._read() as conn:
            row = conn.execute(sa.select(m.accounts).where(m.accounts.c.id == account_id)).first()
        if row is None:
            raise AccountNotFound(f"no account with id {account_id}")
        return _account(row)

    def list_accounts(self) -> list[Account]:
        """All accounts, ordered by label."""
        with self._read() as conn:
            rows = conn.execute(sa.select(m.accounts).order_by(m.accounts.c.label)).all()
        return [_account(r) for r in rows]

    def remove_account(self, label: str) -> None:
        """Delete the account with its fills, rollups and sync state, in one transaction.

        Raises:
            AccountNotFound: no such label.
        """
        with self._write() as conn:
            account_id = conn.execute(sa.select(m.accounts.c.id).where(m.accounts.c.label == label)).scalar()
            if account_id is None:
                raise AccountNotFound(f"no account labelled {label!r}")
            self._rehome_shared_fills(conn, account_id)
            for table in (m.fills, m.rollups, m.sync_state):
                conn.execute(table.delete().where(table.c.account_id == account_id))
            conflicts.forget(conn, account_id)
            conn.execute(m.accounts.delete().where(m.accounts.c.id == account_id))
            self._bump_data_version(conn)

    def set_identity(self, label: str, identity: str | None) -> Account:
        """Record the exchange's own identity of the account.

        Raises:
            AccountNotFound: no such label.  AccountExists: another label holds that identity.
        """
        try:
            with self._write() as conn:
                if identity is not None:
                    other = conn.execute(
                        sa.select(m.accounts.c.label).where(
                            m.accounts.c.identity == identity,
                            m.accounts.c.label != label,
                            m.accounts.c.exchange == sa.select(m.accounts.c.exchange)
                            .where(m.accounts.c.label == label)
                            .scalar_subquery(),
                        )
                    ).scalar()
                    if other is not None:
                        raise AccountExists(f"this exchange account is already stored as {other!r}")
                res = conn.execute(m.accounts.update().where(m.accounts.c.label == label).values(identity=identity))
                if res.rowcount == 0:
                    raise AccountNotFound(f"no account labelled {label!r}")
        except sa.exc.IntegrityError as exc:  # a concurrent writer took the identity (PostgreSQL)
            raise AccountExists("this exchange account is already stored under another label") from exc
        return self.get_account(label)

    def set_account_doc(self, label: str, name: str, doc: dict[str, Any] | None) -> None:
        """Store one of the account's JSON documents (``server_profile``, ``verification``, ``exchange_report``).

        Raises:
            AccountNotFound: no such label.  ValueError: unknown document name.
        """
        if name not in ("server_profile", "verification", "exchange_report"):
            raise ValueError(f"unknown account document {name!r}")
        text = None if doc is None else json.dumps(doc, sort_keys=True, default=str)
        with self._write() as conn:
            res = conn.execute(m.accounts.update().where(m.accounts.c.label == label).values({name: text}))
            if res.rowcount == 0:
                raise AccountNotFound(f"no account labelled {label!r}")

    def set_status(self, label: str, status: str, error: str | None = None) -> None:
        """Set ``status`` (new|ok|syncing|error) and the last error, which is stored redacted.

        Raises:
            AccountNotFound: no such label.  ValueError: unknown status.
        """
        if status not in ACCOUNT_STATUSES:
            raise ValueError(f"unknown status {status!r} (expected one of {', '.join(ACCOUNT_STATUSES)})")
        with self._write() as conn:
            res = conn.execute(
                m.accounts.update()
                .where(m.accounts.c.label == label)
                .values(status=status, last_error=redact(error) if error else None)
            )
            if res.rowcount == 0:
                raise AccountNotFound(f"no account labelled {label!r}")

    def rewrite_credentials(
        self, transform: Callable[[Any, bytes], bytes], meta: dict[str, str] | None = None
    ) -> int:
        """Replace every account's credential blob by ``transform(row, blob)`` and set ``meta``, in ONE transaction.

        ``row`` has the account's ``label``, ``exchange`` and ``base_url`` (the vault binds blobs to them).
        Used by master-key rotation: either every blob and the check value change, or none does.
        Returns the number of accounts rewritten. Raises whatever ``transform`` raises (nothing is changed).
        """
        with self._write() as conn:
            rows = conn.execute(
                sa.select(m.accounts.c.id, m.accounts.c.label, m.accounts.c.exchange, m.accounts.c.base_url,
                          m.accounts.c.credentials)
            ).all()
            for row in rows:
                conn.execute(
                    m.accounts.update()
                    .where(m.accounts.c.id == row.id)
                    .values(credentials=transform(row, bytes(row.credentials)))
                )
            for key, value in (meta or {}).items():
                self._put_meta(conn, key, value)
        return len(rows)

    # -- fills and rollups ------------------------------------------------------------------------

    def ingest_fills(self, account_id: int, fills: Iterable[Fill], sync_update: dict[str, Any] | None = None) -> int:
        """Store new fills, add ONLY the newly inserted ones to the rollups, apply ``sync_update``; one transaction.

        Fills already stored (same account, exchange, fill_id, fill_type) are ignored, so the same or an
        overlapping page ingested twice, or by two processes at once, changes nothing the second time; one
        whose content differs is recorded as the account's conflict (``store/conflicts.py``), not swallowed.
        Returns the number of newly inserted fills.

        Raises:
            AccountNotFound: no account ``account_id``.  TypeError/ValueError: a malformed fill
            (float money, non-int timestamp, unknown liquidity) or an unknown sync_update field.
        """
        # one row per identity; a later row of the page with the same identity and other content is reported
        unique, clashes = conflicts.in_batch([_fill_row(account_id, fill) for fill in fills])
        # a fixed order makes concurrent writers lock rows in the same order (no deadlocks on PostgreSQL)
        rows = [unique[k] for k in sorted(unique)]
        sync_values = self._sync_values(sync_update) if sync_update else None
        attempts = _PG_RETRIES if self.dialect == "postgresql" else 1
        for attempt in range(attempts):
            try:
                return self._ingest_once(account_id, rows, sync_values, clashes)
            except sa.exc.DBAPIError as exc:
                if attempt + 1 < attempts and _is_retryable_pg(exc):
                    log.info("ingest retried after %s", exc.orig.__class__.__name__)
                    continue
                raise
        raise AssertionError("unreachable")

    def _ingest_once(
        self, account_id: int, rows: list[dict[str, Any]], sync_values: dict[str, Any] | None,
        clashes: list[dict[str, Any]],
    ) -> int:
        with self._write() as conn:
            if conn.execute(sa.select(m.accounts.c.id).where(m.accounts.c.id == account_id)).first() is None:
                raise AccountNotFound(f"no account with id {account_id}")
            inserted: list[dict[str, Any]] = []
            for chunk in _chunks(rows, INGEST_CHUNK):
                inserted.extend(self._insert_new_fills(conn, chunk))
            if inserted:
                shared = self._held_elsewhere(conn, account_id, inserted)
                counted = [r for r in inserted if (r["exchange"], r["fill_id"], r["fill_type"]) not in shared]
                if counted:
                    self._add_to_rollups(conn, account_id, counted)
                self._bump_data_version(conn)
            new_keys = {(r["exchange"], r["fill_id"], r["fill_type"]) for r in inserted}
            held = [r for r in rows if (r["exchange"], r["fill_id"], r["fill_type"]) not in new_keys]
            conflicts.record(conn, account_id, clashes + conflicts.against_stored(conn, account_id, held),
                             self._put_meta)  # fmt: skip
            if sync_values:
                self._upsert_sync_state(conn, account_id, sync_values)
        return len(inserted)

    def _insert_new_fills(self, conn: Connection, chunk: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        stmt = (
            self._insert(m.fills)
            .on_conflict_do_nothing(index_elements=["account_id", *_FILL_KEY])
            .returning(m.fills.c.exchange, m.fills.c.fill_id, m.fills.c.fill_type)
        )
        new_keys = {tuple(r) for r in conn.execute(stmt, list(chunk))}
        return [row for row in chunk if (row["exchange"], row["fill_id"], row["fill_type"]) in new_keys]

    def _held_elsewhere(
        self, conn: Connection, account_id: int, rows: Sequence[dict[str, Any]]
    ) -> set[tuple[str, str, str]]:
        """Keys of ``rows`` another account already holds (one exchange fill stored under two labels).

        Such a fill is kept for both accounts but counted once: the rollups and the fill-level totals
        count only the first stored copy (lowest ``fills.id``) of each (exchange, fill_id, fill_type).
        """
        t = m.fills
        held: set[tuple[str, str, str]] = set()
        wanted = {(r["exchange"], r["fill_id"], r["fill_type"]) for r in rows}
        for chunk in _chunks(sorted({r["fill_id"] for r in rows}), 500):
            q = sa.select(t.c.exchange, t.c.fill_id, t.c.fill_type).where(
                t.c.fill_id.in_(list(chunk)), t.c.account_id != account_id
            )
            held.update(k for k in (tuple(r) for r in conn.execute(q)) if k in wanted)
        return held

    def _rehome_shared_fills(self, conn: Connection, account_id: int) -> None:
        """Before ``account_id``'s fills go: where it held the counted (first) copy of a fill another
        account also holds, count that account's copy instead, so the fill keeps counting once."""
        t = m.fills
        other = t.alias("other")
        mine = t.alias("mine")
        q = (
            sa.select(other, mine.c.id.label("mine_id"))
            .join(mine, sa.and_(mine.c.exchange == other.c.exchange, mine.c.fill_id == other.c.fill_id,
                                mine.c.fill_type == other.c.fill_type))
            .where(mine.c.account_id == account_id, other.c.account_id != account_id)
            .order_by(other.c.id)
        )  # fmt: skip
        heirs: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in conn.execute(q):
            heirs.setdefault((row.exchange, row.fill_id, row.fill_type), row._asdict())
        by_account: dict[int, list[dict[str, Any]]] = {}
        for heir in heirs.values():
            if heir["mine_id"] < heir["id"]:  # this account's copy was the counted one
                by_account.setdefault(int(heir["account_id"]), []).append(heir)
        for heir_account, rows in sorted(by_account.items()):
            self._add_to_rollups(conn, heir_account, rows)

    def _add_to_rollups(self, conn: Connection, account_id: int, new_rows: list[dict[str, Any]]) -> None:
        deltas = _rollup_deltas(new_rows)
        if self.dialect == "postgresql":
            ins = pg_dialect.insert(m.rollups)
            stmt = ins.on_conflict_do_update(
                index_elements=list(m.ROLLUP_KEY),
                set_={
                    "notional": m.rollups.c.notional + ins.excluded.notional,
                    "fees": m.rollups.c.fees + ins.excluded.fees,
                    "fills": m.rollups.c.fills + ins.excluded.fills,
                },
            )
            values = [
                {**dict(zip(m.ROLLUP_KEY, key, strict=True)), "notional": d[0], "fees": d[1], "fills": d[2]}
                for key, d in sorted(deltas.items())
            ]
            for chunk in _chunks(values, INGEST_CHUNK):
                conn.execute(stmt, list(chunk))
            return
        # SQLite: money is TEXT, so add in Python; BEGIN IMMEDIATE already serializes writers.
        days = [k[2] for k in deltas]
        existing = conn.execute(
            sa.select(m.rollups).where(
                m.rollups.c.account_id == account_id,
                m.rollups.c.day_ms >= min(days),
                m.rollups.c.day_ms <= max(days),
            )
        ).all()
        current = {tuple(getattr(r, c) for c in m.ROLLUP_KEY): r for r in existing}
        values = []
        with localcontext() as ctx:
            ctx.prec = 80
            for key, (notional, fees, count) in sorted(deltas.items()):
                old = current.get(key)
                if old is not None:
                    notional, fees, count = old.notional + notional, old.fees + fees, old.fills + count
                values.append({**dict(zip(m.ROLLUP_KEY, key, strict=True)), "notional": notional, "fees": fees,
                               "fills": count})
        sqlite_ins = sqlite_dialect.insert(m.rollups)
        excluded = sqlite_ins.excluded
        upsert = sqlite_ins.on_conflict_do_update(
            index_elements=list(m.ROLLUP_KEY),
            set_={"notional": excluded.notional, "fees": excluded.fees, "fills": excluded.fills},
        )
        for chunk in _chunks(values, INGEST_CHUNK):
            conn.execute(upsert, list(chunk))

    def fill_counts(self) -> dict[int, int]:
        """Stored fills per account id, in one query (accounts without fills are absent)."""
        t = m.fills
        with self._read() as conn:
            rows = conn.execute(sa.select(t.c.account_id, sa.func.count()).group_by(t.c.account_id)).all()
        return {int(account_id): int(count) for account_id, count in rows}

    def fill_count(self, account_id: int | None = None) -> int:
        """Number of stored fills (of one account or all)."""
        q = sa.select(sa.func.count()).select_from(m.fills)
        if account_id is not None:
            q = q.where(m.fills.c.account_id == account_id)
        with self._read() as conn:
            return int(conn.execute(q).scalar() or 0)

    def fill_facts(self, account_id: int) -> tuple[frozenset[str], int, int | None]:
        """What a connector may know of an account's stored fills: (markets, fills, newest fill's ms or None).

        Markets and count from the rollups (one row per day and market), the newest time from the
        (account, time) index: cheap at any size."""
        r, f = m.rollups, m.fills
        with self._read() as conn:
            markets = conn.execute(sa.select(r.c.market).where(r.c.account_id == account_id).distinct()).scalars()
            market_set = frozenset(str(x) for x in markets)
            count = conn.execute(sa.select(sa.func.sum(r.c.fills)).where(r.c.account_id == account_id)).scalar()
            last = conn.execute(sa.select(sa.func.max(f.c.ts_ms)).where(f.c.account_id == account_id)).scalar()
        return market_set, int(count or 0), None if last is None else int(last)

    def fills_frame(
        self,
        start_ms: int | None = None,
        end_ms: int | None = None,
        exchange: str | None = None,
        account_id: int | None = None,
    ) -> pl.DataFrame:
        """Fills with ``start_ms <= ts_ms < end_ms`` ordered by time; money columns are exact polars Decimal.

        Columns: id, account_id, exchange, fill_id, fill_type, market, side, liquidity, price, size,
        notional, fee, fee_asset, ts_ms, is_perp, counted.
        """
        t = m.fills
        q = sa.select(t).order_by(t.c.ts_ms, t.c.id)
        if start_ms is not None:
            q = q.where(t.c.ts_ms >= start_ms)
        if end_ms is not None:
            q = q.where(t.c.ts_ms < end_ms)
        if exchange is not None:
            q = q.where(t.c.exchange == exchange)
        if account_id is not None:
            q = q.where(t.c.account_id == account_id)
        with self._read() as conn:
            rows = conn.execute(q).all()
        schema = {
            "id": pl.Int64, "account_id": pl.Int64, "exchange": pl.Utf8, "fill_id": pl.Utf8, "fill_type": pl.Utf8,
            "market": pl.Utf8, "side": pl.Utf8, "liquidity": pl.Utf8, "price": pl.Decimal, "size": pl.Decimal,
            "notional": pl.Decimal, "fee": pl.Decimal, "fee_asset": pl.Utf8, "ts_ms": pl.Int64,
            "is_perp": pl.Boolean, "counted": pl.Boolean,
        }  # fmt: skip
        return frame({name: [getattr(r, name) for r in rows] for name in schema}, schema)

    def rollups_frame(
        self,
        start_day_ms: int | None = None,
        end_day_ms: int | None = None,
        exchange: str | None = None,
        market: str | None = None,
        account_id: int | None = None,
    ) -> pl.DataFrame:
        """Daily rollups with ``start_day_ms <= day_ms <= end_day_ms`` (both UTC midnights, inclusive).

        Columns: account_id, exchange, day_ms, market, liquidity, fill_type, counted, notional (Decimal),
        fees (Decimal, USD-asset fees only), fills.
        """
        key = (start_day_ms, end_day_ms, exchange, market, account_id, self.data_version())
        with self._rollups_cache_lock:
            cached = self._rollups_cache.get(key)
        if cached is not None:
            return cached
        result = self._read_rollups(start_day_ms, end_day_ms, exchange, market, account_id)
        with self._rollups_cache_lock:
            self._rollups_cache[key] = result
        return result

    def _read_rollups(
        self,
        start_day_ms: int | None,
        end_day_ms: int | None,
        exchange: str | None,
        market: str | None,
        account_id: int | None,
    ) -> pl.DataFrame:
        t = m.rollups
        q = sa.select(t).order_by(t.c.day_ms, t.c.exchange, t.c.market)
        if start_day_ms is not None:
            q = q.where(t.c.day_ms >= start_day_ms)
        if end_day_ms is not None:
            q = q.where(t.c.day_ms <= end_day_ms)
        if exchange is not None:
            q = q.where(t.c.exchange == exchange)
        if market is not None:
            q = q.where(t.c.market == market)
        if account_id is not None:
            q = q.where(t.c.account_id == account_id)
        with self._read() as conn:
            rows = conn.execute(q).all()
        schema = {
            "account_id": pl.Int64, "exchange": pl.Utf8, "day_ms": pl.Int64, "market": pl.Utf8,
            "liquidity": pl.Utf8, "fill_type": pl.Utf8, "counted": pl.Boolean, "notional": pl.Decimal,
            "fees": pl.Decimal, "fills": pl.Int64,
        }  # fmt: skip
        return frame({name: [getattr(r, name) for r in rows] for name in schema}, schema)

    def counted_notional_between(self, start_ms: int, end_ms: int, exchange: str | None = None) -> dict[str, Decimal]:
        """Exact counted notional per exchange of fills with ``start_ms <= ts_ms < end_ms`` (from the fills table)."""
        t = m.fills
        totals: dict[str, Decimal] = {}
        if start_ms >= end_ms:
            return totals
        earlier = t.alias("earlier")
        first_copy = ~sa.exists().where(  # a fill stored under two labels counts once (its first copy)
            earlier.c.exchange == t.c.exchange, earlier.c.fill_id == t.c.fill_id,
            earlier.c.fill_type == t.c.fill_type, earlier.c.id < t.c.id,
        )  # fmt: skip
        where = [t.c.counted.is_(True), t.c.ts_ms >= start_ms, t.c.ts_ms < end_ms, first_copy]
        if exchange is not None:
            where.append(t.c.exchange == exchange)
        with self._read() as conn:
            if self.dialect == "postgresql":  # exact NUMERIC sum in the database
                q = sa.select(t.c.exchange, sa.func.sum(t.c.notional)).where(*where).group_by(t.c.exchange)
                for exch, total in conn.execute(q):
                    totals[exch] = Decimal(total)
                return totals
            rows = conn.execute(sa.select(t.c.exchange, t.c.notional).where(*where)).all()
        with localcontext() as ctx:
            ctx.prec = 80
            for exch, notional in rows:
                totals[exch] = totals.get(exch, Decimal(0)) + notional
        return totals

    # -- sync state -------------------------------------------------------------------------------

    @staticmethod
    def _sync_values(fields: dict[str, Any]) -> dict[str, Any]:
        values = checked_values(fields)  # typed and bounded (store/syncstate.py)
        values["updated_ms"] = timeutil.now_ms()
        return values

    def _upsert_sync_state(self, conn: Connection, account_id: int, values: dict[str, Any]) -> None:
        ins = self._insert(m.sync_state).values(account_id=account_id, **values)
        conn.execute(ins.on_conflict_do_update(index_elements=["account_id"], set_=values))

    def get_sync_state(self, account_id: int) -> SyncState:
        """The account's sync state (defaults when it never synced)."""
        with self._read() as conn:
            row = conn.execute(sa.select(m.sync_state).where(m.sync_state.c.account_id == account_id)).first()
        return read_state(account_id, row)

    def update_sync_state(self, account_id: int, **fields: Any) -> SyncState:
        """Set the given SyncState fields (``cursor`` is a JSON-able dict; ``last_error`` is redacted).

        Raises:
            ValueError: unknown field, or ``bounds.InputError`` for a value out of range (nothing is written).
            AccountNotFound: no account ``account_id``.
        """
        values = self._sync_values(fields)
        try:
            with self._write() as conn:
                self._upsert_sync_state(conn, account_id, values)
        except sa.exc.IntegrityError as exc:
            raise AccountNotFound(f"no account with id {account_id}") from exc
        return self.get_sync_state(account_id)

    # -- data version -----------------------------------------------------------------------------

    def _bump_data_version(self, conn: Connection) -> None:
        # a fresh random value, not a counter: concurrent writers need no read-modify-write
        self._put_meta(conn, DATA_VERSION_KEY, uuid.uuid4().hex)

    def data_version(self) -> str:
        """Changes (in every process) whenever fills are added or removed; one indexed read."""
        return self.get_meta(DATA_VERSION_KEY) or ""

    # -- meta -------------------------------------------------------------------------------------

    def _put_meta(self, conn: Connection, key: str, value: str) -> None:
        ins = self._insert(m.meta).values(key=key, value=value)
        conn.execute(ins.on_conflict_do_update(index_elements=["key"], set_={"value": value}))

    def get_meta(self, key: str) -> str | None:
        with self._read() as conn:
            return conn.execute(sa.select(m.meta.c.value).where(m.meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            self._put_meta(conn, key, value)

    def set_meta_if_absent(self, key: str, value: str) -> str:
        """Store ``value`` unless ``key`` is already set; returns the value now stored (race-free)."""
        with self._write() as conn:
            conn.execute(self._insert(m.meta).values(key=key, value=value).on_conflict_do_nothing())
            return conn.execute(sa.select(m.meta.c.value).where(m.meta.c.key == key)).scalar_one()

    # -- embed tokens ------------------------------------------------------------------------------

    def add_embed_token(self, name: str, token_hash: str) -> EmbedToken:
        """Record a new embed token by its hash. Raises: StoreError when the hash already exists."""
        try:
            with self._write() as conn:
                token_id = conn.execute(
                    m.embed_tokens.insert()
                    .values(name=name, token_hash=token_hash, created_ms=timeutil.now_ms())
                    .returning(m.embed_tokens.c.id)
                ).scalar_one()
        except sa.exc.IntegrityError as exc:
            raise StoreError("an embed token with this hash already exists") from exc
        with self._read() as conn:
            return _embed(conn.execute(sa.select(m.embed_tokens).where(m.embed_tokens.c.id == token_id)).one())

    def list_embed_tokens(self, include_revoked: bool = True) -> list[EmbedToken]:
        q = sa.select(m.embed_tokens).order_by(m.embed_tokens.c.id)
        if not include_revoked:
            q = q.where(m.embed_tokens.c.revoked_ms.is_(None))
        with self._read() as conn:
            return [_embed(r) for r in conn.execute(q)]

    def revoke_embed_token(self, token_id: int) -> bool:
        """Revoke a token; False when it does not exist or was already revoked."""
        with self._write() as conn:
            res = conn.execute(
                m.embed_tokens.update()
                .where(m.embed_tokens.c.id == token_id, m.embed_tokens.c.revoked_ms.is_(None))
                .values(revoked_ms=timeutil.now_ms())
            )
            return res.rowcount > 0

    def find_embed_token(self, token_hash: str) -> EmbedToken | None:
        """The active (not revoked) token with this hash, if any."""
        q = sa.select(m.embed_tokens).where(
            m.embed_tokens.c.token_hash == token_hash, m.embed_tokens.c.revoked_ms.is_(None)
        )
        with self._read() as conn:
            row = conn.execute(q).first()
        return _embed(row) if row else None

