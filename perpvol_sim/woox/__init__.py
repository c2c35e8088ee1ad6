"""A local WOO X exchange (REST + legacy v2 private WebSocket), following ``exchanges/woox-api.md``.

Routes (notes §3, §4, §6.1):

* ``GET /v3/trade/transactionHistory`` — ≤ 2 years back; ``symbol`` (optional unless
  ``symbol_required``), ``startTime``/``endTime`` (ms, both inclusive), ``fromId`` (inclusive unless
  configured), ``page`` (1-based), ``limit`` (page size = min(limit, ``page_size_cap``), default
  ``default_page_size``); answer ``data.rows`` + ``data.meta {total, recordsPerPage, currentPage}``.
  Rows are sorted ascending by id (= by time) unless ``sort_order="desc"``. The readings of §9:
  ``page_mode`` ``"honoured"`` / ``"ignored"`` (every request answers the first page) / ``"rejected"``
  (−1004 unknown parameter); ``limit_over_cap`` ``"clamp"`` (silently) / ``"reject-1004"`` /
  ``"reject-1005"``; ``meta=False`` (no ``meta`` object); ``symbol_required``; ``delisted_symbols``
  (traded, but absent from ``/v3/public/instruments``).
* ``GET /v1/client/hist_trades`` — all time; ``start_t``/``end_t`` required, ``fromId`` cursor
  (inclusive unless configured), ``limit`` (default 25, cap 1000); rows under ``data``, snake_case.
* ``GET /v1/client/trades`` — ≤ 90 days; ``page``/``size``; top-level ``rows`` + snake_case ``meta``.
* ``GET /v3/account/info``, ``GET /v3/public/systemInfo``, ``GET /v3/public/instruments``,
  ``GET /v1/public/token``, ``GET /v1/public/token_network`` (the last two: what ccxt's
  ``load_markets`` asks for).
* WebSocket ``/v2/ws/private/stream/{application_id}``: ``auth`` (sign = HMAC of ``|ts``),
  ``subscribe`` ``executionreport`` / ``algoexecutionreportv2``, server ``ping`` every
  ``ws_ping_interval_s``, one push per new live fill (algo/stop-order fills on ``algoexecutionreportv2``,
  ``data`` a list, as ccxt pro reads it).
* ``POST /v3/account/listenKey`` (body ``{"type": "WEBSOCKET"}``, v3-signed) → ``data.<listen_key_field>``
  and ``data.expiredTime`` (24 h; a new key expires the previous one), and WebSocket
  ``/v3/private?key=<listenKey>`` (§6.2): ``{"id", "cmd": "SUBSCRIBE", "params": [topics]}``, server
  ``{"cmd": "PING"}`` answered by ``{"cmd": "PONG"}``; v3 private topic names and payloads are UNCONFIRMED:
  served as the v2 ones (``executionreport``, ``algoexecutionreportv2``).

Auth (§2): ``/v3/*`` signs ``ts + METHOD + path[?raw query] + body``; ``/v1/*`` signs the sorted
``k=v&…`` params + ``|ts``; hex compared case-insensitively; 13-digit ms timestamp within 300 s of the
simulator's clock (shifted by ``Faults.clock_skew_ms``). Rate limits are sliding windows per
application id per endpoint (public: per IP per endpoint) answered with HTTP 429 / −1003.

Formats: ``"doc"`` (int ms timestamps, string prices and quantities, as the v3 docs) and ``"live"``
(``"1752055173.630"`` string seconds, JSON numbers, as recorded real responses). v1 endpoints always
answer as their docs show (JSON numbers, string-seconds timestamps). Every UNCONFIRMED point of the
notes is a field of :class:`WooxSimConfig`.

Public API: :class:`WooxSimConfig`, :func:`make_app`, :class:`WooxSim`, :func:`cmd_sim`,
:func:`v1_string_to_sign`, :func:`v3_string_to_sign`, :func:`sign`.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

import tornado.ioloop
import tornado.web
import tornado.websocket
from tornado import httputil

from perpvol_core.money import plain_decimal
from perpvol_sim import faults as fault_kinds
from perpvol_sim.faults import Faults
from perpvol_sim.history import MS_PER_DAY, History, SimFill
from perpvol_sim.server import BackgroundServer

log = logging.getLogger(__name__)

# Demo credentials: the public test-vector key and secret of the notes (§2.5) and the application id of
# a recorded response. Simulator-only values; printing them is fine.
DEMO_API_KEY = "AbmyVJGUpN064ks5ELjLfA=="
DEMO_API_SECRET = "QHKRXHPAW1MC9YGZMAT8YDJG2HPR"  # noqa: S105 - public test vector (§2.5)
DEMO_APPLICATION_ID = "251bf5c4-f3c8-4544-bb8b-80001007c3c0"

# Error codes and messages of the documented table (§5.3).
UNKNOWN = -1000
INVALID_SIGNATURE = -1001
UNAUTHORIZED = -1002
TOO_MANY_REQUEST = -1003
UNKNOWN_PARAM = -1004
INVALID_PARAM = -1005
_MESSAGES = {
    UNKNOWN: "An unknown error occurred while processing the request.",
    INVALID_SIGNATURE: "The api key or secret is in wrong format.",
    UNAUTHORIZED: "API key or secret is invalid, it may be because the key has insufficient permission "
    "or the key is expired/revoked.",
    TOO_MANY_REQUEST: "Rate limit exceed.",
    UNKNOWN_PARAM: "An unknown parameter was sent.",
    INVALID_PARAM: "invalid request, please check your request",
}

# Endpoint keys used for counters and rate limits.
EP_TRANSACTION_HISTORY = "transactionHistory"
EP_HIST_TRADES = "hist_trades"
EP_CLIENT_TRADES = "trades"
EP_ACCOUNT_INFO = "account_info"
EP_SYSTEM_INFO = "systemInfo"
EP_INSTRUMENTS = "instruments"
EP_TOKEN = "token"  # noqa: S105 - an endpoint name
EP_TOKEN_NETWORK = "token_network"  # noqa: S105 - an endpoint name
EP_LISTEN_KEY = "listenKey"
EP_TRADING_FEE = "tradingFee"
#: the readings of ``/v3/trade/tradingFee``'s unit (§4, UNCONFIRMED): 5 bps served as "5", "0.05" or "0.0005"
FEE_UNITS = {"bps": Decimal(10_000), "percent": Decimal(100), "fraction": Decimal(1)}

#: the readings of transactionHistory's ``page`` parameter (§9) and of a ``limit`` above the cap
PAGE_MODES = ("honoured", "ignored", "rejected")
LIMIT_OVER_CAP = ("clamp", "reject-1004", "reject-1005")
ALGO_TOPIC = "algoexecutionreportv2"
LISTEN_KEY_TTL_MS = 24 * 3_600_000

#: (requests, window seconds) per endpoint (§5.2); public endpoints are counted per IP.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    EP_TRANSACTION_HISTORY: (2, 1.0),
    EP_HIST_TRADES: (1, 1.0),
    EP_CLIENT_TRADES: (10, 1.0),
    EP_ACCOUNT_INFO: (10, 60.0),
    EP_SYSTEM_INFO: (10, 1.0),
    EP_INSTRUMENTS: (10, 1.0),
    EP_TOKEN: (10, 1.0),
    EP_TOKEN_NETWORK: (10, 1.0),
    EP_LISTEN_KEY: (5, 10.0),
    EP_TRADING_FEE: (2, 1.0),
}

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_TS13 = re.compile(r"^[0-9]{13}$")
_DEC_MARK = "\x00DEC\x00"
_DEC_JSON = re.compile(r'"\\u0000DEC\\u0000([-0-9.]+)"')


@dataclass
class WooxSimConfig:
    """Every choice the notes leave open, plus credentials. Fields may be changed at runtime."""

    api_key: str = DEMO_API_KEY
    api_secret: str = DEMO_API_SECRET
    application_id: str = DEMO_APPLICATION_ID
    response_format: str = "doc"  # "doc" | "live" (v3 trade rows)
    string_error_codes: bool = False  # error ``code`` as "-1002" instead of -1002 (seen live)
    page_size_cap: int = 500  # transactionHistory max page size (ccxt assumes 500)
    default_page_size: int = 100  # transactionHistory without ``limit`` (live meta showed 100)
    symbol_required: bool = False  # transactionHistory without ``symbol`` → 400 −1005 when True
    from_id_inclusive: bool = True  # transactionHistory ``fromId``
    sort_order: str = "asc"  # "asc" | "desc" by id, transactionHistory and client/trades
    max_span_ms: int | None = None  # transactionHistory endTime − startTime limit (None: unlimited)
    page_mode: str = "honoured"  # "honoured" | "ignored" (always page 1) | "rejected" (−1004), §9
    limit_over_cap: str = "clamp"  # a ``limit`` above ``page_size_cap``: "clamp" | "reject-1004" | "reject-1005"
    meta: bool = True  # transactionHistory answers ``data.meta`` (False: rows only)
    delisted_symbols: tuple[str, ...] = ()  # traded symbols absent from /v3/public/instruments
    listen_key_field: str = "listenKey"  # UNCONFIRMED name of the key in the listenKey answer
    v3_private_stream: bool = True  # False: no listenKey endpoint and no /v3/private (v2 only)
    listen_key_ttl_ms: int = LISTEN_KEY_TTL_MS  # validity of a listenKey (24 h documented)
    hist_trades_from_id_inclusive: bool = True
    hist_trades_default_limit: int = 25
    hist_trades_limit_cap: int = 1000
    client_trades_default_size: int = 25
    client_trades_size_cap: int = 1000
    v3_history_days: int = 730
    client_trades_days: int = 90
    window_anchor_ms: int | None = None  # data windows measured from here instead of the clock
    ts_window_ms: int = 300_000
    stale_timestamp_code: int = UNAUTHORIZED  # UNCONFIRMED: −1002 or −1001
    rate_limits_enabled: bool = True
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    maintenance_status: int = 0  # systemInfo ``status``: 0 ok, 1 trading maintenance, 2 system maintenance
    ws_ping_interval_s: float = 10.0
    ws_max_missed_pongs: int = 10
    #: ``/v3/trade/tradingFee`` rates' unit (a key of FEE_UNITS); None: the endpoint is not served (404)
    fee_unit: str | None = "bps"


# ---------------------------------------------------------------------------------------------- signing
def sign(secret: str, message: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``message`` under ``secret``."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def v1_string_to_sign(params: list[tuple[str, str]] | dict[str, str], timestamp: str) -> str:
    """v1: params sorted by key as ``k=v&k=v`` (values raw), then ``|`` + timestamp (§2.2)."""
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    return "&".join(f"{k}={v}" for k, v in sorted(pairs, key=lambda kv: kv[0])) + "|" + timestamp


def v3_string_to_sign(timestamp: str, method: str, path: str, raw_query: str = "", body: str = "") -> str:
    """v3: ``timestamp + METHOD + path[?raw query] + body`` (§2.3)."""
    return timestamp + method.upper() + path + (f"?{raw_query}" if raw_query else "") + body


def _v1_candidates(raw_params: str, timestamp: str) -> list[str]:
    """v1 strings for a raw query/body: values as sent and URL-decoded (both readings of §2.2)."""
    raw_pairs = []
    for part in raw_params.split("&") if raw_params else []:
        key, _, value = part.partition("=")
        raw_pairs.append((urllib.parse.unquote_plus(key), value))
    decoded = [(k, urllib.parse.unquote_plus(v)) for k, v in raw_pairs]
    candidates = [v1_string_to_sign(raw_pairs, timestamp)]
    if decoded != raw_pairs:
        candidates.append(v1_string_to_sign(decoded, timestamp))
    return candidates


# ---------------------------------------------------------------------------------------------- JSON
def _num(value: Decimal) -> str:
    """A Decimal to be written as a bare JSON number (exact digits, never via float)."""
    return _DEC_MARK + format(value, "f")


def encode_json(obj: Any) -> bytes:
    """JSON with :func:`_num` markers turned into bare numbers."""
    text = json.dumps(obj, separators=(",", ":"))
    return _DEC_JSON.sub(r"\1", text).encode()


def _seconds_string(ts_ms: int) -> str:
    return f"{ts_ms // 1000}.{ts_ms % 1000:03d}"


def v3_row(fill: SimFill, response_format: str) -> dict[str, Any]:
    """A transactionHistory row (§3.1) in the doc or the live format."""
    live = response_format == "live"
    row: dict[str, Any] = {
        "id": int(fill.fill_id),
        "symbol": fill.market,
        "orderId": int(fill.order_id),
        "orderTag": "default",
        "executedPrice": _num(fill.price) if live else plain_decimal(fill.price),
        "executedQuantity": _num(fill.size) if live else plain_decimal(fill.size),
        "isMaker": 1 if fill.liquidity == "MAKER" else 0,
        "side": fill.side,
        "fee": _num(fill.fee),
        "feeAsset": fill.fee_asset,
        "realizedPnl": None,
        "executedTimestamp": _seconds_string(fill.ts_ms) if live else fill.ts_ms,
    }
    if not live:
        row["isMatchRpi"] = False  # in the doc schema, absent from the recorded response
    return row


def v1_row(fill: SimFill) -> dict[str, Any]:
    """A v1 hist_trades / client/trades row (§3.3, §3.4): snake_case, numbers, string seconds."""
    return {
        "id": int(fill.fill_id),
        "symbol": fill.market,
        "order_id": int(fill.order_id),
        "order_tag": "default",
        "executed_price": _num(fill.price),
        "executed_quantity": _num(fill.size),
        "is_maker": 1 if fill.liquidity == "MAKER" else 0,
        "side": fill.side,
        "fee": _num(fill.fee),
        "fee_asset": fill.fee_asset,
        "executed_timestamp": _seconds_string(fill.ts_ms),
    }


def execution_report(fill: SimFill) -> dict[str, Any]:
    """The v2 WebSocket ``executionreport`` push for a fill (§6.1): int ms timestamp, ``maker`` bool."""
    return {
        "topic": "executionreport",
        "ts": fill.ts_ms,
        "data": {
            "symbol": fill.market,
            "clientOrderId": 0,
            "orderId": int(fill.order_id),
            "type": "LIMIT" if fill.liquidity == "MAKER" else "MARKET",
            "side": fill.side,
            "quantity": _num(fill.size),
            "price": _num(fill.price),
            "tradeId": int(fill.fill_id),
            "executedPrice": _num(fill.price),
            "executedQuantity": _num(fill.size),
            "fee": _num(fill.fee),
            "feeAsset": fill.fee_asset,
            "totalExecutedQuantity": _num(fill.size),
            "avgPrice": _num(fill.price),
            "status": "FILLED",
            "reason": "",
            "orderTag": "default",
            "totalFee": _num(fill.fee),
            "visible": _num(fill.size),
            "timestamp": fill.ts_ms,
            "reduceOnly": False,
            "maker": fill.liquidity == "MAKER",
        },
    }


def algo_execution_report(fill: SimFill) -> dict[str, Any]:
    """The ``algoexecutionreportv2`` push of an algo/stop-order fill: ``data`` is a list of order updates
    (as ccxt pro reads it), each with the ``executionreport`` fields plus the algo order's ids."""
    report = execution_report(fill)
    data = dict(report["data"])
    data.update({"algoOrderId": int(fill.order_id), "algoType": "STOP", "rootAlgoOrderId": int(fill.order_id),
                 "triggerPrice": data["price"], "isTriggered": True, "isActivated": True})
    return {"topic": ALGO_TOPIC, "ts": fill.ts_ms, "data": [data]}


