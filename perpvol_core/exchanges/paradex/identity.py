"""Paradex's own id of an account: its address, from ``GET /v1/account``, else from the credentials (an L2
subkey signs for its MAIN account, whose address it is used with; a token names the account in ``sub``)."""

from __future__ import annotations

from typing import Any

from perpvol_core.exchanges._errors import BadPayload
from perpvol_core.exchanges.paradex.credentials import ParadexL2Credentials, ParadexTokenCredentials


def _address(value: Any) -> str | None:
    """A Starknet address in one spelling (lower-case hex, no leading zeros), or None."""
    try:
        return hex(int(str(value), 16))
    except (TypeError, ValueError):
        return None


def account_identity(connector: Any, credentials: Any) -> str | None:
    """The account's address (one more request). Raises ExchangeError."""
    try:
        payload = connector.request("GET", "/v1/account", endpoint="private")
        address = _address(payload.get("account")) if isinstance(payload, dict) else None
    except BadPayload:  # an endpoint this key may not read: fall back to what the credentials name
        address = None
    if address is None and isinstance(credentials, ParadexL2Credentials):
        address = _address(credentials.account)
    if address is None and isinstance(credentials, ParadexTokenCredentials):
        from perpvol_core.exchanges.paradex.auth import jwt_claims

        address = _address(jwt_claims(credentials.token.reveal()).get("sub"))
    return address
