"""The WOO X simulator over real HTTP/WebSocket: signing (§2.5 vectors), errors, paging, limits, faults,
the private stream, and ccxt's own woo client as an independent proof of fidelity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websocket

from perpvol_core.fill import MS_PER_DAY
from perpvol_sim import faults as fk
from perpvol_sim.faults import Faults
from perpvol_sim.history import History, SimFill
from perpvol_sim.server import free_port
from perpvol_sim.woox import (
    DEMO_API_KEY,
    DEMO_API_SECRET,
    WooxSim,
    _v1_candidates,
    sign,
    v1_string_to_sign,
    v3_string_to_sign,
)

VECTOR_SECRET = "QHKRXHPAW1MC9YGZMAT8YDJG2HPR"  # noqa: S105 - the public §2.5 test vector
VECTOR_TS = "1578565539808"


# ------------------------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def history() -> History:
    return History("woox", 21, 1_500)


@pytest.fixture
def sim(history: History) -> Iterator[WooxSim]:
    with WooxSim(history, rate_limits_enabled=False, window_anchor_ms=history.now_ms) as s:
        yield s


def _query(params: dict[str, Any]) -> str:
    return urllib.parse.urlencode(sorted((k, str(v)) for k, v in params.items()))


def signed_get(
    sim: WooxSim,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    ts: int | None = None,
    secret: str | None = None,
    key: str | None = None,
    sent_query: str | None = None,
    upper: bool = False,
    timeout: float = 30,
) -> httpx.Response:
    """A GET signed the way the notes say (v3 for /v3/, v1 otherwise); ``sent_query`` tampers the URL."""
    query = _query(params or {})
    stamp = str(ts if ts is not None else int(time.time() * 1000))
    if path.startswith("/v3/"):
        message = v3_string_to_sign(stamp, "GET", path, query)
    else:
        message = v1_string_to_sign({k: str(v) for k, v in (params or {}).items()}, stamp)
    signature = sign(secret or sim.config.api_secret, message)
    headers = {
        "x-api-key": key or sim.config.api_key,
        "x-api-timestamp": stamp,
        "x-api-signature": signature.upper() if upper else signature,
        "content-type": "application/x-www-form-urlencoded",
    }
    final_query = query if sent_query is None else sent_query
    url = sim.base_url + path + (f"?{final_query}" if final_query else "")
    return httpx.get(url, headers=headers, timeout=timeout)


def _json(resp: httpx.Response) -> Any:
    return json.loads(resp.text, parse_float=Decimal)


def _ts_ms(value: Any) -> int:
    text = str(value)
    if "." in text:
        seconds, millis = text.split(".")
        return int(seconds) * 1000 + int(millis.ljust(3, "0")[:3])
    return int(text)


def _assert_row_matches(row: dict[str, Any], fill: SimFill, snake: bool) -> None:
    g = (lambda k_snake, k_camel: row[k_snake]) if snake else (lambda k_snake, k_camel: row[k_camel])
    assert str(row["id"]) == fill.fill_id
    assert row["symbol"] == fill.market
    assert str(g("order_id", "orderId")) == fill.order_id
    assert Decimal(str(g("executed_price", "executedPrice"))) == fill.price
    assert Decimal(str(g("executed_quantity", "executedQuantity"))) == fill.size
    assert Decimal(str(row["fee"])) == fill.fee
    assert g("fee_asset", "feeAsset") == fill.fee_asset
    assert g("is_maker", "isMaker") == (1 if fill.liquidity == "MAKER" else 0)
    assert row["side"] == fill.side
    assert _ts_ms(g("executed_timestamp", "executedTimestamp")) == fill.ts_ms


# ------------------------------------------------------------------------------------------- signing
V1_ORDER = {
    "order_price": "9000",
    "order_quantity": "0.11",
    "order_type": "LIMIT",
    "side": "BUY",
    "symbol": "SPOT_BTC_USDT",
}
VECTORS_V1 = [
    ("V1", V1_ORDER, "20da0852f73b20da0208c7e627975a59ff072379883d8457d03104651032033d"),
    (
        "V3",
        {**V1_ORDER, "param1": "val1", "param2": "val2"},
        "9766aac353561a08111db564f9228ab60b92fef0de565f5a092f0bfbf6547e26",
    ),
    ("V5", {}, "68f50830e2ff5cee44cfd44844322870c0bc9693c0c9c87b8b72e76e0154d73e"),
    (
        "V6",
        {
            "symbol": "PERP_BTC_USDT",
            "start_t": "1690000000000",
            "end_t": "1700000000000",
            "fromId": "1",
            "limit": "500",
        },
        "6e6742919e52c64ac6766c14eeddd3f024b89f693dbf73a18f757af7d348d900",
    ),
]
V4_BODY = (
    '{"symbol": "PERP_BTC_USDT", "side": "BUY", "reduceOnly": false, "type": "MARKET", "quantity": "1", '
    '"algoType": "TRAILING_STOP", "callbackRate": "100"}'
)
VECTORS_V3 = [
    (
        "V2",
        "GET",
        "/v3/algo/orders",
        "algoType=STOP",
        "",
        "fddab579aff8c193f920c2d4f0cda6a21a60f06fd9c3916541ecc4f6461f5977",
    ),
    ("V4", "POST", "/v3/algo/order", "", V4_BODY, "d2d18e208166bb9bc79d836bd4a8e80ba310abe75821079c18c51aa877f4b737"),
    (
        "V7",
        "GET",
        "/v3/trade/transactionHistory",
        "endTime=1700000000000&limit=500&page=1&startTime=1690000000000&symbol=PERP_BTC_USDT",
        "",
        "37a20a632de7556cff2644ef5bca43c8b8dbfbe06a339c7aebdf0b4c23e596db",
    ),
    ("V8", "GET", "/v3/account/info", "", "", "4d1a0b826f2c6099f919eac99968b5de7700abf410e663ab4afc4b18bb917037"),
]


@pytest.mark.parametrize(("name", "params", "digest"), VECTORS_V1, ids=[v[0] for v in VECTORS_V1])
def test_v1_vectors(name: str, params: dict[str, str], digest: str) -> None:
    assert sign(VECTOR_SECRET, v1_string_to_sign(params, VECTOR_TS)) == digest
    # The server side builds its string from the raw query as received, in any order.
    raw = "&".join(f"{k}={v}" for k, v in reversed(list(params.items())))
    assert any(sign(VECTOR_SECRET, m) == digest for m in _v1_candidates(raw, VECTOR_TS))


@pytest.mark.parametrize(
    ("name", "method", "path", "query", "body", "digest"), VECTORS_V3, ids=[v[0] for v in VECTORS_V3]
)
def test_v3_vectors(name: str, method: str, path: str, query: str, body: str, digest: str) -> None:
    assert sign(VECTOR_SECRET, v3_string_to_sign(VECTOR_TS, method, path, query, body)) == digest


# ------------------------------------------------------------------------------------------- auth
def test_demo_credentials_are_the_vector_ones() -> None:
    assert DEMO_API_SECRET == VECTOR_SECRET and DEMO_API_KEY == "AbmyVJGUpN064ks5ELjLfA=="


def test_valid_requests_v1_and_v3_any_hex_case(sim: WooxSim) -> None:
    r = signed_get(sim, "/v3/account/info")
    assert r.status_code == 200 and _json(r)["data"]["applicationId"] == sim.config.application_id
    r = signed_get(sim, "/v3/trade/transactionHistory", {"symbol": "PERP_BTC_USDT", "limit": 5}, upper=True)
    assert r.status_code == 200 and _json(r)["success"] is True
    now = int(time.time() * 1000)
    r = signed_get(sim, "/v1/client/hist_trades", {"start_t": now - MS_PER_DAY, "end_t": now}, upper=True)
    assert r.status_code == 200 and isinstance(_json(r)["data"], list)


def test_auth_failures_answer_the_documented_bodies(sim: WooxSim) -> None:
    unauthorized = {"success": False, "code": -1002}
    cases = {
        "wrong secret": signed_get(sim, "/v3/account/info", secret="x" * 28),
        "unknown key": signed_get(sim, "/v3/account/info", key="someoneelse=="),
        "stale timestamp": signed_get(sim, "/v3/account/info", ts=int(time.time() * 1000) - 301_000),
        "future timestamp": signed_get(sim, "/v3/account/info", ts=int(time.time() * 1000) + 301_000),
        "tampered v3 query": signed_get(
            sim, "/v3/trade/transactionHistory", {"symbol": "PERP_BTC_USDT"}, sent_query="symbol=PERP_ETH_USDT"
        ),
        "reordered v3 query": signed_get(
            sim, "/v3/trade/transactionHistory", {"limit": 5, "page": 1}, sent_query="page=1&limit=5"
        ),
        "tampered v1 query": signed_get(
            sim, "/v1/client/hist_trades", {"start_t": 1, "end_t": 2}, sent_query="end_t=3&start_t=1"
        ),
    }
    for name, resp in cases.items():
        body = resp.json()
        assert resp.status_code == 401, name
        assert {k: body[k] for k in unauthorized} == unauthorized, name
        assert body["message"], name
    # v1 signs sorted params: a reordered v1 query is still valid.
    ok = signed_get(sim, "/v1/client/hist_trades", {"start_t": 1, "end_t": 2}, sent_query="start_t=1&end_t=2")
    assert ok.status_code == 200
    malformed = httpx.get(
        sim.base_url + "/v3/account/info",
        headers={"x-api-key": DEMO_API_KEY, "x-api-timestamp": "12345", "x-api-signature": "zz"},
    )
    assert malformed.status_code == 401 and malformed.json()["code"] == -1001
    assert httpx.get(sim.base_url + "/v3/account/info").json()["code"] == -1001


def test_string_error_codes_and_revoked_and_clock_skew(history: History) -> None:
    faults = Faults()
    with WooxSim(history, string_error_codes=True, faults=faults, rate_limits_enabled=False) as s:
        r = signed_get(s, "/v3/account/info", secret="y" * 28)
        assert r.status_code == 401 and r.json()["code"] == "-1002"
        faults.set(revoked=True)
        assert signed_get(s, "/v3/account/info").status_code == 401
        faults.set(revoked=False, clock_skew_ms=400_000)  # server clock ahead: our timestamp looks stale
        r = signed_get(s, "/v3/account/info")
        assert r.status_code == 401 and r.json()["code"] == "-1002"
        assert signed_get(s, "/v3/account/info", ts=int(time.time() * 1000) + 400_000).status_code == 200
        faults.reset()
        assert signed_get(s, "/v3/account/info").status_code == 200


# ------------------------------------------------------------------------------------------- paging
def _in_window(history: History, days: int) -> list[SimFill]:
    """Fills the data windows serve when anchored at the history's "now" (``window_anchor_ms``)."""
    floor = history.now_ms - days * MS_PER_DAY
    return [f for f in history.fills if f.ts_ms >= floor]


