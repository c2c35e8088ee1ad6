"""Paradex backfill at the page bound, with coverage that is true at every page, under every reading.

Against the Paradex simulator over real HTTP: a range is read with exactly ceil(fills / page size)
requests; each page's ``window_done_ms`` claim (everything newer is complete) holds against the
simulator's truth, under newest-first and oldest-first order and both readings of the ``end_at`` bound;
a refused cursor restarts just above the oldest fill read; positions of the earlier windowed walk resume.
The exchange's own figures (account info, tier table) are parsed exactly.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from perpvol_core.exchanges import make_connector
from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
from perpvol_core.exchanges.paradex.rest import duration_ms, parse_account_info
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.security.redaction import Secret
from perpvol_sim.history import History
from perpvol_sim.paradex import ParadexSim

FAST = {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0}
ALIAS = {"TRANSFER": "UNWIND_TRANSFER"}


def _key(f) -> tuple[str, str]:
    return (f.fill_id, ALIAS.get(f.fill_type, f.fill_type))


@pytest.fixture(scope="module")
def history():
    return History("paradex", 17, 3000)


def _connector(sim: ParadexSim, page_size: int):
    return make_connector(ParadexTokenCredentials(token=Secret(sim.mint_read_only_token())), sim.api_url,
                          page_size=page_size, **FAST)


def _walk(conn, history, position=None, stop_after=None, already=frozenset()):
    """Read pages; check every coverage claim against the truth as it is made (``already``: fills read
    before ``position``). Returns (keys, pages, last page)."""
    got: set[tuple[str, str]] = set(already)
    truth = {_key(f): f.ts_ms for f in history.fills}
    pages = 0
    claimed = None
    last = None
    for page in conn.iter_fill_pages(history.start_ms, history.now_ms, position):
        pages += 1
        got.update(_key(f) for f in page.fills)
        if page.window_done_ms is not None:
            assert claimed is None or page.window_done_ms <= claimed  # coverage only moves back
            claimed = page.window_done_ms
            not_yet = [k for k, ts in truth.items() if ts >= claimed and k not in got]
            assert not not_yet, f"claimed complete from {claimed} but {len(not_yet)} newer fills not read"
        last = page
        if stop_after is not None and pages >= stop_after:
            break
    return got, pages, last


@pytest.mark.parametrize("sort", ["newest_first", "oldest_first"])
@pytest.mark.parametrize("end_inclusive", [True, False])
def test_backfill_takes_the_minimum_pages_and_every_coverage_claim_holds(history, sort, end_inclusive):
    with ParadexSim(history, sort=sort, end_inclusive=end_inclusive) as sim:
        conn = _connector(sim, 250)
        got, pages, last = _walk(conn, history)
        assert got == {_key(f) for f in history.fills}
        assert last.position is None and last.window_done_ms == history.start_ms
        minimum = math.ceil(len(history.fills) / 250)
        assert sim.request_count["GET /v1/fills"] == pages == minimum
        conn.close()


def test_coverage_advances_page_by_page_when_newest_first(history):
    with ParadexSim(history) as sim:
        conn = _connector(sim, 300)
        claims = [p.window_done_ms for p in conn.iter_fill_pages(history.start_ms, history.now_ms)]
        # every page but none at all moves coverage back (newest first is detected on the first page)
        assert all(c is not None for c in claims) and claims == sorted(claims, reverse=True)
        assert len(set(claims)) == len(claims)
        conn.close()


def test_a_refused_cursor_restarts_above_the_oldest_fill_read(history):
    with ParadexSim(history) as sim:
        conn = _connector(sim, 200)
        first, pages, last = _walk(conn, history, stop_after=5)
        position = dict(last.position, cursor="bm90IG91ciBjdXJzb3I=")  # the exchange no longer knows it
        before = sim.request_count["GET /v1/fills"]
        rest, more, _ = _walk(conn, history, position, already=first)
        assert rest == {_key(f) for f in history.fills}
        remaining = math.ceil((len(history.fills) - 5 * 200) / 200)
        # one refused request, then the rest of the range (one page more at most: the restart is not aligned)
        assert sim.request_count["GET /v1/fills"] - before <= remaining + 2
        conn.close()


def test_a_position_of_the_windowed_walk_resumes(history):
    with ParadexSim(history) as sim:
        conn = _connector(sim, 500)
        mid = history.now_ms - 300 * MS_PER_DAY
        done = {_key(f) for f in history.fills if f.ts_ms > mid + 90 * MS_PER_DAY}
        legacy = {"we": mid + 90 * MS_PER_DAY, "ws": mid, "cursor": None, "n": 0}
        got, _, last = _walk(conn, history, legacy, already=done)
        assert got == {_key(f) for f in history.fills} and last.position is None
        conn.close()


def test_exchange_report_is_parsed_exactly(history):
    with ParadexSim(history) as sim:
        conn = _connector(sim, 500)
        report = conn.exchange_report()
        assert report["fetched_from_ms"] <= report["fetched_ms"]
        start, end = sim.state.volume_window()
        truth = sim.state.counted_notional(start - 60_000, end)  # the window moved on a little since
        assert Decimal(report["volume"]["retail"]["volume"]) <= truth
        assert report["account_kind"] == "main" and report["fees"]["maker_rate"] == "0"
        names = [t["tier_name"] for t in report["tiers"]]
        assert names == sorted(names) and all(t["duration_ms"] == 14 * MS_PER_DAY for t in report["tiers"])
        assert isinstance(report["tiers"][1]["min_volume"], str) and Decimal(report["tiers"][1]["min_volume"]) > 0
        conn.close()


def test_account_info_readings():
    one = {"account": "0x2", "kind": "main", "volume_tiers": {"retail": {"tier": "VIP 1", "volume": "100.50"}},
           "fees": {"maker_rate": "-0.00005", "taker_rate": "0.0003"}}
    sub = {"account": "0x3", "kind": "subaccount", "volume_tiers": {"retail": {"tier": "VIP 0", "volume": "1"}}}
    assert parse_account_info({"results": [sub, one]})["volume"]["retail"]["volume"] == "100.50"
    assert parse_account_info({"results": [one, sub]}, "0x03")["account"] == "0x3"
    assert parse_account_info(one)["fees"]["maker_rate"] == "-0.00005"  # a bare object, not a list
    from perpvol_core.exchanges import BadPayload

    with pytest.raises(BadPayload):
        parse_account_info({"results": [{"account": "0x2"}]})
    assert duration_ms("14d") == 14 * MS_PER_DAY and duration_ms("2w") == 14 * MS_PER_DAY
    with pytest.raises(ValueError):
        duration_ms("soon")
