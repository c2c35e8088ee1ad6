"""A restarted demo: every registered venue's simulator, rebuilt from the same seed and "now", serves the live
fills of the previous run again (its journal in the demo home), so perpvol's stored fills stay what the venue
lists: a full verify agrees after the restart, and live fills keep arriving with new ids."""

from __future__ import annotations

import time

import pytest

from perpvol_app.serve import DemoVenues, upsert_account
from perpvol_core.exchanges import VENUES
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.services.verify import verify_account
from perpvol_core.store import Store
from perpvol_sim.server import free_port


def _sync_all(store, vault, venues: DemoVenues) -> None:
    for req in venues.requests():  # the demo's own account path (added, or pointed at this run's simulator)
        upsert_account(store, vault, req)
    engine = SyncEngine(store, vault, EventBus())
    try:
        for res in engine.sync(days=30):
            assert res.ok, f"{res.label}: {res.error}"
    finally:
        engine.close()


@pytest.mark.parametrize("runs", [2])
def test_live_fills_survive_a_restart_and_verify_agrees(sqlite_settings, runs: int) -> None:
    settings = sqlite_settings
    now_ms = int(time.time() * 1000) - 900_000  # live fills then fall before verify's newest-minutes margin
    store = Store(settings.database_url)
    vault = Vault.open(settings, store)
    seen_ids: dict[str, set[str]] = {name: set() for name in VENUES}
    first_port = free_port()  # the same ports each run, as `make demo` uses: the accounts are kept, not re-added
    try:
        for run in range(runs):
            venues = DemoVenues(5, 60, now_ms, first_port=first_port, journal_dir=settings.home)
            if run:  # the previous run's live fills are served again
                assert all(venues.replayed[name] == 3 for name in VENUES), venues.replayed
            venues.start()
            try:
                for name, sim in venues.venues.items():
                    for _ in range(3):  # the first run's live fills lie in its backfill (the newest minutes are
                        # left out of verify); a later run's at "now", as the demo adds them
                        ts = sim.history.fills[-1].ts_ms + 60_000 if run == 0 else None
                        fill = sim.history.add_live_fill(ts_ms=ts)
                        assert fill.fill_id not in seen_ids[name], "a live id was issued twice"
                        seen_ids[name].add(fill.fill_id)
                _sync_all(store, vault, venues)
                for name in VENUES:
                    check = verify_account(store, vault, f"demo-{name}")
                    assert check.ok, f"run {run + 1}, {name}: {check.summary()}"
            finally:
                venues.stop()
    finally:
        store.close()
