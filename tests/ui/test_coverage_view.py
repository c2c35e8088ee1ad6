"""Coverage on the dashboard's components and the read-only view, on the hand-worked example of
``tests/analytics/test_coverage.py`` (now = 2026-12-04 12:00 UTC; the capped venue complete from 2026-11-20,
30 stored before it and 20 after; the other venue 150, complete over all it read; the capped venue reports
12345.67 all time). No browser: the HTML and the chart models the surfaces are made of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from perpvol_core.exchanges import VENUES, display_name
from perpvol_core.store import Store
from tests.analytics.test_coverage import CAPPED, FULL, NOW, build_example

NOW_MS = int(NOW.timestamp() * 1000)
NAME = display_name(CAPPED)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store(f"sqlite:///{tmp_path / 'cover.db'}")
    build_example(st)
    yield st
    st.close()


def test_coverage_view_flags_notes_and_bands(store: Store) -> None:
    from bokeh.plotting import figure

    from perpvol_app.ui.components.coverage import CoverageView

    view = CoverageView(venues=CoverageView.read(store)["venues"], now_ms=NOW_MS)
    flags = view.partial_flags()
    assert flags["totals"] == {"24h": False, "7d": False, "30d": True, "all": True}
    assert flags["by_exchange"][CAPPED] == {"24h": False, "7d": False, "30d": True, "all": True}
    assert flags["by_exchange"][FULL] == {"24h": False, "7d": False, "30d": False, "all": False}
    assert f"partial: {NAME} not covered before 2026-11-20" in view.note.object
    assert (f"{NAME} reports $12,345.67 all-time perp volume (as of 2026-12-04 11:30 UTC) · perpvol: ≥ $50.00"
            in view.note.object)  # fmt: skip
    assert f"{NAME} before 2026-11-20" in view.chart_key.object
    assert view.range_bounds(dt.date(2026, 11, 1), dt.date(2026, 11, 15)) == (
        {CAPPED}, f"partial: {NAME} not covered in this range (complete from 2026-11-20)")
    assert view.range_bounds(dt.date(2026, 11, 20), dt.date(2026, 12, 4)) == (set(), "")
    fig = figure(x_axis_type="datetime")
    view.attach_chart(fig)
    bands = {a.name: a for a in fig.center if (a.name or "").startswith("pv-not-covered-")}
    assert {n for n, b in bands.items() if b.visible} == {f"pv-not-covered-{CAPPED}"}
    # the band ends half a day before 2026-11-20 00:00 UTC (the bars are centred on their midnight)
    assert bands[f"pv-not-covered-{CAPPED}"].right == 1_795_132_800_000 - 43_200_000
    assert len(bands) == len(VENUES)


def test_range_totals_mark_lower_bounds_and_never_show_zero(store: Store) -> None:
    from perpvol_app.ui.components.calendar import render_range
    from perpvol_core.analytics import volume

    report = volume.range_report(store, dt.date(2026, 11, 1), dt.date(2026, 11, 19))
    html = render_range(report, bound={CAPPED}, note="partial: the note")
    row = html[html.index(f'<tr data-exchange="{NAME}" data-partial="true">'):]
    assert "≥ $30.00" in row.split("</tr>")[0]  # 30 stored on 2026-11-19: at least that much
    assert '<tr data-exchange="Total" data-partial="true">' in html and "partial: the note" in html
    empty = render_range(volume.range_report(store, dt.date(2026, 11, 1), dt.date(2026, 11, 15)), bound={CAPPED})
    cell = empty[empty.index(f'<tr data-exchange="{NAME}"'):].split("</tr>")[0]
    assert "not covered" in cell and "$0.00" not in cell.split('data-label="Volume"')[1].split("</td>")[0]


def test_readonly_view_marks_partial_and_shows_the_venues_figure(store: Store) -> None:
    import holoviews as hv

    from perpvol_app.ui import readonly

    snap = readonly.load(store, now_ms=NOW_MS)
    head = readonly.headline_html(snap)
    assert "≥ $200" in head and f"partial: {NAME} not covered before 2026-11-20" in head
    assert f"{NAME} reports $12,345.67 all-time perp volume" in head
    cards = {c.split('"')[0]: c for c in head.split('data-period="')[1:]}
    assert ">$170<" in cards["7d"] and ">≥ $200<" in cards["30d"] and ">≥ $200<" in cards["all"]
    assert f"<td>{display_name(FULL)}</td><td>$50.00</td><td>$150.00</td>" in head  # covered: plain figures
    assert "≥ $50.00" in readonly.breakdown_html(snap)
    readonly.use_theme()
    fig = hv.render(readonly.daily_chart(snap), backend="bokeh")
    shown = [a.name for a in fig.center if (a.name or "").startswith("pv-not-covered-") and a.visible]
    assert shown == [f"pv-not-covered-{CAPPED}"]
    view = readonly.readonly_view(store=store, now_ms=NOW_MS)
    assert any("pv-chart-key" in str(getattr(p, "object", "")) for p in view.objects)
    assert Decimal(50) == snap.venues[CAPPED].ours_all_time


def test_dashboard_headline_range_and_breakdowns(store: Store, tmp_path: Path) -> None:
    from perpvol_app.ui.components.context import AppContext
    from perpvol_app.ui.dashboard import Dashboard
    from perpvol_core.config import Settings

    dash = Dashboard(AppContext(settings=Settings(home=tmp_path, database_url=store.url), store=store), defer=False)
    head = dash.headline._pane.object
    all_time = head[head.index('data-window="all"'):]
    assert "≥ $200.00" in all_time and f"{NAME} ≥ $50" in all_time  # lower bounds, whatever the date today
    assert f"partial: {NAME} not covered before 2026-11-20" in dash.coverage.note.object
    dash.history.set_range(dt.date(2026, 11, 1), dt.date(2026, 11, 15))
    assert "not covered in this range (complete from 2026-11-20)" in dash._range.object
    assert f"the rows of {NAME} are lower bounds" in dash.coverage.breakdown_note.object
    assert dash.history.coverage == {FULL: dt.date(2024, 12, 6), CAPPED: dt.date(2026, 11, 20)}
