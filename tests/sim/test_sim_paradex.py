"""The Paradex simulator against the exchange notes: auth vectors, JWTs, tokens, /fills paging, limits, WS.

Real HTTP and WebSocket traffic against the simulator on a background thread; expected values come from
the notes (test vectors) or are recomputed from the seeded History, never from the simulator's output.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starknet_py.hash.utils import verify_message_signature
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from perpvol_core.exchanges.paradex import starknet as sa
from perpvol_sim.faults import RATE_LIMIT, SERVER_ERROR, TRUNCATE, WS_DROP, Faults
from perpvol_sim.history import History
from perpvol_sim.paradex import (
    DEMO_ACCOUNT_ADDRESS,
    DEMO_L2_PRIVATE_KEY,
    ParadexSim,
    RateLimits,
    asset_kind_of,
    demo_subkey_private_key,
)

# ---- the notes' test vectors (§2.2, §2.3, §2.4) ---------------------------------------------------
L1_ADDRESS = "0xd2c7314539dCe7752c8120af4eC2AA750Cf2035e"
L1_PRIVATE_KEY = "0xf8e4d1d772cdd44e5e77615ad11cc071c94e4c06dc21150d903f28e6aa6abdff"
ETH_SIGNATURE = (
    "0xd808451f2278a2a9276f3c44911e79a481d514f3759eec43584108de0edc44b7"
    "4fa37137381218af0c30d4b1f4a51cf87a331379144ab1df084c012801cd4c4a1b"
)
L2_PRIVATE_KEY = 0x543B6CF6C91817A87174AAEA4FB370AC1C694E864D7740D728F8344D53E815
L2_PUBLIC_KEY = 0x2C144D2F2D4FC61B6F8967F3BA0012A87D90140BCFE5A3E92E8DF83258C960F
L2_ADDRESS = 0x129C135ED63DF9353885E292BE4426B8ED6122B13C6C0E1BB787288A1F5ADFA
PROXY_CLASS_HASH = "0x3530cc4759d78042f1b543bf797f5f3d647cde0388c33734cf91b7f7b9314a9"
ACCOUNT_CLASS_HASH = "0x41cb0280ebadaa75f996d8d92c6f265f6d040bb3ba442e5f86a554f1765244e"
VECTOR_TS, VECTOR_EXP = 1706868900, 1706955300
DOMAIN_STRUCT_HASH = 0x38B9242CB46EB19FF458C80A8F0EDA7E8E26D8D6D54A63D9B5ED89750E39EF2
REQUEST_STRUCT_HASH = 0x7A72C6CE5A80C6A0CA2B47A64BDEF7A23CA0B486B07876A012EE92CEBCE901B
AUTH_MESSAGE_HASH = 0x483C5A1B923D0E130EA8EAD403E029AF1786EF0210BA6D429032A6BAD5DF53E
ONBOARDING_MESSAGE_HASH = 0xD38FCA3E24662DEA69B9BC6699DBAF95D018C8FB7C9940F51AABB813E8D8BF
PUBLISHED_SIGNATURE_HEADER = (
    '["2132284500520413871919396842573789033969507026344597688131979256814980629443",'
    '"60967047678036961727488225327132907015713233813795769527958274554976629987"]'
)
TESTNET_CHAIN_FELT = 0x505249564154455F534E5F504F54435F5345504F4C4941
MAINNET_CHAIN_FELT = 0x505249564154455F534E5F50415241434C4541525F4D41494E4E4554
DOMAIN_TYPE_HASH = 0x98D1932052FC5137543DE5ED85B7A88555A4CD1FF5D5BFEDB62ED9B9A1F0DB
REQUEST_TYPE_HASH = 0x186CDEF6B179923C411C13C11B8A825F12BF34203BDDA0A984DA9D6F2313C2

RENAME_MS = 1_784_678_400_000  # 2026-07-22T00:00Z
EXPIRED_JWT_BODY = re.compile(r"^missing or malformed jwt: token is expired by \d+(\.\d+)?s$")


def test_chain_id_felts() -> None:
    assert sa.chain_id_felt(sa.TESTNET_CHAIN_ID) == TESTNET_CHAIN_FELT
    assert sa.chain_id_felt(sa.MAINNET_CHAIN_ID) == MAINNET_CHAIN_FELT


def test_auth_typed_data_hashes_match_the_notes() -> None:
    from starknet_py.utils.typed_data import TypedData

    typed = sa.build_auth_typed_data(sa.TESTNET_CHAIN_ID, VECTOR_TS, VECTOR_EXP)
    td = TypedData.from_dict(typed)
    assert td.type_hash("StarkNetDomain") == DOMAIN_TYPE_HASH
    assert td.type_hash("Request") == REQUEST_TYPE_HASH
    assert sa.typed_data_struct_hashes(typed) == (DOMAIN_STRUCT_HASH, REQUEST_STRUCT_HASH)
    assert sa.auth_message_hash(typed, L2_ADDRESS) == AUTH_MESSAGE_HASH
    assert sa.auth_message_hash(typed, hex(L2_ADDRESS)) == AUTH_MESSAGE_HASH


def test_published_signature_verifies_with_the_l2_public_key() -> None:
    signature = sa.parse_signature_header(PUBLISHED_SIGNATURE_HEADER)
    assert verify_message_signature(AUTH_MESSAGE_HASH, list(signature), L2_PUBLIC_KEY)
    assert sa.verify_auth(L2_PUBLIC_KEY, L2_ADDRESS, sa.TESTNET_CHAIN_ID, VECTOR_TS, VECTOR_EXP, signature)
    # Any other header value (a different timestamp) is a different message.
    assert not sa.verify_auth(L2_PUBLIC_KEY, L2_ADDRESS, sa.TESTNET_CHAIN_ID, VECTOR_TS + 1, VECTOR_EXP, signature)
    assert sa.format_signature_header(signature) == PUBLISHED_SIGNATURE_HEADER


def test_key_derivation_vectors() -> None:
    assert sa.l2_private_key_from_eth_signature(ETH_SIGNATURE) == L2_PRIVATE_KEY
    assert sa.public_key_from_private(L2_PRIVATE_KEY) == L2_PUBLIC_KEY
    assert sa.account_address_from_public_key(L2_PUBLIC_KEY, PROXY_CLASS_HASH, ACCOUNT_CLASS_HASH) == L2_ADDRESS
    assert sa.auth_message_hash(sa.build_onboarding_typed_data(sa.TESTNET_CHAIN_ID), L2_ADDRESS) == (
        ONBOARDING_MESSAGE_HASH
    )


def test_eth_stark_key_signature_vector_with_ccxt_eip712() -> None:
    """§2.2 step 1 (EIP-712 ``STARK Key``) with ccxt's offline EIP-712 encoder and secp256k1 signer."""
    import ccxt

    ex = ccxt.paradex()
    domain = {"name": "Paradex", "chainId": "11155111", "version": "1"}
    msg = ex.eth_encode_structured_data(
        domain, {"Constant": [{"name": "action", "type": "string"}]}, {"action": "STARK Key"}
    )
    # ccxt writes the recovery byte in upper case ("1B"); compare the bytes, not the spelling.
    assert ex.sign_message(msg, L1_PRIVATE_KEY).lower() == ETH_SIGNATURE