def fill_push(fill: SimFill, algo: bool) -> dict[str, Any]:
    return algo_execution_report(fill) if algo else execution_report(fill)


# ---------------------------------------------------------------------------------------------- state
class _FillIndex:
    """Binary-searchable views over ``history.fills`` (all and per symbol), extended as fills arrive.

    WOO X ids increase with time in the generated history, so one sorted list serves both the time
    range and the ``fromId`` cursor.
    """

    def __init__(self, history: History) -> None:
        self.history = history
        self._lock = threading.Lock()
        self._seen = 0
        self._ts: dict[str | None, list[int]] = {None: []}
        self._ids: dict[str | None, list[int]] = {None: []}
        self._pos: dict[str | None, list[int]] = {None: []}

    def _refresh(self) -> list[SimFill]:
        fills = self.history.fills
        n = len(fills)
        if n > self._seen:
            for i in range(self._seen, n):
                fill = fills[i]
                fid = int(fill.fill_id)
                for key in (None, fill.market):
                    if key not in self._ts:
                        self._ts[key], self._ids[key], self._pos[key] = [], [], []
                    self._ts[key].append(fill.ts_ms)
                    self._ids[key].append(fid)
                    self._pos[key].append(i)
            self._seen = n
        return fills

    def symbols(self) -> list[str]:
        """Every symbol the history has traded so far."""
        with self._lock:
            self._refresh()
            return sorted(k for k in self._ts if k is not None)

    def select(
        self, symbol: str | None, start_ms: int | None, end_ms: int | None, from_id: int | None, inclusive: bool
    ) -> tuple[list[SimFill], list[int]]:
        """(fills, positions into fills) matching the filters, ascending by id and time."""
        with self._lock:
            fills = self._refresh()
            ts, ids, pos = self._ts.get(symbol, []), self._ids.get(symbol, []), self._pos.get(symbol, [])
            lo = 0 if start_ms is None else bisect.bisect_left(ts, start_ms)
            hi = len(ts) if end_ms is None else bisect.bisect_right(ts, end_ms)
            if from_id is not None:
                lo = max(lo, (bisect.bisect_left if inclusive else bisect.bisect_right)(ids, from_id))
            return fills, pos[lo : max(lo, hi)]


