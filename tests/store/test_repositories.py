"""The store's repositories on their own (SQLite and PostgreSQL): a typed sync update writes only what it
names, the facts a connector is given match the fills stored, the data version moves with the fills, embed
tokens and account removal; every store module stays under 400 lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from perpvol_core.store import Store, SyncUpdate
from perpvol_core.store.db import Database
from perpvol_core.store.embed import EmbedTokenRepository
from perpvol_core.store.errors import AccountNotFound, StoreError
from perpvol_core.store.syncstate import START_OVER, UNSET
from tests.store.test_store import T0, make_fills


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(db_url)
    yield s
    s.close()


def test_a_sync_update_writes_only_the_fields_it_names(store: Store) -> None:
    acc = store.accounts.add("a", "woox", None, b"blob", "hint")
    repo = store.sync_states
    state = repo.update(acc.id, SyncUpdate(covered_from_ms=T0, covered_to_ms=T0 + 10, progress=0.25, fills_seen=7))
    assert (state.covered_from_ms, state.covered_to_ms, state.progress, state.fills_seen) == (T0, T0 + 10, 0.25, 7)
    state = repo.update(acc.id, SyncUpdate(progress=0.5, last_error="token=abcdef123456"))
    assert state.progress == 0.5 and state.covered_from_ms == T0 and state.fills_seen == 7  # the rest is kept
    assert "abcdef123456" not in state.last_error
    state = repo.update(acc.id, SyncUpdate(last_error=None, covered_to_ms=None))  # None clears
    assert state.last_error is None and state.covered_to_ms is None and state.covered_from_ms == T0
    assert SyncUpdate(progress=1.0).values() == {"progress": 1.0} and SyncUpdate().values() == {}
    assert SyncUpdate().cursor is UNSET
    state = repo.update(acc.id, START_OVER)
    assert state.covered_from_ms is None and state.progress == 0.0 and state.fills_seen == 0
    with pytest.raises(TypeError):
        repo.update(acc.id, {"progress": 1.0})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SyncUpdate(bogus=1)  # type: ignore[call-arg]
    with pytest.raises(AccountNotFound):
        repo.update(acc.id + 999, SyncUpdate(progress=0.1))


def test_the_facts_a_connector_is_given_match_the_stored_fills(store: Store) -> None:
    a = store.accounts.add("a", "woox", None, b"blob", "hint").id
    b = store.accounts.add("b", "woox", None, b"blob", "hint").id
    assert store.fill_facts(a) == (frozenset(), 0, None)
    fills = make_fills(21, 60)
    version = store.meta.data_version()
    assert store.fills.ingest(a, fills, SyncUpdate(progress=0.5)) == 60
    assert store.meta.data_version() != version and store.sync_states.get(a).progress == 0.5
    markets, count, last = store.fill_facts(a)
    assert markets == {f.market for f in fills} and count == 60 and last == max(f.ts_ms for f in fills)
    assert store.fill_facts(b) == (frozenset(), 0, None)
    version = store.meta.data_version()
    assert store.fills.ingest(a, fills) == 0 and store.meta.data_version() == version  # nothing new: same version
    store.accounts.remove("a")
    assert store.meta.data_version() != version and store.fills.count() == 0 and store.rollups.frame().height == 0
    assert store.sync_states.get(a).progress == 0.0  # the sync state went with the account


def test_embed_tokens_and_meta(store: Store) -> None:
    tokens = EmbedTokenRepository(store.db)
    first = tokens.add("site", "hash-1")
    with pytest.raises(StoreError):
        tokens.add("again", "hash-1")
    assert tokens.find("hash-1") == first and tokens.find("hash-2") is None
    assert tokens.revoke(first.id) and not tokens.revoke(first.id) and tokens.find("hash-1") is None
    assert [t.id for t in tokens.all()] == [first.id] and tokens.all(include_revoked=False) == []
    assert store.meta.set_if_absent("k", "one") == "one" and store.meta.set_if_absent("k", "two") == "one"
    store.meta.set("k", "three")
    assert store.meta.get("k") == "three" and store.meta.get("missing") is None


def test_an_unsupported_database_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="unsupported database URL"):
        Database("mysql://u@127.0.0.1/x")


def test_every_store_module_is_under_400_lines() -> None:
    folder = Path(__file__).resolve().parents[2] / "perpvol_core" / "store"
    sizes = {p.name: len(p.read_text().splitlines()) for p in folder.glob("*.py")}
    assert "store.py" in sizes and "fills.py" in sizes
    assert {name: n for name, n in sizes.items() if n >= 400} == {}
