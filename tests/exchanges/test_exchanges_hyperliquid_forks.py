"""The Hyperliquid connector under the notes' remaining readings, against its simulator over real HTTP:
HIP-3 fills without ``dex`` (F13: all dexes / core only, ``dex`` adds one / one dex per request), aggregated
rows (F11: the connector never asks for them), mixed-case addresses (F14), malformed requests (F16).

The truth is the simulator's: ``sim.served_fills()`` and ``History.expected_daily``.
"""

from __future__ import annotations

import pytest

from perpvol_core.exchanges._errors import BadPayload
from perpvol_core.exchanges._facts import StoredFacts
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.dexes import PROFILE_KEY
from perpvol_core.exchanges.hyperliquid.rest import HyperliquidConnector
from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history
from perpvol_sim.hyperliquid.market import perp_dexs
from tests.exchanges.test_exchanges_hyperliquid import FAST, assert_truth, connector, page_bound, read_all

N_FILLS = 500
RETENTION = 300


@pytest.fixture(scope="module")
def hl():
    sim = HyperliquidSim(hyperliquid_history(17, N_FILLS, days=40), weight_limit=10**9)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(hl):
    saved = hl.config
    yield hl
    hl.state.config = saved


def _dexes(sim) -> set[str]:
    return {f.market.split(":")[0] for f in sim.served_fills() if ":" in f.market}


@pytest.mark.parametrize("mode", ["all", "core", "per_dex"])
@pytest.mark.parametrize("pick", ["earliest", "latest"])
def test_hip3_fills_are_read_under_every_dex_reading_and_the_profile_says_which(sim, mode, pick):
    sim.configure(hip3_mode=mode, page_cap=100, window_pick=pick)
    h = sim.history
    assert len(_dexes(sim)) == 2  # the history trades two builder dexes besides the core one
    conn = connector(sim)
    before = sim.requests["perpDexs"]
    got, starts, pages = read_all(conn, h.start_ms, h.now_ms, sim.served_fills())  # windows complete when said
    served = assert_truth(sim, got, starts, h.start_ms)
    assert starts is None and len(got) == len(served) == N_FILLS
    assert conn.server_profile == {PROFILE_KEY: mode}
    # "all" needs nothing more than the walk without dex; the others one perpDexs and one walk per dex
    assert sim.requests["perpDexs"] - before == (0 if mode == "all" else 1)
    hip3 = sum(1 for f in served if ":" in f.market)
    extra = 2 * (page_bound(served, 100, 2) if mode == "core" else page_bound([f for f in served if ":" in f.market],
                                                                             100, 2))  # fmt: skip
    assert conn.stats.requests <= page_bound(served, 100, extra=5) + (0 if mode == "all" else 1 + extra)
    assert hip3 > 0

    # the next sync starts from the stored profile: the dexes first (their windows then complete truly)
    later = connector(sim)
    later.server_profile = dict(conn.server_profile)
    again, starts, _ = read_all(later, h.start_ms, h.now_ms, sim.served_fills())
    assert_truth(sim, again, starts, h.start_ms)
    assert later.server_profile == {PROFILE_KEY: mode}


def test_a_walk_interrupted_in_a_dex_resumes_there(sim):
    sim.configure(hip3_mode="per_dex", page_cap=40)
    h = sim.history
    first = connector(sim)
    walk = first.iter_fill_pages(h.start_ms, h.now_ms)
    got: dict = {}
    position = None
    for page in walk:
        got.update({f.fill_id: f for f in page.fills})
        position = page.position
        if isinstance(position, dict) and position.get("dex") and position.get("walk"):
            break  # inside a dex's own walk
    walk.close()
    assert position is not None and position.get("walk")
    later = connector(sim)
    later.server_profile = first.server_profile
    for page in later.iter_fill_pages(h.start_ms, h.now_ms, position):
        got.update({f.fill_id: f for f in page.fills})
    assert_truth(sim, got, None, h.start_ms)


