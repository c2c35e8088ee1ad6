"""Volume responses as ready bytes: the JSON (and its gzip) of a view, kept per data version.

``GET /volume/summary``, ``/volume/daily`` and ``/volume/range`` answer every client the same bytes until a
fill is added or removed (the store's data version changes): the payload is built, validated against its
response model and encoded once, then served from the store's one read cache
(``perpvol_core.store.read_cache``). A client that accepts gzip gets the compressed copy (compressed once,
not per request). The summary's rolling windows also slide with the clock: its key holds the current
second, so its figures and ``generated_at`` are at most a second old — two while the next second's answer is
being computed: the other clients get the previous second's meanwhile instead of waiting.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from fastapi import Request, Response
from pydantic import BaseModel

from perpvol_core.store import read_cache

#: Below this size a body is sent as is (as the GZip middleware does).
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6


class Encoded(NamedTuple):
    body: bytes
    gzipped: bytes | None


def encode(model: type[BaseModel], payload: dict[str, Any]) -> Encoded:
    """``payload`` validated by ``model`` and serialized as the route would (by alias), plus its gzip."""
    body = model.model_validate(payload).model_dump_json(by_alias=True).encode()
    gzipped = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    return Encoded(body, gzipped)


def cached_json(
    store: Any, name: str, args: tuple[Hashable, ...], model: type[BaseModel], build: Callable[[], dict[str, Any]],
    stale_args: tuple[Hashable, ...] | None = None,
) -> Encoded:
    """The encoded ``build()`` under (``name``, ``args``, data version); blocking (call it in a thread). While
    one caller builds it, the others get the answer under ``stale_args`` when it is kept."""
    return read_cache.versioned(store, f"api:{name}", args, lambda: encode(model, build()), stale_args)


def respond(request: Request, encoded: Encoded) -> Response:
    """The bytes as a JSON response, gzipped when the client accepts it."""
    headers = {"Vary": "Accept-Encoding"}
    if encoded.gzipped is not None and "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(encoded.gzipped, media_type="application/json", headers=headers)
    return Response(encoded.body, media_type="application/json", headers=headers)
