"""Paradex connector against the Paradex simulator over real HTTP: auth kinds, JWT refresh, parsing, errors."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from perpvol_core.exchanges import BadPayload, ExchangeUnavailable, InvalidCredentials, make_connector
from perpvol_core.exchanges.paradex import starknet as sa
from perpvol_core.exchanges.paradex.credentials import ParadexL2Credentials, ParadexTokenCredentials
from perpvol_core.exchanges.paradex.rest import parse_fill
from perpvol_core.security.redaction import Secret
from perpvol_sim.faults import Faults
from perpvol_sim.history import History
from perpvol_sim.paradex import DEMO_L2_PRIVATE_KEY, ParadexSim, demo_subkey_private_key

FAST = {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 2.0, "page_size": 400}


@pytest.fixture(scope="module")
def px():
    history = History("paradex", 11, 1500)
    faults = Faults(only_paths=("/v1/fills",), stall_s=3.0)
    sim = ParadexSim(history, faults=faults, jwt_ttl_s=30)
    sub = demo_subkey_private_key(3)
    sim.add_subkey(sim.account, sa.public_key_from_private(sub))
    sim.start()
    yield SimpleNamespace(sim=sim, history=history, subkey=sub, faults=faults)
    sim.stop()


def _creds(px, kind: str):
    if kind == "token":
        return ParadexTokenCredentials(token=Secret(px.sim.mint_read_only_token()))
    key = DEMO_L2_PRIVATE_KEY if kind == "main" else px.subkey
    return ParadexL2Credentials(account=hex(px.sim.account), l2_key=Secret(hex(key)))


def _read_all(conn, history) -> dict[tuple[str, str], object]:
    out = {}
    for page in conn.iter_fill_pages(history.start_ms, history.now_ms):
        assert not page.skipped
        for f in page.fills:
            out[(f.fill_id, f.fill_type)] = f
    return out


def _truth(history) -> dict[tuple[str, str], object]:
    return {(f.fill_id, "UNWIND_TRANSFER" if f.fill_type == "TRANSFER" else f.fill_type): f for f in history.fills}


@pytest.mark.parametrize("kind", ["token", "main", "subkey"])
def test_every_credential_kind_reads_every_fill_exactly(px, kind):
    conn = make_connector(_creds(px, kind), px.sim.api_url, **FAST)
    assert "Paradex account" in conn.validate()
    got = _read_all(conn, px.history)
    truth = _truth(px.history)
    assert got.keys() == truth.keys()
    for key, f in truth.items():
        g = got[key]
        assert (g.price, g.size, g.fee, g.ts_ms, g.market, g.liquidity) == (
            f.price, f.size, f.fee, f.ts_ms, f.market, f.liquidity
        )
        assert isinstance(g.price, Decimal)
    if kind == "subkey":
        assert "subkey" in conn.validate()
    conn.close()


def test_jwt_expiring_mid_backfill_is_refreshed_and_the_same_cursor_retried(px):
    conn = make_connector(_creds(px, "main"), px.sim.api_url, **FAST)
    got = {}
    for i, page in enumerate(conn.iter_fill_pages(px.history.start_ms, px.history.now_ms)):
        got.update({(f.fill_id, f.fill_type): f for f in page.fills})
        if i == 1:
            px.sim.advance_clock(60)  # the server now sees the 30 s JWT as expired: 401, re-auth, same cursor
    assert got.keys() == _truth(px.history).keys()
    assert conn.auth_count >= 2
    conn.close()


def test_revoked_token_and_wrong_key_are_invalid_credentials(px):
    token = px.sim.mint_read_only_token("soon-revoked")
    px.sim.revoke_token(token)
    conn = make_connector(ParadexTokenCredentials(token=Secret(token)), px.sim.api_url, **FAST)
    with pytest.raises(InvalidCredentials) as err:
        conn.validate()
    assert token not in str(err.value)
    wrong = ParadexL2Credentials(account=hex(px.sim.account), l2_key=Secret(hex(demo_subkey_private_key(99))))
    conn = make_connector(wrong, px.sim.api_url, **FAST)
    with pytest.raises(InvalidCredentials):
        list(conn.iter_fill_pages(px.history.start_ms, px.history.now_ms))


@pytest.mark.parametrize("fault", ["server_error", "html_error", "truncate", "rate_limit", "stall"])
def test_transient_faults_are_retried_to_complete_data(px, fault):
    px.faults.force(fault, 2)
    conn = make_connector(_creds(px, "token"), px.sim.api_url, **{**FAST, "timeout": 1.0})
    got = _read_all(conn, px.history)
    assert got.keys() == _truth(px.history).keys()
    assert conn.stats.retries >= 1


def test_persistent_failure_is_a_clear_error(px):
    px.faults.force("server_error", 10)
    conn = make_connector(_creds(px, "token"), px.sim.api_url, **FAST)
    with pytest.raises(ExchangeUnavailable) as err:
        list(conn.iter_fill_pages(px.history.start_ms, px.history.now_ms))
    assert "gave up after 3 attempts" in str(err.value)
    px.faults.reset()


def test_parse_fill_tolerates_both_readings():
    base = {
        "id": "1718947571560201703986670002", "side": "BUY", "liquidity": "TAKER", "market": "BTC-USD-PERP",
        "price": "64852.9", "size": "0.01", "fee": "0.1945587", "fee_currency": "USDC", "fill_type": "FILL",
    }
    a = parse_fill({**base, "created_at": 1718947571569})
    b = parse_fill({**base, "created_at": "1718947571569", "flags": ["rpi"], "realized_pnl": "1"})
    assert a == b and a.ts_ms == 1718947571569 and a.price == Decimal("64852.9")
    assert parse_fill({**base, "created_at": 1718947571569, "fill_type": "TRANSFER"}).fill_type == "UNWIND_TRANSFER"
    with pytest.raises((KeyError, ValueError)):
        parse_fill({**base, "created_at": 1, "price": "abc"})
    with pytest.raises(KeyError):
        parse_fill({k: v for k, v in base.items() if k != "size"} | {"created_at": 1})


def test_unreachable_exchange_is_unavailable():
    conn = make_connector(ParadexTokenCredentials(token=Secret("x" * 40)), "http://127.0.0.1:9", **FAST)
    with pytest.raises((ExchangeUnavailable, BadPayload)):
        conn.validate()
