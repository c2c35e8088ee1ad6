"""Every figure a venue reports about an account, set against the same figure computed from our fills.

For each account, the venue's :class:`~perpvol_core.exchanges._figures.FigureSource` (its spec's
``reported_figures``) reads the stored ``exchange_report`` into figures: a day, a window or all time, a
metric (volume, taker, maker) and a scope. Ours is the sum of the account's counted fills over the same
interval (plus its spot fills as many times as the figure's reading says). Each row is then:

* ``agrees``: equal within half the venue's stated rounding (to the cent when it states none);
* ``differs``: by how much, with the causes we can tell: fills not yet synced, days before
  ``complete_from``, subaccounts not added, spot included by the venue, else fills missing on one side;
* ``not_reported``: the venue gives no such figure (or has not been asked yet).

A fork (an undocumented meaning) is settled per account by the reading the most rows agree under (agreeing
rows minus differing ones; ties go to the venue's preferred reading), and the fit is reported.

Public API: :class:`Cause`, :class:`ReconRow`, :class:`ForkFit`, :class:`AccountReconciliation`,
:class:`Reconciliation`, :func:`reconcile`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from itertools import accumulate
from typing import Any, Literal

from pydantic import BaseModel

from perpvol_core import timeutil
from perpvol_core.analytics.rollup_frames import ceil_day
from perpvol_core.exchanges import VENUES, load
from perpvol_core.exchanges._figures import CENT, FigureSource, ReportedFigure

Status = Literal["agrees", "differs", "not_reported"]
CauseCode = Literal["not_synced", "before_complete_from", "subaccounts_not_added", "spot_included",
                    "missing_fills", "extra_fills"]  # fmt: skip


class Cause(BaseModel):
    code: CauseCode
    text: str


class ReconRow(BaseModel):
    """One reported figure beside ours. ``difference`` = theirs − ours (positive: the venue counts more)."""

    label: str
    exchange: str
    key: str
    figure: str
    metric: str
    period: str
    day: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    scope: str = "account"
    source: str = ""
    reading: str = ""
    theirs: Decimal | None = None
    ours: Decimal | None = None
    difference: Decimal | None = None
    status: Status
    causes: list[Cause] = []
    #: the UTC days the difference is in (``YYYY-MM-DD``), where they can be told
    days: list[str] = []
    #: the accounts whose fills make ours (a main account and the subaccounts added, for a group figure)
    accounts: list[str] = []


class ForkFit(BaseModel):
    """Which reading of an undocumented meaning the account's data fits."""

    fork: str
    reading: str
    #: reading -> "n of m agree"
    scores: dict[str, str]
    text: str


class AccountReconciliation(BaseModel):
    label: str
    exchange: str
    venue: str
    status: Status
    fetched_ms: int | None = None
    complete_from: str | None = None
    note: str = ""
    #: the group: the main account's label when this one is its subaccount, and the subaccounts added
    main: str | None = None
    subaccounts: list[str] = []
    #: the venue's ids of subaccounts it lists that perpvol does not hold
    missing_subaccounts: list[str] = []
    rows: list[ReconRow] = []
    fits: list[ForkFit] = []


class Reconciliation(BaseModel):
    generated_ms: int
    agrees: int
    differs: int
    not_reported: int
    accounts: list[AccountReconciliation]

    @property
    def ok(self) -> bool:
        return self.differs == 0


