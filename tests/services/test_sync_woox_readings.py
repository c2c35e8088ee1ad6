"""WOO X transactionHistory under every reading of woox-api.md §3.1/§9, through the real sync engine and store.

Every combination of the simulator's options (``page`` honoured / ignored / rejected; page cap with a larger
``limit`` clamped or rejected; ``meta`` absent; ``symbol`` required; newest- or oldest-first) gives the exact
daily truth on SQLite and PostgreSQL, within a request bound derived from the history; where no correct
result is possible (more fills than a page in one millisecond, no paging) the account ends in a clear error,
never a loop and never a complete-looking undercount; the reading is recorded as the account's server
profile, used on the next sync, and a change of the server's behaviour between syncs is caught.
"""

from __future__ import annotations

import itertools
import math
import time
from decimal import Decimal

import pytest

from perpvol_core.analytics.volume import daily_volume
from perpvol_core.exchanges import RateLimit
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.exchanges.woox.profile import describe_server_profile
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine, probe_server_profile
from perpvol_core.store import Store
from perpvol_sim.history import History
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim

NOW_MS = int(time.time() * 1000)
FAST = [RateLimit(400, 1.0)]
OPTIONS = {"woox": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0,
                    "rate_limits": {"/v3/trade/transactionHistory": FAST, "/v3/public": FAST,
                                    "/v3/account/info": FAST}}}
CREDS = WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET))
#: (page mode, what a larger limit gets, page cap)
CAPS = [("clamp", 100), ("reject-1004", 100), ("reject-1005", 50)]
READINGS = list(itertools.product(["honoured", "ignored", "rejected"], CAPS, [True, False], [False, True],
                                  ["desc", "asc"]))


def _id(r) -> str:
    page, (over, cap), meta, sym, order = r
    return f"page-{page}-{over}{cap}-{'meta' if meta else 'nometa'}-{'sym' if sym else 'nosym'}-{order}"


@pytest.fixture(scope="module")
def history() -> History:
    return History("woox", 31, 450, now_ms=NOW_MS)


class Env:
    def __init__(self, settings, history: History) -> None:
        self.store = Store(settings.database_url)
        self.vault = Vault.open(settings, self.store)
        self.history = history
        self.engine = SyncEngine(self.store, self.vault, EventBus(), connector_options=OPTIONS,
                                 clock=lambda: history.now_ms)

    def add(self, url: str, label: str = "wx"):
        blob = self.vault.encrypt(CREDS, label=label, base_url=url)
        return self.store.add_account(label, "woox", url, blob, CREDS.hint)

    def daily(self) -> dict:
        out = {}
        for row in daily_volume(self.store, exchange="woox").iter_rows(named=True):
            out[row["date"].isoformat()] = {k: row[k] for k in ("volume_usd", "maker_usd", "taker_usd", "fees_usd",
                                                                 "fills")}
        return out

    def close(self) -> None:
        self.engine.close()
        self.store.close()


def _sim(history: History, **reading) -> WooxSim:
    sim = WooxSim(history, window_anchor_ms=history.now_ms, rate_limits_enabled=False, **reading)
    sim.start()
    return sim


def _options(page, over, cap, meta, sym, order) -> dict:
    return {"page_mode": page, "limit_over_cap": over, "page_size_cap": cap, "meta": meta, "symbol_required": sym,
            "sort_order": order}


def _request_bound(history: History, cap: int, sym: bool) -> int:
    """Shape search (at most 24 refusals) + per scope: pages of ``cap - 6`` new rows (clusters of <= 6 fills
    share a millisecond and come again at a window boundary) + 3 (a confirming request, a switch)."""
    if sym:
        counts: dict[str, int] = {}
        for f in history.fills:
            if f.market.startswith("PERP_"):
                counts[f.market] = counts.get(f.market, 0) + 1
        scopes = list(counts.values()) + [0] * 2  # listed perps without fills
    else:
        scopes = [len(history.fills)]
    return 24 + sum(math.ceil(n / (cap - 6)) + 3 for n in scopes)