@pytest.mark.parametrize("fmt", ["doc", "live"])
def test_transaction_history_pages_each_fill_once(history: History, fmt: str) -> None:
    with WooxSim(
        history, response_format=fmt, page_size_cap=400, rate_limits_enabled=False, window_anchor_ms=history.now_ms
    ) as s:
        seen: list[dict[str, Any]] = []
        page = 1
        while True:
            body = _json(signed_get(s, "/v3/trade/transactionHistory", {"page": page, "limit": 500}))
            meta, rows = body["data"]["meta"], body["data"]["rows"]
            assert meta["recordsPerPage"] == 400 and meta["currentPage"] == page
            seen.extend(rows)
            if len(rows) < meta["recordsPerPage"]:
                break
            page += 1
        expected = _in_window(history, 730)
        assert expected[0].ts_ms == history.now_ms - 730 * MS_PER_DAY  # the exactly-two-years-old fill is served
        assert meta["total"] == len(expected) == len(seen)
        for row, fill in zip(seen, expected, strict=True):
            _assert_row_matches(row, fill, snake=False)
        if fmt == "doc":
            assert isinstance(seen[0]["executedTimestamp"], int) and isinstance(seen[0]["executedPrice"], str)
        else:
            assert isinstance(seen[0]["executedTimestamp"], str) and isinstance(seen[0]["executedPrice"], Decimal)


