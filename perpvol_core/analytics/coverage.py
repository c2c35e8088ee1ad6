"""What the stored history covers, per venue and account, and what each surface must say about it.

A venue may serve only part of an account's history (a retention cap): the sync then records the account's
``complete_from``, the first UTC day from which its stored history is complete. Every figure over a range
that starts before a venue's ``complete_from`` is only a lower bound of what was traded there: surfaces
show such a figure as "≥ $X" with "partial: <venue> not covered before <day>", and a day before it as not
covered, never as zero. A venue's own all-time perp volume (an account's ``exchange_report`` carries it as
``perp_all_time_volume``, a decimal string, when the venue reports one) is shown beside ours.

The rules (one place, every surface reads them):

* a venue's ``complete_from`` is the latest of its synced accounts' (``volume.complete_from``); a venue
  with an account that never synced is not covered at all ("not synced yet");
* "all time" is everything the syncs read: a venue is partial over all time when one of its accounts has a
  ``complete_from`` later than the first whole day its sync read (the venue served less than was read, as
  the sync's coverage statement says); ``history_start`` is the first whole day any sync read;
* an account synced before ``complete_from`` was recorded is complete from the first whole day it read;
* a range ``start``..``end`` is partial for a venue when ``start`` is before its ``complete_from``, and not
  covered at all for it when ``end`` is before it too. Venues without an account take no part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from perpvol_core import timeutil
from perpvol_core.exchanges import VENUES, display_name
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.money import canonical_decimal
from perpvol_core.store import read_cache, rollup_reads

#: the key of an ``exchange_report`` holding the venue's own all-time perp volume of the account
REPORTED_ALL_TIME = "perp_all_time_volume"
#: rolling windows of ``volume.summary`` and their length in days ("all" starts at ``history_start``)
WINDOW_DAYS: dict[str, int] = {"24h": 1, "7d": 7, "30d": 30}


@dataclass(frozen=True)
class AccountCoverage:
    """One account: its complete range and its all-time volume, ours and the venue's own."""

    label: str
    exchange: str
    #: first UTC day from which the stored history is complete (None: not synced yet)
    complete_from: date | None
    #: first whole UTC day the sync read (None: not synced yet)
    read_from: date | None
    #: counted perp volume stored for the account (all of it, complete or not)
    ours_all_time: Decimal
    #: the venue's own all-time perp volume of the account, when it reports one
    reported_all_time: Decimal | None = None
    reported_ms: int | None = None

    @property
    def partial(self) -> bool:
        """True when the venue served less than the sync read (or nothing was synced yet)."""
        return self.complete_from is None or (self.read_from is not None and self.complete_from > self.read_from)


@dataclass(frozen=True)
class VenueCoverage:
    """A venue with at least one account."""

    exchange: str
    display_name: str
    #: the latest ``complete_from`` of its synced accounts (None: none synced yet)
    complete_from: date | None
    accounts: tuple[AccountCoverage, ...]

    @property
    def pending(self) -> tuple[str, ...]:
        """Labels of its accounts that never synced."""
        return tuple(a.label for a in self.accounts if a.complete_from is None)

    @property
    def ours_all_time(self) -> Decimal:
        return sum((a.ours_all_time for a in self.accounts), Decimal(0))

    @property
    def reported_ms(self) -> int | None:
        """When the oldest of its accounts' reported figures was fetched (None: not every account reports)."""
        times = [a.reported_ms for a in self.accounts]
        return None if not times or any(t is None for t in times) else min(t for t in times if t is not None)

    @property
    def reported_all_time(self) -> Decimal | None:
        """The venue's own all-time figure summed over its accounts; None unless every account reports one."""
        figures = [a.reported_all_time for a in self.accounts]
        if not figures or any(f is None for f in figures):
            return None
        return sum((f for f in figures if f is not None), Decimal(0))


@dataclass(frozen=True)
class Gap:
    """A venue that a range's figures do not fully cover."""

    exchange: str
    display_name: str
    #: the first covered day (None: the venue's accounts are not synced yet)
    before: date | None
    #: True when no day of the range is covered for the venue
    whole: bool

    def text(self) -> str:
        if self.before is None:
            return f"{self.display_name} not synced yet"
        if self.whole:
            return f"{self.display_name} not covered in this range (complete from {self.before.isoformat()})"
        return f"{self.display_name} not covered before {self.before.isoformat()}"


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None


