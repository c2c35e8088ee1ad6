"""The API over real HTTP derives its venue parts from the registry: the account request is one model per
credential kind (the OpenAPI document lists each), exchange choices are the registered venues, accounts carry
``complete_from``, and a request that does not fit is answered in our words (never pydantic's)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from perpvol_app import api
from perpvol_app.api_models import input_fields, secret_fields
from perpvol_app.openapi import openapi_document
from perpvol_app.server import BackgroundApp
from perpvol_core.config import Settings
from perpvol_core.exchanges import KINDS, VENUES
from perpvol_core.security.redaction import Secret

#: pydantic's own phrasing, which must never reach a client
PYDANTIC_WORDS = re.compile(
    r"Value error|String should|Input should|Field required|validation error|Extra inputs|"
    r"Unable to extract tag|Input tag|should be a valid|type=|pydantic", re.IGNORECASE,
)


class Client:
    def __init__(self, base_url: str, token: str) -> None:
        self.url = base_url + "/api/v1"
        self.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"})

    def post_account(self, **kw: Any) -> httpx.Response:
        return self.http.post(self.url + "/accounts", **kw)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    from perpvol_core.security.vault import Vault
    from perpvol_core.store import Store

    home = tmp_path_factory.mktemp("api-venues")
    token = secrets.token_urlsafe(24)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}", api_token=Secret(token))
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    for name in VENUES:  # one stored account per venue (never synced): the listing shows each
        store.add_account(f"{name}-main", name, None, b"not-a-blob", "masked")
    server = BackgroundApp(api.make_app(api.ApiContext(settings, store=store, vault=vault, use_worker=False)))
    server.start()
    c = Client(server.base_url, token)
    try:
        yield c
    finally:
        c.http.close()
        server.stop()
        store.close()


def _error(resp: httpx.Response, status: int = 400) -> dict[str, str]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "message"}
    assert not PYDANTIC_WORDS.search(body["message"]), body["message"]
    return body


def test_openapi_lists_every_credential_kind() -> None:
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    body = doc["paths"]["/api/v1/accounts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    refs = {ref["$ref"].rsplit("/", 1)[1] for ref in body.get("oneOf", [body])}
    seen = set()
    for kind, model in KINDS.items():
        name = next(n for n in refs if schemas[n]["properties"]["kind"].get("const", kind) == kind
                    and kind in (schemas[n]["properties"]["kind"].get("enum") or [kind]))  # fmt: skip
        seen.add(name)
        props = schemas[name]["properties"]
        assert set(input_fields(model)) <= set(props)
        for field in input_fields(model):
            assert bool(props[field].get("writeOnly")) == (field in secret_fields(model)), (kind, field)
        required = {f for f in input_fields(model) if model.model_fields[f].is_required()}
        assert required | {"label"} <= set(schemas[name].get("required", []))
    assert len(seen) == len(KINDS) == len(refs)
    # the exchange choices anywhere in the document are the registered venues
    exchange = schemas["Account"]["properties"]["exchange"]
    assert set(exchange.get("enum") or [exchange.get("const")]) == set(VENUES)


def test_accounts_list_every_venue_with_complete_from(client: Client) -> None:
    accounts = client.http.get(client.url + "/accounts").json()["accounts"]
    assert {a["exchange"] for a in accounts} == set(VENUES)
    for a in accounts:
        assert "complete_from" in a  # None until the first sync says from which day the history is complete
        assert a["complete_from"] is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", a["complete_from"])


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_missing_credential_field_is_named_in_our_words(client: Client, kind: str) -> None:
    model = KINDS[kind]
    required = [f for f in input_fields(model) if model.model_fields[f].is_required()]
    if not required:
        pytest.skip(f"{kind} has no required field")
    body = _error(client.post_account(json={"label": "x", "kind": kind}))
    assert body["error"] == "invalid_request"
    assert body["message"] == f"The {model.field_title(required[0])} is missing."


def test_exchange_and_kind_errors_name_the_choices(client: Client) -> None:
    names = [spec.display_name for spec in VENUES.values()]
    for payload in ({"label": "x", "exchange": "binance"}, {"label": "x"}, {"label": "x", "exchange": 7}):
        body = _error(client.post_account(json=payload))
        assert body["error"] == "invalid_exchange" and all(n in body["message"] for n in names), body
    body = _error(client.post_account(json={"label": "x", "kind": "binance_key"}))
    assert all(k in body["message"] for k in KINDS)
    daily = _error(client.http.get(client.url + "/volume/daily", params={"exchange": "binance"}))
    assert daily["error"] == "invalid_exchange" and all(n in daily["message"] for n in names)


def test_shape_errors_are_in_our_words(client: Client) -> None:
    kind, model = next(iter(KINDS.items()))
    fields = {f: "x" for f in input_fields(model)}
    field = input_fields(model)[0]
    title = model.field_title(field)
    cases = [
        ({"label": "../x", "kind": kind, **fields}, "invalid_label", "A label is"),
        ({"label": "x" * 65, "kind": kind, **fields}, "invalid_label", "A label is"),
        ({"label": 5, "kind": kind, **fields}, "invalid_label", "label"),
        ({"label": "x", "kind": kind, **fields, "colour": "gold"}, "invalid_request", "'colour' is not part of"),
        ({"label": "x", "kind": kind, **fields, field: 12}, "invalid_request", f"The {title} must be text."),
        ({"label": "x", "kind": kind, **fields, field: "y" * 20_001}, "invalid_request", f"The {title} is too long."),
        ({"label": "x", "kind": kind, **fields, "base_url": ["x"]}, "invalid_request", "must be text"),
    ]
    for payload, code, words in cases:
        body = _error(client.post_account(json=payload))
        assert body["error"] == code and words in body["message"], (payload.keys(), body)
    assert _error(client.post_account(content=b"{nope"))["message"] == "the body is not valid JSON"
    assert _error(client.post_account(json=[1]))["message"] == "the body must be a JSON object"
    for params in ({"from": "yesterday"}, {"to": "2026-02-30"}, {"market": "BTC/USDT;x"}):
        _error(client.http.get(client.url + "/volume/daily", params=params))
    _error(client.http.post(client.url + "/sync", json={"label": 5}))


def test_a_secret_sent_in_a_bad_request_is_not_echoed(client: Client) -> None:
    kind, model = next((k, m) for k, m in KINDS.items() if secret_fields(m))
    secret = "S3CRET-" + secrets.token_hex(8)
    fields = {f: secret if f in secret_fields(model) else "x" for f in input_fields(model)}
    resp = client.post_account(json={"label": "../bad", "kind": kind, **fields, "colour": secret})
    assert secret not in resp.text
    _error(resp)
