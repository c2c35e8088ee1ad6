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
import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any, cast

import polars as pl
from cachetools import LRUCache, TTLCache, cached

from perpvol_core import timeutil
from perpvol_core.exchanges import VENUES, why_not_counted
from perpvol_core.fill import MAKER, MS_PER_DAY, TAKER
from perpvol_core.money import canonical_decimal
from perpvol_core.store import Store
from perpvol_core.timeutil import day_floor_ms, day_ms, iso_utc

WINDOWS: dict[str, int] = {"24h": 1, "7d": 7, "30d": 30}
PERIODS: tuple[str, ...] = ("24h", "7d", "30d", "all")
_ZERO = Decimal(0)


def _ceil_day(ms: int) -> int:
    return -((-ms) // MS_PER_DAY) * MS_PER_DAY


def _counted_rollups(
    store: Store, start: date | None, end: date | None, exchange: str | None = None, market: str | None = None
) -> pl.DataFrame:
    rollups = store.rollups_frame(
        start_day_ms=day_ms(start) if start else None,
        end_day_ms=day_ms(end) if end else None,
        exchange=exchange,
        market=market,
    )
    return rollups.filter(pl.col("counted"))


def _money_sum(name: str, condition: pl.Expr | None = None, column: str = "notional") -> pl.Expr:
    expr = pl.col(column)
    if condition is not None:
        expr = expr.filter(condition)
    return expr.sum().alias(name)


def _with_date(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.from_epoch(pl.col("day_ms"), time_unit="ms").dt.date().alias("date"))


def daily_volume(
    store: Store,
    start: date | None = None,
    end: date | None = None,
    exchange: str | None = None,
    market: str | None = None,
) -> pl.DataFrame:
    """Counted perp volume per UTC day and exchange, for days with fills, sorted by date then exchange.

    Columns: date (Date), exchange, volume_usd, maker_usd, taker_usd, fees_usd (Decimal), fills (Int64).
    """
    rollups = _counted_rollups(store, start, end, exchange, market)
    daily = (
        rollups.group_by("day_ms", "exchange")
        .agg(
            _money_sum("volume_usd"),
            _money_sum("maker_usd", pl.col("liquidity") == MAKER),
            _money_sum("taker_usd", pl.col("liquidity") == TAKER),
            _money_sum("fees_usd", column="fees"),
            pl.col("fills").sum().cast(pl.Int64).alias("fills"),
        )
        .sort("day_ms", "exchange")
    )
    return _with_date(daily).select("date", "exchange", "volume_usd", "maker_usd", "taker_usd", "fees_usd", "fills")


def complete_from(store: Store) -> dict[str, date]:
    """Per venue, the first UTC day from which every one of its accounts' stored history is complete (the
    latest ``complete_from`` of its accounts); venues without one are absent. Days before it are not covered:
    a surface shows them as such, never as zero volume."""
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
    shared = _shared_daily_rows(store, store.data_version(), coverage, start, end, exchange, market)
    return [dict(row) for row in shared]


# Keyed by (store, data version, filters); concurrent callers of one key wait for the one computation.
_daily_rows_cache: LRUCache[Any, tuple[dict[str, Any], ...]] = LRUCache(maxsize=64)


@cached(_daily_rows_cache, condition=threading.Condition())
def _shared_daily_rows(
    store: Store, data_version: str, coverage: tuple[tuple[str, date], ...], start: date | None, end: date | None,
    exchange: str | None, market: str | None,
) -> tuple[dict[str, Any], ...]:
    first = dict(coverage)
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

    first_full, end_full = _ceil_day(start_ms), day_floor_ms(end_ms)
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
    rollups = store.rollups_frame(
        start_day_ms=_ceil_day(start_ms), end_day_ms=day_floor_ms(end_ms), exchange=exchange
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
    return copy.deepcopy(_shared_summary(store, store.data_version()))


SUMMARY_TTL_MS = 1000
# Keyed by (store, data version): a write anywhere changes the version, so a cached answer is never of older
# data; the TTL bounds how far its windows lag. The condition makes concurrent callers of one key wait for
# the single computation instead of repeating it.
_summary_cache: TTLCache[Any, dict[str, dict[str, Any]]] = TTLCache(
    maxsize=64, ttl=SUMMARY_TTL_MS / 1000, timer=time.monotonic
)


@cached(_summary_cache, condition=threading.Condition())
def _shared_summary(store: Store, data_version: str) -> dict[str, dict[str, Any]]:
    return _summary_at(store, timeutil.now_ms())


def _summary_at(store: Store, now: int) -> dict[str, dict[str, Any]]:
    rollups = store.rollups_frame().filter(pl.col("counted"))
    by_exchange: dict[str, dict[str, Decimal]] = {e: dict.fromkeys(PERIODS, _ZERO) for e in VENUES}
    per_period: dict[str, dict[str, Decimal]] = {"all": _sum_by_exchange(rollups)}
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
    rollups = _counted_rollups(store, start, end, exchange)
    out = (
        rollups.group_by("exchange", "market")
        .agg(_money_sum("volume_usd"), _money_sum("fees_usd", column="fees"), pl.col("fills").sum().cast(pl.Int64))
        .sort(["volume_usd", "exchange", "market"], descending=[True, False, False])
    )
    return out.head(top_n) if top_n is not None else out


def by_liquidity(
    store: Store, start: date | None = None, end: date | None = None, exchange: str | None = None
) -> pl.DataFrame:
    """Counted volume per (exchange, liquidity MAKER|TAKER).

    Columns: exchange, liquidity, volume_usd, fees_usd (Decimal), fills.
    """
    rollups = _counted_rollups(store, start, end, exchange)
    return (
        rollups.group_by("exchange", "liquidity")
        .agg(_money_sum("volume_usd"), _money_sum("fees_usd", column="fees"), pl.col("fills").sum().cast(pl.Int64))
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
        .agg(_money_sum("volume_usd"), pl.col("fills").sum().cast(pl.Int64))
        .sort(["exchange", "counted", "fill_type"], descending=[False, True, False])
    )


def not_counted(store: Store, start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """Fills that are not perp volume per (exchange, market, fill_type), largest first, with the reason
    (``perpvol_core.exchanges.why_not_counted``).

    Columns: exchange, market, fill_type, reason, volume_usd (Decimal), fills."""
    rollups = store.rollups_frame(start_day_ms=day_ms(start) if start else None,
                                  end_day_ms=day_ms(end) if end else None).filter(~pl.col("counted"))  # fmt: skip
    out = rollups.group_by("exchange", "market", "fill_type").agg(
        _money_sum("volume_usd"), pl.col("fills").sum().cast(pl.Int64)
    ).sort(["volume_usd", "exchange", "market", "fill_type"], descending=[True, False, False, False])
    reasons = [why_not_counted(*key) or "" for key in out.select("exchange", "market", "fill_type").iter_rows()]
    return out.with_columns(pl.Series("reason", reasons, dtype=pl.Utf8)).select(
        "exchange", "market", "fill_type", "reason", "volume_usd", "fills")


def fees(store: Store, start: date | None = None, end: date | None = None, exchange: str | None = None) -> pl.DataFrame:
    """USD fees of counted fills per UTC day and exchange (negative = rebate).

    Columns: date, exchange, maker_fees_usd, taker_fees_usd, fees_usd (Decimal).
    """
    rollups = _counted_rollups(store, start, end, exchange)
    out = (
        rollups.group_by("day_ms", "exchange")
        .agg(
            _money_sum("maker_fees_usd", pl.col("liquidity") == MAKER, column="fees"),
            _money_sum("taker_fees_usd", pl.col("liquidity") == TAKER, column="fees"),
            _money_sum("fees_usd", column="fees"),
        )
        .sort("day_ms", "exchange")
    )
    return _with_date(out).select("date", "exchange", "maker_fees_usd", "taker_fees_usd", "fees_usd")


# -- any date range ------------------------------------------------------------------------------------

RANGE_FIELDS: tuple[str, ...] = ("volume_usd", "maker_usd", "taker_usd", "fees_usd")


def _range_cell() -> dict[str, Any]:
    return {**dict.fromkeys(RANGE_FIELDS, _ZERO), "fills": 0}


def range_report(store: Store, start: date, end: date, exchange: str | None = None) -> dict[str, Any]:
    """Counted perp totals of the UTC days ``start``..``end`` (inclusive), total and per exchange.

    Returns ``{"from": date, "to": date, "days": int, "totals": {...}, "by_exchange": {exchange: {...}}}``
    where each ``{...}`` holds ``volume_usd``, ``maker_usd``, ``taker_usd``, ``fees_usd`` (exact Decimal) and
    ``fills`` (int). ``by_exchange`` lists every venue of ``VENUES`` (only ``exchange`` when given),
    zeros where nothing traded; ``totals`` is the sum of the listed exchanges. One rollup read.

    Raises: ValueError when ``start`` is after ``end`` or ``exchange`` is unknown.
    """
    if start > end:
        raise ValueError(f"the range starts ({start.isoformat()}) after it ends ({end.isoformat()})")
    if exchange is not None and exchange not in VENUES:
        raise ValueError(f"unknown exchange {exchange!r}; one of {', '.join(VENUES)}")
    listed = (exchange,) if exchange else tuple(VENUES)
    by_exchange = {e: _range_cell() for e in listed}
    rows = (
        _counted_rollups(store, start, end, exchange)
        .group_by("exchange")
        .agg(
            _money_sum("volume_usd"),
            _money_sum("maker_usd", pl.col("liquidity") == MAKER),
            _money_sum("taker_usd", pl.col("liquidity") == TAKER),
            _money_sum("fees_usd", column="fees"),
            pl.col("fills").sum().cast(pl.Int64).alias("fills"),
        )
        .iter_rows(named=True)
    )
    for row in rows:
        cell = by_exchange.setdefault(row["exchange"], _range_cell())
        for key in RANGE_FIELDS:
            cell[key] = Decimal(row[key] or 0)
        cell["fills"] = int(row["fills"] or 0)
    totals = _range_cell()
    for cell in by_exchange.values():
        for key in (*RANGE_FIELDS, "fills"):
            totals[key] += cell[key]
    return {"from": start, "to": end, "days": (end - start).days + 1, "totals": totals, "by_exchange": by_exchange}


def range_json(report: dict[str, Any]) -> dict[str, Any]:
    """``range_report(...)`` as JSON (ISO dates, decimal strings): the ``"range"`` object of the contract."""

    def cell(values: dict[str, Any]) -> dict[str, Any]:
        return {**{k: canonical_decimal(values[k]) for k in RANGE_FIELDS}, "fills": int(values["fills"])}

    return {
        "from": report["from"].isoformat(),
        "to": report["to"].isoformat(),
        "days": report["days"],
        "totals": cell(report["totals"]),
        "by_exchange": {e: cell(v) for e, v in report["by_exchange"].items()},
    }


def resolve_range(
    store: Store, start: date | None, end: date | None, exchange: str | None = None
) -> dict[str, Any]:
    """:func:`range_report` with open ends filled in: ``end`` defaults to today (UTC), ``start`` to the first
    day with volume (or ``end``). Raises ValueError as :func:`range_report` does."""
    end = end or timeutil.date_of_ms(timeutil.now_ms())
    if start is None:
        bounds = data_bounds(store)
        start = min(bounds[0], end) if bounds else end
    return range_report(store, start, end, exchange)


def data_bounds(store: Store) -> tuple[date, date] | None:
    """The first and last UTC day with counted perp volume, or None when there is none."""
    rollups = store.rollups_frame().filter(pl.col("counted"))
    if rollups.is_empty():
        return None
    first, last = rollups["day_ms"].min(), rollups["day_ms"].max()
    return timeutil.date_of_ms(int(cast(int, first))), timeutil.date_of_ms(int(cast(int, last)))
