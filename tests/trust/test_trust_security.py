"""Security: after adding credentials (CLI and API), syncing and serving, no secret's bytes are anywhere.

Scanned for every secret in raw, base64 (standard and URL-safe, with and without padding) and hex forms:
the SQLite file (and its WAL), or a dump of every text/bytea column on PostgreSQL; every file under
PERPVOL_HOME except the master key file itself; every log record (DEBUG, ``perpvol -v``); every HTTP
response of the API routes; the WebSocket messages. Also: every route of the OpenAPI document except
``/health`` refuses without the token; file modes; the embed module does not load the vault; pip-audit.

Already covered elsewhere (not repeated): wrong key / tampered ciphertext / rotation (tests/security/test_vault.py),
the dashboard DOM and browser WebSocket frames (tests/ui/test_browser.py), the read-only view never importing
the vault nor creating a key file (tests/ui/test_notebooks.py), embed without a working vault (test_embed.py).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from perpvol_app.server import BackgroundApp
from perpvol_sim.server import BackgroundServer

ROOT = Path(__file__).resolve().parents[2]


def secret_forms(secret: str) -> set[bytes]:
    """The byte patterns that would reveal ``secret``: raw, base64 (std/urlsafe, padded or not), hex."""
    raw = secret.encode()
    forms = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for enc in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms.add(enc)
        forms.add(enc.rstrip(b"="))
    if secret.startswith("0x"):  # a hex key: also its digits alone and its integer's bytes
        digits = secret[2:].lower().lstrip("0")
        forms.add(digits.encode())
        forms.add(int(digits, 16).to_bytes((len(digits) * 4 + 7) // 8, "big"))
    # a long base64 secret: also the decoded bytes
    try:
        decoded = base64.b64decode(secret, validate=True)
        if len(decoded) >= 8:
            forms.add(decoded)
    except (binascii.Error, ValueError):
        pass
    return {f for f in forms if len(f) >= 8}


def find_secrets(blob: bytes, named: dict[str, str]) -> list[str]:
    hits = []
    for name, secret in named.items():
        for form in secret_forms(secret):
            if form in blob:
                hits.append(f"{name} (form {form[:12]!r}…)")
                break
    return hits


def dump_database(store: Any) -> bytes:
    """Every value of every column of every table, as bytes (the PostgreSQL 'dump' via SELECT)."""
    import sqlalchemy as sa

    engine = store._engine  # reading the raw rows is the point here
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    out = io.BytesIO()
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        out.write(bytes(value))
                    elif value is not None:
                        out.write(str(value).encode())
                    out.write(b"\x00")
    return out.getvalue()


def _run_cli(argv: list[str], stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perpvol_cli.main", "-v", *argv], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def test_no_secret_anywhere_after_add_sync_and_serve(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from websockets.sync.client import connect as ws_connect

    from perpvol_app import api
    from perpvol_app.openapi import openapi_document
    from perpvol_core.config import Settings
    from perpvol_core.security.redaction import Secret
    from perpvol_core.security.vault import Vault
    from perpvol_core.services.events import EventBus
    from perpvol_core.services.worker import Worker
    from perpvol_core.store import Store
    from perpvol_sim.history import History
    from perpvol_sim.paradex import DEMO_L2_PRIVATE_KEY, ParadexSim
    from perpvol_sim.woox import WooxSim

    caplog.set_level(logging.DEBUG)
    woox_secret = secrets.token_hex(14).upper()  # WOO X secrets look like this: 28 upper-case characters
    woox = WooxSim(History("woox", 4, 150, days=30), api_key=secrets.token_urlsafe(16), api_secret=woox_secret)
    paradex = ParadexSim(History("paradex", 4, 150, days=30))
    woox.start()
    paradex.start()
    home = tmp_path / "home"
    api_token = secrets.token_urlsafe(24)
    # a second account's token: the L2 key below is the primary account's, and one account is stored once
    paradex_token = paradex.mint_read_only_token("security", account=paradex.account + 1)
    named = {"woox api secret": woox_secret, "paradex read-only token": paradex_token,
             "paradex L2 key": hex(DEMO_L2_PRIVATE_KEY), "api token": api_token}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env.update(PERPVOL_HOME=str(home), PERPVOL_DATABASE_URL=db_url)
    cli_out: list[str] = []
    try:
        # -- credentials through the CLI (secrets on stdin), verbose logging on
        for argv, stdin in (
            (["keys", "add", "paradex", "--label", "px-token", "--token-stdin", "--base-url", paradex.api_url],
             paradex_token),
            (["keys", "add", "paradex", "--label", "px-l2", "--account", hex(paradex.account), "--l2-key-stdin",
              "--base-url", paradex.api_url], hex(DEMO_L2_PRIVATE_KEY)),
            (["keys", "list", "--json"], ""),
        ):
            proc = _run_cli(argv, stdin, env)
            assert proc.returncode == 0, proc.stderr[-2000:]
            cli_out += [proc.stdout, proc.stderr]
        settings = Settings(home=home, database_url=db_url, api_token=Secret(api_token))
        store = Store.open(settings)
        vault = Vault.open(settings, store)
        bus = EventBus()
        worker = Worker(settings, store=store, vault=vault, interval_s=3600, days=40)
        worker.engine.bus = bus
        server = BackgroundApp(api.make_app(api.ApiContext(settings, store=store, vault=vault, worker=worker,
                                                              bus=bus)))
        server.start()
        responses: list[bytes] = []
        ws_messages: list[str] = []
        try:
            auth = {"Authorization": f"Bearer {api_token}"}
            with httpx.Client(base_url=server.base_url + "/api/v1", headers=auth, timeout=60) as c:
                # -- credentials through the API (a wrong secret first, then the right one)
                body = {"label": "wx", "exchange": "woox", "base_url": woox.base_url, "api_key": woox.config.api_key}
                wrong = c.post("/accounts", json={**body, "api_secret": woox_secret[::-1]})
                assert wrong.status_code == 422
                responses.append(wrong.content)
                named["wrong woox secret"] = woox_secret[::-1]
                created = c.post("/accounts", json={**body, "api_secret": woox_secret})
                assert created.status_code == 201, created.text
                responses.append(created.content)
                # -- sync everything, then read every route
                results = worker.run_once()
                assert all(r.ok for r in results), [r.error for r in results]
                with ws_connect(f"{server.ws_url}/api/v1/stream?token={api_token}", open_timeout=10) as ws:
                    for _ in range(3):
                        try:
                            ws_messages.append(str(ws.recv(timeout=2)))
                        except TimeoutError:
                            break
                for path, ops in openapi_document()["paths"].items():
                    concrete = path.removeprefix("/api/v1").replace("{label}", "px-l2").replace("{token}", "x" * 20)
                    if "stream" in path or not concrete.startswith("/"):
                        continue
                    for method in ops:
                        if method == "delete":
                            continue
                        resp = c.request(method.upper(), concrete, json={} if method == "post" else None)
                        responses.append(resp.content + json.dumps(dict(resp.headers)).encode())
                responses.append(c.get("/openapi.json").content)
        finally:
            server.stop()
            worker.stop()
        # -- scan
        db_blob = dump_database(store)
        store.close()
        hits: dict[str, list[str]] = {"database": find_secrets(db_blob, named)}
        for path in home.rglob("*"):
            if path.is_file() and path.name != "master.key":
                hits[f"file {path.relative_to(home)}"] = find_secrets(path.read_bytes(), named)
        # (the test's own stream client logs its request line, which carries the token it was given)
        records = [r for r in caplog.records if not (r.name.startswith("websockets.client")
                                                     and "/api/v1/stream" in r.getMessage())]
        log_text = "\n".join(r.getMessage() + " " + str(r.args) for r in records)
        hits["logs"] = find_secrets(log_text.encode(), named)
        if hits["logs"]:
            leaking = [f"{r.name}: {r.getMessage()[:300]}" for r in records
                       if find_secrets((r.getMessage() + " " + str(r.args)).encode(), named)]
            hits["logs"].extend(leaking[:3])
        hits["cli output (-v)"] = find_secrets("\n".join(cli_out).encode(), named)
        hits["api responses"] = find_secrets(b"\n".join(responses), named)
        hits["websocket"] = find_secrets("\n".join(ws_messages).encode(), named)
        assert ws_messages, "the stream sent nothing"
        assert len(responses) >= 10
        leaks = {where: found for where, found in hits.items() if found}
        assert not leaks, leaks
        # the master key's bytes are in its file only
        key_file = home / "master.key"
        assert key_file.exists()
        key_text = key_file.read_text().strip()
        assert key_text.encode() not in db_blob
    finally:
        woox.stop()
        paradex.stop()


def test_every_api_route_but_health_refuses_without_auth(tmp_path: Path) -> None:
    """Enumerated from the OpenAPI document (tests/api/test_api.py checks a fixed list)."""
    from perpvol_app import api
    from perpvol_app.openapi import openapi_document
    from perpvol_core.config import Settings
    from perpvol_core.security.redaction import Secret
    from perpvol_core.store import Store

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    token = secrets.token_urlsafe(24)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}", api_token=Secret(token))
    store = Store.open(settings)
    server = BackgroundApp(api.make_app(api.ApiContext(settings, store=store, use_worker=False)))
    server.start()
    checked = 0
    try:
        with httpx.Client(timeout=30) as c:
            for path, ops in openapi_document()["paths"].items():
                if not path.startswith("/api/v1"):
                    continue
                url = server.base_url + path.replace("{label}", "someone").replace("{token}", "t" * 20)
                for method in ops:
                    for headers in ({}, {"Authorization": "Bearer " + token[::-1]}, {"Authorization": token},
                                    {"Authorization": f"Basic {base64.b64encode(f'x:{token}'.encode()).decode()}"}):
                        r = c.request(method.upper(), url, headers=headers, json={} if method != "get" else None)
                        if path == "/api/v1/health":
                            assert r.status_code == 200
                            continue
                        assert r.status_code == 401, (method, path, headers, r.status_code)
                        assert token not in r.text
                        checked += 1
    finally:
        server.stop()
        store.close()
    assert checked >= 40


def test_file_modes_after_keys_add(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"  # does not exist: the CLI creates it
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env["PERPVOL_HOME"] = str(home)
    proc = _run_cli(["keys", "add", "woox", "--label", "w", "--api-key", "k" * 20, "--api-secret-stdin",
                     "--no-test"], "S" * 28, env)
    assert proc.returncode == 0, proc.stderr
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(home) == 0o700
    assert mode(home / "master.key") == 0o600
    assert mode(home / "perpvol.db") == 0o600
    for extra in home.glob("perpvol.db-*"):
        assert mode(extra) == 0o600, extra


def test_embed_and_readonly_modules_do_not_load_the_vault() -> None:
    # the credential kinds' models (perpvol_core.security.credentials) are part of the venue registry: shapes
    # only, no key and no ciphertext; the vault and the cipher never load
    code = (
        "import sys, perpvol_core.analytics.embed, perpvol_app.ui.readonly; "
        "bad = [m for m in ('perpvol_core.security.vault', 'perpvol_core.security.key_file', 'cryptography', "
        "'cryptography.hazmat.primitives.ciphers.aead') if m in sys.modules]; print(bad)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", proc.stdout


@pytest.mark.slow
def test_pip_audit_finds_no_known_vulnerability_in_the_pins() -> None:
    """`make trust`: audits every pin when an advisory service answers; skips, saying so, when none does.

    Not in `make test`: on a machine that reaches only the package index (this one) pip-audit spends minutes
    failing to reach PyPI's advisory API and OSV, and a skip in CI would pass for a check that never ran.
    """
    pip_audit = Path(sys.executable).with_name("pip-audit")
    proc = subprocess.run(
        [str(pip_audit), "-r", str(ROOT / "constraints.txt"), "--no-deps", "--progress-spinner", "off"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    # "No known vulnerabilities" means nothing when the advisory service could not be asked about a package
    unaudited = [line.split()[0] for line in proc.stdout.splitlines() if "could not be audited" in line]
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line]
    if unaudited and len(unaudited) >= 0.9 * len(pins):  # not a partial answer: no service answered at all
        # this machine reaches the package index but not PyPI's JSON/advisory API nor OSV: nothing was asked
        pytest.skip(f"pip-audit could reach no advisory service here ({len(unaudited)} packages unaudited)")
    assert proc.returncode == 0, f"pip-audit exit {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    assert not unaudited, f"{len(unaudited)} pinned package(s) not audited (advisory data unreachable): {unaudited[:5]}"


def test_a_database_edit_of_base_url_cannot_exfiltrate_a_credential(tmp_path: Path, db_url: str) -> None:
    """Someone who can write the database points an account at their host: nothing is ever sent there."""
    import sqlalchemy as sa
    import tornado.web

    from perpvol_app import api
    from perpvol_core.config import Settings
    from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
    from perpvol_core.exchanges.woox.credentials import WooxCredentials
    from perpvol_core.security.redaction import Secret
    from perpvol_core.security.vault import Vault
    from perpvol_core.services.sync import SyncEngine
    from perpvol_core.store import Store
    from perpvol_core.store import models as m
    from perpvol_sim.history import History
    from perpvol_sim.paradex import ParadexSim
    from perpvol_sim.woox import WooxSim

    seen: list[str] = []

    class Capture(tornado.web.RequestHandler):
        def prepare(self) -> None:  # the attacker's host records everything it receives
            seen.append(f"{self.request.method} {self.request.uri} {dict(self.request.headers)} {self.request.body!r}")
            self.finish("{}")

    attacker = BackgroundServer(tornado.web.Application([(r"/.*", Capture)]))
    attacker.start()
    paradex = ParadexSim(History("paradex", 7, 60, days=20))
    woox = WooxSim(History("woox", 7, 60, days=20))
    paradex.start()
    woox.start()
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    api_token = secrets.token_urlsafe(24)
    settings = Settings(home=home, database_url=db_url, api_token=Secret(api_token))
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    token = paradex.mint_read_only_token("exfil")
    px = ParadexTokenCredentials(token=Secret(token))
    wx = WooxCredentials(api_key=woox.config.api_key, api_secret=Secret(woox.config.api_secret))
    px_blob = vault.encrypt(px, label="px", base_url=paradex.api_url)
    store.add_account("px", "paradex", paradex.api_url, px_blob, px.hint)
    store.add_account("wx", "woox", woox.base_url, vault.encrypt(wx, label="wx", base_url=woox.base_url), wx.hint)
    server = None
    try:
        with store._engine.begin() as conn:  # the edit, outside perpvol
            conn.execute(m.accounts.update().where(m.accounts.c.label == "px").values(
                base_url=attacker.base_url + "/v1"))
        engine = SyncEngine(store, Vault.open(settings, store))
        try:
            results = {r.label: r for r in engine.sync(days=30)}
        finally:
            engine.close()
        assert results["wx"].ok  # the untouched account still syncs
        assert not results["px"].ok and "outside perpvol" in str(results["px"].error)
        account = store.get_account("px")
        assert account.status == "error" and "outside perpvol" in (account.last_error or "")
        # the API says the same for that account only, and still sends nothing anywhere
        server = BackgroundApp(api.make_app(api.ApiContext(settings, store=store, vault=vault, use_worker=False)))
        server.start()
        r = httpx.post(f"{server.base_url}/api/v1/accounts/px/test", headers={"Authorization": f"Bearer {api_token}"},
                       timeout=30)
        assert r.status_code == 409 and r.json()["error"] == "credentials_mismatch" and token not in r.text
        assert seen == [], seen[:2]  # not one request reached the attacker's host
        with store._engine.connect() as conn:  # and the blob itself is untouched (the row's owner can re-add it)
            assert conn.execute(sa.select(m.accounts.c.credentials).where(m.accounts.c.label == "px")).scalar()
    finally:
        if server is not None:
            server.stop()
        attacker.stop()
        paradex.stop()
        woox.stop()
        store.close()


def test_changing_an_accounts_url_re_encrypts_it(tmp_path: Path) -> None:
    """Through the account paths (CLI ``keys add --replace --base-url``, the demo's upsert) the blob follows the URL."""
    import dataclasses

    from perpvol_core.config import Settings
    from perpvol_core.exchanges.woox.credentials import WooxCredentials
    from perpvol_core.security.redaction import Secret
    from perpvol_core.security.vault import CredentialsMismatch, Vault
    from perpvol_core.services import accounts
    from perpvol_core.store import Store

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env["PERPVOL_HOME"] = str(home)
    for url in ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"):
        argv = ["keys", "add", "woox", "--label", "w", "--api-key", "k" * 20, "--api-secret-stdin", "--no-test",
                "--base-url", url] + (["--replace"] if url.endswith("/b") else [])
        proc = _run_cli(argv, "S" * 28, env)
        assert proc.returncode == 0, proc.stderr
    settings = Settings.from_env(env)
    store = Store.open(settings)
    try:
        vault = Vault.open(settings, store)
        account = store.get_account("w")
        assert account.base_url == "http://127.0.0.1:9/b"
        assert vault.decrypt_account(account).api_secret.reveal() == "S" * 28
        with pytest.raises(CredentialsMismatch):  # bound to the new URL, not the old one
            vault.decrypt_account(dataclasses.replace(account, base_url="http://127.0.0.1:9/a"))
        creds = WooxCredentials(api_key="d" * 20, api_secret=Secret("D" * 28))
        for url in ("http://127.0.0.1:9/x", "http://127.0.0.1:9/y"):  # the one account path the demo uses too
            req = accounts.AccountRequest("woox", "demo", api_key=creds.api_key, api_secret=creds.api_secret,
                                          base_url=url)  # fmt: skip
            accounts.add_account(store, vault, req, replace=True, test=False)
            assert vault.decrypt_account(store.get_account("demo")) == creds
        with pytest.raises(CredentialsMismatch):
            vault.decrypt_account(dataclasses.replace(store.get_account("demo"), base_url="http://127.0.0.1:9/x"))
    finally:
        store.close()
