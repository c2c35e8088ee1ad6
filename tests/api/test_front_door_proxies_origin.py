"""The front door's last gaps (issue 19), over real HTTP and real WebSockets against the one server.

* ``X-Forwarded-For``/``-Proto`` count only from ``PERPVOL_TRUSTED_PROXIES`` (none by default): 20 spoofed
  client addresses from loopback meet one per-client backoff; from a configured proxy, they are the clients.
* A flood of wrong passwords from other clients shrinks every budget to one try but never refuses a client
  that has not failed: the owner, from a fresh address, signs in at once with the exact password.
* The ``Host`` check (Starlette's ``TrustedHostMiddleware`` decides, the refusal is ours): ports, case and
  bracketed IPv6 pass for an allowed name; other names, an empty or malformed Host are refused in JSON.
* ``/app/ws`` opens only from this server's own pages (``Origin`` = ``Host``, a name of the allowed list):
  foreign origins with a valid cookie and session token are refused 403; no refusal logs an ERROR.

The backoff runs on a hand-driven clock (no timing thresholds); the simulated clients of the flood are
addresses a configured proxy forwards, as a real reverse proxy would.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from perpvol_app import api
from perpvol_app.frontdoor import host_patterns
from perpvol_app.login import COOKIE, FREE_TRIES, GLOBAL_FREE, LoginGuard
from perpvol_app.server import BackgroundApp, ServerConfig, create_app
from perpvol_core.config import ConfigError, Settings
from perpvol_core.store import Store
from perpvol_sim.server import free_port

PASSWORD = "Own3r-Passw0rd.!Q"  # noqa: S105 - a test value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Door:
    server: BackgroundApp
    guard: LoginGuard
    clock: Clock

    def post_login(self, password: str, forwarded_for: str | None = None, **headers: str) -> httpx.Response:
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        with httpx.Client(base_url=self.server.base_url, timeout=60) as c:
            return c.post("/login", data={"password": password, "next": "/app"}, headers=headers)


def _serve(home: Path, store: Store, trusted: str | None, dashboard: bool) -> Door:
    env = {"PERPVOL_HOME": str(home), "PERPVOL_DATABASE_URL": f"sqlite:///{home / 'perpvol.db'}"}
    settings = Settings.from_env(env | ({"PERPVOL_TRUSTED_PROXIES": trusted} if trusted else {}))
    clock = Clock()
    guard = LoginGuard(PASSWORD, clock=clock)
    port = free_port()
    config = ServerConfig(settings=settings, password=PASSWORD, port=port, worker=False, dashboard=dashboard)
    ctx = api.ApiContext(settings, store=store, use_worker=False)
    server = BackgroundApp(create_app(config, ctx=ctx, guard=guard), port=port)
    server.start()
    return Door(server, guard, clock)


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Door, Door]]:
    """(the default server: no trusted proxy, with the dashboard; a server behind a proxy at 127.0.0.1)."""
    home = tmp_path_factory.mktemp("door") / "home"
    home.mkdir(mode=0o700)
    store = Store.open(Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}"))
    plain = _serve(home, store, None, dashboard=True)
    proxied = _serve(home, store, "127.0.0.1, ::1", dashboard=False)
    try:
        yield plain, proxied
    finally:
        plain.server.stop()
        proxied.server.stop()
        store.close()


@pytest.fixture
def plain(doors: tuple[Door, Door]) -> Door:
    doors[0].guard._clients.clear()
    doors[0].guard._recent_failures.clear()
    return doors[0]


@pytest.fixture
def proxied(doors: tuple[Door, Door]) -> Door:
    doors[1].guard._clients.clear()
    doors[1].guard._recent_failures.clear()
    return doors[1]


# ------------------------------------------------------------------------------------------------ proxies


def test_spoofed_forwarded_for_values_all_meet_one_backoff(plain: Door) -> None:
    statuses = [plain.post_login(secrets.token_hex(6), forwarded_for=f"198.51.100.{i}").status_code
                for i in range(20)]  # fmt: skip
    assert statuses == [401] * FREE_TRIES + [429] * (20 - FREE_TRIES)
    plain.guard._clients.clear()
    ok = plain.post_login(PASSWORD, forwarded_for="203.0.113.9", **{"X-Forwarded-Proto": "https"})
    assert ok.status_code == 303 and "Secure" not in ok.headers["set-cookie"]  # nor is the scheme believed


def test_a_configured_proxy_forwards_the_clients_address_and_scheme(proxied: Door) -> None:
    statuses = [proxied.post_login(secrets.token_hex(6), forwarded_for=f"198.51.100.{i}").status_code
                for i in range(20)]  # fmt: skip
    assert statuses == [401] * 20  # twenty clients behind the proxy, one wrong password each
    one = [proxied.post_login("wrong", forwarded_for="192.0.2.7").status_code for _ in range(FREE_TRIES + 1)]
    assert one == [401] * FREE_TRIES + [429]
    ok = proxied.post_login(PASSWORD, forwarded_for="192.0.2.8", **{"X-Forwarded-Proto": "https"})
    assert ok.status_code == 303 and "; Secure" in ok.headers["set-cookie"]


def test_trusted_proxies_setting_is_checked_with_a_clear_message() -> None:
    assert Settings.from_env({}).trusted_proxy_networks() == ()
    nets = Settings.from_env({"PERPVOL_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/24,::1"}).trusted_proxy_networks()
    assert [str(n) for n in nets] == ["127.0.0.1/32", "10.0.0.0/24", "::1/128"]
    for bad in ("*", "proxy.example", "10.0.0.0/99", "127.0.0.1,nonsense"):
        with pytest.raises(ConfigError, match="PERPVOL_TRUSTED_PROXIES: .* is not an IP address or a CIDR network"):
            Settings.from_env({"PERPVOL_TRUSTED_PROXIES": bad}).trusted_proxy_networks()


# ------------------------------------------------------------------------------------------------ flood


def test_after_a_flood_from_other_clients_the_owner_signs_in_at_once(proxied: Door) -> None:
    attackers = [f"198.51.100.{i}" for i in range(GLOBAL_FREE // FREE_TRIES + 4)]
    wrong = 0
    for address in attackers:  # every attacker spends its free tries (one, once the flood is on), then waits
        statuses = [proxied.post_login(secrets.token_hex(6), forwarded_for=address).status_code
                    for _ in range(FREE_TRIES + 1)]  # fmt: skip
        assert statuses[0] == 401 and statuses[-1] == 429 and set(statuses) == {401, 429}
        assert statuses.count(401) == (1 if wrong >= GLOBAL_FREE else FREE_TRIES), (address, statuses)
        wrong += statuses.count(401)
    assert proxied.guard.under_flood()
    # the owner, from a client that did not fail, with the exact password: the first try is checked and passes
    owner = proxied.post_login(PASSWORD, forwarded_for="192.0.2.50")
    assert owner.status_code == 303 and COOKIE in owner.headers["set-cookie"]
    # during the flood a new client gets one try before its own wait (guessing is slowed, nobody locked out)
    assert [proxied.post_login("guess", forwarded_for="192.0.2.60").status_code for _ in range(2)] == [401, 429]
    # the owner mistyping once during the flood waits a second, not the minute the old global lock cost
    assert proxied.post_login("typo", forwarded_for="192.0.2.51").status_code == 401
    wait = proxied.post_login(PASSWORD, forwarded_for="192.0.2.51")
    assert wait.status_code == 429 and wait.headers["Retry-After"] == "1"
    proxied.clock.now += 1
    assert proxied.post_login(PASSWORD, forwarded_for="192.0.2.51").status_code == 303


def test_ipv6_clients_share_a_budget_per_64() -> None:
    guard = LoginGuard(PASSWORD, clock=Clock())
    results = [guard.attempt(f"2001:db8:1:2::{i:x}", "guess") for i in range(FREE_TRIES + 1)]
    assert [r.wait_s > 0 for r in results] == [False] * FREE_TRIES + [True]
    assert guard.attempt("2001:db8:1:3::1", PASSWORD).ok  # the next /64 is another client


# ------------------------------------------------------------------------------------------------ origin


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records the server logs (uvicorn's and ours) while the test runs."""
    handler = _Records()
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "perpvol.access", "perpvol_app")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _session(door: Door) -> tuple[str, str]:
    with httpx.Client(base_url=door.server.base_url, timeout=60) as c:
        cookie = c.post("/login", data={"password": PASSWORD}).cookies[COOKIE]
        page = c.get("/app", cookies={COOKIE: cookie})
    assert page.status_code == 200
    token = re.search(r'"token":\s*"([^"]+)"', page.text)
    assert token, "the dashboard page carries no Bokeh session token"
    return cookie, token.group(1)


