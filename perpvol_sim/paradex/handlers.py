"""The HTTP handlers' base (:class:`_Handler`: counts, faults, rate limits, bearer auth, JSON and error bodies)
and the 404 handler; the routes are in :mod:`.handlers_system` and :mod:`.handlers_account`.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any, NoReturn

import tornado.web

from perpvol_sim.faults import HTML_ERROR, RATE_LIMIT, SERVER_ERROR, STALL, TRUNCATE
from perpvol_sim.paradex.state import ParadexState, Principal, _Reject
from perpvol_sim.paradex.tokens import JwtError


class _Handler(tornado.web.RequestHandler):
    """Base: counts, faults, rate limits, bearer auth and JSON/error writing in one place."""

    route = "?"
    #: "public" (IP bucket), "private" (bearer + account bucket on GET), or "auth" (auth bucket).
    access = "public"

    def initialize(self, state: ParadexState) -> None:
        self.state = state
        self.principal: Principal | None = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")

    async def prepare(self) -> None:
        state = self.state
        state.request_count[f"{self.request.method} {self.route}"] += 1
        try:
            await self._apply_faults()
            ip = self.request.remote_ip or "?"
            bucket = "auth" if self.access == "auth" else "ip"
            self._limit([(bucket, ip)])
            if self.access == "private":
                self.principal = self._bearer_principal()
                if self.principal.read_only and self.request.method != "GET":
                    raise _Reject(
                        state.config.read_only_write_status,
                        "INVALID_TOKEN_SCOPE",
                        "read-only token cannot be used for this request",
                    )
                if self.request.method == "GET":
                    self._limit([("account", hex(self.principal.account))])
        except _Reject as rej:
            self._send_reject(rej)
            raise tornado.web.Finish() from None

    async def _apply_faults(self) -> None:
        """The one place a request consults the shared fault configuration (``Faults.pick`` once)."""
        faults = self.state.faults
        if faults is None:
            return
        fault = faults.pick(self.request.path)
        if fault == STALL:
            await asyncio.sleep(faults.stall_s)
        elif fault == RATE_LIMIT:
            self.state.rate_limited += 1
            now = self.state.now()
            limits = self.state.config.limits
            raise _Reject(
                429,
                "RATE_LIMIT_EXCEEDED",
                "rate limit exceeded, retry after x-ratelimit-reset",
                headers={
                    "x-ratelimit-limit": str(limits.per_ip),
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(math.ceil(now + limits.window_s / limits.per_ip)),
                    "x-ratelimit-window": str(int(limits.window_s)),
                },
            )
        elif fault == SERVER_ERROR:
            self.state.server_errors += 1
            if self.state.server_errors % 2:
                raise _Reject(500, "INTERNAL_ERROR", "internal server error")
            raise _Reject(503, "SERVICE_UNAVAILABLE", "request timed out")
        elif fault == HTML_ERROR:
            self.set_status(502)
            self.set_header("Content-Type", "text/html")
            self.finish(faults.html_page())
            raise tornado.web.Finish()
        elif fault == TRUNCATE:
            self._truncate_next = True

    _truncate_next = False

    def _limit(self, keys: list[tuple[str, str]]) -> None:
        allowed, headers = self.state.limiter.check(keys, self.state.now())
        for name, value in headers.items():
            self.set_header(name, value)
        if not allowed:
            self.state.rate_limited += 1
            raise _Reject(429, "RATE_LIMIT_EXCEEDED", "rate limit exceeded, retry after x-ratelimit-reset", headers)

    def _bearer_principal(self) -> Principal:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Reject(401, None, "missing or malformed jwt: missing value in request header")
        try:
            return self.state.authenticate(token.strip())
        except JwtError as exc:
            raise _Reject(401, None, str(exc)) from None

    def _send_reject(self, rej: _Reject) -> None:
        self.clear_header("Content-Type")
        self.set_status(rej.status)
        for name, value in rej.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(rej.body()))

    def reject(self, status: int, code: str | None, message: str) -> NoReturn:
        """Send an error response and stop the handler."""
        self._send_reject(_Reject(status, code, message))
        raise tornado.web.Finish()

    def send_json(self, payload: Any, raw: str | None = None) -> None:
        body = (raw if raw is not None else json.dumps(payload, separators=(",", ":"))).encode()
        if self._truncate_next and self.state.faults is not None:
            body = self.state.faults.truncate(body)
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        code = {404: "NOT_FOUND", 405: "REQUEST_NOT_ALLOWED"}.get(status_code, "INTERNAL_ERROR")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": code, "message": self._reason, "data": None}))

    def query_int(self, name: str) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            self.reject(400, "VALIDATION_ERROR", f"{name} must be an integer")
            raise  # unreachable: reject() raises Finish

    def account_for(self) -> int:
        assert self.principal is not None
        return self.principal.account


class _NotFoundHandler(_Handler):
    route = "*"

    def get(self, *args: Any) -> None:
        self.reject(404, "NOT_FOUND", "not found")

    post = put = delete = get
