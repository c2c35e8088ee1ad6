"""Which fills the venue still serves (F6, F7, F10): the truth a test compares a synced store with.

Hyperliquid serves "only the 10000 most recent fills" (§3.7): the newest ``retention_cap`` rows, counting spot
rows or not (F7), optionally also no row older than ``retention_days`` (F6). A self-trade shows two rows or
only its taker row (F10); the row that is not shown is not served and does not count toward the cap.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable

from perpvol_core.timeutil import MS_PER_DAY
from perpvol_sim.history import History, SimFill, utc_day
from perpvol_sim.hyperliquid.config import HyperliquidSimConfig


def visible(history: History, two_rows: bool) -> list[SimFill]:
    """The history's rows as the venue shows them (F10: a self-trade's maker row dropped when one row)."""
    fills = history.snapshot()
    if two_rows or not history.self_trades:
        return fills
    return [f for f in fills if f.fill_id not in history.self_trades]


def retained(
    fills: list[SimFill], cap: int, counts_spot: bool, is_spot: Callable[[str], bool] | None = None
) -> list[SimFill]:
    """The newest ``cap`` rows of ``fills`` (ascending), and every spot row newer than the oldest of them when
    spot rows do not count (``is_spot(market) -> bool``)."""
    if counts_spot or is_spot is None:
        return fills[max(0, len(fills) - cap):]
    start = len(fills)
    counted = 0
    for index in range(len(fills) - 1, -1, -1):
        if not is_spot(fills[index].market):
            if counted == cap:
                break
            counted += 1
        start = index
    return fills[start:]


def served_fills(history: History, config: HyperliquidSimConfig, now_ms: int) -> list[SimFill]:
    """The rows ``userFills``/``userFillsByTime`` can still return (ascending; before any per-request filter)."""
    kind_of = history.profile.kind_of
    rows = retained(
        visible(history, config.self_trade_two_rows),
        config.retention_cap,
        config.retention_counts_spot,
        lambda market: kind_of(market) == "spot",
    )
    if config.retention_days is not None:
        oldest = now_ms - config.retention_days * MS_PER_DAY
        rows = rows[bisect.bisect_left([f.ts_ms for f in rows], oldest):]
    if config.withheld_day:
        rows = [f for f in rows if utc_day(f.ts_ms) != config.withheld_day]
    return rows


class ServedCache:
    """:func:`served_fills` recomputed only when the history grew or a retention reading changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._rows: list[SimFill] = []

    def get(self, history: History, config: HyperliquidSimConfig, now_ms: int) -> list[SimFill]:
        day_bucket = now_ms // 1000 if config.retention_days is not None else 0
        key = (id(history), len(history.fills), config.retention_cap, config.retention_counts_spot,
               config.self_trade_two_rows, config.retention_days, day_bucket, config.withheld_day)  # fmt: skip
        with self._lock:
            if key != self._key:
                self._rows = served_fills(history, config, now_ms)
                self._key = key
            return self._rows
