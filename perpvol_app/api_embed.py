"""The embed widget ``/embed/{token}`` (HTML) and ``/embed/{token}.json``: public, aggregate-only, never the vault."""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from perpvol_app.api_context import ApiContext, Ctx
from perpvol_app.api_models import EmbedPayload, ErrorBody
from perpvol_core.exchanges import display_name
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

EMBED_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]{1,200}")
embed = APIRouter(prefix="/embed")
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_EMBED_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

def not_found() -> JSONResponse:
    # Reveals nothing: the same body for unknown, revoked and malformed tokens.
    return JSONResponse({"error": "not_found", "message": "not found"}, status_code=404, headers=_EMBED_HEADERS)


async def _embed_data(ctx: ApiContext, token: str) -> dict[str, Any] | None:
    from perpvol_core.analytics import embed as embed_core

    if not EMBED_TOKEN_RE.fullmatch(token):
        return None

    def load() -> dict[str, Any] | None:
        store = ctx.store
        return embed_core.embed_payload(store) if embed_core.lookup(store, token) is not None else None

    try:
        return await run_in_threadpool(load)
    except Exception as exc:  # noqa: BLE001 - a broken database looks like any unknown token
        log.warning("embed lookup failed: %s", redact(exc))
        return None


@embed.get("/{token}.json", response_model=EmbedPayload, responses={404: {"model": ErrorBody}})
async def embed_json(ctx: Ctx, token: str) -> Response:
    data = await _embed_data(ctx, token)
    if data is None:
        return not_found()
    return JSONResponse(data, headers={**_EMBED_HEADERS, "Access-Control-Allow-Origin": "*"})


@embed.get("/{token}", response_class=HTMLResponse, responses={404: {"model": ErrorBody}})
async def embed_page(ctx: Ctx, token: str) -> Response:
    data = await _embed_data(ctx, token)
    if data is None:
        return not_found()
    return HTMLResponse(render_embed(data), headers={
        **_EMBED_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@embed.get("/{rest:path}", include_in_schema=False)
async def embed_other(rest: str) -> Response:
    return not_found()


def _usd(value: str) -> str:
    """``1234567.891`` → ``$1,234,567.89`` from the decimal string (no float)."""
    return f"${Decimal(value).quantize(Decimal('0.01')):,.2f}"


def render_embed(data: dict[str, Any]) -> str:
    """The widget HTML (gold on black) from an embed payload, through the autoescaping Jinja2 template."""
    from perpvol_app.templates import render

    totals = data.get("totals", {})
    partial = data.get("partial") or {}
    cells = [(k, ("≥ " if partial.get(k) else "") + _usd(totals[k])) for k in ("24h", "7d", "30d", "all")
             if k in totals]  # fmt: skip
    rows = [(display_name(ex), _usd(vals.get("24h", "0")), _usd(vals.get("30d", "0")))
            for ex, vals in sorted(data.get("by_exchange", {}).items())]  # fmt: skip
    return render("embed.html", cells=cells, exchanges=rows, generated_at=str(data.get("generated_at", "")),
                  note=str(data.get("note") or ""))  # fmt: skip