def _open(door: Door, cookie: str, token: str, origin: str | None) -> str | int:
    """Bokeh's first message when the socket opens, else the HTTP status that refused it."""
    headers = {"Cookie": f"{COOKIE}={cookie}"} | ({"Origin": origin} if origin else {})
    try:
        with ws_connect(f"{door.server.ws_url}/app/ws", subprotocols=["bokeh", token], additional_headers=headers,
                        open_timeout=10, max_size=None) as ws:  # type: ignore[list-item]  # fmt: skip
            return str(ws.recv(timeout=30))
    except InvalidStatus as exc:
        return exc.response.status_code


def test_the_dashboard_socket_opens_only_from_this_servers_pages(
    plain: Door, server_errors: list[logging.LogRecord]
) -> None:
    cookie, token = _session(plain)
    port = plain.server.port
    foreign = ["http://evil.example", f"http://127.0.0.1.evil.example:{port}", f"http://localhost:{port + 1}",
               "null", f"http://127.0.0.1:{port + 1}"]  # another port of this machine is another site too
    assert [_open(plain, cookie, token, o) for o in foreign] == [403] * 5
    assert "ACK" in str(_open(plain, cookie, token, f"http://127.0.0.1:{port}"))
    assert "ACK" in str(_open(plain, cookie, token, None))  # not a browser: no cookie rides along uninvited
    # other refusals: no login, a Bokeh token that is not one; clean answers, no traceback
    assert _open(plain, "forged.x", token, f"http://127.0.0.1:{port}") == 401
    assert _open(plain, cookie, "not-a-token", f"http://127.0.0.1:{port}") == 403
    errors = [r.getMessage() for r in server_errors if r.levelno >= logging.ERROR]
    assert errors == [], errors


