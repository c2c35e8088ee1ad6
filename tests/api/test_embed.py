"""Embed links: ``perpvol embed create|list|revoke`` and the ``/embed/{token}`` widget over real HTTP."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from perpvol_app import api
from perpvol_app.server import BackgroundApp
from perpvol_cli.main import main as cli_main
from perpvol_core.config import Settings
from perpvol_core.exchanges import classify_all
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.security.redaction import Secret

API_SECRET = "EMBEDTESTSECRET" + secrets.token_hex(8)
API_KEY = "embed-api-key-" + secrets.token_hex(4)


@dataclass
class EmbedEnv:
    server: BackgroundApp
    home: Path
    db_url: str
    fills: list[Fill]
    http: httpx.Client

    def cli(self, capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
        code = cli_main(list(argv))
        out = capsys.readouterr()
        return code, out.out + out.err


@pytest.fixture
def embed_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbedEnv]:
    from perpvol_core.security.vault import Vault, encode_key, generate_key
    from perpvol_core.store import Store

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    db_url = f"sqlite:///{home / 'perpvol.db'}"
    monkeypatch.setenv("PERPVOL_HOME", str(home))
    monkeypatch.setenv("PERPVOL_DATABASE_URL", db_url)
    for var in ("PERPVOL_MASTER_KEY", "PERPVOL_MASTER_KEY_FILE", "PERPVOL_API_TOKEN", "PERPVOL_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings.from_env()
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    creds = WooxCredentials(api_key=API_KEY, api_secret=Secret(API_SECRET))
    blob = vault.encrypt(creds, label="my-secret-label", base_url=None)
    acc = store.add_account("my-secret-label", "woox", None, blob, creds.hint)
    now = int(time.time() * 1000)
    fills = [
        Fill("woox", f"tradeid{i:06d}", "FILL", "PERP_SOL_USDT", "BUY", "TAKER", Decimal(f"{100 + i}.25"),
             Decimal("1.5"), Decimal("0.01"), "USDT", now - i * MS_PER_DAY // 3)
        for i in range(60)
    ]
    store.ingest_fills(acc.id, classify_all(fills))
    # The serving side gets a WRONG master key: if the embed path touched the vault, it would fail.
    wrong = Settings(home=home, database_url=db_url, master_key=Secret(encode_key(generate_key())),
                     api_token=Secret(secrets.token_urlsafe(24)))
    server = BackgroundApp(api.make_app(api.ApiContext(wrong, store=store, use_worker=False)))
    server.start()
    http = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        yield EmbedEnv(server, home, db_url, fills, http)
    finally:
        http.close()
        server.stop()
        store.close()


def _create(env: EmbedEnv, capsys: pytest.CaptureFixture, name: str) -> tuple[str, str]:
    code, out = env.cli(capsys, "embed", "create", "--name", name)
    assert code == 0, out
    token = re.search(r"token: (\S+)", out).group(1)
    token_id = re.search(r"revoke with: perpvol embed revoke (\d+)", out).group(1)
    return token, token_id


def test_create_list_revoke(embed_env: EmbedEnv, capsys: pytest.CaptureFixture) -> None:
    token, token_id = _create(embed_env, capsys, "blog")
    assert len(token) >= 32
    code, listing = embed_env.cli(capsys, "embed", "list")
    assert code == 0 and "blog" in listing and "active" in listing
    assert token not in listing and hashlib.sha256(token.encode()).hexdigest() not in listing
    # the database keeps only the hash
    from perpvol_core.store import Store

    store = Store(embed_env.db_url)
    try:
        assert [t.token_hash for t in store.list_embed_tokens()] == [hashlib.sha256(token.encode()).hexdigest()]
    finally:
        store.close()
    raw = b"".join(p.read_bytes() for p in embed_env.home.glob("perpvol.db*"))
    assert token.encode() not in raw

    assert embed_env.http.get(f"/embed/{token}.json").status_code == 200
    code, out = embed_env.cli(capsys, "embed", "revoke", token_id)
    assert code == 0, out
    code, listing = embed_env.cli(capsys, "embed", "list")
    assert "revoked" in listing
    assert embed_env.cli(capsys, "embed", "revoke", "9999")[0] == 1
    assert embed_env.cli(capsys, "embed", "revoke", "abc")[0] == 2


def test_widget_shows_aggregates_only_and_never_a_secret(embed_env: EmbedEnv, capsys: pytest.CaptureFixture) -> None:
    token, _ = _create(embed_env, capsys, "site")
    data = embed_env.http.get(f"/embed/{token}.json")
    assert data.status_code == 200 and data.headers["Content-Type"].startswith("application/json")
    body = data.json()
    assert set(body) == {"generated_at", "totals", "by_exchange", "partial", "note"}
    assert set(body["totals"]) == {"24h", "7d", "30d", "all"}
    assert Decimal(body["totals"]["all"]) == sum((f.notional for f in embed_env.fills), Decimal(0))
    page = embed_env.http.get(f"/embed/{token}")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "#ffd230" in html.lower() and "#000000" in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    for text in (data.text, html):
        for forbidden in (API_SECRET, API_KEY, "my-secret-label", "tradeid", "PERP_SOL_USDT", token):
            assert forbidden not in text, forbidden
    # the shown 24h figure is the JSON's, formatted
    day = Decimal(body["totals"]["24h"]).quantize(Decimal("0.01"))
    assert f"${day:,.2f}" in html


def test_unknown_revoked_and_malformed_tokens_reveal_nothing(
    embed_env: EmbedEnv, capsys: pytest.CaptureFixture
) -> None:
    token, token_id = _create(embed_env, capsys, "gone")
    embed_env.cli(capsys, "embed", "revoke", token_id)
    bodies = set()
    for path in (f"/embed/{token}", f"/embed/{token}.json", f"/embed/{secrets.token_urlsafe(24)}",
                 "/embed/short", "/embed/", "/embed/a/b", "/embed/%00"):
        r = embed_env.http.get(path)
        assert r.status_code == 404, path
        bodies.add(r.text)
    assert len(bodies) == 1 and json.loads(bodies.pop()) == {"error": "not_found", "message": "not found"}


def test_embed_works_although_the_vault_cannot_open(embed_env: EmbedEnv, capsys: pytest.CaptureFixture) -> None:
    token, _ = _create(embed_env, capsys, "novault")
    assert embed_env.http.get(f"/embed/{token}.json").status_code == 200
    # the same server cannot open the vault (wrong key): a route that needs it says so
    ctx = embed_env.server.app.state.api_ctx
    auth = {"Authorization": f"Bearer {ctx.settings.api_token.reveal()}"}
    r = embed_env.http.post("/api/v1/accounts/my-secret-label/test", headers=auth)
    assert r.status_code == 409 and r.json()["error"] == "vault_unavailable"
    assert API_SECRET not in r.text
