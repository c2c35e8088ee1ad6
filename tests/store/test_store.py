"""Store on SQLite and PostgreSQL: accounts, exact money, idempotent ingest, rollups, concurrency."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import random
import stat
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES, classify, classify_all
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.security.redaction import Secret
from perpvol_core.store import AccountExists, AccountNotFound, Store, SyncUpdate

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
USD = {"USDT", "USDC", "USD"}
_MARKETS = {
    "woox": [("PERP_BTC_USDT", "FILL"), ("PERP_ETH_USDT", "FILL"), ("SPOT_BTC_USDT", "FILL")],
    "paradex": [
        ("BTC-USD-PERP", "FILL"),
        ("ETH-USD-PERP", "LIQUIDATION"),
        ("ETH-USD-PERP", "RPI"),
        ("BTC-USD-PERP", "SETTLE_MARKET"),
        ("BTC-USD-PERP", "UNWIND_TRANSFER"),
        ("BTC-USD-100000-C", "FILL"),
    ],
}
#: markets of a venue without its own rows above (the registry's venues are all drawn)
_ANY_VENUE = [("BTC", "FILL"), ("ETH-PERP", "FILL"), ("SOL/USDC", "FILL"), ("BTC-PERP", "LIQUIDATION")]


def _decimal(rng: random.Random, max_int: int, max_scale: int) -> Decimal:
    scale = rng.randint(0, max_scale)
    return Decimal(rng.randint(1, max_int * 10**scale)).scaleb(-scale)


def make_fills(seed: int, n: int, days: int = 40, start_ms: int = T0, prefix: str = "") -> list[Fill]:
    """Seeded fills over every venue of the registry: perps, spot/options, uncounted types, odd scales, non-USD
    fees, fills exactly at UTC midnight; classified by each venue's rules (``is_perp``, ``counted``)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        exchange = rng.choice(list(VENUES))
        market, fill_type = rng.choice(_MARKETS.get(exchange, _ANY_VENUE))
        ts = start_ms + rng.randrange(days * MS_PER_DAY)
        if i % 17 == 0:
            ts -= ts % MS_PER_DAY  # exactly midnight
        fee_asset = rng.choice(("USDT", "USDC", "WOO")) if exchange == "woox" else "USDC"
        out.append(
            Fill(
                exchange=exchange,
                fill_id=f"{prefix}{seed}-{i}",
                fill_type=fill_type,
                market=market,
                side=rng.choice(("BUY", "SELL")),
                liquidity=rng.choice(("MAKER", "TAKER")),
                price=_decimal(rng, 100_000, 8),
                size=_decimal(rng, 50, 9),
                fee=_decimal(rng, 20, 10) * rng.choice((1, -1)),
                fee_asset=fee_asset,
                ts_ms=ts,
            )
        )
    return classify_all(out)


def expected_rollups(fills: list[Fill]) -> dict[tuple, tuple[Decimal, Decimal, int]]:
    """Independent recomputation of the rollups from a list of fills (Decimal, no store code)."""
    acc: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    for f in fills:
        key = (f.exchange, f.ts_ms - f.ts_ms % MS_PER_DAY, f.market, f.liquidity, f.fill_type, f.counted)
        acc[key][0] += f.price * f.size
        acc[key][1] += f.fee if f.fee_asset in USD else Decimal(0)
        acc[key][2] += 1
    return {k: (v[0], v[1], v[2]) for k, v in acc.items()}


def stored_rollups(store: Store, account_id: int | None = None) -> dict[tuple, tuple[Decimal, Decimal, int]]:
    out = {}
    for r in store.rollups_frame(account_id=account_id).iter_rows(named=True):
        key = (r["exchange"], r["day_ms"], r["market"], r["liquidity"], r["fill_type"], r["counted"])
        assert key not in out
        out[key] = (r["notional"], r["fees"], r["fills"])
    return out


