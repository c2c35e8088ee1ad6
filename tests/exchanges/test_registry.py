"""The venue registry: every spec is whole, every credential kind is a typed model with our messages and
masked secrets, the discriminated union names each kind, and a base URL off a venue's hosts is refused
before anything is sent. Runs over ``VENUES``: a venue added to the registry is tested without edits here."""

from __future__ import annotations

import http.server
import importlib
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from perpvol_core.exchanges import (
    KINDS,
    VENUES,
    BaseUrlRefused,
    CredentialsInvalid,
    check_base_url,
    credential_union,
    load,
    make_connector,
    parse_credentials,
    stored_credentials,
    venue_hosts,
)
from perpvol_core.security.credentials import credentials_to_dict
from perpvol_core.security.redaction import Secret

#: values every field of today's kinds accepts (0x-hex of 40 digits: an address, a key, a token): one for the
#: secret fields, another for the public ones (shown in hints and lists)
SAMPLE = "0x" + "ab" * 20
PUBLIC = "0x" + "cd" * 20
PYDANTIC_WORDS = re.compile(r"(?i)validation error|field required|pydantic|input_value|type=|errors\.pydantic")


def _fields(model: Any) -> list[str]:
    return [name for name in model.model_fields if name != "kind"]


def _secret_fields(model: Any) -> list[str]:
    sample = model.model_validate({name: SAMPLE for name in _fields(model)})
    return [name for name in _fields(model) if isinstance(getattr(sample, name), Secret)]


def _good(model: Any) -> dict[str, str]:
    secrets = _secret_fields(model)
    return {name: SAMPLE if name in secrets else PUBLIC for name in _fields(model)}


@pytest.mark.parametrize("name", list(VENUES))
def test_every_spec_is_whole(name: str) -> None:
    spec = VENUES[name]
    assert spec.name == name and spec.display_name
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", spec.colour)
    assert httpx.URL(spec.default_base_url).host in venue_hosts(name)
    assert spec.default_base_url.startswith("https://")
    for path in (spec.connector, spec.stream, spec.identity, *([spec.tier_source] if spec.tier_source else [])):
        assert callable(load(path)), path
    assert spec.credential_kinds and all(model.exchange == name for model in spec.credential_kinds)
    importlib.import_module(f"perpvol_sim.{spec.simulator}")  # where its simulator lives


def test_colours_and_kinds_are_distinct() -> None:
    colours = [spec.colour.lower() for spec in VENUES.values()]
    assert len(set(colours)) == len(colours)
    kinds = [model.model_fields["kind"].default for spec in VENUES.values() for model in spec.credential_kinds]
    assert len(set(kinds)) == len(kinds) == len(KINDS)


def test_the_union_names_every_kind() -> None:
    schema = TypeAdapter(credential_union()).json_schema()
    text = json.dumps(schema)
    for kind, model in KINDS.items():
        assert f'"{kind}"' in text and model.__name__ in text
    if len(KINDS) > 1:
        assert schema["discriminator"]["propertyName"] == "kind"
    for kind, model in KINDS.items():  # the union reads each kind as its own model
        parsed = TypeAdapter(credential_union()).validate_python({"kind": kind, **_good(model)})
        assert type(parsed) is model


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_kind_round_trips_with_its_secrets_masked(kind: str) -> None:
    model = KINDS[kind]
    creds = parse_credentials({"kind": kind, **_good(model)})
    assert type(creds) is model and creds.model_config.get("frozen") and creds.exchange in VENUES
    secrets = _secret_fields(model)
    assert tuple(secrets) == model.secret_fields()
    shown = [repr(creds), str(creds), creds.hint, creds.model_dump_json(), json.dumps(creds.model_dump(mode="json"))]
    for field in secrets:
        value = getattr(creds, field)
        assert value.reveal() == SAMPLE
        assert all(SAMPLE not in text for text in shown), shown
    plain = credentials_to_dict(creds)  # the vault's input, and only it, holds the secrets in clear
    assert plain["kind"] == kind and all(plain[f] == SAMPLE for f in secrets)
    assert stored_credentials(plain) == creds
    with pytest.raises(Exception):  # noqa: B017 - frozen: pydantic raises its ValidationError
        creds.kind = "other"  # type: ignore[misc]


@pytest.mark.parametrize("kind", list(KINDS))
def test_missing_extra_and_malformed_fields_get_our_words(kind: str) -> None:
    model = KINDS[kind]
    good = _good(model)
    cases: list[tuple[dict[str, Any], str | None]] = []
    for field in _fields(model):
        cases.append(({k: v for k, v in good.items() if k != field}, field))  # missing
        cases.append(({**good, field: 12345}, field))  # not text
        cases.append(({**good, field: good[field] + " x"}, field))  # whitespace inside: never a key
        cases.append(({**good, field: good[field] + "\x00"}, field))  # an unprintable character
    cases.append(({**good, "unexpected": "x"}, "unexpected"))
    for data, field in cases:
        with pytest.raises(CredentialsInvalid) as err:
            parse_credentials({"kind": kind, **data})
        message = str(err.value)
        assert err.value.field == field, (data, message)
        assert message[0].isupper(), message
        assert not PYDANTIC_WORDS.search(message), message
        assert SAMPLE not in message  # a secret pasted wrong is never echoed


