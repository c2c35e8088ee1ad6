"""Self-check of a backfill against both simulators over real HTTP, on SQLite and PostgreSQL.

A clean backfill verifies; fills the live feed stored after the backfill are read again too (one missing
from the middle of that range is found); a page the simulator silently drops (``Faults(drop_page=...)``)
is flagged with exactly the UTC days of the fills it held, the account is not shown as complete, the next
sync re-reads those windows and clears it; ``perpvol verify`` runs the full check and exits non-zero on a
disagreement.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from perpvol_core.analytics.volume import daily_volume
from perpvol_core.exchanges import RateLimit, classify, make_connector
from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.services.verify import plan_windows, verify_account
from perpvol_core.store import Store
from perpvol_sim.faults import Faults
from perpvol_sim.history import History, utc_day
from perpvol_sim.paradex import ParadexSim
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim
from tests.conftest import pinned_midday_ms

NOW_MS = pinned_midday_ms()  # the simulators' "now": hours from a UTC day boundary
OPTIONS = {
    "woox": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0,
             "rate_limits": {"/v3/trade/transactionHistory": [RateLimit(50, 1.0)]}},
    "paradex": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0, "page_size": 200},
}


def _truth(history: History) -> dict:
    return {day: dict(v) for day, v in history.expected_daily().items()}


def _daily(store: Store, exchange: str) -> dict:
    keys = ("volume_usd", "maker_usd", "taker_usd", "fees_usd", "fills")
    return {r["date"].isoformat(): {k: r[k] for k in keys} for r in daily_volume(store, exchange=exchange).iter_rows(
        named=True)}


def _missing_days(store: Store, account_id: int, history: History) -> list[str]:
    """UTC days of the simulator's fills the store lacks (computed independently of the check)."""
    frame = store.fills_frame(account_id=account_id)
    stored = set(zip(frame["fill_id"].to_list(), frame["fill_type"].to_list(), strict=True))
    alias = {"TRANSFER": "UNWIND_TRANSFER"}
    return sorted({utc_day(f.ts_ms) for f in history.fills if (f.fill_id, alias.get(f.fill_type, f.fill_type))
                   not in stored})


class Env:
    def __init__(self, settings, history: History):
        self.settings = settings
        self.store = Store(settings.database_url)
        self.vault = Vault.open(settings, self.store)
        self.history = history
        self.engine = SyncEngine(self.store, self.vault, EventBus(), connector_options=OPTIONS,
                                 clock=lambda: history.now_ms)

    def add(self, label, exchange, url, creds):
        blob = self.vault.encrypt(creds, label=label, base_url=url)
        return self.store.add_account(label, exchange, url, blob, creds.hint)

    def close(self):
        self.engine.close()
        self.store.close()


@pytest.fixture
def paradex():
    history = History("paradex", 31, 1500, now_ms=NOW_MS)
    faults = Faults()
    sim = ParadexSim(history, faults=faults)
    sim.start()
    yield SimpleNamespace(sim=sim, history=history, faults=faults, url=sim.api_url,
                          creds=lambda: ParadexTokenCredentials(token=Secret(sim.mint_read_only_token())))
    sim.stop()


@pytest.fixture
def woox():
    history = History("woox", 32, 1500, now_ms=NOW_MS)
    faults = Faults()
    sim = WooxSim(history, faults=faults, window_anchor_ms=history.now_ms,
                  rate_limits={"transactionHistory": (50, 1.0), "account_info": (10, 1.0)})
    sim.start()
    yield SimpleNamespace(sim=sim, history=history, faults=faults, url=sim.base_url,
                          creds=lambda: WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET)))
    sim.stop()


def test_plan_windows_are_whole_days_within_budget():
    day = 1_700_000_000_000 - 1_700_000_000_000 % MS_PER_DAY
    counts = {day: 3, day + MS_PER_DAY: 3, day + 2 * MS_PER_DAY: 9, day + 3 * MS_PER_DAY: 1}
    start, end = day + 5000, day + 4 * MS_PER_DAY - 7
    windows = plan_windows(counts, start, end, budget=6)
    assert windows == [(start, day + 2 * MS_PER_DAY), (day + 2 * MS_PER_DAY, day + 3 * MS_PER_DAY),
                       (day + 3 * MS_PER_DAY, end)]
    assert plan_windows(counts, end, start, budget=6) == []


