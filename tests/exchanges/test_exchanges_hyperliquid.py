"""Hyperliquid connector against the Hyperliquid simulator over real HTTP, under every reading the simulator
serves for fills: page caps, which N of a full window (earliest / latest / descending), endTime inclusive or
exclusive, numbers or strings, retention (count cap, old windows as [] / error object / partial page, a time
cap), 429 bodies with and without Retry-After, a same-millisecond burst larger than a page.

The truth is the simulator's own: ``sim.served_fills()`` (what the venue still serves) and
``History.expected_daily`` (counted perp volume per UTC day, computed from the history's fields).
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal

import pytest

from perpvol_core.exchanges._errors import ExchangeError, InvalidCredentials
from perpvol_core.exchanges._facts import StoredFacts
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.rest import HyperliquidConnector, identity
from perpvol_core.exchanges.hyperliquid.spec import SPEC
from perpvol_core.timeutil import MS_PER_DAY
from perpvol_sim.faults import RATE_LIMIT
from perpvol_sim.history import utc_day
from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history

FAST = {"max_attempts": 4, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0, "rate_limits": {"info": []}}
N_FILLS = 600
RETENTION = 300


@pytest.fixture(scope="module")
def hl():
    sim = HyperliquidSim(hyperliquid_history(7, N_FILLS, days=60), weight_limit=10**9)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(hl):
    """The module's simulator with its readings restored after each test."""
    saved = hl.config
    yield hl
    hl.state.config = saved
    hl.faults.reset()


def connector(sim, **options) -> HyperliquidConnector:
    return HyperliquidConnector(HyperliquidAddress(address=sim.address), sim.base_url, **{**FAST, **options})


def read_all(conn, start_ms, end_ms, served=None):
    """Every page of one walk: ``(fills by id, history_starts_ms of the last page, pages)``; a fill handed
    out twice fails the test (it would be counted twice by anything that adds pages up). With ``served``
    (the simulator's truth), every ``window_done_ms`` is checked: all served fills in ``[window_done_ms,
    end_ms]`` have been handed out by then (the sync engine's contract)."""
    got: dict = {}
    pages = list(conn.iter_fill_pages(start_ms, end_ms))
    for page in pages:
        assert not page.skipped
        for fill in page.fills:
            assert fill.fill_id not in got, f"fill {fill.fill_id} handed out twice"
            got[fill.fill_id] = fill
        if served is not None and page.window_done_ms is not None and page.position is not None:
            times = Counter(f.ts_ms for f in got.values() if f.ts_ms >= page.window_done_ms)
            assert times == Counter(f.ts_ms for f in served if page.window_done_ms <= f.ts_ms <= end_ms)
    assert pages[-1].position is None and pages[-1].window_done_ms == start_ms
    assert all(p.position is not None for p in pages[:-1])
    return got, pages[-1].history_starts_ms, pages


def daily(fills, from_ms: int) -> dict[str, dict]:
    """Counted perp volume per UTC day of the connector's fills (SPEC.counts), in expected_daily's shape."""
    out: dict[str, dict] = {}
    for f in fills:
        if f.ts_ms < from_ms or not SPEC.counts(f.market, f.fill_type):
            continue
        day = out.setdefault(utc_day(f.ts_ms), {"volume_usd": Decimal(0), "maker_usd": Decimal(0),
                                                "taker_usd": Decimal(0), "fees_usd": Decimal(0), "fills": 0})
        day["volume_usd"] += f.notional
        day["maker_usd" if f.liquidity == "MAKER" else "taker_usd"] += f.notional
        day["fees_usd"] += f.fee
        day["fills"] += 1
    return out


