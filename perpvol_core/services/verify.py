"""Self-check of a backfill: time windows read again by another query shape must agree fill for fill.

The backfill reads a long range with few, large queries. The check splits the account's whole stored
range (the synced window, widened to every stored fill: those the live feed stored after the sync too;
``verify_windows``) into UTC-day aligned windows that each fit in about one page, asks the exchange for
each window again through the same connector interface (``iter_fill_pages(start, end)``, a narrower
query), and compares the fills of that window with the store: identity ``(fill_id, fill_type)`` and time,
price and size. A fill the exchange lists and the store lacks, one the store holds and the exchange does
not list, or one whose values differ, marks its UTC day as disagreeing. The result says how many stored
fills it compared with how many the exchange listed.

After a backfill the sync runs a cheap check (the oldest and the newest window plus two others drawn at
random); ``verify_account(..., full=True)`` checks every window (``perpvol verify``). The result is the
account's ``verification`` document; an account whose check disagrees is never shown as complete.
Works for any connector.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from perpvol_core import timeutil
from perpvol_core.analytics import fee_schedule
from perpvol_core.exchanges import VENUES, Connector, ExchangeError, classify_all, make_connector
from perpvol_core.security.redaction import redact
from perpvol_core.services import reported
from perpvol_core.services.verify_result import (  # noqa: F401  (re-exported: the check's outcome)
    ERROR_PREFIX,
    Key,
    VerifyResult,
    WindowCheck,
    coverage_note,
    day_text,
    pending_doc,
)
from perpvol_core.services.verify_windows import budget, check_range, choose, daily_counts, plan_windows
from perpvol_core.store.conflicts import meta_key as conflicts_key

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------- checking


def _stored(store: Any, account_id: int, start_ms: int, end_ms: int) -> dict[Key, tuple[int, Any, Any]]:
    frame = store.fills_frame(start_ms=start_ms, end_ms=end_ms, account_id=account_id)
    out = {}
    for fid, ftype, ts, price, size in zip(
        frame["fill_id"].to_list(),
        frame["fill_type"].to_list(),
        frame["ts_ms"].to_list(),
        frame["price"].to_list(),
        frame["size"].to_list(),
        strict=True,
    ):
        out[(fid, ftype)] = (int(ts), price, size)
    return out


def check_window(store: Any, account_id: int, connector: Connector, start_ms: int, end_ms: int) -> WindowCheck:
    """Read ``[start_ms, end_ms)`` again from the exchange and compare it with the store. Raises ExchangeError."""
    listed: dict[Key, tuple[int, Any, Any]] = {}
    served_from: int | None = None  # a venue's retention cap: it lists nothing older, we keep what we saw
    # connectors take inclusive ranges; rows outside [start, end) (other bound readings) are left out
    for page in connector.iter_fill_pages(start_ms, end_ms - 1):
        if page.history_starts_ms is not None:
            served_from = max(served_from or page.history_starts_ms, page.history_starts_ms)
        for f in page.fills:
            if start_ms <= f.ts_ms < end_ms:
                listed[(f.fill_id, f.fill_type)] = (f.ts_ms, f.price, f.size)
    stored = _stored(store, account_id, start_ms, end_ms)
    unserved = 0
    if served_from is not None:  # fills older than what the venue still serves cannot be listed again
        kept = {key: row for key, row in stored.items() if row[0] >= served_from}
        unserved, stored = len(stored) - len(kept), kept
        # nor compared: the cap may cut through the millisecond before served_from (its rest is not listed)
        listed = {key: row for key, row in listed.items() if row[0] >= served_from}
    check = WindowCheck(start_ms, end_ms, exchange_fills=len(listed), stored_fills=len(stored))
    check.unserved = unserved
    days: set[str] = set()
    for key, (ts, price, size) in listed.items():
        mine = stored.get(key)
        if mine is None:
            check.missing.append(key)
            days.add(day_text(ts))
        elif mine[0] != ts or mine[1] != price or mine[2] != size:
            check.changed.append(key)
            days.update({day_text(ts), day_text(mine[0])})
    check._listed_days = set(days)
    for key, (ts, _price, _size) in stored.items():
        if key not in listed:
            check.extra.append(key)
            check.extra_ts.append(ts)
            days.add(day_text(ts))
    check.oldest_listed_ms = min((row[0] for row in listed.values()), default=None)
    check.days = sorted(days)
    return check


def run_check(
    store: Any, account: Any, connector: Connector, *, full: bool, now_ms: int | None = None, seed: int | None = None
) -> VerifyResult:
    """Check ``account``'s covered range through ``connector`` (cheap or full). Never raises for the
    exchange: a failure is the result's ``error`` (``ok`` None)."""
    now_ms = timeutil.now_ms() if now_ms is None else now_ms
    state = store.get_sync_state(account.id)
    result = VerifyResult(
        account.label, account.exchange, full, None, now_ms, state.covered_from_ms, state.covered_to_ms
    )
    if state.covered_from_ms is None or state.covered_to_ms is None:
        result.error = "nothing synced yet"
        return result
    # the whole stored range, with fills the live feed stored after the sync; not the newest minutes
    start, end = check_range(
        store, account.id, state.covered_from_ms, state.covered_to_ms, connector.incremental_overlap_ms, now_ms
    )
    result.checked_from_ms, result.checked_to_ms = start, end
    counts = daily_counts(store, account.id, start, end)
    windows = plan_windows(counts, start, end, budget(connector, counts))
    result.windows_total = len(windows)
    rng = random.Random(now_ms if seed is None else seed)
    requests0 = connector.stats.requests
    try:
        for ws, we in choose(windows, full, rng):
            result.windows.append(check_window(store, account.id, connector, ws, we))
    except ExchangeError as exc:
        result.error = redact(f"the exchange could not be read again: {exc}")
        result.requests = connector.stats.requests - requests0
        return result
    result.requests = connector.stats.requests - requests0
    spec = VENUES.get(account.exchange)
    if full and spec is not None and spec.retention_limited:  # the venue's count cap moved on since the sync
        oldest = min((w.oldest_listed_ms for w in result.windows if w.oldest_listed_ms is not None), default=None)
        if oldest is not None:
            for w in result.windows:
                w.forget_unserved(oldest)
    result.ok = all(w.agrees for w in result.windows)
    result.stored_total = store.fill_count(account.id)
    return result


