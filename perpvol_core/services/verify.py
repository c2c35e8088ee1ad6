"""Self-check of a backfill: time windows read again by another query shape must agree fill for fill.

The backfill reads a long range with few, large queries. The check splits the covered range into UTC-day
aligned windows that each fit in about one page (sized from the store's own daily counts), asks the
exchange for each window again through the same connector interface (``iter_fill_pages(start, end)``, a
narrower query), and compares the fills of that window with the store: identity ``(fill_id, fill_type)``
and time, price and size. A fill the exchange lists and the store lacks, one the store holds and the
exchange does not list, or one whose values differ, marks its UTC day as disagreeing.

After a backfill the sync runs a cheap check (the oldest and the newest window plus two others drawn at
random); ``verify_account(..., full=True)`` checks every window (``perpvol verify``). The result is the
account's ``verification`` document; an account whose check disagrees is never shown as complete.
Works for any connector.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any

from perpvol_core import timeutil
from perpvol_core.analytics import fee_schedule
from perpvol_core.exchanges import VENUES, Connector, ExchangeError, classify_all, make_connector
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.security.redaction import redact
from perpvol_core.services.verify_advice import advice
from perpvol_core.store.conflicts import meta_key as conflicts_key

log = logging.getLogger(__name__)

#: windows of a cheap check besides the oldest and the newest
CHEAP_EXTRA_WINDOWS = 2
#: a covered range is split in at least this many windows (when it has that many days)
MIN_WINDOWS = 4
#: a window holds at most this share of one page (room for fills that arrive meanwhile)
PAGE_SHARE = 0.8
#: days named in texts; the document keeps every day
DAYS_SHOWN = 5
#: prefix of the account error a disagreeing check sets (cleared by a later check that agrees)
ERROR_PREFIX = "self-check disagreed"

Key = tuple[str, str]


def day_text(ms: int) -> str:
    return timeutil.date_of_ms(ms).isoformat()


@dataclass
class WindowCheck:
    """One window ``[start_ms, end_ms)`` read again: how many fills each side holds and what differs."""

    start_ms: int
    end_ms: int
    exchange_fills: int = 0
    stored_fills: int = 0
    missing: list[Key] = field(default_factory=list)  # listed by the exchange, absent from the store
    extra: list[Key] = field(default_factory=list)  # in the store, not listed by the exchange
    changed: list[Key] = field(default_factory=list)  # same identity, other time/price/size
    days: list[str] = field(default_factory=list)  # UTC days of every difference
    #: the oldest fill time the exchange listed here (None: none), and the time of each extra fill
    oldest_listed_ms: int | None = None
    extra_ts: list[int] = field(default_factory=list)
    #: stored fills older than everything a retention-capped venue still lists (kept, never "not listed")
    unserved: int = 0

    def forget_unserved(self, served_from_ms: int) -> None:
        """Drop the extra fills at or before ``served_from_ms``: a venue that serves only its newest fills
        (a count cap, moving as new fills arrive) cannot list them again, and perpvol keeps what it saw."""
        keep = [(key, ts) for key, ts in zip(self.extra, self.extra_ts, strict=True) if ts > served_from_ms]
        self.unserved += len(self.extra) - len(keep)
        self.extra = [key for key, _ in keep]
        self.extra_ts = [ts for _, ts in keep]
        self.days = sorted({day_text(ts) for ts in self.extra_ts} | self._listed_days)

    _listed_days: set[str] = field(default_factory=set)  # days of the missing and changed fills

    @property
    def agrees(self) -> bool:
        return not (self.missing or self.extra or self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "exchange_fills": self.exchange_fills,
            "stored_fills": self.stored_fills,
            "missing": len(self.missing),
            "extra": len(self.extra),
            "changed": len(self.changed),
            "days": self.days,
        }


@dataclass
class VerifyResult:
    """Outcome of a check. ``ok`` is None when the check could not run (``error`` says why)."""

    label: str
    exchange: str
    full: bool
    ok: bool | None
    checked_ms: int
    covered_from_ms: int | None = None
    covered_to_ms: int | None = None
    windows: list[WindowCheck] = field(default_factory=list)
    windows_total: int = 0
    requests: int = 0
    error: str | None = None
    #: fills an earlier disagreeing check's windows brought when read again before this check
    repaired: int = 0

    @property
    def days(self) -> list[str]:
        """UTC days on which the exchange and the store disagree, sorted."""
        return sorted({d for w in self.windows for d in w.days})

    @property
    def state(self) -> str:
        return "error" if self.ok is None else ("agrees" if self.ok else "disagrees")

    def counts(self) -> dict[str, int]:
        return {
            "missing": sum(len(w.missing) for w in self.windows),
            "extra": sum(len(w.extra) for w in self.windows),
            "changed": sum(len(w.changed) for w in self.windows),
            "exchange_fills": sum(w.exchange_fills for w in self.windows),
            "stored_fills": sum(w.stored_fills for w in self.windows),
        }

    def summary(self) -> str:
        """One line for people: what was checked and what was found."""
        scope = "full check" if self.full else "self-check"
        if self.ok is None:
            return f"{scope} could not run: {self.error}"
        n = len(self.windows)
        c = self.counts()
        if self.ok:
            return (
                f"{scope} agrees: {n} of {self.windows_total} window(s), {c['exchange_fills']} fills read again, "
                "fill for fill"
            )
        days = self.days
        shown = ", ".join(days[:DAYS_SHOWN]) + (f" and {len(days) - DAYS_SHOWN} more" if len(days) > DAYS_SHOWN else "")
        return (
            f"{ERROR_PREFIX} with the exchange on {len(days)} day(s): {shown} "
            f"({c['missing']} fill(s) missing from perpvol, {c['extra']} not listed by the exchange, "
            f"{c['changed']} different); totals of those days are not complete — {advice(c, self.label)}"
        )

    def as_doc(self) -> dict[str, Any]:
        """The account's ``verification`` document (JSON)."""
        return {
            "state": self.state,
            "full": self.full,
            "checked_ms": self.checked_ms,
            "covered_from_ms": self.covered_from_ms,
            "covered_to_ms": self.covered_to_ms,
            "windows_checked": len(self.windows),
            "windows_total": self.windows_total,
            "requests": self.requests,
            "days": self.days,
            "counts": self.counts(),
            "windows": [w.as_dict() for w in self.windows if not w.agrees][:50],
            "summary": self.summary(),
            "error": self.error,
            "repaired": self.repaired,
        }


