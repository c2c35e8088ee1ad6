"""One exchange fill stored under two labels (accounts added twice before identities were recorded) counts
once in every total, also after either label is removed; on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpvol_core.analytics import volume
from perpvol_core.config import Settings
from perpvol_core.fill import Fill
from perpvol_core.store import Store
from tests.store.test_store import T0, make_fills

END = T0 + 10**12


def _truth(fills: list[Fill]) -> dict[str, Decimal]:
    """Counted notional per exchange of the distinct fills (exchange, fill_id, fill_type)."""
    unique = {(f.exchange, f.fill_id, f.fill_type): f for f in fills}
    out: dict[str, Decimal] = {}
    for f in unique.values():
        if f.counted:
            out[f.exchange] = out.get(f.exchange, Decimal(0)) + f.price * f.size
    return out


def _totals(store: Store) -> tuple[dict[str, Decimal], dict[str, Decimal], dict[str, Decimal], int]:
    """The totals every surface reads: rollups (daily, all time), the fill-level window, the daily fill count."""
    daily = volume.daily_volume(store)
    by_rollups: dict[str, Decimal] = {}
    for row in daily.iter_rows(named=True):
        by_rollups[row["exchange"]] = by_rollups.get(row["exchange"], Decimal(0)) + row["volume_usd"]
    all_time = {ex: v["all"] for ex, v in volume.summary(store, now_ms=END)["by_exchange"].items() if v["all"]}
    window = store.counted_notional_between(0, END)
    return by_rollups, {k: Decimal(v) for k, v in all_time.items()}, window, int(daily["fills"].sum() or 0)


@pytest.mark.parametrize("remove", [None, "first", "second"])
def test_a_fill_under_two_labels_counts_once(settings: Settings, remove: str | None) -> None:
    shared = make_fills(5, 120, prefix="s")
    only_first = make_fills(6, 60, prefix="a")
    only_second = make_fills(7, 40, prefix="b")
    store = Store.open(settings)
    try:
        first = store.add_account("first", "woox", None, b"x", "h")
        second = store.add_account("second", "woox", None, b"x", "h")
        store.ingest_fills(first.id, shared[:80] + only_first)
        store.ingest_fills(second.id, shared + only_second)  # 80 already held by "first", 40 new to both
        store.ingest_fills(first.id, shared[80:])  # now held by both; "second" stored them first
        assert store.fill_counts() == {first.id: 180, second.id: 160}  # each label keeps all its fills
        everything = shared + only_first + only_second
        kept = everything
        if remove == "first":
            store.remove_account("first")
            kept = shared + only_second
        elif remove == "second":
            store.remove_account("second")
            kept = shared + only_first
        truth = _truth(kept)
        by_rollups, all_time, window, fills = _totals(store)
        assert by_rollups == truth
        assert all_time == truth
        assert window == truth
        distinct_counted = {(f.exchange, f.fill_id, f.fill_type) for f in kept if f.counted}
        assert fills == len(distinct_counted)
    finally:
        store.close()
