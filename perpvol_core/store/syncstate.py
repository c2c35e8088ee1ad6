"""One account's sync state, typed and checked both ways.

Written only from checked values (:func:`checked_values`, called by ``Store.update_sync_state`` and inside the
ingest transaction): every time within 2009..2100, progress in 0..1, a resume cursor of bounded size whose runs
are valid time ranges. Read back the same way (:func:`read_state`): a stored state that fails the check (written
by an older version, or edited by hand) never raises; it comes back empty with ``unreadable`` saying what is
wrong, so only its own account shows the error (and its next sync starts over), while every other account,
``keys list``, ``volume`` and the API's status routes keep working.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from perpvol_core import bounds
from perpvol_core.security.redaction import redact

FIELDS = (
    "covered_from_ms",
    "complete_from_ms",
    "covered_to_ms",
    "cursor",
    "progress",
    "eta_s",
    "fills_seen",
    "last_success_ms",
    "last_error",
)
#: a resume cursor holds a few runs, each with its connector position; more is not a cursor we wrote
MAX_RUNS = 16
MAX_CURSOR_CHARS = 64_000
MAX_ERROR_CHARS = 2_000


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: a field of a :class:`SyncUpdate` left as it is stored
UNSET: Any = _Unset()


@dataclass(frozen=True)
class SyncUpdate:
    """A typed change of one account's sync state: the fields given are written (each checked, see
    :func:`checked_values`), the others are left as stored. ``None`` clears a field."""

    covered_from_ms: int | None = UNSET
    covered_to_ms: int | None = UNSET
    complete_from_ms: int | None = UNSET
    cursor: dict[str, Any] | None = UNSET
    progress: float = UNSET
    eta_s: float | None = UNSET
    fills_seen: int = UNSET
    last_success_ms: int | None = UNSET
    last_error: str | None = UNSET

    def values(self) -> dict[str, Any]:
        """The fields given, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not UNSET}


#: the update that starts an account's sync over (nothing covered, nothing to resume; the last error is kept)
START_OVER = SyncUpdate(covered_from_ms=None, complete_from_ms=None, covered_to_ms=None, cursor=None, progress=0.0,
                        eta_s=None, fills_seen=0, last_success_ms=None)  # fmt: skip


@dataclass
class SyncState:
    """How far the sync of one account got; every field is optional until the first sync writes it.

    ``unreadable`` is set (and every other field left at its default) when the stored row fails the check.
    """

    account_id: int
    covered_from_ms: int | None = None
    covered_to_ms: int | None = None
    #: UTC midnight from which the stored history is complete (the venue may serve less than the synced window)
    complete_from_ms: int | None = None
    cursor: dict[str, Any] | None = None
    progress: float = 0.0
    eta_s: float | None = None
    fills_seen: int = 0
    last_success_ms: int | None = None
    last_error: str | None = None
    updated_ms: int | None = None
    unreadable: str | None = None


def _optional_ms(value: Any, name: str) -> int | None:
    return None if value is None else bounds.epoch_ms(value, name=name)


def check_cursor(cursor: Any) -> dict[str, Any] | None:
    """The resume cursor ``{"runs": [{start, end, kind, position}], "days": n}``, checked. Raises InputError."""
    if cursor is None:
        return None
    if not isinstance(cursor, dict):
        raise bounds.InputError("cursor must be an object", "cursor")
    runs = cursor.get("runs", [])
    if not isinstance(runs, list) or len(runs) > MAX_RUNS:
        raise bounds.InputError(f"cursor runs must be a list of at most {MAX_RUNS}", "cursor")
    for run in runs:
        if not isinstance(run, dict) or run.get("kind") not in ("back", "fwd"):
            raise bounds.InputError("cursor run must have kind 'back' or 'fwd'", "cursor")
        start = bounds.epoch_ms(run.get("start"), name="cursor run start")
        end = bounds.epoch_ms(run.get("end"), name="cursor run end")
        if start > end:
            raise bounds.InputError("cursor run starts after it ends", "cursor")
        if run.get("position") is not None and not isinstance(run["position"], dict):
            raise bounds.InputError("cursor run position must be an object", "cursor")
    if "days" in cursor:
        bounds.sync_days(cursor["days"], name="cursor days")
    return cursor


