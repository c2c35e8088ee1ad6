"""The dashboard built ahead for the next session (``perpvol_app.ui.spare``), on both databases.

A spare is taken only while the store is as it was when it was built; what moves with the clock alone (the 24h
window) is read again when a session takes it; at most one is built at a time. The expected 24h figures are
the hand-set notionals of the fills below, not a computation of the code under test.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from perpvol_app.ui.components.context import AppContext
from perpvol_app.ui.dashboard import Dashboard, spare_of
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES, classify_all
from perpvol_core.fill import Fill
from perpvol_core.store import Store
from perpvol_sim.demo import DEMO_CREDENTIALS
from tests.analytics.test_coverage import _perp_market

VENUE = next(iter(VENUES))
DAY_MS = 86_400_000


def _fill(n: int, ts_ms: int, notional: str) -> Fill:
    return Fill(exchange=VENUE, fill_id=f"spare-{n}", fill_type="FILL", market=_perp_market(VENUE), side="BUY",
                liquidity="TAKER", price=Decimal(notional), size=Decimal(1), fee=Decimal(0), fee_asset="USDC",
                ts_ms=ts_ms)  # fmt: skip


def _built(spare: Any, count: int) -> None:
    deadline = time.monotonic() + 60
    while spare.stats["built"] < count or spare._building:
        assert time.monotonic() < deadline, f"no spare built: {spare.stats}"
        time.sleep(0.05)


def test_spare_is_current_or_dropped_and_reads_the_clock_again(tmp_path: Path, db_url: str) -> None:
    store = Store(db_url)
    try:
        account = store.add_account("spare", VENUE, None, DEMO_CREDENTIALS, "test (no credentials)")
        now = int(time.time() * 1000)
        # the first fill leaves the 24h window 4 s from now; the second stays in it
        store.ingest_fills(account.id, classify_all([_fill(1, now - DAY_MS + 4_000, "100.25"),
                                                    _fill(2, now - 3_600_000, "20.50")]))  # fmt: skip
        ctx = AppContext(settings=Settings(home=tmp_path, database_url=db_url), store=store)
        spare = spare_of(ctx)
        assert spare is spare_of(ctx)  # one per context
        assert spare.take() is None  # nothing built yet

        spare.refill()
        spare.refill()  # bounded: one spare, one build at a time
        _built(spare, 1)
        time.sleep(0.3)
        assert spare.stats["built"] == 1

        time.sleep(max(0.0, (now + 5_500 - time.time() * 1000) / 1000))  # the first fill is now out of the window
        taken = spare.take()
        assert isinstance(taken, Dashboard)
        assert spare.take() is None  # it was this caller's
        assert taken.summary["totals"]["24h"] == Decimal("120.75")  # as built
        taken.freshen()
        assert taken.summary["totals"]["24h"] == Decimal("20.50")  # as the session shows it
        assert taken.summary["totals"]["all"] == Decimal("120.75")

        spare.refill()
        _built(spare, 2)
        store.ingest_fills(account.id, classify_all([_fill(3, now - 60_000, "7")]))  # the data changed since
        assert spare.take() is None
        assert spare.stats == {"taken": 1, "dropped": 1, "built": 2}
        fresh = Dashboard(ctx, defer=True)  # what the session builds instead shows the new fill
        assert fresh.summary["totals"]["24h"] == Decimal("27.50")
    finally:
        store.close()
