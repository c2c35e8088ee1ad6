"""``POST /info`` (``hyperliquid-api.md`` §3-§6): one JSON body ``{"type": ..., ...}``, no key, no signature.

Every request first meets the fault injector (:mod:`perpvol_sim.faults`), then the weight limiter (§6; a 429
is plain text or JSON, with or without ``Retry-After``, F15). A body that is not a JSON object with a known
``type`` and valid fields is answered 422 text/plain, or 400 JSON (F16).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import tornado.web

from perpvol_sim import faults as fault_kinds
from perpvol_sim.hyperliquid import account, market
from perpvol_sim.hyperliquid.limiter import PER_ITEM_TYPES, base_weight, item_weight
from perpvol_sim.hyperliquid.state import BadRequest, HyperliquidState

_DESERIALIZE = "Failed to deserialize the JSON body into the target type"
_MAX_BODY = 64 * 1024

Answer = Callable[[HyperliquidState, dict[str, Any]], Any]


def _user_fills(state: HyperliquidState, body: dict[str, Any]) -> Any:
    return state.user_fills(state.user(body), state.flag(body, "aggregateByTime"), state.dex(body))


def _user_fills_by_time(state: HyperliquidState, body: dict[str, Any]) -> Any:
    user = state.user(body)
    start = state.time_field(body, "startTime", required=True)
    end = state.time_field(body, "endTime", required=False)
    assert start is not None
    return state.user_fills_by_time(user, start, end, state.flag(body, "aggregateByTime"), state.dex(body),
                                    newest_first=state.flag(body, "reversed"))  # fmt: skip


def _with_user(fn: Callable[[HyperliquidState, str | None], Any]) -> Answer:
    return lambda state, body: fn(state, state.user(body))


ANSWERS: dict[str, Answer] = {
    "userFills": _user_fills,
    "userFillsByTime": _user_fills_by_time,
    "userFees": _with_user(account.user_fees),
    "portfolio": _with_user(account.portfolio),
    "userRateLimit": _with_user(account.user_rate_limit),
    "subAccounts": _with_user(account.sub_accounts),
    "userRole": _with_user(account.user_role),
    "extraAgents": _with_user(account.extra_agents),
    "meta": lambda s, b: market.meta(s.history, s.dex(b), s.config.delisted_in_meta),
    "metaAndAssetCtxs": lambda s, b: market.asset_contexts(s.history, s.dex(b), s.config.delisted_in_meta),
    "spotMeta": lambda s, b: market.spot_meta(s.history),
    "perpDexs": lambda s, b: market.perp_dexs(s.history),
    "allMids": lambda s, b: market.all_mids(s.history),
    "clearinghouseState": lambda s, b: market.clearinghouse_state(s.now_ms(), s.user(b) in s.histories),
    "exchangeStatus": lambda s, b: market.exchange_status(s.now_ms()),
}


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class InfoHandler(tornado.web.RequestHandler):
    def initialize(self, state: HyperliquidState) -> None:
        self.state = state

    def _reply(self, status: int, body: bytes | str, content_type: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A bug in the simulator answers as the venue's 500 does: plain text, no traceback."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("Internal Server Error" if status_code >= 500 else self._reason)

    def _bad_request(self, detail: str) -> None:
        if self.state.config.bad_request == "400_json":
            self._reply(400, encode({"code": 400, "msg": detail}), "application/json")
        else:
            self._reply(422, f"{_DESERIALIZE}: {detail}", "text/plain; charset=utf-8")

    def _too_many(self) -> None:
        config = self.state.config
        self.state.rate_limited += 1
        if config.retry_after_s is not None:
            self.set_header("Retry-After", str(config.retry_after_s))
        if config.rate_limit_body == "json":
            self._reply(429, encode({"code": 429, "msg": "Too many requests"}), "application/json")
        else:
            self._reply(429, "Too Many Requests", "text/plain; charset=utf-8")

    async def post(self) -> None:
        state = self.state
        state.requests["info"] += 1
        fault = state.faults.pick("/info")
        if fault == fault_kinds.RATE_LIMIT:
            return self._too_many()
        if fault == fault_kinds.SERVER_ERROR:
            return self._reply(500, "Internal Server Error", "text/plain; charset=utf-8")
        if fault == fault_kinds.HTML_ERROR:
            return self._reply(502, state.faults.html_page(), "text/html")
        if fault == fault_kinds.STALL:
            await asyncio.sleep(state.faults.stall_s)
        body = self._body()
        if isinstance(body, str):
            return self._bad_request(body)
        info_type = body["type"]
        state.requests[info_type] += 1
        ip = self.request.remote_ip or "?"
        if not state.limiter.admit(ip, base_weight(info_type)):
            return self._too_many()
        try:
            answer = ANSWERS[info_type](state, body)
        except BadRequest as exc:
            return self._bad_request(str(exc))
        if info_type in PER_ITEM_TYPES and state.config.extra_weight_per_items and isinstance(answer, list):
            state.limiter.charge(ip, item_weight(len(answer)))
        data = encode(answer)
        if fault == fault_kinds.TRUNCATE:
            data = state.faults.truncate(data)
        self._reply(200, data, "application/json")

    def _body(self) -> dict[str, Any] | str:
        """The request's JSON object, or what is wrong with it."""
        raw = self.request.body
        if len(raw) > _MAX_BODY:
            return "body too large"
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return "expected a JSON object"
        if not isinstance(body, dict):
            return "expected a JSON object"
        info_type = body.get("type")
        if not isinstance(info_type, str):
            return "missing field `type`"
        if info_type not in ANSWERS:
            return f"unknown variant `{info_type[:40]}`"
        return body


class NotFoundHandler(tornado.web.RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.finish("Not Found")
