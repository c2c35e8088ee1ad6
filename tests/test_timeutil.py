"""The one clock and UTC-ms conversion: exact to the millisecond, 'Z' text, day floors."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpvol_core import timeutil
from perpvol_core.timeutil import (
    MS_PER_DAY,
    date_of_ms,
    datetime_of_ms,
    day_floor_ms,
    day_ms,
    display_utc,
    iso_utc,
    ms_of_datetime,
)

# 2025-06-01T12:34:56.789Z
_MS = 1_748_781_296_789


def test_now_ms_is_the_wall_clock_in_ms() -> None:
    before = int(time.time() * 1000)
    now = timeutil.now_ms()
    after = int(time.time() * 1000) + 1
    assert isinstance(now, int)
    assert before <= now <= after


def test_conversions_of_a_known_instant() -> None:
    when = datetime_of_ms(_MS)
    assert when == datetime(2025, 6, 1, 12, 34, 56, 789_000, tzinfo=UTC)
    assert when.tzinfo is UTC
    assert iso_utc(_MS) == "2025-06-01T12:34:56Z"  # truncated, never rounded up to :57
    assert iso_utc(_MS - 789 + 999) == "2025-06-01T12:34:56Z"
    assert display_utc(_MS) == "2025-06-01 12:34 UTC"
    assert display_utc(_MS, with_time=False) == "2025-06-01"
    assert display_utc(None) == "—"
    assert date_of_ms(_MS) == date(2025, 6, 1)
    assert day_floor_ms(_MS) == day_ms(date(2025, 6, 1)) == 1_748_736_000_000
    assert day_floor_ms(day_ms(date(2025, 6, 1))) == day_ms(date(2025, 6, 1))
    assert iso_utc(0) == "1970-01-01T00:00:00Z"


def test_aware_and_naive_datetimes() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert ms_of_datetime(datetime(2025, 6, 1, 14, 34, 56, 789_000, tzinfo=plus2)) == _MS
    assert ms_of_datetime(datetime(2025, 6, 1, 12, 34, 56, 789_000)) == _MS  # naive = UTC
    assert ms_of_datetime(datetime(2025, 6, 1, 12, 34, 56, 789_999, tzinfo=UTC)) == _MS  # µs dropped


@given(st.integers(min_value=-(10**12), max_value=253_402_300_799_999))  # up to 9999-12-31T23:59:59.999Z
def test_ms_round_trip(ms: int) -> None:
    assert ms_of_datetime(datetime_of_ms(ms)) == ms
    floor = day_floor_ms(ms)
    assert floor <= ms < floor + MS_PER_DAY
    assert floor == day_ms(date_of_ms(ms))
    assert iso_utc(ms).endswith("Z")
    assert datetime.strptime(iso_utc(ms), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) == datetime_of_ms(ms - ms % 1000)


@pytest.mark.parametrize("day", [date(1970, 1, 1), date(2024, 2, 29), date(2025, 12, 31)])
def test_day_ms_is_utc_midnight(day: date) -> None:
    assert datetime_of_ms(day_ms(day)) == datetime(day.year, day.month, day.day, tzinfo=UTC)