def test_sign_and_verify_roundtrip_rejects_tampering() -> None:
    r, s = sa.sign_auth(L2_PRIVATE_KEY, L2_ADDRESS, sa.TESTNET_CHAIN_ID, 1_800_000_000, 1_800_000_180)
    assert sa.verify_auth(L2_PUBLIC_KEY, L2_ADDRESS, sa.TESTNET_CHAIN_ID, 1_800_000_000, 1_800_000_180, (r, s))
    assert not sa.verify_auth(L2_PUBLIC_KEY, L2_ADDRESS, sa.MAINNET_CHAIN_ID, 1_800_000_000, 1_800_000_180, (r, s))
    assert not sa.verify_auth(L2_PUBLIC_KEY, L2_ADDRESS + 1, sa.TESTNET_CHAIN_ID, 1_800_000_000, 1_800_000_180, (r, s))
    assert not sa.verify_auth(L2_PUBLIC_KEY, L2_ADDRESS, sa.TESTNET_CHAIN_ID, 1_800_000_000, 1_800_000_180, (r, s + 1))
    # Hex-string signatures (ccxt sends them) parse to the same numbers.
    assert sa.parse_signature_header(json.dumps([hex(r), hex(s)])) == (r, s)


# ---- a running simulator ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history() -> History:
    return History("paradex", seed=11, n_fills=1500)


@pytest.fixture
def sim(history: History) -> Iterator[ParadexSim]:
    with ParadexSim(history) as running:
        yield running


