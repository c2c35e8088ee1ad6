"""The dashboard's components against a real store seeded from the simulators' histories.

Expected figures come from the History generator itself (its exact ``expected_daily``), never from
the code under test. Key management runs against a real Paradex simulator over HTTP.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from perpvol_app.ui.components.accounts import render_accounts, snapshot
from perpvol_app.ui.components.breakdowns import Breakdowns
from perpvol_app.ui.components.context import AppContext, forget, shared
from perpvol_app.ui.components.headline import render_summary
from perpvol_app.ui.components.history import HistoryChart, aggregate, rolling_average
from perpvol_app.ui.components.keys import KeyManager
from perpvol_app.ui.components.tiers import FeeTiers
from perpvol_app.ui.dashboard import Dashboard
from perpvol_core.analytics import volume
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES

#: the registered venues (each breakdown lists every one)
EXCHANGES: tuple[str, ...] = tuple(VENUES)


def _history(exchange: str, seed: int, n_fills: int, now_ms: int):  # noqa: ANN202
    """The venue's demo simulator's history (as ``seed_demo_store`` seeds it: 730 days)."""
    from perpvol_app.serve import simulator

    return simulator(exchange).demo_venue(seed, n_fills, now_ms, 730).history

SEED = 11
N_FILLS = 1200
NOW_MS = 1_790_000_000_000  # fixed: 2026-09-21, the histories and every window are reproducible


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    from perpvol_sim.demo import seed_demo_store

    home = tmp_path_factory.mktemp("seeded")
    store = seed_demo_store(f"sqlite:///{home / 'perpvol.db'}", seed=SEED, fills=N_FILLS, now_ms=NOW_MS)
    expected = {e: _history(e, SEED, N_FILLS, NOW_MS).expected_daily() for e in EXCHANGES}
    yield store, expected
    store.close()


def _expected_per_day(expected: dict[str, dict[str, dict]]) -> dict[str, dict[str, Decimal]]:
    days: dict[str, dict[str, Decimal]] = {}
    for exch, daily in expected.items():
        for day, row in daily.items():
            days.setdefault(day, {e: Decimal(0) for e in EXCHANGES})[exch] += row["volume_usd"]
    return days


def test_history_has_one_row_per_day_with_exact_totals(seeded) -> None:
    store, expected = seeded
    chart = HistoryChart(store=store)
    series = chart.series()
    per_day = _expected_per_day(expected)
    first = min(dt.date.fromisoformat(d) for d in per_day)
    today = dt.datetime.now(dt.UTC).date()
    assert series.height == (today - first).days + 1  # every day, including days without fills
    assert series["date"].n_unique() == series.height
    for row in series.iter_rows(named=True):
        want = per_day.get(row["date"].isoformat(), {e: Decimal(0) for e in EXCHANGES})
        for exch in EXCHANGES:
            assert Decimal(row[exch]) == want[exch], (row["date"], exch)
        assert Decimal(row["total"]) == sum(want.values())


def test_chart_frame_carries_exact_strings_and_counts_days(seeded) -> None:
    store, expected = seeded
    chart = HistoryChart(store=store)
    frame = chart.chart_frame()
    assert frame.height == chart.series().height * len(EXCHANGES)
    per_day = _expected_per_day(expected)
    for row in frame.iter_rows(named=True):
        want = per_day.get(row["period"].isoformat(), {e: Decimal(0) for e in EXCHANGES})
        assert Decimal(row["volume_s"]) == want[row["exchange"]]
        assert Decimal(row["total_s"]) == sum(want.values())
    assert f'data-days="{chart.series().height}"' in chart._info.object


def test_aggregation_and_cumulative_keep_the_total(seeded) -> None:
    store, expected = seeded
    all_time = sum((r["volume_usd"] for d in expected.values() for r in d.values()), Decimal(0))
    series = HistoryChart(store=store).series()
    for agg in ("day", "week", "month"):
        out = aggregate(series, agg)
        assert Decimal(out["total"].sum()) == all_time
        cum = aggregate(series, agg, cumulative=True)
        assert Decimal(cum["total"][-1]) == all_time
    weeks = aggregate(series, "week")
    assert all(d.weekday() == 0 for d in weeks["date"].to_list())


def test_rolling_average_is_the_exact_trailing_mean(seeded) -> None:
    store, _ = seeded
    series = HistoryChart(store=store).series()
    avg = rolling_average(series, 30)
    totals = [Decimal(v) for v in series["total"].to_list()]
    i = series.height - 1
    assert Decimal(avg["avg"][i]) == (sum(totals[i - 29 : i + 1]) / 30).quantize(Decimal("0.01"))


def test_csv_export_is_the_daily_series_exactly(seeded) -> None:
    store, expected = seeded
    rows = list(csv.DictReader(io.StringIO(HistoryChart(store=store).csv().getvalue())))
    assert rows and set(rows[0]) >= {"date", "exchange", "volume_usd", "maker_usd", "taker_usd", "fees_usd", "fills"}
    for r in rows:
        want = expected[r["exchange"]][r["date"]]
        assert Decimal(r["volume_usd"]) == want["volume_usd"]
        assert int(r["fills"]) == want["fills"]
    assert len(rows) == sum(len(d) for d in expected.values())


def test_breakdowns_sum_to_the_totals(seeded) -> None:
    store, expected = seeded
    all_by_exchange = {e: sum((r["volume_usd"] for r in d.values()), Decimal(0)) for e, d in expected.items()}
    b = Breakdowns(store=store, period="all", top_n=50)
    markets = volume.by_market(store, top_n=None)
    assert b.markets.height == min(50, markets.height)
    for exch in EXCHANGES:
        total = sum(
            (Decimal(v) for v in markets.filter(markets["exchange"] == exch)["volume_usd"].to_list()), Decimal(0)
        )
        assert total == all_by_exchange[exch]
    liq = b.liquidity_totals()
    for exch in EXCHANGES:
        assert liq[exch]["MAKER"] + liq[exch]["TAKER"] == all_by_exchange[exch]
        assert liq[exch]["MAKER"] == sum((r["maker_usd"] for r in expected[exch].values()), Decimal(0))
    counted = b.fill_types.filter(b.fill_types["counted"])
    assert sum((Decimal(v) for v in counted["volume_usd"].to_list()), Decimal(0)) == sum(all_by_exchange.values())
    html = b._types.object
    assert "pv-types-counted" in html
    # Paradex histories include settlement/unwind fills: they are listed apart, never counted
    uncounted = b.fill_types.filter(~b.fill_types["counted"])
    if uncounted.height:
        assert "pv-types-apart" in html


def test_not_counted_lists_market_and_reason(seeded) -> None:
    """Each uncounted (exchange, market, fill type) is its own row with its exact notional and the reason."""
    from perpvol_sim.demo import sim_fills

    store, _ = seeded
    want: dict[tuple[str, str, str], Decimal] = {}
    for exch in EXCHANGES:
        for f in sim_fills(exch, SEED, N_FILLS, now_ms=NOW_MS):
            if not f.counted:
                key = (exch, f.market, f.fill_type)
                want[key] = want.get(key, Decimal(0)) + f.notional
    b = Breakdowns(store=store, period="all")
    rows = {(r["exchange"], r["market"], r["fill_type"]): r for r in b.uncounted.iter_rows(named=True)}
    assert {k: Decimal(r["volume_usd"]) for k, r in rows.items()} == want
    kinds = {"spot market": 0, "option": 0, "settlement": 0}
    for (_exch, market, fill_type), row in rows.items():
        reason = row["reason"]
        assert reason and market in b._types.object and reason in b._types.object
        if "SPOT" in market.split("_"):
            assert reason == "spot market"
            kinds["spot market"] += 1
        elif market.split("-")[-1] in ("C", "P"):
            assert reason == "option"
            kinds["option"] += 1
        elif "SETTLE" in fill_type:
            assert reason.startswith("settlement")
            kinds["settlement"] += 1
    assert all(kinds.values()), kinds  # the seeded histories hold each kind


def test_headline_shows_exact_figures(seeded) -> None:
    store, _ = seeded
    summary = volume.summary(store, now_ms=NOW_MS)
    html = render_summary(summary)
    for key in ("24h", "7d", "30d", "all"):
        value = summary["totals"][key]
        assert f'data-window="{key}"' in html
        assert f'data-exact="{format(value.normalize(), "f") if value else "0"}"' in html or str(value) in html


def test_fee_tiers_use_window_volumes(seeded) -> None:
    store, _ = seeded
    ft = FeeTiers()
    ft.refresh(store, now_ms=NOW_MS)
    outlooks = ft.progress["outlooks"]
    assert {o.exchange for o in outlooks} == set(EXCHANGES)
    for o in outlooks:  # each venue's window of whole UTC days, today included (one account per venue here)
        start = int(dt.datetime.combine(o.window_start, dt.time(), dt.UTC).timestamp() * 1000)
        end = int(dt.datetime.combine(o.window_end, dt.time(), dt.UTC).timestamp() * 1000) + 86_400_000
        assert o.projection.volume == volume.window_volume(store, start, end, o.exchange), o.exchange
        assert f'data-label="{o.label}"' in ft._pane.object
    assert "fee schedule not read yet" in ft._pane.object  # the demo store was never synced


def test_shared_reads_share_one_computation() -> None:
    calls = []
    store = object()  # any hashable store object is the key

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert shared(store, "x", compute) == 1 and shared(store, "x", compute) == 1
    assert shared(object(), "x", compute) == 2  # another store, its own read
    forget(store)
    assert shared(store, "x", compute) == 3


def test_a_volume_event_updates_the_live_figure(seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perpvol_core import timeutil
    from perpvol_core.exchanges import counts as is_counted
    from perpvol_core.fill import MS_PER_DAY

    store, _ = seeded
    fills = {e: _history(e, SEED, N_FILLS, NOW_MS).snapshot() for e in EXCHANGES}
    counted = [(e, f) for e, fs in fills.items() for f in fs if is_counted(e, f.market, f.fill_type)]
    # the clock stands just after the newest counted fill: the last 24 hours hold fills of the history
    now = max(f.ts_ms for _, f in counted) + 1_000
    monkeypatch.setattr(timeutil, "now_ms", lambda: now)
    want = {e: sum((f.price * f.size for x, f in counted if x == e and now - MS_PER_DAY < f.ts_ms <= now),
                   Decimal(0)) for e in EXCHANGES}  # fmt: skip
    assert sum(want.values()) > 0
    ctx = AppContext(settings=Settings(home=tmp_path, database_url="sqlite://"), store=store)
    dash = Dashboard(ctx)
    stale = {"totals": {"24h": Decimal(-1)}, "by_exchange": {e: {"24h": Decimal(-1)} for e in EXCHANGES}}
    dash.summary = stale
    from perpvol_core.services.live import volume_event

    event = volume_event(store)  # what the live feed publishes; the dashboard applies it without a read
    dash.apply_figures(event.totals, event.by_exchange)
    assert dash.applied == 1
    # an independent recomputation from the fills in (now - 24h, now]
    assert {e: dash.summary["by_exchange"][e]["24h"] for e in EXCHANGES} == want
    assert dash.summary["totals"]["24h"] == sum(want.values())
    assert "pv-headline" in dash.headline._pane.object
    assert not dash._empty.visible  # accounts exist: no first-run guide


# -- key management against a real simulator -----------------------------------------------------


@pytest.fixture
def key_context(sqlite_settings: Settings):
    from perpvol_core.store import Store
    from perpvol_sim.paradex import ParadexSim

    store = Store.open(sqlite_settings)
    sim = ParadexSim(seed=3, n_fills=50)
    sim.start()
    ctx = AppContext(settings=sqlite_settings, store=store)
    try:
        yield ctx, sim
    finally:
        sim.stop()
        store.close()


def test_key_is_tested_before_saving_and_listed_masked(key_context) -> None:
    ctx, sim = key_context
    km = KeyManager(context=ctx)
    token = sim.mint_read_only_token("test")
    km.kind.value = "paradex_token"
    km.input("paradex_token", "token").value = token
    km.label.value = "px"
    km.base_url.value = sim.api_url
    asyncio.run(km._on_add())
    assert km.message_kind == "ok", km.message
    assert km.input("paradex_token", "token").value == ""  # cleared on submit
    acc = ctx.store.get_account("px")
    assert token not in acc.hint and token[-4:] in acc.hint
    assert token.encode() not in acc.credentials  # encrypted by the vault
    rows = snapshot(ctx.store)
    page = render_accounts(rows) + km._list.object + km._message.object
    assert "px" in page and token not in page and acc.hint in page


def test_rejected_key_is_not_saved_and_error_is_redacted(key_context) -> None:
    ctx, sim = key_context
    km = KeyManager(context=ctx)
    bogus = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIweDEifQ.c2lnbmF0dXJlLW5vdC12YWxpZA"
    ok = asyncio.run(km.add(kind="paradex_token", label="bad", base_url=sim.api_url, token=bogus))
    assert not ok and km.message_kind == "error"
    assert bogus not in km.message and bogus not in km._message.object
    assert [a.label for a in ctx.store.list_accounts()] == []


def test_remove_needs_confirmation(key_context) -> None:
    ctx, sim = key_context
    km = KeyManager(context=ctx)
    assert asyncio.run(km.add(kind="paradex_token", label="px", base_url=sim.api_url,
                              token=sim.mint_read_only_token("t")))  # fmt: skip
    km.refresh()
    km.selected.value = "px"
    km._on_remove()
    assert km.confirm_button.visible and [a.label for a in ctx.store.list_accounts()] == ["px"]
    km._on_cancel()
    assert not km.confirm_button.visible and [a.label for a in ctx.store.list_accounts()] == ["px"]
    km._on_remove()
    km._on_confirm()
    assert ctx.store.list_accounts() == []
    assert 'data-count="0"' in km._list.object


def test_empty_store_shows_the_first_run_guide(sqlite_settings: Settings) -> None:
    from perpvol_core.store import Store

    store = Store.open(sqlite_settings)
    try:
        dash = Dashboard(AppContext(settings=sqlite_settings, store=store))
        assert dash._empty.visible and "make demo" in dash._empty.object
        assert 'data-days="0"' in dash.history._info.object
    finally:
        store.close()
