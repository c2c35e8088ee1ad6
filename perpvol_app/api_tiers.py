"""``/api/v1/tiers``: per account, the venue's fee tables, where the account stands over the venue's rolling
window, what it takes to reach the next tier and by when, the date the tier is lost if trading stops today,
and the fee paid in basis points (maker and taker apart) against the schedule's and the reported rates.

The models are the core's (``perpvol_core.analytics.tier_outlook``); money and rates are decimal strings.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from perpvol_app.api_context import Ctx, run
from perpvol_app.api_routing import no_unknown_query, secured_router
from perpvol_core.analytics.tier_outlook import TierOutlook, outlook

router = secured_router()


class Tiers(BaseModel):
    """Every account's tier outlook, in the registry's venue order then by label."""

    accounts: list[TierOutlook]


def _payload(store: Any) -> dict[str, Any]:
    return {"accounts": outlook(store)}


@router.get("/tiers", response_model=Tiers,
            summary="Fee tiers: tables, where each account stands, what it takes, the fee paid in bps")
async def tiers(ctx: Ctx, request: Request) -> dict[str, Any]:
    no_unknown_query(request.query_params, set())
    return await run(_payload, ctx.store)
