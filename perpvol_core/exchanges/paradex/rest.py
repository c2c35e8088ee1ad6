"""Paradex connector: read-only token or L2 key (JWT from a signed ``/v1/auth``), ``/v1/fills`` pages.

Follows ``exchanges/paradex-api.md``. Auth is an ``httpx.Auth`` flow: a read-only token is sent as a
bearer; an L2 key (main key or subkey) signs the SNIP-12 rev-0 ``/v1/auth`` typed data with
starknet-py, posts it to ``/v1/auth/{pubkey}`` (falling back to ``/v1/auth``), refreshes the 5-minute
JWT before it runs out and once more on a 401, then repeats the same request (same cursor).
Fills are read in time windows from newest to oldest, each window newest first through the opaque
``next`` cursor; the resume position records the window and the cursor. Newer fill fields are
optional, ``TRANSFER`` is stored as ``UNWIND_TRANSFER``, ``created_at`` may be an int or a string, and
fills are deduped by ``(id, fill_type)``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

import httpx
import jwt

from perpvol_core.exchanges._http import (
    BadPayload,
    Connector,
    ExchangeUnavailable,
    FillPage,
    InvalidCredentials,
    RateLimit,
    RateLimited,
    parse_json,
    to_decimal,
    to_ms,
    to_text,
)
from perpvol_core.exchanges.paradex import starknet as starknet_auth
from perpvol_core.fill import MAKER, MS_PER_DAY, TAKER, Fill
from perpvol_core.security.credentials import ParadexL2Credentials, ParadexTokenCredentials
from perpvol_core.security.redaction import Secret, redact, register_secret

log = logging.getLogger(__name__)

FILLS = "/v1/fills"
SYSTEM_CONFIG = "/v1/system/config"
PAGE_SIZE = 5000
#: first window of a backfill; later windows adapt to the density of fills seen
DEFAULT_WINDOW_MS = 90 * MS_PER_DAY
MAX_WINDOW_MS = 400 * MS_PER_DAY
#: fill types whose old name is stored under the current one
FILL_TYPE_ALIASES = {"TRANSFER": "UNWIND_TRANSFER"}
_AUTH_ERRORS = {
    "INVALID_STARKNET_SIGNATURE",
    "STARKNET_SIGNATURE_VERIFICATION_FAILED",
    "INVALID_STARKNET_ADDRESS",
    "NOT_ONBOARDED",
    "ACCOUNT_NOT_FOUND",
    "PUBLIC_KEY_INVALID",
    "UNAUTHORIZED_ERROR",
    "INVALID_SUBKEY",
    "INVALID_TOKEN",
    "INVALID_TOKEN_SCOPE",
    "IP_NOT_ALLOWED",
    "GEO_IP_BLOCK",
    "REQUEST_NOT_ALLOWED",
}


def _int(value: str | int) -> int:
    if isinstance(value, int):
        return value
    text = value.strip()
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT; ``{}`` when the token is opaque."""
    try:
        # Reading our own token's claims (expiry, account), not authenticating anyone: the exchange verifies.
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}
    return claims


def _error_text(response: httpx.Response) -> tuple[str, str]:
    try:
        body = parse_json(response.content)
    except ValueError:
        return "", response.text[:200]
    if isinstance(body, dict):
        return str(body.get("error") or ""), str(body.get("message") or body.get("error") or "")
    return "", str(body)[:200]


# --------------------------------------------------------------------------------------------- auth


class ParadexTokenAuth(httpx.Auth):
    """A read-only token (long-lived JWT) sent as ``Authorization: Bearer``."""

    def __init__(self, token: Secret) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token.reveal()}"
        yield request