def test_transaction_history_filters(sim: WooxSim, history: History) -> None:
    fills = _in_window(history, 730)
    mid = fills[len(fills) // 2]
    end = fills[-10].ts_ms
    params = {"symbol": mid.market, "startTime": mid.ts_ms, "endTime": end, "limit": 500}
    rows = _json(signed_get(sim, "/v3/trade/transactionHistory", params))["data"]["rows"]
    expected = [f for f in fills if f.market == mid.market and mid.ts_ms <= f.ts_ms <= end]
    assert [str(r["id"]) for r in rows] == [f.fill_id for f in expected]
    rows = _json(signed_get(sim, "/v3/trade/transactionHistory", {"fromId": mid.fill_id, "limit": 3}))["data"]["rows"]
    assert str(rows[0]["id"]) == mid.fill_id  # fromId is inclusive by default


def test_symbol_required_option(history: History) -> None:
    with WooxSim(history, symbol_required=True, rate_limits_enabled=False) as s:
        r = signed_get(s, "/v3/trade/transactionHistory", {"limit": 5})
        assert r.status_code == 400 and r.json()["code"] == -1005
        assert signed_get(s, "/v3/trade/transactionHistory", {"symbol": "PERP_ETH_USDT"}).status_code == 200


@pytest.mark.parametrize("inclusive", [True, False])
def test_hist_trades_cursor_each_fill_once(history: History, inclusive: bool) -> None:
    with WooxSim(history, hist_trades_from_id_inclusive=inclusive, rate_limits_enabled=False) as s:
        now = int(time.time() * 1000)
        start = history.fills[0].ts_ms
        from_id, seen = 1, {}
        while True:
            params = {"start_t": start, "end_t": now, "fromId": from_id, "limit": 400}
            rows = _json(signed_get(s, "/v1/client/hist_trades", params))["data"]
            for row in rows:
                seen[str(row["id"])] = row  # dedupe: an inclusive cursor repeats the last row
            if len(rows) < 400:
                break
            from_id = rows[-1]["id"]
        assert list(seen) == [f.fill_id for f in history.fills]  # all time, including the 2-year-old fill
        for fill in history.fills:
            _assert_row_matches(seen[fill.fill_id], fill, snake=True)


def test_client_trades_last_90_days(sim: WooxSim, history: History) -> None:
    expected = _in_window(history, 90)
    seen, page = [], 1
    while True:
        body = _json(signed_get(sim, "/v1/client/trades", {"page": page, "size": 100}))
        assert body["meta"]["current_page"] == page and body["meta"]["records_per_page"] == 100
        seen.extend(body["rows"])
        if len(body["rows"]) < 100:
            break
        page += 1
    assert [str(r["id"]) for r in seen] == [f.fill_id for f in expected]
    for row, fill in zip(seen, expected, strict=True):
        _assert_row_matches(row, fill, snake=True)


def test_public_endpoints(sim: WooxSim) -> None:
    info = httpx.get(sim.base_url + "/v3/public/systemInfo").json()
    assert info["success"] and info["data"]["status"] == 0
    rows = httpx.get(sim.base_url + "/v3/public/instruments").json()["data"]["rows"]
    assert {"PERP_BTC_USDT", "PERP_ETH_USDT"} <= {r["symbol"] for r in rows}


# ------------------------------------------------------------------------------------------- limits
def test_rate_limits_answer_429_minus_1003(history: History) -> None:
    with WooxSim(history) as s:
        # account/info allows 10 per 60 s: an 11-request burst is always over it.
        statuses = [signed_get(s, "/v3/account/info").status_code for _ in range(11)]
        assert statuses[:10] == [200] * 10 and statuses[10] == 429
        # transactionHistory allows 2 per second; a burst draws 429s with the documented body.
        s.config.rate_limits = {**s.config.rate_limits, "transactionHistory": (2, 60.0)}
        bodies = [signed_get(s, "/v3/trade/transactionHistory", {"limit": 1}) for _ in range(3)]
        assert [b.status_code for b in bodies] == [200, 200, 429]
        assert bodies[2].json() == {"success": False, "code": -1003, "message": "Rate limit exceed."}
        assert s.rate_limited == 2
        assert s.requests["transactionHistory"] == 3 and s.requests["account_info"] == 11


# ------------------------------------------------------------------------------------------- faults
def test_injected_faults(history: History) -> None:
    faults = Faults(stall_s=3)
    with WooxSim(history, faults=faults, rate_limits_enabled=False) as s:
        faults.force(fk.RATE_LIMIT)
        faults.force(fk.SERVER_ERROR)
        faults.force(fk.HTML_ERROR)
        faults.force(fk.TRUNCATE)
        r = signed_get(s, "/v3/account/info")
        assert r.status_code == 429 and r.json()["code"] == -1003
        r = signed_get(s, "/v3/account/info")
        assert r.status_code == 500 and r.json()["success"] is False
        r = signed_get(s, "/v3/account/info")
        assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
        r = signed_get(s, "/v3/account/info")
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.text)
        faults.force(fk.STALL)
        with pytest.raises(httpx.ReadTimeout):
            signed_get(s, "/v3/account/info", timeout=0.5)
        assert signed_get(s, "/v3/account/info").status_code == 200
        assert faults.counts == {fk.RATE_LIMIT: 1, fk.SERVER_ERROR: 1, fk.HTML_ERROR: 1, fk.TRUNCATE: 1, fk.STALL: 1}
        assert s.rate_limited == 1