def test_unknown_kind_and_exchange_are_refused_in_our_words() -> None:
    for data, kwargs, field in [({"kind": "nope"}, {}, "kind"), ({}, {"exchange": "nope"}, "exchange"),
                                ({"kind": next(iter(KINDS))}, {"exchange": "nope"}, "kind")]:  # fmt: skip
        with pytest.raises(CredentialsInvalid) as err:
            parse_credentials(data, **kwargs)
        assert err.value.field == field and not PYDANTIC_WORDS.search(str(err.value))


@pytest.mark.parametrize("name", list(VENUES))
def test_the_kind_is_the_one_whose_fields_are_given(name: str) -> None:
    for model in VENUES[name].credential_kinds:
        fields = dict.fromkeys(_fields(model), SAMPLE)
        assert type(parse_credentials({**fields, "ignored": None}, exchange=name)) is model
    if len(VENUES[name].credential_kinds) > 1:  # fields of two kinds at once: which one is meant is unclear
        mixed = {f: SAMPLE for m in VENUES[name].credential_kinds for f in _fields(m)}
        with pytest.raises(CredentialsInvalid) as err:
            parse_credentials(mixed, exchange=name)
        assert err.value.field is None and "one" in str(err.value)


def test_stored_kinds_of_earlier_versions_still_load() -> None:
    # what the vault holds in existing databases: the kinds and fields of the dataclasses before the registry
    stored = [
        {"kind": "woox", "api_key": "k", "api_secret": "s"},
        {"kind": "paradex_token", "token": "eyJ.a.b"},
        {"kind": "paradex_l2", "account": "0xabc", "l2_key": "0x1"},
    ]
    for data in stored:
        creds = stored_credentials(data)
        assert credentials_to_dict(creds) == data  # exactly as stored
    # a rule made stricter later never makes stored credentials unreadable
    kept = stored_credentials({"kind": "woox", "api_key": "key with space", "api_secret": "s"})
    assert kept.api_key == "key with space"


# -- the base URL rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VENUES))
def test_base_urls_on_the_venue_or_loopback_only(name: str) -> None:
    for host in venue_hosts(name):
        check_base_url(name, f"https://{host}")
        check_base_url(name, f"https://{host}/v1")
        with pytest.raises(BaseUrlRefused):
            check_base_url(name, f"http://{host}")  # never in clear to a venue
    for url in ("http://127.0.0.1:9", "https://127.3.2.1", "http://[::1]:80/x", "http://localhost:1", None):
        check_base_url(name, url)
    others = [h for n in VENUES if n != name for h in venue_hosts(n) if h not in venue_hosts(name)]
    for url in ["https://0.0.0.0", "http://10.0.0.1", "https://example.com", "https://api.example.org",
                "ftp://127.0.0.1", "https://localhost.example.com", *[f"https://{h}" for h in others]]:  # fmt: skip
        with pytest.raises(BaseUrlRefused) as err:
            check_base_url(name, url)
        assert all(host in str(err.value) for host in venue_hosts(name))


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Records every request; answers 401 with a body that must never reach an error message."""

    seen: list[str] = []
    BODY = b'{"error": "LISTENER-BODY-TEXT that only a venue host may echo"}'

    def _answer(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), handler)  # noqa: S104 - reached as 0.0.0.0 below
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_refused_base_url_is_never_contacted(kind: str, listener: tuple[int, list[str]]) -> None:
    port, seen = listener
    refused = f"http://0.0.0.0:{port}"  # not a loopback name, yet it reaches this machine's listener
    assert httpx.get(refused).status_code == 401 and len(seen) == 1  # the URL would reach the listener
    model = KINDS[kind]
    creds = model.model_validate(_good(model))
    with pytest.raises(BaseUrlRefused):
        make_connector(creds, refused)
    from perpvol_core.services import accounts

    with pytest.raises(accounts.AccountInputError) as err:
        accounts.validate_base_url(model.exchange, refused)
    assert err.value.field == "base_url"
    assert len(seen) == 1  # nothing more was sent


def test_error_bodies_are_echoed_only_from_venue_hosts(listener: tuple[int, list[str]]) -> None:
    port, seen = listener
    from perpvol_core.exchanges import ExchangeError

    for name in VENUES:
        model = VENUES[name].credential_kinds[0]
        creds = model.model_validate(_good(model))
        connector = make_connector(creds, f"http://127.0.0.1:{port}", max_attempts=1)
        try:
            with pytest.raises(ExchangeError) as err:
                connector.validate()
        finally:
            connector.close()
        assert seen and "LISTENER-BODY-TEXT" not in str(err.value)
