"""``GET /api/v1/reconcile[?label=L]``: every figure the venues report beside ours (``perpvol reconcile``).

The response models mirror :mod:`perpvol_core.analytics.reconcile` with money as exact decimal strings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel

from perpvol_app.api_context import Ctx, run
from perpvol_app.api_models import Day, DecimalStr
from perpvol_app.api_routing import no_unknown_query, secured_router, validate_label
from perpvol_core.money import canonical_decimal

router = secured_router()

Status = Literal["agrees", "differs", "not_reported"]


class ReconCause(BaseModel):
    code: Literal["not_synced", "before_complete_from", "subaccounts_not_added", "spot_included", "missing_fills",
                  "extra_fills"]  # fmt: skip
    text: str


class ReconRow(BaseModel):
    """One figure the venue reports beside ours; ``difference`` = theirs − ours."""

    label: str
    exchange: str
    key: str
    figure: str
    metric: Literal["volume", "taker_volume", "maker_volume"]
    period: Literal["day", "window", "all_time"]
    day: Day | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    scope: Literal["account", "account_and_subaccounts"]
    source: str
    reading: str
    theirs: DecimalStr | None = None
    ours: DecimalStr | None = None
    difference: DecimalStr | None = None
    status: Status
    causes: list[ReconCause]
    days: list[Day]
    #: the accounts whose fills make ``ours`` (a main account and its subaccounts added, for a group figure)
    accounts: list[str]


class ReconFit(BaseModel):
    """The reading of an undocumented meaning the account's data fits."""

    fork: str
    reading: str
    scores: dict[str, str]
    text: str


class ReconAccount(BaseModel):
    label: str
    exchange: str
    venue: str
    status: Status
    fetched_ms: int | None = None
    complete_from: Day | None = None
    note: str
    #: the main account's label when this one is its subaccount; the subaccounts added; those not added
    main: str | None = None
    subaccounts: list[str]
    missing_subaccounts: list[str]
    rows: list[ReconRow]
    fits: list[ReconFit]


class Reconciliation(BaseModel):
    generated_ms: int
    agrees: int
    differs: int
    not_reported: int
    accounts: list[ReconAccount]


def payload(store: Any, label: str | None) -> dict[str, Any]:
    """The reconciliation as plain data, money as canonical decimal text."""
    from perpvol_core.analytics.reconcile import reconcile

    data = reconcile(store, label=label).model_dump()
    for account in data["accounts"]:
        for row in account["rows"]:
            for name in ("theirs", "ours", "difference"):
                if row[name] is not None:
                    row[name] = canonical_decimal(row[name])
    return data


@router.get("/reconcile", response_model=Reconciliation,
            summary="The venues' own figures beside ours, per day and per window (a status and causes per row)")
async def get_reconcile(
    ctx: Ctx, request: Request, label: Annotated[str | None, Query(max_length=200)] = None
) -> dict[str, Any]:
    no_unknown_query(request.query_params, {"label"})
    chosen = validate_label(label) if label is not None else None
    return await run(payload, ctx.store, chosen)