def rollups_from_fills_table(store: Store, account_id: int | None = None) -> dict[tuple, tuple[Decimal, Decimal, int]]:
    acc: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    for r in store.fills_frame(account_id=account_id).iter_rows(named=True):
        key = (r["exchange"], r["ts_ms"] - r["ts_ms"] % MS_PER_DAY, r["market"], r["liquidity"], r["fill_type"],
               r["counted"])  # fmt: skip
        acc[key][0] += r["notional"]
        acc[key][1] += r["fee"] if r["fee_asset"] in USD else Decimal(0)
        acc[key][2] += 1
    return {k: (v[0], v[1], v[2]) for k, v in acc.items()}


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(db_url)
    yield s
    s.close()


def _account(store: Store, label: str = "main") -> int:
    return store.add_account(label, "woox", None, b"\x00ciphertext", "key ••••abcd").id


def test_accounts_crud_and_errors(store: Store) -> None:
    acc = store.add_account("main", "woox", "http://127.0.0.1:1", b"blob-bytes", "key ••••abcd")
    assert acc.status == "new" and acc.credentials == b"blob-bytes"
    assert "blob-bytes" not in repr(acc) and "credentials" not in repr(acc)
    with pytest.raises(AccountExists):
        store.add_account("main", "paradex", None, b"x", "h")
    with pytest.raises(AccountNotFound):
        store.get_account("nope")
    for exchange in ("", "Not a venue", "x" * 21, "woox\n"):  # the store keeps names, the registry knows venues
        with pytest.raises(ValueError):
            store.add_account("bad", exchange, None, b"x", "h")
    store.replace_credentials("main", b"new-blob", "key ••••wxyz")
    got = store.get_account("main")
    assert got.credentials == b"new-blob" and got.hint == "key ••••wxyz" and got.base_url == "http://127.0.0.1:1"
    store.add_account("alt", "paradex", None, b"p", "token")
    assert [a.label for a in store.list_accounts()] == ["alt", "main"]


def test_set_status_redacts_error(store: Store) -> None:
    _account(store)
    leaked = Secret("sk_live_0123456789abcdef")
    store.set_status("main", "error", f"HTTP 401 for secret {leaked.reveal()} with Bearer abc.def.ghi")
    acc = store.get_account("main")
    assert acc.status == "error" and leaked.reveal() not in acc.last_error and "abc.def.ghi" not in acc.last_error
    store.set_status("main", "ok")
    assert store.get_account("main").last_error is None
    with pytest.raises(ValueError):
        store.set_status("main", "weird")
    with pytest.raises(AccountNotFound):
        store.set_status("nope", "ok")


def test_exact_money_round_trip(store: Store) -> None:
    account_id = _account(store)
    # the most precise values a Fill admits (12 decimal places each; the notional then has 24)
    price = Decimal("98765.123456789012")
    size = Decimal("0.000000000001")
    fee = Decimal("-0.000000123401")
    fill = classify(Fill("woox", "1", "FILL", "PERP_BTC_USDT", "BUY", "MAKER", price, size, fee, "USDT", T0 + 5))
    assert store.ingest_fills(account_id, [fill]) == 1
    row = store.fills_frame().row(0, named=True)
    assert (row["price"], row["size"], row["fee"], row["notional"]) == (price, size, fee, price * size)
    (roll,) = stored_rollups(store).values()
    assert roll == (price * size, fee, 1)
    with pytest.raises(TypeError):
        store.ingest_fills(account_id, [Fill("woox", "2", "FILL", "PERP_BTC_USDT", "BUY", "MAKER", 1.5, size, fee,
                                             "USDT", T0, is_perp=True, counted=True)])  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(ValueError):  # beyond what the frames can hold exactly: refused, never rounded
        Fill("woox", "3", "FILL", "PERP_BTC_USDT", "BUY", "MAKER", price, Decimal("1e-13"), fee, "USDT", T0)


def test_ingest_same_batch_twice_and_overlap(store: Store) -> None:
    account_id = _account(store)
    fills = make_fills(1, 400)
    assert store.ingest_fills(account_id, fills[:250]) == 250
    assert store.ingest_fills(account_id, fills[:250]) == 0
    assert store.ingest_fills(account_id, fills[200:]) == 150
    assert store.ingest_fills(account_id, fills + fills) == 0  # duplicates inside one batch too
    assert store.fill_count(account_id) == 400
    assert stored_rollups(store) == expected_rollups(fills)


