"""The sync engine: backfill and incremental sync of every account, resumable after a crash.

For each account the engine plans *runs* (time ranges to read): a backfill of ``days`` (default 730)
on first sync, an incremental run from the last covered point (with a small overlap) afterwards, and
a deeper backfill when more days are asked than are covered. Each page of fills is stored together
with the new resume position in ONE transaction (``store.ingest_fills(..., sync_update=...)``), so a
crash, a kill or a network failure resumes exactly where it stopped and never duplicates a fill (the
store dedupes by identity). Accounts sync concurrently on threads; each connector paces itself at
its exchange's documented limits. Status, progress, ETA and the coverage statement go to the store,
and progress events to the event bus.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from perpvol_core import bounds, timeutil
from perpvol_core.exchanges import (
    VENUES,
    Connector,
    ExchangeError,
    ExchangeUnavailable,
    InvalidCredentials,
    RateLimited,
    classify_all,
    make_connector,
)
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.security.redaction import redact
from perpvol_core.services import verify
from perpvol_core.services.events import EventBus, get_bus
from perpvol_core.store.conflicts import note as conflict_note
from perpvol_core.store.syncstate import EMPTY as EMPTY_SYNC_STATE
from perpvol_core.timeutil import date_of_ms, day_floor_ms, display_utc

log = logging.getLogger(__name__)

DEFAULT_DAYS = 730
ProgressCallback = Callable[[dict[str, Any]], None]


def error_text(exc: BaseException) -> str:
    """The status text naming the cause: invalid/revoked credentials, rate-limited, unreachable, …"""
    if isinstance(exc, InvalidCredentials):
        return f"invalid or revoked credentials: {exc}"
    if isinstance(exc, RateLimited):
        return f"rate-limited: {exc}"
    if isinstance(exc, ExchangeUnavailable):
        return f"exchange unreachable: {exc}"
    if isinstance(exc, ExchangeError):
        return f"unexpected response from the exchange: {exc}"
    return f"internal error: {type(exc).__name__}: {redact(exc)}"


def coverage_text(
    exchange: str, covered_from_ms: int | None, covered_to_ms: int | None, days: int | None = None,
    server_profile: dict[str, Any] | None = None, complete_from_ms: int | None = None,
) -> str:
    """Plain statement of which time range is complete (plus what the exchange cannot serve, and the notes of
    the server profile, e.g. that delisted symbols cannot be enumerated when ``symbol`` is required).

    ``complete_from_ms`` later than the first whole day read: the venue served less than the range read (a
    retention cap), and the statement starts there."""
    if covered_from_ms is None or covered_to_ms is None:
        text = "nothing synced yet"
    elif complete_from_ms is not None and complete_from_ms > day_floor_ms(covered_from_ms) + MS_PER_DAY:
        day = date_of_ms(complete_from_ms).isoformat()
        text = (f"complete from {day} to {display_utc(covered_to_ms)} (read from {display_utc(covered_from_ms)}; "
                f"the days before {day} are not covered)")  # fmt: skip
    else:
        text = f"complete from {display_utc(covered_from_ms)} to {display_utc(covered_to_ms)}"
    spec = VENUES.get(exchange)
    if spec is not None and spec.history_note:  # always said: a trader must know nothing older can be fetched
        text += ". " + spec.history_note
    for note in (server_profile or {}).get("notes") or []:
        text += f" Note: {note}."
    return text


def complete_from_after(
    complete_from_ms: int | None, covered_from_ms: int | None, history_starts_ms: int | None, *, gap: bool = False
) -> int | None:
    """The first UTC midnight from which an account's stored history is complete, after one more page.

    Without a retention cap it is the covered range's start, rounded up to a day; with one
    (``history_starts_ms``: the venue serves nothing older) the first day at or after the cap. It only moves
    earlier: fills once stored are kept, so a cap that moves on later leaves the history complete as it was.
    ``gap``: the venue could not serve the start of a forward run (fills were lost between two syncs), so the
    history is complete only from the cap on.
    """
    if covered_from_ms is None:
        return complete_from_ms
    start = covered_from_ms if history_starts_ms is None else max(covered_from_ms, history_starts_ms)
    candidate = -(-start // MS_PER_DAY) * MS_PER_DAY
    if gap and history_starts_ms is not None:
        return max(candidate, complete_from_ms or candidate)
    return candidate if complete_from_ms is None else min(complete_from_ms, candidate)


def probe_server_profile(
    credentials: Any, base_url: str | None = None, profile: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any] | None:
    """Observe what the exchange does (a reading of its unconfirmed behaviour) with a few requests, starting from
    the stored ``profile``; ``keys test`` stores and prints the result. None for exchanges with nothing to
    observe. Raises :class:`ExchangeError` subclasses."""
    connector = make_connector(credentials, base_url, **options)
    try:
        connector.server_profile = profile
        return connector.probe_server_profile()
    finally:
        connector.close()


def test_credentials(credentials: Any, base_url: str | None = None, **options: Any) -> str:
    """Check credentials against the exchange (``keys add`` calls this before saving).

    Returns the account's identity text. Raises :class:`ExchangeError` subclasses whose ``str()`` is
    a user-facing message (InvalidCredentials, RateLimited, ExchangeUnavailable, BadPayload).
    """
    connector = make_connector(credentials, base_url, **options)
    try:
        return connector.validate()
    finally:
        connector.close()


@dataclass
class AccountResult:
    """What one account's sync did."""

    label: str
    exchange: str
    ok: bool
    new_fills: int = 0
    fills_seen: int = 0
    requests: int = 0
    rate_limited: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    covered_from_ms: int | None = None
    covered_to_ms: int | None = None
    coverage: str = ""
    duration_s: float = 0.0
    #: the self-check after a backfill (``services.verify.VerifyResult``) and the requests of the steps after
    #: the sync (check, exchange's own figures), counted apart from ``requests``
    check: Any = None
    check_requests: int = 0

    @property
    def status(self) -> str:
        return "ok" if self.ok else "error"


