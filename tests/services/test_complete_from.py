"""``complete_from``: the first UTC day from which an account's stored history is complete. Computed by the sync
(the synced window's first whole day; with a retention cap, the first day at or after it; never later once
older fills are kept), shown by the status view, and marking the daily rows before it as not covered; the
store keeps a fill's builder fee apart. SQLite and PostgreSQL, real simulator."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from perpvol_core.analytics import volume
from perpvol_core.config import Settings
from perpvol_core.exchanges import classify
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.status import account_statuses
from perpvol_core.services.sync import SyncEngine, complete_from_after
from perpvol_core.store import Store, SyncUpdate
from perpvol_core.store import models as m
from perpvol_core.timeutil import date_of_ms
from perpvol_sim.history import History
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim
from tests.conftest import pinned_midday_ms
from tests.store.test_store import T0

NOW_MS = pinned_midday_ms()
D = MS_PER_DAY
H = 3_600_000


@pytest.mark.parametrize(
    ("before", "covered_from", "history_starts", "gap", "after"),
    [
        (None, None, None, False, None),  # nothing covered yet
        (None, T0 + 5 * H, None, False, T0 + D),  # rounded up to the next UTC midnight
        (None, T0, None, False, T0),  # a midnight is its own day
        (T0 + 3 * D, T0 + D + 1, None, False, T0 + 2 * D),  # a backfill going further back moves it earlier
        (T0 + D, T0 + 5 * D, None, False, T0 + D),  # never later
        (None, T0, T0 + 2 * D + 1, False, T0 + 3 * D),  # a retention cap: the first whole day the venue serves
        (T0 + 3 * D, T0, T0 + 9 * D, False, T0 + 3 * D),  # the cap moved on: the fills kept stay complete
        (T0 + 3 * D, T0, T0 + 9 * D + 1, True, T0 + 10 * D),  # fills lost between two syncs: from the cap on
    ],
)  # fmt: skip
def test_complete_from_rules(before, covered_from, history_starts, gap, after) -> None:
    assert complete_from_after(before, covered_from, history_starts, gap=gap) == after


def test_a_sync_records_the_first_day_of_its_window(settings: Settings) -> None:
    history = History("woox", 5, 120, now_ms=NOW_MS, days=30)
    sim = WooxSim(history, window_anchor_ms=history.now_ms)
    sim.start()
    store = Store(settings.database_url)
    try:
        vault = Vault.open(settings, store)
        creds = WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET))
        blob = vault.encrypt(creds, label="w", base_url=sim.base_url)
        store.add_account("w", "woox", sim.base_url, blob, creds.hint)
        [before] = account_statuses(store)
        assert before.complete_from is None and before.as_keys_json()["complete_from"] is None
        options = {"woox": {"max_attempts": 6, "backoff_s": 0.05, "timeout": 5.0}}
        engine = SyncEngine(store, vault, EventBus(), connector_options=options, clock=lambda: NOW_MS)
        [res] = engine.sync(days=20)
        assert res.ok, res.error
        state = store.get_sync_state(store.get_account("w").id)
        assert state.covered_from_ms is not None and state.covered_from_ms <= NOW_MS - 20 * D + 1000
        first = -(-state.covered_from_ms // D) * D  # the covered range's start, rounded up to a UTC day
        assert state.complete_from_ms == first
        [status] = account_statuses(store)
        assert status.complete_from == date_of_ms(first).isoformat() == status.as_keys_json()["complete_from"]
        [again] = engine.sync(days=20)  # an incremental sync keeps it
        assert again.ok and store.get_sync_state(store.get_account("w").id).complete_from_ms == first
        engine.close()
    finally:
        store.close()
        sim.stop()


def test_days_before_complete_from_are_not_covered(db_url: str) -> None:
    store = Store(db_url)
    try:
        a = store.add_account("a", "woox", None, b"x", "h").id
        b = store.add_account("b", "woox", None, b"y", "h").id
        fills = [classify(Fill("woox", f"f{i}", "FILL", "PERP_BTC_USDT", "BUY", "TAKER", Decimal("10"), Decimal("1"),
                               Decimal("0.01"), "USDT", T0 + i * D + H)) for i in range(6)]  # fmt: skip
        store.ingest_fills(a, fills)
        assert all(row["covered"] for row in volume.daily_rows(store))  # nothing recorded: nothing to say
        store.update_sync_state(a, SyncUpdate(complete_from_ms=T0 + 2 * D))
        # every account of the venue must be complete
        store.update_sync_state(b, SyncUpdate(complete_from_ms=T0 + 4 * D))
        assert volume.complete_from(store) == {"woox": date_of_ms(T0 + 4 * D)}
        rows = volume.daily_rows(store)
        assert [row["covered"] for row in rows] == [False] * 4 + [True] * 2
        assert [row["volume_usd"] for row in rows] == ["10"] * 6  # what is stored is still shown as it is
        assert volume.is_covered(volume.complete_from(store), "woox", date(2099, 1, 1))
    finally:
        store.close()


def test_the_builder_fee_is_kept_apart_exactly(db_url: str) -> None:
    store = Store(db_url)
    try:
        acc = store.add_account("a", "woox", None, b"x", "h").id
        fee = Decimal("-0.000000123456")
        with_fee = classify(Fill("woox", "1", "FILL", "PERP_BTC_USDT", "BUY", "TAKER", Decimal("10"), Decimal("1"),
                                 Decimal("0.01"), "USDT", T0, builder_fee=fee))  # fmt: skip
        without = classify(Fill("woox", "2", "FILL", "PERP_BTC_USDT", "BUY", "TAKER", Decimal("10"), Decimal("1"),
                                Decimal("0.01"), "USDT", T0))  # fmt: skip
        assert store.ingest_fills(acc, [with_fee, without]) == 2
        with store._engine.connect() as conn:
            rows = dict(conn.execute(sa.select(m.fills.c.fill_id, m.fills.c.builder_fee)).all())
        assert rows == {"1": fee, "2": None}
        unclassified = Fill("woox", "3", "FILL", "PERP_BTC_USDT", "BUY", "TAKER", Decimal("1"), Decimal("1"),
                            Decimal("0"), "USDT", T0)  # fmt: skip
        with pytest.raises(ValueError, match="not classified"):  # the venue's rules decide what counts
            store.ingest_fills(acc, [unclassified])
    finally:
        store.close()
