"""The history chart's date pickers pass their days through the one check (perpvol_core/bounds.py)."""

from __future__ import annotations

import datetime as dt

from perpvol_app.ui.components.history import HistoryChart


def test_pickers_accept_days_in_range_and_ignore_the_rest() -> None:
    chart = HistoryChart()
    chart._from.value, chart._to.value = "2026-03-05", "2026-03-01"  # picked backwards: read as a range
    chart._on_picker("value", None, None)
    assert chart.date_range == (dt.date(2026, 3, 1), dt.date(2026, 3, 5))
    # a bad day on either side (each change calls the handler) leaves the range as it was
    for side, bad in (("_from", "1900-01-01"), ("_to", "9999-12-31"), ("_to", "2101-01-01")):
        chart._from.value, chart._to.value = "2026-03-01", "2026-03-05"
        getattr(chart, side).value = bad
        chart._on_picker("value", None, None)
        assert chart.date_range == (dt.date(2026, 3, 1), dt.date(2026, 3, 5)), (side, bad)  # kept, not widened
