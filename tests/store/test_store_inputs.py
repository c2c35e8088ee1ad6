"""Sync state is written only from checked values and read without ever blocking other accounts; a fill that
arrives with a stored identity but other content is reported, an identical one stays silent. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
import sqlalchemy as sa

from perpvol_core import bounds
from perpvol_core.exchanges import classify
from perpvol_core.fill import Fill
from perpvol_core.services.status import account_statuses
from perpvol_core.store import Store, SyncUpdate, conflicts

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@pytest.fixture
def store(db_url: str):
    s = Store(db_url)
    yield s
    s.close()


def _fill(fill_id: str, **changes) -> Fill:
    base = Fill(exchange="woox", fill_id=fill_id, fill_type="FILL", market="PERP_BTC_USDT", side="BUY",
                liquidity="MAKER", price=Decimal("100.5"), size=Decimal("2"), fee=Decimal("0.01"), fee_asset="USDT",
                ts_ms=T0 + 1000)  # fmt: skip
    return classify(dataclasses.replace(base, **changes))


def _dump(store: Store) -> list[tuple]:
    with store._engine.connect() as conn:  # the rows exactly as stored
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM sync_state ORDER BY account_id"))]


def _edit(store: Store, sql: str, **params) -> None:
    with store._engine.begin() as conn:  # a hand edit, as a user with a SQL shell would make it
        conn.execute(sa.text(sql), params)


BAD_FIELDS = [
        {"covered_from_ms": -8_640_000_000_000_000_000},  # what `sync --days 10**11` stored
        {"covered_from_ms": T0 - 800_000 * 86_400_000},  # what `sync --days 800000` stored
        {"covered_to_ms": 10**15},
        {"covered_from_ms": T0 + 10, "covered_to_ms": T0},
        {"progress": 2.0},
        {"progress": float("nan")},
        {"fills_seen": -3},
        {"last_success_ms": 0},
        {"cursor": {"runs": [{"start": 5, "end": T0, "kind": "back"}]}},
        {"cursor": {"runs": [{"start": T0, "end": T0 + 1, "kind": "sideways"}]}},
        {"cursor": {"runs": [], "days": 800_000}},
        {"cursor": {"runs": [{"start": T0, "end": T0 + 1, "kind": "back"}] * 17}},
        {"cursor": "not an object"},
]


def test_sync_state_written_only_from_checked_values(store: Store) -> None:
    acc = store.add_account("a", "woox", None, b"blob", "hint")
    store.update_sync_state(acc.id, SyncUpdate(covered_from_ms=T0, covered_to_ms=T0 + 5, progress=0.5))
    before = _dump(store)
    for fields in BAD_FIELDS:
        with pytest.raises(bounds.InputError):
            store.update_sync_state(acc.id, SyncUpdate(**fields))
        with pytest.raises(bounds.InputError):  # inside the ingest: the fills of the page are not stored either
            store.ingest_fills(acc.id, [_fill("f1")], sync_update=SyncUpdate(**fields))
        assert _dump(store) == before and store.fill_count(acc.id) == 0, fields
    # an ETA is an estimate the sync computed: one beyond a year (or not a number) is stored as unknown
    for eta in (1e30, float("inf"), float("nan"), -1.0):
        assert store.update_sync_state(acc.id, SyncUpdate(eta_s=eta)).eta_s is None


HAND_EDITS = [
        ("UPDATE sync_state SET covered_from_ms = -8640000000000000000 WHERE account_id = :a", "covered_from_ms"),
        ("UPDATE sync_state SET covered_to_ms = 9000000000000000000 WHERE account_id = :a", "covered_to_ms"),
        ("UPDATE sync_state SET cursor = '{not json' WHERE account_id = :a", "not valid JSON"),
        ("UPDATE sync_state SET cursor = '[1, 2]' WHERE account_id = :a", "cursor"),
        ("UPDATE sync_state SET progress = 7 WHERE account_id = :a", "progress"),
        ("UPDATE sync_state SET last_success_ms = -1 WHERE account_id = :a", "last_success_ms"),
]


def test_an_unreadable_state_fails_only_its_own_account(store: Store) -> None:
    bad = store.add_account("bad", "woox", None, b"blob", "hint")
    good = store.add_account("good", "paradex", None, b"blob", "hint")
    for acc in (bad, good):
        store.ingest_fills(acc.id, [_fill(f"{acc.label}-1")])
    for sql, why in HAND_EDITS:
        for acc in (bad, good):
            store.update_sync_state(acc.id, SyncUpdate(covered_from_ms=T0, covered_to_ms=T0 + 86_400_000, progress=1.0,
                                                    last_success_ms=T0 + 86_400_000, cursor=None))  # fmt: skip
        _edit(store, sql, a=bad.id)
        _check_only_bad_fails(store, bad, why)


def _check_only_bad_fails(store: Store, bad, why: str) -> None:
    state = store.get_sync_state(bad.id)
    assert state.unreadable and why in state.unreadable and "next sync" in state.unreadable
    assert state.covered_from_ms is None and state.cursor is None
    views = {v.label: v for v in account_statuses(store)}  # every account listed; only `bad` in error
    assert views["bad"].status == "error" and why in views["bad"].last_error and views["bad"].fills == 1
    assert views["good"].status != "error" and views["good"].last_error is None
    assert views["good"].covered_from_ms == T0 and "complete from 2025-01-01" in views["good"].coverage
    # the state is rewritten from checked values (what the sync does when it starts that account over)
    from perpvol_core.store.syncstate import START_OVER

    assert store.update_sync_state(bad.id, START_OVER).unreadable is None


def test_a_fill_with_a_stored_id_and_other_content_is_reported_not_swallowed(store: Store) -> None:
    acc = store.add_account("a", "woox", None, b"blob", "hint")
    other = store.add_account("b", "woox", None, b"blob2", "hint")
    assert store.ingest_fills(acc.id, [_fill("f1"), _fill("f2")]) == 2
    assert store.ingest_fills(acc.id, [_fill("f1"), _fill("f2")]) == 0  # identical: silent
    assert conflicts.warning(store, acc.id) is None
    views = {v.label: v for v in account_statuses(store)}
    assert views["a"].last_error is None

    # the same identity with another price and time: not stored over the first, but reported with its id
    assert store.ingest_fills(acc.id, [_fill("f2", price=Decimal("101"), ts_ms=T0 + 5000), _fill("f3")]) == 1
    text = conflicts.warning(store, acc.id)
    assert text is not None and "1 fill(s)" in text and "f2 (price/ts_ms)" in text
    assert store.fills_frame(account_id=acc.id).filter(fill_id="f2")["price"].to_list() == [Decimal("100.5")]
    # two rows of one page with one identity and different content: the second is reported too
    assert store.ingest_fills(acc.id, [_fill("f4"), _fill("f4", side="SELL")]) == 1
    text = conflicts.warning(store, acc.id)
    assert "2 fill(s)" in text and "f4 (side)" in text
    views = {v.label: v for v in account_statuses(store)}
    assert "f2" in views["a"].last_error and views["b"].last_error is None  # per account
    assert conflicts.warning(store, other.id) is None
    # a number equal in value is the same fill (100.50 == 100.5)
    assert store.ingest_fills(acc.id, [_fill("f1", price=Decimal("100.50"))]) == 0
    assert "2 fill(s)" in conflicts.warning(store, acc.id)
    store.remove_account("a")
    assert store.get_meta(conflicts.meta_key(acc.id)) is None
