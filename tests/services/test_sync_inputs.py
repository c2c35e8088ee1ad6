"""The sync, the self-check and verify with bad stored state, bad input and fills that reuse an id: against the
simulators over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from perpvol_core import bounds, timeutil
from perpvol_core.analytics.volume import daily_volume
from perpvol_core.exchanges import classify
from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.sync import SyncEngine
from perpvol_core.services.verify import plan_windows, verify_account
from perpvol_core.services.worker import Worker
from perpvol_core.store import Store
from perpvol_sim.history import History
from perpvol_sim.paradex import ParadexSim
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim

NOW_MS = int(time.time() * 1000)
D0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def test_window_planner_is_bounded_for_any_range() -> None:
    # whole UTC days with at most `budget` stored fills each; a day over budget is a window of its own
    counts = {D0: 3, D0 + MS_PER_DAY: 5, D0 + 3 * MS_PER_DAY: 1}
    assert plan_windows(counts, D0, D0 + 5 * MS_PER_DAY, 4) == [
        (D0, D0 + MS_PER_DAY), (D0 + MS_PER_DAY, D0 + 2 * MS_PER_DAY), (D0 + 2 * MS_PER_DAY, D0 + 5 * MS_PER_DAY),
    ]  # fmt: skip
    # the ranges `sync --days 10**11` left behind: one window, at once (run apart, so a hang is a failure)
    code = (
        "from perpvol_core.services.verify import plan_windows; "
        "print(plan_windows({}, -8_640_000_000_000_000_000, 9_000_000_000_000_000_000, 1)); "
        f"print(len(plan_windows({{{D0}: 2}}, -8_640_000_000_000_000_000, 9_000_000_000_000_000_000, 1)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["[(-8640000000000000000,", "9000000000000000000)]", "2"]


class Env:
    def __init__(self, settings) -> None:
        self.woox_history = History("woox", 51, 300, now_ms=NOW_MS, days=729)
        self.woox = WooxSim(self.woox_history)
        self.paradex = ParadexSim(History("paradex", 52, 300, now_ms=NOW_MS, days=729))
        self.woox.start()
        self.paradex.start()
        self.store = Store(settings.database_url)
        self.vault = Vault.open(settings, self.store)
        self.engine = SyncEngine(self.store, self.vault)

    def add_woox(self, label: str = "woo") -> None:
        creds = WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET))
        url = self.woox.base_url
        self.store.add_account(label, "woox", url, self.vault.encrypt(creds, label=label, base_url=url), creds.hint)

    def add_paradex(self, label: str = "dex") -> None:
        creds = ParadexTokenCredentials(token=Secret(self.paradex.mint_read_only_token()))
        url = self.paradex.api_url
        self.store.add_account(label, "paradex", url, self.vault.encrypt(creds, label=label, base_url=url),
                               creds.hint)  # fmt: skip

    def edit(self, sql: str, **params) -> None:
        with self.store._engine.begin() as conn:  # by hand, as a user with a SQL shell would
            conn.execute(sa.text(sql), params)

    def close(self) -> None:
        self.engine.close()
        self.store.close()
        self.woox.stop()
        self.paradex.stop()


@pytest.fixture
def env(settings):
    e = Env(settings)
    yield e
    e.close()


def test_sync_days_out_of_range_is_refused_before_any_account_is_touched(env: Env) -> None:
    env.add_woox()
    for days in (0, 731, 800_000, 10**11):
        with pytest.raises(bounds.InputError, match="--days must be between 1 and 730"):
            env.engine.sync(days=days)
        with pytest.raises(bounds.InputError):
            Worker(store=env.store, vault=env.vault, days=days)
    acc = env.store.get_account("woo")
    assert acc.status == "new" and env.store.get_sync_state(acc.id).updated_ms is None  # nothing written


def test_an_unreadable_state_fails_its_own_account_and_its_next_sync_starts_over(env: Env) -> None:
    env.add_woox()
    env.add_paradex()
    assert all(r.ok for r in env.engine.sync())
    woo, dex = env.store.get_account("woo"), env.store.get_account("dex")
    dex_state = env.store.get_sync_state(dex.id)
    # what `sync --days 10**11` stored before days were bounded, and a cursor from nowhere
    env.edit("UPDATE sync_state SET covered_from_ms = -8640000000000000000, cursor = '{oops' WHERE account_id = :a",
             a=woo.id)  # fmt: skip
    from perpvol_core.services.status import account_statuses

    views = {v.label: v for v in account_statuses(env.store)}
    assert views["woo"].status == "error" and "cannot be read" in views["woo"].last_error
    assert views["dex"].status == "ok" and views["dex"].covered_from_ms == dex_state.covered_from_ms
    results = {r.label: r for r in env.engine.sync()}
    assert results["woo"].ok and results["dex"].ok, (results["woo"].error, results["dex"].error)
    assert results["dex"].new_fills == 0
    state = env.store.get_sync_state(woo.id)
    assert state.unreadable is None and state.cursor is None
    assert state.covered_from_ms <= env.woox_history.start_ms and state.covered_to_ms >= NOW_MS
    expected = {day: row["volume_usd"] for day, row in env.woox_history.expected_daily().items()}
    rows = daily_volume(env.store, exchange="woox").iter_rows(named=True)
    got = {r["date"].isoformat(): r["volume_usd"] for r in rows}
    assert got == expected


def test_a_reused_id_with_new_content_is_reported_by_the_sync(env: Env) -> None:
    env.add_woox()
    [first] = env.engine.sync()
    assert first.ok and "WARNING" not in first.coverage
    # the simulator restarted and its id counter with it: a new fill carries the id of a stored one
    last = env.woox_history.fills[-1]
    reused = dataclasses.replace(last, ts_ms=max(last.ts_ms + 1, timeutil.now_ms() - 1000), price=last.price + 1)
    env.woox_history.fills.append(reused)
    [again] = env.engine.sync()
    assert again.new_fills == 0  # the stored fill is kept ...
    assert "WARNING" in again.coverage and reused.fill_id in again.coverage  # ... and the arrival is named
    from perpvol_core.services.status import account_statuses

    [view] = account_statuses(env.store)
    assert reused.fill_id in view.last_error
    [third] = env.engine.sync()  # identical re-reads add nothing to the count
    assert "1 fill(s)" in third.coverage


def test_verify_advice_fixes_what_it_found(env: Env, settings) -> None:
    env.add_woox()
    assert env.engine.sync()[0].ok
    acc = env.store.get_account("woo")
    # a fill the exchange lists is missing from the store: the advice is a sync, and a sync fixes it
    victim = env.woox_history.fills[100].fill_id
    env.edit("DELETE FROM fills WHERE account_id = :a AND fill_id = :f", a=acc.id, f=victim)
    found = verify_account(env.store, env.vault, "woo")
    assert found.ok is False and found.counts()["missing"] == 1
    assert "`perpvol sync --label woo`" in found.summary() and "keys remove" not in found.summary()
    assert env.engine.sync()[0].ok
    assert verify_account(env.store, env.vault, "woo").ok is True

    # a stored fill the exchange does not list: a sync does not remove it; the advice is to read the
    # account again from scratch, and doing so fixes it
    ts = env.woox_history.fills[150].ts_ms
    stray = Fill(exchange="woox", fill_id="999999999999", fill_type="FILL", market="PERP_BTC_USDT", side="BUY",
                 liquidity="TAKER", price=Decimal("50000"), size=Decimal("0.1"), fee=Decimal("1"), fee_asset="USDT",
                 ts_ms=ts)  # fmt: skip
    assert env.store.ingest_fills(acc.id, [classify(stray)]) == 1
    found = verify_account(env.store, env.vault, "woo")
    assert found.ok is False and found.counts()["extra"] == 1
    text = found.summary()
    assert "no longer lists" in text and "`perpvol keys remove woo`" in text and "sync again" not in text
    assert env.engine.sync()[0].ok is False  # what the old advice said does not clear it
    env.store.remove_account("woo")
    env.add_woox()
    assert env.engine.sync()[0].ok
    assert verify_account(env.store, env.vault, "woo").ok is True
