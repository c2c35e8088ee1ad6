"""The one validation place (perpvol_core/bounds.py): what is accepted, what is refused and in which words."""

from __future__ import annotations

from datetime import date

import pytest

from perpvol_core import bounds


@pytest.mark.parametrize("value", [1, 7, 730, "730"])
def test_sync_days_in_range(value) -> None:
    assert bounds.sync_days(value) == int(value)


@pytest.mark.parametrize("value", [0, -1, 731, 800_000, 10**11, 10**400, True, 1.5, "ten", None])
def test_sync_days_refused_in_our_words(value) -> None:
    with pytest.raises(bounds.InputError) as err:
        bounds.sync_days(value)
    text = str(err.value)
    assert text.startswith("--days must") and len(text) < 200  # a huge number is not printed in full
    assert err.value.field == "--days"


def test_days_and_ranges() -> None:
    assert bounds.day("2026-11-30", name="from") == date(2026, 11, 30)
    assert bounds.day(None, name="from") is None
    assert bounds.day_range("2026-01-01", "2026-01-01") == (date(2026, 1, 1), date(2026, 1, 1))
    for bad in ("1900-01-01", "2101-01-01", "0001-01-01", "9999-12-31", "2024-02-30", "yesterday", "20240101",
                "2024-1-01"):
        with pytest.raises(bounds.InputError, match="from"):
            bounds.day(bad, name="from")
    with pytest.raises(bounds.InputError, match="must not be after"):
        bounds.day_range("2026-02-02", "2026-02-01")
    # the span of any accepted range is bounded by the accepted years
    first, last = bounds.day_range("2009-01-01", "2100-12-31")
    assert (last - first).days + 1 == bounds.MAX_RANGE_DAYS < 40_000


def test_ports_page_sizes_times_and_fractions() -> None:
    assert bounds.port(1) == 1 and bounds.port(65535) == 65535
    for bad in (0, 65536, -5, 10**11):
        with pytest.raises(bounds.InputError, match="port must be between 1 and 65535"):
            bounds.port(bad)
    assert bounds.page_size(500, maximum=500) == 500
    with pytest.raises(bounds.InputError):
        bounds.page_size(501, maximum=500)
    assert bounds.epoch_ms(1_735_689_600_000, name="t") == 1_735_689_600_000
    for bad in (0, -8_640_000_000_000_000_000, 10**15, 2**63):
        with pytest.raises(bounds.InputError, match="between 2009-01-01 and 2100-12-31"):
            bounds.epoch_ms(bad, name="t")
    assert bounds.fraction(1, name="p") == 1.0
    for bad in (1.5, -0.1, float("nan"), float("inf"), 10**400):
        with pytest.raises(bounds.InputError):
            bounds.fraction(bad, name="p")