class _SlidingWindow:
    """Per-key sliding-window limiter: at most ``limit`` accepted requests in any ``window_s``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def allow(self, key: tuple[str, str], limit: int, window_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= window_s:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class WooxState:
    """What the handlers share: history, config, faults, counters, limiter, WebSocket clients."""

    def __init__(self, history: History, config: WooxSimConfig, faults: Faults | None) -> None:
        self.history = history
        self.config = config
        self.faults = faults or Faults()
        self.index = _FillIndex(history)
        self.limiter = _SlidingWindow()
        self.requests: Counter[str] = Counter()
        self.rate_limited_by_endpoint: Counter[str] = Counter()
        self.auth_failures = 0
        self._lock = threading.Lock()
        self.listen_keys: dict[str, int] = {}  # listenKey -> expiry (ms, simulator clock)
        self.algo_fill_ids: set[str] = set()  # live fills of algo/stop orders (pushed on algoexecutionreportv2)
        self._algo_next = 0
        # first subscriber: marks a fill as algo before any stream handler sees it
        history.subscribe(self._mark_algo)

    def _mark_algo(self, fill: SimFill) -> None:
        with self._lock:
            if self._algo_next > 0:
                self._algo_next -= 1
                self.algo_fill_ids.add(fill.fill_id)

    def next_fills_are_algo(self, n: int = 1) -> None:
        with self._lock:
            self._algo_next += n

    def is_algo(self, fill: SimFill) -> bool:
        with self._lock:
            return fill.fill_id in self.algo_fill_ids

    def new_listen_key(self) -> tuple[str, int]:
        """A new key valid 24 h; creating one expires the previous ones (§6.2)."""
        import secrets as _secrets

        key = _secrets.token_urlsafe(24)
        expiry = self.now_ms() + self.config.listen_key_ttl_ms
        with self._lock:
            self.listen_keys = {key: expiry}
        return key, expiry

    def listen_key_valid(self, key: str) -> bool:
        with self._lock:
            expiry = self.listen_keys.get(key)
        return expiry is not None and self.now_ms() < expiry

    @property
    def rate_limited(self) -> int:
        return sum(self.rate_limited_by_endpoint.values())

    def now_ms(self) -> int:
        return self.faults.now_ms()

    def window_now_ms(self) -> int:
        anchor = self.config.window_anchor_ms
        return anchor if anchor is not None else self.now_ms()

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.requests[endpoint] += 1

    def count_rate_limited(self, endpoint: str) -> None:
        with self._lock:
            self.rate_limited_by_endpoint[endpoint] += 1


class _ParamError(Exception):
    """A bad request parameter: 400 −1005."""


# ---------------------------------------------------------------------------------------------- handlers
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


class TransactionHistoryHandler(_Base):
    endpoint = EP_TRANSACTION_HISTORY

    def get(self) -> None:
        cfg = self.state.config
        if cfg.page_mode == "rejected" and self.get_query_argument("page", None) is not None:
            self.send_error_body(400, UNKNOWN_PARAM, "An unknown parameter was sent: page")
            return
        symbol = self.get_query_argument("symbol", None) or None
        if symbol is None and cfg.symbol_required:
            raise _ParamError("symbol")
        start = self.int_param("startTime")
        end = self.int_param("endTime")
        from_id = self.int_param("fromId")
        page = self.int_param("page", 1) or 1
        limit = self.int_param("limit", cfg.default_page_size) or cfg.default_page_size
        if page < 1 or limit < 1:
            raise _ParamError("page" if page < 1 else "limit")
        if limit > cfg.page_size_cap and cfg.limit_over_cap != "clamp":
            code = UNKNOWN_PARAM if cfg.limit_over_cap == "reject-1004" else INVALID_PARAM
            self.send_error_body(400, code, f"invalid request, please check parameter limit (max {cfg.page_size_cap})")
            return
        if cfg.page_mode == "ignored":
            page = 1
        if cfg.max_span_ms is not None and start is not None and end is not None and end - start > cfg.max_span_ms:
            raise _ParamError("endTime")
        floor = self.state.window_now_ms() - cfg.v3_history_days * MS_PER_DAY
        start = floor if start is None else max(start, floor)
        per_page = min(limit, cfg.page_size_cap)
        fills, positions = self.state.index.select(symbol, start, end, from_id, cfg.from_id_inclusive)
        if cfg.sort_order == "desc":
            positions = positions[::-1]
        served = page + 1 if self.state.faults.skip_page(self.request.path) else page  # injected: silently the next
        chunk = positions[(served - 1) * per_page : served * per_page]
        rows = [v3_row(fills[i], cfg.response_format) for i in chunk]
        data: dict[str, Any] = {"rows": rows}
        if cfg.meta:
            data["meta"] = {"total": len(positions), "recordsPerPage": per_page, "currentPage": page}
        self.ok({"data": data})


class HistTradesHandler(_Base):
    endpoint = EP_HIST_TRADES

    def get(self) -> None:
        cfg = self.state.config
        start = self.int_param("start_t")
        end = self.int_param("end_t")
        if start is None or end is None:
            raise _ParamError("start_t" if start is None else "end_t")
        symbol = self.get_query_argument("symbol", None) or None
        from_id = self.int_param("fromId", 1)
        limit = self.int_param("limit", cfg.hist_trades_default_limit) or cfg.hist_trades_default_limit
        if limit < 1:
            raise _ParamError("limit")
        limit = min(limit, cfg.hist_trades_limit_cap)
        fills, positions = self.state.index.select(symbol, start, end, from_id, cfg.hist_trades_from_id_inclusive)
        self.ok({"data": [v1_row(fills[i]) for i in positions[:limit]]})


class ClientTradesHandler(_Base):
    endpoint = EP_CLIENT_TRADES

    def get(self) -> None:
        cfg = self.state.config
        symbol = self.get_query_argument("symbol", None) or None
        start = self.int_param("start_t")
        end = self.int_param("end_t")
        page = self.int_param("page", 1) or 1
        size = self.int_param("size", cfg.client_trades_default_size) or cfg.client_trades_default_size
        if page < 1 or size < 1:
            raise _ParamError("page" if page < 1 else "size")
        floor = self.state.window_now_ms() - cfg.client_trades_days * MS_PER_DAY
        start = floor if start is None else max(start, floor)
        per_page = min(size, cfg.client_trades_size_cap)
        fills, positions = self.state.index.select(symbol, start, end, None, True)
        if cfg.sort_order == "desc":
            positions = positions[::-1]
        chunk = positions[(page - 1) * per_page : page * per_page]
        meta = {"total": len(positions), "records_per_page": per_page, "current_page": page}
        self.ok({"meta": meta, "rows": [v1_row(fills[i]) for i in chunk]})


class AccountInfoHandler(_Base):
    endpoint = EP_ACCOUNT_INFO

    def get(self) -> None:
        cfg = self.state.config
        self.ok(
            {
                "data": {
                    "applicationId": cfg.application_id,
                    "account": "trader@example.com",
                    "alias": "trader@example.com",
                    "otpauth": True,
                    "accountMode": "FUTURES",
                    "positionMode": "ONE_WAY",
                    "leverage": 0,
                    # the account's rates in basis points (integers in the live sample)
                    "makerFeeRate": _num((self.state.history.profile.maker_rate * 10_000).normalize()),
                    "takerFeeRate": _num((self.state.history.profile.taker_rate * 10_000).normalize()),
                    "marginRatio": "10",
                    "openMarginRatio": "10",
                    "initialMarginRatio": "10",
                    "maintenanceMarginRatio": "0.03",
                    "totalCollateral": "165.55629469",
                    "freeCollateral": "165.55629469",
                    "totalAccountValue": "167.32418611",
                    "totalTradingValue": "167.32418611",
                    "totalVaultValue": "0",
                    "totalStakingValue": "0",
                    "totalLaunchpadValue": "0",
                    "totalEarnValue": "0",
                    "referrerID": None,
                    "accountType": "Main",
                }
            }
        )


class TradingFeeHandler(_Base):
    """``GET /v3/trade/tradingFee?symbol=``: the account's rates, as strings in ``config.fee_unit``."""

    endpoint = EP_TRADING_FEE

    def get(self) -> None:
        unit = self.state.config.fee_unit
        if unit is None:
            raise tornado.web.HTTPError(404)
        scale, profile = FEE_UNITS[unit], self.state.history.profile
        symbol = self.get_argument("symbol", "PERP_BTC_USDT")
        self.ok({"data": {"symbol": symbol, "takerFee": format((profile.taker_rate * scale).normalize(), "f"),
                          "makerFee": format((profile.maker_rate * scale).normalize(), "f")}})


