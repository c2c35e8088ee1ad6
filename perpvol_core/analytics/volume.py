"""Volume queries over the store: daily series, rolling windows, breakdowns, the JSON report of design.md.

Everything is exact: rollups and fills hold ``Decimal`` money and the frames here use polars Decimal
columns (never float). Only counted perp fills make up volume (each venue's rule, ``perpvol_core.exchanges.counts``);
``by_fill_type`` also shows the uncounted types, flagged. Fees in USD are fees paid in USDT/USDC/USD.

Dates are UTC calendar days; ``start``/``end`` date filters are inclusive. Rolling windows (24h, 7d, 30d)
cover ``(now - N days, now]``: full days come from the rollups, the partial first and last days from
the fills table, so the totals are exact to the millisecond.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from perpvol_core import timeutil
from perpvol_core.analytics.ranges import (  # noqa: F401 - part of this module's interface
    RANGE_FIELDS,
    data_bounds,
    range_json,
    range_report,
    resolve_range,
)
from perpvol_core.analytics.rollup_frames import ceil_day, counted_rollups, money_sum, with_date
from perpvol_core.exchanges import VENUES, why_not_counted
from perpvol_core.fill import MAKER, MS_PER_DAY, TAKER
from perpvol_core.money import canonical_decimal
from perpvol_core.store import Store, read_cache, rollup_reads
from perpvol_core.store.frames import frame
from perpvol_core.timeutil import day_floor_ms, day_ms, iso_utc

WINDOWS: dict[str, int] = {"24h": 1, "7d": 7, "30d": 30}
PERIODS: tuple[str, ...] = ("24h", "7d", "30d", "all")
_ZERO = Decimal(0)


def daily_volume(
    store: Store,
    start: date | None = None,
    end: date | None = None,
    exchange: str | None = None,
    market: str | None = None,
) -> pl.DataFrame:
    """Counted perp volume per UTC day and exchange, for days with fills, sorted by date then exchange.

    Columns: date (Date), exchange, volume_usd, maker_usd, taker_usd, fees_usd (Decimal), fills (Int64).
    Without ``market``, a database store answers from its per-day totals (``store/rollup_reads.py``).
    """
    if market is None and rollup_reads.supported(store):
        return _daily_from_totals(store, start, end, exchange)
    rollups = counted_rollups(store, start, end, exchange, market)
    daily = (
        rollups.group_by("day_ms", "exchange")
        .agg(
            money_sum("volume_usd"),
            money_sum("maker_usd", pl.col("liquidity") == MAKER),
            money_sum("taker_usd", pl.col("liquidity") == TAKER),
            money_sum("fees_usd", column="fees"),
            pl.col("fills").sum().cast(pl.Int64).alias("fills"),
        )
        .sort("day_ms", "exchange")
    )
    return with_date(daily).select("date", "exchange", "volume_usd", "maker_usd", "taker_usd", "fees_usd", "fills")


def _daily_cells(
    store: Store, start: date | None, end: date | None, exchange: str | None
) -> dict[tuple[int, str], list[Any]]:
    """(day_ms, exchange) -> [volume, maker, taker, USD fees, fills] from the store's per-day totals, sorted."""
    cells: dict[tuple[int, str], list[Any]] = {}
    rows = rollup_reads.day_rows(store, day_ms(start) if start else None, day_ms(end) if end else None, exchange)
    for day, exch, liquidity, notional, fee, fills in rows:
        cell = cells.setdefault((day, exch), [_ZERO, _ZERO, _ZERO, _ZERO, 0])
        cell[0] += notional
        cell[1 if liquidity == MAKER else 2] += notional
        cell[3] += fee
        cell[4] += fills
    return cells


def _daily_from_totals(store: Store, start: date | None, end: date | None, exchange: str | None) -> pl.DataFrame:
    cells = _daily_cells(store, start, end, exchange)
    names = ("volume_usd", "maker_usd", "taker_usd", "fees_usd", "fills")
    columns: dict[str, Sequence[Any]] = {"day_ms": [k[0] for k in cells], "exchange": [k[1] for k in cells]}
    for i, name in enumerate(names):
        columns[name] = [c[i] for c in cells.values()]
    schema = {"day_ms": pl.Int64, "exchange": pl.Utf8, **dict.fromkeys(names[:4], pl.Decimal), "fills": pl.Int64}
    return with_date(frame(columns, schema)).select("date", "exchange", *names)


