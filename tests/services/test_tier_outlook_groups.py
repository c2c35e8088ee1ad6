"""A main account and its subaccount share one fee tier (the venue counts both): on SQLite and PostgreSQL, the
tier outlook first names the subaccount the venue counts but perpvol does not hold; once it is added, both
accounts' tier window holds the volume of both (the venue-wide figure of the store's rollups), while the fee
paid stays each account's own."""

from __future__ import annotations

import time
from datetime import timedelta

from perpvol_core import timeutil
from perpvol_core.analytics import volume
from perpvol_core.analytics.tier_outlook import outlook
from perpvol_sim.history import History
from tests.analytics.recon_setup import Synced, simulator


def test_main_and_subaccount_share_the_tier_window(settings) -> None:
    pdx = simulator("paradex")
    now = int(time.time() * 1000)
    sim = pdx.ParadexDemoVenue(History("paradex", 33, 600, now_ms=now, days=30), subaccount_fills=80)
    synced = Synced(settings)
    try:
        sim.start()
        synced.add("main", "paradex", sim)
        synced.sync()
        [alone] = outlook(synced.store)
        sub_address = hex(pdx.figures.SUBACCOUNT_ADDRESS)
        assert alone.scope == ["main"] and alone.missing_subaccounts == [sub_address]
        assert any("not in perpvol" in n for n in alone.notes)

        token = pdx.figures.subaccount_token(sim.state)
        sub_sim = type("SubVenue", (), {"base_url": sim.base_url,
                                        "credentials": lambda self: {"kind": "paradex_token", "token": token}})()
        synced.add("sub", "paradex", sub_sim)
        synced.sync()
        by = {o.label: o for o in outlook(synced.store)}
        today = timeutil.date_of_ms(timeutil.now_ms())
        for label in ("main", "sub"):
            o = by[label]
            assert o.scope == ["main", "sub"] and o.missing_subaccounts == [], (label, o.scope)
            start = timeutil.day_ms(today - timedelta(days=o.window_days - 1))
            end = timeutil.day_ms(today) + timeutil.MS_PER_DAY
            both = volume.window_volume(synced.store, start, end, "paradex")  # the only two accounts of the venue
            assert o.projection.volume == both > 0, label
        own = {label: by[label].maker.volume + by[label].taker.volume for label in ("main", "sub")}
        assert own["main"] + own["sub"] == by["main"].projection.volume and own["sub"] > 0  # fees stay per account
    finally:
        synced.close()
        sim.stop()