def _client(sim: ParadexSim) -> httpx.Client:
    return httpx.Client(base_url=sim.api_url, timeout=30)


def _signed_headers(sim: ParadexSim, key: int = DEMO_L2_PRIVATE_KEY, *, ts: int | None = None, ttl: int = 180):
    now = int(sim.state.now()) if ts is None else ts
    return sa.auth_headers(key, sim.account, sim.state.config.chain_id, now, now + ttl)


def _jwt_via_auth(sim: ParadexSim) -> str:
    with _client(sim) as c:
        r = c.post("/auth", headers=_signed_headers(sim))
    assert r.status_code == 200, r.text
    return r.json()["jwt_token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_system_endpoints(sim: ParadexSim) -> None:
    required = (
        "starknet_fullnode_rpc_url starknet_fullnode_rpc_base_url starknet_chain_id block_explorer_url "
        "paraclear_address paraclear_decimals paraclear_account_proxy_hash paraclear_account_hash oracle_address "
        "bridged_tokens l1_core_contract_address l1_operator_address l1_chain_id liquidation_fee"
    ).split()
    with _client(sim) as c:
        config = c.get("/system/config").json()
        assert set(required) <= set(config)
        assert config["starknet_chain_id"] == "PRIVATE_SN_POTC_SEPOLIA"
        server_time = c.get("/system/time").json()["server_time"]
        assert isinstance(server_time, str) and abs(int(server_time) - time.time() * 1000) < 3_600_000
        assert c.get("/system/state").json() == {"status": "ok"}
        tiers = c.get("/system/volume-tiers").json()["results"]
        assert tiers and all(t["min_volume_duration"] == "14d" for t in tiers)
        missing = c.get("/nope")
        assert missing.status_code == 404 and missing.json()["error"] == "NOT_FOUND"


def test_configurable_chain_id_and_time_format(history: History) -> None:
    with ParadexSim(history, chain_id=sa.MAINNET_CHAIN_ID, server_time_as_string=False) as sim, _client(sim) as c:
        assert c.get("/system/config").json()["starknet_chain_id"] == sa.MAINNET_CHAIN_ID
        assert isinstance(c.get("/system/time").json()["server_time"], int)
        # The signature must cover the configured chain: a testnet-signed message fails.
        ts = int(sim.state.now())
        bad = sa.auth_headers(DEMO_L2_PRIVATE_KEY, sim.account, sa.TESTNET_CHAIN_ID, ts, ts + 60)
        assert c.post("/auth", headers=bad).status_code == 401
        assert c.post("/auth", headers=_signed_headers(sim)).status_code == 200


def test_auth_issues_a_300s_es384_jwt_verifiable_with_jwks(sim: ParadexSim) -> None:
    token = _jwt_via_auth(sim)
    header_b64, payload_b64, signature_b64 = token.split(".")
    header, payload = json.loads(_b64(header_b64)), json.loads(_b64(payload_b64))
    assert header["alg"] == "ES384" and header["typ"] == "JWT"
    assert payload["sub"] == hex(DEMO_ACCOUNT_ADDRESS)
    assert payload["exp"] - payload["iat"] == 300
    with _client(sim) as c:
        jwk = c.get("/jwks.json").json()["keys"][0]
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_b64(jwk["x"]), "big"), int.from_bytes(_b64(jwk["y"]), "big"), ec.SECP384R1()
    ).public_key()
    raw = _b64(signature_b64)
    der = encode_dss_signature(int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big"))
    public.verify(der, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA384()))


