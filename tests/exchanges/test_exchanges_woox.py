"""WOO X connector: the notes' signing vectors V1–V8, and real HTTP against the WOO X simulator."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from perpvol_core.exchanges import ExchangeUnavailable, InvalidCredentials, RateLimit, make_connector
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.exchanges.woox.parse import parse_fill
from perpvol_core.exchanges.woox.rest import WooxAuth, sign, v1_string_to_sign, v3_string_to_sign
from perpvol_core.security.redaction import Secret
from perpvol_sim.faults import Faults
from perpvol_sim.history import History
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim

SECRET = "QHKRXHPAW1MC9YGZMAT8YDJG2HPR"  # noqa: S105 - the notes' public test vector
TS = 1578565539808

# (string to sign built by our helpers, published/recomputed signature) — woox-api.md §2.5
VECTORS = {
    "V1": (
        v1_string_to_sign(
            {"symbol": "SPOT_BTC_USDT", "order_type": "LIMIT", "order_quantity": "0.11", "order_price": "9000",
             "side": "BUY"}, TS),
        "20da0852f73b20da0208c7e627975a59ff072379883d8457d03104651032033d",
    ),
    "V2": (v3_string_to_sign(TS, "GET", "/v3/algo/orders?algoType=STOP"),
           "fddab579aff8c193f920c2d4f0cda6a21a60f06fd9c3916541ecc4f6461f5977"),
    "V3": (
        v1_string_to_sign(
            {"symbol": "SPOT_BTC_USDT", "order_type": "LIMIT", "order_quantity": "0.11", "order_price": "9000",
             "side": "BUY", "param2": "val2", "param1": "val1"}, TS),
        "9766aac353561a08111db564f9228ab60b92fef0de565f5a092f0bfbf6547e26",
    ),
    "V4": (
        v3_string_to_sign(
            TS, "POST", "/v3/algo/order",
            '{"symbol": "PERP_BTC_USDT", "side": "BUY", "reduceOnly": false, "type": "MARKET", "quantity": "1", '
            '"algoType": "TRAILING_STOP", "callbackRate": "100"}'),
        "d2d18e208166bb9bc79d836bd4a8e80ba310abe75821079c18c51aa877f4b737",
    ),
    "V5": (v1_string_to_sign({}, TS), "68f50830e2ff5cee44cfd44844322870c0bc9693c0c9c87b8b72e76e0154d73e"),
    "V6": (
        v1_string_to_sign({"symbol": "PERP_BTC_USDT", "start_t": 1690000000000, "end_t": 1700000000000,
                           "fromId": 1, "limit": 500}, TS),
        "6e6742919e52c64ac6766c14eeddd3f024b89f693dbf73a18f757af7d348d900",
    ),
    "V7": (
        v3_string_to_sign(TS, "GET", "/v3/trade/transactionHistory?endTime=1700000000000&limit=500&page=1"
                          "&startTime=1690000000000&symbol=PERP_BTC_USDT"),
        "37a20a632de7556cff2644ef5bca43c8b8dbfbe06a339c7aebdf0b4c23e596db",
    ),
    "V8": (v3_string_to_sign(TS, "GET", "/v3/account/info"),
           "4d1a0b826f2c6099f919eac99968b5de7700abf410e663ab4afc4b18bb917037"),
}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_signing_vectors(name):
    message, expected = VECTORS[name]
    assert sign(Secret(SECRET), message) == expected


@pytest.mark.parametrize(
    ("method", "url", "vector"),
    [
        ("GET", "https://api.woox.io/v3/account/info", "V8"),
        ("GET", "https://api.woox.io/v3/trade/transactionHistory?endTime=1700000000000&limit=500&page=1"
                "&startTime=1690000000000&symbol=PERP_BTC_USDT", "V7"),
        ("GET", "https://api.woox.io/v1/client/hist_trades?symbol=PERP_BTC_USDT&start_t=1690000000000"
                "&end_t=1700000000000&fromId=1&limit=500", "V6"),
    ],
)
def test_auth_flow_signs_the_request_as_sent(method, url, vector):
    auth = WooxAuth("AbmyVJGUpN064ks5ELjLfA==", Secret(SECRET), clock=lambda: TS / 1000)
    request = next(auth.auth_flow(httpx.Request(method, url)))
    assert request.headers["x-api-timestamp"] == str(TS)
    assert request.headers["x-api-signature"] == VECTORS[vector][1]


def test_parse_fill_both_formats_agree():
    doc = {"id": 5, "symbol": "PERP_BTC_USDT", "orderId": 211, "executedPrice": "10892.84",
           "executedQuantity": "0.002", "isMaker": 0, "side": "SELL", "fee": 0, "feeAsset": "USDT",
           "executedTimestamp": 1566264290250}
    live = {**doc, "executedPrice": Decimal("10892.84"), "executedQuantity": Decimal("0.002"),
            "executedTimestamp": "1566264290.250", "id": "5"}
    assert parse_fill(doc) == parse_fill(live)
    f = parse_fill(doc)
    assert f.ts_ms == 1566264290250 and f.notional == Decimal("21.78568") and f.liquidity == "TAKER"
    with pytest.raises(ValueError):
        parse_fill({**doc, "executedQuantity": "x"})


FAST_SIM = {"rate_limits": {"transactionHistory": (20, 1.0), "account_info": (10, 1.0)}}
FAST = {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 2.0,
        "rate_limits": {"/v3/trade/transactionHistory": [RateLimit(20, 1.0)], "/v3/account/info": [RateLimit(10, 1.0)]}}


def _creds(secret: str = DEMO_API_SECRET) -> WooxCredentials:
    return WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(secret))


@pytest.fixture(scope="module")
def history():
    return History("woox", 5, 1800)


@pytest.mark.parametrize("fmt", ["doc", "live"])
@pytest.mark.parametrize("variant", [{}, {"string_error_codes": True, "sort_order": "desc", "page_size_cap": 100},
                                     {"max_span_ms": 200 * 86_400_000}])
def test_reads_two_years_exactly(history, fmt, variant):
    sim = WooxSim(history, response_format=fmt, window_anchor_ms=history.now_ms, **FAST_SIM, **variant)
    url = sim.start()
    try:
        conn = make_connector(_creds(), url, **FAST)
        assert "WOO X account" in conn.validate()
        got = {}
        for page in conn.iter_fill_pages(history.start_ms, history.now_ms):
            assert not page.skipped
            got.update({f.fill_id: f for f in page.fills})
        truth = {f.fill_id: f for f in history.fills}
        assert got.keys() == truth.keys()
        for k, f in truth.items():
            g = got[k]
            assert (g.price, g.size, g.fee, g.ts_ms, g.market, g.liquidity) == (
                f.price, f.size, f.fee, f.ts_ms, f.market, f.liquidity)
        assert conn.stats.rate_limited == 0
    finally:
        sim.stop()


def test_wrong_secret_and_revoked_key_are_invalid_credentials(history):
    faults = Faults()
    sim = WooxSim(history, faults=faults, string_error_codes=True, **FAST_SIM)
    url = sim.start()
    try:
        with pytest.raises(InvalidCredentials) as err:
            make_connector(_creds("Z" * 28), url, **FAST).validate()
        assert "Z" * 28 not in str(err.value)
        faults.set(revoked=True)
        with pytest.raises(InvalidCredentials):
            list(make_connector(_creds(), url, **FAST).iter_fill_pages(history.start_ms, history.now_ms))
    finally:
        sim.stop()


def test_maintenance_is_unavailable(history):
    sim = WooxSim(history, maintenance_status=2, **FAST_SIM)
    url = sim.start()
    try:
        with pytest.raises(ExchangeUnavailable):
            make_connector(_creds(), url, **FAST).validate()
    finally:
        sim.stop()


RESUME_READINGS = [
    {"page_mode": "honoured", "page_size_cap": 100, "meta": False},
    {"page_mode": "ignored", "page_size_cap": 100, "sort_order": "desc"},
    {"page_mode": "ignored", "page_size_cap": 100, "sort_order": "asc", "meta": False},
    {"page_mode": "rejected", "page_size_cap": 50, "limit_over_cap": "reject-1005", "symbol_required": True},
]


@pytest.mark.parametrize("reading", RESUME_READINGS, ids=lambda r: "-".join(f"{k}={v}" for k, v in r.items()))
@pytest.mark.parametrize("keep_profile", [True, False], ids=["profile-kept", "profile-lost"])
def test_a_walk_stopped_after_any_page_resumes_exactly(reading, keep_profile):
    """What the sync engine does after a kill -9: a new connector continues from the stored position (JSON),
    with or without the server profile of the interrupted run."""
    import json

    history = History("woox", 8, 420)
    sim = WooxSim(history, window_anchor_ms=history.now_ms, rate_limits_enabled=False, **reading)
    url = sim.start()
    fast = {**FAST, "rate_limits": {"/v3/trade/transactionHistory": [RateLimit(400, 1.0)],
                                    "/v3/public": [RateLimit(400, 1.0)]}}
    truth = {f.fill_id for f in history.fills if not reading.get("symbol_required") or f.market.startswith("PERP_")}
    try:
        for stop_after in (1, 2, 5):
            got: set[str] = set()
            position, profile = None, None
            for _ in range(200):  # each pass: a fresh connector runs ``stop_after`` pages, then "dies"
                conn = make_connector(_creds(), url, **fast)
                conn.server_profile = profile
                done = False
                for i, page in enumerate(conn.iter_fill_pages(history.start_ms, history.now_ms, position)):
                    got.update(f.fill_id for f in page.fills)
                    position = json.loads(json.dumps(page.position))
                    if page.position is None:
                        done = True
                        break
                    if i + 1 >= stop_after:
                        break
                profile = conn.server_profile if keep_profile else None
                conn.close()
                if done:
                    break
            assert done and got == truth, stop_after
    finally:
        sim.stop()
