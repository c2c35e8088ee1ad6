"""The server API: REST under ``/api/v1``, the WebSocket ``/api/v1/stream`` and the ``/embed`` widget (FastAPI).

Every route has pydantic request and response models; the OpenAPI document (``/api/v1/openapi.json``) is
generated from them. Money is a decimal string. Errors are ``{"error", "message"}`` with a 4xx status,
validation errors included. The bearer token, the Host check and the body limits are the front door's
(:mod:`perpvol_app.frontdoor`), checked before any route runs. The embed routes never touch the vault.

``make_app(ctx)`` is the API alone (tests, headless hosts); :mod:`perpvol_app.server` adds the dashboard.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from perpvol_app import api_cache, api_embed, api_stream, views
from perpvol_app.api_context import ApiContext, Ctx, run
from perpvol_app.api_errors import STATUS_CODES, ApiError, error_response, map_exception, validation_error
from perpvol_app.api_models import (
    DECIMAL_PATTERN,  # noqa: F401 - part of this module's interface (tests read the money pattern here)
    AccountCreate,
    AccountList,
    AccountTest,
    Current,
    Daily,
    ErrorBody,
    Exchange,
    Health,
    Summary,
    SyncRequest,
    SyncStarted,
    SyncStatus,
    VolumeRange,
    input_fields,
    secret_fields,
)
from perpvol_app.api_models import Account as AccountModel
from perpvol_app.frontdoor import API_PREFIX, DoorConfig, FrontDoor, default_hosts, install_log_redaction
from perpvol_core import bounds, timeutil
from perpvol_core.exchanges import KINDS
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.services import accounts
from perpvol_core.services.accounts import MARKET_PATTERN

log = logging.getLogger(__name__)



# ---------------------------------------------------------------------------------------------
# Errors (perpvol_app.api_errors)
# ---------------------------------------------------------------------------------------------
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


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody} for s in (400, 401, 404, 409, 413, 422, 424, 429)
}
_bearer = HTTPBearer(auto_error=False, description="PERPVOL_API_TOKEN (checked by the front door)")
router = APIRouter(prefix=API_PREFIX, responses=ERRORS)
secured = APIRouter(prefix=API_PREFIX, responses=ERRORS, dependencies=[Depends(_bearer)])


# ---------------------------------------------------------------------------------------------
# The account operations: the one account path (perpvol_core.services.accounts); errors via map_exception
# ---------------------------------------------------------------------------------------------
def _account_request(body: Any) -> accounts.AccountRequest:
    """The one account path's request from a validated body (one ``AccountCreate<Kind>``); secrets as Secret."""
    model = KINDS[body.kind]
    secrets = secret_fields(model)
    fields = {f: getattr(body, f) for f in input_fields(model)}
    credentials = {"kind": body.kind, **{f: Secret(v) if f in secrets and v is not None else v
                                         for f, v in fields.items()}}  # fmt: skip
    return accounts.AccountRequest(model.exchange, body.label, base_url=body.base_url, credentials=credentials)


def _add_account(ctx: ApiContext, body: Any) -> Any:
    """Validate, test against the exchange, encrypt bound to the account, save; returns the ``Account``.

    Raises AccountInputError, DuplicateAccount, AccountExists, ExchangeError subclasses, VaultError.
    """
    return accounts.add_account(ctx.store, ctx.vault, _account_request(body))


def _test_account(ctx: ApiContext, label: str) -> tuple[Any, str]:
    """Ask the exchange who the stored credentials are; returns (account, identity text)."""
    result = accounts.test_account(ctx.store, ctx.vault, label)
    return ctx.store.get_account(result.label), redact(result.text)


def _validate_label(label: str) -> str:
    try:
        return accounts.validate_label(label)
    except accounts.AccountInputError as exc:
        raise map_exception(exc) from exc


# ---------------------------------------------------------------------------------------------
# REST routes
# ---------------------------------------------------------------------------------------------
@router.get("/health", response_model=Health, summary="Liveness (no token needed)")
async def health(ctx: Ctx) -> dict[str, Any]:
    db = "ok"
    try:
        await run(ctx.store.list_accounts)
    except ApiError:
        db = "error"
    try:
        w = ctx.worker
        worker = "none" if w is None else ("running" if getattr(w, "running", True) else "stopped")
    except Exception:  # noqa: BLE001 - health never fails on the worker
        worker = "error"
    return {"status": "ok" if db == "ok" else "degraded", "database": db, "worker": worker,
            "time_ms": timeutil.now_ms(), "version": _version()}  # fmt: skip


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("perpvol")
    except Exception:  # noqa: BLE001
        return "0"


@secured.get("/accounts", response_model=AccountList)
async def list_accounts(ctx: Ctx) -> dict[str, Any]:
    return {"accounts": await run(views.accounts_payload, ctx.store)}


