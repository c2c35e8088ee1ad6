"""The fills repository: ingest (new fills, their rollups, conflicts and the page's sync state in ONE
transaction), counts and reads.

A fill's identity is (account, exchange, fill_id, fill_type): a page ingested twice, or by two processes at
once, changes nothing the second time. One exchange fill stored under two labels is kept for both and
counted once (its first stored copy)."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Sequence
from decimal import Decimal, localcontext
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from perpvol_core.fill import MAKER, TAKER, Fill
from perpvol_core.store import conflicts
from perpvol_core.store import models as m
from perpvol_core.store.db import PG_RETRIES, Database, chunks, is_retryable_pg
from perpvol_core.store.errors import AccountNotFound
from perpvol_core.store.frames import frame
from perpvol_core.store.meta import MetaRepository
from perpvol_core.store.rollups import add_to_rollups
from perpvol_core.store.sync_states import SyncStateRepository
from perpvol_core.store.syncstate import SyncUpdate

log = logging.getLogger(__name__)

#: Fills per INSERT round trip inside the one ingest transaction.
INGEST_CHUNK = 5000
FILL_KEY = ("exchange", "fill_id", "fill_type")


def fill_row(account_id: int, fill: Fill) -> dict[str, Any]:
    """The stored row of a classified fill (exact notional). Raises TypeError/ValueError for a malformed fill."""
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
        "account_id": account_id, "exchange": fill.exchange, "fill_id": str(fill.fill_id),
        "fill_type": fill.fill_type, "market": fill.market, "side": fill.side, "liquidity": fill.liquidity,
        "price": fill.price, "size": fill.size, "notional": notional, "fee": fill.fee, "fee_asset": fill.fee_asset,
        "ts_ms": fill.ts_ms, "is_perp": fill.is_perp, "counted": fill.counted, "builder_fee": fill.builder_fee,
    }  # fmt: skip


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["exchange"], row["fill_id"], row["fill_type"]


class FillRepository:
    def __init__(self, db: Database, meta: MetaRepository, sync_states: SyncStateRepository) -> None:
        self.db = db
        self.meta = meta
        self.sync_states = sync_states

    # -- writes -----------------------------------------------------------------------------------

    def ingest(self, account_id: int, fills: Iterable[Fill], sync_update: SyncUpdate | None = None) -> int:
        """Store new fills, add ONLY the newly inserted ones to the rollups, apply ``sync_update``; one transaction.

        Fills already stored are ignored; one whose content differs is recorded as the account's conflict
        (``store/conflicts.py``), not swallowed. Returns the number of newly inserted fills.

        Raises:
            AccountNotFound: no account ``account_id``.  TypeError/ValueError: a malformed fill (float money,
            non-int timestamp, unknown liquidity) or a sync_update that is not a SyncUpdate; InputError: a
            sync_update value out of range (nothing is written).
        """
        # one row per identity; a later row of the page with the same identity and other content is reported
        unique, clashes = conflicts.in_batch([fill_row(account_id, fill) for fill in fills])
        # a fixed order makes concurrent writers lock rows in the same order (no deadlocks on PostgreSQL)
        rows = [unique[k] for k in sorted(unique)]
        sync_values = self.sync_states.values(sync_update) if sync_update is not None else None
        attempts = PG_RETRIES if self.db.dialect == "postgresql" else 1
        for attempt in range(attempts):
            try:
                return self._ingest_once(account_id, rows, sync_values, clashes)
            except sa.exc.DBAPIError as exc:
                if attempt + 1 < attempts and is_retryable_pg(exc):
                    log.info("ingest retried after %s", exc.orig.__class__.__name__)
                    continue
                raise
        raise AssertionError("unreachable")

    def _ingest_once(
        self, account_id: int, rows: list[dict[str, Any]], sync_values: dict[str, Any] | None,
        clashes: list[dict[str, Any]],
    ) -> int:  # fmt: skip
        with self.db.write() as conn:
            if conn.execute(sa.select(m.accounts.c.id).where(m.accounts.c.id == account_id)).first() is None:
                raise AccountNotFound(f"no account with id {account_id}")
            self._lock_venues(conn, rows)
            inserted: list[dict[str, Any]] = []
            for chunk in chunks(rows, INGEST_CHUNK):
                inserted.extend(self._insert_new(conn, chunk))
            if inserted:
                shared = self._held_elsewhere(conn, account_id, inserted)
                counted = [r for r in inserted if _key(r) not in shared]
                if counted:
                    add_to_rollups(self.db, conn, account_id, counted)
                self.meta.bump_data_version(conn)
            new_keys = {_key(r) for r in inserted}
            held = [r for r in rows if _key(r) not in new_keys]
            conflicts.record(conn, account_id, clashes + conflicts.against_stored(conn, account_id, held),
                             self.meta.put)  # fmt: skip
            if sync_values:
                self.sync_states.upsert(conn, account_id, sync_values)
        return len(inserted)

    def _lock_venues(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """PostgreSQL: one ingest per venue at a time (a transaction-scoped advisory lock), so two accounts
        storing the same fill at once (a master and its sub-account) see each other's copy and count it
        once; under READ COMMITTED neither would see the other's uncommitted row. SQLite's BEGIN IMMEDIATE
        already serializes every writer."""
        if self.db.dialect != "postgresql":
            return
        for exchange in sorted({r["exchange"] for r in rows}):  # a fixed order: no deadlock between venues
            key = zlib.crc32(f"perpvol.ingest:{exchange}".encode())
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _insert_new(self, conn: Connection, chunk: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        stmt = (
            self.db.insert(m.fills)
            .on_conflict_do_nothing(index_elements=["account_id", *FILL_KEY])
            .returning(m.fills.c.exchange, m.fills.c.fill_id, m.fills.c.fill_type)
        )
        new_keys = {tuple(r) for r in conn.execute(stmt, list(chunk))}
        return [row for row in chunk if _key(row) in new_keys]

    def _held_elsewhere(
        self, conn: Connection, account_id: int, rows: Sequence[dict[str, Any]]
    ) -> set[tuple[str, str, str]]:
        """Keys of ``rows`` another account already holds (one exchange fill stored under two labels).

        Such a fill is kept for both accounts but counted once: the rollups and the fill-level totals
        count only the first stored copy (lowest ``fills.id``) of each (exchange, fill_id, fill_type).
        """
        t = m.fills
        held: set[tuple[str, str, str]] = set()
        wanted = {_key(r) for r in rows}
        for chunk in chunks(sorted({r["fill_id"] for r in rows}), 500):
            q = sa.select(t.c.exchange, t.c.fill_id, t.c.fill_type).where(
                t.c.fill_id.in_(list(chunk)), t.c.account_id != account_id
            )
            held.update(k for k in (tuple(r) for r in conn.execute(q)) if k in wanted)
        return held

    def remove_account_fills(self, conn: Connection, account_id: int) -> None:
        """Inside the caller's transaction: delete the account's fills and rollups, first handing the count of
        each fill it held the counted (first) copy of to another account that holds one too."""
        self._rehome_shared_fills(conn, account_id)
        for table in (m.fills, m.rollups):
            conn.execute(table.delete().where(table.c.account_id == account_id))
        self.meta.bump_data_version(conn)

    def _rehome_shared_fills(self, conn: Connection, account_id: int) -> None:
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
            add_to_rollups(self.db, conn, heir_account, rows)

    # -- reads ------------------------------------------------------------------------------------

    def counts(self) -> dict[int, int]:
        """Stored fills per account id, in one query (accounts without fills are absent)."""
        t = m.fills
        with self.db.read() as conn:
            rows = conn.execute(sa.select(t.c.account_id, sa.func.count()).group_by(t.c.account_id)).all()
        return {int(account_id): int(count) for account_id, count in rows}

    def count(self, account_id: int | None = None) -> int:
        """Number of stored fills (of one account or all)."""
        q = sa.select(sa.func.count()).select_from(m.fills)
        if account_id is not None:
            q = q.where(m.fills.c.account_id == account_id)
        with self.db.read() as conn:
            return int(conn.execute(q).scalar() or 0)

    def last_fill_ms(self, account_id: int) -> int | None:
        """The time of the account's newest stored fill (the (account, time) index), None without fills."""
        t = m.fills
        with self.db.read() as conn:
            last = conn.execute(sa.select(sa.func.max(t.c.ts_ms)).where(t.c.account_id == account_id)).scalar()
        return None if last is None else int(last)

    def frame(
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
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        schema = {
            "id": pl.Int64, "account_id": pl.Int64, "exchange": pl.Utf8, "fill_id": pl.Utf8, "fill_type": pl.Utf8,
            "market": pl.Utf8, "side": pl.Utf8, "liquidity": pl.Utf8, "price": pl.Decimal, "size": pl.Decimal,
            "notional": pl.Decimal, "fee": pl.Decimal, "fee_asset": pl.Utf8, "ts_ms": pl.Int64,
            "is_perp": pl.Boolean, "counted": pl.Boolean,
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
        with self.db.read() as conn:
            if self.db.dialect == "postgresql":  # exact NUMERIC sum in the database
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