# ------------------------------------------------------------------------------------------- websocket
def _ws_auth(conn: websocket.WebSocket, secret: str, key: str = DEMO_API_KEY) -> dict[str, Any]:
    ts = str(int(time.time() * 1000))
    conn.send(
        json.dumps(
            {"id": "a1", "event": "auth", "params": {"apikey": key, "sign": sign(secret, "|" + ts), "timestamp": ts}}
        )
    )
    return json.loads(conn.recv())


def _recv_until(conn: websocket.WebSocket, predicate) -> dict[str, Any]:  # noqa: ANN001
    while True:
        msg = json.loads(conn.recv(), parse_float=Decimal)
        if predicate(msg):
            return msg


def test_private_stream_auth_subscribe_push_and_ping() -> None:
    history = History("woox", 4, 100)
    with WooxSim(history, ws_ping_interval_s=0.2) as s:
        bad = websocket.create_connection(s.ws_private_url, timeout=20)
        try:
            reply = _ws_auth(bad, "z" * 28)
            assert reply["event"] == "auth" and reply["success"] is False
        finally:
            bad.close()

        conn = websocket.create_connection(s.ws_private_url, timeout=20)
        try:
            reply = _ws_auth(conn, s.config.api_secret)
            assert reply == {"id": "a1", "event": "auth", "success": True, "ts": reply["ts"]}
            conn.send(json.dumps({"id": "s1", "topic": "executionreport", "event": "subscribe"}))
            ack = _recv_until(conn, lambda m: m.get("event") == "subscribe")
            assert ack["success"] is True and ack["id"] == "s1"
            ping = _recv_until(conn, lambda m: m.get("event") == "ping")
            assert ping == {"event": "ping"}
            conn.send(json.dumps({"event": "pong"}))
            fill = history.add_live_fill(market="PERP_SOL_USDT")
            push = _recv_until(conn, lambda m: m.get("topic") == "executionreport")
            data = push["data"]
            assert str(data["tradeId"]) == fill.fill_id and data["symbol"] == "PERP_SOL_USDT"
            assert data["executedPrice"] == fill.price and data["executedQuantity"] == fill.size
            assert data["fee"] == fill.fee and data["feeAsset"] == fill.fee_asset
            assert data["timestamp"] == fill.ts_ms and data["maker"] is (fill.liquidity == "MAKER")
        finally:
            conn.close()


