"""Time as UTC epoch milliseconds: the one clock and the one conversion to dates and text.

Every stored or transmitted timestamp is an ``int`` of milliseconds since the epoch, UTC. Conversions use
integer arithmetic (no float rounding of milliseconds).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "MS_PER_DAY",
    "date_of_ms",
    "datetime_of_ms",
    "day_floor_ms",
    "day_ms",
    "display_utc",
    "iso_utc",
    "ms_of_datetime",
    "now_ms",
]

MS_PER_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    """The current time in UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


def datetime_of_ms(ms: int) -> datetime:
    """The aware UTC ``datetime`` of ``ms`` (exact to the millisecond)."""
    return _EPOCH + timedelta(milliseconds=ms)


def ms_of_datetime(when: datetime) -> int:
    """Epoch milliseconds of ``when`` (a naive ``datetime`` is taken as UTC); sub-millisecond parts are dropped."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(milliseconds=1)


def date_of_ms(ms: int) -> date:
    """The UTC calendar day that contains ``ms``."""
    return datetime_of_ms(ms).date()


def day_ms(day: date) -> int:
    """UTC midnight of ``day`` in epoch milliseconds."""
    return (day - _EPOCH.date()).days * MS_PER_DAY


def day_floor_ms(ms: int) -> int:
    """UTC midnight at or before ``ms``."""
    return ms - ms % MS_PER_DAY


def iso_utc(ms: int) -> str:
    """ISO-8601 text to the second with a ``Z`` suffix (``"2025-06-01T12:00:00Z"``); milliseconds truncated."""
    return datetime_of_ms(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def display_utc(ms: int | None, with_time: bool = True) -> str:
    """Text for people: ``"2025-06-01 12:00 UTC"`` (or ``"2025-06-01"``); ``"—"`` when ``ms`` is ``None``."""
    if ms is None:
        return "—"
    return datetime_of_ms(ms).strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")