@pytest.mark.parametrize("exchange", ["paradex", "woox"])
def test_clean_backfill_verifies(settings, request, exchange):
    sim = request.getfixturevalue(exchange)
    env = Env(settings, sim.history)
    acc = env.add("a", exchange, sim.url, sim.creds())
    [res] = env.engine.sync()
    assert res.ok, res.error
    doc = env.store.get_account("a").verification
    assert doc["state"] == "agrees" and doc["days"] == [] and doc["counts"]["exchange_fills"] > 0
    assert doc["windows_checked"] >= 2 and res.check.ok is True and res.check_requests >= doc["windows_checked"]
    assert "self-check agrees" in res.coverage and env.store.get_account("a").status == "ok"
    full = verify_account(env.store, env.vault, "a", full=True, connector_options=OPTIONS)
    assert full.ok is True and len(full.windows) == full.windows_total >= doc["windows_checked"]
    # every stored fill is read again, but those of the newest minutes (they may still arrive)
    checked_to = full.windows[-1].end_ms
    assert checked_to >= sim.history.now_ms - 600_000
    in_range = env.store.fills_frame(end_ms=checked_to, account_id=acc.id).height
    assert full.counts()["exchange_fills"] == full.counts()["stored_fills"] == in_range > 0
    env.close()


def test_dropped_newest_page_is_flagged_with_its_days_then_repaired(settings, paradex):
    paradex.faults.set(drop_page=("/v1/fills", 1))  # the backfill's first page (the newest fills)
    env = Env(settings, paradex.history)
    acc = env.add("px", "paradex", paradex.url, paradex.creds())
    [res] = env.engine.sync()
    missing = _missing_days(env.store, acc.id, paradex.history)
    assert missing and paradex.faults.counts["drop_page"] == 1
    assert not res.ok and res.error_kind == "verification"
    account = env.store.get_account("px")
    assert account.verification["state"] == "disagrees"
    # the cheap check reads the newest window: every dropped day that lies in it is named, nothing else
    assert set(account.verification["days"]) <= set(missing)
    assert missing[-1] in account.verification["days"]
    assert account.status == "error" and "self-check disagreed" in account.last_error
    assert "NOT complete" in res.coverage
    # the full check names exactly the days of the dropped fills
    full = verify_account(env.store, env.vault, "px", full=True, connector_options=OPTIONS)
    assert full.ok is False and full.days == missing
    checked_to = full.windows[-1].end_ms
    lost = sum(1 for f in paradex.history.fills if f.ts_ms < checked_to) - env.store.fills_frame(
        end_ms=checked_to, account_id=acc.id).height
    assert lost > 0 and full.counts()["missing"] == lost and full.counts()["extra"] == 0
    # the next sync re-reads the disagreeing windows; the check then agrees and the totals are exact
    [again] = env.engine.sync()
    assert again.ok, again.error
    account = env.store.get_account("px")
    assert account.verification["state"] == "agrees" and account.verification["repaired"] > 0
    assert account.status == "ok" and _daily(env.store, "paradex") == _truth(paradex.history)
    env.close()


@pytest.mark.parametrize("exchange,path,nth", [("paradex", "/v1/fills", 4), ("woox", "/v3/trade", 2)])
def test_full_check_flags_a_page_dropped_mid_backfill(settings, request, exchange, path, nth):
    sim = request.getfixturevalue(exchange)
    sim.faults.set(drop_page=(path, nth))
    env = Env(settings, sim.history)
    acc = env.add("a", exchange, sim.url, sim.creds())
    env.engine.sync()
    missing = _missing_days(env.store, acc.id, sim.history)
    assert missing and sim.faults.counts["drop_page"] == 1
    full = verify_account(env.store, env.vault, "a", full=True, connector_options=OPTIONS)
    assert full.ok is False and full.days == missing
    account = env.store.get_account("a")
    assert account.verification["state"] == "disagrees" and account.verification["days"] == missing
    assert account.status == "error"
    env.close()