@pytest.mark.parametrize("reading", READINGS, ids=_id)
def test_backfill_is_exact_under_every_reading(settings, history, reading):
    page, (over, cap), meta, sym, order = reading
    sim = _sim(history, **_options(page, over, cap, meta, sym, order))
    env = Env(settings, history)
    try:
        acc = env.add(sim.base_url)
        [res] = env.engine.sync()
        assert res.ok, res.error
        assert env.daily() == history.expected_daily()
        # the backfill within its bound; the self-check's own re-reads come on top and are counted apart
        assert sim.requests["transactionHistory"] <= _request_bound(history, cap, sym) + res.check_requests
        assert sim.rate_limited == 0
        state = env.store.get_sync_state(acc.id)
        assert state.covered_from_ms <= history.start_ms and state.covered_to_ms == history.now_ms
        profile = env.store.get_account("wx").server_profile
        assert profile is not None
        assert profile["page"] == page if page != "honoured" else profile["page"] in ("honoured",)
        assert profile["meta"] is meta and profile["order"] == order and profile["symbol_required"] is sym
        assert profile["page_size"] == cap
        assert profile["limit_over_cap"] == ("clamped" if over == "clamp" else "rejected")
        text = describe_server_profile(profile)
        assert f"page {page}" in text and f"{cap} rows/page" in text
        if sym:
            assert "delisted symbol" in res.coverage
        # the next sync uses the recorded reading: nothing new costs no shape search
        before = sim.requests["transactionHistory"]
        [again] = env.engine.sync()
        assert again.ok and again.new_fills == 0
        scopes = (len({f.market for f in history.fills if f.market.startswith("PERP_")}) + 2) if sym else 1
        assert sim.requests["transactionHistory"] - before <= 2 * scopes
        assert env.daily() == history.expected_daily()
    finally:
        env.close()
        sim.stop()


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("page", ["ignored", "rejected"])
def test_more_fills_than_a_page_in_one_millisecond_is_a_clear_error_not_a_loop(sqlite_settings, page, order):
    history = History("woox", 32, 200, now_ms=NOW_MS)
    crowded = history.now_ms - 500
    for _ in range(60):
        history.add_live_fill(ts_ms=crowded, market="PERP_BTC_USDT")
    sim = _sim(history, page_mode=page, page_size_cap=50, sort_order=order, meta=False)
    env = Env(sqlite_settings, history)
    try:
        acc = env.add(sim.base_url)
        [res] = env.engine.sync()
        assert not res.ok and "sharing millisecond" in res.error and "incomplete" in res.error
        assert sim.requests["transactionHistory"] <= 40  # bounded: no loop
        state = env.store.get_sync_state(acc.id)
        # nothing claims the two years complete
        assert state.covered_from_ms is None or state.covered_from_ms > history.start_ms
        assert env.store.get_account("wx").status == "error"
        # where the server pages, the same history is read exactly
        sim.config.page_mode = "honoured"
        [res] = env.engine.sync()
        assert res.ok, res.error
        assert env.daily() == history.expected_daily()
    finally:
        env.close()
        sim.stop()


def test_a_server_that_stops_honouring_page_between_syncs_is_caught(settings):
    history = History("woox", 33, 300, now_ms=NOW_MS - 3_600_000)
    sim = _sim(history, page_size_cap=100, sort_order="desc")
    env = Env(settings, history)
    try:
        env.add(sim.base_url)
        [res] = env.engine.sync()
        assert res.ok and env.store.get_account("wx").server_profile["page"] == "honoured"
        sim.config.page_mode = "ignored"  # the server changes
        for _ in range(260):  # more than two pages of new fills for the incremental sync
            history.add_live_fill(ts_ms=history.fills[-1].ts_ms + 7)
        history.now_ms = history.fills[-1].ts_ms + 1
        [res] = env.engine.sync()
        assert res.ok, res.error
        assert env.daily() == history.expected_daily()
        profile = env.store.get_account("wx").server_profile
        assert profile["page"] == "ignored"
        assert any("page: honoured -> ignored" in c["what"] for c in profile["changes"])
        assert "page: honoured -> ignored" in describe_server_profile(profile)
    finally:
        env.close()
        sim.stop()


def test_a_symbol_no_longer_listed_is_read_from_the_accounts_known_symbols(sqlite_settings):
    history = History("woox", 34, 300, now_ms=NOW_MS - 3_600_000)
    sim = _sim(history, symbol_required=True, page_size_cap=100)
    env = Env(sqlite_settings, history)
    try:
        env.add(sim.base_url)
        [res] = env.engine.sync()
        assert res.ok and env.daily() == history.expected_daily()
        sim.config.delisted_symbols = ("PERP_ARB_USDT",)
        history.add_live_fill(ts_ms=history.fills[-1].ts_ms + 10, market="PERP_ARB_USDT")
        history.now_ms = history.fills[-1].ts_ms + 1
        [res] = env.engine.sync()
        assert res.ok and env.daily() == history.expected_daily()  # PERP_ARB_USDT came from the stored fills
    finally:
        env.close()
        sim.stop()