class SystemInfoHandler(_Base):
    endpoint = EP_SYSTEM_INFO
    private = False

    def get(self) -> None:
        status = self.state.config.maintenance_status
        messages = {0: "System is functioning properly.", 1: "Trading maintenance.", 2: "System maintenance."}
        end = self.state.now_ms() + 3_600_000 if status else -1
        self.ok({"data": {"status": status, "msg": messages.get(status, ""), "estimatedEndTime": end}})


def _tick(dp: int) -> str:
    return "1" if dp <= 0 else "0." + "0" * (dp - 1) + "1"


def _decimals(value: Decimal) -> int:
    return max(0, -int(value.as_tuple().exponent))


class InstrumentsHandler(_Base):
    endpoint = EP_INSTRUMENTS
    private = False

    def get(self) -> None:
        # Every symbol of the history (with ticks from its fills) plus the usual majors.
        ticks: dict[str, tuple[int, int]] = {}
        for fill in self.state.history.fills[:5000]:
            pdp, sdp = ticks.get(fill.market, (0, 0))
            ticks[fill.market] = (max(pdp, _decimals(fill.price)), max(sdp, _decimals(fill.size)))
        for symbol in ("SPOT_BTC_USDT", "SPOT_ETH_USDT", "PERP_BTC_USDT", "PERP_ETH_USDT", *self.state.index.symbols()):
            ticks.setdefault(symbol, (2, 4))
        for symbol in self.state.config.delisted_symbols:  # delisted: traded once, no longer listed (§1)
            ticks.pop(symbol, None)
        rows = []
        for symbol in sorted(ticks):
            pdp, sdp = ticks[symbol]
            _, base, quote = symbol.split("_", 2)
            rows.append(
                {
                    "symbol": symbol,
                    "status": "TRADING",
                    "baseAsset": base,
                    "baseAssetMultiplier": 1,
                    "quoteAsset": quote,
                    "quoteMin": "0",
                    "quoteMax": "1000000",
                    "quoteTick": _tick(pdp),
                    "baseMin": _tick(sdp),
                    "baseMax": "1000000",
                    "baseTick": _tick(sdp),
                    "minNotional": "1",
                    "bidCapRatio": "1.1",
                    "bidFloorRatio": None,
                    "askCapRatio": None,
                    "askFloorRatio": "0.9",
                    "orderMode": "NORMAL",
                    "impactNotional": None,
                    "isAllowedRpi": False,
                    "tickGranularity": None,
                }
            )
        self.ok({"data": {"rows": rows}})


