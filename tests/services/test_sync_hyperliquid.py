"""Hyperliquid through the sync engine, on SQLite and PostgreSQL, against its simulator over real HTTP.

The venue serves only an address's newest fills (a count cap; 300 here instead of 10,000): after a sync the
daily totals from ``complete_from`` on equal the simulator's truth over the fills it serves, the days before
are not covered, every fill ever seen is kept when new fills push old ones out of the cap, and a full
``verify`` after that still agrees (a fill the venue no longer serves is not "missing from the exchange").
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

from perpvol_core.analytics.volume import complete_from, daily_rows
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.services.verify import verify_account
from perpvol_core.store import Store
from perpvol_sim.history import utc_day
from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history

RETENTION = 300
OPTIONS = {"hyperliquid": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0,
                           "rate_limits": {"info": []}, "retention_fills": RETENTION}}  # fmt: skip


@pytest.fixture(params=[{}, {"page_cap": 97, "window_pick": "latest", "number_style": "strings"},
                        {"hip3_mode": "per_dex", "old_window": "error", "window_pick": "descending",
                         "end_inclusive": False}],
                ids=["documented", "page-97-latest-strings", "per-dex-refused-descending-exclusive"])  # fmt: skip
def hl(request):
    now = int(time.time() * 1000)
    history = hyperliquid_history(31, 900, now_ms=now, days=120)
    sim = HyperliquidSim(history, retention_cap=RETENTION, weight_limit=10**9, **request.param)
    sim.start()
    yield sim
    sim.stop()


def _ours(store: Store) -> dict[str, tuple]:
    return {r["date"].isoformat() if isinstance(r["date"], date) else r["date"]:
            (Decimal(r["volume_usd"]), Decimal(r["maker_usd"]), Decimal(r["taker_usd"]), r["fills"], r["covered"])
            for r in daily_rows(store, exchange="hyperliquid")}  # fmt: skip


def test_sync_is_exact_from_complete_from_and_keeps_what_the_venue_drops(settings, hl) -> None:
    store = Store(settings.database_url)
    vault = Vault.open(settings, store)
    creds = HyperliquidAddress(address=hl.address)
    store.add_account("hl", "hyperliquid", hl.base_url, vault.encrypt(creds, label="hl", base_url=hl.base_url),
                      creds.hint)  # fmt: skip
    engine = SyncEngine(store, vault, EventBus(), connector_options=OPTIONS)
    try:
        [res] = engine.sync(days=730)
        assert res.ok, res.error
        served = hl.served_fills()
        assert len(served) < len(hl.history.fills)  # the cap bites: older fills are not served
        first = min(f.ts_ms for f in served)
        start = complete_from(store)["hyperliquid"]
        # the first whole UTC day after the oldest served fill (the cap may cut through its day)
        assert start.isoformat() > utc_day(first)
        truth = hl.history.expected_daily(served)
        ours = _ours(store)
        for day, row in ours.items():
            if day < start.isoformat():
                assert row[4] is False, f"{day} is before complete_from and must not read as covered"
            else:
                t = truth.get(day)
                assert t is not None and row[:4] == (t["volume_usd"], t["maker_usd"], t["taker_usd"], t["fills"])
        assert {d for d in truth if d >= start.isoformat()} <= set(ours)
        assert res.requests <= 4 * (-(-RETENTION // 97)) + 12  # bounded: a few requests per page at most
        stored_before = store.fill_count()

        # new fills push the oldest ones out of the venue's cap: perpvol keeps them, and verify still agrees
        for _ in range(40):
            hl.history.add_live_fill()
        [res2] = engine.sync(days=730)
        assert res2.ok, res2.error
        assert store.fill_count() >= stored_before + 40
        assert complete_from(store)["hyperliquid"] == start  # history only grows: it never moves later
        check = verify_account(store, vault, "hl", connector_options=OPTIONS)
        assert check.ok, check.summary()
        assert sum(w.unserved for w in check.windows) >= 40  # the fills the venue dropped, kept and named
    finally:
        engine.close()
        store.close()


def test_an_address_with_no_fills_is_told_about_api_wallets(settings, hl) -> None:
    store = Store(settings.database_url)
    vault = Vault.open(settings, store)
    empty = HyperliquidAddress(address="0x" + "ab" * 20)  # no fills at all (reads as an unknown address)
    store.add_account("nobody", "hyperliquid", hl.base_url,
                      vault.encrypt(empty, label="nobody", base_url=hl.base_url), empty.hint)  # fmt: skip
    engine = SyncEngine(store, vault, EventBus(), connector_options=OPTIONS)
    try:
        [res] = engine.sync(days=30)
        text = (res.error or "") + " " + (res.coverage or "")
        assert "API wallet" in text, text
    finally:
        engine.close()
        store.close()

