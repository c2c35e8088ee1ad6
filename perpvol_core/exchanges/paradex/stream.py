"""Paradex private stream (JSON-RPC at ``/v1``): the bearer JWT and ``fills.*`` notifications."""

from __future__ import annotations

from typing import Any

import httpx

from perpvol_core.exchanges._errors import ExchangeError, InvalidCredentials, StreamAuthRefused
from perpvol_core.exchanges.paradex.rest import ParadexConnector, ParadexL2Auth, parse_fill
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import register_secret


def parse_push(message: dict[str, Any]) -> Fill | None:
    """A :class:`Fill` from a JSON-RPC ``subscription`` notification on a ``fills.*`` channel, else ``None``.

    Raises KeyError/ValueError/TypeError on a malformed fill.
    """
    if message.get("method") != "subscription":
        return None
    params = message.get("params") or {}
    if not str(params.get("channel", "")).startswith("fills."):
        return None
    return parse_fill(params["data"])


def bearer_jwt(creds: Any, base_url: str | None) -> str:
    """A bearer for the Paradex stream: the read-only token itself, or a fresh JWT from ``POST /v1/auth``.

    Raises StreamAuthRefused when Paradex refuses the L2 key; ExchangeError subclasses otherwise.
    """
    token = getattr(creds, "token", None)
    if token is not None:
        return token.reveal()

    connector = ParadexConnector(creds, base_url)
    try:
        auth = ParadexL2Auth(creds.account, creds.l2_key, connector.chain_id)
        request = httpx.Request("GET", connector.base_url + "/v1/account")
        flow = auth.auth_flow(request)
        req = next(flow)
        try:
            while req is not request:
                response = connector.client.send(req, auth=None)
                response.read()
                req = flow.send(response)
        except InvalidCredentials as exc:
            raise StreamAuthRefused(str(exc)) from exc
        except ExchangeError:
            raise
        jwt = request.headers["Authorization"].split(" ", 1)[1]
        register_secret(jwt)
        return jwt
    finally:
        connector.close()