def _assets(state: WooxState) -> list[str]:
    names = {"USDT", "BTC", "ETH"}
    for fill in state.history.fills[:5000]:
        names.add(fill.market.split("_")[1])
        names.add(fill.fee_asset)
    return sorted(names)


class TokenHandler(_Base):
    """v1 ``public/token`` (ccxt's ``fetch_currencies``): top-level ``rows``, v1 style."""

    endpoint = EP_TOKEN
    private = False

    def get(self) -> None:
        rows = [
            {
                "token": asset,
                "fullname": asset,
                "network": "ETH",
                "decimals": "8",
                "delisted": False,
                "balance_token": asset,
                "created_time": "1710123394",
                "updated_time": "1746528481",
                "can_collateral": True,
                "can_short": True,
            }
            for asset in _assets(self.state)
        ]
        self.send_json({"rows": rows, "success": True})


class TokenNetworkHandler(_Base):
    endpoint = EP_TOKEN_NETWORK
    private = False

    def get(self) -> None:
        rows = [
            {
                "protocol": "ERC20",
                "network": "ETH",
                "token": asset,
                "name": "Ethereum (ERC20)",
                "minimum_withdrawal": "10.00000000",
                "withdrawal_fee": "2.00000000",
                "allow_deposit": "1",
                "allow_withdraw": "1",
            }
            for asset in _assets(self.state)
        ]
        self.send_json({"rows": rows, "success": True})


