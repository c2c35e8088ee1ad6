"""The server API over real HTTP: ``perpvol_app.api`` (FastAPI behind the front door) on a real SQLite store."""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from perpvol_app import api
from perpvol_app.openapi import openapi_document
from perpvol_app.server import BackgroundApp
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES, classify_all
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.security.redaction import Secret

DECIMAL_CHARS = set("-0123456789.")


def make_fills(exchange: str, n: int, now_ms: int, seed: int) -> list[Fill]:
    """Deterministic fills spread over 40 days, perp and spot, maker and taker."""
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        perp = i % 5 != 0
        if exchange == "woox":
            market = "PERP_BTC_USDT" if perp else "SPOT_BTC_USDT"
        else:
            market = "ETH-USD-PERP" if perp else "ETH-USD"
        out.append(
            Fill(
                exchange=exchange,
                fill_id=f"{exchange}-{seed}-{i}",
                fill_type="FILL",
                market=market,
                side="BUY" if i % 2 else "SELL",
                liquidity="MAKER" if i % 3 else "TAKER",
                price=Decimal(rng.randint(1000, 90000)) / Decimal(100),
                size=Decimal(rng.randint(1, 5000)) / Decimal(1000),
                fee=Decimal(rng.randint(0, 100)) / Decimal(10000),
                fee_asset="USDT" if exchange == "woox" else "USDC",
                ts_ms=now_ms - rng.randint(0, 40 * MS_PER_DAY),
            )
        )
    return out


def expected_window(fills: list[Fill], start_ms: int, end_ms: int, exchange: str | None = None) -> Decimal:
    return sum(
        (f.notional for f in fills if f.counted and start_ms <= f.ts_ms < end_ms and exchange in (None, f.exchange)),
        Decimal(0),
    )


class Env:
    def __init__(self, server: BackgroundApp, token: str, store, fills: list[Fill], settings: Settings) -> None:
        self.server = server
        self.token = token
        self.store = store
        self.fills = fills
        self.settings = settings
        self.url = server.base_url + "/api/v1"
        self.http = httpx.Client(timeout=30)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw):  # noqa: ANN003, ANN201
        return self.http.get(self.url + path, headers={**self.auth, **kw.pop("headers", {})}, **kw)


def _build(tmp_path: Path, token: str | None, with_data: bool = True):  # noqa: ANN202
    from perpvol_core.security.vault import Vault
    from perpvol_core.store import Store

    home = tmp_path / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    settings = Settings(
        home=home, database_url=f"sqlite:///{home / 'perpvol.db'}", api_token=Secret(token) if token else None
    )
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    fills: list[Fill] = []
    if with_data:
        now = int(time.time() * 1000)
        for ex, seed in (("woox", 1), ("paradex", 2)):
            creds = WooxCredentials(api_key=f"key-{ex}-public", api_secret=Secret(f"SECRET{ex}{seed}" * 3))
            blob = vault.encrypt(creds, label=f"{ex}-main", base_url=None)
            acc = store.add_account(f"{ex}-main", ex, None, blob, "masked")
            batch = classify_all(make_fills(ex, 300, now, seed))  # the venue's rules: what counts
            store.ingest_fills(acc.id, batch)
            fills += batch
    ctx = api.ApiContext(settings, store=store, vault=vault, use_worker=False)
    server = BackgroundApp(api.make_app(ctx))
    server.start()
    return server, store, fills, settings


@pytest.fixture
def env(tmp_path: Path):
    token = secrets.token_urlsafe(24)
    server, store, fills, settings = _build(tmp_path, token)
    e = Env(server, token, store, fills, settings)
    yield e
    e.http.close()
    server.stop()
    store.close()


PROTECTED = [
    ("GET", "/accounts"),
    ("POST", "/accounts"),
    ("DELETE", "/accounts/x"),
    ("POST", "/accounts/x/test"),
    ("POST", "/sync"),
    ("GET", "/sync/status"),
    ("GET", "/volume/summary"),
    ("GET", "/volume/daily"),
    ("GET", "/volume/current"),
    ("GET", "/volume/range"),
    ("GET", "/openapi.json"),
    ("GET", "/stream"),
]


def _is_error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "message"}
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    return body


