"""Hyperliquid's fill stream: ``wss://api.hyperliquid.xyz/ws``, subscription ``userFills`` of one address.

hyperliquid-api.md §7: the server may greet with a plain-text frame (skipped), acknowledges a subscription
with ``{"channel": "subscriptionResponse", ...}``, then sends ``{"channel": "userFills", "data": {"user",
"isSnapshot", "fills"}}``: a snapshot first (its depth is undocumented, F18: never taken for the history),
then each new fill (``isSnapshot`` false or absent, F17). ``{"method": "ping"}`` is answered with
``{"channel": "pong"}``; the venue drops a connection silent for 60 s, hence a ping after 50 s. The live
service reconnects and reads the gap over REST after every (re)connect.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from perpvol_core.exchanges._errors import StreamProtocolError
from perpvol_core.exchanges._spec import StreamAdapter, StreamConnection, StreamReply, StreamTarget
from perpvol_core.exchanges.hyperliquid.parse import parse_fills
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hyperliquid.xyz"
#: REST host -> WebSocket host (the same hosts: the stream lives at ``/ws`` of the API host)
WS_HOSTS = {"api.hyperliquid.xyz": "api.hyperliquid.xyz", "api.hyperliquid-testnet.xyz": "api.hyperliquid-testnet.xyz"}
WS_PATH = "/ws"
#: messages read while waiting for the subscription's acknowledgement (greeting, early pushes)
HANDSHAKE_MESSAGES = 20
HANDSHAKE_TIMEOUT_S = 10.0


def ws_url(base_url: str | None) -> str:
    """``wss://<host>/ws`` for a production or testnet REST base URL, ``ws://host:port/ws`` for a loopback one."""
    parts = urlsplit((base_url or DEFAULT_BASE_URL).rstrip("/"))
    host = parts.hostname or ""
    if host in WS_HOSTS:
        return urlunsplit(("wss", WS_HOSTS[host], WS_PATH, "", ""))
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + WS_PATH, "", ""))


def subscribe_message(address: str) -> dict[str, Any]:
    return {"method": "subscribe",
            "subscription": {"type": "userFills", "user": address, "aggregateByTime": False}}


class HyperliquidStream(StreamAdapter):
    """The ``userFills`` subscription of one address (public: nothing to authenticate)."""

    heartbeat_s = 50.0

    def __init__(self, credentials: Any, base_url: str | None, **options: Any) -> None:
        super().__init__(credentials, base_url, **options)
        self.address: str = credentials.address.lower()
        #: fills pushed before the acknowledgement, handed out with the next message
        self._early: list[Fill] = []

    async def target(self) -> StreamTarget:
        return StreamTarget(ws_url(self.base_url), kind="userFills")

    async def handshake(self, conn: StreamConnection) -> None:
        """Subscribe and wait for the acknowledgement. Raises StreamProtocolError when none comes."""
        await conn.send_json(subscribe_message(self.address))
        for _ in range(HANDSHAKE_MESSAGES):
            try:
                message = await conn.recv_message(HANDSHAKE_TIMEOUT_S)
            except TimeoutError as exc:
                raise StreamProtocolError("Hyperliquid did not acknowledge the userFills subscription") from exc
            if not isinstance(message, dict):
                continue  # "Websocket connection established." and other text frames
            channel = message.get("channel")
            if channel == "subscriptionResponse" and self._acknowledges(message.get("data")):
                return
            if channel == "error":
                detail = redact(str(message.get("data"))[:160])
                raise StreamProtocolError(f"Hyperliquid refused the userFills subscription: {detail}")
            if channel == "userFills":
                self._early.extend(self.on_message(message).fills)
        raise StreamProtocolError("Hyperliquid did not acknowledge the userFills subscription")

    def _acknowledges(self, data: Any) -> bool:
        subscription = data.get("subscription") if isinstance(data, dict) else None
        if not isinstance(subscription, dict):
            return False
        user = subscription.get("user")
        return subscription.get("type") == "userFills" and (not isinstance(user, str) or user.lower() == self.address)

    def on_message(self, message: Any) -> StreamReply:
        """Fills of a ``userFills`` push for this address (snapshot or update); nothing for anything else.

        A bad fill in a push is logged and skipped (the REST catch-up after a reconnect reads it again).
        """
        early, self._early = self._early, []
        if not isinstance(message, dict) or message.get("channel") != "userFills":
            return StreamReply(fills=early)
        data = message.get("data")
        if not isinstance(data, dict) or str(data.get("user", "")).lower() != self.address:
            return StreamReply(fills=early)
        rows = data.get("fills")
        fills, skipped = parse_fills(rows if isinstance(rows, list) else [])
        for bad in skipped:
            log.warning("hyperliquid stream: skipped a bad fill: %s", bad)
        return StreamReply(fills=early + fills)

    def heartbeat(self) -> Any | None:
        return {"method": "ping"}
