"""The one server: the FastAPI API and the Panel dashboard in one ASGI app, behind the front door and our login.

``create_app(config)`` builds it; ``perpvol serve`` runs it with uvicorn (:func:`run`). The store, the vault
and the background worker are opened in the app's lifespan and closed when it stops. The dashboard is
mounted through Panel's FastAPI integration (``panel.io.fastapi`` on ``bokeh-fastapi``) at ``/app``; the
Bokeh session gets no request header and no cookie (so the login cookie never reaches the document).
:class:`BackgroundApp` runs an app on a thread (tests, benchmarks).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import secrets
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from perpvol_app import api
from perpvol_app.frontdoor import DoorConfig, FrontDoor, default_hosts, install_log_redaction
from perpvol_app.login import COOKIE, LoginGuard, cookie_from_scope
from perpvol_app.templates import render
from perpvol_core.config import ConfigError, Settings
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

DASHBOARD_PATH = "/app"
LOGOUT_HTML = """<form method="post" action="/logout" style="margin:0">
<button type="submit" id="pv-logout" style="background:none;border:1px solid #7a6418;color:#ffd230;
border-radius:4px;padding:4px 10px;cursor:pointer">Sign out</button></form>"""


@dataclass
class ServerConfig:
    """How one server process runs. ``password`` guards the dashboard; ``settings`` hold the API token."""

    settings: Settings
    password: str
    address: str = "127.0.0.1"
    port: int = 8000
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    worker: bool = True
    dashboard: bool = True

    def hosts(self) -> frozenset[str]:
        return self.allowed_hosts or default_hosts(self.address, os.environ.get("PERPVOL_ALLOWED_HOSTS"))


# ---------------------------------------------------------------------------------------------
# lifespan: store, vault, worker
# ---------------------------------------------------------------------------------------------
def _warm_dashboard() -> None:
    try:
        from perpvol_app.ui.dashboard import warm

        warm()
    except Exception as exc:  # noqa: BLE001 - a cold first session is slower, never broken
        log.warning("warming the dashboard failed: %s", redact(exc))