def _cursor_text(cursor: Any) -> str | None:
    checked = check_cursor(cursor)
    if checked is None:
        return None
    try:
        text = json.dumps(checked, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise bounds.InputError(f"cursor is not plain JSON: {exc}", "cursor") from None
    if len(text) > MAX_CURSOR_CHARS:
        raise bounds.InputError(f"cursor is larger than {MAX_CURSOR_CHARS} characters", "cursor")
    return text


def _eta(value: Any) -> float | None:
    """An estimate, not an input: one that is no finite duration within a year is stored as unknown (None)
    rather than failing the sync that computed it."""
    try:
        return None if value is None else bounds.seconds(value, name="eta_s")
    except bounds.InputError:
        return None


def checked_values(update: SyncUpdate | dict[str, Any]) -> dict[str, Any]:
    """The columns to write for ``update`` (a subset of FIELDS), each checked; ``cursor`` becomes JSON text and
    ``last_error`` is redacted. Raises ValueError (an unknown field) or InputError (a value out of range)."""
    fields = update.values() if isinstance(update, SyncUpdate) else update
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown sync state field(s): {', '.join(sorted(unknown))}")
    checks = {
        "covered_from_ms": lambda v: _optional_ms(v, "covered_from_ms"),
        "covered_to_ms": lambda v: _optional_ms(v, "covered_to_ms"),
        "complete_from_ms": lambda v: _optional_ms(v, "complete_from_ms"),
        "last_success_ms": lambda v: _optional_ms(v, "last_success_ms"),
        "cursor": _cursor_text,
        "progress": lambda v: bounds.fraction(v, name="progress"),
        "eta_s": _eta,
        "fills_seen": lambda v: bounds.count(v, name="fills_seen"),
        "last_error": lambda v: redact(str(v))[:MAX_ERROR_CHARS] if v else None,
    }
    values = {name: checks[name](value) for name, value in fields.items()}
    lo, hi = values.get("covered_from_ms"), values.get("covered_to_ms")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        raise bounds.InputError("covered_from_ms is after covered_to_ms", "covered_from_ms")
    return values


def read_state(account_id: int, row: Any | None) -> SyncState:
    """The stored row as a SyncState; never raises: a row that fails the check is an empty state whose
    ``unreadable`` says why."""
    if row is None:
        return SyncState(account_id=account_id)
    try:
        cursor = json.loads(row.cursor) if row.cursor else None
        state = SyncState(
            account_id=account_id,
            covered_from_ms=_optional_ms(row.covered_from_ms, "covered_from_ms"),
            covered_to_ms=_optional_ms(row.covered_to_ms, "covered_to_ms"),
            complete_from_ms=_optional_ms(row.complete_from_ms, "complete_from_ms"),
            cursor=check_cursor(cursor),
            progress=0.0 if row.progress is None else bounds.fraction(row.progress, name="progress"),
            eta_s=None if row.eta_s is None else bounds.seconds(row.eta_s, name="eta_s"),
            fills_seen=bounds.count(row.fills_seen or 0, name="fills_seen"),
            last_success_ms=_optional_ms(row.last_success_ms, "last_success_ms"),
            last_error=row.last_error,
            updated_ms=row.updated_ms,
        )
    except (ValueError, TypeError, RecursionError) as exc:  # json.JSONDecodeError and InputError are ValueErrors
        reason = str(exc) if isinstance(exc, bounds.InputError) else "cursor is not valid JSON"
        return SyncState(
            account_id=account_id,
            last_error=row.last_error,
            unreadable=f"the stored sync state cannot be read ({redact(reason)[:200]}); "
            "the next sync reads this account's history again",
        )
    if state.covered_from_ms is not None and state.covered_to_ms is not None \
            and state.covered_from_ms > state.covered_to_ms:  # fmt: skip
        return SyncState(account_id=account_id, last_error=row.last_error,
                         unreadable="the stored sync state cannot be read (covered_from_ms is after covered_to_ms); "
                         "the next sync reads this account's history again")  # fmt: skip
    return state
