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
    Connector,
    ExchangeUnavailable,
    FillPage,
    InvalidCredentials,
    RateLimit,
    RateLimited,
    clock_skew_s,
    to_decimal,
    to_ms,
    to_text,
)
from perpvol_core.fill import MAKER, MS_PER_DAY, TAKER, WOOX_FILL_TYPE, Fill
from perpvol_core.security.credentials import WooxCredentials
from perpvol_core.security.redaction import Secret, redact

log = logging.getLogger(__name__)

TRANSACTION_HISTORY = "/v3/trade/transactionHistory"
ACCOUNT_INFO = "/v3/account/info"
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


# --------------------------------------------------------------------------------------------- parsing


def _pick(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise KeyError(names[0])


def _maker(value: Any) -> str:
    if isinstance(value, bool):
        return MAKER if value else TAKER
    text = str(value).strip().lower()
    if text in ("1", "true", "maker"):
        return MAKER
    if text in ("0", "false", "taker"):
        return TAKER
    raise ValueError(f"isMaker is {value!r}")


def parse_fill(row: dict[str, Any]) -> Fill:
    """A normalized :class:`Fill` from a transactionHistory (or v1 trades) row.

    Raises ``KeyError``/``ValueError``/``TypeError`` when the row is not a readable fill.
    """
    if not isinstance(row, dict):
        raise TypeError(f"row is a {type(row).__name__}")
    fill_id = to_text(_pick(row, "id"), "id")
    symbol = to_text(_pick(row, "symbol"), "symbol")
    price = to_decimal(_pick(row, "executedPrice", "executed_price"))
    size = to_decimal(_pick(row, "executedQuantity", "executed_quantity"))
    if price < 0 or size < 0:
        raise ValueError("negative price or quantity")
    fee_raw = row.get("fee", row.get("fee_amount"))
    fee = to_decimal(fee_raw) if fee_raw not in (None, "") else to_decimal(0)
    return Fill(
        exchange="woox",
        fill_id=fill_id,
        fill_type=WOOX_FILL_TYPE,
        market=symbol,
        side=str(row.get("side") or "").upper(),
        liquidity=_maker(_pick(row, "isMaker", "is_maker")),
        price=price,
        size=size,
        fee=fee,
        fee_asset=str(row.get("feeAsset") or row.get("fee_asset") or "USDT"),
        ts_ms=to_ms(_pick(row, "executedTimestamp", "executed_timestamp")),
    )


def _code(payload: dict[str, Any]) -> int | None:
    code = payload.get("code")
    if code is None:
        return None
    try:
        return int(str(code).strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------- connector


class WooxConnector(Connector):
    """One WOO X account (read-only API key). Fills from ``/v3/trade/transactionHistory`` (two years)."""

    exchange = "woox"
    limits = {
        TRANSACTION_HISTORY: [RateLimit(2, 1.0)],
        ACCOUNT_INFO: [RateLimit(10, 60.0)],
        "/v3/public": [RateLimit(10, 1.0)],
    }
    max_history_ms = TWO_YEARS_MS
    incremental_overlap_ms = 120_000
    history_note = (
        "WOO X serves only the past two years of fills through /v3/trade/transactionHistory; "
        "older fills are not available through this endpoint."
    )

    def __init__(self, credentials: WooxCredentials, base_url: str | None = None, **options: Any) -> None:
        self.page_limit = int(options.pop("page_limit", PAGE_LIMIT))
        self.clock: Callable[[], float] = options.pop("clock", time.time)
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

    def _page(self, ws: int, we: int, page: int, limit: int) -> tuple[list[Any], int, int | None]:
        params = {"endTime": we + 1, "limit": limit, "page": page, "startTime": ws}
        payload = self.request("GET", TRANSACTION_HISTORY, params=params, endpoint=TRANSACTION_HISTORY)
        if not isinstance(payload, dict):
            raise BadPayload("WOO X transactionHistory: not a JSON object", retryable=True)
        data = payload.get("data")
        if isinstance(data, dict):
            rows = data.get("rows")
            meta = data.get("meta") or payload.get("meta") or {}
        elif isinstance(data, list):
            rows, meta = data, payload.get("meta") or {}
        else:
            rows, meta = payload.get("rows"), payload.get("meta") or {}
        if not isinstance(rows, list):
            raise BadPayload("WOO X transactionHistory: no rows in the response", retryable=True)
        per_page = meta.get("recordsPerPage", meta.get("records_per_page")) if isinstance(meta, dict) else None
        total = meta.get("total") if isinstance(meta, dict) else None
        try:
            per_page_i = int(str(per_page)) if per_page is not None else self.page_limit
        except ValueError:
            per_page_i = self.page_limit
        try:
            total_i = int(str(total)) if total is not None else None
        except ValueError:
            total_i = None
        return rows, max(1, per_page_i), total_i

    def iter_fill_pages(self, start_ms: int, end_ms: int, position: dict | None = None) -> Iterator[FillPage]:
        """Walk ``[start_ms, end_ms]`` in windows from newest to oldest, each page by page.

        ``position`` = ``{"we": window end, "span": window span, "page": next page, "limit": page size asked,
        "pp": page size granted}``: page numbers only mean something with the same page size, so a resumed
        window asks for the recorded size and restarts at page 1 if the server grants another. Raises
        ExchangeError.
        """
        span_total = max(1, end_ms - start_ms)
        pos = dict(position or {})
        we = int(pos.get("we", end_ms))
        span = int(pos.get("span", max(end_ms - start_ms, MIN_SPAN_MS)))
        page = int(pos.get("page", 1))
        limit = int(pos.get("limit", self.page_limit))
        expect_pp = pos.get("pp") if page > 1 else None
        seen: set[str] = set()
        prev_seen: set[str] = set()
        while True:
            ws = max(start_ms, we - span)
            try:
                rows, per_page, total = self._page(ws, we, page, limit)
            except BadPayload as exc:
                code = getattr(exc, "code", None)
                if page == 1 and code in (-1004, -1005) and span > MIN_SPAN_MS and we - ws > MIN_SPAN_MS:
                    span = max(MIN_SPAN_MS, span // 2)
                    log.info("WOO X refused a %d-day window (%s); trying %d days", (we - ws) // MS_PER_DAY, exc,
                             span // MS_PER_DAY)
                    continue
                raise
            if expect_pp is not None and int(expect_pp) != per_page:
                log.info("WOO X page size changed (%s -> %s); restarting the window", expect_pp, per_page)
                page, expect_pp = 1, None
                continue
            expect_pp = None
            fills: list[Fill] = []
            skipped: list[str] = []
            for row in rows:
                try:
                    fill = parse_fill(row)
                except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                    rid = row.get("id") if isinstance(row, dict) else None
                    skipped.append(redact(f"woox row id={rid}: {type(exc).__name__}: {exc}"))
                    continue
                if fill.fill_id in seen or fill.fill_id in prev_seen:
                    continue
                seen.add(fill.fill_id)
                fills.append(fill)
            window_done = len(rows) < per_page or (total is not None and page * per_page >= total)
            if window_done:
                frac_done = (end_ms - ws) / span_total
                if ws <= start_ms:
                    yield FillPage(fills, None, window_done_ms=start_ms, skipped=skipped, progress=1.0)
                    return
                # the next window ends where this one started (1 ms overlap: either bound reading is covered)
                we, page, limit = ws, 1, self.page_limit
                prev_seen, seen = seen, set()
                yield FillPage(
                    fills, {"we": we, "span": span, "page": 1, "limit": limit}, window_done_ms=ws, skipped=skipped,
                    progress=min(frac_done, 0.999),
                )
            else:
                pages = -(-total // per_page) if total else page + 1
                frac_done = (end_ms - we + (we - ws) * page / max(pages, 1)) / span_total
                page += 1
                yield FillPage(
                    fills,
                    {"we": we, "span": span, "page": page, "limit": limit, "pp": per_page},
                    skipped=skipped,
                    progress=min(frac_done, 0.999),
                )