class Services:
    """The process's store, vault and worker: opened on startup, closed on shutdown."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store: Any = None
        self.worker: Any = None
        self.vault: Any = None

    def open(self) -> api.ApiContext:
        from perpvol_app.ui.components.context import AppContext, set_context
        from perpvol_core.services.pubsub import install_bus
        from perpvol_core.store import Store

        settings = self.config.settings
        settings.ensure_home()
        install_bus(settings)
        self.store = Store.open(settings)
        try:
            from perpvol_core.security.vault import Vault

            self.vault = Vault.open(settings, self.store)
        except Exception as exc:  # noqa: BLE001 - serve the read-only parts; account routes say why
            log.error("the vault cannot open: %s", redact(exc))
        if self.config.worker:
            self.worker = self._start_worker()
        set_context(AppContext(settings=settings, store=self.store, worker=self.worker, _vault=self.vault))
        if self.config.dashboard:
            # the first visitor should not pay the imports and the first reads: warm beside the start-up
            threading.Thread(target=_warm_dashboard, name="perpvol-warm", daemon=True).start()
        return api.ApiContext(settings, store=self.store, vault=self.vault, worker=self.worker,
                              use_worker=False)  # fmt: skip

    def _start_worker(self) -> Any:
        from perpvol_core.services.live import attach_live_feed
        from perpvol_core.services.worker import Worker

        worker = Worker(self.config.settings, store=self.store, vault=self.vault)
        try:
            attach_live_feed(worker)  # private fill streams; also installs the Redis bus when configured
            worker.start()
        except Exception as exc:  # noqa: BLE001 - serve the (read-only) dashboard even if the worker fails
            log.error("background worker failed to start: %s", redact(exc))
        return worker

    def close(self) -> None:
        from perpvol_app.ui.components.context import set_context
        from perpvol_app.ui.live_hub import close_hub

        close_hub()
        set_context(None)
        if self.worker is not None:
            try:
                self.worker.stop()
            except Exception as exc:  # noqa: BLE001 - shut down the rest anyway
                log.warning("worker stop failed: %s", redact(exc))
        if self.store is not None:
            self.store.close()


# ---------------------------------------------------------------------------------------------
# login pages
# ---------------------------------------------------------------------------------------------
def _safe_next(value: str | None) -> str:
    """Only a local path of this server (no scheme, no ``//host``), else the dashboard."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value[:500]
    return DASHBOARD_PATH


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(message: str, next_path: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    html = render("login.html", message=message, next=next_path)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


def add_login_routes(app: FastAPI, guard: LoginGuard) -> None:
    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        if guard.scope_ok(request.scope):
            return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
        return _login_page("", _safe_next(request.query_params.get("next")))

    @app.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        client = request.client.host if request.client else "-"
        form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        password = (form.get("password") or [""])[0]
        next_path = _safe_next((form.get("next") or [""])[0])
        result = guard.attempt(client, password)
        if not result.ok:
            if result.wait_s:
                return _login_page(result.message, next_path, 429, {"Retry-After": str(result.wait_s)})
            return _login_page(result.message, next_path, 401)
        response = RedirectResponse(next_path, status_code=303)
        response.headers.append("Set-Cookie", guard.set_cookie_header(result.cookie or "", _secure(request)))
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            return api.error_response(403, "forbidden", "log out from this server's own page")
        guard.revoke(cookie_from_scope(request.scope))
        response = RedirectResponse("/login", status_code=303)
        response.headers.append("Set-Cookie", guard.clear_cookie_header(_secure(request)))
        return response

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(DASHBOARD_PATH, status_code=303)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # the page asks for ./favicon.ico; Panel ships one (public, like the login page)
        import panel

        icon = pathlib.Path(panel.__file__).parent / "dist" / "images" / "favicon.ico"
        if not icon.is_file():
            return Response(status_code=204)
        return FileResponse(icon, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


# ---------------------------------------------------------------------------------------------
# the dashboard mount
# ---------------------------------------------------------------------------------------------
def _dashboard() -> Any:
    """One browser session's page: the dashboard plus a sign-out button (a POST form)."""
    import panel as pn

    from perpvol_app.ui.dashboard import create_app as create_dashboard

    template = create_dashboard()
    template.header.append(  # type: ignore[attr-defined]  # the gold template has a header area
        pn.pane.HTML(LOGOUT_HTML, width=100, height=36, margin=(8, 8))
    )
    return template


def mount_dashboard(app: FastAPI, config: ServerConfig) -> None:
    """The Panel dashboard at ``/app`` through ``panel.io.fastapi`` (sessions, periodic callbacks, resources)."""
    from panel.io.fastapi import add_applications

    origins = sorted({f"{h}:{config.port}" for h in config.hosts()} | set(config.hosts()))
    add_applications(
        {DASHBOARD_PATH: _dashboard}, app=app, title="perpvol",
        websocket_origins=origins,
        include_headers=[], include_cookies=[],  # the document never holds the login cookie nor any header
        check_unused_sessions_milliseconds=5000, unused_session_lifetime_milliseconds=15000,
        secret_key=secrets.token_urlsafe(32).encode(), sign_sessions=True,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------
def create_app(
    config: ServerConfig, *, ctx: api.ApiContext | None = None, guard: LoginGuard | None = None
) -> FrontDoor:
    """The whole server as one ASGI app (the front door around FastAPI). ``.state.guard`` is the login.

    Raises: ConfigError when ``PERPVOL_TRUSTED_PROXIES`` holds something that is not an address or network.

    With ``ctx`` the caller owns the store, vault and worker; without, the lifespan opens and closes them.
    """
    proxies = tuple(str(n) for n in config.settings.trusted_proxy_networks())  # ConfigError: a bad entry
    services = None if ctx is not None else Services(config)
    holder: dict[str, api.ApiContext] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from perpvol_app.ui.components.context import AppContext, set_context

        if services is not None:
            app.state.api_ctx = holder["ctx"] = services.open()
        elif ctx is not None:  # the dashboard sessions share the caller's store and worker
            set_context(AppContext(settings=ctx.settings, store=ctx.store, worker=ctx.worker, _vault=ctx._vault))
        try:
            yield
        finally:
            if services is not None:
                services.close()
            else:
                set_context(None)

    app = api.new_fastapi(lifespan=lifespan)
    app.state.api_ctx = ctx
    guard = guard or LoginGuard(config.password)
    app.state.guard = guard
    api.include_api(app)
    add_login_routes(app, guard)
    if config.dashboard:
        mount_dashboard(app, config)
    install_log_redaction()

    def token() -> Any:
        current = app.state.api_ctx or holder.get("ctx")
        return current.api_token if current is not None else config.settings.api_token

    door = FrontDoor(app, DoorConfig(allowed_hosts=config.hosts(), api_token=token, session_ok=guard.scope_ok,
                                     trusted_proxies=proxies))  # fmt: skip
    door.state = app.state  # type: ignore[attr-defined]
    return door


def run(config: ServerConfig) -> int:
    """Serve until Ctrl-C / SIGTERM (uvicorn), then shut the lifespan down cleanly. Returns the exit code."""
    import sys

    import uvicorn

    install_log_redaction()
    access = logging.getLogger("perpvol.access")  # our one access log (uvicorn's own is off), redacted
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s access %(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    try:
        app = create_app(config)
    except ConfigError as exc:
        print(f"perpvol: error: {exc}", file=sys.stderr)
        return 2
    # proxy headers: the front door honours them from PERPVOL_TRUSTED_PROXIES only (uvicorn's would trust
    # any process on this machine)
    uvicorn.run(
        app, host=config.address, port=config.port, access_log=False, log_level="info",
        proxy_headers=False, server_header=False, ws_max_size=1 << 20, timeout_graceful_shutdown=10,
    )  # fmt: skip
    return 0


class BackgroundApp:
    """Serves an ASGI app with uvicorn on a thread (tests, benchmarks). ``start()`` returns the base URL."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        import socket

        self.app = app
        self.host = host
        if port is None:  # a free port now (the simulators are never imported by the app)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                port = int(s.getsockname()[1])
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self, timeout_s: float = 60) -> str:
        import uvicorn

        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_config=None, access_log=False,
                                lifespan="on", ws_max_size=1 << 20, proxy_headers=False)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"asgi-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.02)
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self._server = None

    def __enter__(self) -> BackgroundApp:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["COOKIE", "BackgroundApp", "ServerConfig", "create_app", "run"]