class ParadexL2Auth(httpx.Auth):
    """JWTs from a signed ``POST /v1/auth``: refreshed before expiry and once on a 401.

    The chain id comes from ``chain_id()`` (``/v1/system/config``, fetched once by the connector).
    Raises (from the request): InvalidCredentials when the signature is refused; ExchangeUnavailable /
    RateLimited (retryable) when ``/v1/auth`` fails for reasons other than the key.
    """

    requires_response_body = True

    def __init__(
        self,
        account: str,
        l2_key: Secret,
        chain_id: Callable[[], str],
        clock: Callable[[], float] = time.time,
        signature_validity_s: int = 1800,
        path_prefix: str = "",
    ) -> None:
        self.path_prefix = path_prefix
        self.account = _int(account)
        self._key = l2_key
        self.public_key = starknet_auth.public_key_from_private(_int(l2_key.reveal()))
        self.chain_id = chain_id
        self.clock = clock
        self.signature_validity_s = signature_validity_s
        self._jwt: str | None = None
        self._exp = 0.0
        self._refresh_at = 0.0
        self._use_pubkey_path = True
        self._lock = threading.Lock()
        self.auth_count = 0

    def _auth_request(self, url: httpx.URL) -> httpx.Request:
        now = int(self.clock())
        headers = starknet_auth.auth_headers(
            _int(self._key.reveal()), self.account, self.chain_id(), now, now + self.signature_validity_s
        )
        path = f"/v1/auth/{hex(self.public_key)}" if self._use_pubkey_path else "/v1/auth"
        prefix = self.path_prefix.rstrip("/")
        return httpx.Request("POST", url.copy_with(raw_path=(prefix + path).encode(), query=None), headers=headers)

    def _refresh(self, url: httpx.URL) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield self._auth_request(url)
        if response.status_code == 404 and self._use_pubkey_path:
            self._use_pubkey_path = False
            response = yield self._auth_request(url)
        self.auth_count += 1
        if response.status_code == 429:
            raise RateLimited("Paradex /v1/auth rate limit exceeded")
        if response.status_code >= 500:
            raise ExchangeUnavailable(f"Paradex /v1/auth failed (HTTP {response.status_code})")
        code, message = _error_text(response)
        if response.status_code >= 400:
            raise InvalidCredentials(
                f"Paradex refused the L2 key for account {hex(self.account)[:8]}…: "
                f"{code or 'HTTP ' + str(response.status_code)} {message}".strip()
            )
        try:
            token = str(parse_json(response.content)["jwt_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadPayload("Paradex /v1/auth returned no jwt_token", retryable=True) from exc
        register_secret(token)
        claims = jwt_claims(token)
        now = self.clock()
        exp = float(claims.get("exp", now + 240))
        iat = float(claims.get("iat", now))
        ttl = max(1.0, exp - iat)
        self._jwt, self._exp = token, exp
        # refresh when 80 % of the lifetime is gone, at most 30 s before expiry (SDK: 30 s buffer)
        self._refresh_at = exp - min(30.0, ttl * 0.2)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._jwt is None or self.clock() >= self._refresh_at:
            yield from self._refresh(request.url)
        request.headers["Authorization"] = f"Bearer {self._jwt}"
        response = yield request
        if response.status_code == 401:
            response.read()
            yield from self._refresh(request.url)
            request.headers["Authorization"] = f"Bearer {self._jwt}"
            yield request


# --------------------------------------------------------------------------------------------- parsing


def parse_fill(row: dict[str, Any]) -> Fill:
    """A normalized :class:`Fill` from a ``FillResult``; raises KeyError/ValueError/TypeError on a bad row."""
    if not isinstance(row, dict):
        raise TypeError(f"row is a {type(row).__name__}")
    fill_id = to_text(row["id"], "id")
    liquidity = str(row.get("liquidity") or "").upper()
    if liquidity not in (MAKER, TAKER):
        raise ValueError(f"liquidity is {row.get('liquidity')!r}")
    fill_type = str(row.get("fill_type") or "FILL").upper()
    fill_type = FILL_TYPE_ALIASES.get(fill_type, fill_type)
    price = to_decimal(row["price"])
    size = to_decimal(row["size"])
    if price < 0 or size < 0:
        raise ValueError("negative price or size")
    fee = row.get("fee")
    return Fill(
        exchange="paradex",
        fill_id=fill_id,
        fill_type=fill_type,
        market=to_text(row["market"], "market"),
        side=str(row.get("side") or "").upper(),
        liquidity=liquidity,
        price=price,
        size=size,
        fee=to_decimal(fee) if fee not in (None, "") else to_decimal(0),
        fee_asset=str(row.get("fee_currency") or "USDC"),
        ts_ms=to_ms(row["created_at"]),
    )


# --------------------------------------------------------------------------------------------- connector


class ParadexConnector(Connector):
    """One Paradex account, through a read-only token or an L2 key (main key or subkey)."""

    exchange = "paradex"
    limits = {
        FILLS: [RateLimit(120, 1.0), RateLimit(600, 60.0)],
        "private": [RateLimit(120, 1.0), RateLimit(600, 60.0)],
        "public": [RateLimit(1500, 60.0)],
    }
    max_history_ms = None
    #: fills reach /fills only once sent to chain: overlap incremental syncs generously
    incremental_overlap_ms = 600_000

    def __init__(
        self, credentials: ParadexTokenCredentials | ParadexL2Credentials, base_url: str | None = None, **options: Any
    ) -> None:
        self.page_size = int(options.pop("page_size", PAGE_SIZE))
        self.window_ms = int(options.pop("window_ms", DEFAULT_WINDOW_MS))
        self.clock: Callable[[], float] = options.pop("clock", time.time)
        self._chain_id: str | None = options.pop("chain_id", None)
        self._auth: httpx.Auth | None = None
        if base_url:
            # the documented REST base ends in /v1 (https://api.prod.paradex.trade/v1); paths here carry it
            base_url = base_url.rstrip("/")
            base_url = base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url
        super().__init__(credentials, base_url, **options)

    def make_auth(self) -> httpx.Auth:
        creds = self.credentials
        if isinstance(creds, ParadexTokenCredentials):
            self._auth = ParadexTokenAuth(creds.token)
        elif isinstance(creds, ParadexL2Credentials):
            try:
                prefix = httpx.URL(self.base_url).path
                self._auth = ParadexL2Auth(creds.account, creds.l2_key, self.chain_id, self.clock, path_prefix=prefix)
            except (ValueError, TypeError) as exc:
                raise InvalidCredentials("the Paradex L2 key or account address is not a valid number") from exc
        else:
            raise TypeError(f"not Paradex credentials: {type(creds).__name__}")
        return self._auth

    @property
    def account_key(self) -> str:
        creds = self.credentials
        if isinstance(creds, ParadexL2Credentials):
            return creds.account.lower()
        sub = jwt_claims(creds.token.reveal()).get("sub")
        return str(sub or creds.token.hint)

    def min_pages(self, n_fills: int) -> int:
        return max(1, -(-n_fills // self.page_size))

    @property
    def auth_count(self) -> int:
        return getattr(self._auth, "auth_count", 0)

    def chain_id(self) -> str:
        """``starknet_chain_id`` of ``/v1/system/config`` (fetched once). Raises ExchangeError."""
        if self._chain_id is None:
            payload = self._public_get(SYSTEM_CONFIG)
            chain = payload.get("starknet_chain_id") if isinstance(payload, dict) else None
            if not chain:
                raise BadPayload("Paradex /v1/system/config has no starknet_chain_id")
            self._chain_id = str(chain)
        return self._chain_id

    def _public_get(self, path: str) -> Any:
        # public endpoints need no auth: the same retry/pacing path without the auth flow
        return self.request("GET", path, endpoint="public", auth=None)

    def check_payload(self, response: httpx.Response, payload: Any) -> None:
        if not isinstance(payload, dict) or response.status_code < 400:
            return
        code = str(payload.get("error") or "")
        message = redact(str(payload.get("message") or code or "no message"))
        if response.status_code == 429:
            raise RateLimited(f"Paradex rate limit exceeded ({message})", retry_after_s=self._retry_after(response))
        if response.status_code in (401, 403) or code in _AUTH_ERRORS:
            what = "read-only token" if isinstance(self.credentials, ParadexTokenCredentials) else "L2 key"
            raise InvalidCredentials(f"Paradex rejected the {what}: {message}")
        if response.status_code >= 500 or code in ("INTERNAL_ERROR", "SERVICE_UNAVAILABLE"):
            raise ExchangeUnavailable(f"Paradex unavailable: {message}")
        err = BadPayload(f"Paradex refused the request: {code} {message}".strip())
        err.code = code  # type: ignore[attr-defined]
        raise err

    def validate(self) -> str:
        """Read one fill with the credentials; returns e.g. ``Paradex account 0x1234…abcd (L2 subkey)``.

        Raises InvalidCredentials, RateLimited, ExchangeUnavailable, BadPayload.
        """
        creds = self.credentials
        payload = self.request("GET", FILLS, params={"page_size": 1}, endpoint=FILLS)
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise BadPayload("Paradex /v1/fills returned no results list")
        if isinstance(creds, ParadexL2Credentials):
            auth = self._auth
            assert isinstance(auth, ParadexL2Auth)
            main = None
            kind = "L2 key"
            address = hex(auth.account)
            try:
                info = self.request("GET", "/v1/account/info", endpoint="private")
                results = info.get("results") if isinstance(info, dict) else None
                if isinstance(results, list) and results:
                    main = results[0].get("public_key")
            except (BadPayload, InvalidCredentials):
                main = None
            if main is not None:
                try:
                    kind = "L2 main key" if _int(str(main)) == auth.public_key else "L2 subkey"
                except ValueError:
                    pass
        else:
            kind = "read-only token"
            address = str(jwt_claims(creds.token.reveal()).get("sub") or "")
        who = f"{address[:6]}…{address[-4:]}" if len(address) > 12 else (address or "(address not shown)")
        return f"Paradex account {who} ({kind})"

    # -- fills --------------------------------------------------------------------------------

    def _fills(self, params: dict[str, Any]) -> tuple[list[Any], str | None]:
        payload = self.request("GET", FILLS, params=params, endpoint=FILLS)
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise BadPayload("Paradex /v1/fills: no results list", retryable=True)
        nxt = payload.get("next")
        return payload["results"], (str(nxt) if nxt else None)

    def iter_fill_pages(self, start_ms: int, end_ms: int, position: dict | None = None) -> Iterator[FillPage]:
        """Windows from newest to oldest, each followed through its ``next`` cursor.

        ``position`` = ``{"we": window end, "ws": window start, "cursor": next cursor or None}``.
        Raises ExchangeError after retries. A cursor the exchange no longer accepts restarts its window.
        """
        span_total = max(1, end_ms - start_ms)
        pos = dict(position or {})
        we = int(pos.get("we", end_ms))
        ws = int(pos.get("ws", max(start_ms, we - self.window_ms)))
        cursor: str | None = pos.get("cursor")
        window_fills = int(pos.get("n", 0))
        seen: set[tuple[str, str]] = set()
        while True:
            # bounds overlap by 1 ms with the next window, so either reading of inclusivity is covered
            params: dict[str, Any] = {"start_at": ws, "end_at": we, "page_size": self.page_size}
            if cursor:
                params["cursor"] = cursor
            try:
                rows, nxt = self._fills(params)
            except BadPayload as exc:
                if cursor and not exc.retryable:
                    log.info("Paradex refused a saved cursor (%s); restarting the window", exc)
                    cursor, window_fills = None, 0
                    continue
                raise
            fills: list[Fill] = []
            skipped: list[str] = []
            oldest = we
            for row in rows:
                try:
                    fill = parse_fill(row)
                except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                    rid = row.get("id") if isinstance(row, dict) else None
                    skipped.append(redact(f"paradex row id={rid}: {type(exc).__name__}: {exc}"))
                    continue
                key = (fill.fill_id, fill.fill_type)
                oldest = min(oldest, fill.ts_ms)
                if key in seen:
                    continue
                seen.add(key)
                fills.append(fill)
            window_fills += len(rows)
            if nxt:
                cursor = nxt
                done = (end_ms - max(ws, min(oldest, we))) / span_total
                yield FillPage(
                    fills, {"we": we, "ws": ws, "cursor": cursor, "n": window_fills}, skipped=skipped,
                    progress=min(done, 0.999),
                )
                continue
            if ws <= start_ms:
                yield FillPage(fills, None, window_done_ms=start_ms, skipped=skipped, progress=1.0)
                return
            # next window: sized so that it should fit about one page, given this window's density
            span = we - ws
            target = int(span * (self.page_size * 0.8) / max(window_fills, 1))
            span = max(MS_PER_DAY, min(MAX_WINDOW_MS, target, 4 * span))
            nwe = ws
            nws = max(start_ms, nwe - span)
            if len(seen) > 100_000:
                seen = set()
            yield FillPage(
                fills, {"we": nwe, "ws": nws, "cursor": None, "n": 0}, window_done_ms=ws, skipped=skipped,
                progress=min((end_ms - ws) / span_total, 0.999),
            )
            we, ws, cursor, window_fills = nwe, nws, None, 0
