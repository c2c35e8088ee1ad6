"""The front door: one ASGI middleware in front of everything the server exposes.

``X-Forwarded-For``/``-Proto`` count only from the proxies of ``PERPVOL_TRUSTED_PROXIES`` (uvicorn's
middleware, none by default). In this order, before any route runs: the ``Host`` header is checked against
the configured names (DNS rebinding); a WebSocket a login cookie rides along must come from this server's
own pages (``Origin``, :mod:`perpvol_app.doorsocket`); a request body larger than its cap is refused from
``Content-Length`` without reading it, otherwise it is read up to the cap (a streaming body over the cap is
refused too); then the credentials: the bearer token for ``/api/v1`` (constant-time; the stream also takes
``?token=``), the login session for the dashboard (:mod:`perpvol_app.login`); ``/components/`` serves only
modules that are ours or Panel's and already imported; JSON bodies nested deeper than
:data:`MAX_JSON_DEPTH` are refused. Every response gets ``nosniff``; every page but the embed widget gets
``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``. One access log line per request, through
:func:`redact_uri` (:mod:`perpvol_app.doorlog`). A WebSocket refused (here, or by the app before its
handshake) gets a clean answer and one log line, never a server traceback.
"""

from __future__ import annotations

import hmac
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from perpvol_app.doorlog import DENIED_SOCKET, access_log, redact_uri
from perpvol_app.doorlog import install_log_redaction as install_log_redaction  # imported from here by the app
from perpvol_app.doorsocket import SESSION_RECHECK_S as SESSION_RECHECK_S  # noqa: F401 - part of this API
from perpvol_app.doorsocket import same_origin, session_bound
from perpvol_core.security.redaction import Secret, redact

API_PREFIX = "/api/v1"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
MAX_BODY = 64 * 1024
MAX_LOGIN_BODY = 4 * 1024
MAX_JSON_DEPTH = 32
#: modules whose component resources ``/components/`` may serve (and only once imported by the app itself)
COMPONENT_PACKAGES = ("panel", "panel_material_ui", "perpvol_app", "bokeh")
_FRAME_DENY = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]


