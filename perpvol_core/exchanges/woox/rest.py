"""WOO X connector: HMAC request signing (v1 and v3), ``/v3/trade/transactionHistory`` pages, parsing.

Follows ``exchanges/woox-api.md``. Every UNCONFIRMED point is handled both ways: timestamps as int ms
or ``"seconds.millis"`` text, numbers or strings for money, ``code`` as int or string, camelCase or
snake_case meta/rows, a page size smaller than asked (read from ``meta.recordsPerPage``), unknown
inclusivity of ``startTime``/``endTime`` (windows overlap by a millisecond; fills are deduped by id),
and an unknown maximum time span per request (a rejected span is halved).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx

from perpvol_core.exchanges._http import (
    BadPayload,
    ExchangeUnavailable,
    FillPage,
    InvalidCredentials,
    RateLimit,
    RateLimited,
    clock_skew_s,
)
from perpvol_core.exchanges._profiled import ProfiledConnector
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.exchanges.woox.paging import HistoryWalk
from perpvol_core.exchanges.woox.parse import HistoryResponse, parse_history
from perpvol_core.exchanges.woox.profile import describe_server_profile
from perpvol_core.exchanges.woox.source import ParamRejected
from perpvol_core.exchanges.woox.spec import SPEC
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.security.redaction import Secret, redact

log = logging.getLogger(__name__)

TRANSACTION_HISTORY = "/v3/trade/transactionHistory"
ACCOUNT_INFO = "/v3/account/info"
INSTRUMENTS = "/v3/public/instruments"
LISTEN_KEY = "/v3/account/listenKey"
SYSTEM_INFO = "/v3/public/systemInfo"
#: ask for this many rows per page; the server may grant fewer (``meta.recordsPerPage``)
PAGE_LIMIT = 500
CLOCK_WINDOW_S = 300  # WOO X rejects a request signed more than 300 s from its own time
TWO_YEARS_MS = 730 * MS_PER_DAY
MIN_SPAN_MS = MS_PER_DAY


# --------------------------------------------------------------------------------------------- signing


def _hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def v1_string_to_sign(params: list[tuple[str, str]] | dict[str, Any], timestamp_ms: int | str) -> str:
    """``k1=v1&k2=v2|ts`` with keys sorted (values raw, as sent); just ``|ts`` without params."""
    items = params.items() if isinstance(params, dict) else params
    body = "&".join(f"{k}={v}" for k, v in sorted((str(k), str(v)) for k, v in items))
    return f"{body}|{timestamp_ms}"


def v3_string_to_sign(timestamp_ms: int | str, method: str, path_with_query: str, body: str = "") -> str:
    """``ts + METHOD + /path?query + body`` exactly as sent."""
    return f"{timestamp_ms}{method.upper()}{path_with_query}{body}"


def sign(secret: Secret | str, message: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``message`` keyed with the API secret."""
    raw = secret.reveal() if isinstance(secret, Secret) else secret
    return _hmac_hex(raw, message)


class WooxAuth(httpx.Auth):
    """Signs each request: v3 scheme for ``/v3/*`` paths, v1 scheme otherwise (woox-api.md §2)."""

    def __init__(self, api_key: str, api_secret: Secret, clock: Callable[[], float] = time.time) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock = clock

    def string_to_sign(self, request: httpx.Request, timestamp_ms: int) -> str:
        raw_path = request.url.raw_path.decode("ascii")
        path = request.url.path
        if path.startswith("/v3/"):
            body = request.content.decode() if request.content else ""
            return v3_string_to_sign(timestamp_ms, request.method, raw_path, body)
        if request.method in ("GET", "DELETE"):
            query = request.url.query.decode() if isinstance(request.url.query, bytes) else request.url.query
        else:
            query = request.content.decode() if request.content else ""
        return v1_string_to_sign(parse_qsl(query, keep_blank_values=True), timestamp_ms)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        ts = int(self.clock() * 1000)
        request.headers["x-api-key"] = self.api_key
        request.headers["x-api-timestamp"] = str(ts)
        request.headers["x-api-signature"] = sign(self.api_secret, self.string_to_sign(request, ts))
        if not request.url.path.startswith("/v3/") and request.method not in ("GET", "DELETE"):
            request.headers["Content-Type"] = "application/x-www-form-urlencoded"
        yield request


