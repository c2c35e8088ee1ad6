"""Shared answers kept ahead of the routes: a repeated ``GET`` of a volume read is answered from memory.

The volume routes build their bytes once per data version (:mod:`perpvol_app.api_cache`), yet each request
still paid FastAPI's routing and dependency solving, a hop to a thread and two database reads: about 1.5 ms of
CPU, which is what 50 clients queued on (p50 75 ms at 5M fills). This ASGI layer sits behind the front door
(the Host, the token and the security headers are checked and added for every request, as before) and in front
of FastAPI. A route lets its ``200`` answer be shared by calling :func:`share` with the time its figures are
good until (the next second for the summary, the next UTC day for the rest); the next ``GET`` of the same path,
query and encoding gets the same bytes while

- the store's *read state* — its data version and its coverage inputs, ``views.read_state`` — is the one the
  answer was made under. That state is read again at most every ``STATE_TTL_S`` and always after a write
  transaction of this process (:func:`perpvol_core.store.db.local_writes`): a write of this process is seen
  by the next request, one of another process within ``STATE_TTL_S`` (20 ms) plus one read;
- and the answer's clock has not moved on.

When either has moved, one request goes through to the route and makes the new answer; the requests that
arrive meanwhile get the previous answer (made at most ``STALE_MAX_S`` ago) instead of queueing behind it —
stale while revalidating, so fills landing ten a second no longer stall every reader. Kept answers are bounded
by total size (``MAX_BYTES``, least recently used out first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from cachetools import LRUCache
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perpvol_core import timeutil
from perpvol_core.store.db import local_writes

STATE_TTL_S = 0.02
STALE_MAX_S = 2.0
MAX_BYTES = 32 * 2**20
_SHARE_KEY = "perpvol.share_until_ms"


def share(request: Request, until_ms: int) -> None:
    """Let this request's ``200`` answer be given again, unchanged, until ``until_ms`` (UTC epoch ms) while the
    store's read state stays the same."""
    share_scope(request.scope, until_ms)


def share_scope(scope: Scope, until_ms: int) -> None:
    """:func:`share` for a bare ASGI app."""
    scope[_SHARE_KEY] = until_ms


@dataclass(frozen=True)
class _Answer:
    state: Hashable
    until_ms: int
    made_s: float
    start: Message
    body: bytes


class ResponseMemo:
    """The ASGI layer described in the module docstring, for the ``GET`` paths in ``paths``.

    ``read_state`` is blocking (it runs in a thread); when it raises (no store yet, the database is down) the
    request goes to the route, which answers the error.
    """

    def __init__(self, app: ASGIApp, paths: frozenset[str], read_state: Callable[[], Hashable],
                 *, max_bytes: int = MAX_BYTES) -> None:  # fmt: skip
        self.app = app
        self.paths = paths
        self._read_state = read_state
        self._answers: LRUCache[Hashable, _Answer] = LRUCache(maxsize=max_bytes, getsizeof=lambda a: len(a.body) + 512)
        self._remaking: set[Hashable] = set()
        self._state: tuple[float, int, Hashable] | None = None  # (read at, local writes then, state)
        self._state_reading = False
        self.hits = 0
        self.stale_hits = 0
        self.misses = 0

    @property
    def kept_bytes(self) -> int:
        return int(self._answers.currsize)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        try:
            state = await self._current_state()
        except Exception:  # noqa: BLE001 - the route answers the same failure as a clear JSON error
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope.get("query_string", b""), _accepts_gzip(scope))
        kept = self._answers.get(key)
        if kept is not None:
            if kept.state == state and timeutil.now_ms() < kept.until_ms:
                self.hits += 1
                await _replay(kept, send)
                return
            if key in self._remaking and time.monotonic() - kept.made_s <= STALE_MAX_S:
                self.stale_hits += 1
                await _replay(kept, send)
                return
        if key in self._remaking:  # nothing recent enough to give: this one goes to the route too
            await self.app(scope, receive, send)
            return
        self.misses += 1
        self._remaking.add(key)
        try:
            await self._remake(key, state, scope, receive, send)
        finally:
            self._remaking.discard(key)

    async def _remake(self, key: Hashable, state: Hashable, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's answer, sent as it comes and kept when the route shared it."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def keeping_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keeping_send)
        until_ms = scope.get(_SHARE_KEY)
        if start is not None and start.get("status") == 200 and isinstance(until_ms, int):
            self._answers[key] = _Answer(state, until_ms, time.monotonic(), start, b"".join(chunks))

    async def _current_state(self) -> Hashable:
        """The read state, read again when ``STATE_TTL_S`` has passed or this process has written since; while
        one request reads it, the others use the last one read."""
        writes, now = local_writes(), time.monotonic()
        known = self._state
        if known is not None and (self._state_reading or (now - known[0] < STATE_TTL_S and writes == known[1])):
            return known[2]
        self._state_reading = True
        try:
            state = await run_in_threadpool(self._read_state)
        finally:
            self._state_reading = False
        self._state = (now, writes, state)
        return state


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"accept-encoding":
            return b"gzip" in value.lower()
    return False


async def _replay(answer: _Answer, send: Send) -> None:
    await send(answer.start)
    await send({"type": "http.response.body", "body": answer.body})