def pending_doc(now_ms: int) -> dict[str, Any]:
    """The ``verification`` document of a backfill not yet checked."""
    return {"state": "pending", "checked_ms": None, "since_ms": now_ms, "summary": "self-check pending", "days": []}


def coverage_note(doc: dict[str, Any] | None) -> str:
    """What the coverage statement adds for a ``verification`` document ('' when there is none)."""
    if not doc:
        return ""
    state = doc.get("state")
    if state == "agrees":
        return " (self-check agrees)"
    if state == "disagrees":
        days = list(doc.get("days") or [])
        shown = ", ".join(days[:DAYS_SHOWN]) + (" …" if len(days) > DAYS_SHOWN else "")
        return f" — NOT complete: the self-check disagreed with the exchange on {len(days)} day(s) ({shown})"
    if state == "error":
        return " — not yet confirmed: the self-check could not run (it is retried on the next sync)"
    return " — not yet confirmed (self-check pending)"


# --------------------------------------------------------------------------------------------- windows


def _per_page(connector: Connector) -> int:
    """Rows the connector gets per request, from ``min_pages`` (the one page-size fact every connector has)."""
    n = 1
    while n < 1_000_000 and connector.min_pages(n * 2) == 1:
        n *= 2
    lo, hi = n, n * 2  # min_pages(lo) == 1 < min_pages(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if connector.min_pages(mid) == 1 else (lo, mid)
    return lo


def plan_windows(daily_counts: dict[int, int], start_ms: int, end_ms: int, budget: int) -> list[tuple[int, int]]:
    """``[start, end)`` windows covering ``[start_ms, end_ms)``: whole UTC days, each with at most ``budget``
    stored fills (a single busier day is a window of its own), oldest first.

    Bounded for any input: only the days that hold fills are visited (never every day of the range), so the
    work and the number of windows grow with the stored data, not with the range."""
    windows: list[tuple[int, int]] = []
    if end_ms <= start_ms:
        return windows
    budget = max(1, budget)
    first_day = start_ms - start_ms % MS_PER_DAY
    w_start, w_count = start_ms, 0
    for day in sorted(d for d, n in daily_counts.items() if n > 0 and first_day <= d < end_ms):
        n = daily_counts[day]
        if w_count and w_count + n > budget:
            windows.append((w_start, day))
            w_start, w_count = day, 0
        w_count += n
        if w_count > budget and day + MS_PER_DAY < end_ms:  # a day over budget is a window of its own
            windows.append((w_start, day + MS_PER_DAY))
            w_start, w_count = day + MS_PER_DAY, 0
    windows.append((w_start, end_ms))
    return windows


def _daily_counts(store: Any, account_id: int, start_ms: int, end_ms: int) -> dict[int, int]:
    frame = store.rollups_frame(
        start_day_ms=start_ms - start_ms % MS_PER_DAY, end_day_ms=end_ms - end_ms % MS_PER_DAY, account_id=account_id
    )
    counts: dict[int, int] = {}
    for day, fills in zip(frame["day_ms"].to_list(), frame["fills"].to_list(), strict=True):
        counts[int(day)] = counts.get(int(day), 0) + int(fills)
    return counts


def choose(windows: list[tuple[int, int]], full: bool, rng: random.Random) -> list[tuple[int, int]]:
    """Every window (full), or the oldest, the newest and ``CHEAP_EXTRA_WINDOWS`` drawn from the others."""
    if full or len(windows) <= 2 + CHEAP_EXTRA_WINDOWS:
        return list(windows)
    middle = windows[1:-1]
    picked = rng.sample(middle, CHEAP_EXTRA_WINDOWS)
    return [windows[0], *sorted(picked), windows[-1]]


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
    if served_from is not None:  # fills older than what the venue still serves cannot be listed again
        stored = {key: row for key, row in stored.items() if row[0] >= served_from}
    check = WindowCheck(start_ms, end_ms, exchange_fills=len(listed), stored_fills=len(stored))
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
    # the newest minutes are left out: fills may still arrive there (the connector's own overlap)
    end = state.covered_to_ms + 1 - connector.incremental_overlap_ms
    start = state.covered_from_ms
    counts = _daily_counts(store, account.id, start, end)
    # windows fit in one page; a small account is still split (a narrower query than its one-page backfill)
    budget = max(1, min(int(_per_page(connector) * PAGE_SHARE), -(-sum(counts.values()) // MIN_WINDOWS)))
    windows = plan_windows(counts, start, end, budget)
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
        report = {**report, "error": None}
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