def test_cli_verify_exit_codes(settings, paradex, monkeypatch, capsys):
    from perpvol_cli.main import main

    monkeypatch.setenv("PERPVOL_HOME", str(settings.home))
    monkeypatch.setenv("PERPVOL_DATABASE_URL", settings.database_url)
    env = Env(settings, paradex.history)
    env.add("px", "paradex", paradex.url, paradex.creds())
    [res] = env.engine.sync()
    assert res.ok, res.error
    assert main(["verify", "--label", "px"]) == 0
    out = capsys.readouterr().out
    assert "px" in out and "agrees" in out
    # a fill the exchange does not list (e.g. busted) makes the full check disagree on its day
    victim = paradex.history.fills[len(paradex.history.fills) // 2]
    paradex.history.fills.remove(victim)
    paradex.sim.state.book._ts = []
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert utc_day(victim.ts_ms) in out and "disagreed" in out
    env.close()


def test_a_check_that_cannot_run_is_said_and_retried_on_the_next_sync(settings, paradex):
    from perpvol_sim.faults import SERVER_ERROR

    env = Env(settings, paradex.history)
    env.add("px", "paradex", paradex.url, paradex.creds())

    def fail_the_check(event):  # the backfill's last page is stored: the exchange goes down for the check
        if event.get("type") == "sync_progress" and event.get("progress") == 1.0:
            paradex.faults.set(only_paths=("/v1/fills",))
            paradex.faults.force(SERVER_ERROR, 100)

    [res] = env.engine.sync(progress=fail_the_check)
    account = env.store.get_account("px")
    assert res.ok and res.check.ok is None and account.verification["state"] == "error"
    assert "could not run" in res.coverage and "complete" in res.coverage
    paradex.faults.reset()
    [again] = env.engine.sync()
    assert again.ok and again.check is not None and again.check.ok is True
    assert env.store.get_account("px").verification["state"] == "agrees" and "self-check agrees" in again.coverage
    # a crash between the backfill and its check leaves it pending: the next sync runs it
    env.store.set_account_doc("px", "verification", {"state": "pending"})
    [third] = env.engine.sync()
    assert third.check is not None and third.check.ok is True
    env.close()


@pytest.mark.parametrize("exchange", ["paradex", "woox"])
def test_full_check_covers_fills_stored_live_after_the_backfill(settings, request, exchange):
    """The live feed stores fills without moving the synced window: the full check still reads them again,
    finds one missing from the middle of that live range and says how many it compared."""
    sim = request.getfixturevalue(exchange)
    env = Env(settings, sim.history)
    acc = env.add("a", exchange, sim.url, sim.creds())
    [res] = env.engine.sync()
    assert res.ok, res.error
    synced_to = env.store.get_sync_state(acc.id).covered_to_ms
    # fills arrive after the backfill; the store gets them one by one as the live feed stores them (no sync
    # state moves), but the one in the middle of that range never arrives
    live = [sim.history.add_live_fill(ts_ms=sim.history.now_ms + 1000 * (i + 1)) for i in range(9)]
    victim = live[4]
    connector = make_connector(sim.creds(), sim.url, **OPTIONS[exchange])
    try:
        pushed = [f for page in connector.iter_fill_pages(live[0].ts_ms, live[-1].ts_ms) for f in page.fills]
        overlap = connector.incremental_overlap_ms
    finally:
        connector.close()
    assert {f.fill_id for f in pushed} == {f.fill_id for f in live}
    for fill in pushed:
        if fill.fill_id != victim.fill_id:
            assert env.store.ingest_fills(acc.id, [classify(fill)]) == 1
    assert env.store.get_sync_state(acc.id).covered_to_ms == synced_to < live[0].ts_ms
    stored = env.store.fill_count(acc.id)
    now = live[-1].ts_ms + overlap + 60_000  # every live fill is older than the newest minutes left out
    full = verify_account(env.store, env.vault, "a", full=True, connector_options=OPTIONS, now_ms=now)
    assert full.ok is False and full.days == [utc_day(victim.ts_ms)], full.summary()
    assert [key[0] for w in full.windows for key in w.missing] == [victim.fill_id]
    c = full.counts()
    assert c["extra"] == c["changed"] == 0
    assert c["stored_fills"] == stored == c["exchange_fills"] - 1 and c["exchange_fills"] == len(sim.history.fills)
    assert f"{stored} stored compared with {stored + 1} listed" in full.summary()
    assert env.store.get_account("a").verification["checked_to_ms"] > live[-1].ts_ms
    # the missing fill arrives (a later push or sync): the full check agrees and compared every stored fill
    assert env.store.ingest_fills(acc.id, [classify(f) for f in pushed if f.fill_id == victim.fill_id]) == 1
    again = verify_account(env.store, env.vault, "a", full=True, connector_options=OPTIONS, now_ms=now)
    assert again.ok is True, again.summary()
    assert f"{stored + 1} stored compared with {stored + 1} listed, fill for fill" in again.summary()
    assert "not compared" not in again.summary()
    env.close()
