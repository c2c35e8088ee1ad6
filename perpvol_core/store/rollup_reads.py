"""Volume reads over ``volume_totals`` (``store/volume_totals.py``): small indexed queries, never a fills scan.

At millions of fills the daily series, a date range and "all time" read one row per (account, exchange,
day, liquidity) — a few thousand rows — and a rolling window reads its whole days and whole hours from
the totals and only the partial hours at its two ends from the fills table (an indexed range of minutes).
Money stays exact: rows are read as ``Decimal`` and summed in Python with 80 digits of precision.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, localcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from perpvol_core.store.store import Store
from perpvol_core.store.volume_totals import MS_PER_DAY, MS_PER_HOUR, volume_totals

_ZERO = Decimal(0)


def supported(store: Any) -> bool:
    """True for a database store (which keeps the totals); in-memory stand-ins read their rollups."""
    return isinstance(store, Store)


@contextmanager
def _conn(store: Store) -> Iterator[Connection]:
    with store.db.read() as conn:
        yield conn


def _ceil(ms: int, span: int) -> int:
    return -((-ms) // span) * span


def _floor(ms: int, span: int) -> int:
    return ms - ms % span


def day_rows(
    store: Store, start_day_ms: int | None = None, end_day_ms: int | None = None, exchange: str | None = None
) -> list[tuple[int, str, str, Decimal, Decimal, int]]:
    """Counted totals per (UTC day, exchange, liquidity) over every account, days ``start..end`` inclusive,
    sorted: ``(day_ms, exchange, liquidity, notional, usd_fees, fills)``."""
    t = volume_totals
    q = sa.select(t.c.start_ms, t.c.exchange, t.c.liquidity, t.c.notional, t.c.fees, t.c.fills).where(
        t.c.span_ms == MS_PER_DAY
    )
    if start_day_ms is not None:
        q = q.where(t.c.start_ms >= start_day_ms)
    if end_day_ms is not None:
        q = q.where(t.c.start_ms <= end_day_ms)
    if exchange is not None:
        q = q.where(t.c.exchange == exchange)
    sums: dict[tuple[int, str, str], list[Any]] = {}
    with _conn(store) as conn:
        rows = conn.execute(q).all()
    with localcontext() as ctx:
        ctx.prec = 80
        for day, exch, liquidity, notional, fees, fills in rows:
            acc = sums.setdefault((int(day), exch, liquidity), [_ZERO, _ZERO, 0])
            acc[0] += notional
            acc[1] += fees
            acc[2] += int(fills)
    return [(k[0], k[1], k[2], v[0], v[1], v[2]) for k, v in sorted(sums.items())]


def by_exchange(
    store: Store, start_day_ms: int | None = None, end_day_ms: int | None = None, exchange: str | None = None
) -> dict[str, dict[str, Any]]:
    """Per exchange over the days ``start..end`` (inclusive): ``volume_usd``, ``maker_usd``, ``taker_usd``,
    ``fees_usd`` (exact Decimal) and ``fills``; exchanges without counted fills are absent."""
    out: dict[str, dict[str, Any]] = {}
    with localcontext() as ctx:
        ctx.prec = 80
        for _day, exch, liquidity, notional, fees, fills in day_rows(store, start_day_ms, end_day_ms, exchange):
            cell = out.setdefault(exch, {"volume_usd": _ZERO, "maker_usd": _ZERO, "taker_usd": _ZERO,
                                         "fees_usd": _ZERO, "fills": 0})  # fmt: skip
            cell["volume_usd"] += notional
            cell["maker_usd" if liquidity == "MAKER" else "taker_usd"] += notional
            cell["fees_usd"] += fees
            cell["fills"] += fills
    return out


def window_by_exchange(store: Store, start_ms: int, end_ms: int, exchange: str | None = None) -> dict[str, Decimal]:
    """Exact counted notional per exchange of fills with ``start_ms <= ts_ms < end_ms``.

    Whole days and whole hours come from the totals (one indexed query); the partial hours at the two ends
    from the fills table (``Store.counted_notional_between``, which counts a fill held twice once).
    """
    totals: dict[str, Decimal] = {}
    if start_ms >= end_ms:
        return totals

    def add(part: dict[str, Decimal]) -> None:
        for exch, value in part.items():
            totals[exch] = totals.get(exch, _ZERO) + value

    first_hour, end_hour = _ceil(start_ms, MS_PER_HOUR), _floor(end_ms, MS_PER_HOUR)
    if first_hour >= end_hour:  # no whole hour inside
        add(store.counted_notional_between(start_ms, end_ms, exchange))
        return totals
    with localcontext() as ctx:
        ctx.prec = 80
        add(store.counted_notional_between(start_ms, first_hour, exchange))
        add(_buckets(store, first_hour, end_hour, exchange))
        add(store.counted_notional_between(end_hour, end_ms, exchange))
    return totals


def _buckets(store: Store, start_ms: int, end_ms: int, exchange: str | None) -> dict[str, Decimal]:
    """Counted notional per exchange of the whole hours ``[start_ms, end_ms)`` (both hour boundaries)."""
    t = volume_totals
    first_day, end_day = _ceil(start_ms, MS_PER_DAY), _floor(end_ms, MS_PER_DAY)
    if first_day >= end_day:
        parts = [(MS_PER_HOUR, start_ms, end_ms)]
    else:
        parts = [(MS_PER_HOUR, start_ms, first_day), (MS_PER_DAY, first_day, end_day), (MS_PER_HOUR, end_day, end_ms)]
    cond = sa.or_(*(sa.and_(t.c.span_ms == span, t.c.start_ms >= lo, t.c.start_ms < hi) for span, lo, hi in parts))
    q = sa.select(t.c.exchange, t.c.notional).where(cond)
    if exchange is not None:
        q = q.where(t.c.exchange == exchange)
    out: dict[str, Decimal] = {}
    with _conn(store) as conn:
        for exch, notional in conn.execute(q):
            out[exch] = out.get(exch, _ZERO) + notional
    return out


def all_time_by_exchange(store: Store) -> dict[str, Decimal]:
    """Counted notional per exchange over every stored fill."""
    return {e: cell["volume_usd"] for e, cell in by_exchange(store).items()}


def day_bounds(store: Store) -> tuple[int, int] | None:
    """The first and last UTC midnight (ms) with counted volume, or None."""
    t = volume_totals
    q = sa.select(sa.func.min(t.c.start_ms), sa.func.max(t.c.start_ms)).where(t.c.span_ms == MS_PER_DAY)
    with _conn(store) as conn:
        first, last = conn.execute(q).one()
    return None if first is None else (int(first), int(last))


def complete_from_ms(store: Store) -> dict[str, int]:
    """Per exchange, the latest ``complete_from_ms`` of its accounts (one query; exchanges without one absent)."""
    from perpvol_core.store import models as m

    a, s = m.accounts, m.sync_state
    q = (
        sa.select(a.c.exchange, sa.func.max(s.c.complete_from_ms))
        .join(s, s.c.account_id == a.c.id)
        .where(s.c.complete_from_ms.is_not(None))
        .group_by(a.c.exchange)
    )
    with _conn(store) as conn:
        return {exch: int(ms) for exch, ms in conn.execute(q)}


def coverage_inputs(store: Store) -> tuple[tuple[Any, ...], ...]:
    """What the coverage of a volume answer reads besides the fills, in one query: per account its id, label,
    exchange, the venue's own figures and its synced range (a cache key: it changes when any of them does)."""
    from perpvol_core.store import models as m

    a, s = m.accounts, m.sync_state
    q = (
        sa.select(a.c.id, a.c.label, a.c.exchange, a.c.exchange_report, s.c.covered_from_ms, s.c.complete_from_ms)
        .select_from(a.outerjoin(s, s.c.account_id == a.c.id))
        .order_by(a.c.id)
    )
    with _conn(store) as conn:
        return tuple(tuple(r) for r in conn.execute(q))


def all_time_by_account(store: Store) -> dict[int, Decimal]:
    """Counted notional per account over every stored fill (the first copy of a fill held twice)."""
    t = volume_totals
    q = sa.select(t.c.account_id, t.c.notional).where(t.c.span_ms == MS_PER_DAY)
    out: dict[int, Decimal] = {}
    with _conn(store) as conn, localcontext() as ctx:
        ctx.prec = 80
        for account_id, notional in conn.execute(q):
            out[int(account_id)] = out.get(int(account_id), _ZERO) + notional
    return out