@secured.post("/accounts", response_model=AccountModel, status_code=201)
async def create_account(ctx: Ctx, body: AccountCreate, response: Response) -> dict[str, Any]:  # type: ignore[valid-type]
    acc = await run(_add_account, ctx, body)
    response.headers["Location"] = f"{API_PREFIX}/accounts/{acc.label}"
    return views.account_view(acc)


@secured.delete("/accounts/{label}", status_code=204, response_class=Response)
async def delete_account(ctx: Ctx, label: str) -> Response:
    _validate_label(label)
    await run(accounts.remove_account, ctx.store, label)
    return Response(status_code=204)


@secured.post("/accounts/{label}/test", response_model=AccountTest)
async def test_account(ctx: Ctx, label: str) -> dict[str, Any]:
    _validate_label(label)
    acc, identity = await run(_test_account, ctx, label)
    return {"label": acc.label, "exchange": acc.exchange, "ok": True, "hint": acc.hint, "identity": identity}


@secured.post("/sync", response_model=SyncStarted, status_code=202)
async def start_sync(ctx: Ctx, body: SyncRequest | None = None) -> dict[str, Any]:
    label = body.label if body else None
    if label is not None:
        await run(ctx.store.get_account, _validate_label(label))
    worker = ctx.worker
    if worker is None:
        raise ApiError(409, "no_worker", "this server runs no background worker; use `perpvol sync`")
    await run(worker.sync_now, None if label is None else [label])
    return {"status": "started", "label": label}


@secured.get("/sync/status", response_model=SyncStatus)
async def sync_status(ctx: Ctx) -> dict[str, Any]:
    return await run(views.sync_status_payload, ctx)


@secured.get("/volume/summary", response_model=Summary)
async def volume_summary(ctx: Ctx, request: Request) -> Response:
    return api_cache.respond(request, await run(views.summary_bytes, ctx.store))


@secured.get("/volume/current", response_model=Current)
async def volume_current(ctx: Ctx) -> dict[str, Any]:
    return await run(views.current_payload, ctx.store)


DateParam = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="UTC day YYYY-MM-DD")]


def _dates(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """``from``/``to`` checked in the one place (``perpvol_core.bounds``): days in 2009..2100, from <= to."""
    try:
        return bounds.day_range(start, end, names=("from", "to"))
    except bounds.InputError as exc:
        raise ApiError(400, "invalid_date", str(exc)) from None


@secured.get("/volume/daily", response_model=Daily, response_model_by_alias=True)
async def volume_daily(
    ctx: Ctx,
    request: Request,
    from_: Annotated[DateParam, Query(alias="from")] = None,
    to: DateParam = None,
    exchange: Exchange | None = None,
    market: Annotated[str | None, Query(pattern=MARKET_PATTERN)] = None,
) -> Response:
    unknown = sorted(set(request.query_params) - {"from", "to", "exchange", "market"})
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown query parameter(s): {', '.join(unknown)[:200]}")
    start, end = _dates(from_, to)
    return api_cache.respond(request, await run(views.daily_bytes, ctx.store, start, end, exchange, market))


@secured.get("/volume/range", response_model=VolumeRange, response_model_by_alias=True,
             summary="Totals for any date range (an open end: the first day with volume, or today UTC)")
async def volume_range(
    ctx: Ctx,
    request: Request,
    from_: Annotated[DateParam, Query(alias="from")] = None,
    to: DateParam = None,
    exchange: Exchange | None = None,
) -> Response:
    unknown = sorted(set(request.query_params) - {"from", "to", "exchange"})
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown query parameter(s): {', '.join(unknown)[:200]}")
    start, end = _dates(from_, to)
    return api_cache.respond(request, await run(views.range_bytes, ctx.store, start, end, exchange))


@secured.get("/stream", status_code=426, response_model=ErrorBody,
             responses={101: {"description": "WebSocket upgrade: a volume snapshot, then every change as JSON"}},
             summary="WebSocket (token in the header or ?token=)")  # fmt: skip
async def stream_needs_upgrade() -> JSONResponse:
    return error_response(426, "upgrade_required", "this is a WebSocket: connect with ws:// (Upgrade: websocket)")


# ---------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------
def include_api(app: FastAPI) -> None:
    """Add the API and embed routes and the JSON error handlers to ``app``."""
    app.include_router(router)
    app.include_router(api_stream.router)
    app.include_router(secured)
    app.include_router(api_embed.embed)
    install_error_handlers(app)


def new_fastapi(**kwargs: Any) -> FastAPI:
    """A FastAPI app with the OpenAPI document at ``/api/v1/openapi.json`` and no docs pages."""
    from perpvol_app.openapi import OPENAPI_URL

    app = FastAPI(title="perpvol", version=_version(), openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None,
                  **kwargs)  # fmt: skip
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
