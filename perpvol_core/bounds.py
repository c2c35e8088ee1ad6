"""The one place user-given numbers, dates and ranges are checked: every surface (CLI, API, dashboard, worker)
and the store's sync state call these functions before anything is used or saved.

Decision: out-of-range input is REFUSED with a clear message (:class:`InputError`), never clamped. A clamp
would make ``perpvol sync --days 800000`` look as if it did what was asked; the message says what is allowed
instead, and nothing is stored. ``InputError`` is a ``ValueError``; ``str()`` is the message for people and
``field`` names the input (the surface adds its own flag or parameter name).

Bounds: times and days lie in 2009-01-01 .. 2100-12-31 UTC (no exchange fill is older than 2009; nothing
sensible is later than 2100), so a date range's span is bounded too (at most ``MAX_RANGE_DAYS``); a sync
reaches back at most ``MAX_SYNC_DAYS`` (730, the two years the product promises); ports are 1..65535.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from perpvol_core.timeutil import MS_PER_DAY, day_ms

__all__ = [
    "MAX_DAY",
    "MAX_MS",
    "MAX_RANGE_DAYS",
    "MAX_SYNC_DAYS",
    "MIN_DAY",
    "MIN_MS",
    "InputError",
    "count",
    "day",
    "day_range",
    "epoch_ms",
    "fraction",
    "page_size",
    "port",
    "seconds",
    "sync_days",
]

MIN_DAY = date(2009, 1, 1)
MAX_DAY = date(2100, 12, 31)
MIN_MS = day_ms(MIN_DAY)
#: the last millisecond of MAX_DAY
MAX_MS = day_ms(MAX_DAY) + MS_PER_DAY - 1
MAX_RANGE_DAYS = (MAX_DAY - MIN_DAY).days + 1
#: how far back a sync may reach: the product's two years (``perpvol sync --days 730``)
MAX_SYNC_DAYS = 730
MAX_PORT = 65535
#: the longest duration (ETA, intervals) worth storing: a year
MAX_SECONDS = 366 * 86_400.0
#: the largest count stored (fills seen by one account): far above any account, far below int64
MAX_COUNT = 10**12


class InputError(ValueError):
    """A user-given value is out of range or malformed; ``str()`` says what is allowed."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _int(value: Any, name: str) -> int:
    """``value`` as an int (an int, or text of digits); bools, floats and anything else are refused."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number", name)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value.strip()) <= 20:
        return int(value.strip())
    raise InputError(f"{name} must be a whole number", name)


def sync_days(value: Any, *, name: str = "--days") -> int:
    """Days a sync reaches back: 1..MAX_SYNC_DAYS. Raises InputError."""
    n = _int(value, name)
    if not 1 <= n <= MAX_SYNC_DAYS:
        raise InputError(
            f"{name} must be between 1 and {MAX_SYNC_DAYS} (perpvol keeps two years of history), not {_short(n)}", name
        )
    return n


def port(value: Any, *, name: str = "port") -> int:
    """A TCP port: 1..65535. Raises InputError."""
    n = _int(value, name)
    if not 1 <= n <= MAX_PORT:
        raise InputError(f"{name} must be between 1 and {MAX_PORT}, not {_short(n)}", name)
    return n


def page_size(value: Any, *, maximum: int, name: str = "limit") -> int:
    """Rows per page: 1..``maximum``. Raises InputError."""
    n = _int(value, name)
    if not 1 <= n <= maximum:
        raise InputError(f"{name} must be between 1 and {maximum}, not {_short(n)}", name)
    return n


def count(value: Any, *, name: str, maximum: int = MAX_COUNT) -> int:
    """A count: 0..``maximum``. Raises InputError."""
    n = _int(value, name)
    if not 0 <= n <= maximum:
        raise InputError(f"{name} must be between 0 and {maximum}, not {_short(n)}", name)
    return n


def epoch_ms(value: Any, *, name: str) -> int:
    """A UTC epoch-millisecond time within MIN_DAY..MAX_DAY. Raises InputError."""
    n = _int(value, name)
    if not MIN_MS <= n <= MAX_MS:
        raise InputError(f"{name} must be a time between {MIN_DAY} and {MAX_DAY} UTC, not {_short(n)}", name)
    return n


def fraction(value: Any, *, name: str) -> float:
    """A finite number in 0..1 (progress). Raises InputError."""
    f = _float(value, name)
    if not 0.0 <= f <= 1.0:
        raise InputError(f"{name} must be between 0 and 1", name)
    return f


def seconds(value: Any, *, name: str, maximum: float = MAX_SECONDS) -> float:
    """A finite, non-negative duration of at most ``maximum`` seconds. Raises InputError."""
    f = _float(value, name)
    if not 0.0 <= f <= maximum:
        raise InputError(f"{name} must be between 0 and {maximum:g} seconds", name)
    return f


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number", name)
    try:
        f = float(value)
    except OverflowError:  # an int too large for a float
        f = math.inf
    if not math.isfinite(f):
        raise InputError(f"{name} must be a finite number", name)
    return f


def day(value: str | date | None, *, name: str) -> date | None:
    """A UTC day (``YYYY-MM-DD`` or a ``date``) within MIN_DAY..MAX_DAY; None stays None. Raises InputError."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        parsed = value
    else:
        text = str(value)
        try:
            if len(text) != 10:
                raise ValueError(text)
            parsed = date.fromisoformat(text)
        except ValueError:
            raise InputError(f"{name} {text[:40]!r} is not a date; use YYYY-MM-DD", name) from None
    if not MIN_DAY <= parsed <= MAX_DAY:
        raise InputError(f"{name} must be a day between {MIN_DAY} and {MAX_DAY}, not {parsed}", name)
    return parsed


def day_range(
    start: str | date | None, end: str | date | None, *, names: tuple[str, str] = ("from", "to")
) -> tuple[date | None, date | None]:
    """Both ends checked by :func:`day` and ``start <= end`` (either may be open). Raises InputError."""
    first, last = day(start, name=names[0]), day(end, name=names[1])
    if first is not None and last is not None and first > last:
        raise InputError(f"{names[0]} ({first}) must not be after {names[1]} ({last})", names[0])
    return first, last


def _short(n: int) -> str:
    """A number for a message: a huge one is not printed in full."""
    text = str(n)
    return text if len(text) <= 16 else f"{text[:6]}… ({len(text)} digits)"
