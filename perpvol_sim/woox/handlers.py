"""The HTTP handlers' base (:class:`_Base`: counts, faults, signature auth, rate limits, JSON and error bodies,
query parameters), :class:`_ParamError` and the 404 handler; the routes are in :mod:`.handlers_trades`,
:mod:`.handlers_account` and :mod:`.handlers_public`.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import tornado.web
from tornado import httputil

from perpvol_sim import faults as fault_kinds
from perpvol_sim.woox.config import (
    _MESSAGES,
    INVALID_PARAM,
    INVALID_SIGNATURE,
    TOO_MANY_REQUEST,
    UNAUTHORIZED,
    UNKNOWN,
)
from perpvol_sim.woox.fills import encode_json
from perpvol_sim.woox.signing import _HEX64, _TS13, _v1_candidates, sign, v3_string_to_sign
from perpvol_sim.woox.state import WooxState


class _ParamError(Exception):
    """A bad request parameter: 400 −1005."""


class _Base(tornado.web.RequestHandler):
    endpoint = ""
    private = True

    def initialize(self, state: WooxState) -> None:
        self.state = state
        self._truncate = False

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        pass

    async def prepare(self) -> None:
        state = self.state
        # a real server's Date header shows its own clock; the clients use it to diagnose clock skew
        self.set_header("Date", httputil.format_timestamp(state.now_ms() / 1000))
        state.count(self.endpoint)
        # Faults: consulted exactly once per request, before anything else.
        fault = state.faults.pick(self.request.path)
        if fault == fault_kinds.RATE_LIMIT:
            state.count_rate_limited(self.endpoint)
            self.send_error_body(429, TOO_MANY_REQUEST)
            return
        if fault == fault_kinds.SERVER_ERROR:
            self.send_error_body(500, UNKNOWN)
            return
        if fault == fault_kinds.HTML_ERROR:
            self.set_status(502)
            self.set_header("Content-Type", "text/html")
            self.finish(state.faults.html_page())
            return
        if fault == fault_kinds.STALL:
            await asyncio.sleep(state.faults.stall_s)
        elif fault == fault_kinds.TRUNCATE:
            self._truncate = True
        if self.private and not self._authenticate():
            return
        if not self._within_rate_limit():
            state.count_rate_limited(self.endpoint)
            self.send_error_body(429, TOO_MANY_REQUEST)

    # -- auth
    def _authenticate(self) -> bool:
        state, cfg = self.state, self.state.config
        headers = self.request.headers
        key = headers.get("x-api-key", "")
        ts = headers.get("x-api-timestamp", "")
        signature = headers.get("x-api-signature", "")
        if not key or not _TS13.match(ts) or not _HEX64.match(signature):
            return self._auth_failed(INVALID_SIGNATURE)
        if state.faults.revoked or not hmac.compare_digest(key.encode(), cfg.api_key.encode()):
            return self._auth_failed(UNAUTHORIZED)
        if abs(state.now_ms() - int(ts)) > cfg.ts_window_ms:
            return self._auth_failed(cfg.stale_timestamp_code)
        given = signature.lower()
        for message in self._strings_to_sign(ts):
            if hmac.compare_digest(sign(cfg.api_secret, message), given):
                return True
        return self._auth_failed(UNAUTHORIZED)

    def _strings_to_sign(self, ts: str) -> list[str]:
        req = self.request
        body = req.body.decode("utf-8", "replace") if req.body else ""
        if req.path.startswith("/v3/"):
            return [v3_string_to_sign(ts, req.method or "GET", req.path, req.query, body)]
        return _v1_candidates(req.query if req.method in ("GET", "HEAD") else body, ts)

    def _auth_failed(self, code: int) -> bool:
        self.state.auth_failures += 1
        self.send_error_body(401, code)
        return False

    # -- rate limit
    def _within_rate_limit(self) -> bool:
        cfg = self.state.config
        if not cfg.rate_limits_enabled or self.endpoint not in cfg.rate_limits:
            return True
        limit, window_s = cfg.rate_limits[self.endpoint]
        scope = cfg.application_id if self.private else (self.request.remote_ip or "")
        return self.state.limiter.allow((scope, self.endpoint), limit, window_s)

    # -- responses
    def send_json(self, obj: Any, status: int = 200) -> None:
        body = encode_json(obj)
        if self._truncate:
            body = self.state.faults.truncate(body)
        self.set_status(status)
        self.set_header("Content-Type", "application/json;charset=UTF-8")
        self.finish(body)

    def send_error_body(self, status: int, code: int, message: str | None = None) -> None:
        code_value: int | str = str(code) if self.state.config.string_error_codes else code
        self.send_json({"success": False, "code": code_value, "message": message or _MESSAGES[code]}, status)

    def ok(self, payload: dict[str, Any]) -> None:
        """Success envelope: ``{"success": true, …payload, "timestamp": now}``."""
        self.send_json({"success": True, **payload, "timestamp": self.state.now_ms()})

    # -- params
    def int_param(self, name: str, default: int | None = None) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise _ParamError(name) from exc

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, _ParamError):
            self.send_error_body(400, INVALID_PARAM)
        elif status_code == 404:
            self.send_error_body(404, -1006, "The data is not found in the server.")
        else:
            self.send_error_body(status_code if status_code >= 400 else 500, UNKNOWN)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, _ParamError):
            if not self._finished:
                self.send_error_body(400, INVALID_PARAM, f"invalid request, please check parameter {e}")
            return
        super()._handle_request_exception(e)


class _NotFound(_Base):
    endpoint = "not_found"
    private = False

    async def prepare(self) -> None:
        self.state.count(self.endpoint)
        self.send_error_body(404, -1006, "The data is not found in the server.")
