"""Daily rollups: one row per (account, exchange, UTC day, market, liquidity, fill type, counted) with the exact
notional, the USD-asset fees and the fill count. Kept in the same transaction as the fills they sum
(:func:`add_to_rollups`, called by the fills repository), so a read never scans the fills."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, localcontext
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from perpvol_core import timeutil
from perpvol_core.store import models as m
from perpvol_core.store import read_cache, volume_totals
from perpvol_core.store.db import Database, chunks
from perpvol_core.store.frames import frame
from perpvol_core.store.meta import MetaRepository

#: Fee assets counted 1:1 as USD in rollups and reports.
USD_ASSETS = frozenset({"USDT", "USDC", "USD"})
#: Rows per upsert round trip.
UPSERT_CHUNK = 5000


def rollup_deltas(rows: Iterable[dict[str, Any]]) -> dict[tuple[Any, ...], list[Any]]:
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


def add_to_rollups(db: Database, conn: Connection, account_id: int, new_rows: list[dict[str, Any]]) -> None:
    """Add fill rows (just inserted, counted for ``account_id``) to the rollups, inside the caller's transaction."""
    volume_totals.add(conn, new_rows)  # the read totals, in the same transaction (store/volume_totals.py)
    deltas = rollup_deltas(new_rows)
    if db.dialect == "postgresql":
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
        for chunk in chunks(values, UPSERT_CHUNK):
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
                           "fills": count})  # fmt: skip
    sqlite_ins = sqlite_dialect.insert(m.rollups)
    excluded = sqlite_ins.excluded
    upsert = sqlite_ins.on_conflict_do_update(
        index_elements=list(m.ROLLUP_KEY),
        set_={"notional": excluded.notional, "fees": excluded.fees, "fills": excluded.fills},
    )
    for chunk in chunks(values, UPSERT_CHUNK):
        conn.execute(upsert, list(chunk))


class RollupRepository:
    """Reads of the daily rollups (writes happen with the fills)."""

    def __init__(self, db: Database, meta: MetaRepository) -> None:
        self.db = db
        self.meta = meta
    def frame(
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
        # every surface re-reads the same rollups (API requests, dashboard sessions); they change only when fills
        # are added or removed: kept in the store's one read cache under the data version
        key = ("rollups", start_day_ms, end_day_ms, exchange, market, account_id, self.meta.data_version())
        return read_cache.for_store(self.db).get(
            key, lambda: self._read(start_day_ms, end_day_ms, exchange, market, account_id)
        )

    def _read(
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
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        schema = {
            "account_id": pl.Int64, "exchange": pl.Utf8, "day_ms": pl.Int64, "market": pl.Utf8,
            "liquidity": pl.Utf8, "fill_type": pl.Utf8, "counted": pl.Boolean, "notional": pl.Decimal,
            "fees": pl.Decimal, "fills": pl.Int64,
        }  # fmt: skip
        return frame({name: [getattr(r, name) for r in rows] for name in schema}, schema)

    def markets_and_count(self, account_id: int) -> tuple[frozenset[str], int]:
        """The markets of an account's stored fills and how many it holds (counted copies), from the rollups."""
        r = m.rollups
        with self.db.read() as conn:
            markets = conn.execute(sa.select(r.c.market).where(r.c.account_id == account_id).distinct()).scalars()
            market_set = frozenset(str(x) for x in markets)
            count = conn.execute(sa.select(sa.func.sum(r.c.fills)).where(r.c.account_id == account_id)).scalar()
        return market_set, int(count or 0)
