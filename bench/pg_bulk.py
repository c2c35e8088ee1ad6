"""Bulk seeding of a PostgreSQL store for ``bench/load.py``: millions of fills in minutes, not hours.

The public ingest path (``Store.ingest_fills``) is the one the product uses and the one the tests check; on a
loaded two-core machine it stores about a thousand fills a second on PostgreSQL, so 5 million would take
longer than a session. Here the same synthesized fills go in with ``COPY``, and the derived tables are then
computed by the database from exactly those rows, by the store's rules (every fill here is its own first
copy: the two accounts' fill ids differ):

* ``rollups``: per (account, exchange, UTC day, market, liquidity, fill type, counted), the exact NUMERIC sums
  of the notional and of the fees paid in a USD asset, and the count;
* ``volume_totals``: the same for counted fills per (account, exchange, day or hour, liquidity);
* the data version is set afresh (``Store.set_meta``), as an ingest does.

Accounts are created with ``Store.add_account``; the schema is the store's own (``Store`` migrates).
"""

from __future__ import annotations

import io
import sys
import time
import uuid
from collections.abc import Iterable

import sqlalchemy as sa

from perpvol_core.fill import Fill

USD = ("USDT", "USDC", "USD")
COLUMNS = ("account_id", "exchange", "fill_id", "fill_type", "market", "side", "liquidity", "price", "size",
           "notional", "fee", "fee_asset", "ts_ms", "is_perp", "counted")  # fmt: skip


def copy_fills(url: str, account_id: int, batches: Iterable[list[Fill]]) -> int:
    """COPY the fills of ``batches`` into ``fills`` for ``account_id``; returns how many."""
    engine = sa.create_engine(url)
    raw = engine.raw_connection()
    done = 0
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY fills ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for batch in batches:
                buf = io.StringIO()
                for f in batch:
                    notional = f.price * f.size
                    buf.write(f"{account_id}\t{f.exchange}\t{f.fill_id}\t{f.fill_type}\t{f.market}\t{f.side}\t"
                              f"{f.liquidity}\t{f.price}\t{f.size}\t{notional}\t{f.fee}\t{f.fee_asset}\t{f.ts_ms}\t"
                              f"{'t' if f.is_perp else 'f'}\t{'t' if f.counted else 'f'}\n")  # fmt: skip
                copy.write(buf.getvalue())
                done += len(batch)
                print(f"  copied {done:>10,} fills", file=sys.stderr, flush=True)
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return done


def derive(url: str) -> None:
    """Rollups and volume totals of every stored fill, computed by PostgreSQL (exact NUMERIC sums)."""
    usd = ", ".join(f"'{a}'" for a in USD)
    fee = f"CASE WHEN upper(fee_asset) IN ({usd}) THEN fee ELSE 0 END"
    engine = sa.create_engine(url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM rollups"))
        conn.execute(sa.text(
            "INSERT INTO rollups (account_id, exchange, day_ms, market, liquidity, fill_type, counted, notional, "
            f"fees, fills) SELECT account_id, exchange, ts_ms - ts_ms % 86400000, market, liquidity, fill_type, "
            f"counted, sum(notional), sum({fee}), count(*) FROM fills "
            "GROUP BY account_id, exchange, ts_ms - ts_ms % 86400000, market, liquidity, fill_type, counted"
        ))  # fmt: skip
        conn.execute(sa.text("DELETE FROM volume_totals"))
        for span in (86_400_000, 3_600_000):
            conn.execute(sa.text(
                "INSERT INTO volume_totals (account_id, exchange, span_ms, start_ms, liquidity, notional, fees, "
                f"fills) SELECT account_id, exchange, {span}, ts_ms - ts_ms % {span}, liquidity, sum(notional), "
                f"sum({fee}), count(*) FROM fills WHERE counted "
                f"GROUP BY account_id, exchange, ts_ms - ts_ms % {span}, liquidity"
            ))  # fmt: skip
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    print(f"  rollups and volume totals derived in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def new_data_version(store: object) -> None:
    store.set_meta("data_version", uuid.uuid4().hex)  # type: ignore[attr-defined]
