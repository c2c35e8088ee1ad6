"""The one server (API + Panel dashboard + login) over real HTTP and WebSockets: the front door and the login.

A route matrix over every path the server exposes (REST, the stream, the dashboard and its Bokeh
websocket, static files, components, embed, login/logout) without, with wrong and with right credentials;
the password works exactly as typed; brute force meets the backoff; the Bokeh document holds no cookie;
logout and a password change revoke sessions; framing headers; oversized, deeply nested, newline-label and
wrong-Host requests get clear 4xx. The backoff runs on a hand-driven clock: no timing thresholds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import socket
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from perpvol_app import api
from perpvol_app.login import COOKIE, FREE_TRIES, LoginGuard
from perpvol_app.openapi import openapi_document
from perpvol_app.server import BackgroundApp, ServerConfig, create_app
from perpvol_core.config import Settings
from perpvol_core.exchanges import classify_all
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import Secret
from tests.served import served

PASSWORD = "Tr4d3r-Passw0rd.!X"  # mixed case and punctuation: must work exactly as typed, and only so
COMPONENT = "/components/perpvol_app.themes.panel_theme/GoldTheme/css/perpvol.css"


class Clock:
    """A clock the test moves by hand (the backoff never depends on how fast this machine is)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Srv:
    server: BackgroundApp
    guard: LoginGuard
    clock: Clock
    token: str
    embed_token: str
    store: object

    @property
    def url(self) -> str:
        return self.server.base_url

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kw)  # type: ignore[arg-type]

    def login(self) -> str:
        with self.client() as c:
            r = c.post("/login", data={"password": PASSWORD, "next": "/app"})
            assert r.status_code == 303, r.text
            return r.cookies[COOKIE]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Srv]:
    from perpvol_core.analytics import embed as embed_core
    from perpvol_core.security.vault import Vault
    from perpvol_core.store import Store

    home = tmp_path_factory.mktemp("server") / "home"
    home.mkdir(mode=0o700)
    token = secrets.token_urlsafe(24)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}", api_token=Secret(token))
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    creds = WooxCredentials(api_key="key-public", api_secret=Secret("SERVERTESTSECRET" * 2))
    acc = store.add_account("main", "woox", None, vault.encrypt(creds, label="main", base_url=None), creds.hint)
    now = int(time.time() * 1000)
    fills = [Fill("woox", f"t{i}", "FILL", "PERP_BTC_USDT", "BUY", "TAKER", Decimal("100.5"), Decimal("2"),
                  Decimal("0.01"), "USDT", now - i * 60_000) for i in range(30)]  # fmt: skip
    store.ingest_fills(acc.id, classify_all(fills))
    embed_token = embed_core.new_token()
    store.add_embed_token("site", embed_core.hash_token(embed_token))
    clock = Clock()
    guard = LoginGuard(PASSWORD, clock=clock)
    port = _free_port()
    config = ServerConfig(settings=settings, password=PASSWORD, port=port, worker=False)
    ctx = api.ApiContext(settings, store=store, vault=vault, use_worker=False)
    server = BackgroundApp(create_app(config, ctx=ctx, guard=guard), port=port)
    server.start()
    try:
        yield Srv(server, guard, clock, token, embed_token, store)
    finally:
        server.stop()
        store.close()


def _free_port() -> int:
    from perpvol_sim.server import free_port

    return free_port()


@pytest.fixture(autouse=True)
def _fresh_backoff(srv: Srv) -> None:
    srv.guard._clients.clear()
    srv.guard._recent_failures.clear()
    srv.clock.now += 10_000


def _bokeh_token(page_html: str) -> str:
    m = re.search(r'"token":\s*"([^"]+)"', page_html)
    assert m, "the dashboard page carries no Bokeh session token"
    return m.group(1)


def _bokeh_payload(token: str) -> dict:
    part = token.split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    if "__bk__zlib_" in payload:
        z = payload.pop("__bk__zlib_")
        payload.update(json.loads(zlib.decompress(base64.urlsafe_b64decode(z + "=" * (-len(z) % 4)))))
    return payload


def _ws_refused(url: str, status: int = 401, **kw: object) -> bool:
    """True when the upgrade is answered ``status`` (a JSON error) instead of a WebSocket."""
    try:
        with ws_connect(url, open_timeout=10, **kw) as ws:  # type: ignore[arg-type]
            ws.recv(timeout=5)
    except InvalidStatus as exc:
        assert exc.response.status_code == status, (url, exc.response.status_code)
        assert json.loads(exc.response.body)["error"], exc.response.body
        return True
    return False