class ListenKeyHandler(_Base):
    """``POST /v3/account/listenKey`` (§6.2): body ``{"type": "WEBSOCKET"}``; a key valid 24 h."""

    endpoint = EP_LISTEN_KEY

    def post(self) -> None:
        if not self.state.config.v3_private_stream:
            self.send_error_body(404, -1006, "The data is not found in the server.")
            return
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or str(body.get("type", "")).upper() != "WEBSOCKET":
            raise _ParamError("type")
        key, expiry = self.state.new_listen_key()
        self.ok({"data": {self.state.config.listen_key_field: key, "expiredTime": expiry}})


class PrivateStreamHandler(tornado.websocket.WebSocketHandler):
    """Legacy v2 private stream (§6.1): auth, subscribe ``executionreport``, ping/pong, fill pushes."""

    def initialize(self, state: WooxState) -> None:
        self.state = state
        self.authed = False
        self.subscribed = False
        self.topics: set[str] = set()
        self.missed_pongs = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._pinger: tornado.ioloop.PeriodicCallback | None = None
        self._loop: tornado.ioloop.IOLoop | None = None

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self, application_id: str) -> None:
        self.state.count("ws_private")
        self.application_id = application_id
        self._loop = tornado.ioloop.IOLoop.current()
        self._pinger = tornado.ioloop.PeriodicCallback(self._ping, self.state.config.ws_ping_interval_s * 1000)
        self._pinger.start()

    def _ping(self) -> None:
        if self.missed_pongs >= self.state.config.ws_max_missed_pongs:
            self.close(1000, "ping timeout")
            return
        self.missed_pongs += 1
        self._send({"event": "ping"})

    def _send(self, obj: dict[str, Any]) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.state.faults.drop_ws():
            self.close(1001, "dropped")  # going away: a dropped stream
            return
        self.write_message(encode_json(obj).decode())

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = json.loads(message)
        except ValueError:
            self._send({"event": "error", "success": False, "errorMsg": "invalid message"})
            return
        if not isinstance(msg, dict):
            return
        event = msg.get("event")
        msg_id = msg.get("id")
        now = self.state.now_ms()
        if event == "pong":
            self.missed_pongs = 0
        elif event == "ping":
            self._send({"event": "pong", "ts": now})
        elif event == "auth":
            error = self._auth_error(msg.get("params") or {})
            self.authed = error is None
            reply = {"id": msg_id, "event": "auth", "success": self.authed, "ts": now}
            if error:
                reply["errorMsg"] = error
            self._send(reply)
        elif event == "subscribe":
            topic = msg.get("topic")
            if not self.authed:
                self._send(
                    {"id": msg_id, "event": "subscribe", "success": False, "ts": now, "errorMsg": "not authenticated"}
                )
            elif topic not in ("executionreport", ALGO_TOPIC):
                self._send(
                    {
                        "id": msg_id,
                        "event": "subscribe",
                        "success": False,
                        "ts": now,
                        "errorMsg": f"invalid topic {topic}",
                    }
                )
            else:
                if self._unsubscribe is None:
                    self._unsubscribe = self.state.history.subscribe(self._on_fill)
                self.topics.add(str(topic))
                self.subscribed = True
                self._send({"id": msg_id, "event": "subscribe", "success": True, "ts": now})
        else:
            self._send({"id": msg_id, "event": event, "success": False, "ts": now, "errorMsg": "unknown event"})

    def _auth_error(self, params: dict[str, Any]) -> str | None:
        cfg = self.state.config
        ts = str(params.get("timestamp", ""))
        given = str(params.get("sign", "")).lower()
        if self.state.faults.revoked or str(params.get("apikey", "")) != cfg.api_key:
            return "invalid api key"
        if self.application_id != cfg.application_id:
            return "invalid application id"
        if not _TS13.match(ts) or abs(self.state.now_ms() - int(ts)) > cfg.ts_window_ms:
            return "invalid timestamp"
        if not hmac.compare_digest(sign(cfg.api_secret, "|" + ts), given):
            return "invalid signature"
        return None

    def _on_fill(self, fill: SimFill) -> None:
        # Called from whatever thread added the fill: hop into this connection's loop.
        if self._loop is not None:
            self._loop.add_callback(self._push, fill)

    def _push(self, fill: SimFill) -> None:
        algo = self.state.is_algo(fill)
        if self.subscribed and (ALGO_TOPIC if algo else "executionreport") in self.topics:
            self._send(fill_push(fill, algo))

    def on_close(self) -> None:
        if self._pinger is not None:
            self._pinger.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


