"""Account rows for the page: masked hint, status, progress, last sync, coverage, redacted errors.

One snapshot function reads the store (accounts and sync state) and the worker's status; the key
manager and the sync-progress view both render from it. Nothing here ever holds a secret: an
``Account``'s ``credentials`` blob is not copied.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import panel as pn
import param

from perpvol_core.exchanges import display_name
from perpvol_core.fill import EXCHANGES
from perpvol_core.security.redaction import redact

NAMES = {e: display_name(e) for e in EXCHANGES}  # one naming: perpvol_core.exchanges


def _fmt_ms(ms: int | None, with_time: bool = True) -> str:
    if not ms:
        return "—"
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def snapshot(store: Any, worker_status: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One display row per account (no secrets; errors redacted)."""
    worker_status = worker_status or {}
    rows = []
    for acc in store.list_accounts():
        state = store.get_sync_state(acc.id)
        live = worker_status.get(acc.label) or {}
        if not isinstance(live, dict):
            live = {}
        status = str(live.get("status") or live.get("state") or acc.status or "new")
        error = live.get("error") or live.get("last_error") or acc.last_error or state.last_error
        progress = live.get("progress", state.progress)
        rows.append(
            {
                "label": acc.label,
                "exchange": acc.exchange,
                "hint": acc.hint,
                "status": status,
                "progress": float(progress or 0.0),
                "eta_s": live.get("eta_s", state.eta_s),
                # the stored count: the one query every surface uses (``perpvol keys list`` too)
                "fills": store.fill_count(acc.id),
                "fills_seen": int(live.get("fills_seen", state.fills_seen) or 0),
                "last_sync_ms": live.get("last_success_ms", state.last_success_ms),
                "covered_from_ms": state.covered_from_ms,
                "covered_to_ms": state.covered_to_ms,
                "error": redact(error) if error and status == "error" else None,
            }
        )
    return rows


def render_accounts(rows: list[dict[str, Any]]) -> str:
    """The masked account list."""
    if not rows:
        return '<div class="pv-muted" id="pv-accounts" data-count="0">No accounts yet.</div>'
    body = []
    for r in rows:
        coverage = (
            f"{_fmt_ms(r['covered_from_ms'], False)} → {_fmt_ms(r['covered_to_ms'], False)}"
            if r["covered_from_ms"]
            else "—"
        )
        status = html.escape(r["status"])
        if r["status"] == "syncing":
            status += f" {r['progress'] * 100:.0f}%"
        cls = "pv-error" if r["status"] == "error" else "pv-ok"
        err = f'<div class="pv-error pv-account-error">{html.escape(r["error"])}</div>' if r["error"] else ""
        body.append(
            f'<tr data-label="{html.escape(r["label"])}" data-status="{html.escape(r["status"])}">'
            f"<td>{html.escape(r['label'])}</td><td>{NAMES.get(r['exchange'], html.escape(r['exchange']))}</td>"
            f'<td class="pv-hint">{html.escape(r["hint"])}</td><td class="{cls}">{status}{err}</td>'
            f"<td>{_fmt_ms(r['last_sync_ms'])}</td><td>{coverage}</td><td class='num'>{r['fills']:,}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("Label", "Exchange", "Key", "Status", "Last sync", "Coverage", "Fills")
    )
    return (
        f'<div class="pv-scroll"><table class="pv-table" id="pv-accounts" data-count="{len(rows)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def render_progress(rows: list[dict[str, Any]]) -> str:
    """Compact per-account sync progress with inline errors (shown near the top of the page)."""
    if not rows:
        return ""
    items = []
    for r in rows:
        pct = max(0.0, min(1.0, r["progress"])) * 100
        if r["status"] == "syncing":
            eta = f" · ~{int(r['eta_s'])} s left" if r.get("eta_s") else ""
            text = f"syncing {pct:.0f}% · {r['fills']:,} fills{eta}"
        elif r["status"] == "error":
            text = f'<span class="pv-error">error: {html.escape(r["error"] or "sync failed")}</span>'
        elif r["status"] == "ok":
            text = f"up to date · last sync {_fmt_ms(r['last_sync_ms'])}"
        else:
            text = html.escape(r["status"])
        bar = (
            f'<div class="pv-bar" style="margin-top:3px"><span style="width:{pct:.0f}%"></span></div>'
            if r["status"] == "syncing"
            else ""
        )
        items.append(
            f'<div class="pv-sync" data-label="{html.escape(r["label"])}" data-status="{html.escape(r["status"])}" '
            f'style="flex:1 1 240px;min-width:220px"><b>{html.escape(r["label"])}</b> '
            f'<span class="pv-figure-sub">{text}</span>{bar}</div>'
        )
    return f'<div id="pv-sync" style="display:flex;flex-wrap:wrap;gap:12px">{"".join(items)}</div>'


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