# ------------------------------------------------------------------------------------------- ccxt
@pytest.mark.parametrize("fmt", ["doc", "live"])
def test_ccxt_woo_reads_my_trades(history: History, fmt: str) -> None:
    ccxt = pytest.importorskip("ccxt")
    # Limits off: ccxt skips a page after a 429 inside its pagination loop, and limits are tested above.
    with WooxSim(history, response_format=fmt, window_anchor_ms=history.now_ms, rate_limits_enabled=False) as s:
        exchange = ccxt.woo({"apiKey": s.config.api_key, "secret": s.config.api_secret, "enableRateLimit": True})
        exchange.urls["api"] = {"pub": s.base_url, "public": s.base_url, "private": s.base_url}
        trades = exchange.fetch_my_trades("ETH/USDT:USDT", params={"paginate": True})
        trades.sort(key=lambda t: int(t["id"]))  # ccxt returns its paginated result newest first
        expected = [f for f in _in_window(history, 730) if f.market == "PERP_ETH_USDT"]
        assert len(expected) > 100
        assert [t["id"] for t in trades] == [f.fill_id for f in expected]
        for trade, fill in zip(trades, expected, strict=True):
            assert trade["symbol"] == "ETH/USDT:USDT"
            assert trade["timestamp"] == fill.ts_ms
            assert Decimal(str(trade["price"])) == fill.price
            assert Decimal(str(trade["amount"])) == fill.size
            assert Decimal(str(trade["fee"]["cost"])) == fill.fee and trade["fee"]["currency"] == fill.fee_asset
            assert trade["side"] == fill.side.lower() and trade["order"] == fill.order_id
            assert trade["takerOrMaker"] == fill.liquidity.lower()