class V3PrivateStreamHandler(tornado.websocket.WebSocketHandler):
    """v3 private stream ``/v3/private?key=<listenKey>`` (§6.2). A bad or expired key: HTTP 401 on the
    upgrade. ``{"id", "cmd": "SUBSCRIBE", "params": [topics]}`` → ``{"id", "cmd": "SUBSCRIBE", "success": true}``;
    ``{"cmd": "PING"}`` every ``ws_ping_interval_s`` (answer ``{"cmd": "PONG"}``); pushes as on v2 (UNCONFIRMED)."""

    def initialize(self, state: WooxState) -> None:
        self.state = state
        self.topics: set[str] = set()
        self.missed_pongs = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._pinger: tornado.ioloop.PeriodicCallback | None = None
        self._loop: tornado.ioloop.IOLoop | None = None

    def check_origin(self, origin: str) -> bool:
        return True

    async def get(self, *args: Any, **kwargs: Any) -> None:
        self.state.count("ws_v3_private")
        key = self.get_query_argument("key", "")
        if not self.state.config.v3_private_stream:
            self.set_status(404)
            self.finish(encode_json({"success": False, "code": -1006, "message": "not found"}))
            return
        if self.state.faults.revoked or not self.state.listen_key_valid(key):
            self.set_status(401)
            self.finish(encode_json({"success": False, "code": UNAUTHORIZED, "message": "invalid listen key"}))
            return
        await super().get(*args, **kwargs)

    def open(self, *args: Any) -> None:
        self._loop = tornado.ioloop.IOLoop.current()
        self._pinger = tornado.ioloop.PeriodicCallback(self._ping, self.state.config.ws_ping_interval_s * 1000)
        self._pinger.start()

    def _ping(self) -> None:
        if self.missed_pongs >= self.state.config.ws_max_missed_pongs:
            self.close(1000, "ping timeout")
            return
        self.missed_pongs += 1
        self._send({"cmd": "PING", "ts": self.state.now_ms()})

    def _send(self, obj: dict[str, Any]) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.state.faults.drop_ws():
            self.close(1001, "dropped")
            return
        self.write_message(encode_json(obj).decode())

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = json.loads(message)
        except ValueError:
            self._send({"success": False, "errorMsg": "invalid message"})
            return
        if not isinstance(msg, dict):
            return
        cmd = str(msg.get("cmd", "")).upper()
        now = self.state.now_ms()
        if cmd == "PONG":
            self.missed_pongs = 0
        elif cmd == "PING":
            self._send({"cmd": "PONG", "ts": now})
        elif cmd in ("SUBSCRIBE", "UNSUBSCRIBE"):
            params = msg.get("params")
            topics = [str(t) for t in params] if isinstance(params, list) else []
            bad = [t for t in topics if t not in ("executionreport", ALGO_TOPIC)]
            if not topics or bad or len(topics) > 20:
                self._send({"id": msg.get("id"), "cmd": cmd, "success": False, "ts": now,
                            "errorMsg": f"invalid topic {bad[0] if bad else topics}"})
                return
            if cmd == "SUBSCRIBE":
                self.topics.update(topics)
                if self._unsubscribe is None:
                    self._unsubscribe = self.state.history.subscribe(self._on_fill)
            else:
                self.topics.difference_update(topics)
            self._send({"id": msg.get("id"), "cmd": cmd, "success": True, "ts": now})
        else:
            self._send({"id": msg.get("id"), "cmd": cmd, "success": False, "ts": now, "errorMsg": "unknown cmd"})

    def _on_fill(self, fill: SimFill) -> None:
        if self._loop is not None:
            self._loop.add_callback(self._push, fill)

    def _push(self, fill: SimFill) -> None:
        algo = self.state.is_algo(fill)
        if (ALGO_TOPIC if algo else "executionreport") in self.topics:
            self._send(fill_push(fill, algo))

    def on_close(self) -> None:
        if self._pinger is not None:
            self._pinger.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


# ---------------------------------------------------------------------------------------------- app
def make_app(
    history: History,
    *,
    api_key: str = DEMO_API_KEY,
    api_secret: str = DEMO_API_SECRET,
    application_id: str = DEMO_APPLICATION_ID,
    response_format: str = "doc",
    string_error_codes: bool = False,
    faults: Faults | None = None,
    page_size_cap: int = 500,
    config: WooxSimConfig | None = None,
    **options: Any,
) -> tornado.web.Application:
    """The simulator's Tornado application. ``options`` are further :class:`WooxSimConfig` fields.

    The shared :class:`WooxState` is ``app.settings["woox_state"]``.
    """
    if response_format not in ("doc", "live"):
        raise ValueError("response_format must be 'doc' or 'live'")
    if options.get("page_mode", "honoured") not in PAGE_MODES:
        raise ValueError(f"page_mode must be one of {PAGE_MODES}")
    if options.get("limit_over_cap", "clamp") not in LIMIT_OVER_CAP:
        raise ValueError(f"limit_over_cap must be one of {LIMIT_OVER_CAP}")
    if options.get("sort_order", "asc") not in ("asc", "desc"):
        raise ValueError("sort_order must be 'asc' or 'desc'")
    known = {f.name for f in fields(WooxSimConfig)}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"unknown simulator options: {sorted(unknown)}")
    config = replace(
        config or WooxSimConfig(),
        api_key=api_key,
        api_secret=api_secret,
        application_id=application_id,
        response_format=response_format,
        string_error_codes=string_error_codes,
        page_size_cap=page_size_cap,
        **options,
    )
    state = WooxState(history, config, faults)
    args = {"state": state}
    return tornado.web.Application(
        [
            (r"/v3/trade/transactionHistory", TransactionHistoryHandler, args),
            (r"/v1/client/hist_trades", HistTradesHandler, args),
            (r"/v1/client/trades", ClientTradesHandler, args),
            (r"/v3/account/info", AccountInfoHandler, args),
            (r"/v3/trade/tradingFee", TradingFeeHandler, args),
            (r"/v3/public/systemInfo", SystemInfoHandler, args),
            (r"/v3/public/instruments", InstrumentsHandler, args),
            (r"/v1/public/token", TokenHandler, args),
            (r"/v1/public/token_network", TokenNetworkHandler, args),
            (r"/v3/account/listenKey", ListenKeyHandler, args),
            (r"/v2/ws/private/stream/([^/]+)", PrivateStreamHandler, args),
            (r"/v3/private", V3PrivateStreamHandler, args),
        ],
        woox_state=state,
        default_handler_class=_NotFound,
        default_handler_args=args,
    )


class _NotFound(_Base):
    endpoint = "not_found"
    private = False

    async def prepare(self) -> None:
        self.state.count(self.endpoint)
        self.send_error_body(404, -1006, "The data is not found in the server.")


