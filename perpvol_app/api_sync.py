"""``/api/v1/sync``: start a sync in the background worker, and the sync status of every account."""

from __future__ import annotations

from typing import Any

from perpvol_app import views
from perpvol_app.api_context import Ctx, run
from perpvol_app.api_errors import ApiError
from perpvol_app.api_models import SyncRequest, SyncStarted, SyncStatus
from perpvol_app.api_routing import secured_router, validate_label

router = secured_router()


@router.post("/sync", response_model=SyncStarted, status_code=202)
async def start_sync(ctx: Ctx, body: SyncRequest | None = None) -> dict[str, Any]:
    label = body.label if body else None
    if label is not None:
        await run(ctx.store.get_account, validate_label(label))
    worker = ctx.worker
    if worker is None:
        raise ApiError(409, "no_worker", "this server runs no background worker; use `perpvol sync`")
    await run(worker.sync_now, None if label is None else [label])
    return {"status": "started", "label": label}


@router.get("/sync/status", response_model=SyncStatus)
async def sync_status(ctx: Ctx) -> dict[str, Any]:
    return await run(views.sync_status_payload, ctx)
