"""The calendar's cells and the range totals against the History generator's own daily figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from perpvol_app.ui.components.calendar import BAND, EMPTY_COLOR, Calendar, calendar_columns, render_range
from perpvol_app.ui.components.context import AppContext, money
from perpvol_app.ui.dashboard import Dashboard
from perpvol_core.analytics import volume
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES
from perpvol_sim.demo import DEMO_DAYS

EXCHANGES = tuple(VENUES)

SEED, N_FILLS, NOW_MS = 13, 1500, 1_790_000_000_000


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    from perpvol_sim.demo import seed_demo_store

    home = tmp_path_factory.mktemp("cal")
    store = seed_demo_store(f"sqlite:///{home / 'perpvol.db'}", seed=SEED, fills=N_FILLS, now_ms=NOW_MS)
    from perpvol_app.serve import simulator

    expected = {e: simulator(e).demo_venue(SEED, N_FILLS, NOW_MS, DEMO_DAYS).history.expected_daily()
                for e in EXCHANGES}  # fmt: skip
    yield store, expected, home
    store.close()


def test_calendar_cells_equal_the_daily_rows(seeded) -> None:
    store, expected, _ = seeded
    cols = calendar_columns(volume.daily_volume(store))
    days = sorted({d for e in expected.values() for d in e})
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    assert cols["date"] == [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    for i, day in enumerate(cols["date"]):
        rows = {e: expected[e].get(day) for e in EXCHANGES}
        total = sum((r["volume_usd"] for r in rows.values() if r), Decimal(0))
        assert Decimal(cols["total_s"][i]) == total, day
        assert cols["total_fmt"][i] == money(total)
        for e in EXCHANGES:
            assert cols[f"{e}_fmt"][i] == money(rows[e]["volume_usd"] if rows[e] else Decimal(0))
        assert cols["fills"][i] == f"{sum(r['fills'] for r in rows.values() if r):,}"
        assert (cols["color"][i] == EMPTY_COLOR) == (total == 0)
        d = dt.date.fromisoformat(day)
        assert cols["y"][i] == (last.year - d.year) * BAND + d.weekday()
    # one cell per (year band, week, weekday)
    assert len(set(zip(cols["x"], cols["y"], strict=True))) == len(cols["date"])


def test_calendar_click_selects_the_day(seeded) -> None:
    store, expected, _ = seeded
    cal = Calendar(daily=volume.daily_volume(store))
    day = max(expected[EXCHANGES[0]])
    index = cal._source.data["date"].index(day)
    cal._source.selected.indices = [index]
    assert cal.day == dt.date.fromisoformat(day)


def test_range_totals_and_day_breakdown_on_the_dashboard(seeded) -> None:
    store, expected, home = seeded
    dash = Dashboard(AppContext(settings=Settings(home=home, database_url=store.url), store=store))
    start, end = dash.history.date_range
    want = {e: sum((r["volume_usd"] for d, r in expected[e].items() if start.isoformat() <= d <= end.isoformat()),
                   Decimal(0)) for e in EXCHANGES}  # fmt: skip
    html = dash._range.object
    assert Decimal(html.split('data-total="')[1].split('"')[0]) == sum(want.values())
    for e in EXCHANGES:
        assert money(want[e]) in html
    assert "WOO X" in html and "Paradex" in html
    # a picked range moves the totals
    day = dt.date.fromisoformat(max(expected[EXCHANGES[-1]]))
    dash.history.set_range(day, day)
    assert f'data-from="{day}"' in dash._range.object
    assert money(expected[EXCHANGES[-1]][day.isoformat()]["volume_usd"]) in dash._range.object
    # a clicked calendar day shows that day's breakdown (maker, taker, fees, fills)
    dash.calendar.day = day
    row = expected[EXCHANGES[-1]][day.isoformat()]
    for key in ("volume_usd", "maker_usd", "taker_usd"):
        assert money(row[key]) in dash._day.object
    assert f"{row['fills']:,}" in dash._day.object


def test_render_range_lists_display_names() -> None:
    zero = {"volume_usd": Decimal(0), "maker_usd": Decimal(0), "taker_usd": Decimal(0), "fees_usd": Decimal(0),
            "fills": 0}  # fmt: skip
    cell = {"volume_usd": Decimal("3.5"), "maker_usd": Decimal(1), "taker_usd": Decimal("2.5"),
            "fees_usd": Decimal("0.01"), "fills": 3}  # fmt: skip
    report = {"from": dt.date(2026, 1, 1), "to": dt.date(2026, 1, 2), "days": 2, "totals": cell,
              "by_exchange": {e: cell if i == 0 else zero for i, e in enumerate(EXCHANGES)}}  # fmt: skip
    html = render_range(report)
    assert all(spec.display_name in html for spec in VENUES.values())
    assert "Total" in html and "$3.50" in html and "2 days" in html


def test_one_naming_of_the_exchanges() -> None:
    """Every surface names the exchanges as perpvol_core.exchanges.display_name does."""
    from perpvol_app.ui.components import accounts, breakdowns, headline
    from perpvol_app.ui.readonly import EXCHANGE_LABELS
    from perpvol_core.exchanges import display_name

    want = {e: display_name(e) for e in EXCHANGES}
    assert want == {name: spec.display_name for name, spec in VENUES.items()} and len(want) == len(VENUES)
    assert EXCHANGE_LABELS == want == headline.EXCHANGE_NAMES == breakdowns.NAMES
    # the account list names them through the one account-status view (services.status)
    assert accounts.account_statuses.__module__ == "perpvol_core.services.status"


def test_bokeh_theme_hides_the_logo() -> None:
    from perpvol_app.ui.theme import bokeh_theme

    assert bokeh_theme()._json["attrs"]["Toolbar"]["logo"] is None


def test_days_before_complete_from_read_not_covered_never_zero() -> None:
    """A venue's days before its ``complete_from`` read "not covered" (with what is stored, if anything);
    a day no venue covers has its own colour, never the colour of a zero day."""
    import polars as pl

    from perpvol_app.ui.components.calendar import NOT_COVERED, NOT_COVERED_COLOR

    first, late = EXCHANGES[0], EXCHANGES[-1]
    d0 = dt.date(2026, 3, 2)
    daily = pl.DataFrame(
        {"date": [d0, d0 + dt.timedelta(days=3)], "exchange": [first, first],
         "volume_usd": [Decimal("10.00"), Decimal("20.00")], "fills": [1, 2]},
        schema={"date": pl.Date, "exchange": pl.Utf8, "volume_usd": pl.Decimal(38, 2), "fills": pl.Int64},
    )  # fmt: skip
    coverage = {e: d0 + dt.timedelta(days=2) for e in EXCHANGES}  # every venue complete from day 2
    cols = calendar_columns(daily, coverage=coverage)
    assert cols["date"] == [(d0 + dt.timedelta(days=i)).isoformat() for i in range(4)]
    # day 0: stored fills of the first venue, but before its complete_from
    assert cols[f"{first}_fmt"][0] == f"{NOT_COVERED} ($10.00 stored)"
    # day 1: nothing stored, no venue covers it: not a zero day
    assert cols[f"{late}_fmt"][1] == NOT_COVERED and cols["color"][1] == NOT_COVERED_COLOR != EMPTY_COLOR
    # day 2 and later: covered; an empty covered day is zero
    assert cols[f"{late}_fmt"][2] == "$0.00" and cols["color"][2] == EMPTY_COLOR
    assert cols[f"{first}_fmt"][3] == "$20.00"
    # without coverage (venues serving their whole history) nothing reads "not covered"
    assert not any(NOT_COVERED in v for e in EXCHANGES for v in calendar_columns(daily)[f"{e}_fmt"])


def test_history_bars_before_complete_from_read_not_covered() -> None:
    import polars as pl

    from perpvol_app.ui.components.history import NOT_COVERED, chart_columns, daily_series

    first = EXCHANGES[0]
    d0 = dt.date(2026, 3, 2)
    daily = pl.DataFrame(
        {"date": [d0, d0 + dt.timedelta(days=2)], "exchange": [first, first],
         "volume_usd": [Decimal("10.00"), Decimal("20.00")], "fills": [1, 2]},
        schema={"date": pl.Date, "exchange": pl.Utf8, "volume_usd": pl.Decimal(38, 2), "fills": pl.Int64},
    )  # fmt: skip
    series = daily_series(daily)
    cols = chart_columns(series, coverage={first: d0 + dt.timedelta(days=1)})
    assert cols[f"{first}_fmt"] == [f"{NOT_COVERED} ($10.00 stored)", "$0.00", "$20.00"]
    assert cols["total_fmt"] == ["≥ $10.00", "$0.00", "$20.00"]  # a venue not covered: the sum is a lower bound
    assert chart_columns(series)[f"{first}_fmt"] == ["$10.00", "$0.00", "$20.00"]