# ------------------------------------------------------------------------------------------- CLI
def test_cmd_sim_serves_until_stopped() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "perpvol_cli.main",
            "sim",
            "woox",
            "--port",
            str(port),
            "--fills",
            "200",
            "--format",
            "live",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        lines = [proc.stdout.readline() for _ in range(4)]
        assert any(DEMO_API_KEY in line for line in lines)
        assert httpx.get(f"http://127.0.0.1:{port}/v3/public/systemInfo").json()["success"] is True
    finally:
        proc.terminate()
        proc.wait(20)


# ------------------------------------------------------------------------------------------- readings (§9)
def _th(sim: WooxSim, **params: Any) -> httpx.Response:
    return signed_get(sim, "/v3/trade/transactionHistory", params)


def test_page_ignored_answers_the_first_page_and_rejected_answers_minus_1004(history: History) -> None:
    with WooxSim(history, page_mode="ignored", page_size_cap=100, rate_limits_enabled=False,
                 window_anchor_ms=history.now_ms) as s:
        first = _json(_th(s, page=1, limit=100))["data"]
        again = _json(_th(s, page=7, limit=100))["data"]
        assert [r["id"] for r in again["rows"]] == [r["id"] for r in first["rows"]] and len(first["rows"]) == 100
        assert again["meta"]["currentPage"] == 1 and again["meta"]["total"] == len(_in_window(history, 730))
    with WooxSim(history, page_mode="rejected", rate_limits_enabled=False) as s:
        r = _th(s, page=1, limit=100)
        assert r.status_code == 400 and r.json()["code"] == -1004
        assert _th(s, limit=100).status_code == 200