class _Sums:
    """Prefix sums of the accounts' fills by time from the UTC day of ``since_ms`` on (counted and spot notional,
    all / taker / maker), and the same totals of every earlier day from the daily rollups (no full scan)."""

    def __init__(self, store: Any, account_ids: list[int], source: FigureSource, since_ms: int | None) -> None:
        since = None if since_ms is None else since_ms - since_ms % timeutil.MS_PER_DAY
        zero = Decimal(0)
        self.base = {(m, k): zero for m in ("volume", "taker_volume", "maker_volume") for k in ("counted", "spot")}
        rows: list[tuple[int, Decimal, bool, bool, bool]] = []
        for account_id in account_ids:
            if since is not None:  # every day before: from the rollups
                r = store.rollups_frame(end_day_ms=since - timeutil.MS_PER_DAY, account_id=account_id)
                for market, liquidity, counted, notional in zip(r["market"].to_list(), r["liquidity"].to_list(),
                                                                r["counted"].to_list(), r["notional"].to_list(),
                                                                strict=True):  # fmt: skip
                    taker = str(liquidity).upper() == "TAKER"
                    for kind, member in (("counted", bool(counted)), ("spot", source.is_spot(str(market)))):
                        if member:
                            self.base[("volume", kind)] += Decimal(notional)
                            self.base[("taker_volume" if taker else "maker_volume", kind)] += Decimal(notional)
            f = store.fills_frame(start_ms=since, account_id=account_id)
            for ts, notional, counted, market, liquidity in zip(
                f["ts_ms"].to_list(), f["notional"].to_list(), f["counted"].to_list(), f["market"].to_list(),
                f["liquidity"].to_list(), strict=True,
            ):  # fmt: skip
                rows.append((int(ts), Decimal(notional), bool(counted), source.is_spot(str(market)),
                             str(liquidity).upper() == "TAKER"))  # fmt: skip
        rows.sort(key=lambda r: r[0])
        self.ts = [r[0] for r in rows]
        self.prefix: dict[tuple[str, str], list[Decimal]] = {}
        for metric in ("volume", "taker_volume", "maker_volume"):
            for kind in ("counted", "spot"):
                values = [
                    r[1] if (r[2] if kind == "counted" else r[3])
                    and (metric == "volume" or r[4] == (metric == "taker_volume")) else zero
                    for r in rows
                ]
                self.prefix[(metric, kind)] = [zero, *accumulate(values)]

    def total(self, metric: str, kind: str, start: int | None, end: int | None) -> Decimal:
        lo = 0 if start is None else bisect.bisect_left(self.ts, start)
        hi = len(self.ts) if end is None else bisect.bisect_left(self.ts, end)
        p = self.prefix[(metric, kind)]
        within = p[hi] - p[lo] if hi > lo else Decimal(0)
        return within + self.base[(metric, kind)] if start is None else within

    def ours(self, fig: ReportedFigure) -> Decimal:
        counted = self.total(fig.metric, "counted", fig.start_ms, fig.end_ms)
        if fig.spot_factor:
            counted += fig.spot_factor * self.total(fig.metric, "spot", fig.start_ms, fig.end_ms)
        return counted


def _agrees(theirs: Decimal, ours: Decimal, rounding: Decimal | None) -> bool:
    return abs(theirs - ours) <= (rounding or CENT) / 2


def _day(ms: int | None) -> str:
    return timeutil.display_utc(ms, with_time=False) if ms is not None else "—"


def _settle(figs: list[ReportedFigure], sums_of: Callable[[ReportedFigure], _Sums],
            source: FigureSource) -> tuple[list[ReportedFigure], list[ForkFit]]:  # fmt: skip
    """The figures of the reading each fork's data fits best, and how every reading scored."""
    by_fork: dict[str, dict[str, list[ReportedFigure]]] = defaultdict(lambda: defaultdict(list))
    keep = [f for f in figs if not f.fork]
    for f in figs:
        if f.fork:
            by_fork[f.fork][f.reading].append(f)
    fits = []
    for fork, readings in by_fork.items():
        order = list(source.forks.get(fork, ())) + [r for r in readings if r not in source.forks.get(fork, ())]
        scored: dict[str, tuple[int, int, int]] = {}
        for reading in order:
            rows = [f for f in readings.get(reading, []) if f.value is not None]
            good = sum(1 for f in rows if f.value is not None and _agrees(f.value, sums_of(f).ours(f), f.rounding))
            scored[reading] = (good - (len(rows) - good), good, len(rows))
        best = max(order, key=lambda r: (scored[r][0], -order.index(r)))
        keep.extend(readings.get(best, []))
        scores = {r: f"{g} of {n} agree" for r, (_s, g, n) in scored.items() if n}
        others = "; ".join(f"{r}: {s}" for r, s in scores.items() if r != best)
        if scored[best][1] == 0 and scored[best][2]:
            text = f"{fork}: no reading fits the data (" + "; ".join(f"{r}: {s}" for r, s in scores.items()) + ")"
        else:
            text = f"{fork}: the data fits “{best}” ({scores.get(best, 'no figure')})"
            text += f"; {others}" if others else ""
        fits.append(ForkFit(fork=fork, reading=best, scores=scores, text=text))
    return keep, fits