def _ceil_day(ms: int) -> date:
    return timeutil.date_of_ms(-(-ms // MS_PER_DAY) * MS_PER_DAY)


def _ours_by_account(store: Any) -> dict[int, Decimal]:
    """Counted perp volume per account id; one read per data version (the store's read cache), shared."""
    if rollup_reads.supported(store):  # the per-day totals
        return dict(read_cache.versioned(store, "ours_by_account", (),
                                         lambda: tuple(rollup_reads.all_time_by_account(store).items())))
    return dict(read_cache.versioned(store, "ours_by_account", (), lambda: _ours_from_rollups(store)))


def _ours_from_rollups(store: Any) -> tuple[tuple[int, Decimal], ...]:
    rollups = store.rollups_frame().filter(pl.col("counted"))
    if rollups.is_empty():
        return ()
    grouped = rollups.group_by("account_id").agg(pl.col("notional").sum())
    return tuple((int(acc), Decimal(total)) for acc, total in grouped.iter_rows())


def venue_coverage(store: Any, exchange: str | None = None) -> dict[str, VenueCoverage]:
    """Every venue with an account (only ``exchange`` when given), in the registry's order."""
    ours = _ours_by_account(store)
    per: dict[str, list[AccountCoverage]] = {}
    for acc in store.list_accounts():
        state = store.get_sync_state(acc.id)
        read_from = None if state.covered_from_ms is None else _ceil_day(state.covered_from_ms)
        complete = read_from if state.complete_from_ms is None else timeutil.date_of_ms(state.complete_from_ms)
        read_from = read_from or complete
        report = acc.exchange_report if isinstance(acc.exchange_report, dict) else {}
        reported = _decimal(report.get(REPORTED_ALL_TIME))
        fetched = report.get("fetched_ms") if reported is not None else None
        per.setdefault(acc.exchange, []).append(AccountCoverage(
            acc.label, acc.exchange, complete, read_from, ours.get(acc.id, Decimal(0)), reported,
            int(fetched) if isinstance(fetched, int) else None,
        ))  # fmt: skip
    out: dict[str, VenueCoverage] = {}
    for name in [*VENUES, *sorted(set(per) - set(VENUES))]:
        accounts = per.get(name)
        if not accounts or exchange not in (None, name):
            continue
        days = [a.complete_from for a in accounts if a.complete_from is not None]
        out[name] = VenueCoverage(name, display_name(name), max(days) if days else None, tuple(accounts))
    return out


def history_start(coverage: dict[str, VenueCoverage]) -> date | None:
    """The first day of "all time": the earliest whole day any account's sync read (None: nothing synced)."""
    days = [a.read_from for v in coverage.values() for a in v.accounts if a.read_from is not None]
    return min(days) if days else None


def gaps(coverage: dict[str, VenueCoverage], start: date | None, end: date | None = None) -> list[Gap]:
    """The venues that do not cover ``start``..``end`` (inclusive; ``start`` None: all time)."""
    out = []
    for v in coverage.values():
        if v.pending or v.complete_from is None:
            out.append(Gap(v.exchange, v.display_name, None, True))
        elif start is None and any(a.partial for a in v.accounts):
            out.append(Gap(v.exchange, v.display_name, v.complete_from, False))
        elif start is not None and start < v.complete_from:
            out.append(Gap(v.exchange, v.display_name, v.complete_from, end is not None and end < v.complete_from))
    return out


def partial_note(found: list[Gap]) -> str:
    """``"partial: <venue display name> not covered before 2026-10-03"`` ('' when nothing is missing)."""
    return "partial: " + "; ".join(g.text() for g in found) if found else ""


def window_start(period: str, now_ms: int) -> date | None:
    """First UTC day touched by a rolling window ending at ``now_ms`` (None for "all")."""
    days = WINDOW_DAYS.get(period)
    return None if days is None else timeutil.date_of_ms(now_ms + 1 - days * MS_PER_DAY)


def summary_gaps(coverage: dict[str, VenueCoverage], now_ms: int) -> dict[str, list[Gap]]:
    """Per period of ``volume.summary`` ("24h", "7d", "30d", "all"), the venues it does not fully cover."""
    return {p: gaps(coverage, window_start(p, now_ms)) for p in (*WINDOW_DAYS, "all")}


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else canonical_decimal(value)


def coverage_json(coverage: dict[str, VenueCoverage], now_ms: int, start: date | None = None,
                  end: date | None = None, ranged: bool = False) -> dict[str, Any]:  # fmt: skip
    """The ``coverage`` object of the API and ``perpvol volume --json``.

    ``{"history_start": day, "partial": {period: bool}, "note": {period: text}, "range": {...} (ranged only),
    "venues": {exchange: {display_name, complete_from, partial: {period: bool}, ours_all_time,
    reported_all_time, reported_at, accounts: [{label, complete_from, read_from, partial, ours_all_time,
    reported_all_time, reported_at}]}}}``: days are ``YYYY-MM-DD``, money decimal strings, a venue's
    ``partial`` period True when its figure for that period is only a lower bound.
    """
    periods = summary_gaps(coverage, now_ms)
    venues: dict[str, Any] = {}
    for exch, v in coverage.items():
        venues[exch] = {
            "display_name": v.display_name,
            "complete_from": _iso(v.complete_from),
            "partial": {p: any(g.exchange == exch for g in found) for p, found in periods.items()},
            "ours_all_time": _money(v.ours_all_time),
            "reported_all_time": _money(v.reported_all_time),
            "reported_at": None if v.reported_ms is None else timeutil.iso_utc(v.reported_ms),
            "accounts": [
                {"label": a.label, "complete_from": _iso(a.complete_from), "read_from": _iso(a.read_from),
                 "partial": a.partial, "ours_all_time": _money(a.ours_all_time),
                 "reported_all_time": _money(a.reported_all_time),
                 "reported_at": None if a.reported_ms is None else timeutil.iso_utc(a.reported_ms)}
                for a in v.accounts
            ],
        }  # fmt: skip
    out: dict[str, Any] = {
        "history_start": _iso(history_start(coverage)),
        "partial": {p: bool(found) for p, found in periods.items()},
        "note": {p: partial_note(found) for p, found in periods.items()},
        "venues": venues,
    }
    if ranged:
        found = gaps(coverage, start, end)
        out["range"] = {"partial": bool(found), "note": partial_note(found),
                        "not_covered": {g.exchange: _iso(g.before) for g in found}}  # fmt: skip
    return out
