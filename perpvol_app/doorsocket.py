"""The front door's WebSocket rules: only this server's own pages open a socket; a socket ends with its login.

:func:`same_origin` is the ``Origin`` check of every WebSocket a login cookie rides along (the dashboard's
Bokeh socket); :func:`session_bound` wraps a socket a login session let in so that signing out ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

from starlette.types import Message, Receive, Scope, Send

#: how often a WebSocket opened with a login session re-checks it: signing out elsewhere ends it within this
SESSION_RECHECK_S = 2.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(origin: str, host: str, allowed_hosts: Collection[str]) -> bool:
    """Whether a browser's ``Origin`` is this server as the request reached it: an http(s) origin whose host
    and port are the ``Host`` header's, and whose name is one of the allowed hosts.

    Without it, any page the owner visits (another site, or another port of this machine: cookies ignore
    ports) could open the dashboard's socket with the owner's cookie. ``null`` and malformed origins fail.
    """
    try:
        given = urlsplit(origin.strip())
        own = urlsplit(f"//{host.strip()}")
        default = _DEFAULT_PORTS.get(given.scheme.lower())
        return (default is not None and given.hostname is not None and not given.path.strip("/")
                and given.hostname in allowed_hosts and given.hostname == own.hostname
                and (given.port or default) == (own.port or default))  # fmt: skip
    except ValueError:  # a port out of range, a malformed address
        return False


def session_bound(
    scope: Scope, receive: Receive, send: Send, session_ok: Callable[[Scope], bool]
) -> tuple[Receive, Send]:
    """The WebSocket's receive/send, ended when its login session ends (sign-out, password change, age).

    The app's receive returns a disconnect (code 1008) once a re-check finds the session gone; the
    client gets the close; what the app sends after that is dropped instead of failing in the server.
    """
    state: dict[str, Any] = {"closed": False, "pending": None}

    async def bounded_receive() -> Message:
        while True:
            if state["pending"] is None:
                state["pending"] = asyncio.ensure_future(receive())
            try:
                done, _ = await asyncio.wait({state["pending"]}, timeout=SESSION_RECHECK_S)
            except asyncio.CancelledError:  # the app stopped waiting: so does the server's receive
                state["pending"].cancel()
                state["pending"] = None
                raise
            if done:
                message: Message = state["pending"].result()
                state["pending"] = None
                if message["type"] == "websocket.disconnect":
                    state["closed"] = True
                return message
            if not state["closed"] and not session_ok(scope):
                state["pending"].cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state["pending"]
                state["closed"] = True
                await send({"type": "websocket.close", "code": 1008, "reason": "signed out"})
                return {"type": "websocket.disconnect", "code": 1008}

    async def guarded_send(message: Message) -> None:
        if not state["closed"]:
            await send(message)

    return bounded_receive, guarded_send
