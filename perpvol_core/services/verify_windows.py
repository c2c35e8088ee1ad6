"""Which range a self-check reads again and how it is cut into windows (``services.verify``).

The range is the account's whole stored history: from the synced window's start (or the oldest stored
fill, when one is older) to the synced window's end, or to the newest stored fill when fills arrived
live after the last sync (the live feed stores fills without moving the synced window). The newest
minutes (the connector's overlap) are left out: fills may still arrive there. The range is split into
UTC-day aligned windows that each fit in about one page, sized from the store's own daily counts.
"""

from __future__ import annotations

import random
from typing import Any

from perpvol_core.exchanges import Connector
from perpvol_core.fill import MS_PER_DAY

#: windows of a cheap check besides the oldest and the newest
CHEAP_EXTRA_WINDOWS = 2
#: a covered range is split in at least this many windows (when it has that many days)
MIN_WINDOWS = 4
#: a window holds at most this share of one page (room for fills that arrive meanwhile)
PAGE_SHARE = 0.8


def per_page(connector: Connector) -> int:
    """Rows the connector gets per request, from ``min_pages`` (the one page-size fact every connector has)."""
    n = 1
    while n < 1_000_000 and connector.min_pages(n * 2) == 1:
        n *= 2
    lo, hi = n, n * 2  # min_pages(lo) == 1 < min_pages(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if connector.min_pages(mid) == 1 else (lo, mid)
    return lo


def plan_windows(daily_counts: dict[int, int], start_ms: int, end_ms: int, budget: int) -> list[tuple[int, int]]:
    """``[start, end)`` windows covering ``[start_ms, end_ms)``: whole UTC days, each with at most ``budget``
    stored fills (a single busier day is a window of its own), oldest first.

    Bounded for any input: only the days that hold fills are visited (never every day of the range), so the
    work and the number of windows grow with the stored data, not with the range."""
    windows: list[tuple[int, int]] = []
    if end_ms <= start_ms:
        return windows
    budget = max(1, budget)
    first_day = start_ms - start_ms % MS_PER_DAY
    w_start, w_count = start_ms, 0
    for day in sorted(d for d, n in daily_counts.items() if n > 0 and first_day <= d < end_ms):
        n = daily_counts[day]
        if w_count and w_count + n > budget:
            windows.append((w_start, day))
            w_start, w_count = day, 0
        w_count += n
        if w_count > budget and day + MS_PER_DAY < end_ms:  # a day over budget is a window of its own
            windows.append((w_start, day + MS_PER_DAY))
            w_start, w_count = day + MS_PER_DAY, 0
    windows.append((w_start, end_ms))
    return windows


def daily_counts(store: Any, account_id: int, start_ms: int | None = None, end_ms: int | None = None) -> dict[int, int]:
    """Stored fills per UTC day (``day_ms`` → count) of one account, from the rollups (all days when unbounded)."""
    frame = store.rollups_frame(
        start_day_ms=None if start_ms is None else start_ms - start_ms % MS_PER_DAY,
        end_day_ms=None if end_ms is None else end_ms - end_ms % MS_PER_DAY,
        account_id=account_id,
    )
    counts: dict[int, int] = {}
    for day, fills in zip(frame["day_ms"].to_list(), frame["fills"].to_list(), strict=True):
        counts[int(day)] = counts.get(int(day), 0) + int(fills)
    return counts


def _stored_bounds(store: Any, account_id: int) -> tuple[int, int] | None:
    """Times of the oldest and the newest stored fill of the account (None: none stored); reads only their days."""
    days = [day for day, n in daily_counts(store, account_id).items() if n > 0]
    if not days:
        return None
    first = store.fills_frame(start_ms=min(days), end_ms=min(days) + MS_PER_DAY, account_id=account_id)["ts_ms"]
    last = store.fills_frame(start_ms=max(days), end_ms=max(days) + MS_PER_DAY, account_id=account_id)["ts_ms"]
    if first.is_empty() or last.is_empty():
        return None
    return int(first.min()), int(last.max())


def check_range(
    store: Any, account_id: int, covered_from_ms: int, covered_to_ms: int, overlap_ms: int, now_ms: int
) -> tuple[int, int]:
    """``[start, end)`` a check reads again: the synced window, widened to every stored fill (older ones,
    and those the live feed stored after the last sync), less the newest ``overlap_ms`` (still arriving)."""
    start, end = covered_from_ms, covered_to_ms + 1 - overlap_ms
    bounds = _stored_bounds(store, account_id)
    if bounds is not None:
        first, last = bounds
        start = min(start, first)
        if last > covered_to_ms:  # fills arrived live after the sync: read up to the newest one
            end = max(end, min(last + 1, now_ms - overlap_ms))
    return start, end


def budget(connector: Connector, counts: dict[int, int]) -> int:
    """Stored fills per window: one page's share, and a small account still split in ``MIN_WINDOWS``
    (a narrower query than its one-page backfill)."""
    return max(1, min(int(per_page(connector) * PAGE_SHARE), -(-sum(counts.values()) // MIN_WINDOWS)))


def choose(windows: list[tuple[int, int]], full: bool, rng: random.Random) -> list[tuple[int, int]]:
    """Every window (full), or the oldest, the newest and ``CHEAP_EXTRA_WINDOWS`` drawn from the others."""
    if full or len(windows) <= 2 + CHEAP_EXTRA_WINDOWS:
        return list(windows)
    middle = windows[1:-1]
    picked = rng.sample(middle, CHEAP_EXTRA_WINDOWS)
    return [windows[0], *sorted(picked), windows[-1]]
