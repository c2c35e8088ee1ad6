"""A venue that serves only its newest fills (``FillPage.history_starts_ms``): the real sync engine and store
(SQLite and PostgreSQL) keep every fill ever seen, record ``complete_from`` at the first whole day the venue
served, never move it later as the cap moves on, never plan the unservable range again (bounded requests),
and the self-check does not call kept fills "extra". The venue is an in-process connector over a list (its
HTTP simulator is the venue package's own test); everything after the connector is production code."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES, Connector, FillPage
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.status import account_statuses
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store
from perpvol_core.timeutil import date_of_ms
from tests.store.test_store import T0

VENUE = next(iter(VENUES))
PERP = "PERP_BTC_USDT"  # classified by the venue's own rules; counted or not, every fill is kept
RETAIN = 5  # the venue serves only its newest RETAIN fills
HOUR = 3_600_000


class CappedVenue(Connector):
    """Serves the newest ``RETAIN`` fills of ``fills`` in pages of 2, says where its history starts, and reports
    a window done only down to that start (it cannot vouch for older time)."""

    exchange = VENUE
    pages_served = 0

    def __init__(self, fills: list[Fill]) -> None:
        super().__init__(None, "http://127.0.0.1:9")  # never contacted
        self.fills = fills

    def validate(self) -> str:
        return "capped venue"

    def iter_fill_pages(self, start_ms: int, end_ms: int, position: dict | None = None) -> Iterator[FillPage]:
        served = sorted(self.fills, key=lambda f: f.ts_ms)[-RETAIN:]
        cap = served[0].ts_ms if served else end_ms
        rows = [f for f in served if start_ms <= f.ts_ms <= end_ms]
        for i in range(0, max(len(rows), 1), 2):
            CappedVenue.pages_served += 1
            last = i + 2 >= len(rows)
            done = max(start_ms, cap) if last else None
            yield FillPage(rows[i:i + 2], None if last else {"i": i + 2}, window_done_ms=done, history_starts_ms=cap)


def _fill(i: int, ts: int) -> Fill:
    return Fill(VENUE, f"f{i}", "FILL", PERP, "BUY", "TAKER", Decimal("100"), Decimal("1"), Decimal("0.1"), "USDT", ts)


def test_a_capped_venue_is_complete_from_its_first_served_day_and_keeps_every_fill(settings: Settings) -> None:
    now = T0 + 40 * MS_PER_DAY
    fills = [_fill(i, T0 + (10 + i) * MS_PER_DAY + 5 * HOUR) for i in range(8)]  # one a day from day 10
    venue = CappedVenue(fills)
    clock = {"now": now}
    store = Store(settings.database_url)
    try:
        vault = Vault.open(settings, store)
        store.add_account("capped", VENUE, None, b"not used", "h")
        engine = SyncEngine(store, vault, EventBus(), clock=lambda: clock["now"])
        engine._connector = lambda account: venue  # type: ignore[method-assign]  # the in-process venue
        [first] = engine.sync(days=30)
        assert first.ok, first.error
        acc = store.get_account("capped")
        served_from = fills[-RETAIN].ts_ms
        want = served_from - served_from % MS_PER_DAY + MS_PER_DAY  # the first whole day the venue served
        state = store.get_sync_state(acc.id)
        assert state.complete_from_ms == want
        assert store.fill_count(acc.id) == RETAIN
        [status] = account_statuses(store)
        assert status.complete_from == date_of_ms(want).isoformat()

        # the venue moves on: three new fills push three old ones out of what it serves
        fills += [_fill(8 + i, now + (i + 1) * HOUR) for i in range(3)]
        clock["now"] = now + 6 * HOUR
        CappedVenue.pages_served = 0
        [second] = engine.sync(days=30)
        assert second.ok, second.error
        state = store.get_sync_state(acc.id)
        assert state.complete_from_ms == want  # the fills seen before are kept: still complete from there
        assert store.fill_count(acc.id) == RETAIN + 3  # every fill ever seen
        assert CappedVenue.pages_served <= 4  # the unservable range is not asked for again
        [third] = engine.sync(days=30)  # nothing new: a few pages, no loop
        assert third.ok and store.fill_count(acc.id) == RETAIN + 3
        engine.close()
    finally:
        store.close()