def test_perpvol_serve_refuses_a_bad_trusted_proxies_setting(tmp_path: Path) -> None:
    from tests.cli.test_cli_foundation import make_env, run

    env = make_env(tmp_path / "home", PERPVOL_TRUSTED_PROXIES="10.0.0.1,my-proxy", PERPVOL_PASSWORD=PASSWORD)
    proc = run(env, "serve", "--port", str(free_port()))  # refused before anything starts
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "PERPVOL_TRUSTED_PROXIES: 'my-proxy' is not an IP address or a CIDR network" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------------------------ Host names


def test_host_names_pass_by_starlettes_parsing_and_refusals_keep_our_answer(plain: Door) -> None:
    port = plain.server.port
    with httpx.Client(base_url=plain.server.base_url, timeout=60) as c:
        for host in (f"localhost:{port}", f"LOCALHOST:{port}", "127.0.0.1", f"[::1]:{port}"):
            assert c.get("/api/v1/health", headers={"Host": host}).status_code == 200, host
        for host in ("localhost.attacker.example", "attacker.example:80", "*", "[::2]", "", "local host"):
            r = c.get("/api/v1/health", headers={"Host": host})
            assert r.status_code == 400 and r.json()["error"] == "invalid_host", host
            assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    # a configured name with '*' is never a pattern ('*' alone would allow every Host)
    assert host_patterns({"localhost", "::1", "[fe80::1]", "*", "*.example.com", " Dash.Example "}) == [
        "[::1]", "[fe80::1]", "dash.example", "localhost"]