def _code(payload: dict[str, Any]) -> int | None:
    code = payload.get("code")
    if code is None:
        return None
    try:
        return int(str(code).strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------- connector


class WooxConnector(ProfiledConnector):
    """One WOO X account (read-only API key). Fills from ``/v3/trade/transactionHistory`` (two years)."""

    exchange = "woox"
    limits = {
        TRANSACTION_HISTORY: [RateLimit(2, 1.0)],
        ACCOUNT_INFO: [RateLimit(10, 60.0)],
        LISTEN_KEY: [RateLimit(5, 10.0)],
        "/v3/public": [RateLimit(10, 1.0)],
    }
    max_history_ms = TWO_YEARS_MS
    incremental_overlap_ms = 120_000
    history_note = SPEC.history_note

    def __init__(self, credentials: WooxCredentials, base_url: str | None = None, **options: Any) -> None:
        self.page_limit = int(options.pop("page_limit", PAGE_LIMIT))
        self.clock: Callable[[], float] = options.pop("clock", time.time)
        #: what this server does with transactionHistory (see ``woox.profile``): the stored one comes with the
        #: sync's facts (``use_facts``), is updated while reading, and read back after each page
        self.server_profile = options.pop("server_profile", None)
        super().__init__(credentials, base_url, **options)

    def make_auth(self) -> httpx.Auth:
        return WooxAuth(self.credentials.api_key, self.credentials.api_secret, self.clock)

    @property
    def account_key(self) -> str:
        return self.credentials.api_key

    def min_pages(self, n_fills: int) -> int:
        return max(1, -(-n_fills // self.page_limit))

    def check_payload(self, response: httpx.Response, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        success = payload.get("success")
        if success is True or str(success).lower() == "true":
            return
        if success is None and response.status_code < 400:
            return
        code = _code(payload)
        message = redact(str(payload.get("message") or payload.get("msg") or "no message"))
        text = f"WOO X error {code}: {message}"
        if code in (-1001, -1002) or response.status_code in (401, 403):
            skew = clock_skew_s(response, self.clock())
            if skew is not None and abs(skew) > CLOCK_WINDOW_S - 5:
                raise InvalidCredentials(
                    f"WOO X rejected the request ({message}, code {code}) and this computer's clock is "
                    f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} WOO X's: requests must be signed "
                    f"within {CLOCK_WINDOW_S} s of the exchange's time; synchronize the clock (NTP) and retry"
                )
            raise InvalidCredentials(
                f"WOO X rejected the API key ({message}, code {code}); check the key and secret, "
                "that the key is not revoked or expired, and the IP whitelist"
            )
        if code == -1003 or response.status_code == 429:
            raise RateLimited(f"WOO X rate limit exceeded ({message})", retry_after_s=self._retry_after(response))
        if code in (-1000, -1011) or response.status_code >= 500:
            raise ExchangeUnavailable(f"WOO X unavailable: {message} (code {code})")
        err = BadPayload(text)
        err.code = code  # type: ignore[attr-defined]
        raise err

    # -- identity -----------------------------------------------------------------------------

    def system_status(self) -> tuple[int, str]:
        """``(status, message)`` of ``/v3/public/systemInfo``: 0 ok, 1 trading maintenance, 2 system maintenance."""
        payload = self.request("GET", SYSTEM_INFO, endpoint="/v3/public")
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            return 0, ""
        try:
            status = int(str(data.get("status", 0)))
        except ValueError:
            status = 0
        return status, str(data.get("msg") or "")

    def validate(self) -> str:
        """Check the key with ``/v3/account/info``; returns e.g. ``WOO X account … (FUTURES)``.

        Raises InvalidCredentials, ExchangeUnavailable (also during system maintenance), RateLimited, BadPayload.
        """
        try:
            status, msg = self.system_status()
        except BadPayload:
            status, msg = 0, ""
        if status == 2:
            raise ExchangeUnavailable(f"WOO X is in system maintenance{': ' + msg if msg else ''}")
        payload = self.request("GET", ACCOUNT_INFO, endpoint=ACCOUNT_INFO)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise BadPayload("WOO X /v3/account/info returned no account data")
        app = str(data.get("applicationId") or "")
        who = str(data.get("alias") or data.get("account") or "")
        mode = str(data.get("accountMode") or "")
        parts = ["WOO X account"]
        if who:
            parts.append(redact(who))
        if app:
            parts.append(f"(application {app[:8]}…)")
        if mode:
            parts.append(f"[{mode}]")
        return " ".join(parts)

    # -- fills --------------------------------------------------------------------------------

    def perp_instruments(self) -> list[str]:
        """Current perpetual symbols of ``GET /v3/public/instruments`` (delisted ones may be absent, §1)."""
        payload = self.request("GET", INSTRUMENTS, endpoint="/v3/public")
        data = payload.get("data") if isinstance(payload, dict) else None
        rows = data.get("rows") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise BadPayload("WOO X /v3/public/instruments returned no rows")
        return sorted({str(r["symbol"]) for r in rows if isinstance(r, dict) and str(r.get("symbol", "")).startswith(
            "PERP_")})

    def history_page(
        self, lo: int, hi: int, *, symbol: str | None = None, page: int | None = None, limit: int | None = None
    ) -> HistoryResponse:
        """One ``transactionHistory`` request for fills in ``[lo, hi]`` (``endTime = hi + 1``: either bound
        reading is covered; fills are deduped by id).

        Raises ParamRejected (−1004/−1005: a parameter the server does not take), ExchangeError.
        """
        params: dict[str, Any] = {"endTime": hi + 1, "limit": limit or self.page_limit, "startTime": lo}
        if page is not None:
            params["page"] = page
        if symbol is not None:
            params["symbol"] = symbol
        try:
            payload = self.request("GET", TRANSACTION_HISTORY, params=params, endpoint=TRANSACTION_HISTORY)
        except BadPayload as exc:
            code = getattr(exc, "code", None)
            if code in (-1004, -1005):
                raise ParamRejected(code, str(exc)) from exc
            raise
        return parse_history(payload)

    @staticmethod
    def describe_server_profile(profile: dict[str, Any] | None) -> str:
        return f"transactionHistory: {describe_server_profile(profile)}"

    def probe_server_profile(self, max_requests: int = 4) -> dict[str, Any] | None:
        """Read the newest few pages of the two-year range to observe the reading (paging, page size, order,
        symbol need); returns the profile (also left in ``server_profile``). Raises ExchangeError."""
        now = int(self.clock() * 1000)
        before = self.stats.requests
        for _ in self.iter_fill_pages(now - TWO_YEARS_MS, now):
            p = self.server_profile or {}
            if self.stats.requests - before >= max_requests or (
                p.get("page") != "unknown" and p.get("order") != "unknown" and p.get("symbol_required") is not None
            ):
                break
        return self.server_profile

    def iter_fill_pages(self, start_ms: int, end_ms: int, position: dict | None = None) -> Iterator[FillPage]:
        """Fills of ``[start_ms, end_ms]`` under whichever reading of transactionHistory the server follows
        (see :mod:`perpvol_core.exchanges.woox.paging`). Raises ExchangeError, with a clear message when no
        correct result is possible."""

        yield from HistoryWalk(self, start_ms, end_ms, position).pages()