def test_auth_rejects_bad_signature_wrong_key_and_expiry(sim: ParadexSim) -> None:
    with _client(sim) as c:
        headers = _signed_headers(sim)
        r_str, s_str = json.loads(headers["PARADEX-STARKNET-SIGNATURE"])
        bad = dict(headers, **{"PARADEX-STARKNET-SIGNATURE": json.dumps([r_str, str(int(s_str) + 1)])})
        r = c.post("/auth", headers=bad)
        assert r.status_code == 401
        assert r.json() == {
            "error": "STARKNET_SIGNATURE_VERIFICATION_FAILED",
            "message": "starknet signature verification failed",
            "data": None,
        }
        # Signed by another key (not registered for the account).
        stranger = demo_subkey_private_key(999)
        r = c.post("/auth", headers=_signed_headers(sim, stranger))
        assert r.status_code == 401 and r.json()["error"] == "STARKNET_SIGNATURE_VERIFICATION_FAILED"
        r = c.post(f"/auth/{hex(sa.public_key_from_private(stranger))}", headers=_signed_headers(sim, stranger))
        assert r.status_code == 401 and r.json()["error"] == "INVALID_SUBKEY"
        # Expired signature and a timestamp far from server time.
        now = int(sim.state.now())
        r = c.post("/auth", headers=_signed_headers(sim, ts=now - 200, ttl=100))
        assert r.status_code == 401 and r.json()["error"] == "INVALID_TIMESTAMP"
        r = c.post("/auth", headers=_signed_headers(sim, ts=now + 3600, ttl=100))
        assert r.status_code == 401 and r.json()["error"] == "INVALID_TIMESTAMP"
        # An account that never onboarded.
        unknown = dict(headers, **{"PARADEX-STARKNET-ACCOUNT": hex(DEMO_ACCOUNT_ADDRESS + 2)})
        assert c.post("/auth", headers=unknown).json()["error"] == "NOT_ONBOARDED"
        missing = c.post("/auth", headers={"PARADEX-STARKNET-ACCOUNT": headers["PARADEX-STARKNET-ACCOUNT"]})
        assert missing.status_code == 400


def test_auth_error_status_is_configurable(history: History) -> None:
    with ParadexSim(history, auth_error_status=400) as sim, _client(sim) as c:
        r = c.post("/auth", headers=_signed_headers(sim, demo_subkey_private_key(5)))
        assert r.status_code == 400 and r.json()["error"] == "STARKNET_SIGNATURE_VERIFICATION_FAILED"


def test_subkey_auth_uses_the_pubkey_path(sim: ParadexSim) -> None:
    subkey = demo_subkey_private_key(1)
    subkey_pub = sa.public_key_from_private(subkey)
    with _client(sim) as c:
        assert c.post(f"/auth/{hex(subkey_pub)}", headers=_signed_headers(sim, subkey)).json()["error"] == (
            "INVALID_SUBKEY"
        )
        sim.add_subkey(sim.account, subkey_pub)
        r = c.post(f"/auth/{hex(subkey_pub)}", headers=_signed_headers(sim, subkey))
        assert r.status_code == 200
        # The plain path verifies against the main key only; the main key also works on its pubkey path.
        assert c.post("/auth", headers=_signed_headers(sim, subkey)).status_code == 401
        assert c.post(f"/auth/{hex(L2_PUBLIC_KEY)}", headers=_signed_headers(sim)).status_code == 200
        sim.remove_subkey(sim.account, subkey_pub)
        assert c.post(f"/auth/{hex(subkey_pub)}", headers=_signed_headers(sim, subkey)).status_code == 401
        token = r.json()["jwt_token"]
        assert c.get("/account", headers=_bearer(token)).json()["account"] == hex(sim.account)


def test_onboarding_registers_a_derived_account(sim: ParadexSim) -> None:
    key = demo_subkey_private_key(77)
    public = sa.public_key_from_private(key)
    address = sa.account_address_from_public_key(public, PROXY_CLASS_HASH, ACCOUNT_CLASS_HASH)
    signature = sa.sign_onboarding(key, address, sa.TESTNET_CHAIN_ID)
    now = int(sim.state.now())
    headers = sa.auth_headers(key, address, sa.TESTNET_CHAIN_ID, now, now + 60)
    with _client(sim) as c:
        assert c.post("/auth", headers=headers).json()["error"] == "NOT_ONBOARDED"
        onboarding = {
            "PARADEX-ETHEREUM-ACCOUNT": "0x" + "0" * 40,
            "PARADEX-STARKNET-ACCOUNT": hex(address),
            "PARADEX-STARKNET-SIGNATURE": sa.format_signature_header(signature),
        }
        wrong = dict(onboarding, **{"PARADEX-STARKNET-ACCOUNT": hex(address + 1)})
        assert c.post("/onboarding", headers=wrong, json={"public_key": hex(public)}).status_code == 400
        assert c.post("/onboarding", headers=onboarding, json={"public_key": hex(public)}).status_code == 200
        token = c.post("/auth", headers=headers).json()["jwt_token"]
        # A new account has no fills: the history belongs to the primary account.
        assert c.get("/fills", headers=_bearer(token)).json() == {"next": None, "prev": None, "results": []}


