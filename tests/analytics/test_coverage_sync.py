"""Coverage after a real sync of the retention-capped venue against its simulator (over HTTP), on SQLite and
PostgreSQL, through the core and ``perpvol volume --json``.

The simulator keeps 900 fills over 120 days and serves only the newest 300 (the venue's cap, 10,000 in
production). After the sync the account's ``complete_from`` is the first whole UTC day after the oldest fill
served (the simulator's truth, not our reading of it); "all time" is a lower bound with that day in its note;
the venue's own all-time perp volume is the simulator's ``portfolio`` ``perpAllTime`` figure, read here over
raw HTTP, and it is larger than what we could store.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from perpvol_core.analytics import coverage
from perpvol_core.exchanges import display_name
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store
from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history
from tests.cli.test_cli_foundation import make_env, run

RETENTION = 300
OPTIONS = {"hyperliquid": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0,
                           "rate_limits": {"info": []}, "retention_fills": RETENTION}}  # fmt: skip


@pytest.fixture
def hl():
    history = hyperliquid_history(41, 900, now_ms=int(time.time() * 1000), days=120)
    sim = HyperliquidSim(history, retention_cap=RETENTION, weight_limit=10**9)
    sim.start()
    yield sim
    sim.stop()


def _portfolio_perp_all_time(sim: HyperliquidSim) -> Decimal:
    """The simulator's own answer, read over HTTP without perpvol's parser."""
    periods = httpx.post(sim.info_url, json={"type": "portfolio", "user": sim.address}, timeout=10).json()
    return Decimal(str(dict(periods)["perpAllTime"]["vlm"]))


def test_a_capped_sync_reads_partial_with_the_venues_own_figure(settings, hl, tmp_path) -> None:
    store = Store(settings.database_url)
    vault = Vault.open(settings, store)
    creds = HyperliquidAddress(address=hl.address)
    store.add_account("hl", "hyperliquid", hl.base_url, vault.encrypt(creds, label="hl", base_url=hl.base_url),
                      creds.hint)  # fmt: skip
    try:
        [res] = SyncEngine(store, vault, EventBus(), connector_options=OPTIONS).sync(days=730)
        assert res.ok, res.error
        oldest = min(f.ts_ms for f in hl.served_fills())
        first_whole = datetime.fromtimestamp(-(-oldest // MS_PER_DAY) * MS_PER_DAY / 1000, tz=UTC).date()
        venue = coverage.venue_coverage(store)["hyperliquid"]
        assert venue.complete_from == first_whole
        assert venue.accounts[0].partial and venue.accounts[0].read_from is not None
        assert venue.accounts[0].read_from <= first_whole - timedelta(days=300)  # the sync read two years
        theirs = _portfolio_perp_all_time(hl)
        assert venue.reported_all_time == theirs and venue.ours_all_time < theirs
        now = int(time.time() * 1000)
        out = coverage.coverage_json(coverage.venue_coverage(store), now)
        note = f"partial: {display_name('hyperliquid')} not covered before {first_whole.isoformat()}"
        assert out["partial"]["all"] is True and out["note"]["all"] == note
        assert Decimal(out["venues"]["hyperliquid"]["reported_all_time"]) == theirs
        cli = run(make_env(tmp_path / "cli-home", settings.database_url), "volume", "--json")
        assert cli.returncode == 0, cli.stderr
        report = json.loads(cli.stdout)
        assert report["coverage"]["note"]["all"] == note
        assert Decimal(report["coverage"]["venues"]["hyperliquid"]["reported_all_time"]) == theirs
    finally:
        store.close()
