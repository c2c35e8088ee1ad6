"""Counted perp volume per account, exchange, UTC day or hour and liquidity: the table every volume read uses.

``volume_totals`` holds, for the counted fills only (the first stored copy of a fill held by two labels, as
the rollups count it), one row per (account, exchange, span, bucket start, liquidity) with the exact
notional, the USD-asset fees and the number of fills. ``span`` is a day (``MS_PER_DAY``) or an hour
(``MS_PER_HOUR``): days answer the daily series, any date range and "all time" with a few thousand rows at
millions of fills; hours let a rolling window (24h, 7d, 30d) read only the two partial hours at its ends
from the fills table.

The rows are written in the SAME transaction as the fills (the store's rollup hook calls :func:`add`) and
deleted with the account (:func:`forget`), so a read never scans the fills and never sees totals of other
fills than the ones stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, localcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from perpvol_core.store import models as m

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
SPANS = (MS_PER_DAY, MS_PER_HOUR)
#: Fee assets counted 1:1 as USD (as the rollups count them).
USD_ASSETS = frozenset({"USDT", "USDC", "USD"})
TOTALS_KEY = ("account_id", "exchange", "span_ms", "start_ms", "liquidity")
_CHUNK = 5000

volume_totals = sa.Table(
    "volume_totals",
    m.metadata,
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("exchange", sa.String(20), nullable=False),
    sa.Column("span_ms", sa.Integer, nullable=False),
    sa.Column("start_ms", sa.BigInteger, nullable=False),
    sa.Column("liquidity", sa.String(10), nullable=False),
    sa.Column("notional", m.Money, nullable=False),
    sa.Column("fees", m.Money, nullable=False),
    sa.Column("fills", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint(*TOTALS_KEY, name="pk_volume_totals"),
    sa.Index("ix_volume_totals_span_start", "span_ms", "start_ms"),
)


def deltas(rows: Iterable[dict[str, Any]]) -> dict[tuple[Any, ...], list[Any]]:
    """Exact sums of the counted ``rows`` (fill rows as the store writes them) per totals key:
    key -> [notional, USD fees, fills]. Uncounted fills (spot, funding, ...) are not volume and are skipped."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    with localcontext() as ctx:
        ctx.prec = 80
        for row in rows:
            if not row["counted"]:
                continue
            ts = row["ts_ms"]
            usd_fee = row["fee"] if row["fee_asset"].upper() in USD_ASSETS else None
            for span in SPANS:
                key = (row["account_id"], row["exchange"], span, ts - ts % span, row["liquidity"])
                acc = out.setdefault(key, [Decimal(0), Decimal(0), 0])
                acc[0] += row["notional"]
                if usd_fee is not None:
                    acc[1] += usd_fee
                acc[2] += 1
    return out


def add(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Add the newly counted fill ``rows`` to the totals, inside the caller's (the ingest's) transaction."""
    sums = deltas(rows)
    if sums:
        apply(conn, sums)


def apply(conn: Connection, sums: dict[tuple[Any, ...], list[Any]]) -> None:
    """Add ``sums`` (as :func:`deltas` returns them) to the stored totals.

    PostgreSQL adds exact NUMERICs in the upsert; on SQLite money is TEXT, so the current rows are read and
    the sums are added in Python (the write transaction is ``BEGIN IMMEDIATE``: no other writer interleaves).
    """
    t = volume_totals
    if conn.dialect.name == "postgresql":
        ins = pg_dialect.insert(t)
        stmt = ins.on_conflict_do_update(
            index_elements=list(TOTALS_KEY),
            set_={"notional": t.c.notional + ins.excluded.notional, "fees": t.c.fees + ins.excluded.fees,
                  "fills": t.c.fills + ins.excluded.fills},
        )  # fmt: skip
        values = [_row(key, d) for key, d in sorted(sums.items())]
        for start in range(0, len(values), _CHUNK):
            conn.execute(stmt, values[start : start + _CHUNK])
        return
    current: dict[tuple[Any, ...], Any] = {}
    for account_id in sorted({k[0] for k in sums}):
        for span in SPANS:
            starts = [k[3] for k in sums if k[0] == account_id and k[2] == span]
            if not starts:
                continue
            q = sa.select(t).where(t.c.account_id == account_id, t.c.span_ms == span,
                                   t.c.start_ms >= min(starts), t.c.start_ms <= max(starts))  # fmt: skip
            for r in conn.execute(q):
                current[tuple(getattr(r, c) for c in TOTALS_KEY)] = r
    values = []
    with localcontext() as ctx:
        ctx.prec = 80
        for key, (notional, fees, count) in sorted(sums.items()):
            old = current.get(key)
            if old is not None:
                notional, fees, count = old.notional + notional, old.fees + fees, old.fills + count
            values.append(_row(key, [notional, fees, count]))
    ins_sqlite = sqlite_dialect.insert(t)
    upsert = ins_sqlite.on_conflict_do_update(
        index_elements=list(TOTALS_KEY),
        set_={"notional": ins_sqlite.excluded.notional, "fees": ins_sqlite.excluded.fees,
              "fills": ins_sqlite.excluded.fills},
    )  # fmt: skip
    for start in range(0, len(values), _CHUNK):
        conn.execute(upsert, values[start : start + _CHUNK])


def _row(key: tuple[Any, ...], d: Sequence[Any]) -> dict[str, Any]:
    return {**dict(zip(TOTALS_KEY, key, strict=True)), "notional": d[0], "fees": d[1], "fills": d[2]}


def forget(conn: Connection, account_id: int) -> None:
    """Delete the account's totals (with its fills, in the same transaction)."""
    conn.execute(volume_totals.delete().where(volume_totals.c.account_id == account_id))


def rebuild(conn: Connection, since_ms: int | None = None) -> int:
    """Recompute every total from the stored fills (the counted first copies), in ``conn``'s transaction.

    ``since_ms`` limits the HOUR rows to fills at or after it (the day rows always cover every fill): the
    rolling windows never read hours older than 30 days, so a migration of a big store only needs recent
    hours. Streams the fills; returns the number of fills summed.
    """
    t = m.fills
    conn.execute(volume_totals.delete())
    earlier = t.alias("earlier")
    first_copy = ~sa.exists().where(
        earlier.c.exchange == t.c.exchange, earlier.c.fill_id == t.c.fill_id,
        earlier.c.fill_type == t.c.fill_type, earlier.c.id < t.c.id,
    )  # fmt: skip
    cols = (t.c.account_id, t.c.exchange, t.c.ts_ms, t.c.liquidity, t.c.notional, t.c.fee, t.c.fee_asset)
    q = sa.select(*cols).where(t.c.counted.is_(True), first_copy)
    sums: dict[tuple[Any, ...], list[Any]] = {}
    n = 0
    with localcontext() as ctx:
        ctx.prec = 80
        for r in conn.execute(q.execution_options(yield_per=20_000)):
            n += 1
            usd_fee = r.fee if r.fee_asset.upper() in USD_ASSETS else None
            for span in SPANS:
                if span == MS_PER_HOUR and since_ms is not None and r.ts_ms < since_ms:
                    continue
                key = (r.account_id, r.exchange, span, r.ts_ms - r.ts_ms % span, r.liquidity)
                acc = sums.setdefault(key, [Decimal(0), Decimal(0), 0])
                acc[0] += r.notional
                if usd_fee is not None:
                    acc[1] += usd_fee
                acc[2] += 1
    if sums:
        apply(conn, sums)
    return n