def test_clock_skew_fault_moves_the_timestamp_window(history: History) -> None:
    faults = Faults()
    with ParadexSim(history, faults=faults) as sim, _client(sim) as c:
        honest = _signed_headers(sim, ts=int(time.time()))
        faults.set(clock_skew_ms=-3_600_000)
        r = c.post("/auth", headers=honest)
        assert r.status_code == 401 and r.json()["error"] == "INVALID_TIMESTAMP"
        assert c.post("/auth", headers=_signed_headers(sim)).status_code == 200  # signed with server time


def test_expired_jwt_gets_the_recorded_401_body(sim: ParadexSim) -> None:
    token = _jwt_via_auth(sim)
    with _client(sim) as c:
        assert c.get("/account", headers=_bearer(token)).status_code == 200
        sim.advance_clock(301)
        r = c.get("/account", headers=_bearer(token))
    assert r.status_code == 401
    body = r.json()
    assert set(body) == {"message"} and EXPIRED_JWT_BODY.match(body["message"])


def test_bad_bearer_is_401(sim: ParadexSim) -> None:
    token = _jwt_via_auth(sim)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with _client(sim) as c:
        for headers in ({}, _bearer("not-a-jwt"), _bearer(forged)):
            r = c.get("/fills", headers=headers)
            assert r.status_code == 401 and r.json()["message"].startswith("missing or malformed jwt")


def test_read_only_token_get_only_and_revocable(sim: ParadexSim) -> None:
    token = sim.mint_read_only_token("dash")
    with _client(sim) as c:
        assert c.get("/fills", headers=_bearer(token)).status_code == 200
        r = c.post("/account/tokens", headers=_bearer(token), json={"name": "x", "expiry_duration": 3600})
        assert r.status_code == 401 and r.json()["error"] == "INVALID_TOKEN_SCOPE"
        # Still valid long after a JWT would have expired.
        sim.advance_clock(86_400)
        assert c.get("/account", headers=_bearer(token)).status_code == 200
        assert sim.revoke_token(token)
        r = c.get("/fills", headers=_bearer(token))
        assert r.status_code == 401 and r.json()["error"] == "INVALID_TOKEN"


def test_tokens_api_creates_and_deletes_read_only_tokens(sim: ParadexSim) -> None:
    jwt = _jwt_via_auth(sim)
    with _client(sim) as c:
        created = c.post("/account/tokens", headers=_bearer(jwt), json={"name": "ro", "expiry_duration": 600}).json()
        token, lookup_id = created["token"], created["api_token"]["lookup_id"]
        assert c.get("/fills", headers=_bearer(token)).status_code == 200
        listed = c.get("/account/tokens", headers=_bearer(jwt)).json()["results"]
        assert lookup_id in {t["lookup_id"] for t in listed}
        assert c.delete(f"/account/tokens/{lookup_id}", headers=_bearer(jwt)).status_code == 200
        assert c.get("/fills", headers=_bearer(token)).status_code == 401
        assert c.delete(f"/account/tokens/{lookup_id}", headers=_bearer(jwt)).status_code == 404


def test_read_only_write_status_403(history: History) -> None:
    with ParadexSim(history, read_only_write_status=403) as sim, _client(sim) as c:
        r = c.post("/account/tokens", headers=_bearer(sim.mint_read_only_token()), json={})
        assert r.status_code == 403


def test_revoked_fault_rejects_every_credential(history: History) -> None:
    faults = Faults()
    with ParadexSim(history, faults=faults) as sim, _client(sim) as c:
        token = sim.mint_read_only_token()
        assert c.get("/fills", headers=_bearer(token)).status_code == 200
        faults.set(revoked=True)
        assert c.get("/fills", headers=_bearer(token)).status_code == 401


# ---- /fills -------------------------------------------------------------------------------------------


def _expected(history: History, *, market=None, asset_kind=None, start=None, end=None) -> list:
    """The history's fills matching the filter (inclusive bounds), newest first."""
    out = [
        f
        for f in history.fills
        if (market is None or f.market == market)
        and (asset_kind is None or asset_kind_of(f.market) == asset_kind)
        and (start is None or f.ts_ms >= start)
        and (end is None or f.ts_ms <= end)
    ]
    return out[::-1]


def _walk(c: httpx.Client, token: str, params: dict) -> tuple[list[dict], list[dict]]:
    """All results of a /fills walk, plus each page body."""
    pages, results, cursor = [], [], None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        r = c.get("/fills", params=query, headers=_bearer(token))
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body)
        results.extend(body["results"])
        cursor = body["next"]
        if cursor is None:
            return results, pages


