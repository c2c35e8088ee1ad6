"""Paradex connector: read-only token or L2 key (JWT from a signed ``/v1/auth``), ``/v1/fills`` pages.

Follows ``exchanges/paradex-api.md``. Auth is an ``httpx.Auth`` flow: a read-only token is sent as a
bearer; an L2 key (main key or subkey) signs the SNIP-12 rev-0 ``/v1/auth`` typed data with
starknet-py, posts it to ``/v1/auth/{pubkey}`` (falling back to ``/v1/auth``), refreshes the 5-minute
JWT before it runs out and once more on a 401, then repeats the same request (same cursor).
Fills of a range are read by one query followed through the opaque ``next`` cursor (newest first), so a
backfill takes the minimum number of pages; the resume position records the query, the cursor and the
oldest fill read (coverage advances with it). Newer fill fields are
optional, ``TRANSFER`` is stored as ``UNWIND_TRANSFER``, ``created_at`` may be an int or a string, and
fills are deduped by ``(id, fill_type)``.

The auth flows are in ``auth`` and the payload parsers in ``parse``; their public names are re-exported here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from perpvol_core.exchanges._http import (
    BadPayload,
    Connector,
    ExchangeUnavailable,
    FillPage,
    InvalidCredentials,
    RateLimit,
    RateLimited,
)
from perpvol_core.exchanges.paradex.auth import (  # noqa: F401  (re-exported: importers name this module)
    ParadexL2Auth,
    ParadexTokenAuth,
    jwt_claims,
)
from perpvol_core.exchanges.paradex.credentials import ParadexL2Credentials, ParadexTokenCredentials
from perpvol_core.exchanges.paradex.parse import (  # noqa: F401  (re-exported: importers name this module)
    FILL_TYPE_ALIASES,
    _int,
    duration_ms,
    parse_account_info,
    parse_fill,
    parse_volume_tiers,
)
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

FILLS = "/v1/fills"
SYSTEM_CONFIG = "/v1/system/config"
ACCOUNT_INFO = "/v1/account/info"
VOLUME_TIERS = "/v1/system/volume-tiers"
PAGE_SIZE = 5000
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
        options.pop("window_ms", None)  # windows of earlier versions: one query now covers the range
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

    # -- the exchange's own figures -------------------------------------------------------------

    def exchange_report(self) -> dict[str, Any]:
        """Paradex's own trailing volume and tier table: ``/v1/account/info`` + ``/v1/system/volume-tiers``.

        ``fetched_from_ms``/``fetched_ms`` bracket the account-info request (the window's end lies between).
        Decimal values stay exact strings. Raises ExchangeError (BadPayload for an unreadable answer).
        """
        tiers = parse_volume_tiers(self._public_get(VOLUME_TIERS))
        before = int(self.clock() * 1000)
        info = self.request("GET", ACCOUNT_INFO, endpoint="private")
        after = int(self.clock() * 1000)
        address = self.credentials.account if isinstance(self.credentials, ParadexL2Credentials) else None
        if address is None:
            address = jwt_claims(self.credentials.token.reveal()).get("sub")
        report = parse_account_info(info, str(address) if address else None)
        return {
            "exchange": "paradex",
            "source": f"{ACCOUNT_INFO} + {VOLUME_TIERS}",
            "fetched_from_ms": before,
            "fetched_ms": after,
            **report,
            "tiers": tiers,
        }

    # -- fills --------------------------------------------------------------------------------

    def _fills(self, params: dict[str, Any]) -> tuple[list[Any], str | None]:
        payload = self.request("GET", FILLS, params=params, endpoint=FILLS)
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise BadPayload("Paradex /v1/fills: no results list", retryable=True)
        nxt = payload.get("next")
        return payload["results"], (str(nxt) if nxt else None)

    def iter_fill_pages(self, start_ms: int, end_ms: int, position: dict | None = None) -> Iterator[FillPage]:
        """The whole range as ONE query followed through its ``next`` cursors: every page full but the last.

        ``position`` = ``{"we": end_at, "ws": start_at, "cursor": next cursor or None, "low": oldest fill time
        read so far, "desc": rows seen newest first so far, "proven": that order was seen on a page}``.
        While the rows come newest first (the assumed order, checked on every page), everything newer than
        the oldest fill read is complete, so each page advances ``window_done_ms`` to ``low + 1`` (fills of
        the same millisecond may straddle two pages). Under another order the range is complete only at
        its end. A cursor the exchange no longer accepts restarts the query just above the oldest fill read
        (``end_at = low + 1``, either bound reading covered), keeping the progress made. A position from an
        older windowed walk (``ws`` above ``start_ms``) goes on with ``[start_ms, ws + 1]`` after its window.
        Raises ExchangeError after retries; BadPayload when pages keep coming without a new fill.
        """
        span_total = max(1, end_ms - start_ms)
        pos = dict(position or {})
        we = int(pos.get("we", end_ms))
        ws = int(pos.get("ws", start_ms))
        cursor: str | None = pos.get("cursor")
        low = int(pos.get("low", we))
        desc = bool(pos.get("desc", True))
        proven = bool(pos.get("proven", False))
        seen: set[tuple[str, str]] = set()
        stale_pages = 0
        while True:
            params: dict[str, Any] = {"start_at": ws, "end_at": we, "page_size": self.page_size}
            if cursor:
                params["cursor"] = cursor
            try:
                rows, nxt = self._fills(params)
            except BadPayload as exc:
                if cursor and not exc.retryable:
                    log.info("Paradex refused a saved cursor (%s); restarting above the oldest fill read", exc)
                    cursor = None
                    if desc and low < we:
                        we = low + 1
                    continue
                raise
            fills: list[Fill] = []
            skipped: list[str] = []
            times: list[int] = []
            for row in rows:
                try:
                    fill = parse_fill(row)
                except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                    rid = row.get("id") if isinstance(row, dict) else None
                    skipped.append(redact(f"paradex row id={rid}: {type(exc).__name__}: {exc}"))
                    continue
                times.append(fill.ts_ms)
                key = (fill.fill_id, fill.fill_type)
                if key in seen:
                    continue
                seen.add(key)
                fills.append(fill)
            if times:
                # newest first: non-increasing within the page and not newer than what came before
                in_order = all(a >= b for a, b in zip(times, times[1:], strict=False)) and times[0] <= low
                desc = desc and in_order
                proven = proven or (desc and times[0] > times[-1])
                low = min(low, times[-1]) if desc else min(low, min(times))
            if len(seen) > 100_000:
                seen = set()
            stale_pages = 0 if fills or not rows else stale_pages + 1
            if nxt and stale_pages >= 3:
                raise BadPayload("Paradex /v1/fills keeps sending pages without a new fill; stopped")
            if nxt:
                cursor = nxt
                complete_from = low + 1 if desc and proven else None
                done = (end_ms - max(ws, complete_from or we)) / span_total
                yield FillPage(
                    fills,
                    {"we": we, "ws": ws, "cursor": cursor, "low": low, "desc": desc, "proven": proven},
                    window_done_ms=complete_from if complete_from is not None and complete_from < end_ms else None,
                    skipped=skipped,
                    progress=min(max(done, 0.0), 0.999),
                )
                continue
            if ws <= start_ms:
                yield FillPage(fills, None, window_done_ms=start_ms, skipped=skipped, progress=1.0)
                return
            # a windowed position from before: the rest of the range in one query (1 ms overlap)
            we, ws, cursor, low, desc, proven = ws + 1, start_ms, None, ws + 1, True, False
            yield FillPage(
                fills,
                {"we": we, "ws": ws, "cursor": None, "low": low, "desc": True, "proven": False},
                window_done_ms=we - 1,
                skipped=skipped,
                progress=min((end_ms - we) / span_total, 0.999),
            )
