"""The sync engine against the simulators over real HTTP, on SQLite and PostgreSQL.

Backfills equal the generator's exact daily truth; interrupted syncs (errors, kill -9) resume to exact
totals without duplicates; fault storms end in complete data or a clear per-account error; an
incremental sync with nothing new costs one request per account.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest

from perpvol_core.analytics.volume import daily_volume
from perpvol_core.exchanges import RateLimit
from perpvol_core.exchanges.paradex import starknet as sa
from perpvol_core.exchanges.paradex.credentials import ParadexL2Credentials, ParadexTokenCredentials
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store
from perpvol_sim.faults import Faults
from perpvol_sim.history import History
from perpvol_sim.paradex import DEMO_L2_PRIVATE_KEY, ParadexSim, demo_subkey_private_key
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim

#: one "now" for every history of this module, so that one engine clock fits both simulators
NOW_MS = int(time.time() * 1000)
WOOX_SIM_FAST = {"rate_limits": {"transactionHistory": (20, 1.0), "account_info": (10, 1.0)}}
OPTIONS = {
    "woox": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 2.0,
             "rate_limits": {"/v3/trade/transactionHistory": [RateLimit(20, 1.0)]}},
    "paradex": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 2.0, "page_size": 300},
}


def _daily(store: Store, exchange: str) -> dict:
    out = {}
    for row in daily_volume(store, exchange=exchange).iter_rows(named=True):
        keys = ("volume_usd", "maker_usd", "taker_usd", "fees_usd", "fills")
        out[row["date"].isoformat()] = {k: row[k] for k in keys}
    return out


def _truth(history: History) -> dict:
    return {day: dict(v) for day, v in history.expected_daily().items()}


class Env:
    def __init__(self, settings, history: History, options=None):
        self.store = Store(settings.database_url)
        self.vault = Vault.open(settings, self.store)
        self.bus = EventBus()
        self.events: list[dict] = []
        self.bus.subscribe(lambda event: self.events.append(event.model_dump()))
        self.history = history
        self.engine = self.new_engine(options)

    def new_engine(self, options=None):
        return SyncEngine(self.store, self.vault, self.bus, connector_options=options or OPTIONS,
                          clock=lambda: self.history.now_ms)

    def add(self, label, exchange, url, creds):
        blob = self.vault.encrypt(creds, label=label, base_url=url)
        return self.store.add_account(label, exchange, url, blob, creds.hint)


@pytest.fixture
def woox_sim():
    history = History("woox", 21, 1500, now_ms=NOW_MS)
    faults = Faults(only_paths=("/v3/trade",))
    sim = WooxSim(history, faults=faults, window_anchor_ms=history.now_ms, **WOOX_SIM_FAST)
    sim.start()
    yield SimpleNamespace(sim=sim, history=history, faults=faults, url=sim.base_url)
    sim.stop()


@pytest.fixture
def paradex_sim():
    history = History("paradex", 22, 1500, now_ms=NOW_MS)
    faults = Faults(only_paths=("/v1/fills",), stall_s=3.0)
    sim = ParadexSim(history, faults=faults, jwt_ttl_s=30)
    sub = demo_subkey_private_key(7)
    sim.add_subkey(sim.account, sa.public_key_from_private(sub))
    sim.start()
    yield SimpleNamespace(sim=sim, history=history, faults=faults, url=sim.api_url, subkey=sub)
    sim.stop()


def _paradex_creds(px, kind):
    if kind == "token":
        return ParadexTokenCredentials(token=Secret(px.sim.mint_read_only_token()))
    key = DEMO_L2_PRIVATE_KEY if kind == "main" else px.subkey
    return ParadexL2Credentials(account=hex(px.sim.account), l2_key=Secret(hex(key)))


@pytest.mark.parametrize("fmt", ["doc", "live"])
def test_woox_backfill_equals_truth_then_incremental_costs_one_request(settings, woox_sim, fmt):
    woox_sim.sim.config.response_format = fmt
    env = Env(settings, woox_sim.history)
    creds = WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET))
    acc = env.add("woox-main", "woox", woox_sim.url, creds)
    [res] = env.engine.sync()
    assert res.ok, res.error
    assert res.new_fills == len(woox_sim.history.fills) and res.rate_limited == 0
    assert _daily(env.store, "woox") == _truth(woox_sim.history)
    state = env.store.get_sync_state(acc.id)
    assert state.covered_from_ms <= woox_sim.history.start_ms and state.covered_to_ms == woox_sim.history.now_ms
    assert state.cursor is None and env.store.get_account("woox-main").status == "ok"
    assert "two years" in res.coverage
    assert any(e["type"] == "sync_progress" for e in env.events) and env.events[-1]["type"] in (
        "sync_done", "account_status")
    before = woox_sim.sim.requests["transactionHistory"]
    [again] = env.engine.sync()
    assert again.ok and again.new_fills == 0
    assert woox_sim.sim.requests["transactionHistory"] - before <= 1
    assert env.store.fill_count(acc.id) == len(woox_sim.history.fills)


@pytest.mark.parametrize("kind", ["token", "subkey"])
def test_paradex_backfill_equals_truth_then_incremental_costs_one_request(settings, paradex_sim, kind):
    env = Env(settings, paradex_sim.history)
    acc = env.add("px", "paradex", paradex_sim.url, _paradex_creds(paradex_sim, kind))
    [res] = env.engine.sync()
    assert res.ok, res.error
    assert _daily(env.store, "paradex") == _truth(paradex_sim.history)
    assert env.store.fill_count(acc.id) == len({(f.fill_id, f.fill_type) for f in paradex_sim.history.fills})
    before = paradex_sim.sim.request_count["GET /v1/fills"]
    [again] = env.engine.sync()
    assert again.ok and again.new_fills == 0
    assert paradex_sim.sim.request_count["GET /v1/fills"] - before <= 1


def test_two_exchanges_concurrently_and_jwt_expiring_mid_backfill(settings, woox_sim, paradex_sim):
    env = Env(settings, paradex_sim.history)
    env.add("w", "woox", woox_sim.url, WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET)))
    env.add("p", "paradex", paradex_sim.url, _paradex_creds(paradex_sim, "main"))
    advanced = []

    def on_progress(event):
        if event.get("label") == "p" and event["type"] == "sync_progress" and not advanced:
            advanced.append(True)
            paradex_sim.sim.advance_clock(60)  # the 30 s JWT is now expired server-side

    results = {r.label: r for r in env.engine.sync(progress=on_progress)}
    assert results["w"].ok and results["p"].ok, (results["w"].error, results["p"].error)
    assert _daily(env.store, "woox") == _truth(woox_sim.history)
    assert _daily(env.store, "paradex") == _truth(paradex_sim.history)
    assert paradex_sim.sim.request_count["POST /v1/auth"] >= 2


def test_error_storm_mid_sync_is_a_clear_error_and_rerun_is_exact(settings, woox_sim):
    env = Env(settings, woox_sim.history, {**OPTIONS, "woox": {**OPTIONS["woox"], "page_limit": 200}})
    acc = env.add("w", "woox", woox_sim.url, WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET)))
    stormed = []

    def on_progress(event):
        if event["type"] == "sync_progress" and not stormed:
            stormed.append(True)
            woox_sim.faults.force("server_error", 50)

    [res] = env.engine.sync(progress=on_progress)
    assert not res.ok and res.error.startswith("exchange unreachable")
    assert env.store.get_account("w").status == "error"
    partial = env.store.fill_count(acc.id)
    assert 0 < partial < len(woox_sim.history.fills)
    assert env.store.get_sync_state(acc.id).cursor is not None
    woox_sim.faults.reset()
    [res] = env.new_engine({**OPTIONS, "woox": {**OPTIONS["woox"], "page_limit": 200}}).sync()
    assert res.ok, res.error
    assert env.store.fill_count(acc.id) == len(woox_sim.history.fills)
    assert _daily(env.store, "woox") == _truth(woox_sim.history)
    assert env.store.get_account("w").status == "ok"


@pytest.mark.parametrize("fault", ["rate_limit", "truncate", "html_error", "stall"])
def test_fault_storms_end_in_complete_data(settings, paradex_sim, fault):
    paradex_sim.faults.set(**{{"truncate": "truncate_p", "html_error": "html_error_p", "stall": "stall_p",
                               "rate_limit": "rate_limit_p"}[fault]: 0.3 if fault != "stall" else 0.1})
    env = Env(settings, paradex_sim.history, {**OPTIONS, "paradex": {**OPTIONS["paradex"], "max_attempts": 8}})
    env.add("p", "paradex", paradex_sim.url, _paradex_creds(paradex_sim, "token"))
    [res] = env.engine.sync()
    if res.ok:
        assert _daily(env.store, "paradex") == _truth(paradex_sim.history)
    else:  # never corrupt: what is stored is a subset of the truth, and the error is clear
        causes = ("rate-limited", "exchange unreachable", "unexpected response from the exchange")
        assert res.error.split(":")[0] in causes
    paradex_sim.faults.reset()
    [res] = env.engine.sync()
    assert res.ok and _daily(env.store, "paradex") == _truth(paradex_sim.history)


def test_revoked_credentials_give_a_clear_status(settings, paradex_sim, woox_sim):
    env = Env(settings, paradex_sim.history)
    token = paradex_sim.sim.mint_read_only_token("revoked")
    paradex_sim.sim.revoke_token(token)
    env.add("p", "paradex", paradex_sim.url, ParadexTokenCredentials(token=Secret(token)))
    env.add("w", "woox", woox_sim.url, WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret("W" * 28)))
    results = env.engine.sync()
    for r in results:
        assert not r.ok and r.error.startswith("invalid or revoked credentials"), r.error
        account = env.store.get_account(r.label)
        assert account.status == "error" and account.last_error.startswith("invalid or revoked credentials")
        assert token not in account.last_error and "W" * 28 not in account.last_error


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from perpvol_core.config import Settings
    from perpvol_core.exchanges import RateLimit
    from perpvol_core.store import Store
    from perpvol_core.services.sync import SyncEngine
    from perpvol_core.security.vault import Vault
    home, url, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = Settings(home=Path(home), database_url=url)
    store = Store(url)
    opts = {"woox": {"page_limit": 100, "rate_limits": {"/v3/trade/transactionHistory": [RateLimit(8, 1.0)]}}}
    SyncEngine(store, Vault.open(settings, store), connector_options=opts, clock=lambda: now).sync()
    """
)


def test_kill_9_mid_backfill_then_rerun_is_exact(settings, woox_sim):
    env = Env(settings, woox_sim.history)
    acc = env.add("w", "woox", woox_sim.url, WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET)))
    target = random.randint(2, 8) * 100
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(settings.home), settings.database_url, str(woox_sim.history.now_ms)],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        while child.poll() is None and env.store.fill_count(acc.id) < target:
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    partial = env.store.fill_count(acc.id)
    assert 0 < partial < len(woox_sim.history.fills)
    [res] = env.new_engine().sync()
    assert res.ok, res.error
    assert env.store.fill_count(acc.id) == len(woox_sim.history.fills)
    assert _daily(env.store, "woox") == _truth(woox_sim.history)