def _shown_type(fill) -> str:
    """The notes: before 2026-07-22 the exchange called UNWIND_TRANSFER fills TRANSFER (default: on)."""
    if fill.fill_type == "UNWIND_TRANSFER" and fill.ts_ms < RENAME_MS:
        return "TRANSFER"
    return fill.fill_type


def _assert_same_fills(results: list[dict], expected: list) -> None:
    assert [(r["id"], r["fill_type"]) for r in results] == [(f.fill_id, _shown_type(f)) for f in expected]
    for r, f in zip(results, expected, strict=True):
        assert (r["market"], r["side"], r["liquidity"], r["order_id"]) == (f.market, f.side, f.liquidity, f.order_id)
        assert (Decimal(r["price"]), Decimal(r["size"]), Decimal(r["fee"])) == (f.price, f.size, f.fee)
        assert r["fee_currency"] == f.fee_asset and r["created_at"] == f.ts_ms


def test_fills_pagination_yields_each_fill_once(sim: ParadexSim, history: History) -> None:
    token = sim.mint_read_only_token()
    with _client(sim) as c:
        results, pages = _walk(c, token, {"page_size": 137})
    assert pages[0]["prev"] is None and pages[-1]["next"] is None
    assert all(p["prev"] is not None for p in pages[1:])
    assert all(len(p["results"]) == 137 for p in pages[:-1])
    _assert_same_fills(results, _expected(history))
    created = [r["created_at"] for r in results]
    assert created == sorted(created, reverse=True)
    # The cursor is opaque base64 JSON embedding the filter and a marker (ns time, last id).
    decoded = json.loads(base64.b64decode(pages[0]["next"]))
    assert decoded["filter"]["Limit"] == 137 and decoded["marker"]["marker"] == pages[0]["results"][-1]["id"]
    assert decoded["time"] == pages[0]["results"][-1]["created_at"] * 1_000_000


def test_fills_prev_cursor_returns_the_previous_page(sim: ParadexSim) -> None:
    token = sim.mint_read_only_token()
    with _client(sim) as c:
        first = c.get("/fills", params={"page_size": 50}, headers=_bearer(token)).json()
        second = c.get("/fills", params={"cursor": first["next"]}, headers=_bearer(token)).json()
        back = c.get("/fills", params={"cursor": second["prev"]}, headers=_bearer(token)).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
    assert back["prev"] is None


