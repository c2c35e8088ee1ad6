"""A main account and its subaccounts, on SQLite and PostgreSQL: the venue's tier volume counts the main account
and every subaccount; until the subaccount is added the difference names it, once added the group agrees (and
the subaccount's own figures are its own)."""

from __future__ import annotations

import time

import pytest

from perpvol_core.analytics.reconcile import reconcile
from perpvol_sim.history import History
from tests.analytics.recon_setup import Synced, simulator


def test_a_main_account_with_its_subaccount_added_agrees(settings) -> None:
    pdx = simulator("paradex")
    now = int(time.time() * 1000)
    sim = pdx.ParadexDemoVenue(History("paradex", 31, 1200, now_ms=now, days=40), subaccount_fills=80)
    synced = Synced(settings)
    try:
        sim.start()
        synced.add("main", "paradex", sim)
        synced.sync()
        [main] = reconcile(synced.store).accounts
        [window] = [r for r in main.rows if r.period == "window"]
        sub_address = hex(pdx.figures.SUBACCOUNT_ADDRESS)
        assert window.status == "differs" and window.accounts == ["main"]
        [cause] = [c for c in window.causes if c.code == "subaccounts_not_added"]
        assert sub_address[:8] in cause.text and "1 not in perpvol" in cause.text
        assert main.missing_subaccounts == [sub_address] and main.subaccounts == []
        assert all(r.status == "agrees" for r in main.rows if r.period == "day")  # the series is the account's own

        token = pdx.figures.subaccount_token(sim.state)
        sub_sim = type("SubVenue", (), {"base_url": sim.base_url,
                                        "credentials": lambda self: {"kind": "paradex_token", "token": token}})()
        synced.add("sub", "paradex", sub_sim)
        synced.sync()
        assert str(synced.store.get_account("sub").identity).startswith(sub_address + "@")
        rec = reconcile(synced.store)
        assert rec.differs == 0, [(r.label, r.figure, r.theirs, r.ours, r.accounts) for a in rec.accounts
                                  for r in a.rows if r.status == "differs"]  # fmt: skip
        by_label = {a.label: a for a in rec.accounts}
        assert by_label["main"].subaccounts == ["sub"] and by_label["sub"].main == "main"
        assert by_label["main"].missing_subaccounts == []
        for label in ("main", "sub"):
            [window] = [r for r in by_label[label].rows if r.period == "window"]
            assert window.status == "agrees" and window.accounts == ["main", "sub"], (label, window)
            days = [r for r in by_label[label].rows if r.period == "day"]
            assert days and all(r.accounts == [label] for r in days)
        # the subaccount's own series is its own fills: a day it traded is not zero
        assert any(r.theirs for r in by_label["sub"].rows if r.period == "day")
    finally:
        synced.close()
        sim.stop()


@pytest.mark.parametrize("included", [True, False], ids=["subs-in-figures", "address-only"])
def test_hyperliquid_sub_accounts_added_agree_under_either_scope(settings, included: bool) -> None:
    hl = simulator("hyperliquid")
    now = int(time.time() * 1000)
    sim = hl.HyperliquidSim(hl.hyperliquid_history(33, 900, now_ms=now, days=40), weight_limit=10**9,
                            sub_accounts=1, vlm_includes_subs=included)  # fmt: skip
    synced = Synced(settings)
    try:
        sim.start()
        [sub] = sim.sub_addresses
        synced.add("master", "hyperliquid", sim)
        creds = {"kind": "hyperliquid_address", "address": sub}
        sub_venue = type("SubVenue", (), {"base_url": sim.base_url, "credentials": lambda self: creds})()
        synced.add("sub", "hyperliquid", sub_venue)
        synced.sync()
        rec = reconcile(synced.store)
        assert rec.differs == 0, [(r.label, r.figure, r.reading, r.theirs, r.ours) for a in rec.accounts
                                  for r in a.rows if r.status == "differs"]  # fmt: skip
        by_label = {a.label: a for a in rec.accounts}
        master, own = by_label["master"], by_label["sub"]
        assert master.subaccounts == ["sub"] and own.main == "master" and master.missing_subaccounts == []
        fits = {fit.fork: fit.reading for fit in master.fits}
        assert fits["dailyUserVlm"].endswith("sub-accounts included") == included, fits
        daily = [r for r in master.rows if r.period == "day"]
        assert daily and all(r.accounts == (["master", "sub"] if included else ["master"]) for r in daily)
        assert all(r.accounts == ["sub"] for r in own.rows)
    finally:
        synced.close()
        sim.stop()
