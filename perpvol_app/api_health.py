"""``GET /api/v1/health``: liveness, the database and the worker (no token needed)."""

from __future__ import annotations

from typing import Any

from perpvol_app.api_context import Ctx, run
from perpvol_app.api_errors import ApiError
from perpvol_app.api_models import Health
from perpvol_app.api_routing import public_router
from perpvol_core import timeutil

router = public_router()


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
            "time_ms": timeutil.now_ms(), "version": version()}  # fmt: skip


def version() -> str:
    """The installed package's version ("0" when it is not installed)."""
    try:
        from importlib.metadata import version

        return version("perpvol")
    except Exception:  # noqa: BLE001
        return "0"
