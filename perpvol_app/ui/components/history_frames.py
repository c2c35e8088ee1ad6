"""The history chart's frames: the daily series of ``volume.daily_volume`` (one exact Decimal column per venue and
the total), its day/week/month periods and cumulative sums, the rolling average, and the columns the chart's data
sources hold (float heights for drawing, exact money text for tooltips, "not covered" before a venue's first
complete day).

Pure polars and Decimal, with no Bokeh or Panel: kept apart from the chart (``history``, which re-exports these
names) so the data rules can be read and tested without a figure.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

import numpy as np
import polars as pl

from perpvol_app.ui.components.context import money
from perpvol_core.exchanges import VENUES

#: the registered venues, in the registry's order (every breakdown lists each)
EXCHANGES: tuple[str, ...] = tuple(VENUES)

ROLLING_DAYS = 30
_TRUNCATE = {"day": None, "week": "1w", "month": "1mo"}


def _dec_str(col: str) -> pl.Expr:
    """Exact decimal text of a Decimal column (trailing zeros trimmed)."""
    return pl.col(col).cast(pl.Utf8).str.replace(r"(\.\d*?)0+$", "$1").str.replace(r"\.$", "").alias(f"{col}_s")


def normalize_daily(daily: pl.DataFrame) -> pl.DataFrame:
    """``volume.daily_volume`` output with ``date`` as a polars Date (it may come as text)."""
    if daily.is_empty():
        return pl.DataFrame(
            schema={"date": pl.Date, "exchange": pl.Utf8, "volume_usd": pl.Decimal(38, 2), "fills": pl.Int64}
        )
    dtype = daily.schema["date"]
    if dtype == pl.Utf8:
        daily = daily.with_columns(pl.col("date").str.to_date("%Y-%m-%d"))
    elif dtype != pl.Date:
        daily = daily.with_columns(pl.col("date").cast(pl.Date))
    return daily


def daily_series(daily: pl.DataFrame, end: dt.date | None = None) -> pl.DataFrame:
    """One row per UTC day from the first day with volume to ``end`` (default: the last day), one
    exact Decimal column per exchange plus ``total``; days without fills are zero."""
    daily = normalize_daily(daily)
    cols = ["date", *EXCHANGES, "total"]
    if daily.is_empty():
        return pl.DataFrame(schema={c: (pl.Date if c == "date" else pl.Decimal(38, 2)) for c in cols})
    wide = daily.pivot(on="exchange", index="date", values="volume_usd", aggregate_function="sum")
    dtype = daily.schema["volume_usd"]
    for exch in EXCHANGES:
        if exch not in wide.columns:
            wide = wide.with_columns(pl.lit(0).cast(dtype).alias(exch))
    first, newest = cast(dt.date, wide["date"].min()), cast(dt.date, wide["date"].max())
    last = max(newest, end) if end else newest
    days = pl.DataFrame({"date": pl.date_range(first, last, "1d", eager=True)})
    out = days.join(wide, on="date", how="left").with_columns(
        [pl.col(e).fill_null(pl.lit(0).cast(dtype)) for e in EXCHANGES]
    )
    return out.with_columns(pl.sum_horizontal(*EXCHANGES).cast(dtype).alias("total")).select(cols).sort("date")


def aggregate(series: pl.DataFrame, aggregation: str = "day", cumulative: bool = False) -> pl.DataFrame:
    """Per period (day/week/month start) exact Decimal volume per exchange, optionally cumulative."""
    every = _TRUNCATE[aggregation]
    out = series
    if every is not None and not series.is_empty():
        out = (
            series.group_by(pl.col("date").dt.truncate(every))
            .agg([pl.col(c).sum() for c in (*EXCHANGES, "total")])
            .sort("date")
        )
    if cumulative:
        out = out.with_columns([pl.col(c).cum_sum() for c in (*EXCHANGES, "total")])
    return out


def rolling_average(series: pl.DataFrame, days: int = ROLLING_DAYS) -> pl.DataFrame:
    """Trailing ``days``-day average of the daily total (exact sum ÷ days, shown to the cent)."""
    if series.is_empty():
        return series.select("date").with_columns(pl.lit(None).alias("avg"))
    cum = [Decimal(0), *(Decimal(v) for v in series["total"].cum_sum().to_list())]
    sums = [cum[i + 1] - cum[max(0, i + 1 - days)] for i in range(series.height)]
    avgs = [(s / Decimal(days)).quantize(Decimal("0.01")) for s in sums]
    return pl.DataFrame({"date": series["date"], "avg": avgs})


NOT_COVERED = "not covered"


def chart_columns(
    series: pl.DataFrame, aggregation: str = "day", cumulative: bool = False,
    coverage: dict[str, dt.date] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The bar source: period (ms, UTC midnight), one float height and one money text per exchange and
    the total (``<exchange>_fmt``: ``$1,234.56``, from the exact Decimal). Periods and heights are float
    arrays: Bokeh sends them to the browser as binary buffers, not as JSON numbers (a lighter first page).

    ``coverage`` (``volume.complete_from``): a venue's period that starts before its first complete day reads
    "not covered" (with what is stored, if anything), never as a plain figure or $0."""
    coverage = coverage or {}
    agg = aggregate(series, aggregation, cumulative)
    dates = agg["date"].to_list() if not agg.is_empty() else []
    cols: dict[str, Any] = {"period": _period_ms(dates), "label": [d.isoformat() for d in dates]}
    for c in (*EXCHANGES, "total"):
        values = [Decimal(v) for v in agg[c].to_list()] if dates else []
        cols[c] = np.array([float(v) for v in values], dtype=np.float64)  # bar heights: drawing only
        first = coverage.get(c) if c != "total" else max(coverage.values(), default=None)  # total: every venue's
        cols[f"{c}_fmt"] = [_shown(v, d, first, c == "total") for v, d in zip(values, dates, strict=True)]
    return cols


def _period_ms(dates: list[dt.date]) -> Any:
    """Each day's UTC midnight in epoch ms, as a float array (Bokeh's datetime axis unit)."""
    return np.array([dt.datetime.combine(d, dt.time(), tzinfo=dt.UTC).timestamp() * 1000 for d in dates],
                    dtype=np.float64)  # fmt: skip


def _shown(value: Decimal, period_start: dt.date, first_complete: dt.date | None, total: bool = False) -> str:
    if first_complete is None or period_start >= first_complete:
        return money(value)
    if total:  # a venue does not cover the period: the sum is a lower bound
        return f"≥ {money(value)}"
    return f"{NOT_COVERED} ({money(value)} stored)" if value else NOT_COVERED


def rolling_columns(series: pl.DataFrame, days: int = ROLLING_DAYS) -> dict[str, Any]:
    avg = rolling_average(series, days)
    dates = avg["date"].to_list()
    values = [Decimal(v) for v in avg["avg"].to_list()] if dates else []
    return {
        "period": _period_ms(dates),
        "label": [d.isoformat() for d in dates],
        "average": np.array([float(v) for v in values], dtype=np.float64),
        "average_fmt": [money(v) for v in values],
    }