@pytest.mark.parametrize(("over", "code"), [("clamp", None), ("reject-1004", -1004), ("reject-1005", -1005)])
def test_a_limit_above_the_cap_is_clamped_or_rejected(history: History, over: str, code: int | None) -> None:
    with WooxSim(history, page_size_cap=100, limit_over_cap=over, rate_limits_enabled=False) as s:
        r = _th(s, limit=500)
        if code is None:
            body = _json(r)["data"]
            assert len(body["rows"]) == 100 and body["meta"]["recordsPerPage"] == 100
        else:
            assert r.status_code == 400 and r.json()["code"] == code
        assert len(_json(_th(s, limit=100))["data"]["rows"]) == 100


def test_no_meta_and_newest_first_and_delisted(history: History) -> None:
    with WooxSim(history, meta=False, sort_order="desc", delisted_symbols=("PERP_ARB_USDT",),
                 rate_limits_enabled=False, window_anchor_ms=history.now_ms) as s:
        data = _json(_th(s, limit=50))["data"]
        assert "meta" not in data
        ts = [_ts_ms(r["executedTimestamp"]) for r in data["rows"]]
        assert ts == sorted(ts, reverse=True) and ts[0] == history.fills[-1].ts_ms
        listed = {r["symbol"] for r in httpx.get(s.base_url + "/v3/public/instruments").json()["data"]["rows"]}
        traded = {f.market for f in history.fills}
        assert "PERP_ARB_USDT" in traded and "PERP_ARB_USDT" not in listed and traded - {"PERP_ARB_USDT"} <= listed


def _signed_post(sim: WooxSim, path: str, body: str) -> httpx.Response:
    stamp = str(int(time.time() * 1000))
    headers = {"x-api-key": sim.config.api_key, "x-api-timestamp": stamp, "content-type": "application/json",
               "x-api-signature": sign(sim.config.api_secret, v3_string_to_sign(stamp, "POST", path, "", body))}
    return httpx.post(sim.base_url + path, content=body, headers=headers, timeout=10)


def test_v3_private_stream_with_a_listen_key_pushes_fills_and_algo_fills() -> None:
    history = History("woox", 4, 100)
    with WooxSim(history, ws_ping_interval_s=0.2) as s:
        r = _signed_post(s, "/v3/account/listenKey", '{"type":"WEBSOCKET"}')
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        key = data["listenKey"]
        assert data["expiredTime"] > time.time() * 1000 + 23 * 3_600_000
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(s.ws_v3_private_url + "?key=wrong", timeout=10)
        conn = websocket.create_connection(s.ws_v3_private_url + f"?key={key}", timeout=20)
        try:
            conn.send(json.dumps({"id": 1, "cmd": "SUBSCRIBE", "params": ["executionreport", "algoexecutionreportv2"]}))
            ack = _recv_until(conn, lambda m: m.get("cmd") == "SUBSCRIBE")
            assert ack["success"] is True and ack["id"] == 1
            assert _recv_until(conn, lambda m: m.get("cmd") == "PING")["cmd"] == "PING"
            conn.send(json.dumps({"cmd": "PONG"}))
            fill = history.add_live_fill(market="PERP_SOL_USDT")
            push = _recv_until(conn, lambda m: m.get("topic") == "executionreport")
            assert str(push["data"]["tradeId"]) == fill.fill_id
            algo = s.add_algo_fill(market="PERP_BTC_USDT")
            push = _recv_until(conn, lambda m: m.get("topic") == "algoexecutionreportv2")
            assert isinstance(push["data"], list) and str(push["data"][0]["tradeId"]) == algo.fill_id
            assert push["data"][0]["executedPrice"] == algo.price
        finally:
            conn.close()
        # a new key expires the previous one (§6.2)
        _signed_post(s, "/v3/account/listenKey", '{"type":"WEBSOCKET"}')
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(s.ws_v3_private_url + f"?key={key}", timeout=10)
    with WooxSim(history, v3_private_stream=False) as s:
        assert _signed_post(s, "/v3/account/listenKey", '{"type":"WEBSOCKET"}').status_code == 404
