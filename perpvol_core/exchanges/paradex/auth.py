"""Paradex authentication as ``httpx.Auth`` flows: a read-only token sent as a bearer (``ParadexTokenAuth``), or an
L2 key that signs the SNIP-12 ``/v1/auth`` request for short-lived JWTs (``ParadexL2Auth``), plus ``jwt_claims``.

Kept apart from the connector (``rest``) because the stream (``stream``) and the account identity (``identity``)
need the same tokens without the fill walk: this module holds only what gets and reads a token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx
import jwt

from perpvol_core.exchanges._http import (
    BadPayload,
    ExchangeUnavailable,
    InvalidCredentials,
    RateLimited,
    parse_json,
)
from perpvol_core.exchanges.paradex import starknet as starknet_auth
from perpvol_core.exchanges.paradex.parse import _int
from perpvol_core.security.redaction import Secret, register_secret


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
