"""One consistent read of a store: the fills and the rollups of a single data version.

The notebooks (``notebooks/explore.ipynb``) compare the fills with the aggregates; while a demo or a
worker is live, new fills land between two reads and the two disagree. :class:`FrozenStore` reads the
fills with ONE query (one statement sees one state of the table), derives the daily rollups from those
fills with the store's own rollup rule, and then answers the read methods that
``perpvol_core.analytics.volume`` uses from those frames only, so every figure comes from that one
read::

    store = FrozenStore.of(Store.open(settings))
    volume.summary(store), volume.daily_volume(store), store.fills_frame()  # all agree
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import Any

import polars as pl


class FrozenStore:
    """A read-only, in-memory copy of a store's fills, and the rollups of exactly those fills."""

    def __init__(self, version: str, fills: pl.DataFrame, rollups: pl.DataFrame, origin: Any = None) -> None:
        self._version = version
        self._fills = fills
        self._rollups = rollups
        self._origin = origin

    @classmethod
    def of(cls, store: Any) -> FrozenStore:
        """Read every fill of ``store`` once and build the rollups from them (no second read to race)."""
        from perpvol_core.store.frames import frame
        from perpvol_core.store.store import _rollup_deltas  # the store's own rollup rule (USD-asset fees)

        fills = store.fills_frame()
        by_day = lambda kv: (kv[0][2], kv[0][1], kv[0][3])  # noqa: E731 - day, exchange, market
        deltas = sorted(_rollup_deltas(fills.iter_rows(named=True)).items(), key=by_day)
        keys = ("account_id", "exchange", "day_ms", "market", "liquidity", "fill_type", "counted")
        columns: dict[str, Sequence[Any]] = {k: [key[i] for key, _ in deltas] for i, k in enumerate(keys)}
        for i, name in enumerate(("notional", "fees", "fills")):
            columns[name] = [d[i] for _, d in deltas]
        schema = {"account_id": pl.Int64, "exchange": pl.Utf8, "day_ms": pl.Int64, "market": pl.Utf8,
                  "liquidity": pl.Utf8, "fill_type": pl.Utf8, "counted": pl.Boolean, "notional": pl.Decimal,
                  "fees": pl.Decimal, "fills": pl.Int64}  # fmt: skip
        rollups = frame(columns, schema)  # as Store.rollups_frame builds its frames (exact, data-fitted scale)
        last = int(fills["id"].max()) if fills.height else 0
        return cls(f"frozen:{fills.height}:{last}", fills, rollups, origin=store)

    # -- what perpvol_core.analytics.volume reads ----------------------------------------------------

    def data_version(self) -> str:
        return self._version

    def fills_frame(
        self, start_ms: int | None = None, end_ms: int | None = None, exchange: str | None = None,
        account_id: int | None = None,
    ) -> pl.DataFrame:  # fmt: skip
        """As ``Store.fills_frame``, from the snapshot."""
        out = self._fills
        if start_ms is not None:
            out = out.filter(pl.col("ts_ms") >= start_ms)
        if end_ms is not None:
            out = out.filter(pl.col("ts_ms") < end_ms)
        if exchange is not None:
            out = out.filter(pl.col("exchange") == exchange)
        if account_id is not None:
            out = out.filter(pl.col("account_id") == account_id)
        return out

    def rollups_frame(
        self, start_day_ms: int | None = None, end_day_ms: int | None = None, exchange: str | None = None,
        market: str | None = None, account_id: int | None = None,
    ) -> pl.DataFrame:  # fmt: skip
        """As ``Store.rollups_frame`` (inclusive day bounds), from the snapshot."""
        out = self._rollups
        if start_day_ms is not None:
            out = out.filter(pl.col("day_ms") >= start_day_ms)
        if end_day_ms is not None:
            out = out.filter(pl.col("day_ms") <= end_day_ms)
        if exchange is not None:
            out = out.filter(pl.col("exchange") == exchange)
        if market is not None:
            out = out.filter(pl.col("market") == market)
        if account_id is not None:
            out = out.filter(pl.col("account_id") == account_id)
        return out

    def counted_notional_between(self, start_ms: int, end_ms: int, exchange: str | None = None) -> dict[str, Decimal]:
        """As ``Store.counted_notional_between``: exact counted notional per exchange in ``[start_ms, end_ms)``."""
        totals: dict[str, Decimal] = {}
        if start_ms >= end_ms:
            return totals
        rows = self.fills_frame(start_ms, end_ms, exchange).filter(pl.col("counted"))
        with localcontext() as ctx:
            ctx.prec = 80
            for exch, notional in rows.select("exchange", "notional").iter_rows():
                totals[exch] = totals.get(exch, Decimal(0)) + Decimal(notional)
        return totals

    def fill_count(self, account_id: int | None = None) -> int:
        return self.fills_frame(account_id=account_id).height

    def close(self) -> None:
        """Close the store the snapshot was read from (the snapshot itself stays usable)."""
        if self._origin is not None:
            self._origin.close()
            self._origin = None

    def __repr__(self) -> str:
        return f"FrozenStore({self._origin!r}, version={self._version!r}, fills={self._fills.height})"