# ------------------------------------------------------------------------------------------------ matrix


def test_route_matrix_without_wrong_and_right_credentials(srv: Srv) -> None:
    cookie = srv.login()
    right_api = {"Authorization": f"Bearer {srv.token}"}
    wrong_api = {"Authorization": f"Bearer {srv.token[::-1]}"}
    checked = 0
    with srv.client() as c:
        # REST: every documented operation (enumerated from the generated OpenAPI document)
        for path, ops in openapi_document()["paths"].items():
            if not path.startswith("/api/v1") or path == "/api/v1/health":
                continue
            url = path.replace("{label}", "nobody")
            for method in ops:
                kw = {"json": {}} if method == "post" else {}
                none = c.request(method.upper(), url, **kw)
                wrong = c.request(method.upper(), url, headers=wrong_api, **kw)
                cookie_only = c.request(method.upper(), url, cookies={COOKIE: cookie}, **kw)  # a login is no API token
                for r in (none, wrong, cookie_only):
                    assert r.status_code == 401 and r.json()["error"] == "unauthorized", (method, path, r.text)
                right = c.request(method.upper(), url, headers=right_api, **kw)
                assert right.status_code != 401 and right.status_code < 500, (method, path, right.text)
                checked += 1
        assert c.get("/api/v1/health").status_code == 200
        # dashboard pages, static files, components: a login, nothing else
        for path in ("/app", "/static/js/bokeh.min.js", COMPONENT):
            none = c.get(path)
            forged = c.get(path, cookies={COOKIE: "x" * 43 + "." + "0" * 64})
            token_only = c.get(path, headers=right_api)
            for r in (none, forged, token_only):
                assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", (path, r.status_code)
            right = c.get(path, cookies={COOKIE: cookie})
            assert right.status_code == 200, (path, right.status_code)
            checked += 1
        assert c.post("/app", cookies={COOKIE: "forged.x"}).status_code == 401  # not a page: no redirect
        # embed: public, same answer for anything but a live token
        assert c.get(f"/embed/{srv.embed_token}").status_code == 200
        assert c.get(f"/embed/{srv.embed_token}.json").status_code == 200
        assert c.get("/embed/" + "A" * 32).status_code == 404
        # login and logout pages
        assert c.get("/login").status_code == 200
        assert c.post("/login", data={"password": "wrong"}).status_code == 401
        assert c.post("/login", data={"password": PASSWORD}).status_code == 303
        assert c.get("/logout").status_code == 405  # logging out is a POST, never a link any page can trigger
    # WebSockets: the API stream (token) and the dashboard's Bokeh socket (login)
    ws = srv.server.ws_url
    assert _ws_refused(f"{ws}/api/v1/stream")
    assert _ws_refused(f"{ws}/api/v1/stream?token={srv.token[::-1]}")
    assert _ws_refused(f"{ws}/api/v1/stream", additional_headers={"Cookie": f"{COOKIE}={cookie}"})
    with ws_connect(f"{ws}/api/v1/stream?token={srv.token}", open_timeout=10) as stream:
        assert json.loads(stream.recv(timeout=10))["type"] == "volume"
    with srv.client() as c:
        bokeh_token = _bokeh_token(c.get("/app", cookies={COOKIE: cookie}).text)
    origin = {"Origin": srv.url}
    assert _ws_refused(f"{ws}/app/ws", subprotocols=["bokeh", bokeh_token], additional_headers=origin)
    assert _ws_refused(f"{ws}/app/ws", subprotocols=["bokeh", bokeh_token],
                       additional_headers={**origin, "Cookie": f"{COOKIE}=forged.x"})
    with ws_connect(f"{ws}/app/ws", subprotocols=["bokeh", bokeh_token], open_timeout=10,
                    additional_headers={**origin, "Cookie": f"{COOKIE}={cookie}"}) as bokeh:
        assert bokeh.recv(timeout=10)  # Bokeh's ACK: the session is served
    assert checked >= 13


def test_the_favicon_the_page_asks_for_is_served_without_a_session(srv: Srv) -> None:
    with srv.client() as c:
        r = c.get("/favicon.ico")
        assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon" and r.content


