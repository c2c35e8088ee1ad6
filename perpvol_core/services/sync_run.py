"""One account's sync, start to end: :class:`AccountSync` reads the planned runs page by page, stores each
page with its new resume position in one transaction, records the outcome, and reports it.

A crash, a kill or a network failure resumes exactly where it stopped (the cursor is stored with each
page) and never duplicates a fill (the store dedupes by identity). Every failure becomes the account's
clear status and error, never a crash of the other accounts.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from perpvol_core.exchanges import Connector, ExchangeError, FillPage, StoredFacts, classify_all
from perpvol_core.security.redaction import redact
from perpvol_core.services import verify
from perpvol_core.services.sync_plan import Coverage, Run, coverage_text, cursor, plan, resumed_runs
from perpvol_core.services.sync_progress import SyncProgress, error_text
from perpvol_core.store.conflicts import note as conflict_note
from perpvol_core.store.syncstate import START_OVER, SyncUpdate

log = logging.getLogger(__name__)


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


def stored_facts(store: Any, account_id: int, server_profile: dict[str, Any] | None) -> StoredFacts:
    """What the store knows of an account that its connector may use (handed over as data)."""
    markets, fills, last = store.fill_facts(account_id)
    return StoredFacts(markets, fills, last, copy.deepcopy(server_profile))


class AccountSync:
    """One sync of one account: ``run()`` returns its :class:`AccountResult` and never raises."""

    def __init__(
        self, store: Any, account: Any, days: int, connector: Callable[[Any], Connector], progress: SyncProgress,
        clock: Callable[[], int],
    ) -> None:  # fmt: skip
        self.store = store
        self.account = account
        self.days = days
        self._make_connector = connector
        self.progress = progress
        self.clock = clock
        self.result = AccountResult(account.label, account.exchange, ok=False)
        self.connector: Connector | None = None
        self.stats0 = (0, 0)
        self.fills_seen = 0
        self.saved_profile: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return str(self.account.label)

    def run(self) -> AccountResult:
        try:
            self._sync()
        except Exception as exc:  # every failure becomes the account's clear status, never a crash of others
            self._failed(exc)
        self._report()
        return self.result

    # -- the steps ----------------------------------------------------------------------------------

    def _sync(self) -> None:
        store, account = self.store, self.account
        store.set_status(self.label, "syncing")
        self.progress.status("syncing")
        self.connector = connector = self._make_connector(account)
        self.stats0 = (connector.stats.requests, connector.stats.rate_limited)
        state = store.get_sync_state(account.id)
        if state.unreadable:  # an older version's or a hand-edited state: this account starts over
            log.warning("%s: %s", self.label, state.unreadable)
            state = store.update_sync_state(account.id, START_OVER)
        runs = resumed_runs(state.cursor)
        resumed = bool(runs)
        if not runs:
            runs = plan(state, self.days, self.clock(), connector)
        backfilled = False
        if any(r.kind == "back" for r in runs):
            verify.mark_pending(store, self.label, self.clock())
        coverage = Coverage.of(state)
        # what the server was seen to do last time is used, and checked again, by the connector
        self.saved_profile = copy.deepcopy(getattr(account, "server_profile", None))
        while runs:
            connector.use_facts(stored_facts(store, account.id, self.saved_profile))  # the store's knowledge, as data
            backfilled = self._read(runs, coverage, state.fills_seen, resumed) or backfilled
            if resumed:  # an interrupted sync was finished: now bring it up to date once
                resumed = False
                state = store.get_sync_state(account.id)
                runs = plan(state, self.days, self.clock(), connector)
                self.progress.new_round()
        self._finished(backfilled)

    def _read(self, runs: list[Run], coverage: Coverage, seen_before: int, resumed: bool) -> bool:
        """Read every run of ``runs`` (emptying it); True when one was a backfill."""
        total_span = sum(r.span for r in runs)
        done_span = 0
        backfilled = False
        assert self.connector is not None
        while runs:
            run = runs[0]
            for page in self.connector.iter_fill_pages(run.start, run.end, run.position):
                self._page(runs, run, page, coverage, (done_span, total_span), seen_before, resumed)
            done_span += run.span
            backfilled = backfilled or run.kind == "back"
            runs.pop(0)
        return backfilled

    def _page(
        self, runs: list[Run], run: Run, page: FillPage, coverage: Coverage, spans: tuple[int, int],
        seen_before: int, resumed: bool,
    ) -> None:  # fmt: skip
        """Store one page with the sync state it establishes (one transaction), then say so."""
        connector, result = self.connector, self.result
        assert connector is not None
        self.fills_seen += len(page.fills)
        for bad in page.skipped:
            log.warning("%s: skipped a bad row: %s", self.label, bad)
        result.skipped.extend(page.skipped)
        run.position = page.position
        run_done = page.position is None
        coverage.advance(run, page)
        done_span, total_span = spans
        frac = 1.0 if run_done else (page.progress or 0.0)
        overall = min(1.0, (done_span + frac * run.span) / total_span)
        eta = self.progress.measure(overall, resumed=resumed)
        rest = runs[1:] if run_done else runs
        update = SyncUpdate(
            cursor=cursor(rest, self.days), complete_from_ms=coverage.complete_from,
            covered_from_ms=coverage.covered_from, covered_to_ms=coverage.covered_to, progress=overall, eta_s=eta,
            fills_seen=seen_before + self.fills_seen,
        )  # fmt: skip
        fills = classify_all(page.fills)
        result.new_fills += self.store.ingest_fills(self.account.id, fills, sync_update=update)
        self._save_profile()
        self.progress.page(
            overall, eta, fills=self.fills_seen, new_fills=result.new_fills,
            requests=connector.stats.requests - self.stats0[0],
            covered_from_ms=coverage.covered_from, covered_to_ms=coverage.covered_to,
        )  # fmt: skip

    def _finished(self, backfilled: bool) -> None:
        store, connector, result = self.store, self.connector, self.result
        assert connector is not None
        self._save_profile()
        finished = self.clock()
        result.requests = connector.stats.requests - self.stats0[0]
        store.update_sync_state(
            self.account.id, SyncUpdate(cursor=None, progress=1.0, eta_s=0.0, last_success_ms=finished, last_error=None)
        )
        store.set_status(self.label, "ok")
        # a backfill is complete only once its self-check agrees (services/verify.py)
        after = verify.after_sync(store, self.label, connector, backfilled=backfilled, now_ms=finished)
        result.check, result.check_requests = after.check, after.requests
        result.ok = after.check is None or after.check.ok is not False
        if after.check is not None and not result.ok:
            result.error, result.error_kind = after.check.summary(), "verification"

    def _failed(self, exc: Exception) -> None:
        result = self.result
        if not isinstance(exc, ExchangeError):
            log.exception("sync of %s failed", self.label)
        result.error = error_text(exc)
        result.error_kind = getattr(exc, "kind", "internal")
        if self.connector is not None:
            try:
                self._save_profile()
            except Exception as exc2:  # noqa: BLE001 - the error itself is what must be recorded
                log.warning("could not record the server profile of %s: %s", self.label, redact(exc2))
        try:
            self.store.update_sync_state(self.account.id, SyncUpdate(last_error=result.error, eta_s=None))
            self.store.set_status(self.label, "error", result.error)
        except Exception as exc2:  # the store itself is failing: report, keep the result
            log.error("could not record the error of %s: %s", self.label, redact(exc2))
        self.progress.status("error", result.error)

    def _report(self) -> None:
        store, connector, result, account = self.store, self.connector, self.result, self.account
        result.fills_seen = self.fills_seen
        if connector is not None:
            if not result.requests:
                result.requests = connector.stats.requests - self.stats0[0] - result.check_requests
            result.rate_limited = connector.stats.rate_limited - self.stats0[1]
        final = store.get_sync_state(account.id)
        result.covered_from_ms, result.covered_to_ms = final.covered_from_ms, final.covered_to_ms
        profile = connector.observed_profile() if connector is not None else None
        result.coverage = coverage_text(account.exchange, final.covered_from_ms, final.covered_to_ms, self.days,
                                        profile, complete_from_ms=final.complete_from_ms)  # fmt: skip
        result.coverage += verify.coverage_note(store.get_account(self.label).verification)
        result.coverage += conflict_note(store, account.id)
        result.duration_s = self.progress.elapsed_s
        self.progress.done(result)

    def _save_profile(self) -> None:
        """Store what the connector observed of its server when it differs from what is stored."""
        assert self.connector is not None
        current = self.connector.observed_profile()
        if current is None or current == self.saved_profile:
            return
        snapshot = copy.deepcopy(current)
        self.store.set_account_doc(self.label, "server_profile", snapshot)
        self.saved_profile = snapshot