def complete_from(store: Store) -> dict[str, date]:
    """Per venue, the first UTC day from which every one of its accounts' stored history is complete (the
    latest ``complete_from`` of its accounts); venues without one are absent. Days before it are not covered:
    a surface shows them as such, never as zero volume."""
    if rollup_reads.supported(store):  # one query
        return {e: timeutil.date_of_ms(ms) for e, ms in rollup_reads.complete_from_ms(store).items()}
    out: dict[str, date] = {}
    for acc in store.list_accounts():
        ms = store.get_sync_state(acc.id).complete_from_ms
        if ms is not None:
            day = timeutil.date_of_ms(ms)
            out[acc.exchange] = max(out.get(acc.exchange, day), day)
    return out


def is_covered(coverage: dict[str, date], exchange: str, day: date) -> bool:
    """False for a day before the venue's ``complete_from`` (see :func:`complete_from`)."""
    first = coverage.get(exchange)
    return first is None or day >= first


def daily_rows(
    store: Store,
    start: date | None = None,
    end: date | None = None,
    exchange: str | None = None,
    market: str | None = None,
) -> list[dict[str, Any]]:
    """``daily_volume`` as the JSON rows of design.md: ``{"date": "YYYY-MM-DD", "exchange", "volume_usd",
    "maker_usd", "taker_usd", "fees_usd"`` (decimal strings), ``"fills"`` (int), ``"covered"`` (False for a
    day before the venue's ``complete_from``: its figures are what is stored, not the day's whole volume)``}``.

    Days depend only on the stored fills, so the rows are shared by every caller until the store's data
    version changes (the CLI, every API request, the report); each caller gets its own copy.
    """
    coverage = tuple(sorted(complete_from(store).items()))
    shared = read_cache.versioned(store, "daily_rows", (coverage, start, end, exchange, market),
                                  lambda: _shared_daily_rows(store, coverage, start, end, exchange, market))
    return [dict(row) for row in shared]


def _shared_daily_rows(
    store: Store, coverage: tuple[tuple[str, date], ...], start: date | None, end: date | None,
    exchange: str | None, market: str | None,
) -> tuple[dict[str, Any], ...]:
    first = dict(coverage)
    if market is None and rollup_reads.supported(store):  # straight from the per-day totals (no frame)
        out = []
        for (day, exch), cell in _daily_cells(store, start, end, exchange).items():
            when = timeutil.date_of_ms(day)
            out.append({"date": when.isoformat(), "exchange": exch,
                        **{k: canonical_decimal(v) for k, v in zip(RANGE_FIELDS, cell[:4], strict=True)},
                        "fills": int(cell[4]), "covered": is_covered(first, exch, when)})  # fmt: skip
        return tuple(out)
    return tuple(
        {
            "date": row["date"].isoformat(),
            "exchange": row["exchange"],
            **{k: canonical_decimal(row[k]) for k in ("volume_usd", "maker_usd", "taker_usd", "fees_usd")},
            "fills": int(row["fills"]),
            "covered": is_covered(first, row["exchange"], row["date"]),
        }
        for row in daily_volume(store, start, end, exchange, market).iter_rows(named=True)
    )


def _sum_by_exchange(rollups: pl.DataFrame) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for exch, total in rollups.group_by("exchange").agg(pl.col("notional").sum()).iter_rows():
        out[exch] = Decimal(total)
    return out


def _window_by_exchange(
    store: Store, rollups: pl.DataFrame, start_ms: int, end_ms: int, exchange: str | None = None
) -> dict[str, Decimal]:
    """Exact counted notional per exchange over ``[start_ms, end_ms)``; ``rollups`` are the counted rollups."""
    totals: dict[str, Decimal] = {}

    def add(part: dict[str, Decimal]) -> None:
        for exch, value in part.items():
            totals[exch] = totals.get(exch, _ZERO) + value

    first_full, end_full = ceil_day(start_ms), day_floor_ms(end_ms)
    if first_full >= end_full:  # no whole day inside: the fills table has it all
        add(store.counted_notional_between(start_ms, end_ms, exchange))
        return totals
    add(store.counted_notional_between(start_ms, first_full, exchange))
    full_days = rollups.filter((pl.col("day_ms") >= first_full) & (pl.col("day_ms") < end_full))
    if exchange is not None:
        full_days = full_days.filter(pl.col("exchange") == exchange)
    add(_sum_by_exchange(full_days))
    add(store.counted_notional_between(end_full, end_ms, exchange))
    return totals


