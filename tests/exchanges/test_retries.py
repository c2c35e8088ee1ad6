"""Retries of the connector base (tenacity) against a simulator over real HTTP: how long each wait is, how many
requests are sent, what is given up and what is never retried. Sleeps are recorded, not slept (no timing).
"""

from __future__ import annotations

import pytest

from perpvol_core.exchanges._errors import BadPayload, ExchangeUnavailable
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.rest import HyperliquidConnector
from perpvol_sim.faults import RATE_LIMIT, SERVER_ERROR
from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history

BACKOFF, MAX_BACKOFF = 0.01, 0.05


@pytest.fixture(scope="module")
def hl():
    sim = HyperliquidSim(hyperliquid_history(3, 50, days=5), weight_limit=10**9)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(hl):
    saved = hl.config
    yield hl
    hl.state.config = saved
    hl.faults.reset()


def connect(sim, waits: list[float], attempts: int = 4) -> HyperliquidConnector:
    return HyperliquidConnector(
        HyperliquidAddress(address=sim.address), sim.base_url, max_attempts=attempts, backoff_s=BACKOFF,
        max_backoff_s=MAX_BACKOFF, timeout=5.0, rate_limits={"info": []}, sleep=waits.append,
    )


def meta(conn: HyperliquidConnector) -> object:
    return conn.info({"type": "meta"})


def test_a_server_given_reset_is_honoured_but_capped(sim):
    sim.configure(retry_after_s=3)
    sim.faults.force(RATE_LIMIT, 2)
    waits: list[float] = []
    conn = connect(sim, waits)
    before = sim.requests["info"]
    assert meta(conn)
    assert waits == [MAX_BACKOFF, MAX_BACKOFF]  # 3 s from the server, capped (its clock may be skewed)
    assert sim.requests["info"] - before == 3 and conn.stats.retries == 2 and conn.stats.rate_limited == 2


def test_without_a_reset_the_backoff_grows_exponentially_with_jitter(sim):
    sim.faults.force(SERVER_ERROR, 3)
    waits: list[float] = []
    conn = connect(sim, waits)
    assert meta(conn)
    assert len(waits) == 3 and conn.stats.retries == 3
    for i, wait in enumerate(waits):  # BACKOFF·2^i plus up to BACKOFF of jitter, never above the cap
        assert min(BACKOFF * 2**i, MAX_BACKOFF) <= wait <= min(BACKOFF * 2**i + BACKOFF, MAX_BACKOFF), (i, waits)


def test_a_persistent_failure_gives_up_after_max_attempts_and_a_refusal_is_never_retried(sim):
    sim.faults.force(SERVER_ERROR, 10)
    waits: list[float] = []
    conn = connect(sim, waits, attempts=3)
    before = sim.requests["info"]
    with pytest.raises(ExchangeUnavailable, match=r"gave up after 3 attempts") as err:
        meta(conn)
    assert err.value.retryable is False and len(waits) == 2 and sim.requests["info"] - before == 3
    sim.faults.reset()
    waits.clear()
    before = sim.requests["info"]
    with pytest.raises(BadPayload) as refused:  # the venue refuses the request itself: trying again cannot help
        conn.info({"type": "no such request type"})
    assert "gave up" not in str(refused.value) and waits == [] and sim.requests["info"] - before == 1