def json_depth(body: bytes, limit: int) -> int:
    """Nesting depth of a JSON text, stopping once it passes ``limit`` (strings are skipped; never recursive)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


class Refusal(Exception):
    """A request the front door answers itself: status, machine code and a fixed message."""

    def __init__(self, status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, list(headers)


@dataclass
class DoorConfig:
    """What the front door checks. ``api_token`` None (or empty) means the API refuses everything but health."""

    allowed_hosts: frozenset[str]
    api_token: Callable[[], Secret | None]
    #: ``(scope) -> True`` when the request holds a valid login session (None: no dashboard on this app)
    session_ok: Callable[[Scope], bool] | None = None
    public_paths: tuple[str, ...] = ("/login", "/favicon.ico")
    max_body: int = MAX_BODY
    max_login_body: int = MAX_LOGIN_BODY
    max_json_depth: int = MAX_JSON_DEPTH
    #: peers (IP addresses / networks) whose ``X-Forwarded-For``/``-Proto`` count; none by default
    trusted_proxies: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def default_hosts(bind_address: str, configured: str | None = None) -> frozenset[str]:
    """``localhost``, the loopback addresses, the bind address (unless a wildcard) and ``PERPVOL_ALLOWED_HOSTS``."""
    hosts = {"localhost", "127.0.0.1", "::1"}
    if bind_address not in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind names no host
        hosts.add(bind_address.strip("[]").lower())
    for name in (configured or "").split(","):
        if name.strip():
            hosts.add(name.strip().lower())
    return frozenset(hosts)


_HOST_OK = "perpvol.host_ok"


def host_patterns(hosts: Iterable[str]) -> list[str]:
    """The allowed names as :class:`TrustedHostMiddleware` patterns: an IPv6 address in brackets (as a Host
    header carries it); a name with ``*`` is left out (only exact names are allowed: ``*`` would allow any)."""
    names = {h.strip().strip("[]").lower() for h in hosts}
    return sorted(f"[{h}]" if ":" in h else h for h in names if h and "*" not in h)


async def _host_passed(scope: Scope, receive: Receive, send: Send) -> None:
    scope[_HOST_OK] = True


async def _discard(message: Message) -> None:
    return None


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def _query_param(scope: Scope, name: str) -> str | None:
    for part in (scope.get("query_string") or b"").decode("latin-1").split("&"):
        key, _, value = part.partition("=")
        if unquote(key) == name:
            return unquote(value)
    return None


def is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def is_embed(path: str) -> bool:
    return path == "/embed" or path.startswith("/embed/")


class FrontDoor:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, config: DoorConfig) -> None:
        self.app = app
        self.config = config
        # The client address (the login backoff's key, the access log) and the scheme (the cookie's Secure)
        # come from X-Forwarded-* only when the peer is a configured proxy: uvicorn's own middleware, with
        # the user's list instead of its default (127.0.0.1, which any local process could claim to be).
        self._entry: ASGIApp = self._door
        # Starlette's middleware decides which Host names pass (its Host parsing: port, [IPv6], case); the
        # refusal is ours (the JSON answer, the WebSocket denial and the log line of every other refusal)
        self._hosts = TrustedHostMiddleware(_host_passed, allowed_hosts=host_patterns(config.allowed_hosts),
                                            www_redirect=False)
        if config.trusted_proxies:
            self._entry = ProxyHeadersMiddleware(self._door, trusted_hosts=list(config.trusted_proxies))  # type: ignore[arg-type,assignment]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._entry(scope, receive, send)

    async def _door(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status_box = {"status": 0}
        path = scope.get("path") or "/"
        try:
            await self._check_host(scope)
            if scope["type"] == "websocket":
                if not is_api(path):  # a login cookie rides along: only our own pages may open these
                    self._check_origin(scope)
                by_session = self._check_credentials(scope, path)
                status_box["status"] = 101
                if by_session:
                    assert self.config.session_ok is not None  # a session let it in
                    receive, send = session_bound(scope, receive, send, self.config.session_ok)
                await self._socket(scope, receive, send, path)
                return
            body = await self._read_body(scope, receive, path)
            replay = _replayer(body, receive)
            await self.app(scope, replay, self._with_headers(send, path, status_box))
        except Refusal as refusal:
            status_box["status"] = refusal.status
            await self._refuse(scope, send, path, refusal)
        finally:
            self._log(scope, path, status_box["status"], started)

    # -- checks ---------------------------------------------------------------------------------------

    async def _check_host(self, scope: Scope) -> None:
        probe = dict(scope)  # the middleware answers a refused Host itself: that answer is dropped for ours
        await self._hosts(probe, _no_body, _discard)
        if not probe.get(_HOST_OK):
            raise Refusal(
                400, "invalid_host",
                "this server does not answer to that Host name; add it to PERPVOL_ALLOWED_HOSTS to allow it",
            )  # fmt: skip

    def _check_credentials(self, scope: Scope, path: str) -> bool:
        """Refuse (:class:`Refusal`) what lacks its credentials; True when a login session let it in."""
        if is_api(path):
            if path != f"{API_PREFIX}/health":
                self._check_token(scope, allow_query=path == f"{API_PREFIX}/stream")
            return False
        if is_embed(path) or path in self.config.public_paths or path == "/logout":
            return False  # the logout route checks its session itself (and answers 303 without one)
        if self.config.session_ok is None:
            raise Refusal(404, "not_found", "not found")
        if path.startswith("/components/"):
            self._check_component(path)
        if not self.config.session_ok(scope):
            if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
                target = quote(path, safe="/")
                raise Refusal(303, "login_required", "sign in first", [("location", f"/login?next={target}")])
            raise Refusal(401, "login_required", "sign in first")
        return True

    def _check_origin(self, scope: Scope) -> None:
        """A browser's WebSocket only from this server's own pages (:func:`perpvol_app.doorsocket.same_origin`)."""
        origin = _header(scope, b"origin")
        if origin is not None and not same_origin(origin, _header(scope, b"host") or "", self.config.allowed_hosts):
            raise Refusal(403, "forbidden_origin",
                          "this WebSocket may be opened only by this server's own pages (Origin must match Host)")

    async def _socket(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """The app's WebSocket; an app that refuses it by raising before the handshake (Bokeh does, for a
        missing or bad session token) gets a clean refusal and one log line instead of a server traceback."""
        answered = {"sent": False, "accepted": False}

        async def noting_send(message: Message) -> None:
            answered["sent"] = True  # accept, close or a denial response: the handshake is answered
            answered["accepted"] = answered["accepted"] or message["type"] == "websocket.accept"
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        except Exception as exc:
            if answered["accepted"]:  # a failure inside a live session is a real error: uvicorn logs it
                raise
            reason = redact(f"{type(exc).__name__}: {exc}")[:200]
            access_log.warning("refused a WebSocket to %s: %s", redact_uri(path), reason)
            if not answered["sent"]:
                await self._refuse(scope, send, path, Refusal(403, "forbidden", "this WebSocket was refused"))

    def _check_token(self, scope: Scope, allow_query: bool) -> None:
        expected = self.config.api_token()
        if expected is None or not expected.reveal():
            raise Refusal(401, "unauthorized",
                          "the API is disabled: set PERPVOL_API_TOKEN on the server to enable it", _BEARER)
        header = _header(scope, b"authorization") or ""
        given = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not given and allow_query:
            given = _query_param(scope, "token") or ""
        if not given:
            raise Refusal(401, "unauthorized",
                          "missing credentials: send the header Authorization: Bearer <PERPVOL_API_TOKEN>", _BEARER)
        if not hmac.compare_digest(given.encode("utf-8"), expected.reveal().encode("utf-8")):
            raise Refusal(401, "unauthorized", "invalid token", _BEARER)

    @staticmethod
    def _check_component(path: str) -> None:
        """``/components/<module>/<Class>/...`` only for our and Panel's modules, never importing one."""
        module = path.split("/")[2] if path.count("/") >= 2 else ""
        allowed = any(module == p or module.startswith(p + ".") for p in COMPONENT_PACKAGES)
        if not allowed or module not in sys.modules:
            raise Refusal(404, "not_found", "not found")

    async def _read_body(self, scope: Scope, receive: Receive, path: str) -> bytes:
        cap = self.config.max_login_body if path in ("/login", "/logout") else self.config.max_body
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise Refusal(400, "invalid_request", "invalid Content-Length")
            if int(length) > cap:
                raise Refusal(413, "too_large", f"request body too large (at most {cap} bytes)")
        self._check_credentials(scope, path)  # after the size, before reading anything
        if scope.get("method") in ("GET", "HEAD", "OPTIONS") and length in (None, "0"):
            return b""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise Refusal(413, "too_large", f"request body too large (at most {cap} bytes)")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if body and (ctype.endswith("json") or (ctype == "" and body.lstrip()[:1] in (b"[", b"{"))):
            if json_depth(body, self.config.max_json_depth) > self.config.max_json_depth:
                raise Refusal(400, "invalid_request", f"JSON nested deeper than {self.config.max_json_depth} levels")
        return body

    # -- responses ------------------------------------------------------------------------------------

    def _with_headers(self, send: Send, path: str, status_box: dict[str, int]) -> Send:
        frameable = is_embed(path)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = int(message["status"])
                headers = list(message.get("headers") or [])
                if not frameable:
                    csp = _merge_csp(headers)
                    headers = [(k, v) for k, v in headers
                               if k.lower() not in (b"content-security-policy", b"x-frame-options")]
                    headers += [(b"x-frame-options", b"DENY"), (b"content-security-policy", csp)]
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped

    async def _refuse(self, scope: Scope, send: Send, path: str, refusal: Refusal) -> None:
        body = json.dumps({"error": refusal.code, "message": refusal.message}).encode()
        headers = [(b"content-type", b"application/json; charset=utf-8"), (b"cache-control", b"no-store"),
                   (b"content-length", str(len(body)).encode()), (b"x-content-type-options", b"nosniff"),
                   *_FRAME_DENY]
        headers += [(k.lower().encode(), v.encode()) for k, v in refusal.headers]
        if scope["type"] == "websocket":
            DENIED_SOCKET.set(True)
            if "websocket.http.response" not in (scope.get("extensions") or {}):
                await send({"type": "websocket.close", "code": 1008, "reason": refusal.message[:120]})
                return
            # the same JSON answer as HTTP (a 401 says "send the token"), before any upgrade
            await send({"type": "websocket.http.response.start", "status": refusal.status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})

    def _log(self, scope: Scope, path: str, status: int, started: float) -> None:
        client = (scope.get("client") or ("-", 0))[0]
        query = (scope.get("query_string") or b"").decode("latin-1")
        method = scope.get("method", "WS")
        access_log.info("%s %s %s %s %.1fms", client, method, redact_uri(path, query), status,
                        (time.monotonic() - started) * 1000)


_BEARER = [("www-authenticate", 'Bearer realm="perpvol"')]


def _merge_csp(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The page's own CSP (if any) plus ``frame-ancestors 'none'``."""
    own = [v for k, v in headers if k.lower() == b"content-security-policy"]
    parts = [p.strip() for v in own for p in v.split(b";")]
    parts = [p for p in parts if p and not p.startswith(b"frame-ancestors")]
    return b"; ".join([*parts, b"frame-ancestors 'none'"])


def _replayer(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app once, then waits on the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