def window_volume(store: Store, start_ms: int, end_ms: int, exchange: str | None = None) -> Decimal:
    """Exact counted perp volume of fills with ``start_ms <= ts_ms < end_ms``."""
    if rollup_reads.supported(store):
        return sum(rollup_reads.window_by_exchange(store, start_ms, end_ms, exchange).values(), _ZERO)
    rollups = store.rollups_frame(
        start_day_ms=ceil_day(start_ms), end_day_ms=day_floor_ms(end_ms), exchange=exchange
    ).filter(pl.col("counted"))
    return sum(_window_by_exchange(store, rollups, start_ms, end_ms, exchange).values(), _ZERO)


def summary(store: Store, now_ms: int | None = None) -> dict[str, dict[str, Any]]:
    """Counted perp volume for "24h", "7d", "30d" (windows ending at ``now_ms``) and "all", as Decimal.

    Returns ``{"totals": {period: Decimal}, "by_exchange": {exchange: {period: Decimal}}}``; every
    venue of the registry (``perpvol_core.exchanges.VENUES``) is present (zeros when it has no fills).
    Without ``now_ms`` the answer is shared for up to ``SUMMARY_TTL_MS`` while the data is unchanged:
    many API clients and dashboard sessions ask at once, and the windows only slide in the meantime.
    """
    if now_ms is not None:
        return _summary_at(store, now_ms)
    now = timeutil.now_ms()
    shared = read_cache.versioned(store, "summary", (now // SUMMARY_TTL_MS,), lambda: _summary_at(store, now))
    return copy.deepcopy(shared)


#: A summary without ``now_ms`` is shared within one such slot of the clock while the data is unchanged (a
#: write anywhere changes the data version, so a shared answer is never of older data; the slot bounds how
#: far its windows lag).
SUMMARY_TTL_MS = 1000


def _summary_at(store: Store, now: int) -> dict[str, dict[str, Any]]:
    by_exchange: dict[str, dict[str, Decimal]] = {e: dict.fromkeys(PERIODS, _ZERO) for e in VENUES}
    per_period: dict[str, dict[str, Decimal]] = {}
    if rollup_reads.supported(store):  # the per-day and per-hour totals; fills only for two partial hours
        per_period["all"] = rollup_reads.all_time_by_exchange(store)
        for period, days in WINDOWS.items():
            per_period[period] = rollup_reads.window_by_exchange(store, now + 1 - days * MS_PER_DAY, now + 1)
    else:
        rollups = store.rollups_frame().filter(pl.col("counted"))
        per_period["all"] = _sum_by_exchange(rollups)
        for period, days in WINDOWS.items():
            per_period[period] = _window_by_exchange(store, rollups, now + 1 - days * MS_PER_DAY, now + 1)
    for period, values in per_period.items():
        for exch, value in values.items():
            by_exchange.setdefault(exch, dict.fromkeys(PERIODS, _ZERO))[period] = value
    totals = {p: sum((by_exchange[e][p] for e in by_exchange), _ZERO) for p in PERIODS}
    return {"totals": totals, "by_exchange": by_exchange}


def volume_report(
    store: Store,
    daily: bool = False,
    start: date | None = None,
    end: date | None = None,
    exchange: str | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The JSON object of ``perpvol volume --json`` (design.md): decimal strings, ``generated_at`` in UTC.

    ``totals`` follow ``exchange`` when given; ``by_exchange`` always lists every venue; ``daily``
    (only when asked) is the daily series within ``start``..``end`` (inclusive dates).
    """
    now = timeutil.now_ms() if now_ms is None else now_ms
    data = summary(store, now)
    totals = data["by_exchange"][exchange] if exchange else data["totals"]
    report: dict[str, Any] = {
        "generated_at": iso_utc(now),
        "totals": {p: canonical_decimal(totals[p]) for p in PERIODS},
        "by_exchange": {
            e: {p: canonical_decimal(v) for p, v in periods.items()} for e, periods in data["by_exchange"].items()
        },
    }
    if daily:
        report["daily"] = daily_rows(store, start, end, exchange)
    return report


def by_market(
    store: Store,
    start: date | None = None,
    end: date | None = None,
    top_n: int | None = 10,
    exchange: str | None = None,
) -> pl.DataFrame:
    """Counted volume per (exchange, market), largest first; ``top_n`` rows (all when None).

    Columns: exchange, market, volume_usd, fees_usd (Decimal), fills.
    """
    rollups = counted_rollups(store, start, end, exchange)
    out = (
        rollups.group_by("exchange", "market")
        .agg(money_sum("volume_usd"), money_sum("fees_usd", column="fees"), pl.col("fills").sum().cast(pl.Int64))
        .sort(["volume_usd", "exchange", "market"], descending=[True, False, False])
    )
    return out.head(top_n) if top_n is not None else out


def by_liquidity(
    store: Store, start: date | None = None, end: date | None = None, exchange: str | None = None
) -> pl.DataFrame:
    """Counted volume per (exchange, liquidity MAKER|TAKER).

    Columns: exchange, liquidity, volume_usd, fees_usd (Decimal), fills.
    """
    rollups = counted_rollups(store, start, end, exchange)
    return (
        rollups.group_by("exchange", "liquidity")
        .agg(money_sum("volume_usd"), money_sum("fees_usd", column="fees"), pl.col("fills").sum().cast(pl.Int64))
        .sort("exchange", "liquidity")
    )


def by_fill_type(
    store: Store, start: date | None = None, end: date | None = None, exchange: str | None = None
) -> pl.DataFrame:
    """Notional per (exchange, fill_type, counted), INCLUDING uncounted types and non-perp markets.

    Columns: exchange, fill_type, counted (Boolean), volume_usd (Decimal notional), fills.
    """
    rollups = store.rollups_frame(
        start_day_ms=day_ms(start) if start else None, end_day_ms=day_ms(end) if end else None, exchange=exchange
    )
    return (
        rollups.group_by("exchange", "fill_type", "counted")
        .agg(money_sum("volume_usd"), pl.col("fills").sum().cast(pl.Int64))
        .sort(["exchange", "counted", "fill_type"], descending=[False, True, False])
    )


def not_counted(store: Store, start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """Fills that are not perp volume per (exchange, market, fill_type), largest first, with the reason
    (``perpvol_core.exchanges.why_not_counted``).

    Columns: exchange, market, fill_type, reason, volume_usd (Decimal), fills."""
    rollups = store.rollups_frame(start_day_ms=day_ms(start) if start else None,
                                  end_day_ms=day_ms(end) if end else None).filter(~pl.col("counted"))  # fmt: skip
    out = rollups.group_by("exchange", "market", "fill_type").agg(
        money_sum("volume_usd"), pl.col("fills").sum().cast(pl.Int64)
    ).sort(["volume_usd", "exchange", "market", "fill_type"], descending=[True, False, False, False])
    reasons = [why_not_counted(*key) or "" for key in out.select("exchange", "market", "fill_type").iter_rows()]
    return out.with_columns(pl.Series("reason", reasons, dtype=pl.Utf8)).select(
        "exchange", "market", "fill_type", "reason", "volume_usd", "fills")


def fees(store: Store, start: date | None = None, end: date | None = None, exchange: str | None = None) -> pl.DataFrame:
    """USD fees of counted fills per UTC day and exchange (negative = rebate).

    Columns: date, exchange, maker_fees_usd, taker_fees_usd, fees_usd (Decimal).
    """
    rollups = counted_rollups(store, start, end, exchange)
    out = (
        rollups.group_by("day_ms", "exchange")
        .agg(
            money_sum("maker_fees_usd", pl.col("liquidity") == MAKER, column="fees"),
            money_sum("taker_fees_usd", pl.col("liquidity") == TAKER, column="fees"),
            money_sum("fees_usd", column="fees"),
        )
        .sort("day_ms", "exchange")
    )
    return with_date(out).select("date", "exchange", "maker_fees_usd", "taker_fees_usd", "fees_usd")
