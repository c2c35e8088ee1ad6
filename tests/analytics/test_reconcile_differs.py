"""Each disagreement a simulator can be told to make is caught, on SQLite and PostgreSQL, with the right days,
amount and cause: a day whose fills the venue never lists (both venues), spot volume in the venue's figures, a
subaccount's volume in the tier window (and a sub-account's in the daily figures), fills made after the sync,
and days before ``complete_from`` (a retention-capped history). Amounts come from the simulators' histories."""

from __future__ import annotations

import time
from decimal import Decimal

from perpvol_cli.main import main as cli
from perpvol_core.analytics.reconcile import reconcile
from perpvol_core.exchanges import make_connector
from perpvol_core.services.verify import refresh_exchange_report
from perpvol_sim.history import History, utc_day
from tests.analytics.recon_setup import Synced, busy_day, counted_by_day, options, simulator

N_FILLS, DAYS = 1500, 40


def _differing(account):
    return [r for r in account.rows if r.status == "differs"]


def _codes(row) -> set[str]:
    return {c.code for c in row.causes}


def test_paradex_withheld_day_spot_and_subaccount(settings, monkeypatch, capsys) -> None:
    pdx = simulator("paradex")
    now = int(time.time() * 1000)
    history = History("paradex", 21, N_FILLS, now_ms=now, days=DAYS)
    day = busy_day(history.fills, history.profile, range(2, 10))
    sim = pdx.ParadexDemoVenue(history, withheld_day=day)
    synced = Synced(settings)
    try:
        sim.start()
        synced.add("p", "paradex", sim)
        synced.sync()
        [account] = reconcile(synced.store).accounts
        assert account.status == "differs"
        rows = _differing(account)
        withheld = counted_by_day([f for f in history.fills if utc_day(f.ts_ms) == day], history.profile)[day]
        [series] = [r for r in rows if r.period == "day"]
        assert series.day == day and series.days == [day] and series.difference == withheld
        assert _codes(series) == {"missing_fills"}
        [window] = [r for r in rows if r.period == "window"]
        assert window.days == [day] and window.difference == withheld
        assert "subaccounts_not_added" not in _codes(window)  # the venue lists no subaccount

        # spot in the figures: every day with spot fills differs by exactly its spot volume
        sim.state.config = type(sim.state.config)(**{**vars(sim.state.config), "withheld_day": None,
                                                      "figures_include_spot": True, "subaccount_fills": 60})
        account_row = synced.store.get_account("p")
        creds = synced.vault.decrypt_account(account_row)
        with make_connector(creds, account_row.base_url, **options()["paradex"]) as conn:
            refresh_exchange_report(synced.store, account_row, conn, now + 10**9)
        [account] = reconcile(synced.store).accounts
        spot: dict[str, Decimal] = {}
        for f in history.snapshot():
            if f.market.count("-") == 1 and now - 30 * 86_400_000 <= f.ts_ms:
                spot[utc_day(f.ts_ms)] = spot.get(utc_day(f.ts_ms), Decimal(0)) + f.price * f.size
        series = {r.day: r for r in account.rows if r.period == "day"}
        # the withheld day stays short (an incremental sync does not read it again), now by its spot volume too
        assert series[day].difference == withheld + spot.get(day, Decimal(0))
        del series[day]
        assert {d for d, r in series.items() if r.status == "differs"} == {d for d in spot if d in series}
        for d, r in series.items():
            if r.status == "differs":
                assert r.difference == spot[d] and "spot_included" in _codes(r), r
        # the subaccount's volume in the tier window: named with its address
        [window] = [r for r in account.rows if r.period == "window"]
        assert window.status == "differs" and "subaccounts_not_added" in _codes(window)
        assert any(pdx.figures.SUBACCOUNT_ADDRESS.to_bytes(32, "big").hex()[:4] in c.text or "0x5ab" in c.text
                   for c in window.causes)  # fmt: skip
        monkeypatch.setenv("PERPVOL_HOME", str(settings.home))
        monkeypatch.setenv("PERPVOL_DATABASE_URL", settings.database_url)
        capsys.readouterr()
        assert cli(["reconcile", "--label", "p"]) == 1  # a difference exits 1
        out = capsys.readouterr().out
        assert "DIFF" in out and "spot included by the venue" in out and "subaccounts not added" in out
    finally:
        synced.close()
        sim.stop()


def test_hyperliquid_withheld_day_sub_account_later_fills_and_retention(settings) -> None:
    hl = simulator("hyperliquid")
    now = int(time.time() * 1000)
    history = hl.hyperliquid_history(23, N_FILLS, now_ms=now, days=DAYS)
    day = busy_day(history.fills, history.profile, range(2, 10))
    sim = hl.HyperliquidSim(history, weight_limit=10**9, withheld_day=day, sub_accounts=1, retention_cap=1200)
    synced = Synced(settings)
    try:
        sim.start()
        synced.add("h", "hyperliquid", sim)
        synced.sync()
        [account] = reconcile(synced.store).accounts
        rows = _differing(account)
        sub_days = {utc_day(f.ts_ms) for sub in sim.state.subs.values() for f in sub.snapshot()}
        daily = {r.day for r in rows if r.period == "day"}
        assert day in daily and daily <= sub_days | {day}
        for r in rows:
            if r.period == "day" and r.day in sub_days:
                assert "subaccounts_not_added" in _codes(r), r
        [all_time] = [r for r in rows if r.key == "portfolio:perpAllTime"]
        # 1,500 fills, 1,200 served: the venue counts days perpvol can never hold
        assert "before_complete_from" in _codes(all_time) and day in all_time.days

        # fills made after the sync: the venue's figures count them, perpvol has not synced them yet
        sim.configure(withheld_day=None)
        for _ in range(5):
            history.add_live_fill()
        account_row = synced.store.get_account("h")
        creds = synced.vault.decrypt_account(account_row)
        with make_connector(creds, account_row.base_url, **options()["hyperliquid"]) as conn:
            refresh_exchange_report(synced.store, account_row, conn, now + 10**9)
        [account] = reconcile(synced.store).accounts
        today = [r for r in _differing(account) if r.day == utc_day(int(time.time() * 1000))]
        assert today and all("not_synced" in _codes(r) for r in today)
    finally:
        synced.close()
        sim.stop()


def test_days_before_the_synced_window_are_named_as_the_window_not_the_venue(settings) -> None:
    """A venue that serves every fill (600, far under its 10,000 cap) of a history longer than the two-year
    window: the all-time figure differs by the older fills, and the cause names perpvol's window, not the
    venue's retention (the remedy differs: nothing the venue can give, versus nothing perpvol asked for)."""
    hl = simulator("hyperliquid")
    now = int(time.time() * 1000)
    history = hl.hyperliquid_history(29, 600, now_ms=now, days=800)
    older = sum(counted_by_day([f for f in history.fills if f.ts_ms < now - 731 * 86_400_000],
                               history.profile).values(), Decimal(0))  # fmt: skip
    assert older > 0  # the history reaches past the window (the test would prove nothing otherwise)
    sim = hl.HyperliquidSim(history, weight_limit=10**9)
    synced = Synced(settings)
    try:
        sim.start()
        synced.add("h", "hyperliquid", sim)
        synced.sync()
        [account] = reconcile(synced.store).accounts
        [all_time] = [r for r in _differing(account) if r.key == "portfolio:perpAllTime"]
        [cause] = [c for c in all_time.causes if c.code == "before_complete_from"]
        assert "perpvol synced from" in cause.text and "no longer serves" not in cause.text, cause.text
        assert all_time.difference >= older
    finally:
        synced.close()
        sim.stop()