def test_same_fill_id_different_type_or_account_is_distinct(store: Store) -> None:
    a, b = _account(store, "a"), _account(store, "b")
    base = make_fills(2, 1)[0]
    settle = classify(dataclasses.replace(base, fill_type="SETTLE_MARKET"))
    assert store.ingest_fills(a, [base, settle]) == 2
    assert store.ingest_fills(b, [base]) == 1
    assert store.fill_count() == 3


def test_sync_update_is_part_of_the_ingest(store: Store) -> None:
    account_id = _account(store)
    assert store.get_sync_state(account_id).progress == 0.0
    cursor = {"page": 3, "from_ms": T0}
    n = store.ingest_fills(account_id, make_fills(3, 10), sync_update=SyncUpdate(cursor=cursor, covered_to_ms=T0 + 9,
                                                                                fills_seen=10))  # fmt: skip
    state = store.get_sync_state(account_id)
    assert n == 10 and state.cursor == cursor and state.covered_to_ms == T0 + 9 and state.fills_seen == 10
    with pytest.raises(TypeError):  # only a typed update is written
        store.ingest_fills(account_id, make_fills(4, 5), sync_update={"progress": 1.0})  # type: ignore[arg-type]
    assert store.fill_count(account_id) == 10  # rejected before anything was written
    state = store.update_sync_state(account_id, SyncUpdate(progress=0.5, eta_s=12.0, last_error="token=abcdef123456"))
    assert state.progress == 0.5 and "abcdef123456" not in state.last_error and state.cursor == cursor
    with pytest.raises(AccountNotFound):
        store.ingest_fills(account_id + 999, make_fills(5, 3))


def test_remove_account_removes_its_data_only(store: Store) -> None:
    a, b = _account(store, "a"), _account(store, "b")
    store.ingest_fills(a, make_fills(6, 50), sync_update=SyncUpdate(progress=1.0))
    store.ingest_fills(b, make_fills(7, 30))
    store.remove_account("a")
    assert store.fill_count(a) == 0 and store.fill_count(b) == 30
    assert stored_rollups(store, a) == {} and store.get_sync_state(a).progress == 0.0
    assert stored_rollups(store, b) == rollups_from_fills_table(store, b)
    with pytest.raises(AccountNotFound):
        store.remove_account("a")


def test_meta_and_embed_tokens(store: Store) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    assert store.get_meta("k") == "v2" and store.set_meta_if_absent("k", "v3") == "v2"
    tok = store.add_embed_token("widget", "h" * 64)
    assert store.find_embed_token("h" * 64) == tok
    assert store.revoke_embed_token(tok.id) is True and store.revoke_embed_token(tok.id) is False
    assert store.find_embed_token("h" * 64) is None
    assert [t.revoked_ms is not None for t in store.list_embed_tokens()] == [True]


def test_reopen_keeps_data_and_migrations_are_idempotent(db_url: str) -> None:
    s1 = Store(db_url)
    account_id = _account(s1)
    s1.ingest_fills(account_id, make_fills(8, 20))
    s1.close()
    s2 = Store(db_url)
    assert s2.fill_count() == 20 and s2.dialect in ("sqlite", "postgresql")
    s2.close()


def test_open_creates_private_home_and_db(tmp_path: Path) -> None:
    home = tmp_path / "pvhome"
    s = Store.open(Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}"))
    _account(s)
    s.close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "perpvol.db").stat().st_mode) == 0o600


def _ingest_worker(url: str, account_id: int, fills: list[Fill], start: multiprocessing.synchronize.Event) -> None:
    store = Store(url)
    start.wait(30)
    for i in range(0, len(fills), 60):  # several transactions so the writers interleave
        store.ingest_fills(account_id, fills[i : i + 60])
    store.close()


