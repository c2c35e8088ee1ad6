"""``/api/v1/volume/*``: the summary, the current windows, daily rows and totals for any date range.

The summary, daily rows and ranges are sent as ready bytes (``perpvol_app.api_cache``), the same for every
client until the data, the coverage or the clock moves them on; a repeated request gets them again without
reaching these routes (``perpvol_app.api_memo``, for the paths in ``SHARED_PATHS``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from perpvol_app import api_cache, api_memo, views
from perpvol_app.api_context import Ctx, run
from perpvol_app.api_models import Current, Daily, Exchange, Summary, VolumeRange
from perpvol_app.api_routing import DateParam, dates, no_unknown_query, secured_router
from perpvol_app.frontdoor import API_PREFIX
from perpvol_core.services.accounts import MARKET_PATTERN

router = secured_router()
SHARED_PATHS = frozenset(f"{API_PREFIX}/volume/{name}" for name in ("summary", "daily", "range"))


@router.get("/volume/summary", response_model=Summary)
async def volume_summary(ctx: Ctx, request: Request) -> Response:
    encoded = await run(views.summary_bytes, ctx.store)
    api_memo.share(request, views.summary_until_ms())
    return api_cache.respond(request, encoded)


@router.get("/volume/current", response_model=Current)
async def volume_current(ctx: Ctx) -> dict[str, Any]:
    return await run(views.current_payload, ctx.store)


@router.get("/volume/daily", response_model=Daily, response_model_by_alias=True)
async def volume_daily(
    ctx: Ctx,
    request: Request,
    from_: Annotated[DateParam, Query(alias="from")] = None,
    to: DateParam = None,
    exchange: Exchange | None = None,
    market: Annotated[str | None, Query(pattern=MARKET_PATTERN)] = None,
) -> Response:
    no_unknown_query(request.query_params, {"from", "to", "exchange", "market"})
    start, end = dates(from_, to)
    encoded = await run(views.daily_bytes, ctx.store, start, end, exchange, market)
    api_memo.share(request, views.day_until_ms())
    return api_cache.respond(request, encoded)


@router.get("/volume/range", response_model=VolumeRange, response_model_by_alias=True,
            summary="Totals for any date range (an open end: the first day with volume, or today UTC)")
async def volume_range(
    ctx: Ctx,
    request: Request,
    from_: Annotated[DateParam, Query(alias="from")] = None,
    to: DateParam = None,
    exchange: Exchange | None = None,
) -> Response:
    no_unknown_query(request.query_params, {"from", "to", "exchange"})
    start, end = dates(from_, to)
    encoded = await run(views.range_bytes, ctx.store, start, end, exchange)
    api_memo.share(request, views.day_until_ms())
    return api_cache.respond(request, encoded)
