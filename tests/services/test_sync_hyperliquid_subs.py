"""A Hyperliquid master and its sub-account added side by side, on SQLite and PostgreSQL (fork F12).

Whether the master's fills include its sub-accounts' is not documented: under "no" the two addresses hold
different fills, under "yes" every sub-account fill comes back twice, once per address. Either way the sum
over both accounts is the master's own volume plus the sub-account's, never the sub-account's twice: the
same fill (same ``tid:oid``) stored under two accounts counts once, also when both are stored at the same
moment (the engine syncs accounts concurrently; the concurrent case is forced with a barrier below).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from perpvol_core.analytics.volume import daily_rows
from perpvol_core.exchanges import classify_all
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.rest import HyperliquidConnector
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store
from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history

FAST = {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0, "rate_limits": {"info": []}}
OPTIONS = {"hyperliquid": FAST}


@pytest.fixture(scope="module")
def hl():
    now = int(time.time() * 1000)
    sim = HyperliquidSim(hyperliquid_history(41, 800, now_ms=now, days=60), sub_accounts=1, weight_limit=10**9,
                         page_cap=120)  # fmt: skip
    sim.start()
    yield sim
    sim.stop()


def _truth(sim: HyperliquidSim) -> dict[str, tuple]:
    """Counted volume per day of the master's own fills plus the sub-account's (the simulator's own sums)."""
    both = sim.served_fills() + sim.served_fills(sim.sub_addresses[0])
    return {d: (t["volume_usd"], t["maker_usd"], t["taker_usd"], t["fills"])
            for d, t in sim.history.expected_daily(both).items()}  # fmt: skip


def _ours(store: Store) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for r in daily_rows(store, exchange="hyperliquid"):
        day = r["date"].isoformat() if isinstance(r["date"], date) else r["date"]
        out[day] = (Decimal(r["volume_usd"]), Decimal(r["maker_usd"]), Decimal(r["taker_usd"]), r["fills"])
    return out


def _add(store: Store, vault: Vault, label: str, address: str, base_url: str) -> None:
    creds = HyperliquidAddress(address=address)
    store.add_account(label, "hyperliquid", base_url, vault.encrypt(creds, label=label, base_url=base_url),
                      creds.hint)  # fmt: skip


@pytest.mark.parametrize("includes_subs", [False, True], ids=["master-own-fills", "master-includes-subs"])
def test_master_and_sub_synced_together_count_each_fill_once(settings, hl, includes_subs) -> None:
    hl.configure(master_includes_subs=includes_subs)
    store = Store(settings.database_url)
    vault = Vault.open(settings, store)
    _add(store, vault, "master", hl.address, hl.base_url)
    _add(store, vault, "sub", hl.sub_addresses[0], hl.base_url)
    engine = SyncEngine(store, vault, EventBus(), connector_options=OPTIONS)
    try:
        results = engine.sync(days=90)  # both accounts at once, on two threads
        assert all(r.ok for r in results), [r.error for r in results]
        master = store.get_account("master")
        sub_fills = len(hl.served_fills(hl.sub_addresses[0]))
        stored = store.fill_counts()
        assert stored[master.id] == len(hl.served_fills()) + (sub_fills if includes_subs else 0)
        assert _ours(store) == _truth(hl)
    finally:
        engine.close()
        store.close()
        hl.configure(master_includes_subs=False)


def test_the_same_fills_stored_for_two_accounts_at_the_same_moment_count_once(settings, hl) -> None:
    """The race the engine's threads can run into, forced: both accounts store the same pages at once."""
    hl.configure(master_includes_subs=True)
    store = Store(settings.database_url)
    vault = Vault.open(settings, store)
    try:
        _add(store, vault, "master", hl.address, hl.base_url)
        _add(store, vault, "sub", hl.sub_addresses[0], hl.base_url)
        ids = {a.label: a.id for a in store.list_accounts()}
        conn = HyperliquidConnector(HyperliquidAddress(address=hl.sub_addresses[0]), hl.base_url, **FAST)
        h = hl.history
        fills = classify_all(f for p in conn.iter_fill_pages(h.start_ms, h.now_ms) for f in p.fills)
        pages = [fills[i:i + 8] for i in range(0, len(fills), 8)]
        assert len(pages) >= 5
        errors: list[BaseException] = []
        for page in pages:
            barrier = threading.Barrier(2)

            def ingest(label: str, fills: list = page, gate: threading.Barrier = barrier) -> None:
                try:
                    gate.wait(5)
                    store.ingest_fills(ids[label], fills)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=ingest, args=(label,)) for label in ("master", "sub")]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        assert not errors, errors
        sub = hl.served_fills(hl.sub_addresses[0])
        counted = Counter()
        for r in daily_rows(store, exchange="hyperliquid"):
            counted["fills"] += r["fills"]
            counted["volume"] += Decimal(r["volume_usd"])
        truth = hl.history.expected_daily(sub)
        assert counted["fills"] == sum(t["fills"] for t in truth.values())
        assert counted["volume"] == sum(t["volume_usd"] for t in truth.values())
    finally:
        store.close()
        hl.configure(master_includes_subs=False)