def _causes(fig: ReportedFigure, diff: Decimal, sums: _Sums, state: Any, missing_subs: list[str] | None,
            subs_known: bool) -> list[Cause]:  # fmt: skip
    out: list[Cause] = []
    rounding = fig.rounding or CENT
    spot = sums.total(fig.metric, "spot", fig.start_ms, fig.end_ms)
    for k in (1, 2):
        if spot and abs(diff - k * spot) <= rounding / 2:
            out.append(Cause(code="spot_included", text=f"spot included by the venue: the difference is the "
                             f"spot volume of the same {'interval' if fig.period != 'day' else 'day'}"
                             f"{' counted twice' if k == 2 else ''} ({spot:,.2f})"))  # fmt: skip
    if diff > 0:
        complete_from = state.complete_from_ms
        if complete_from is not None and (fig.start_ms is None or fig.start_ms < complete_from):
            # complete_from is the first whole day of what perpvol read: of its synced window (two years by
            # default) when the venue served everything in it, of the oldest fill served when the venue's own
            # retention cut in first; the two call for different remedies, so the text says which
            window = state.covered_from_ms is not None and complete_from <= ceil_day(state.covered_from_ms)
            why = (f"perpvol synced from {timeutil.display_utc(state.covered_from_ms)} (its window, --days); older "
                   "fills are not read" if window else "the venue no longer serves those fills, so perpvol cannot "
                   "hold them all")
            out.append(Cause(code="before_complete_from", text=f"days before complete_from ({_day(complete_from)}): "
                             + why))  # fmt: skip
        covered = state.covered_to_ms
        if covered is None or covered < fig.end_ms - 1:
            out.append(Cause(code="not_synced", text=f"fills not yet synced: perpvol's synced data ends "
                             f"{timeutil.display_utc(covered) if covered else 'nowhere yet'}; sync again"))  # fmt: skip
        if missing_subs:
            shown = ", ".join(s[:8] + "…" for s in missing_subs[:3])
            out.append(Cause(code="subaccounts_not_added", text=f"subaccounts not added: the venue lists "
                             f"{len(missing_subs)} not in perpvol ({shown}); add their keys"))  # fmt: skip
        elif fig.scope == "account_and_subaccounts" and not subs_known:
            out.append(Cause(code="subaccounts_not_added", text="subaccounts not added? the venue counts the main "
                             "account and all its subaccounts"))  # fmt: skip
    if not out:
        if diff > 0:
            out.append(Cause(code="missing_fills", text="fills not yet synced: the venue counts fills it did not "
                             "list when perpvol synced this range; `perpvol sync`, then `perpvol verify --full`"))
        else:
            out.append(Cause(code="extra_fills", text="perpvol counts fills the venue does not (busted or "
                             "reclassified trades?); `perpvol verify --full` compares every window"))
    return out


def _account(store: Any, account: Any, accounts: list[Any]) -> AccountReconciliation:
    spec = VENUES.get(account.exchange)
    venue = spec.display_name if spec else account.exchange
    state = store.get_sync_state(account.id)
    base: dict[str, Any] = dict(label=account.label, exchange=account.exchange, venue=venue,
                                complete_from=_day(state.complete_from_ms) if state.complete_from_ms else None)
    source: FigureSource | None = load(spec.reported_figures) if spec and spec.reported_figures else None
    report = account.exchange_report or {}
    if source is None or source.not_reported:
        why = source.not_reported if source else f"{venue} reports no volume figure"
        return AccountReconciliation(status="not_reported", note=why, **base)
    if not report.get("figures"):
        why = report.get("error") or f"{venue}'s own figures come with the next sync (not fetched yet)"
        return AccountReconciliation(status="not_reported", note=str(why), **base)
    figs = source.figures(report)
    main, subs = _main_of(account, accounts, source)
    where = _ident(main)[1]  # the venue's ids are scoped by host (a simulator's beside the venue's own)
    same = {_ident(a)[0]: a for a in accounts if a.exchange == account.exchange and a.identity
            and _ident(a)[1] == where}  # fmt: skip
    missing = [s for s in subs if s.lower() not in same] if subs is not None else None
    group = [main, *(same[s.lower()] for s in subs or [] if s.lower() in same and same[s.lower()].id != main.id)]
    # fills are read from the earliest edge a figure needs; whole days before it come from the rollups
    edges = [f.start_ms if f.start_ms is not None else f.end_ms for f in figs]
    since = min(edges) if edges else None
    own = _Sums(store, [account.id], source, since)
    whole = own if [a.id for a in group] == [account.id] else _Sums(store, [a.id for a in group], source, since)

    def sums_of(fig: ReportedFigure) -> _Sums:
        return whole if fig.scope == "account_and_subaccounts" else own

    figs, fits = _settle(figs, sums_of, source)
    rows = []
    for fig in figs:
        sums = sums_of(fig)
        ours = sums.ours(fig)
        counted = [a.label for a in group] if sums is whole else [account.label]
        row = dict(label=account.label, exchange=account.exchange, key=fig.key, figure=fig.label, metric=fig.metric,
                   period=fig.period, day=fig.day, start_ms=fig.start_ms, end_ms=fig.end_ms, scope=fig.scope,
                   source=fig.source, reading=fig.reading, ours=ours, accounts=counted)  # fmt: skip
        if fig.value is None:
            rows.append(ReconRow(status="not_reported", **row))
        elif _agrees(fig.value, ours, fig.rounding):
            rows.append(ReconRow(status="agrees", theirs=fig.value, difference=fig.value - ours, **row))
        else:
            diff = fig.value - ours
            rows.append(ReconRow(status="differs", theirs=fig.value, difference=diff, days=[fig.day] if fig.day else [],
                                 causes=_causes(fig, diff, sums, state, missing, subs is not None), **row))
    bad_days = sorted({r.day for r in rows if r.status == "differs" and r.day})
    for r in rows:
        if r.status == "differs" and not r.day:
            r.days = [d for d in bad_days if _in(d, r.start_ms, r.end_ms)]
            _explain_by_days(r, rows)
    status: Status = "differs" if any(r.status == "differs" for r in rows) else (
        "agrees" if any(r.status == "agrees" for r in rows) else "not_reported")
    note = "" if rows else f"{venue} answered without a readable figure"
    if (err := (report.get("figures") or {}).get("error")) or report.get("error"):
        note = str(err or report.get("error"))
    group_info: dict[str, Any] = dict(main=main.label if main.id != account.id else None,
                                      subaccounts=[a.label for a in group if a.id != main.id],
                                      missing_subaccounts=missing or [])
    return AccountReconciliation(status=status, fetched_ms=report.get("fetched_ms"), note=note, rows=rows,
                                 fits=fits, **group_info, **base)  # fmt: skip