def test_two_processes_ingest_at_once(db_url: str) -> None:
    store = Store(db_url)
    account_id = _account(store)
    fills = make_fills(9, 600)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    # overlapping halves, in different orders, so both processes race on the same fills
    batches = [fills[:400], list(reversed(fills[200:]))]
    procs = [ctx.Process(target=_ingest_worker, args=(db_url, account_id, b, start)) for b in batches]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert store.fill_count(account_id) == 600
    assert stored_rollups(store) == expected_rollups(fills)
    store.close()


_fill_strategy = st.builds(
    lambda i, ex, liq, ftype, price, size, fee, day, ms: classify(Fill(
        ex, f"f{i}", ftype, "PERP_BTC_USDT" if ex == "woox" else "BTC-USD-PERP", "BUY", liq, price, size, fee,
        "USDT" if ex == "woox" else "USDC", T0 + day * MS_PER_DAY + ms,
    )),
    st.integers(0, 30),
    st.sampled_from(list(VENUES)),
    st.sampled_from(["MAKER", "TAKER"]),
    st.sampled_from(["FILL", "SETTLE_MARKET"]),
    st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("100000"), places=8),
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1000"), places=6),
    st.decimals(min_value=Decimal("-10"), max_value=Decimal("10"), places=10),
    st.integers(0, 3),
    st.sampled_from([0, 1, MS_PER_DAY - 1, 12 * 3_600_000]),
)  # fmt: skip


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_fill_strategy, max_size=12), min_size=1, max_size=4))
def test_property_rollups_equal_recomputation(tmp_path: Path, batches: list[list[Fill]]) -> None:
    db = tmp_path / f"prop-{os.urandom(4).hex()}.db"
    store = Store(f"sqlite:///{db}")
    account_id = _account(store)
    for batch in batches:
        store.ingest_fills(account_id, batch)
    assert stored_rollups(store) == rollups_from_fills_table(store)
    firsts: dict[tuple, Fill] = {}
    for f in (f for b in batches for f in b):
        firsts.setdefault((f.exchange, f.fill_id, f.fill_type), f)  # the first copy of an identity wins
    assert stored_rollups(store) == expected_rollups(list(firsts.values()))
    store.close()


def test_failed_ingest_leaves_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure at the last step (sync-state write) rolls back every chunk of fills and rollups."""
    import perpvol_core.store.fills as store_module
    from perpvol_core.store.sync_states import SyncStateRepository

    account_id = _account(store)
    monkeypatch.setattr(store_module, "INGEST_CHUNK", 7)  # several INSERT chunks run before the failure

    def boom(*_args: object) -> None:
        raise RuntimeError("crash between pages")

    monkeypatch.setattr(SyncStateRepository, "upsert", boom)
    with pytest.raises(RuntimeError):
        store.ingest_fills(account_id, make_fills(13, 40), sync_update=SyncUpdate(progress=0.5))
    assert store.fill_count() == 0 and stored_rollups(store) == {}
    monkeypatch.undo()
    assert store.ingest_fills(account_id, make_fills(13, 40), sync_update=SyncUpdate(progress=0.5)) == 40
    assert stored_rollups(store) == expected_rollups(make_fills(13, 40))
    assert store.get_sync_state(account_id).progress == 0.5


def test_account_identity_is_unique_per_exchange_and_documents_round_trip(store: Store) -> None:
    store.add_account("a", "woox", None, b"x", "hint")
    store.add_account("b", "woox", None, b"y", "hint")
    store.add_account("c", "paradex", None, b"z", "hint")
    assert store.set_identity("a", "app-1").identity == "app-1"
    with pytest.raises(AccountExists, match="'a'"):
        store.set_identity("b", "app-1")
    assert store.get_account("b").identity is None
    assert store.set_identity("c", "app-1").identity == "app-1"  # another exchange may share the text
    store.set_account_doc("a", "server_profile", {"paging": "page", "page_size": 100})
    assert store.get_account("a").server_profile == {"page_size": 100, "paging": "page"}
    store.set_account_doc("a", "server_profile", None)
    assert store.get_account("a").server_profile is None
    with pytest.raises(ValueError):
        store.set_account_doc("a", "credentials", {})
    with pytest.raises(AccountNotFound):
        store.set_account_doc("nope", "verification", {})