def test_components_serve_only_our_and_panels_modules_and_import_nothing(srv: Srv) -> None:
    cookie = srv.login()
    assert "antigravity" not in sys.modules and "this" not in sys.modules
    with srv.client(cookies={COOKIE: cookie}) as c:
        assert c.get(COMPONENT).status_code == 200
        for path in ("/components/antigravity/X/css/y.css", "/components/this/X/_stylesheets/0",
                     "/components/os/path/__file__/x", "/components/perpvol_app.nonexistent/X/css/a.css"):
            r = c.get(path)
            assert r.status_code == 404 and r.json() == {"error": "not_found", "message": "not found"}, path
    assert "antigravity" not in sys.modules and "this" not in sys.modules  # nothing was imported by name


# ------------------------------------------------------------------------------------------------ login


def test_the_password_works_exactly_as_typed_and_only_so(srv: Srv) -> None:
    with srv.client() as c:
        for near in (PASSWORD.lower(), PASSWORD.upper(), PASSWORD + " ", " " + PASSWORD, PASSWORD[:-1], ""):
            srv.guard._clients.clear()  # these near misses are about the comparison, not the backoff
            r = c.post("/login", data={"password": near})
            assert r.status_code == 401 and "Wrong password." in r.text
            assert COOKIE not in r.headers.get("set-cookie", "")
            assert near not in r.text or not near
        r = c.post("/login", data={"password": PASSWORD, "next": "/app"})
        assert r.status_code == 303 and r.headers["location"] == "/app"
        set_cookie = r.headers["set-cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Secure" not in set_cookie
        # an open redirect is not a target
        assert c.post("/login", data={"password": PASSWORD, "next": "//evil.example/x"}).headers["location"] == "/app"
    # X-Forwarded-Proto counts only from PERPVOL_TRUSTED_PROXIES (none here; see test_front_door_proxies_origin)
    with srv.client(headers={"X-Forwarded-Proto": "https"}) as c:
        assert "Secure" not in c.post("/login", data={"password": PASSWORD}).headers["set-cookie"]


def test_brute_force_meets_the_backoff(srv: Srv) -> None:
    with srv.client() as c:
        for _ in range(FREE_TRIES):
            r = c.post("/login", data={"password": secrets.token_hex(6)})
            assert r.status_code == 401 and "Wrong password." in r.text
        # the next try waits, even with the right password, and the password is not even checked
        r = c.post("/login", data={"password": PASSWORD})
        assert r.status_code == 429 and "Too many attempts, wait 1 s." in r.text and r.headers["Retry-After"] == "1"
        assert COOKIE not in r.headers.get("set-cookie", "")
        srv.clock.now += 1
        assert c.post("/login", data={"password": "still-wrong"}).status_code == 401
        r = c.post("/login", data={"password": PASSWORD})  # the wait doubles with each failure after the free ones
        assert r.status_code == 429 and "wait 2 s" in r.text
        srv.clock.now += 2
        assert c.post("/login", data={"password": PASSWORD}).status_code == 303  # and a success resets it
        assert c.post("/login", data={"password": "x"}).status_code == 401


def test_the_bokeh_document_holds_no_cookie_and_no_header(srv: Srv) -> None:
    cookie = srv.login()
    with srv.client() as c:
        page = c.get("/app", cookies={COOKIE: cookie, "other": "value-123"},
                     headers={"Authorization": f"Bearer {srv.token}", "X-Custom": "c-456"})
    assert page.status_code == 200
    assert cookie not in page.text and COOKIE not in page.text and srv.token not in page.text
    payload = _bokeh_payload(_bokeh_token(page.text))
    assert payload.get("headers") == {} and payload.get("cookies") == {}, payload
    text = json.dumps(payload)
    for leaked in (cookie, srv.token, "value-123", "c-456"):
        assert leaked not in text


def test_logout_and_a_password_change_revoke_sessions(srv: Srv) -> None:
    cookie = srv.login()
    with srv.client() as c:
        assert c.get("/app", cookies={COOKIE: cookie}).status_code == 200
        assert c.post("/logout", cookies={COOKIE: cookie}, headers={"Origin": "http://evil.example"}).status_code == 403
        assert c.get("/app", cookies={COOKIE: cookie}).status_code == 200  # a foreign page could not log us out
        out = c.post("/logout", cookies={COOKIE: cookie})
        assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
        assert c.get("/app", cookies={COOKIE: cookie}).status_code == 303  # the old cookie is dead server-side
    assert _ws_refused(f"{srv.server.ws_url}/app/ws", additional_headers={"Cookie": f"{COOKIE}={cookie}"})
    second = srv.login()
    srv.guard.set_password("An0ther-Pass!")
    try:
        with srv.client() as c:
            assert c.get("/app", cookies={COOKIE: second}).status_code == 303
            assert c.post("/login", data={"password": PASSWORD}).status_code == 401
            assert c.post("/login", data={"password": "An0ther-Pass!"}).status_code == 303
    finally:
        srv.guard.set_password(PASSWORD)


def test_signing_out_ends_that_sessions_open_dashboard_socket(srv: Srv) -> None:
    """A tab left open after "Sign out" (here, or the password changed) stops getting the dashboard: its
    Bokeh WebSocket is closed (1008) within a re-check; another session's socket stays open."""
    from websockets.exceptions import ConnectionClosed

    from perpvol_app.frontdoor import SESSION_RECHECK_S

    def open_dashboard_socket(cookie: str):  # noqa: ANN202
        with srv.client() as c:
            page = c.get("/app", cookies={COOKIE: cookie})
        assert page.status_code == 200
        ws = ws_connect(f"{srv.server.ws_url}/app/ws", subprotocols=["bokeh", _bokeh_token(page.text)],
                        additional_headers={"Cookie": f"{COOKIE}={cookie}"}, open_timeout=10,
                        max_size=None)  # fmt: skip
        assert "ACK" in str(ws.recv(timeout=30))  # Bokeh's handshake: the session is live
        return ws

    leaving, staying = srv.login(), srv.login()
    ws_leaving, ws_staying = open_dashboard_socket(leaving), open_dashboard_socket(staying)
    try:
        with srv.client() as c:
            assert c.post("/logout", cookies={COOKIE: leaving}).status_code == 303
        closed: ConnectionClosed | None = None
        until = time.monotonic() + SESSION_RECHECK_S * 5  # frames may still come; the close follows a re-check
        while closed is None and (left := until - time.monotonic()) > 0:
            try:
                ws_leaving.recv(timeout=left)
            except TimeoutError:
                pass
            except ConnectionClosed as exc:
                closed = exc
        assert closed is not None, "the signed-out session's socket stayed open"
        assert closed.rcvd is not None and closed.rcvd.code == 1008
        until = time.monotonic() + SESSION_RECHECK_S * 2
        while (left := until - time.monotonic()) > 0:  # the other tab keeps its updates (ConnectionClosed fails)
            with contextlib.suppress(TimeoutError):
                ws_staying.recv(timeout=left)
        ws_staying.ping().wait(timeout=10)
    finally:
        ws_leaving.close()
        ws_staying.close()


# ------------------------------------------------------------------------------------------------ headers, limits


def test_dashboard_and_login_cannot_be_framed_the_embed_can(srv: Srv) -> None:
    cookie = srv.login()
    with srv.client() as c:
        for r in (c.get("/app", cookies={COOKIE: cookie}), c.get("/login"), c.get("/app")):
            assert r.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        embed = c.get(f"/embed/{srv.embed_token}")
        assert embed.status_code == 200 and "x-frame-options" not in embed.headers
        assert "frame-ancestors" not in embed.headers["content-security-policy"]


def _raw(srv: Srv, request: bytes) -> bytes:
    """Send ``request`` as it is on a fresh connection; return what the server answers (at most 64 KB)."""
    with socket.create_connection(("127.0.0.1", srv.server.port), timeout=30) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR) if request.endswith(b"\r\n\r\n") and b"chunked" not in request else None
        data = b""
        while b"\r\n\r\n" not in data or len(data) < 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_oversized_bodies_are_refused_before_they_are_read(srv: Srv) -> None:
    host = f"127.0.0.1:{srv.server.port}".encode()
    for path in (b"/api/v1/accounts", b"/login", b"/app"):
        # 90 MB announced, not one byte sent: the answer comes anyway (nothing was waited for nor read)
        answer = _raw(srv, b"POST " + path + b" HTTP/1.1\r\nHost: " + host +
                      b"\r\nContent-Type: application/json\r\nContent-Length: 90000000\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])
        assert b'"too_large"' in answer
    # a streamed (chunked) body over the cap is cut off too, authenticated or not
    with srv.client() as c:
        def chunks() -> Iterator[bytes]:
            for _ in range(100):
                yield b"x" * 4096

        r = c.post("/api/v1/accounts", content=chunks(), headers={"Authorization": f"Bearer {srv.token}"})
        assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_deep_json_newline_labels_and_wrong_hosts_get_clear_4xx(srv: Srv) -> None:
    auth = {"Authorization": f"Bearer {srv.token}"}
    with srv.client(headers=auth) as c:
        deep = c.post("/api/v1/accounts", content=b"[" * 20_000 + b"]" * 20_000,
                      headers={"Content-Type": "application/json"})
        assert deep.status_code == 400 and deep.json() == {"error": "invalid_request",
                                                           "message": "JSON nested deeper than 32 levels"}
        deeper = c.post("/api/v1/sync", content=b'{"a":' * 60_000, headers={"Content-Type": "application/json"})
        assert deeper.status_code == 413  # 60,000 levels do not even fit the body cap
        nested_ok = c.post("/api/v1/sync", json={"label": "main"})
        assert nested_ok.status_code in (202, 409)  # an ordinary body still goes through
        body = {"label": "main\n", "exchange": "woox", "api_key": "k", "api_secret": "s" * 20}
        r = c.post("/api/v1/accounts", json=body)
        assert r.status_code == 400 and r.json()["error"] == "invalid_label"
        for method, path in (("DELETE", "/api/v1/accounts/main%0A"), ("POST", "/api/v1/accounts/main%0A/test"),
                             ("DELETE", "/api/v1/accounts/main%0D%0A")):
            r = c.request(method, path)
            assert r.status_code == 400 and r.json()["error"] == "invalid_label", (path, r.text)
        assert "main" in {a["label"] for a in c.get("/api/v1/accounts").json()["accounts"]}
        assert c.post("/api/v1/sync", json={"label": "main\n"}).json()["error"] == "invalid_label"
    # DNS rebinding: a page on another name reaching this port is refused before anything else
    for path in ("/api/v1/health", "/api/v1/volume/summary", "/app", "/login", f"/embed/{srv.embed_token}"):
        with srv.client(headers={**auth, "Host": "attacker.example"}) as c:
            r = c.get(path)
            assert r.status_code == 400 and r.json()["error"] == "invalid_host", path
    upgrade = _raw(srv, f"GET /api/v1/stream?token={srv.token} HTTP/1.1\r\nHost: attacker.example\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
    assert upgrade.startswith(b"HTTP/1.1 400") and b"invalid_host" in upgrade, upgrade[:300]
    with srv.client(headers={"Host": f"localhost:{srv.server.port}"}) as c:
        assert c.get("/api/v1/health").status_code == 200


def test_panel_serve_of_the_notebook_keeps_working(tmp_path: Path) -> None:
    """Notebook users still run ``panel serve notebooks/dashboard.ipynb`` (Panel's own server, no API)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env["PERPVOL_HOME"] = str(tmp_path / "home")
    port = _free_port()
    panel = str(Path(sys.executable).with_name("panel"))
    argv = [panel, "serve", "notebooks/dashboard.ipynb", "--port", str(port), "--address", "127.0.0.1"]
    with served(argv, env, tmp_path / "panel.log", f"http://127.0.0.1:{port}/dashboard", "panel serve") as server:
        page = server.ready
        assert "bokeh" in page.text.lower() and '"token"' in page.text


def test_the_lifespan_opens_and_closes_store_vault_and_worker(tmp_path: Path) -> None:
    from perpvol_app.ui.components import context as ui_context

    home = tmp_path / "home"
    token = secrets.token_urlsafe(24)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}", api_token=Secret(token))
    port = _free_port()
    door = create_app(ServerConfig(settings=settings, password=PASSWORD, port=port, worker=True))
    server = BackgroundApp(door, port=port)
    server.start()
    try:
        ctx = door.state.api_ctx
        worker = ctx.worker
        assert worker is not None and worker.running and (home / "master.key").exists()  # the vault opened
        assert ui_context._context is not None and ui_context._context.store is ctx.store  # the dashboard shares it
        health = httpx.get(f"{server.base_url}/api/v1/health", timeout=30).json()
        assert health["database"] == "ok" and health["worker"] == "running"
    finally:
        server.stop()
    assert not worker.running  # stopped by the lifespan
    assert ui_context._context is None
