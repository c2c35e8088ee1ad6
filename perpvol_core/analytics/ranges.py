"""Counted perp totals of any date range (``perpvol volume --from/--to``, ``GET /volume/range``, the calendar).

A database store answers from its per-day totals (``perpvol_core.store.rollup_reads``); another store
(the notebooks' frozen copy) from its rollups.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, cast

import polars as pl

from perpvol_core import timeutil
from perpvol_core.analytics.rollup_frames import counted_rollups, money_sum
from perpvol_core.exchanges import VENUES
from perpvol_core.fill import MAKER, TAKER
from perpvol_core.money import canonical_decimal
from perpvol_core.store import rollup_reads
from perpvol_core.timeutil import day_ms

_ZERO = Decimal(0)

RANGE_FIELDS: tuple[str, ...] = ("volume_usd", "maker_usd", "taker_usd", "fees_usd")


def _range_cell() -> dict[str, Any]:
    return {**dict.fromkeys(RANGE_FIELDS, _ZERO), "fills": 0}


def range_report(store: Any, start: date, end: date, exchange: str | None = None) -> dict[str, Any]:
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
    if rollup_reads.supported(store):
        for exch, cell in rollup_reads.by_exchange(store, day_ms(start), day_ms(end), exchange).items():
            by_exchange[exch] = cell
        return _range_result(start, end, by_exchange)
    rows = (
        counted_rollups(store, start, end, exchange)
        .group_by("exchange")
        .agg(
            money_sum("volume_usd"),
            money_sum("maker_usd", pl.col("liquidity") == MAKER),
            money_sum("taker_usd", pl.col("liquidity") == TAKER),
            money_sum("fees_usd", column="fees"),
            pl.col("fills").sum().cast(pl.Int64).alias("fills"),
        )
        .iter_rows(named=True)
    )
    for row in rows:
        cell = by_exchange.setdefault(row["exchange"], _range_cell())
        for key in RANGE_FIELDS:
            cell[key] = Decimal(row[key] or 0)
        cell["fills"] = int(row["fills"] or 0)
    return _range_result(start, end, by_exchange)


def _range_result(start: date, end: date, by_exchange: dict[str, dict[str, Any]]) -> dict[str, Any]:
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
    store: Any, start: date | None, end: date | None, exchange: str | None = None
) -> dict[str, Any]:
    """:func:`range_report` with open ends filled in: ``end`` defaults to today (UTC), ``start`` to the first
    day with volume (or ``end``). Raises ValueError as :func:`range_report` does."""
    end = end or timeutil.date_of_ms(timeutil.now_ms())
    if start is None:
        bounds = data_bounds(store)
        start = min(bounds[0], end) if bounds else end
    return range_report(store, start, end, exchange)


def data_bounds(store: Any) -> tuple[date, date] | None:
    """The first and last UTC day with counted perp volume, or None when there is none."""
    if rollup_reads.supported(store):
        ms = rollup_reads.day_bounds(store)
        return None if ms is None else (timeutil.date_of_ms(ms[0]), timeutil.date_of_ms(ms[1]))
    rollups = store.rollups_frame().filter(pl.col("counted"))
    if rollups.is_empty():
        return None
    first, last = rollups["day_ms"].min(), rollups["day_ms"].max()
    return timeutil.date_of_ms(int(cast(int, first))), timeutil.date_of_ms(int(cast(int, last)))