def record(store: Any, label: str, result: VerifyResult) -> None:
    """Store the result as the account's ``verification`` document; a disagreement is the account's error
    status, and a later agreeing check clears an error it set."""
    store.set_account_doc(label, "verification", result.as_doc())
    account = store.get_account(label)
    if result.ok and result.full:  # every stored fill is what the exchange lists: earlier conflicts are settled
        store.set_meta(conflicts_key(account.id), "")
    if result.ok is False:
        store.set_status(label, "error", result.summary())
    elif result.ok and account.status == "error" and (account.last_error or "").startswith(ERROR_PREFIX):
        store.set_status(label, "ok")


def verify_account(
    store: Any,
    vault: Any,
    label: str,
    full: bool = True,
    *,
    connector_options: dict[str, dict[str, Any]] | None = None,
    now_ms: int | None = None,
) -> VerifyResult:
    """Run the check of one account on demand (``perpvol verify``) and record it.

    Raises AccountNotFound for an unknown label, VaultError when the credentials cannot be decrypted;
    exchange failures are the result's ``error``.
    """
    account = store.get_account(label)
    creds = vault.decrypt_account(account)
    options = dict((connector_options or {}).get(account.exchange, {}))
    connector = make_connector(creds, account.base_url or None, **options)
    try:
        result = run_check(store, account, connector, full=full, now_ms=now_ms)
    finally:
        connector.close()
    record(store, label, result)
    return result


# --------------------------------------------------------------------------------------------- after a sync

