"""The rollup frames every volume query starts from (``Store.rollups_frame`` of counted fills) and the
exact polars expressions over them (Decimal sums, never float)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from perpvol_core.fill import MS_PER_DAY
from perpvol_core.timeutil import day_ms


def ceil_day(ms: int) -> int:
    return -((-ms) // MS_PER_DAY) * MS_PER_DAY


def counted_rollups(
    store: Any, start: date | None, end: date | None, exchange: str | None = None, market: str | None = None
) -> pl.DataFrame:
    rollups = store.rollups_frame(
        start_day_ms=day_ms(start) if start else None,
        end_day_ms=day_ms(end) if end else None,
        exchange=exchange,
        market=market,
    )
    return rollups.filter(pl.col("counted"))


def money_sum(name: str, condition: pl.Expr | None = None, column: str = "notional") -> pl.Expr:
    expr = pl.col(column)
    if condition is not None:
        expr = expr.filter(condition)
    return expr.sum().alias(name)


def with_date(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.from_epoch(pl.col("day_ms"), time_unit="ms").dt.date().alias("date"))

