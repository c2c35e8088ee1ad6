"""FrozenStore answers the volume queries exactly as the store it was read from (both databases)."""

from __future__ import annotations

from datetime import date

from perpvol_app.ui.snapshot import FrozenStore
from perpvol_core.analytics import volume
from perpvol_core.store import Store
from tests.store.test_store import T0, make_fills


def test_frozen_store_matches_the_store(db_url: str) -> None:
    store = Store(db_url)
    try:
        a = store.add_account("a", "woox", None, b"x", "h").id
        b = store.add_account("b", "paradex", None, b"y", "h").id
        store.ingest_fills(a, make_fills(41, 300, days=20))
        store.ingest_fills(b, make_fills(42, 200, days=20))
        frozen = FrozenStore.of(store)
        now = T0 + 15 * 86_400_000 + 12_345
        assert volume.summary(frozen, now_ms=now) == volume.summary(store, now_ms=now)
        assert volume.daily_volume(frozen).equals(volume.daily_volume(store))
        assert volume.by_market(frozen, top_n=None).equals(volume.by_market(store, top_n=None))
        assert volume.by_liquidity(frozen).equals(volume.by_liquidity(store))
        rollups = store.rollups_frame().sort(["day_ms", "exchange", "market", "liquidity", "fill_type", "account_id"])
        mine = frozen.rollups_frame().sort(["day_ms", "exchange", "market", "liquidity", "fill_type", "account_id"])
        assert mine.select(rollups.columns).equals(rollups)
        first, last = volume.data_bounds(store)
        assert volume.range_report(frozen, first, last) == volume.range_report(store, first, last)
        # later fills do not reach the snapshot
        store.ingest_fills(a, make_fills(43, 50, days=20, start_ms=T0 + 30 * 86_400_000))
        assert frozen.fills_frame().height == 500 and store.fill_count() == 550
        assert volume.range_report(frozen, first, date(2100, 1, 1))["totals"]["fills"] <= 500
    finally:
        store.close()
