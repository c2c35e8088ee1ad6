"""A Paradex backfill through the sync engine takes the minimum pages and its coverage advances page by page
(on SQLite and PostgreSQL): every stated coverage is true when it is stated, and the self-check's requests
are counted apart."""

from __future__ import annotations

import math
import time
from typing import Any

from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store
from perpvol_sim.history import History
from perpvol_sim.paradex import ParadexSim

PAGE = 250
OPTIONS = {"paradex": {"max_attempts": 3, "backoff_s": 0.01, "timeout": 5.0, "page_size": PAGE}}


def test_backfill_at_the_page_bound_with_coverage_advancing(settings) -> None:
    history = History("paradex", 23, 2600, now_ms=int(time.time() * 1000))
    with ParadexSim(history) as sim:
        store = Store(settings.database_url)
        vault = Vault.open(settings, store)
        creds = ParadexTokenCredentials(token=Secret(sim.mint_read_only_token()))
        blob = vault.encrypt(creds, label="px", base_url=sim.api_url)
        acc = store.add_account("px", "paradex", sim.api_url, blob, creds.hint)
        bus = EventBus()
        claims: list[tuple[int, int]] = []  # (covered_from_ms stated, fills stored at that moment with ts >= it)

        def on_event(event: Any) -> None:
            if event.type == "sync_progress" and event.covered_from_ms is not None:
                since = event.covered_from_ms
                stored = store.fills_frame(start_ms=since, account_id=acc.id).height
                claims.append((since, stored))

        bus.subscribe(on_event)
        engine = SyncEngine(store, vault, bus, connector_options=OPTIONS, clock=lambda: history.now_ms)
        [res] = engine.sync()
        engine.close()
        assert res.ok, res.error
        pages = math.ceil(len(history.fills) / PAGE)
        assert res.requests == pages  # the backfill itself: the minimum
        assert sim.request_count["GET /v1/fills"] == pages + res.check.requests  # and the self-check
        # after the check, each of the venue's reports is read once: /v1/account/info, /v1/system/volume-tiers,
        # the volume series (/v1/account/history) and the subaccounts list (for the reconciliation's scope)
        reports = {k: n for k, n in sim.request_count.items() if k != "GET /v1/fills"}
        assert set(reports) == {"GET /v1/account/info", "GET /v1/system/volume-tiers", "GET /v1/account/history",
                                "GET /v1/account/subaccounts"}
        assert all(n == 1 for n in reports.values()), reports
        assert res.check_requests == res.check.requests + len(reports)
        # coverage moved back on (nearly) every page, and every statement was true when made
        assert len({c for c, _ in claims}) >= pages - 1
        froms = [c for c, _ in claims]
        assert froms == sorted(froms, reverse=True)
        for since, stored in claims:
            assert stored == sum(1 for f in history.fills if f.ts_ms >= since)
        store.close()
