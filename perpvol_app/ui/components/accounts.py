"""Account rows for the page: masked hint, status, progress, last sync, coverage, redacted errors.

One snapshot function reads the one account-status view (``perpvol_core.services.status``) and the
worker's status; the key manager and the sync-progress view both render from it. Nothing here ever holds a secret: an
``Account``'s ``credentials`` blob is not copied.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from perpvol_app.templates import render
from perpvol_app.ui.components.context import shared
from perpvol_core.services.status import account_statuses
from perpvol_core.timeutil import display_utc


def _fmt_ms(ms: int | None, with_time: bool = True) -> str:
    return display_utc(ms or None, with_time)  # 0 means "never" here


def snapshot(store: Any, worker_status: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One display row per account from the one account-status view (no secrets; errors redacted)."""
    rows = []
    for s in account_statuses(store, worker_status):
        row = s.as_dict()
        row["last_sync_ms"] = s.last_success_ms
        row["error"] = s.last_error if s.status == "error" else None
        rows.append(row)
    return rows


def account_rows(ctx: Any) -> list[dict[str, Any]]:
    """The accounts table's rows, read once per data version for every open dashboard (``shared``)."""
    rows: list[dict[str, Any]] = shared(ctx.store, "account_rows", lambda: snapshot(ctx.store))
    return rows


def render_accounts(rows: list[dict[str, Any]]) -> str:
    """The masked account list (template ``ui/accounts.html``; autoescape escapes labels, hints and errors)."""
    if not rows:
        return '<div class="pv-muted" id="pv-accounts" data-count="0">No accounts yet.</div>'
    body = []
    for r in rows:
        coverage = (
            f"{_fmt_ms(r['covered_from_ms'], False)} → {_fmt_ms(r['covered_to_ms'], False)}"
            if r["covered_from_ms"]
            else "—"
        )
        status = r["status"]
        if r["status"] == "syncing":
            status += f" {r['progress'] * 100:.0f}%"
        body.append(
            {
                "label": r["label"],
                "status": r["status"],
                "display_name": r["display_name"],
                "hint": r["hint"],
                "cls": "pv-error" if r["status"] == "error" else "pv-ok",
                "status_text": status,
                "error": r["error"],
                "last_sync": _fmt_ms(r["last_sync_ms"]),
                "coverage": coverage,
                "fills": f"{r['fills']:,}",
            }
        )
    headers = ("Label", "Exchange", "Key", "Status", "Last sync", "Coverage", "Fills")
    return render("ui/accounts.html", rows=body, headers=headers)


def render_progress(rows: list[dict[str, Any]]) -> str:
    """Compact per-account sync progress with inline errors (shown near the top of the page)."""
    if not rows:
        return ""
    items = []
    for r in rows:
        pct = max(0.0, min(1.0, r["progress"])) * 100
        error = None
        if r["status"] == "syncing":
            eta = f" · ~{int(r['eta_s'])} s left" if r.get("eta_s") else ""
            text = f"syncing {pct:.0f}% · {r['fills']:,} fills{eta}"
        elif r["status"] == "error":
            text, error = "", r["error"] or "sync failed"
        elif r["status"] == "ok":
            text = f"up to date · last sync {_fmt_ms(r['last_sync_ms'])}"
        else:
            text = r["status"]
        bar = f"{pct:.0f}" if r["status"] == "syncing" else None
        items.append({"label": r["label"], "status": r["status"], "text": text, "error": error, "bar": bar})
    return render("ui/sync_progress.html", items=items)


class SyncProgress(pn.viewable.Viewer):
    """Per-account sync progress and errors; ``rows`` come from :func:`snapshot`."""

    rows = param.List(default=[])

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._pane = pn.pane.HTML(render_progress(self.rows), sizing_mode="stretch_width", margin=(0, 10))

    @param.depends("rows", watch=True)
    def _update(self) -> None:
        self._pane.object = render_progress(self.rows)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane
