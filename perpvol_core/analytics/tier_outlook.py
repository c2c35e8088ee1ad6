"""What it takes to reach or keep a fee tier, per account, over the venue's own rolling window.

The window on a UTC date ``X`` is the ``W`` UTC days ending with ``X`` (today's part included), ``W`` the
table's window. From an account's counted perp volume per UTC day (the fills perpvol stored):

* **where it stands**: the window's volume today (spot counted ``spot_weight`` times where the venue's table
  says so) and the tier of the venue's table it reaches;
* **the next tier**: the volume still needed (its threshold minus the window's volume), and the first date
  the window reaches it if every day from tomorrow on trades the recent pace (the average of the
  ``PACE_DAYS`` whole UTC days before today) while the oldest days drop out: None when it never does;
* **the date the tier is lost**: the first date after today whose window, with no trade after today, no
  longer reaches the current tier (None for the lowest tier);
* **the fee paid**: fees ÷ volume of the window's maker fills and taker fills apart, in basis points, beside
  the schedule's rates for the tier and the rates the venue reports for the account.

A venue whose tier counts a main account and its subaccounts together (the groups the reconciliation finds,
``analytics.reconcile``) gets the group's volume for the tier of each member (``scope`` names the accounts
counted, ``missing_subaccounts`` the ones the venue lists that perpvol does not hold); the fee paid stays the
account's own.

:func:`project` is the arithmetic on plain day -> volume mappings; :func:`outlook` reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from pydantic import BaseModel

from perpvol_core import timeutil
from perpvol_core.analytics.fee_schedule import BPS, Exact, FeeSchedule, FeeTable, stored
from perpvol_core.exchanges import VENUES
from perpvol_core.fill import MAKER, MS_PER_DAY, TAKER
from perpvol_core.store import USD_ASSETS

PACE_DAYS = 7


class Projection(BaseModel):
    """The arithmetic of one window: where the volume stands, the next tier, the date the tier is lost."""

    volume: Exact
    pace: Exact
    tier: str | None = None
    next_tier: str | None = None
    next_threshold: Exact | None = None
    needed: Exact | None = None
    reach_date: date | None = None
    loss_date: date | None = None


def window_total(daily: Mapping[date, Decimal], end: date, days: int) -> Decimal:
    """Volume of the ``days`` UTC days ending with ``end``."""
    first = end - timedelta(days=days - 1)
    return sum((v for d, v in daily.items() if first <= d <= end), Decimal(0))


def project(daily: Mapping[date, Decimal], today: date, table: FeeTable, pace_days: int = PACE_DAYS) -> Projection:
    """Tier, next tier, reach date and loss date of ``daily`` volumes against ``table`` (see the module)."""
    window = table.window_days
    volume = window_total(daily, today, window)
    pace = window_total(daily, today - timedelta(days=1), pace_days) / pace_days
    out = Projection(volume=volume, pace=pace)
    if not table.tiers:
        return out
    current = table.tier_at(volume)
    out.tier = table.tiers[current].name if current is not None else None
    nxt = 0 if current is None else current + 1
    if nxt < len(table.tiers):
        target = table.tiers[nxt]
        out.next_tier, out.next_threshold = target.name, target.min_volume
        out.needed = max(Decimal(0), target.min_volume - volume)
        future = dict(daily)
        for k in range(1, window + 1):  # after `window` days the window holds only paced days: constant
            future[today + timedelta(days=k)] = pace
            reached = table.tier_at(window_total(future, today + timedelta(days=k), window))
            if reached is not None and reached >= nxt:
                out.reach_date = today + timedelta(days=k)
                break
    if current is not None and (current > 0 or table.tiers[0].min_volume > 0):
        past = {d: v for d, v in daily.items() if d <= today}
        for k in range(1, window + 1):
            held = table.tier_at(window_total(past, today + timedelta(days=k), window))
            if held is None or held < current:
                out.loss_date = today + timedelta(days=k)
                break
    return out


def bps(fees: Decimal, volume: Decimal) -> Decimal | None:
    """``fees / volume`` in basis points (None without volume)."""
    return fees / volume * BPS if volume else None


def _rate_bps(rate: Decimal | None) -> Decimal | None:
    return rate * BPS if rate is not None else None


class FeePaid(BaseModel):
    """Fees ÷ volume of one side (maker or taker) over the window, against the rates it should be.

    ``fees`` are the fees paid in a USD asset; ``effective_bps`` divides them by the volume of those same fills
    (``fee_volume``): a fill whose fee is in another asset (``other_asset_fills``) is left out of both."""

    volume: Exact
    fees: Exact
    fee_volume: Exact
    other_asset_fills: int
    effective_bps: Exact | None
    schedule_bps: Exact | None
    reported_bps: Exact | None


class TierOutlook(BaseModel):
    """One account on its venue: the tables, where it stands, what it takes, what it pays."""

    label: str
    exchange: str
    venue: str
    window_days: int
    window_start: date
    window_end: date
    table: FeeTable | None
    other_tables: list[FeeTable]
    projection: Projection
    reported_tier: str | None
    reported_volume: Exact | None
    maker: FeePaid
    taker: FeePaid
    fetched_ms: int | None
    source: str
    #: the accounts whose volume makes the tier's window (a main account and its subaccounts added)
    scope: list[str]
    #: the venue's ids of subaccounts it counts in the tier that perpvol does not hold
    missing_subaccounts: list[str]
    readings: list[str]
    notes: list[str]
    error: str | None


def _rollups(store: Any, account_id: int, first: date, today: date) -> pl.DataFrame:
    return store.rollups_frame(
        start_day_ms=timeutil.day_ms(first), end_day_ms=timeutil.day_ms(today), account_id=account_id
    )


def _tier_volume(store: Any, members: list[Any], first: date, today: date, spot_weight: Decimal | None
                 ) -> dict[date, Decimal]:
    """Per UTC day, the volume the tier counts: the members' counted perp volume, plus ``spot_weight`` times
    their spot volume (fills of markets that are not perps) where the venue counts spot."""
    daily: dict[date, Decimal] = {}
    for member in members:
        spec = VENUES.get(member.exchange)
        frame = _rollups(store, member.id, first, today)
        for day_ms, notional, counted, market in zip(frame["day_ms"].to_list(), frame["notional"].to_list(),
                                                     frame["counted"].to_list(), frame["market"].to_list(),
                                                     strict=True):  # fmt: skip
            if counted:
                weight = Decimal(1)
            elif spot_weight and spec is not None and not spec.is_perp(str(market)):
                weight = spot_weight
            else:
                continue
            day = timeutil.date_of_ms(int(day_ms))
            daily[day] = daily.get(day, Decimal(0)) + Decimal(notional) * weight
    return daily


def _side(fills: pl.DataFrame, liquidity: str, schedule_rate: Decimal | None, reported: Decimal | None) -> FeePaid:
    volume = fees = fee_volume = Decimal(0)
    other = 0
    part = fills.filter(pl.col("liquidity") == liquidity)
    for notional, fee, asset in zip(part["notional"].to_list(), part["fee"].to_list(), part["fee_asset"].to_list(),
                                    strict=True):  # fmt: skip
        volume += Decimal(notional)
        if str(asset).upper() in USD_ASSETS:
            fees += Decimal(fee)
            fee_volume += Decimal(notional)
        else:
            other += 1
    return FeePaid(volume=volume, fees=fees, fee_volume=fee_volume, other_asset_fills=other,
                   effective_bps=bps(fees, fee_volume), schedule_bps=_rate_bps(schedule_rate),
                   reported_bps=_rate_bps(reported))  # fmt: skip


def account_outlook(store: Any, account: Any, today: date, coverage: Mapping[str, date] | None = None,
                    group: list[Any] | None = None, missing: list[str] | None = None) -> TierOutlook:
    """The outlook of one account (its stored schedule, its stored fills) on ``today``; the tier's volume is
    that of ``group`` (the account and the others counted with it) when given."""
    spec = VENUES.get(account.exchange)
    schedule: FeeSchedule | None = stored(store, account)
    table = schedule.table() if schedule else None
    window = table.window_days if table else 14
    first = today - timedelta(days=max(window, PACE_DAYS + 1) - 1)
    members = group or [account]
    daily = _tier_volume(store, members, first, today, table.spot_weight if table else None)
    empty = FeeTable(kind="", window_days=window, published=False)
    proj = project(daily, today, table or empty)
    start_ms = timeutil.day_ms(today - timedelta(days=window - 1))
    in_window = store.fills_frame(start_ms=start_ms, end_ms=timeutil.day_ms(today) + MS_PER_DAY,
                                  account_id=account.id).filter(pl.col("counted"))  # fmt: skip
    tier_row = None
    if table is not None and table.tiers:
        index = table.tier_at(proj.volume)
        tier_row = table.tiers[index] if index is not None else None
    notes = []
    if schedule is None:
        notes.append("The fee schedule is read from the venue with the next sync.")
    elif schedule.note:
        notes.append(schedule.note)
    start = today - timedelta(days=window - 1)
    if len(members) > 1:
        venue = spec.display_name if spec else account.exchange
        notes.append(f"The tier counts {', '.join(m.label for m in members)} together, as {venue} does.")
    if missing:
        notes.append(f"{len(missing)} subaccount(s) the venue counts in the tier are not in perpvol "
                     f"({', '.join(m[:10] + '…' for m in missing)}): the venue's tier volume is higher.")
    covered = (coverage or {}).get(account.exchange)
    if covered is not None and covered > start:
        notes.append(f"Days before {covered.isoformat()} are not covered: the window's volume may be higher.")
    return TierOutlook(
        label=account.label,
        exchange=account.exchange,
        venue=spec.display_name if spec else account.exchange,
        window_days=window,
        window_start=start,
        window_end=today,
        table=table,
        other_tables=[t for t in (schedule.tables if schedule else []) if t is not table],
        projection=proj,
        reported_tier=schedule.reported_tier if schedule else None,
        reported_volume=schedule.reported_volume if schedule else None,
        maker=_side(in_window, MAKER, tier_row.maker_rate if tier_row else None,
                    schedule.maker_rate if schedule else None),
        taker=_side(in_window, TAKER, tier_row.taker_rate if tier_row else None,
                    schedule.taker_rate if schedule else None),
        fetched_ms=schedule.fetched_ms if schedule else None,
        source=schedule.source if schedule else "",
        scope=[m.label for m in members],
        missing_subaccounts=list(missing or []),
        readings=list(schedule.readings) if schedule else [],
        notes=notes,
        error=schedule.error if schedule else None,
    )  # fmt: skip


def outlook(store: Any, now_ms: int | None = None) -> list[TierOutlook]:
    """Every account's outlook, in the registry's venue order then by label."""
    from perpvol_core.analytics.volume import complete_from

    now_ms = timeutil.now_ms() if now_ms is None else now_ms
    today = timeutil.date_of_ms(now_ms)
    order = list(VENUES)
    accounts = sorted(store.list_accounts(),
                      key=lambda a: (order.index(a.exchange) if a.exchange in order else len(order), a.label))
    coverage = complete_from(store)
    groups, missing = _groups(store, accounts, now_ms)
    return [account_outlook(store, a, today, coverage, groups.get(a.label), missing.get(a.label)) for a in accounts]


def _groups(store: Any, accounts: list[Any], now_ms: int) -> tuple[dict[str, list[Any]], dict[str, list[str]]]:
    """label -> the accounts counted together for its tier (main first), and label -> subaccounts not held."""
    from perpvol_core.analytics.reconcile import reconcile

    by_label = {a.label: a for a in accounts}
    groups: dict[str, list[Any]] = {}
    missing: dict[str, list[str]] = {}
    for rec in reconcile(store, now_ms=now_ms).accounts:
        main = rec.main or rec.label
        if rec.main is None and rec.missing_subaccounts:
            missing[rec.label] = list(rec.missing_subaccounts)
        if rec.subaccounts and main in by_label:
            members = [by_label[main], *(by_label[s] for s in rec.subaccounts if s in by_label)]
            for member in members:
                groups[member.label] = members
    return groups, missing