def _explain_by_days(row: ReconRow, rows: list[ReconRow]) -> None:
    """A window whose difference is exactly its differing days' differences takes their causes."""
    days = [r for r in rows if r.status == "differs" and r.day in row.days and r.metric == row.metric]
    if not days or row.difference is None:
        return
    for series in {r.source for r in days}:
        members = [r for r in days if r.source == series]
        if abs(sum((r.difference or Decimal(0) for r in members), Decimal(0)) - row.difference) <= CENT / 2:
            causes = {c.code: c for r in members for c in r.causes}
            row.causes = list(causes.values())
            return


def _ident(account: Any) -> tuple[str, str]:
    """(the venue's id of the account, lower-case; the host it is scoped to, "" for the venue's own)."""
    ident, _, host = str(account.identity or "").partition("@")
    return ident.lower(), host


def _main_of(account: Any, accounts: list[Any], source: FigureSource) -> tuple[Any, list[str] | None]:
    """The main account of ``account``'s group and the subaccounts the venue lists for it: the account itself
    when the venue lists subaccounts of it (or none is known), else the stored account listing it as one."""
    subs = source.subaccounts(account.exchange_report or {})
    if subs or not account.identity:
        return account, subs
    me, where = _ident(account)
    for other in accounts:
        if other.exchange == account.exchange and other.id != account.id and _ident(other)[1] == where:
            theirs = source.subaccounts(other.exchange_report or {}) or []
            if me in {s.lower() for s in theirs}:
                return other, theirs
    return account, subs


def _in(day: str, start: int | None, end: int | None) -> bool:
    day_ms = timeutil.day_ms(date.fromisoformat(day))
    return (start is None or day_ms + timeutil.MS_PER_DAY > start) and (end is None or day_ms < end)


def reconcile(store: Any, label: str | None = None, now_ms: int | None = None) -> Reconciliation:
    """The reconciliation of every account (or of ``label``: raises the store's AccountNotFound)."""
    accounts = store.list_accounts()
    chosen = [store.get_account(label)] if label is not None else accounts
    out = [_account(store, a, accounts) for a in chosen]
    rows = [r for a in out for r in a.rows]
    no_rows = sum(1 for a in out if not a.rows)
    return Reconciliation(
        generated_ms=timeutil.now_ms() if now_ms is None else now_ms,
        agrees=sum(1 for r in rows if r.status == "agrees"),
        differs=sum(1 for r in rows if r.status == "differs"),
        not_reported=sum(1 for r in rows if r.status == "not_reported") + no_rows,
        accounts=out,
    )