def complete_from(history_starts_ms: int | None, start_ms: int) -> int:
    """The first UTC midnight at or after where the history is complete (the FillPage contract)."""
    at = start_ms if history_starts_ms is None else history_starts_ms
    return -(-at // MS_PER_DAY) * MS_PER_DAY


def assert_truth(sim, got, starts, start_ms, *, fees=True):
    served = sim.served_fills()
    since = complete_from(starts, start_ms)
    expected = {d: v for d, v in sim.history.expected_daily(served).items() if d >= utc_day(since)}
    mine = daily(got.values(), since)
    if not fees:
        for table in (expected, mine):
            for v in table.values():
                v.pop("fees_usd", None)
    assert mine == expected
    assert sum(1 for f in got.values() if f.ts_ms >= since) == sum(1 for f in served if f.ts_ms >= since)
    return served


def page_bound(served, cap: int, extra: int) -> int:
    """Requests a walk may take: pages of ``cap`` that each repeat the previous page's last millisecond (at
    most the largest same-millisecond group of the served fills), plus ``extra`` probes."""
    biggest = max(Counter(f.ts_ms for f in served).values())
    return math.ceil(len(served) / max(1, cap - biggest)) + extra


@pytest.mark.parametrize("pick", ["earliest", "latest", "descending"])
@pytest.mark.parametrize("end_inclusive", [True, False])
def test_every_order_and_end_bound_reading_reads_every_fill_once(sim, pick, end_inclusive):
    sim.configure(page_cap=100, window_pick=pick, end_inclusive=end_inclusive)
    conn = connector(sim)
    h = sim.history
    got, starts, pages = read_all(conn, h.start_ms, h.now_ms, sim.served_fills())
    served = assert_truth(sim, got, starts, h.start_ms)
    assert starts is None and len(got) == len(served) == N_FILLS
    assert conn.stats.requests <= page_bound(served, 100, extra=5)
    if pick != "earliest":  # newest windows first: the range completes page by page, not only at its end
        assert sum(1 for p in pages if p.window_done_ms is not None) >= len(served) // 100


@pytest.mark.parametrize("page_cap", [2000, 500, 37])
@pytest.mark.parametrize("number_style", ["numbers", "strings", "mixed"])
def test_page_caps_and_number_styles(sim, page_cap, number_style):
    sim.configure(page_cap=page_cap, number_style=number_style)
    conn = connector(sim)
    h = sim.history
    got, starts, _ = read_all(conn, h.start_ms, h.now_ms)
    served = assert_truth(sim, got, starts, h.start_ms)
    assert starts is None and len(got) == N_FILLS
    assert conn.stats.requests <= page_bound(served, page_cap, extra=4)


@pytest.mark.parametrize("pick", ["earliest", "latest"])
@pytest.mark.parametrize("old_window", ["empty", "error", "partial"])
def test_retention_cap_sets_history_start_and_the_days_after_it_are_exact(sim, pick, old_window):
    sim.configure(page_cap=100, window_pick=pick, retention_cap=RETENTION, old_window=old_window)
    conn = connector(sim, retention_fills=RETENTION)
    h = sim.history
    got, starts, _ = read_all(conn, h.start_ms, h.now_ms)
    served = assert_truth(sim, got, starts, h.start_ms)
    assert len(served) == RETENTION
    assert starts == served[0].ts_ms + 1  # the cap may cut through the oldest served millisecond
    assert complete_from(starts, h.start_ms) > h.start_ms


def test_retention_that_does_not_bite_leaves_history_start_unset(sim):
    sim.configure(page_cap=100, retention_cap=N_FILLS + 50, old_window="error")
    got, starts, _ = read_all(connector(sim, retention_fills=N_FILLS + 50), sim.history.start_ms, sim.history.now_ms)
    assert starts is None and len(got) == N_FILLS


def test_spot_not_counting_toward_the_cap_still_detects_retention(sim):
    sim.configure(page_cap=100, retention_cap=RETENTION, retention_counts_spot=False)
    h = sim.history
    got, starts, _ = read_all(connector(sim, retention_fills=RETENTION), h.start_ms, h.now_ms)
    served = assert_truth(sim, got, starts, h.start_ms)
    assert len(served) > RETENTION and starts == served[0].ts_ms + 1


def test_a_time_cap_with_old_windows_refused_is_detected(sim):
    sim.configure(page_cap=100, retention_days=20, old_window="error")
    h = sim.history
    got, starts, _ = read_all(connector(sim), h.start_ms, h.now_ms)
    served = assert_truth(sim, got, starts, h.start_ms)
    assert len(served) < N_FILLS and starts == served[0].ts_ms + 1


@pytest.mark.parametrize("body", ["plain", "json"])
@pytest.mark.parametrize("retry_after", [None, 1])
def test_429_in_every_form_is_retried_without_losing_or_repeating_a_fill(sim, body, retry_after):
    sim.configure(page_cap=100, rate_limit_body=body, retry_after_s=retry_after)
    conn = connector(sim)
    h = sim.history
    got: dict = {}
    for i, page in enumerate(conn.iter_fill_pages(h.start_ms, h.now_ms)):
        for fill in page.fills:
            assert fill.fill_id not in got
            got[fill.fill_id] = fill
        if i in (0, 2):
            sim.faults.force(RATE_LIMIT, 2)  # the next request meets two 429s, then succeeds
    assert conn.stats.rate_limited == 4
    assert_truth(sim, got, None, h.start_ms)


def test_an_exhausted_weight_budget_ends_in_a_clear_rate_limit_error(sim):
    sim.configure(page_cap=100, weight_limit=60)  # two fill requests of 100 rows (25 weight each) a minute
    conn = connector(sim, max_attempts=2)
    with pytest.raises(ExchangeError, match="429"):
        read_all(conn, sim.history.start_ms, sim.history.now_ms)
    assert conn.stats.rate_limited >= 1


@pytest.mark.parametrize(("tid_reading", "two_rows"), [("shared", True), ("unique", False)])
def test_self_trades_shared_tids_and_one_row_readings(sim, tid_reading, two_rows):
    sim.configure(page_cap=100, self_trade_tid=tid_reading, self_trade_two_rows=two_rows)
    h = sim.history
    assert h.self_trades  # the history has self-trades whose maker row shares the taker's tid
    got, starts, _ = read_all(connector(sim), h.start_ms, h.now_ms)
    assert_truth(sim, got, starts, h.start_ms)


def test_fee_including_the_builder_fee_is_kept_raw(sim):
    sim.configure(page_cap=2000, fee_includes_builder=True)
    h = sim.history
    got, starts, _ = read_all(connector(sim), h.start_ms, h.now_ms)
    served = assert_truth(sim, got, starts, h.start_ms, fees=False)
    with_builder = [f for f in got.values() if f.builder_fee is not None]
    assert with_builder and all(f.builder_fee > 0 for f in with_builder)
    # the wire's fee, as served (here it includes builderFee): never adjusted by the connector
    assert sum(f.fee for f in got.values()) == sum(f.fee for f in served) + sum(f.builder_fee for f in with_builder)


def test_answers_that_fit_no_reading_stop_at_the_request_budget(sim):
    sim.configure(page_cap=2, retention_cap=RETENTION)  # far below any documented page cap
    conn = connector(sim, retention_fills=RETENTION)
    with pytest.raises(ExchangeError, match="more than (\\d+) requests") as info:
        read_all(conn, sim.history.start_ms, sim.history.now_ms)
    budget = int(info.value.message.split("more than ")[1].split()[0])
    assert conn.stats.requests <= budget + 1


@pytest.fixture(scope="module")
def burst_sim():
    """A 40-fill same-millisecond burst (one order against 40 resting orders) and pages of 25."""
    sim = HyperliquidSim(hyperliquid_history(11, 400, days=30, burst=40), weight_limit=10**9, page_cap=25)
    sim.start()
    yield sim
    sim.stop()


@pytest.mark.parametrize("pick", ["earliest", "latest", "descending"])
def test_a_millisecond_larger_than_a_page_is_completed_from_user_fills(burst_sim, pick):
    burst_sim.configure(window_pick=pick, recent_cap=2000)
    conn = connector(burst_sim)
    h = burst_sim.history
    assert max(Counter(f.ts_ms for f in h.fills).values()) >= 40
    got, starts, _ = read_all(conn, h.start_ms, h.now_ms)
    assert_truth(burst_sim, got, starts, h.start_ms)
    assert len(got) == 400 and burst_sim.requests["userFills"] >= 1


def test_a_millisecond_larger_than_a_page_and_older_than_user_fills_is_a_clear_error(burst_sim):
    burst_sim.configure(window_pick="earliest", recent_cap=5)
    h = burst_sim.history
    conn = connector(burst_sim, recent_fills=5)
    with pytest.raises(ExchangeError, match="share the millisecond"):
        read_all(conn, h.start_ms, h.now_ms)


def test_resuming_from_a_saved_position_finishes_the_range(sim):
    sim.configure(page_cap=60, window_pick="latest")
    h = sim.history
    first = connector(sim)
    walk = first.iter_fill_pages(h.start_ms, h.now_ms)
    got = {}
    position = None
    for _ in range(3):
        page = next(walk)
        got.update({f.fill_id: f for f in page.fills})
        position = page.position
    walk.close()
    for page in connector(sim).iter_fill_pages(h.start_ms, h.now_ms, position):
        got.update({f.fill_id: f for f in page.fills})
    assert_truth(sim, got, None, h.start_ms)


def test_validate_and_identity(sim):
    conn = connector(sim)
    assert conn.validate() == f"Hyperliquid account {conn.credentials.hint}"
    assert identity(conn, conn.credentials) == sim.address
    agent = HyperliquidConnector(HyperliquidAddress(address=sim.agent_address), sim.base_url, **FAST)
    with pytest.raises(InvalidCredentials, match="API wallet"):
        agent.validate()
    nobody = HyperliquidConnector(HyperliquidAddress(address="0x" + "5" * 40), sim.base_url, **FAST)
    assert "no fills at all" in nobody.validate()


def test_first_sync_of_an_address_without_fills_says_it_may_be_an_api_wallet(sim):
    conn = HyperliquidConnector(HyperliquidAddress(address=sim.agent_address), sim.base_url, **FAST)
    conn.use_facts(StoredFacts())  # the sync: nothing stored yet for this account
    with pytest.raises(InvalidCredentials, match="API \\(agent\\) wallet"):
        list(conn.iter_fill_pages(sim.history.start_ms, sim.history.now_ms))
    conn.use_facts(StoredFacts(frozenset({"BTC"}), 1))  # stored fills: an empty range is just empty
    pages = list(conn.iter_fill_pages(sim.history.start_ms, sim.history.now_ms))
    # (no fill shows whether builder-dex fills come without `dex`, F13: each dex's newest fills are asked, none)
    assert [p.fills for p in pages] == [[]]


@pytest.mark.parametrize(("days", "today"), [(15, True), (14, False), (0, True)])
def test_exchange_report_reads_the_venue_figures(sim, days, today):
    sim.configure(daily_days=days, daily_today=today)
    report = connector(sim).exchange_report()
    assert report["exchange"] == "hyperliquid"
    assert Decimal(report["perp_all_time_volume"]) > 0
    assert report["perp_day_volume"] is not None
    assert len(report["daily"]) == sim.config.daily_days
    for day in report["daily"]:
        assert Decimal(day["total"]) == Decimal(day["taker"]) + Decimal(day["maker"])


def test_an_incremental_sync_reads_only_the_new_fills_in_a_few_requests():
    sim = HyperliquidSim(hyperliquid_history(3, 200, days=20), weight_limit=10**9)
    sim.start()
    try:
        h = sim.history
        first = connector(sim)
        first.use_facts(StoredFacts())
        got, _, _ = read_all(first, h.start_ms, h.now_ms)
        assert len(got) == 200
        covered_to = max(f.ts_ms for f in got.values())
        new = [h.add_live_fill(covered_to + 1000 * i, "BTC") for i in range(1, 4)]
        later = connector(sim)
        # as the sync hands them over: fills stored, and the server profile (F13 "all" was seen)
        later.use_facts(StoredFacts(frozenset({"BTC"}), 200, server_profile=first.observed_profile()))
        fresh, starts, _ = read_all(later, covered_to - 120_000, new[-1].ts_ms + 1)
        assert {f"{f.fill_id}:{f.order_id}" for f in new} <= set(fresh) and starts is None
        assert all(f.ts_ms >= covered_to - 120_000 for f in fresh.values())
        assert later.stats.requests <= 3  # the window, then the parts above and below its first full answer
    finally:
        sim.stop()