@pytest.mark.parametrize(("price", "tid"), [("vwap", "first"), ("last", "last"), ("vwap", "new")])
def test_aggregated_row_readings_do_not_matter_since_the_connector_never_asks_for_them(sim, price, tid):
    sim.configure(agg_price=price, agg_tid=tid, page_cap=2000)  # F11
    h = sim.history
    got, starts, _ = read_all(connector(sim), h.start_ms, h.now_ms)
    assert_truth(sim, got, starts, h.start_ms)


@pytest.mark.parametrize("reading", ["accepted", "empty", "error"])
def test_a_mixed_case_address_is_sent_lowercase_under_every_reading(sim, reading):
    sim.configure(mixed_case=reading, page_cap=2000)  # F14
    mixed = "0x" + sim.address[2:].upper()
    conn = HyperliquidConnector(HyperliquidAddress(address=mixed), sim.base_url, **FAST)
    assert conn.credentials.address == sim.address
    h = sim.history
    got, starts, _ = read_all(conn, h.start_ms, h.now_ms)
    assert_truth(sim, got, starts, h.start_ms)


@pytest.mark.parametrize("reading", ["422_text", "400_json"])
def test_a_request_the_venue_cannot_read_is_a_clear_error_in_both_forms(sim, reading):
    sim.configure(bad_request=reading)  # F16
    conn = connector(sim)
    with pytest.raises(BadPayload, match=r"refused the request \(HTTP 4\d\d\)") as caught:
        conn.info({"type": "userFillsByTime", "user": sim.address, "startTime": "yesterday"})
    assert "yesterday" not in str(caught.value)  # a loopback server's body is described, never echoed
    assert conn.stats.requests == 1  # not retried: asking again cannot help


@pytest.mark.parametrize("mode", ["core", "per_dex"])
@pytest.mark.parametrize("profiled", [False, True], ids=["first-sync", "reading-known"])
def test_the_retention_cap_counts_the_fills_of_every_dex_walk(sim, mode, profiled):
    # the venue keeps its newest 300 fills of all markets: the walk without dex alone serves fewer than that
    sim.configure(hip3_mode=mode, page_cap=100, retention_cap=RETENTION)
    h = sim.history
    conn = connector(sim, retention_fills=RETENTION)
    # fills already stored (no probe below the oldest served fill); with the reading known the dexes are read first
    conn.use_facts(StoredFacts(frozenset({"BTC"}), 1, server_profile={PROFILE_KEY: mode} if profiled else None))
    got, starts, _ = read_all(conn, h.start_ms, h.now_ms)
    served = assert_truth(sim, got, starts, h.start_ms)
    assert len(served) == RETENTION and sum(1 for f in served if ":" not in f.market) < RETENTION
    assert starts == served[0].ts_ms + 1


def test_a_range_without_hip3_fills_asks_each_dex_once_and_walks_none_that_holds_none():
    sim = HyperliquidSim(hyperliquid_history(23, 100, days=10), weight_limit=10**9, hip3_mode="per_dex")
    sim.start()
    try:
        h = sim.history
        start = h.now_ms + 1000
        new = [h.add_live_fill(start + 1000 * i, "BTC") for i in range(3)]
        conn = connector(sim)  # no stored reading: nothing in the range shows whether dex fills come without dex
        before = dict(sim.requests)
        got, starts, _ = read_all(conn, start, new[-1].ts_ms)
        asked = {k: v - before.get(k, 0) for k, v in sim.requests.items() if v - before.get(k, 0)}
        assert set(got) == {f"{f.fill_id}:{f.order_id}" for f in new} and starts is None
        # the range (its first answer and the parts beside it), perpDexs, then each dex's newest fills: none of
        # them in the range, so no dex is walked
        assert asked["userFillsByTime"] <= 3 and asked["perpDexs"] == 1
        assert asked["userFills"] == len(perp_dexs(h)) - 1  # one per builder dex (the first entry is the core)
        assert set(asked) == {"info", "userFillsByTime", "perpDexs", "userFills"}
    finally:
        sim.stop()