@dataclass
class _Run:
    start: int
    end: int
    kind: str  # "back": extends coverage down to ``start``; "fwd": extends coverage up to ``end`` when done
    position: dict | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "kind": self.kind, "position": self.position}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Run:
        return cls(int(data["start"]), int(data["end"]), str(data["kind"]), data.get("position"))

    @property
    def span(self) -> int:
        return max(1, self.end - self.start)


class SyncEngine:
    """Backfill and incremental sync of the stored accounts.

    ``connector_options`` maps an exchange name to keyword options of its connector (tests and the
    benchmark shrink rate limits and timeouts with it). Connectors are kept between syncs (a
    JWT or chain id is not fetched again), so an incremental sync with nothing new costs one request.
    """

    def __init__(
        self,
        store: Any,
        vault: Any,
        bus: EventBus | None = None,
        *,
        connector_options: dict[str, dict[str, Any]] | None = None,
        max_workers: int = 8,
        clock: Callable[[], int] = timeutil.now_ms,
    ) -> None:
        self.store = store
        self.vault = vault
        self.bus = bus
        self.connector_options = connector_options or {}
        self.max_workers = max_workers
        self.clock = clock
        self._connectors: dict[str, tuple[bytes, str | None, Connector]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------

    def sync(
        self, labels: Iterable[str] | None = None, days: int = DEFAULT_DAYS, progress: ProgressCallback | None = None
    ) -> list[AccountResult]:
        """Sync the accounts (all, or those labelled ``labels``) concurrently; one result per account.

        Never raises for an exchange failure: that is the account's ``error``. Raises
        ``AccountNotFound`` for an unknown label, ``bounds.InputError`` for ``days`` outside 1..730.
        """
        days = bounds.sync_days(days)  # raises InputError before any account is touched
        if labels is None:
            accounts = self.store.list_accounts()
        else:
            accounts = [self.store.get_account(label) for label in labels]
        if not accounts:
            return []
        if len(accounts) == 1:
            return [self.sync_account(accounts[0], days, progress)]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(accounts)), thread_name_prefix="sync") as pool:
            futures = [pool.submit(self.sync_account, acc, days, progress) for acc in accounts]
            return [f.result() for f in futures]

    def close(self) -> None:
        with self._lock:
            items = list(self._connectors.values())
            self._connectors.clear()
        for _, _, conn in items:
            conn.close()

    # -- one account --------------------------------------------------------------------------

    def _account_lock(self, label: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(label, threading.Lock())

    def _connector(self, account: Any) -> Connector:
        with self._lock:
            cached = self._connectors.get(account.label)
        if cached and cached[0] == account.credentials and cached[1] == account.base_url:
            return cached[2]
        creds = self.vault.decrypt_account(account)
        options = dict(self.connector_options.get(account.exchange, {}))
        connector = make_connector(creds, account.base_url or None, **options)
        with self._lock:
            old = self._connectors.get(account.label)
            self._connectors[account.label] = (account.credentials, account.base_url, connector)
        if old:
            old[2].close()
        return connector

    def _known_markets(self, account_id: int) -> set[str]:
        """Markets of the account's stored fills (from the daily rollups: one row per day and market)."""
        frame = self.store.rollups_frame(account_id=account_id)
        return set(frame["market"].unique().to_list()) if frame.height else set()

    def _save_profile(self, label: str, connector: Connector, saved: dict[str, Any] | None) -> dict[str, Any] | None:
        """Store the connector's server profile when it differs from the stored one; returns what is stored."""
        current = connector.server_profile
        if current is None or current == saved:
            return saved
        snapshot = copy.deepcopy(current)
        self.store.set_account_doc(label, "server_profile", snapshot)
        return snapshot

    def _publish(self, event: dict[str, Any], progress: ProgressCallback | None) -> None:
        (self.bus or get_bus()).publish(event)
        if progress is not None:
            try:
                progress(event)
            except Exception as exc:  # a broken progress display must not stop the sync
                log.warning("progress callback failed: %s", redact(exc))

    def _plan(self, state: Any, days: int, now: int, connector: Connector) -> list[_Run]:
        want_from = now - days * MS_PER_DAY
        if connector.max_history_ms is not None:
            want_from = max(want_from, now - connector.max_history_ms)
        if state.covered_to_ms is None or state.covered_from_ms is None:
            return [_Run(want_from, now, "back")]
        runs = [_Run(max(state.covered_to_ms - connector.incremental_overlap_ms, want_from), now, "fwd")]
        if state.covered_from_ms > want_from + 1000:
            runs.append(_Run(want_from, state.covered_from_ms, "back"))
        return runs

    def sync_account(
        self, account: Any, days: int = DEFAULT_DAYS, progress: ProgressCallback | None = None
    ) -> AccountResult:
        """Sync one account to completion or to a clear error; returns what happened."""
        days = bounds.sync_days(days)
        with self._account_lock(account.label):
            return self._sync_account(account, days, progress)

    def _sync_account(self, account: Any, days: int, progress: ProgressCallback | None) -> AccountResult:
        t0 = time.monotonic()
        result = AccountResult(account.label, account.exchange, ok=False)
        store = self.store
        label = account.label
        connector: Connector | None = None
        stats0 = (0, 0)
        fills_seen = 0
        saved_profile: dict[str, Any] | None = None
        try:
            store.set_status(label, "syncing")
            self._publish({"type": "account_status", "label": label, "status": "syncing"}, progress)
            connector = self._connector(account)
            stats0 = (connector.stats.requests, connector.stats.rate_limited)
            # what the server was seen to do last time is used, and checked again, by the connector
            saved_profile = copy.deepcopy(getattr(account, "server_profile", None))
            connector.server_profile = copy.deepcopy(saved_profile)
            connector.known_markets = lambda: self._known_markets(account.id)
            state = store.get_sync_state(account.id)
            if state.unreadable:  # an older version's or a hand-edited state: this account starts over
                log.warning("%s: %s", label, state.unreadable)
                state = store.update_sync_state(account.id, **EMPTY_SYNC_STATE)
            cursor = state.cursor or {}
            runs = [_Run.from_dict(r) for r in cursor.get("runs", [])]
            resumed = bool(runs)
            if not runs:
                runs = self._plan(state, days, self.clock(), connector)
            backfilled = False
            if any(r.kind == "back" for r in runs):
                verify.mark_pending(store, label, self.clock())
            covered_from, covered_to = state.covered_from_ms, state.covered_to_ms
            complete_from = state.complete_from_ms
            capped = False  # a page of this sync reported the venue's retention cap
            while runs:
                total_span = sum(r.span for r in runs)
                done_span = 0
                progress_at_start: float | None = None
                while runs:
                    run = runs[0]
                    pages = connector.iter_fill_pages(run.start, run.end, run.position)
                    for page in pages:
                        fills_seen += len(page.fills)
                        for bad in page.skipped:
                            log.warning("%s: skipped a bad row: %s", label, bad)
                        result.skipped.extend(page.skipped)
                        run.position = page.position
                        run_done = page.position is None
                        if page.history_starts_ms is not None and run_done and run.kind == "back":
                            # nothing older than history_starts_ms is served: the run's range is as complete
                            # as it will ever be, and is not planned again
                            covered_from = run.start if covered_from is None else min(covered_from, run.start)
                            covered_to = run.end if covered_to is None else covered_to
                        if page.window_done_ms is not None and run.kind == "back":
                            covered_from = page.window_done_ms if covered_from is None else min(
                                covered_from, page.window_done_ms
                            )
                            if covered_to is None:
                                covered_to = run.end
                        if run_done and run.kind == "fwd":
                            covered_to = max(covered_to or run.end, run.end)
                        frac = 1.0 if run_done else (page.progress or 0.0)
                        overall = min(1.0, (done_span + frac * run.span) / total_span)
                        if progress_at_start is None:
                            progress_at_start = 0.0 if not resumed else overall
                        elapsed = time.monotonic() - t0
                        gained = overall - progress_at_start
                        eta = elapsed * (1 - overall) / gained if gained > 0 else None
                        rest = runs[1:] if run_done else runs
                        if page.history_starts_ms is not None:  # the venue's retention cap, as it stands now
                            capped = True
                            gap = run.kind == "fwd" and page.history_starts_ms > run.start
                            complete_from = complete_from_after(complete_from, covered_from, page.history_starts_ms,
                                                                gap=gap)  # fmt: skip
                        elif not capped and covered_from is not None and (
                            complete_from is None or (run.kind == "back" and page.window_done_ms is not None)
                        ):  # the covered range grew back in time (or was recorded before complete_from existed)
                            complete_from = complete_from_after(complete_from, covered_from, None)
                        update: dict[str, Any] = {
                            "cursor": {"runs": [r.as_dict() for r in rest], "days": days} if rest else None,
                            "complete_from_ms": complete_from,
                            "covered_from_ms": covered_from,
                            "covered_to_ms": covered_to,
                            "progress": overall,
                            "eta_s": eta,
                            "fills_seen": state.fills_seen + fills_seen,
                        }
                        result.new_fills += store.ingest_fills(account.id, classify_all(page.fills), sync_update=update)
                        saved_profile = self._save_profile(label, connector, saved_profile)
                        self._publish(
                            {
                                "type": "sync_progress",
                                "label": label,
                                "exchange": account.exchange,
                                "progress": overall,
                                "eta_s": eta,
                                "fills": fills_seen,
                                "new_fills": result.new_fills,
                                "requests": connector.stats.requests - stats0[0],
                                "covered_from_ms": covered_from,
                                "covered_to_ms": covered_to,
                            },
                            progress,
                        )
                    done_span += run.span
                    backfilled = backfilled or run.kind == "back"
                    runs.pop(0)
                if resumed:
                    # an interrupted sync was finished: now bring it up to date once
                    resumed = False
                    state = store.get_sync_state(account.id)
                    runs = self._plan(state, days, self.clock(), connector)
            saved_profile = self._save_profile(label, connector, saved_profile)
            finished = self.clock()
            result.requests = connector.stats.requests - stats0[0]
            store.update_sync_state(
                account.id, cursor=None, progress=1.0, eta_s=0.0, last_success_ms=finished, last_error=None
            )
            store.set_status(label, "ok")
            # a backfill is complete only once its self-check agrees (services/verify.py)
            after = verify.after_sync(store, label, connector, backfilled=backfilled, now_ms=finished)
            result.check, result.check_requests = after.check, after.requests
            result.ok = after.check is None or after.check.ok is not False
            if after.check is not None and not result.ok:
                result.error, result.error_kind = after.check.summary(), "verification"
        except Exception as exc:  # every failure becomes the account's clear status, never a crash of others
            if not isinstance(exc, ExchangeError):
                log.exception("sync of %s failed", label)
            result.error = error_text(exc)
            result.error_kind = getattr(exc, "kind", "internal")
            if connector is not None:
                try:
                    self._save_profile(label, connector, saved_profile)
                except Exception as exc2:  # noqa: BLE001 - the error itself is what must be recorded
                    log.warning("could not record the server profile of %s: %s", label, redact(exc2))
            try:
                store.update_sync_state(account.id, last_error=result.error, eta_s=None)
                store.set_status(label, "error", result.error)
            except Exception as exc2:  # the store itself is failing: report, keep the result
                log.error("could not record the error of %s: %s", label, redact(exc2))
            self._publish(
                {"type": "account_status", "label": label, "status": "error", "error": result.error}, progress
            )
        result.fills_seen = fills_seen
        if connector is not None:
            if not result.requests:
                result.requests = connector.stats.requests - stats0[0] - result.check_requests
            result.rate_limited = connector.stats.rate_limited - stats0[1]
        final = store.get_sync_state(account.id)
        result.covered_from_ms, result.covered_to_ms = final.covered_from_ms, final.covered_to_ms
        result.coverage = coverage_text(account.exchange, final.covered_from_ms, final.covered_to_ms, days,
                                        connector.server_profile if connector is not None else None,
                                        complete_from_ms=final.complete_from_ms)
        result.coverage += verify.coverage_note(store.get_account(label).verification)
        result.coverage += conflict_note(store, account.id)
        result.duration_s = time.monotonic() - t0
        self._publish(
            {
                "type": "sync_done",
                "label": label,
                "exchange": account.exchange,
                "ok": result.ok,
                "new_fills": result.new_fills,
                "fills": result.fills_seen,
                "error": result.error,
                "coverage": result.coverage,
                "covered_from_ms": result.covered_from_ms,
                "covered_to_ms": result.covered_to_ms,
            },
            progress,
        )
        if result.ok:
            self._publish({"type": "account_status", "label": label, "status": "ok"}, progress)
        elif result.error_kind == "verification":
            status = {"type": "account_status", "label": label, "status": "error", "error": result.error}
            self._publish(status, progress)
        return result
