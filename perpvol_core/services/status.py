"""The one account-status view: what ``perpvol keys list``, the API and the dashboard show per account.

Read from the store only (accounts, sync state, and the per-account fill counts in ONE query), so every
surface shows the same status, error, coverage and fill count. Nothing here holds a secret: the
credential blob is never copied, errors are redacted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from perpvol_core.exchanges import display_name
from perpvol_core.security.redaction import redact
from perpvol_core.store import conflicts
from perpvol_core.timeutil import date_of_ms, iso_utc


@dataclass(frozen=True)
class AccountStatus:
    """One account as every surface shows it (times in UTC epoch ms)."""

    account_id: int
    label: str
    exchange: str
    display_name: str
    hint: str
    base_url: str | None
    status: str
    last_error: str | None
    fills: int
    covered_from_ms: int | None
    covered_to_ms: int | None
    coverage: str
    last_success_ms: int | None
    identity: str | None
    progress: float
    eta_s: float | None
    created_ms: int | None
    #: What the server was seen to do (a reading of the venue's unconfirmed behaviour), when observed.
    server_profile: dict[str, Any] | None = None
    #: UTC midnight from which the stored history is complete (days before it are not covered), or None
    complete_from_ms: int | None = None

    @property
    def complete_from(self) -> str | None:
        """``YYYY-MM-DD``: the first UTC day from which the stored history is complete (None: not synced)."""
        return iso_day(self.complete_from_ms)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete_from": self.complete_from}

    def as_keys_json(self) -> dict[str, Any]:
        """The ``perpvol keys list --json`` row (its documented keys first, then the view's own)."""
        return {
            "label": self.label,
            "exchange": self.exchange,
            "status": self.status,
            "hint": self.hint,
            "base_url": self.base_url,
            "last_sync": iso_time(self.last_success_ms),
            "covered_from": iso_day(self.covered_from_ms),
            "covered_to": iso_day(self.covered_to_ms),
            "complete_from": self.complete_from,
            "fills": self.fills,
            "last_error": self.last_error,
            "display_name": self.display_name,
            "coverage": self.coverage,
            "identity": self.identity,
            "server_profile": self.server_profile,
        }


def iso_time(ms: int | None) -> str | None:
    """``2026-12-01T21:44:10Z`` (None stays None)."""
    return None if ms is None else iso_utc(ms)


def iso_day(ms: int | None) -> str | None:
    """``2026-12-01`` (None stays None)."""
    return None if ms is None else date_of_ms(ms).isoformat()


def _live(worker_status: dict[str, Any] | None, label: str) -> dict[str, Any]:
    """A worker's own view of one account (``{label: {...}}`` or ``{"accounts": [...]}``), else {}."""
    if not isinstance(worker_status, dict):
        return {}
    entry = worker_status.get(label)
    if isinstance(entry, dict):
        return entry
    for row in worker_status.get("accounts") or []:
        if isinstance(row, dict) and row.get("label") == label:
            return row
    return {}


def account_statuses(store: Any, worker_status: dict[str, Any] | None = None) -> list[AccountStatus]:
    """Every account's status, ordered by label; ``worker_status`` (optional) overlays live progress."""
    from perpvol_core.services.sync import coverage_text

    counts = store.fill_counts()
    rows = []
    for acc in store.list_accounts():
        state = store.get_sync_state(acc.id)
        live = _live(worker_status, acc.label)
        status = str(live.get("status") or acc.status or "new")
        error = (live.get("error") if status == "error" else None) or acc.last_error
        if state.unreadable:  # only this account shows it (store/syncstate.py); its next sync starts over
            status, error = "error", state.unreadable
        error = error or conflicts.warning(store, acc.id)  # fills that arrived with a stored id, other content
        progress = live.get("progress", state.progress)
        rows.append(
            AccountStatus(
                account_id=acc.id,
                label=acc.label,
                exchange=acc.exchange,
                display_name=display_name(acc.exchange),
                hint=acc.hint,
                base_url=acc.base_url,
                status=status,
                last_error=redact(error) if error else None,
                fills=int(counts.get(acc.id, 0)),
                covered_from_ms=state.covered_from_ms,
                covered_to_ms=state.covered_to_ms,
                coverage=coverage_text(acc.exchange, state.covered_from_ms, state.covered_to_ms,
                                       complete_from_ms=state.complete_from_ms),
                last_success_ms=live.get("last_success_ms", state.last_success_ms),
                identity=acc.identity,
                progress=float(progress or 0.0),
                eta_s=live.get("eta_s", state.eta_s),
                created_ms=acc.created_ms,
                server_profile=acc.server_profile,
                complete_from_ms=state.complete_from_ms,
            )
        )
    return rows