class WooxSim:
    """History + app + background server: ``start()`` returns the base URL (``http://host:port``).

    ``requests`` counts requests per endpoint key, ``rate_limited`` the 429s answered (injected ones
    included); ``config`` and ``faults`` may be changed while running.
    """

    def __init__(
        self,
        history: History | None = None,
        *,
        seed: int = 1,
        n_fills: int = 5000,
        now_ms: int | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        faults: Faults | None = None,
        **app_options: Any,
    ) -> None:
        self.history = history or History("woox", seed, n_fills, now_ms=now_ms)
        self.faults = faults or Faults()
        self.app = make_app(self.history, faults=self.faults, **app_options)
        self.state: WooxState = self.app.settings["woox_state"]
        self.server = BackgroundServer(self.app, host=host, port=port)

    @property
    def config(self) -> WooxSimConfig:
        return self.state.config

    @property
    def requests(self) -> Counter[str]:
        return self.state.requests

    @property
    def rate_limited(self) -> int:
        return self.state.rate_limited

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ws_private_url(self) -> str:
        return f"{self.server.ws_url}/v2/ws/private/stream/{self.config.application_id}"

    @property
    def ws_v3_private_url(self) -> str:
        """Without the ``?key=<listenKey>`` query (get a key from ``POST /v3/account/listenKey``)."""
        return f"{self.server.ws_url}/v3/private"

    def add_algo_fill(self, **kwargs: Any) -> SimFill:
        """A live fill of an algo/stop order: pushed on ``algoexecutionreportv2``, served by REST as any fill."""
        self.state.next_fills_are_algo(1)
        return self.history.add_live_fill(**kwargs)

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.history.stop_live()
        self.server.stop()

    def __enter__(self) -> WooxSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: ``perpvol sim woox`` flags of the readings (flag, dest, help); the CLI adds them to its ``sim`` parser
SIM_FLAGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--page-mode", "page_mode", {"choices": PAGE_MODES, "help": "woox: transactionHistory `page` honoured, "
                                  "ignored (always page 1) or rejected (-1004)"}),
    ("--page-cap", "page_cap", {"type": int, "help": "woox: largest page transactionHistory serves (default 500)"}),
    ("--limit-over-cap", "limit_over_cap", {"choices": LIMIT_OVER_CAP,
                                            "help": "woox: a limit above the cap is clamped or rejected"}),
    ("--no-meta", "no_meta", {"action": "store_true", "help": "woox: transactionHistory answers without meta"}),
    ("--symbol-required", "symbol_required", {"action": "store_true",
                                              "help": "woox: transactionHistory requires symbol"}),
    ("--order", "order", {"choices": ("asc", "desc"), "help": "woox: rows oldest-first (asc) or newest-first"}),
    ("--delisted", "delisted", {"action": "append", "help": "woox: a traded symbol absent from the instruments"}),
    ("--no-v3-stream", "no_v3_stream", {"action": "store_true", "help": "woox: serve only the v2 private stream"}),
)


def reading_options(args: Any) -> dict[str, Any]:
    """:class:`WooxSimConfig` fields from the ``SIM_FLAGS`` of ``args`` (absent flags: today's behaviour)."""
    out: dict[str, Any] = {}
    if getattr(args, "page_mode", None):
        out["page_mode"] = args.page_mode
    if getattr(args, "page_cap", None):
        out["page_size_cap"] = int(args.page_cap)
    if getattr(args, "limit_over_cap", None):
        out["limit_over_cap"] = args.limit_over_cap
    if getattr(args, "no_meta", False):
        out["meta"] = False
    if getattr(args, "symbol_required", False):
        out["symbol_required"] = True
    if getattr(args, "order", None):
        out["sort_order"] = args.order
    if getattr(args, "delisted", None):
        out["delisted_symbols"] = tuple(args.delisted)
    if getattr(args, "no_v3_stream", False):
        out["v3_private_stream"] = False
    return out


def describe_reading(config: WooxSimConfig) -> str:
    """One line naming the transactionHistory reading served."""
    return (f"page {config.page_mode}, page cap {config.page_size_cap} (limit above: {config.limit_over_cap}), "
            f"meta {'on' if config.meta else 'absent'}, symbol {'required' if config.symbol_required else 'optional'}, "
            f"rows {'newest' if config.sort_order == 'desc' else 'oldest'}-first")


def cmd_sim(args: Any) -> int:
    """``perpvol sim woox --port P [--seed N] [--fills N] [--format doc|live] [--live]`` plus the reading flags
    (``SIM_FLAGS``): serve until Ctrl-C."""
    response_format = getattr(args, "response_format", None) or "doc"
    history = History("woox", args.seed, args.fills)
    sim = WooxSim(history, host=args.host, port=args.port, response_format=response_format, **reading_options(args))
    base_url = sim.start()
    print(f"WOO X simulator on {base_url} ({len(history.fills)} fills, seed {args.seed}, format {response_format})")
    print(f"  private stream: {sim.ws_private_url}")
    print(f"  api key:        {sim.config.api_key}")
    print(f"  api secret:     {sim.config.api_secret}   (simulator demo credentials)")
    print(f"  application id: {sim.config.application_id}")
    print(f"  transactionHistory: {describe_reading(sim.config)}")
    if getattr(args, "live", False):
        history.start_live(5.0)
        print("  live: a new fill every 5 s")
    print("Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


class WooxDemoVenue(WooxSim):
    """The simulator contract (``perpvol_core/exchanges/_spec.py``): a seeded WOO X plus its demo credentials."""

    #: the demo's live pace relative to the first venue's (WOO X is the first)
    live_interval_factor = 1.0

    def credentials(self) -> dict[str, str]:
        """The API key and secret the simulator accepts (simulator demo credentials, printing them is fine)."""
        return {"kind": "woox", "api_key": str(self.config.api_key), "api_secret": str(self.config.api_secret)}


def demo_venue(seed: int, n_fills: int, now_ms: int, days: int, port: int | None = None) -> WooxDemoVenue:
    """A seeded WOO X simulator per the simulator contract, not started (``start()`` returns the base URL)."""
    return WooxDemoVenue(History("woox", seed, n_fills, now_ms=now_ms, days=days), port=port)
