"""A main account and its subaccounts, on SQLite and PostgreSQL: the venue's tier volume counts the main account
and every subaccount; until the subaccount is added the difference names it, once added the group agrees (and
the subaccount's own figures are its own)."""

from __future__ import annotations

import time

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