def test_a_delisted_symbol_without_a_known_fill_is_said_not_hidden(sqlite_settings):
    history = History("woox", 35, 300, now_ms=NOW_MS)
    sim = _sim(history, symbol_required=True, page_size_cap=100, delisted_symbols=("PERP_ARB_USDT",))
    env = Env(sqlite_settings, history)
    try:
        env.add(sim.base_url)
        [res] = env.engine.sync()
        assert res.ok
        assert "delisted symbol with no known fill cannot be enumerated" in res.coverage
        profile = env.store.get_account("wx").server_profile
        assert any("cannot be enumerated" in n for n in profile["notes"])
        stored = {r["market"] for r in env.store.rollups_frame().iter_rows(named=True)}
        assert "PERP_ARB_USDT" not in stored  # exactly what the coverage statement says
    finally:
        env.close()
        sim.stop()


@pytest.mark.parametrize("page", ["honoured", "ignored", "rejected"])
def test_keys_test_probe_names_the_reading(history, page):
    sim = _sim(history, page_mode=page, page_size_cap=100, meta=False, sort_order="asc")
    try:
        profile = probe_server_profile(CREDS, sim.base_url, **OPTIONS["woox"])
        assert profile["page"] == page and profile["order"] == "asc" and profile["meta"] is False
        assert sim.requests["transactionHistory"] <= 6
    finally:
        sim.stop()


def _cli(env: dict, *args: str, stdin: str | None = None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "perpvol_cli.main", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=180, check=False)


@pytest.mark.parametrize("page", ["ignored", "rejected"])
def test_cli_keys_test_names_the_reading_and_sync_gives_the_truth(sqlite_url, tmp_path, page):
    """As a new user would, at the documented rate limits: ``keys add``, ``keys test`` (names the reading),
    ``keys list --json`` (shows it), ``sync``, and ``volume --json --daily`` equals the truth day by day."""
    import json
    import os

    # 729 days: the CLI syncs 730 days back from its own (later) clock
    history = History("woox", 36, 300, days=729)
    sim = WooxSim(history, page_mode=page, page_size_cap=100, sort_order="desc")
    sim.start()
    env = dict(os.environ, PERPVOL_HOME=str(tmp_path / "home"), PERPVOL_DATABASE_URL=sqlite_url)
    try:
        added = _cli(env, "keys", "add", "woox", "--label", "wx", "--api-key", DEMO_API_KEY, "--api-secret-stdin",
                     "--base-url", sim.base_url, stdin=DEMO_API_SECRET)
        assert added.returncode == 0, added.stderr
        tested = _cli(env, "keys", "test", "wx")
        assert tested.returncode == 0, tested.stderr
        assert f"transactionHistory: page {page} (time-window walk), 100 rows/page" in tested.stdout
        [row] = json.loads(_cli(env, "keys", "list", "--json").stdout)
        assert row["server_profile"]["page"] == page and row["server_profile"]["page_size"] == 100
        synced = _cli(env, "sync")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        report = json.loads(_cli(env, "volume", "--json", "--daily").stdout)
        got = {r["date"]: r for r in report["daily"] if r["exchange"] == "woox"}
        truth = history.expected_daily()
        assert set(got) == set(truth)
        for day, expected in truth.items():
            assert Decimal(got[day]["volume_usd"]) == expected["volume_usd"], day
            assert got[day]["fills"] == expected["fills"], day
        assert sim.rate_limited == 0
    finally:
        sim.stop()


def test_perpvol_sim_woox_serves_the_reading_asked(tmp_path):
    import os
    import subprocess
    import sys

    import httpx

    from perpvol_sim.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "perpvol_cli.main", "sim", "woox", "--port", str(port), "--fills",
                             "50", "--page-mode", "rejected", "--page-cap", "20", "--no-meta", "--symbol-required",
                             "--order", "desc", "--limit-over-cap", "reject-1005"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        assert any("page rejected, page cap 20 (limit above: reject-1005), meta absent, symbol required, "
                   "rows newest-first" in line for line in lines), lines
        assert httpx.get(f"http://127.0.0.1:{port}/v3/public/systemInfo", timeout=10).json()["success"] is True
    finally:
        proc.terminate()
        proc.wait(20)
