"""Polars frames with exact Decimal columns (never float) built from Python values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import polars as pl

#: polars Decimal holds at most 38 significant digits (an i128).
POLARS_MAX_PRECISION = 38


class DecimalOverflow(ValueError):
    """A value needs more than 38 digits at the column's scale, so polars cannot hold it exactly."""


def decimal_dtype(values: Iterable[Decimal | None]) -> pl.Decimal:
    """The smallest-scale polars Decimal dtype that holds every value exactly.

    Raises:
        DecimalOverflow: integer digits + scale exceed 38.
    """
    scale = 0
    int_digits = 1
    for value in values:
        if value is None:
            continue
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int):
            scale = max(scale, -exponent)
        if value != 0:
            int_digits = max(int_digits, value.adjusted() + 1)
    if int_digits + scale > POLARS_MAX_PRECISION:
        raise DecimalOverflow(f"decimal needs {int_digits + scale} digits; polars holds {POLARS_MAX_PRECISION}")
    return pl.Decimal(POLARS_MAX_PRECISION, scale)


def decimal_series(name: str, values: Sequence[Decimal | None]) -> pl.Series:
    """An exact polars Decimal series of ``values``.

    Raises:
        DecimalOverflow: see :func:`decimal_dtype`.
    """
    return pl.Series(name, list(values), dtype=decimal_dtype(values))


def frame(columns: dict[str, Sequence[Any]], schema: dict[str, Any]) -> pl.DataFrame:
    """A DataFrame where ``schema`` entries equal to ``pl.Decimal`` get an exact, data-fitted scale."""
    series = []
    for name, dtype in schema.items():
        values = columns.get(name, [])
        if dtype is pl.Decimal:
            series.append(decimal_series(name, values))
        else:
            series.append(pl.Series(name, list(values), dtype=dtype))
    return pl.DataFrame(series)
