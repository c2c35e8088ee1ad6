"""Paradex private stream (JSON-RPC at ``/v1``): the bearer JWT and ``fills.*`` notifications."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from perpvol_core.exchanges._errors import ExchangeError, InvalidCredentials, StreamAuthRefused, StreamProtocolError
from perpvol_core.exchanges._spec import StreamAdapter, StreamConnection, StreamReply, StreamTarget
from perpvol_core.exchanges._stream import await_reply, ws_url
from perpvol_core.exchanges.paradex.auth import ParadexL2Auth
from perpvol_core.exchanges.paradex.parse import parse_fill
from perpvol_core.exchanges.paradex.rest import ParadexConnector
from perpvol_core.exchanges.paradex.spec import SPEC
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import redact, register_secret

#: JSON-RPC error codes of a refused bearer (the credential cannot open a stream: REST only)
AUTH_REFUSED_CODES = (40110, 40111, 40112)


def stream_url(base_url: str | None) -> str:
    """The JSON-RPC URL (``/v1``) for the account's REST base URL (documented with or without ``/v1``)."""
    base = (base_url or "").rstrip("/")
    base = base[: -len("/v1")] if base.endswith("/v1") else base
    return ws_url(SPEC, base or None, "/v1")


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


class ParadexStream(StreamAdapter):
    """One account's Paradex stream: ``auth`` with a bearer JWT (the read-only token, or a JWT from a signed
    ``POST /v1/auth`` for an L2 key), ``subscribe`` ``fills.ALL``; ``subscription`` notifications carry fills.

    Options: ``handshake_timeout_s`` (10).
    """

    def __init__(self, credentials: Any, base_url: str | None, **options: Any) -> None:
        super().__init__(credentials, base_url, **options)
        self.timeout_s = float(options.get("handshake_timeout_s", 10.0))

    async def target(self) -> StreamTarget:
        return StreamTarget(stream_url(self.base_url), None, "jsonrpc")

    async def handshake(self, conn: StreamConnection) -> None:
        jwt = await asyncio.to_thread(bearer_jwt, self.credentials, self.base_url)
        await conn.send_json({"jsonrpc": "2.0", "method": "auth", "params": {"bearer": jwt}, "id": 0})
        reply = await await_reply(conn, lambda m: m.get("id") == 0, self.timeout_s)
        if "error" in reply:
            err = reply.get("error") or {}
            code = err.get("code") if isinstance(err, dict) else None
            text = redact(err.get("message") if isinstance(err, dict) else err)
            if code in AUTH_REFUSED_CODES:
                raise StreamAuthRefused(f"{code} {text}")
            raise StreamProtocolError(f"auth failed: {code} {text}")
        await conn.send_json({"jsonrpc": "2.0", "method": "subscribe", "params": {"channel": "fills.ALL"}, "id": 1})
        reply = await await_reply(conn, lambda m: m.get("id") == 1, self.timeout_s)
        if "error" in reply:
            raise StreamProtocolError(f"subscribe refused: {redact(reply['error'])}")

    def on_message(self, message: Any) -> StreamReply:
        fill = parse_push(message) if isinstance(message, dict) else None
        return StreamReply(fills=[fill] if fill is not None else [])
