"""The server API: REST under ``/api/v1``, the WebSocket ``/api/v1/stream`` and the ``/embed`` widget (FastAPI).

This module only assembles: one router per resource (``api_health``, ``api_accounts``, ``api_sync``,
``api_volume``, ``api_stream``, ``api_embed``; what they share is ``api_routing``), the JSON error handlers,
the FastAPI app and the front door.

Every route has pydantic request and response models; the OpenAPI document (``/api/v1/openapi.json``) is
generated from them. Money is a decimal string. Errors are ``{"error", "message"}`` with a 4xx status,
validation errors included. The bearer token, the Host check and the body limits are the front door's
(:mod:`perpvol_app.frontdoor`), checked before any route runs. The embed routes never touch the vault.

``make_app(ctx)`` is the API alone (tests, headless hosts); :mod:`perpvol_app.server` adds the dashboard.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from perpvol_app import (
    api_accounts,
    api_embed,
    api_health,
    api_reconcile,
    api_stream,
    api_sync,
    api_tiers,
    api_volume,
    views,
)
from perpvol_app.api_context import ApiContext
from perpvol_app.api_errors import STATUS_CODES, ApiError, error_response, map_exception, validation_error
from perpvol_app.api_memo import ResponseMemo
from perpvol_app.api_models import DECIMAL_PATTERN  # noqa: F401 - part of this module's interface (tests read it)
from perpvol_app.frontdoor import API_PREFIX, OPENAPI_URL, DoorConfig, FrontDoor, default_hosts, install_log_redaction
from perpvol_core.security.redaction import redact

__all__ = ["ApiContext", "error_response", "include_api", "install_error_handlers", "make_app", "new_fastapi"]

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    """Every error of ``app`` as ``{"error", "message"}`` (4xx), never a stack trace."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = validation_error(list(exc.errors()), exc.body)
        return error_response(400, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/embed"):
            return api_embed.not_found()
        if exc.status_code == 404:
            what = "API route" if request.url.path.startswith(API_PREFIX) else "route"
            return error_response(404, "not_found", f"no such {what}: {request.method} {request.url.path[:200]}")
        return error_response(exc.status_code, STATUS_CODES.get(exc.status_code, "error"), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        err = map_exception(exc)
        if err.code == "unavailable":
            log.warning("API %s %s failed: %s", request.method, request.url.path[:200], redact(exc))
        return error_response(err.status, err.code, err.message)


def include_api(app: FastAPI) -> None:
    """Add the API and embed routes and the JSON error handlers to ``app`` (this order is the OpenAPI order)."""
    app.include_router(api_health.router)
    app.include_router(api_stream.router)
    app.include_router(api_accounts.router)
    app.include_router(api_sync.router)
    app.include_router(api_volume.router)
    app.include_router(api_tiers.router)
    app.include_router(api_reconcile.router)
    app.include_router(api_stream.upgrade)
    app.include_router(api_embed.embed)
    install_error_handlers(app)
    # outermost of the app's own layers, so it keeps the bytes as sent (gzipped or not)
    app.add_middleware(ResponseMemo, paths=api_volume.SHARED_PATHS,
                       read_state=lambda: views.read_state(app.state.api_ctx.store))  # fmt: skip


def new_fastapi(**kwargs: Any) -> FastAPI:
    """A FastAPI app with the OpenAPI document at ``/api/v1/openapi.json`` and no docs pages."""
    app = FastAPI(title="perpvol", version=api_health.version(), openapi_url=OPENAPI_URL, docs_url=None,
                  redoc_url=None, **kwargs)  # fmt: skip
    # bundles and JSON compressed on the wire (the middleware leaves WebSockets alone)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    return app


def make_app(ctx: ApiContext | None = None, *, allowed_hosts: frozenset[str] | None = None) -> Any:
    """The API alone behind the front door (tests, headless hosts): an ASGI app; ``.app`` is the FastAPI app."""
    ctx = ctx or ApiContext()
    app = new_fastapi()
    app.state.api_ctx = ctx
    include_api(app)
    install_log_redaction()
    door = FrontDoor(app, DoorConfig(allowed_hosts=allowed_hosts or default_hosts("127.0.0.1"),
                                     api_token=lambda: ctx.api_token))  # fmt: skip
    door.state = app.state  # type: ignore[attr-defined]
    return door