@pytest.mark.parametrize(
    "filters",
    [
        {"market": "ETH-USD-PERP"},
        {"asset_kind": "PERP"},
        {"asset_kind": "OPTION"},
        {"asset_kind": "PERP_OPTION"},
        {"asset_kind": "SPOT"},
        {"start": "mid", "end": "late"},
    ],
)
def test_fills_filters(sim: ParadexSim, history: History, filters: dict) -> None:
    token = sim.mint_read_only_token()
    params: dict = {"page_size": 400}
    expect_kw: dict = {}
    if "market" in filters:
        params["market"] = expect_kw["market"] = filters["market"]
    if "asset_kind" in filters:
        params["asset_kind"] = expect_kw["asset_kind"] = filters["asset_kind"]
    if "start" in filters:
        # Bounds exactly on fill timestamps, so inclusiveness matters.
        params["start_at"] = expect_kw["start"] = history.fills[len(history.fills) // 3].ts_ms
        params["end_at"] = expect_kw["end"] = history.fills[2 * len(history.fills) // 3].ts_ms
    expected = _expected(history, **expect_kw)
    assert expected, "the seeded history should contain matching fills"
    with _client(sim) as c:
        results, _ = _walk(c, token, params)
    _assert_same_fills(results, expected)


def test_fills_oldest_first_exclusive_end_and_string_created_at(history: History) -> None:
    end = history.fills[len(history.fills) // 2].ts_ms
    with (
        ParadexSim(history, sort="oldest_first", end_inclusive=False, created_at_as_string=True) as sim,
        _client(sim) as c,
    ):
        results, _ = _walk(c, sim.mint_read_only_token(), {"page_size": 333, "end_at": end})
    expected = [f for f in history.fills if f.ts_ms < end]
    assert [(r["id"], int(r["created_at"])) for r in results] == [(f.fill_id, f.ts_ms) for f in expected]
    assert all(isinstance(r["created_at"], str) for r in results)


def test_fills_validation_and_newer_fields(sim: ParadexSim, history: History) -> None:
    token = sim.mint_read_only_token()
    with _client(sim) as c:
        for bad in ({"page_size": 0}, {"page_size": 5001}, {"page_size": "x"}, {"asset_kind": "FUTURE"}):
            r = c.get("/fills", params=bad, headers=_bearer(token))
            assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR"
        r = c.get("/fills", params={"cursor": "bm90IGEgY3Vyc29y"}, headers=_bearer(token))
        assert r.status_code == 400
        results, _ = _walk(c, token, {"page_size": 5000})
    by_key = {(f.fill_id, f.ts_ms): f for f in history.fills}
    for r in results:
        ts = by_key[(r["id"], r["created_at"])].ts_ms
        assert ("realized_pnl" in r) == (ts >= 1_735_776_000_000)
        assert ("realized_funding" in r) == (ts >= 1_738_713_600_000)
        assert ("flags" in r) == (ts >= 1_749_081_600_000)
        assert r["account"] == hex(sim.account) and r["remaining_size"] == "0" and r["client_id"] == ""
    kinds = {r["fill_type"] for r in results}
    assert "TRANSFER" in kinds or all(f.fill_type != "UNWIND_TRANSFER" for f in history.fills)


def test_account_info_volume_tiers_is_14_day_notional(sim: ParadexSim, history: History) -> None:
    token = sim.mint_read_only_token()
    with _client(sim) as c:
        now_ms = int(sim.state.now() * 1000)
        info = c.get("/account/info", headers=_bearer(token)).json()["results"][0]
        hist = c.get("/account/history", params={"type": "volume"}, headers=_bearer(token)).json()
        assert c.get("/account/history", headers=_bearer(token)).status_code == 400
    expected = history.expected_total(now_ms - 14 * 86_400_000, now_ms + 1)
    assert Decimal(info["volume_tiers"]["retail"]["volume"]) == expected
    assert info["account"] == hex(sim.account)
    assert len(hist["data"]) == len(hist["timestamps"]) == 30


# ---- rate limits and faults -------------------------------------------------------------------------


def test_private_get_limit_per_account_with_headers(history: History) -> None:
    limits = RateLimits(private_get_per_account=5, per_ip=1000, auth_per_ip=3, window_s=60)
    with ParadexSim(history, limits=limits) as sim, _client(sim) as c:
        token = sim.mint_read_only_token()
        statuses = [c.get("/account", headers=_bearer(token)) for _ in range(6)]
        assert [r.status_code for r in statuses] == [200] * 5 + [429]
        assert [int(r.headers["x-ratelimit-remaining"]) for r in statuses[:5]] == [4, 3, 2, 1, 0]
        limited = statuses[-1]
        assert limited.json()["error"] == "RATE_LIMIT_EXCEEDED"
        assert limited.headers["x-ratelimit-limit"] == "5" and limited.headers["x-ratelimit-window"] == "60"
        assert int(limited.headers["x-ratelimit-reset"]) >= int(sim.state.now())
        assert sim.rate_limited == 1
        # Public endpoints use the IP bucket, not the account's.
        assert c.get("/system/time").status_code == 200
        # Continuous refill: one token per window/limit seconds.
        sim.advance_clock(12)
        assert c.get("/account", headers=_bearer(token)).status_code == 200
        assert c.get("/account", headers=_bearer(token)).status_code == 429
        # POST /auth has its own per-IP bucket.
        auth = [c.post("/auth", headers=_signed_headers(sim)).status_code for _ in range(4)]
        assert auth == [200, 200, 200, 429]
        assert sim.request_count["GET /v1/account"] == 8 and sim.request_count["POST /v1/auth"] == 4


def test_faults_are_served_in_paradex_dialect(history: History) -> None:
    faults = Faults()
    with ParadexSim(history, faults=faults) as sim, _client(sim) as c:
        token = sim.mint_read_only_token()
        faults.force(RATE_LIMIT)
        r = c.get("/fills", headers=_bearer(token))
        assert r.status_code == 429 and "x-ratelimit-reset" in r.headers
        faults.force(SERVER_ERROR)
        r = c.get("/fills", headers=_bearer(token))
        assert r.status_code in (500, 503) and r.json()["data"] is None
        faults.force(TRUNCATE)
        r = c.get("/fills", headers=_bearer(token))
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.text)
        assert c.get("/fills", headers=_bearer(token)).status_code == 200


# ---- WebSocket ----------------------------------------------------------------------------------------


def _rpc(ws, method: str, params: dict, request_id: int) -> dict:
    ws.send(json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": request_id}))
    return json.loads(ws.recv(timeout=10))


def test_websocket_auth_subscribe_and_live_push() -> None:
    history = History("paradex", seed=5, n_fills=50)
    with ParadexSim(history) as sim, ws_connect(sim.ws_url) as ws:
        bad = _rpc(ws, "auth", {"bearer": "nope.nope.nope"}, 0)
        assert bad["error"]["code"] == 40111
        assert _rpc(ws, "subscribe", {"channel": "fills.ALL"}, 1)["error"]["code"] == 40110
        assert "node_id" in _rpc(ws, "auth", {"bearer": sim.issue_jwt()}, 2)["result"]
        assert _rpc(ws, "subscribe", {"channel": "fills.ALL"}, 3)["result"] == {"channel": "fills.ALL"}
        assert _rpc(ws, "subscribe", {"channel": "fills.ALL"}, 4)["error"]["code"] == 100
        fill = history.add_live_fill()
        note = json.loads(ws.recv(timeout=10))
    assert note["method"] == "subscription" and note["params"]["channel"] == "fills.ALL"
    data = note["params"]["data"]
    assert data["id"] == fill.fill_id and Decimal(data["size"]) == fill.size and data["created_at"] == fill.ts_ms


def test_websocket_drop_fault_cuts_the_connection() -> None:
    faults = Faults()
    with ParadexSim(History("paradex", seed=7, n_fills=10), faults=faults) as sim, ws_connect(sim.ws_url) as ws:
        _rpc(ws, "auth", {"bearer": sim.issue_jwt()}, 1)
        faults.force(WS_DROP)
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "params": {"channel": "fills.ALL"}, "id": 2}))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)


