"""The one account path: full-string validation, and one real account stored once, through the service,
the CLI (a real process), the API (Tornado over HTTP) and the dashboard's key form; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from perpvol_core.config import Settings
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services import accounts
from perpvol_core.services.accounts import AccountInputError, AccountRequest, DuplicateAccount
from perpvol_core.store import AccountExists, Store
from perpvol_sim.history import History
from perpvol_sim.paradex import ParadexSim
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim


@pytest.mark.parametrize("label", ["abc\n", "abc\r\n", "\nabc", "a b", "-abc", "", "x" * 65, "ab/c", "ab\x00", "é"])
def test_bad_labels_are_refused(label: str) -> None:
    with pytest.raises(AccountInputError) as err:
        accounts.validate_label(label)
    assert err.value.field == "label" and "label" in str(err.value).lower()


def test_good_labels_pass() -> None:
    assert accounts.validate_label("main-woox") == "main-woox"
    assert accounts.validate_label(" a.b_c ") == "a.b_c"
    assert accounts.validate_label("x" * 64) == "x" * 64


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "http://", "https://user:pw@host", "https://host/?q=1", "https://host/#f", "https://host\n",
     "https://ho st", "javascript:alert(1)", "https://host:99999", "https://host/a b", "//host"],
)  # fmt: skip
def test_bad_base_urls_are_refused(url: str) -> None:
    with pytest.raises(AccountInputError) as err:
        accounts.validate_base_url(url)
    assert err.value.field == "base_url"


def test_good_base_urls_pass() -> None:
    assert accounts.validate_base_url("woox", "https://api.staging.woox.io/") == "https://api.staging.woox.io"
    assert accounts.validate_base_url("paradex", "http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"
    assert accounts.validate_base_url("woox", None) is None and accounts.validate_base_url("woox", "") is None
    assert accounts.validate_base_url("https://api.woo.org") == "https://api.woo.org"  # the URL alone: any venue's
    for exchange, url in (("paradex", "https://api.woox.io"), ("woox", "https://example.com")):
        with pytest.raises(AccountInputError) as err:  # another venue's host, or no venue's: refused
            accounts.validate_base_url(exchange, url)
        assert err.value.field == "base_url"


@pytest.mark.parametrize("market", ["PERP_BTC_USDT\n", "BTC/USD", "", "x" * 81, "BTC USD"])
def test_bad_markets_are_refused(market: str) -> None:
    with pytest.raises(AccountInputError):
        accounts.validate_market(market)
    assert accounts.validate_market("BTC-USD-PERP") == "BTC-USD-PERP"


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (AccountRequest("woox", "w", api_secret=Secret("s" * 20)), "api_key"),
        (AccountRequest("woox", "w", api_key="k"), "api_secret"),
        (AccountRequest("woox", "w", api_key="k", api_secret=Secret("two words here")), "api_secret"),
        (AccountRequest("woox", "w", api_key="k", api_secret=Secret("s" * 20 + "\n")), "api_secret"),
        (AccountRequest("paradex", "p", account="0x12zz", l2_key=Secret("0x1")), "account"),
        (AccountRequest("paradex", "p", account="0xabc\n", l2_key=Secret("0x1")), "account"),
        (AccountRequest("paradex", "p", account="0xabc", l2_key=Secret("0x1g")), "l2_key"),
        (AccountRequest("paradex", "p", token=Secret("")), "token"),
        (AccountRequest("paradex", "p", token=Secret("A" * 20000)), "token"),
        (AccountRequest("kraken", "k"), "exchange"),
    ],
)
def test_credential_shapes_are_checked(req: AccountRequest, field: str) -> None:
    with pytest.raises(AccountInputError) as err:
        accounts.build_credentials(req)
    assert err.value.field == field
    assert "--" not in str(err.value)  # the form's words, never a CLI flag


@pytest.fixture
def woox_sim():
    sim = WooxSim(History("woox", 41, 60, days=20))
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def paradex_sim():
    sim = ParadexSim(History("paradex", 42, 60, days=20))
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def _woox(label: str, sim: WooxSim) -> AccountRequest:
    return AccountRequest("woox", label, api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET),
                          base_url=sim.base_url)  # fmt: skip


def test_the_same_account_under_two_labels_is_refused(settings: Settings, woox_sim, paradex_sim) -> None:
    from perpvol_sim.paradex import DEMO_L2_PRIVATE_KEY

    store = Store.open(settings)
    vault = Vault.open(settings, store)
    try:
        first = accounts.add_account(store, vault, _woox("first", woox_sim))
        host = woox_sim.base_url.removeprefix("http://")
        assert first.identity == f"{woox_sim.config.application_id.lower()}@{host}"
        with pytest.raises(DuplicateAccount) as err:
            accounts.add_account(store, vault, _woox("second", woox_sim))
        assert err.value.existing_label == "first" and "'first'" in str(err.value)
        with pytest.raises(AccountExists):
            accounts.add_account(store, vault, _woox("first", woox_sim))
        replaced = accounts.add_account(store, vault, _woox("first", woox_sim), replace=True)  # a new key: updates
        assert replaced.identity == first.identity
        # Paradex: a read-only token and the L2 key of the same account are one account
        token = paradex_sim.mint_read_only_token("t")
        px = accounts.add_account(store, vault, AccountRequest("paradex", "px", token=Secret(token),
                                                               base_url=paradex_sim.api_url))  # fmt: skip
        assert px.identity == f"{hex(paradex_sim.account)}@{paradex_sim.base_url.removeprefix('http://')}"
        l2 = AccountRequest("paradex", "px-l2", account=hex(paradex_sim.account),
                            l2_key=Secret(hex(DEMO_L2_PRIVATE_KEY)), base_url=paradex_sim.api_url)  # fmt: skip
        with pytest.raises(DuplicateAccount) as err:
            accounts.add_account(store, vault, l2)
        assert err.value.existing_label == "px"
        assert sorted(a.label for a in store.list_accounts()) == ["first", "px"]
        tested = accounts.test_account(store, vault, "first")
        assert tested.identity == first.identity and tested.duplicate_of is None
        # a legacy second label (stored before identities) is named by keys test, not silently counted
        legacy = store.add_account("legacy", "woox", woox_sim.base_url, vault.encrypt(accounts.build_credentials(
            _woox("legacy", woox_sim)), label="legacy", base_url=woox_sim.base_url), "h")  # fmt: skip
        assert legacy.identity is None
        assert accounts.test_account(store, vault, "legacy").duplicate_of == "first"
        accounts.remove_account(store, "legacy")
        with pytest.raises(AccountInputError):
            accounts.remove_account(store, "legacy\n")
    finally:
        store.close()


def test_a_subkey_is_its_main_account_and_servers_hold_different_accounts(settings: Settings, paradex_sim) -> None:
    from perpvol_core.exchanges.paradex import credentials
    from perpvol_core.exchanges.paradex import starknet as stark
    from perpvol_sim.paradex import demo_subkey_private_key

    subkey = demo_subkey_private_key(3)
    paradex_sim.add_subkey(paradex_sim.account, stark.public_key_from_private(subkey))
    other = ParadexSim(History("paradex", 43, 30, days=10))  # another server: same address, another account
    other.start()
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    try:
        token = AccountRequest("paradex", "main", token=Secret(paradex_sim.mint_read_only_token("m")),
                               base_url=paradex_sim.api_url)  # fmt: skip
        accounts.add_account(store, vault, token)
        sub = AccountRequest("paradex", "sub", account=hex(paradex_sim.account), l2_key=Secret(hex(subkey)),
                             base_url=paradex_sim.api_url)  # fmt: skip
        with pytest.raises(DuplicateAccount) as err:
            accounts.add_account(store, vault, sub)
        assert err.value.existing_label == "main"
        elsewhere = accounts.add_account(store, vault, AccountRequest(
            "paradex", "elsewhere", token=Secret(other.mint_read_only_token("o")), base_url=other.api_url))
        assert elsewhere.identity != store.get_account("main").identity
        assert elsewhere.identity.startswith(hex(paradex_sim.account) + "@")
        assert isinstance(accounts.build_credentials(sub), credentials.ParadexL2Credentials)
    finally:
        store.close()
        other.stop()


def test_legacy_woox_domain_is_the_same_server() -> None:
    assert accounts._server("woox", "https://api.woo.org") == accounts._server("woox", None) == "api.woox.io"
    assert accounts._server("woox", "https://api.staging.woox.io") != accounts._server("woox", None)


def _cli_env(tmp_path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env.update(PERPVOL_HOME=str(tmp_path / "home"), PERPVOL_DATABASE_URL=db_url)
    return env


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perpvol_cli.main", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip


def test_cli_refuses_the_same_account_twice_and_a_newline_label(tmp_path, db_url: str, woox_sim) -> None:
    env = _cli_env(tmp_path, db_url)
    add = ["keys", "add", "woox", "--api-key", DEMO_API_KEY, "--api-secret-stdin", "--base-url", woox_sim.base_url]
    first = _cli(env, *add, "--label", "first", stdin=DEMO_API_SECRET)
    assert first.returncode == 0, first.stderr
    second = _cli(env, *add, "--label", "second", stdin=DEMO_API_SECRET)
    assert second.returncode == 1 and "already stored as 'first'" in second.stderr, second.stderr
    newline = _cli(env, *add, "--label", "third\n", stdin=DEMO_API_SECRET)
    assert newline.returncode == 2 and newline.stderr.startswith("perpvol: error:") and "--label" in newline.stderr
    assert "Traceback" not in second.stderr + newline.stderr and DEMO_API_SECRET not in second.stderr
    listed = _cli(env, "keys", "list", "--json")
    import json

    (row,) = json.loads(listed.stdout)
    assert row["label"] == "first" and row["identity"].startswith(woox_sim.config.application_id.lower() + "@")
    assert row["display_name"] == "WOO X" and row["fills"] == 0
    days = _cli(env, "sync", "--days", "0")
    assert days.returncode == 2 and "--days" in days.stderr


def test_api_refuses_the_same_account_twice_and_a_newline_label(tmp_path, woox_sim) -> None:
    from perpvol_app import api
    from perpvol_app.server import BackgroundApp

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    token = "api-token-" + "x" * 20
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}", api_token=Secret(token))
    store = Store.open(settings)
    server = BackgroundApp(api.make_app(api.ApiContext(settings, store=store, vault=Vault.open(settings, store),
                                                       use_worker=False)))  # fmt: skip
    server.start()
    try:
        with httpx.Client(base_url=server.base_url + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as c:  # fmt: skip
            body = {"exchange": "woox", "api_key": DEMO_API_KEY, "api_secret": DEMO_API_SECRET,
                    "base_url": woox_sim.base_url}  # fmt: skip
            assert c.post("/accounts", json={**body, "label": "first"}).status_code == 201
            dup = c.post("/accounts", json={**body, "label": "second"})
            assert dup.status_code == 409 and dup.json()["error"] == "conflict"
            assert "'first'" in dup.json()["message"] and DEMO_API_SECRET not in dup.text
            newline = c.post("/accounts", json={**body, "label": "third\n"})
            assert newline.status_code == 400 and newline.json()["error"] == "invalid_label"
            listed = c.get("/accounts").json()["accounts"]
            assert [a["label"] for a in listed] == ["first"] and listed[0]["display_name"] == "WOO X"
            assert c.delete("/accounts/first%0A").status_code == 400
    finally:
        server.stop()
        store.close()


def test_dashboard_form_refuses_the_same_account_twice_and_a_newline_label(sqlite_settings, paradex_sim) -> None:
    from perpvol_app.ui.components.context import AppContext
    from perpvol_app.ui.components.keys import KeyManager

    store = Store.open(sqlite_settings)
    try:
        km = KeyManager(context=AppContext(settings=sqlite_settings, store=store))
        add = {"kind": "paradex_token", "base_url": paradex_sim.api_url}
        assert asyncio.run(km.add(label="px", token=paradex_sim.mint_read_only_token("a"), **add)), km.message
        token = paradex_sim.mint_read_only_token("b")
        assert not asyncio.run(km.add(label="px-again", token=token, **add))
        assert km.message_kind == "error" and "already stored as 'px'" in km.message
        assert "px-again" not in km._accounts_message.object and "already stored" in km._message.object
        assert token not in km._message.object
        assert not asyncio.run(km.add(label="px\n", token=token, **add))
        assert "label" in km.message.lower() and "--" not in km.message
        assert not asyncio.run(km.add(label="px", token=token, **add))  # label taken: the form's own words
        assert "Replace the credentials of this label" in km.message and "--replace" not in km.message
        assert [a.label for a in store.list_accounts()] == ["px"]
        # the exchange's own words come through readable; only the value typed is masked
        junk = "not-a-token-at-all-0123"
        assert not asyncio.run(km.add(label="junk", token=junk, **add))
        assert "malformed jwt: token contains an invalid number of segments" in km.message, km.message
        assert junk not in km.message and junk not in km._message.object
    finally:
        store.close()


def test_redaction_keeps_prose_and_masks_values() -> None:
    from perpvol_core.security.redaction import redact

    prose = "missing or malformed jwt: token contains an invalid number of segments"
    assert redact(prose) == prose
    assert "abcdefghijklmnop1234" not in redact("token: abcdefghijklmnop1234")
    assert "s3cr3t" not in redact("password=s3cr3t") and "xyz" not in redact('{"token": "xyz"}')