def test_every_protected_route_needs_the_token(env: Env) -> None:
    for method, path in PROTECTED:
        r = env.http.request(method, env.url + path)
        body = _is_error(r, 401)
        assert body["error"] == "unauthorized" and "••••" not in body["message"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = env.http.request(method, env.url + path, headers={"Authorization": "Bearer wrong-token-value"})
        _is_error(r, 401)
    # the REST routes do not take ?token= (only the stream does)
    _is_error(env.http.get(env.url + "/volume/summary", params={"token": env.token}), 401)
    health = env.http.get(env.url + "/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_no_configured_token_refuses_everything_but_health(tmp_path: Path) -> None:
    server, store, _, _ = _build(tmp_path, None, with_data=False)
    try:
        with httpx.Client() as c:
            for method, path in PROTECTED:
                r = c.request(method, f"{server.base_url}/api/v1{path}", headers={"Authorization": "Bearer anything"})
                body = _is_error(r, 401)
                assert "PERPVOL_API_TOKEN" in body["message"]
            assert c.get(f"{server.base_url}/api/v1/health").status_code == 200
    finally:
        server.stop()
        store.close()


def _assert_decimal(value: object) -> Decimal:
    assert isinstance(value, str) and value and set(value) <= DECIMAL_CHARS, value
    return Decimal(value)


def test_summary_and_current_are_exact_decimal_strings(env: Env) -> None:
    r = env.get("/volume/summary")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    now = int(time.time() * 1000)
    assert set(body["totals"]) == {"24h", "7d", "30d", "all"}
    for ex in VENUES:  # every registered venue (those without fills: zero)
        for period, days in (("7d", 7), ("30d", 30)):
            got = _assert_decimal(body["by_exchange"][ex][period])
            # fills are ≥ 0 ms old and windows end "now": compare against the window at request time
            assert got == expected_window(env.fills, now + 1 - days * MS_PER_DAY, now + 1, ex)
        assert _assert_decimal(body["by_exchange"][ex]["all"]) == expected_window(env.fills, 0, now + 1, ex)
    assert _assert_decimal(body["totals"]["all"]) == expected_window(env.fills, 0, now + 1)
    cur = env.get("/volume/current").json()
    as_of = cur["as_of_ms"]
    assert _assert_decimal(cur["volume_usd"]) == expected_window(env.fills, as_of + 1 - MS_PER_DAY, as_of + 1)
    assert cur["window"]["end_ms"] - cur["window"]["start_ms"] == MS_PER_DAY
    assert set(cur["by_exchange"]) == set(VENUES)  # every registered venue, with fills or not


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def test_daily_rows_match_the_fills(env: Env) -> None:
    body = env.get("/volume/daily").json()
    expected: dict[tuple[str, str], Decimal] = {}
    counts: dict[tuple[str, str], int] = {}
    for f in env.fills:
        if f.counted:
            key = (_day(f.ts_ms), f.exchange)
            expected[key] = expected.get(key, Decimal(0)) + f.notional
            counts[key] = counts.get(key, 0) + 1
    got = {(r["date"], r["exchange"]): r for r in body["daily"]}
    assert set(got) == set(expected)
    for key, row in got.items():
        assert _assert_decimal(row["volume_usd"]) == expected[key]
        assert _assert_decimal(row["maker_usd"]) + _assert_decimal(row["taker_usd"]) == expected[key]
        _assert_decimal(row["fees_usd"])
        assert row["fills"] == counts[key]
    # filters: exchange, market, inclusive date range
    days = sorted({d for d, _ in expected})
    lo, hi = days[len(days) // 4], days[len(days) // 2]
    sub = env.get("/volume/daily", params={"from": lo, "to": hi, "exchange": "paradex"}).json()["daily"]
    want = {k for k in expected if k[1] == "paradex" and lo <= k[0] <= hi}
    assert {(r["date"], r["exchange"]) for r in sub} == want
    assert env.get("/volume/daily", params={"market": "SPOT_BTC_USDT"}).json()["daily"] == []
    only = env.get("/volume/daily", params={"market": "PERP_BTC_USDT"}).json()["daily"]
    assert {r["exchange"] for r in only} == {"woox"}


def test_range_totals_equal_a_recomputation_from_the_fills(env: Env) -> None:
    counted = [f for f in env.fills if f.counted]
    days = sorted({_day(f.ts_ms) for f in counted})
    lo, hi = days[len(days) // 4], days[len(days) // 2]
    inside = [f for f in counted if lo <= _day(f.ts_ms) <= hi]
    body = env.get("/volume/range", params={"from": lo, "to": hi}).json()
    assert (body["from"], body["to"]) == (lo, hi)
    assert _assert_decimal(body["totals"]["volume_usd"]) == sum((f.notional for f in inside), Decimal(0))
    assert body["totals"]["fills"] == len(inside)
    for ex in VENUES:  # every registered venue (those without fills: zero)
        mine = [f for f in inside if f.exchange == ex]
        cell = body["by_exchange"][ex]
        assert _assert_decimal(cell["volume_usd"]) == sum((f.notional for f in mine), Decimal(0))
        assert _assert_decimal(cell["maker_usd"]) + _assert_decimal(cell["taker_usd"]) == _assert_decimal(
            cell["volume_usd"])
        assert cell["fills"] == len(mine)
    # open ends: from the first day with volume to today, the same as the whole history
    whole = env.get("/volume/range").json()
    assert whole["from"] == days[0]
    assert _assert_decimal(whole["totals"]["volume_usd"]) == sum((f.notional for f in counted), Decimal(0))
    only = env.get("/volume/range", params={"from": lo, "to": hi, "exchange": "woox"}).json()
    assert set(only["by_exchange"]) == {"woox"}
    assert _is_error(env.get("/volume/range", params={"from": hi, "to": lo}), 400)["error"] == "invalid_date"
    assert _is_error(env.get("/volume/range", params={"from": "2024-02-30"}), 400)["error"] == "invalid_date"
    assert _is_error(env.get("/volume/range", params={"days": "3"}), 400)["error"] == "invalid_request"


def test_large_responses_are_compressed(env: Env) -> None:
    resp = env.get("/volume/daily", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.headers.get("content-encoding") == "gzip"
    assert resp.json()["daily"]  # httpx decoded it


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2024-13-01"}, "invalid_date"),
        ({"from": "yesterday"}, "invalid_date"),
        ({"to": "2024-02-30"}, "invalid_date"),
        ({"from": "2025-02-02", "to": "2025-02-01"}, "invalid_date"),
        ({"exchange": "binance"}, "invalid_exchange"),
        ({"market": "BTC/USDT;drop"}, "invalid_market"),
        ({"color": "gold"}, "invalid_request"),
    ],
)
def test_daily_validation_errors_are_4xx_json(env: Env, params: dict, code: str) -> None:
    assert _is_error(env.get("/volume/daily", params=params), 400)["error"] == code


def test_routes_errors_and_methods_are_json(env: Env) -> None:
    assert _is_error(env.get("/nope"), 404)["error"] == "not_found"
    assert _is_error(env.get("/volume"), 404)["error"] == "not_found"
    assert _is_error(env.http.put(env.url + "/volume/summary", headers=env.auth), 405)["error"] == "method_not_allowed"
    assert _is_error(env.http.delete(env.url + "/accounts/no-such", headers=env.auth), 404)["error"] == "not_found"
    bad = env.http.delete(env.url + "/accounts/bad%20label!", headers=env.auth)
    assert _is_error(bad, 400)["error"] == "invalid_label"
    post = lambda body, **kw: env.http.post(env.url + "/accounts", headers=env.auth, **kw)  # noqa: E731
    assert _is_error(post(None, content=b"{not json"), 400)["error"] == "invalid_request"
    assert _is_error(post(None, json=[1, 2]), 400)["error"] == "invalid_request"
    assert _is_error(post(None, json={"label": "x", "exchange": "kraken"}), 400)["error"] == "invalid_exchange"
    assert _is_error(post(None, json={"label": "../x", "exchange": "woox"}), 400)["error"] == "invalid_label"
    missing_secret = post(None, json={"label": "x", "exchange": "woox", "api_key": "k"})
    assert _is_error(missing_secret, 400)["error"] == "invalid_request"
    r = post(None, json={"label": "woox-main", "exchange": "woox", "api_key": "k", "api_secret": "s" * 20})
    assert _is_error(r, 409)["error"] == "conflict"
    r = post(None, json={"label": "x", "exchange": "woox", "base_url": "ftp://x", "api_key": "k", "api_secret": "s"})
    assert _is_error(r, 400)["error"] == "invalid_request"
    # a server without a worker says so instead of pretending
    assert _is_error(env.http.post(env.url + "/sync", headers=env.auth), 409)["error"] == "no_worker"


def test_accounts_never_show_secrets(env: Env) -> None:
    body = env.get("/accounts").json()
    assert {a["label"] for a in body["accounts"]} == {"woox-main", "paradex-main"}
    text = json.dumps(body)
    assert "SECRET" not in text and "credentials" not in text
    status = env.get("/sync/status").json()
    assert {a["label"] for a in status["accounts"]} == {"woox-main", "paradex-main"}
    assert "SECRET" not in json.dumps(status)


def test_delete_account_removes_its_volume(env: Env) -> None:
    r = env.http.delete(env.url + "/accounts/paradex-main", headers=env.auth)
    assert r.status_code == 204
    body = env.get("/volume/summary").json()
    assert Decimal(body["by_exchange"]["paradex"]["all"]) == 0
    assert _is_error(env.http.delete(env.url + "/accounts/paradex-main", headers=env.auth), 404)


def _response_schema(doc: dict, path: str, method: str) -> tuple[str, dict]:
    """(status, JSON schema) of the documented success response of one operation."""
    responses = doc["paths"][path][method]["responses"]
    status = next(code for code in responses if code.startswith(("2", "426")))  # the stream: 426 without upgrade
    content = responses[status].get("content", {})
    return status, content.get("application/json", {}).get("schema", {})


def _validator(doc: dict, schema: dict):  # noqa: ANN202
    import jsonschema

    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def _walk(node: object):  # noqa: ANN202
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_openapi_document_is_generated_from_the_routes_and_real_responses_match_it(env: Env) -> None:
    from fastapi.routing import APIRoute

    served = env.get("/openapi.json")
    assert served.status_code == 200
    doc = served.json()
    assert doc == openapi_document()  # what tools get without a server is what the server serves
    # every route of the app is documented with its methods, and every documented operation is a route
    app = env.server.app.app  # the FastAPI app behind the front door

    def api_routes(routes: list) -> list:  # noqa: ANN001
        flat = []
        for r in routes:  # included routers keep their own routes (full paths)
            inner = getattr(r, "original_router", None)
            flat += api_routes(inner.routes) if inner is not None else [r]
        return flat

    routes = {(r.path, m.lower()) for r in api_routes(app.routes) if isinstance(r, APIRoute) and r.include_in_schema
              for m in r.methods}  # fmt: skip
    assert len(routes) >= 12
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented
    expected_paths = {"/api/v1/health", "/api/v1/accounts", "/api/v1/accounts/{label}", "/api/v1/accounts/{label}/test",
                      "/api/v1/sync", "/api/v1/sync/status", "/api/v1/volume/summary", "/api/v1/volume/daily",
                      "/api/v1/volume/current", "/api/v1/volume/range", "/api/v1/reconcile", "/api/v1/tiers",
                      "/api/v1/stream",
                      "/embed/{token}", "/embed/{token}.json"}  # fmt: skip
    assert set(doc["paths"]) == expected_paths
    # each JSON success response is a named model; errors are the {"error", "message"} model
    for path, method in documented:
        status, schema = _response_schema(doc, path, method)
        if (path, method) in {("/api/v1/accounts/{label}", "delete"), ("/embed/{token}", "get")}:
            continue  # 204 and the HTML page
        assert schema.get("$ref", "").startswith("#/components/schemas/"), (path, method, schema)
        assert doc["paths"][path][method]["responses"].get("404", {}).get("content") or path.startswith("/api")
    assert doc["components"]["schemas"]["ErrorBody"]["required"] == ["error", "message"]
    # money is a decimal string everywhere: no number type in any schema, the money fields carry the pattern
    assert not [n for n in _walk(doc["components"]) if n.get("type") == "number"]
    periods = doc["components"]["schemas"]["Periods"]["properties"]
    assert set(periods) == {"24h", "7d", "30d", "all"}
    money = [periods[k] for k in periods] + [doc["components"]["schemas"]["DailyRow"]["properties"][k]
                                             for k in ("volume_usd", "maker_usd", "taker_usd", "fees_usd")]
    money.append(doc["components"]["schemas"]["Current"]["properties"]["volume_usd"])
    for field in money:
        assert field["type"] == "string" and field["pattern"] == api.DECIMAL_PATTERN, field
    # real responses validate against the generated schemas
    for path in ("/health", "/accounts", "/sync/status", "/volume/summary", "/volume/current", "/volume/daily",
                 "/tiers"):
        body = (env.get(path) if path != "/health" else env.http.get(env.url + path)).json()
        _validator(doc, _response_schema(doc, f"/api/v1{path}", "get")[1]).validate(body)
    # ... and the check can fail: a float, or an exponent, where money belongs is refused
    summary = env.get("/volume/summary").json()
    validator = _validator(doc, _response_schema(doc, "/api/v1/volume/summary", "get")[1])
    for bad in (1.5, "1E+3"):
        assert not validator.is_valid({**summary, "totals": {**summary["totals"], "24h": bad}})


def test_schemathesis_finds_no_server_error(env: Env) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error, response_schema_conformance

    schema = schemathesis.openapi.from_dict(openapi_document())
    ran = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if op.method.upper() == "POST" and op.path.startswith("/api/v1/accounts"):
            continue  # would contact the base_url it generates; fuzzed against simulators in test_trust_badinput

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def check(case) -> None:  # noqa: ANN001
            case.call_and_validate(
                base_url=env.server.base_url,
                headers=env.auth,
                checks=[not_a_server_error, response_schema_conformance],
            )

        check()
        ran += 1
    assert ran >= 10


def test_request_logs_redact_the_stream_token(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="perpvol.access")
    env.http.get(env.server.base_url + "/api/v1/stream", params={"token": env.token})
    env.http.get(env.server.base_url + "/embed/" + "A" * 32)
    env.http.get(env.server.base_url + "/app", params={"token": "B" * 32, "x": "1"})  # a non-API URL
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len([r for r in caplog.records if r.name == "perpvol.access"]) < 3:
        time.sleep(0.05)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/v1/stream" in text and "/embed/" in text and "/app?token=" in text
    assert env.token not in text and "A" * 32 not in text and "B" * 32 not in text


def test_post_accounts_tests_credentials_first_and_never_echoes_them(env: Env) -> None:
    from perpvol_sim.server import free_port
    from perpvol_sim.woox import WooxSim

    sim = WooxSim(n_fills=50)
    sim.start()
    try:
        key, secret = sim.config.api_key, sim.config.api_secret
        post = lambda body: env.http.post(env.url + "/accounts", headers=env.auth, json=body)  # noqa: E731
        wrong = post({"label": "w2", "exchange": "woox", "base_url": sim.base_url, "api_key": key,
                      "api_secret": "X" * len(secret)})
        assert _is_error(wrong, 422)["error"] == "invalid_credentials"
        assert "X" * len(secret) not in wrong.text
        down = post({"label": "w2", "exchange": "woox", "base_url": f"http://127.0.0.1:{free_port()}",
                     "api_key": key, "api_secret": secret})
        assert _is_error(down, 424)["error"] == "exchange_unavailable"
        assert "w2" not in {a["label"] for a in env.get("/accounts").json()["accounts"]}
        ok = post({"label": "w2", "exchange": "woox", "base_url": sim.base_url, "api_key": key, "api_secret": secret})
        assert ok.status_code == 201, ok.text
        assert secret not in ok.text and ok.json()["label"] == "w2" and ok.json()["status"] == "new"
        listed = env.get("/accounts")
        assert secret not in listed.text and "w2" in {a["label"] for a in listed.json()["accounts"]}
        tested = env.http.post(env.url + "/accounts/w2/test", headers=env.auth)
        assert tested.status_code == 200 and tested.json()["ok"] is True and secret not in tested.text
        assert _is_error(env.http.post(env.url + "/accounts/nobody/test", headers=env.auth), 404)
    finally:
        sim.stop()


def test_sync_endpoints_with_a_worker(tmp_path: Path) -> None:
    from perpvol_core.security.vault import Vault
    from perpvol_core.services.worker import Worker
    from perpvol_core.store import Store
    from perpvol_sim.woox import WooxSim

    token = secrets.token_urlsafe(24)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}", api_token=Secret(token))
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    from perpvol_sim.history import History

    sim = WooxSim(History("woox", 3, 120, days=30))
    sim.start()
    creds = WooxCredentials(api_key=sim.config.api_key, api_secret=Secret(sim.config.api_secret))
    store.add_account("w", "woox", sim.base_url, vault.encrypt(creds, label="w", base_url=sim.base_url), creds.hint)
    worker = Worker(settings, store=store, vault=vault, interval_s=3600, days=40)
    worker.start()
    server = BackgroundApp(api.make_app(api.ApiContext(settings, store=store, vault=vault, worker=worker)))
    server.start()
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=server.base_url + "/api/v1", headers=auth, timeout=30) as c:
            assert _is_error(c.post("/sync", json={"label": "ghost"}), 404)["error"] == "not_found"
            r = c.post("/sync", json={"label": "w"})
            assert r.status_code == 202 and r.json()["status"] == "started"

            def synced() -> bool:
                accs = c.get("/sync/status").json()["accounts"]
                return accs[0]["status"] == "ok" and accs[0]["sync"]["last_success_ms"] is not None

            deadline = time.monotonic() + 60
            while not synced():
                assert time.monotonic() < deadline, "sync did not finish"
                time.sleep(0.1)
            total = Decimal(c.get("/volume/summary").json()["totals"]["all"])
            assert total == sim.history.expected_total()
            status = c.get("/sync/status").json()
            assert status["worker"]["running"] is True
            assert sim.config.api_secret not in json.dumps(status)
    finally:
        server.stop()
        worker.stop()
        sim.stop()
        store.close()


def test_through_the_real_perpvol_serve(tmp_path: Path) -> None:
    """``perpvol serve`` (uvicorn, one ASGI app) serves the API, the stream, the embed and the login; stops cleanly."""
    import os
    import signal
    import subprocess
    import sys

    from websockets.sync.client import connect as ws_connect

    from perpvol_sim.server import free_port

    root = Path(__file__).resolve().parents[2]
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    token = secrets.token_urlsafe(24)
    password = "Serve-Test.Pass!" + secrets.token_hex(2).upper()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env.update(PERPVOL_HOME=str(home), PERPVOL_API_TOKEN=token, PERPVOL_PASSWORD=password)
    created = subprocess.run(
        [sys.executable, "-m", "perpvol_cli.main", "embed", "create", "--name", "serve"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True,
    )
    embed_token = created.stdout.split("token: ", 1)[1].split()[0]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perpvol_cli.main", "serve", "--port", str(port), "--no-worker"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else "perpvol serve exited"
                try:
                    if c.get("/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "perpvol serve did not come up"
                time.sleep(0.25)
            _is_error(c.get("/api/v1/volume/summary"), 401)
            r = c.get("/api/v1/volume/summary", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and set(r.json()["totals"]) == {"24h", "7d", "30d", "all"}
            assert _is_error(c.get("/api/v1/nothing-here", headers={"Authorization": f"Bearer {token}"}), 404)
            assert c.get(f"/embed/{embed_token}.json").status_code == 200
            assert c.get(f"/embed/{embed_token}").headers["Content-Type"].startswith("text/html")
            assert c.get("/embed/" + "x" * 32).status_code == 404
            assert c.get("/app").status_code == 303
            assert c.post("/login", data={"password": password.lower()}).status_code == 401
            signed_in = c.post("/login", data={"password": password, "next": "/app"})
            assert signed_in.status_code == 303 and "perpvol_session" in signed_in.headers["set-cookie"]
            page = c.get("/app")
            assert page.status_code == 200 and "bokeh" in page.text.lower()
            c.get("/app", params={"token": "Q" * 30})  # a secret in a non-API query string
        with ws_connect(f"ws://127.0.0.1:{port}/api/v1/stream?token={token}", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "volume"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode in (0, -signal.SIGTERM), err[-2000:]  # uvicorn re-raises the signal once shut down
    assert "Application shutdown complete" in err  # the lifespan closed the store (and the worker when there is one)
    assert "access" in err and "/app?token=••••" in err and "Q" * 30 not in err  # one access log, redacted
    for text in (out, err):
        assert token not in text
        assert embed_token not in text and password not in text


def test_the_printed_generated_password_works_as_typed(tmp_path: Path) -> None:
    """``perpvol serve`` without PERPVOL_PASSWORD prints one (mixed case): typed exactly, it signs in."""
    import os
    import subprocess
    import sys

    from perpvol_sim.server import free_port

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env["PERPVOL_HOME"] = str(tmp_path / "home")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "perpvol_cli.main", "serve", "--port", str(port), "--no-worker"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        password = ""
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("password (generated"):
                password = line.rsplit(": ", 1)[1].strip()
                break
        assert len(password) >= 16
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if c.get("/login").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "perpvol serve did not come up"
                time.sleep(0.25)
            if password.lower() != password:  # the old bug: only the lower-cased form signed in
                assert c.post("/login", data={"password": password.lower()}).status_code == 401
            r = c.post("/login", data={"password": password})
            assert r.status_code == 303 and r.headers["location"] == "/app"
            assert c.get("/app").status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