def test_websocket_market_channel_filters(history: History) -> None:
    live = History("paradex", seed=6, n_fills=20)
    with ParadexSim(live) as sim, ws_connect(sim.ws_url) as ws:
        _rpc(ws, "auth", {"bearer": sim.mint_read_only_token()}, 1)
        _rpc(ws, "subscribe", {"channel": "fills.SOL-USD-PERP"}, 2)
        live.add_live_fill(market="BTC-USD-PERP")
        sol = live.add_live_fill(market="SOL-USD-PERP")
        note = json.loads(ws.recv(timeout=10))
    assert note["params"]["channel"] == "fills.SOL-USD-PERP" and note["params"]["data"]["id"] == sol.fill_id


# ---- ccxt against the simulator ---------------------------------------------------------------------


def test_ccxt_fetch_my_trades_matches_history() -> None:
    """ccxt derives the L2 key from the L1 key (EIP-712 + grind), signs /auth itself and pages /fills."""
    import ccxt

    history = History("paradex", seed=21, n_fills=400)
    with ParadexSim(history) as sim:
        ex = ccxt.paradex({"walletAddress": L1_ADDRESS, "privateKey": L1_PRIVATE_KEY})
        ex.urls["api"] = {"v1": sim.api_url, "v2": sim.base_url + "/v2"}
        trades = ex.fetch_my_trades(params={"paginate": True, "paginationCalls": 100})
        assert ex.options["paradexAccount"]["address"] == hex(L2_ADDRESS)
        assert sim.request_count["POST /v1/auth"] == 1
    got = sorted(
        (t["info"]["id"], t["info"]["fill_type"], Decimal(t["info"]["price"]), Decimal(t["info"]["size"]))
        for t in trades
    )
    expected = sorted((f.fill_id, _shown_type(f), f.price, f.size) for f in history.fills)
    assert got == expected


# ---- CLI ----------------------------------------------------------------------------------------------


def test_cmd_sim_serves_and_prints_credentials(free_port: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "perpvol_cli.main", "sim", "paradex", "--port", str(free_port), "--fills", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = {}
        while len(lines) < 6:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            key, _, value = line.partition(":")
            lines[key.strip()] = value.strip()
        token = lines["read-only token"]
        assert lines["account address"] == hex(DEMO_ACCOUNT_ADDRESS)
        r = httpx.get(f"http://127.0.0.1:{free_port}/v1/fills", params={"page_size": 5000}, headers=_bearer(token))
        assert r.status_code == 200 and len(r.json()["results"]) == int(lines["fills"].split()[0])
    finally:
        proc.terminate()
        proc.wait(10)
