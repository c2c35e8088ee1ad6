"""What every venue's stream adapter shares: the private-stream URL of an account's REST host, and waiting
for one reply during a handshake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from perpvol_core.exchanges._errors import StreamProtocolError
from perpvol_core.exchanges._spec import StreamConnection, VenueSpec

#: messages read while waiting for one handshake reply (a server that never answers is not waited on forever)
MAX_HANDSHAKE_MESSAGES = 100


def ws_url(spec: VenueSpec, base_url: str | None, path: str) -> str:
    """The private-stream URL at ``path`` for an account's REST ``base_url``: a documented REST host maps to
    its WebSocket host (``spec.hosts``); any other host (a simulator) serves the stream itself, under the
    REST URL's path."""
    parts = urlsplit((base_url or spec.default_base_url).rstrip("/"))
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    host = (parts.hostname or "").lower()
    if host in spec.hosts:
        return urlunsplit((scheme, spec.hosts[host], path, "", ""))
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, "", ""))


async def await_reply(
    conn: StreamConnection,
    match: Callable[[dict[str, Any]], bool],
    timeout: float,
    answer: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """The first JSON object that ``match`` accepts; messages ``answer`` has a reply for (server pings) are
    answered on the way. Raises StreamProtocolError (not JSON, or no reply within the bound), TimeoutError."""
    for _ in range(MAX_HANDSHAKE_MESSAGES):
        message = await conn.recv_message(timeout)
        if not isinstance(message, dict):
            raise StreamProtocolError("the stream sent a message that is not a JSON object")
        reply = answer(message) if answer is not None else None
        if reply is not None:
            await conn.send_json(reply)
            continue
        if match(message):
            return message
    raise StreamProtocolError(f"no handshake reply within {MAX_HANDSHAKE_MESSAGES} messages")
