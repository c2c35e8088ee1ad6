"""Hyperliquid live through the real worker and live feed, under the stream's open readings (F18, F19): a snapshot
of the newest 2000 fills or an empty one, an idle timer that only a ping resets, and a server that drops every
connection after a while. Fills keep arriving exactly once, whatever the snapshot held and however often the
connection is dropped (each reconnection reads the gap over REST).

Real simulator, SQLite store, vault, worker and feed; waits are bounded (they fail after the deadline).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from perpvol_core.analytics import volume
from perpvol_core.config import Settings
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.stream import HyperliquidStream
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.live import LIVE, LiveFeed
from perpvol_core.services.worker import Worker
from perpvol_core.store import Store
from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history
from tests.services.test_live import wait_until

OPTIONS = {"hyperliquid": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0,
                           "rate_limits": {"info": []}}}  # fmt: skip


@pytest.mark.parametrize("snapshot_depth", [2000, 0], ids=["snapshot-2000", "snapshot-empty"])
def test_fills_arrive_once_across_forced_disconnects_with_a_ping_only_idle_timer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot_depth: int
) -> None:
    # the venue's 60 s idle close and 50 s ping, scaled down: 1.5 s, reset only by a ping sent every 0.4 s;
    # and every connection dropped after 2.5 s
    monkeypatch.setattr(HyperliquidStream, "heartbeat_s", 0.4)
    sim = HyperliquidSim(hyperliquid_history(13, 150, days=30), weight_limit=10**9, snapshot_depth=snapshot_depth,
                         idle_timeout_s=1.5, idle_reset="ping", max_connection_s=2.5)  # fmt: skip
    sim.start()
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}",
                        api_token=Secret(secrets.token_urlsafe(24)))  # fmt: skip
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    creds = HyperliquidAddress(address=sim.address)
    store.add_account("hl", "hyperliquid", sim.base_url, vault.encrypt(creds, label="hl", base_url=sim.base_url),
                      creds.hint)  # fmt: skip
    worker = Worker(settings, store=store, vault=vault, interval_s=3600, days=40, connector_options=OPTIONS)
    bus = EventBus()
    worker.engine.bus = bus
    try:
        worker.run_once()  # the backfill, before the stream starts
        feed = LiveFeed(store, vault, bus=bus, sync_now=worker.sync_now, fallback_interval_s=0.5,
                        account_poll_s=0.5, backoff_initial_s=0.2, backoff_max_s=1.0, auth_retry_s=60)  # fmt: skip
        worker.add_service(feed)
        worker.start()

        def state() -> dict:
            return next((s for s in feed.status()["streams"] if s["label"] == "hl"), {"state": None, "connects": 0})

        wait_until(lambda: state()["state"] == LIVE, 20, "the stream to go live")
        account = store.get_account("hl")
        for i in range(3):  # a fill, then the connection is dropped, then the next fill: three times
            connects = state()["connects"]
            sim.history.add_live_fill(market="ETH")
            wait_until(lambda: store.fill_count(account.id) == len(sim.history.fills), 10, f"live fill {i}")
            wait_until(lambda c=connects: state()["connects"] > c, 10, "a forced disconnection and reconnection")
        wait_until(lambda: state()["state"] == LIVE, 10, "the stream live again")
        assert store.fill_count(account.id) == len(sim.served_fills())  # each once
        assert volume.summary(store)["totals"]["all"] == sim.history.expected_total()
        assert state()["fills_received"] >= 1  # some came through the stream, not only through REST
    finally:
        worker.stop()
        sim.stop()
        store.close()
