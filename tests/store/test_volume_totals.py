"""``volume_totals`` (kept in the ingest transaction) against an independent SQL sum over the fills, on both
databases; the reads over it against a scan of the fills; the one read cache (new fill → new answer, bounded,
one computation per key); the API's cached bytes follow a new fill."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from perpvol_core.analytics import volume
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.store import Store, read_cache, rollup_reads, volume_totals
from tests.store.test_store import T0, USD, make_fills

HOUR = 3_600_000
ZERO = Decimal(0)


def _load(db_url: str) -> tuple[Store, int, int]:
    """Two accounts; account b also holds 40 fills of account a (one fill under two labels counts once)."""
    store = Store(db_url)
    a = store.add_account("a", "woox", None, b"x", "h").id
    b = store.add_account("b", "paradex", None, b"y", "h").id
    fills_a = make_fills(31, 400, days=20)
    store.ingest_fills(a, fills_a[:250])
    store.ingest_fills(b, make_fills(32, 300, days=20) + fills_a[200:240])
    store.ingest_fills(a, fills_a[250:])  # later pages add to existing days and hours
    return store, a, b


def _oracle(db_url: str) -> dict[tuple[Any, ...], tuple[Decimal, Decimal, int]]:
    """Counted first copies summed per (account, exchange, span, bucket, liquidity) from raw SQL rows."""
    engine = sa.create_engine(db_url)
    q = sa.text(
        "SELECT f.account_id, f.exchange, f.ts_ms, f.liquidity, f.notional, f.fee, f.fee_asset FROM fills f "
        "WHERE f.counted AND NOT EXISTS (SELECT 1 FROM fills e WHERE e.exchange = f.exchange "
        "AND e.fill_id = f.fill_id AND e.fill_type = f.fill_type AND e.id < f.id)"
    )
    acc: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [ZERO, ZERO, 0])
    with engine.connect() as conn:
        rows = conn.execute(q).all()
        if engine.dialect.name == "postgresql":  # the database's own exact NUMERIC sum agrees too
            total = conn.execute(sa.text("SELECT sum(notional) FROM volume_totals WHERE span_ms = :d"),
                                 {"d": MS_PER_DAY}).scalar()  # fmt: skip
            assert Decimal(total) == sum((Decimal(str(r[4])) for r in rows), ZERO)
    engine.dispose()
    for account_id, exchange, ts, liquidity, notional, fee, fee_asset in rows:
        for span in (MS_PER_DAY, HOUR):
            cell = acc[(account_id, exchange, span, ts - ts % span, liquidity)]
            cell[0] += Decimal(str(notional))
            cell[1] += Decimal(str(fee)) if fee_asset in USD else ZERO
            cell[2] += 1
    return {k: (v[0], v[1], v[2]) for k, v in acc.items()}


def _stored(db_url: str) -> dict[tuple[Any, ...], tuple[Decimal, Decimal, int]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT account_id, exchange, span_ms, start_ms, liquidity, notional, fees, "
                                    "fills FROM volume_totals")).all()  # fmt: skip
    engine.dispose()
    return {(r[0], r[1], r[2], r[3], r[4]): (Decimal(str(r[5])), Decimal(str(r[6])), r[7]) for r in rows}


def test_totals_equal_a_sql_sum_over_the_fills(db_url: str) -> None:
    store, a, _b = _load(db_url)
    try:
        want = _oracle(db_url)
        assert len(want) > 50 and _stored(db_url) == want
        assert volume_totals.USD_ASSETS == USD
        store.remove_account("a")  # b's copies of a's fills now count
        assert not any(k[0] == a for k in _stored(db_url))
        assert _stored(db_url) == _oracle(db_url)
        with store.db.write() as conn:  # the migration's rebuild gives the same rows
            assert volume_totals.rebuild(conn) > 0
        assert _stored(db_url) == _oracle(db_url)
    finally:
        store.close()


def test_reads_equal_a_scan_of_the_fills(db_url: str) -> None:
    store, _a, _b = _load(db_url)
    try:
        rng = random.Random(5)
        span = 20 * MS_PER_DAY
        windows = [(T0, T0 + span), (T0 + 7, T0 + HOUR - 3), (T0 + HOUR, T0 + 2 * HOUR), (T0 - 5, T0 + 5)]
        windows += [tuple(sorted((T0 + rng.randrange(span), T0 + rng.randrange(span)))) for _ in range(12)]
        windows += [(s, s + rng.randrange(3 * MS_PER_DAY)) for s in (T0 + rng.randrange(span) for _ in range(6))]
        for start, end in windows:
            for exchange in (None, "woox", "paradex"):
                got = rollup_reads.window_by_exchange(store, start, end, exchange)
                want = store.counted_notional_between(start, end, exchange)  # the fills table itself
                assert {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}, (start, end)
        first, last = rollup_reads.day_bounds(store) or (0, 0)
        everything = store.counted_notional_between(first, last + MS_PER_DAY)
        assert rollup_reads.all_time_by_exchange(store) == everything
    finally:
        store.close()


def test_a_new_fill_changes_every_cached_read(db_url: str) -> None:
    from perpvol_app import views

    store, a, _b = _load(db_url)
    try:
        before = (volume.summary(store), volume.daily_rows(store), views.daily_bytes(store, None, None, None, None))
        assert volume.summary(store) == before[0]  # served again from the cache
        cache = read_cache.for_store(store)
        hits = cache.hits
        assert views.daily_bytes(store, None, None, None, None) is before[2] and cache.hits > hits
        fill = make_fills(77, 40, days=1, start_ms=T0 + 3 * MS_PER_DAY)
        counted = next(f for f in fill if f.counted)
        assert store.ingest_fills(a, [counted]) == 1
        after = (volume.summary(store), volume.daily_rows(store), views.daily_bytes(store, None, None, None, None))
        notional = counted.price * counted.size
        assert after[0]["totals"]["all"] == before[0]["totals"]["all"] + notional
        assert after[1] != before[1] and after[2].body != before[2].body
    finally:
        store.close()


def test_the_read_cache_is_bounded_and_computes_each_key_once() -> None:
    cache = read_cache.ReadCache(maxsize=8)
    for i in range(100):
        assert cache.get(("k", i), lambda i=i: i * 2) == i * 2
    assert len(cache) == 8 and cache.get(("k", 99), lambda: -1) == 198 and cache.get(("k", 0), lambda: -1) == -1

    calls = []
    release = threading.Event()
    results: list[int] = []

    def compute() -> int:
        calls.append(1)
        release.wait(30)
        return 7

    threads = [threading.Thread(target=lambda: results.append(cache.get("same", compute))) for _ in range(6)]
    for t in threads:
        t.start()
    while len(calls) < 1:  # the first caller is computing; the others are waiting or about to
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(30)
    assert results == [7] * 6 and len(calls) == 1

    class Boom(Exception):
        pass

    def fail() -> int:
        raise Boom

    for _ in range(2):  # an error reaches the caller and is not cached
        try:
            cache.get("bad", fail)
        except Boom:
            pass
        else:
            raise AssertionError("the error was swallowed")
    assert cache.get("bad", lambda: 3) == 3


def test_while_one_caller_computes_the_others_get_the_kept_previous_answer() -> None:
    cache = read_cache.ReadCache(maxsize=8)
    cache.get(("summary", 1), lambda: "second 1")
    started, release = threading.Event(), threading.Event()

    def compute() -> str:
        started.set()
        release.wait(30)
        return "second 2"

    owner: list[str] = []
    t = threading.Thread(target=lambda: owner.append(cache.get(("summary", 2), compute, ("summary", 1))))
    t.start()
    assert started.wait(30)
    # a second caller does not wait: it gets the previous answer; without one kept it would wait
    assert cache.get(("summary", 2), lambda: "never", ("summary", 1)) == "second 1"
    release.set()
    t.join(30)
    assert owner == ["second 2"] and cache.get(("summary", 2), lambda: "never", ("summary", 1)) == "second 2"