#: the exchange's own figures are fetched again at most this often (two requests each time)
REPORT_MAX_AGE_MS = 5 * 60_000


@dataclass
class AfterSync:
    """What the steps after a sync did: the check (None when none was due), the report, their requests."""

    check: VerifyResult | None = None
    report: dict[str, Any] | None = None
    requests: int = 0


def refresh_exchange_report(store: Any, account: Any, connector: Connector, now_ms: int) -> dict[str, Any] | None:
    """Fetch and store the exchange's own figures (``exchange_report``) when due; None when the exchange
    publishes none or they are fresh. A failure is logged in the document, never raised."""
    old = account.exchange_report or {}
    if old.get("fetched_ms") is not None and now_ms - int(old.get("stored_ms") or 0) < REPORT_MAX_AGE_MS:
        return None
    try:
        report = connector.exchange_report()
    except ExchangeError as exc:
        report = {**old, "error": redact(f"could not fetch the exchange's figures: {exc}"), "stored_ms": now_ms}
    else:
        if report is None:
            return None
        report = reported.with_figures(account.exchange, connector, {**report, "error": None})
    report["stored_ms"] = now_ms
    store.set_account_doc(account.label, "exchange_report", report)
    return report


def after_sync(store: Any, label: str, connector: Connector, *, backfilled: bool, now_ms: int) -> AfterSync:
    """The self-check (after a backfill, or while an earlier one is pending or could not run) and the
    exchange's own figures. Records both; never raises for the exchange."""
    account = store.get_account(label)
    out = AfterSync()
    requests0 = connector.stats.requests
    doc = account.verification or {}
    repaired = 0
    if doc.get("state") == "disagrees":
        try:
            repaired = repair(store, account, connector, doc)
        except ExchangeError as exc:
            log.warning("%s: could not re-read the disagreeing windows: %s", label, redact(exc))
    # also an account synced before self-checks existed (no document yet): never complete unchecked
    if backfilled or not doc or doc.get("state") in ("pending", "error", "disagrees"):
        out.check = run_check(store, account, connector, full=False, now_ms=now_ms)
        for ws, we in _doc_windows(doc):  # the windows that disagreed are always checked again
            if not any(w.start_ms == ws and w.end_ms == we for w in out.check.windows) and out.check.ok is not None:
                try:
                    out.check.windows.append(check_window(store, account.id, connector, ws, we))
                except ExchangeError as exc:
                    out.check.ok, out.check.error = None, redact(f"the exchange could not be read again: {exc}")
                    break
        if out.check.ok is not None:
            out.check.ok = all(w.agrees for w in out.check.windows)
        out.check.repaired = repaired
        record(store, label, out.check)
    out.report = refresh_exchange_report(store, store.get_account(label), connector, now_ms)
    fee_schedule.refresh(store, store.get_account(label), connector, now_ms)
    out.requests = connector.stats.requests - requests0
    return out


def _doc_windows(doc: dict[str, Any]) -> list[tuple[int, int]]:
    out = []
    for w in doc.get("windows") or []:
        try:
            out.append((int(w["start_ms"]), int(w["end_ms"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def repair(store: Any, account: Any, connector: Connector, doc: dict[str, Any]) -> int:
    """Read the windows an earlier check found disagreeing again and store what was missing; returns the
    number of fills added. Fills the exchange no longer lists stay (the next check still names them).
    Raises ExchangeError."""
    added = 0
    for ws, we in _doc_windows(doc):
        for page in connector.iter_fill_pages(ws, we - 1):
            added += store.ingest_fills(account.id, classify_all(f for f in page.fills if ws <= f.ts_ms < we))
    if added:
        log.info("%s: %d fill(s) missing before were read again and stored", account.label, added)
    return added


def mark_pending(store: Any, label: str, now_ms: int) -> None:
    """A backfill starts: until its check agrees the account is not complete (kept across a crash)."""
    store.set_account_doc(label, "verification", pending_doc(now_ms))
