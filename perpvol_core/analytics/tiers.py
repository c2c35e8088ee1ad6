"""Fee tiers and the exchange's own volume figure: where each account stands, and whether we agree.

Each venue's spec names its tier source (``tier_source``: plain data). A ``reported`` source is a venue that
publishes its tier table and each account's own trailing volume, which the sync stores as the account's
``exchange_report`` document: :func:`reconcile` compares the exchange's figure with ours over the same
window and with the same counting rules (design.md: counted perp fills), and names the likely cause of a
difference: the window boundary, fill types counted on one side only, or fills not yet synced. An
``indicative`` source has thresholds only (the venue publishes no figure): nothing to reconcile.

Public API: :class:`TierTable`, :class:`TierProgress`, :class:`Reconciliation`, :func:`table_from_report`,
:func:`tier_progress`, :func:`reconcile`, :func:`compute`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from perpvol_core import timeutil
from perpvol_core.exchanges import VENUES, load
from perpvol_core.fill import MS_PER_DAY

PACE_DAYS = 7
NAMES = {name: spec.display_name for name, spec in VENUES.items()}


def tier_source(exchange: str) -> dict[str, Any] | None:
    """The venue's tier source (its spec's ``tier_source``), or None when it has none."""
    spec = VENUES.get(exchange)
    if spec is None or spec.tier_source is None:
        return None
    source: dict[str, Any] = load(spec.tier_source)()
    return source


@dataclass(frozen=True)
class Tier:
    name: str
    min_volume: Decimal
    nft_min_volume: Decimal = Decimal(0)
    fee_rates: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class TierTable:
    """Tiers of one exchange (and kind) over a rolling window, ascending. ``source``: reported | indicative."""

    exchange: str
    kind: str
    window_ms: int
    tiers: tuple[Tier, ...]
    source: str

    @property
    def window_days(self) -> int:
        return max(1, round(self.window_ms / MS_PER_DAY))


def indicative_table(exchange: str) -> TierTable | None:
    """The venue's indicative thresholds (a venue that publishes no tier table), or None."""
    source = tier_source(exchange)
    if not source or source.get("source") != "indicative":
        return None
    tiers = tuple(Tier(str(name), Decimal(str(volume))) for name, volume in source["tiers"])
    return TierTable(exchange, str(source["kind"]), int(source["window_days"]) * MS_PER_DAY, tiers, "indicative")


def _dec(value: Any, default: str = "0") -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else default))
    except ArithmeticError:
        return Decimal(default)


def table_from_report(report: dict[str, Any] | None, kind: str | None = None, exchange: str = "") -> TierTable | None:
    """The tier table of an ``exchange_report`` (for ``kind``, default: the account's reported kind, else
    ``retail``); None when the report has no tiers."""
    if not report or not report.get("tiers"):
        return None
    rows = list(report["tiers"])
    kinds = [str(r.get("kind")) for r in rows]
    if kind is None:
        reported = list((report.get("volume") or {}).keys())
        kind = next((k for k in reported if k in kinds), "retail" if "retail" in kinds else kinds[0])
    rows = [r for r in rows if str(r.get("kind")) == kind]
    if not rows:
        return None
    rows.sort(key=lambda r: (int(r.get("sort_order") or 0), _dec(r.get("min_volume"))))
    tiers = tuple(
        Tier(
            str(r.get("tier_name")),
            _dec(r.get("min_volume")),
            _dec(r.get("nft_min_volume")),
            {str(k): _dec(v) for k, v in (r.get("fee_rates") or {}).items()},
        )
        for r in rows
    )
    window = int(rows[0].get("duration_ms") or 14 * MS_PER_DAY)
    return TierTable(str(report.get("exchange") or exchange), kind, window, tiers, "reported")


# --------------------------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class Reconciliation:
    """The exchange's own trailing volume of one account beside ours over the same window.

    ``status``: ``match`` (equal to the exchange's precision), ``explained`` (a cause accounts for the
    whole difference), ``differs`` (no cause found), ``unavailable`` (no usable figure; ``causes`` says why).
    """

    label: str
    exchange: str
    kind: str
    status: str
    theirs: Decimal | None = None
    ours: Decimal | None = None
    tier: str = ""
    start_ms: int | None = None
    end_ms: int | None = None
    fetched_ms: int | None = None
    causes: tuple[str, ...] = ()

    @property
    def difference(self) -> Decimal | None:
        """Theirs minus ours (positive: the exchange counts more)."""
        if self.theirs is None or self.ours is None:
            return None
        return self.theirs - self.ours


@dataclass(frozen=True)
class TierProgress:
    exchange: str
    window_days: int
    volume: Decimal  # counted volume over the tier window
    pace: Decimal  # average daily volume of the last PACE_DAYS days
    tier: str
    next_tier: str | None
    next_threshold: Decimal | None
    days_to_next: int | None  # None: top tier, or the current pace never gets there
    source: str = "indicative"  # where the thresholds come from: reported | indicative | none
    reported: tuple[Reconciliation, ...] = ()
    note: str = ""

    @property
    def fraction(self) -> float:
        """Share of the way from 0 to the next threshold (drawing only)."""
        if not self.next_threshold:
            return 1.0
        return float(min(Decimal(1), self.volume / self.next_threshold))


def tier_progress(exchange: str, volume: Decimal, pace: Decimal, table: TierTable | None) -> TierProgress:
    """Where ``volume`` (over the tier window) sits in ``table``, and when the next tier comes at ``pace``/day.

    Over a rolling window of W days, trading ``pace`` a day while the oldest days (assumed average,
    ``volume / W``) drop out moves the window total by ``pace - volume / W`` per day. Without a table the
    tier is unknown (``"—"``).
    """
    if table is None or not table.tiers:
        return TierProgress(exchange, 14, volume, pace, "—", None, None, None, source="none")
    window = table.window_days
    current = table.tiers[0].name
    nxt: Tier | None = None
    for tier in table.tiers:
        if volume >= tier.min_volume:
            current = tier.name
        else:
            nxt = tier
            break
    days: int | None = None
    if nxt is not None:
        gain = pace - volume / Decimal(window)
        if gain > 0:
            d = math.ceil((nxt.min_volume - volume) / gain)
            days = d if d <= window else None
    return TierProgress(
        exchange, window, volume, pace, current, nxt.name if nxt else None, nxt.min_volume if nxt else None, days,
        source=table.source,
    )


# --------------------------------------------------------------------------------------------- reconciling


def _quantize_like(value: Decimal, like: Decimal) -> Decimal:
    exponent = like.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0:
        return value.quantize(Decimal(1))
    return value.quantize(Decimal(1).scaleb(exponent))


def _equal(theirs: Decimal, ours: Decimal) -> bool:
    """Equal to the precision the exchange reported (it may round; we never do)."""
    return _quantize_like(ours, theirs) == theirs


def _perp_fills(store: Any, account_id: int, start_ms: int, end_ms: int) -> list[tuple[int, str, Decimal]]:
    """(ts_ms, fill_type, notional) of the account's perp fills in ``[start_ms, end_ms)``."""
    frame = store.fills_frame(start_ms=start_ms, end_ms=end_ms, account_id=account_id)
    return [
        (int(ts), str(ft), Decimal(n))
        for ts, ft, n, perp in zip(
            frame["ts_ms"].to_list(), frame["fill_type"].to_list(), frame["notional"].to_list(),
            frame["is_perp"].to_list(), strict=True,
        )
        if perp
    ]


def _sum(fills: list[tuple[int, str, Decimal]], start: int, end: int, types: frozenset[str]) -> Decimal:
    return sum((n for ts, ft, n in fills if start <= ts < end and ft in types), Decimal(0))


def _utc(ms: int) -> str:
    return timeutil.display_utc(ms)


def reconcile(store: Any, account: Any) -> Reconciliation | None:
    """Compare the account's ``exchange_report`` with our counted volume over the same window.

    None for a venue that publishes no such figure. Never raises for a malformed report: it is
    ``unavailable`` with the reason.
    """
    source = tier_source(account.exchange)
    if not source or source.get("source") != "reported":
        return None
    report = account.exchange_report
    label = account.label
    if not report or not report.get("volume"):
        why = (report or {}).get("error") or source["not_fetched"]
        return Reconciliation(label, account.exchange, "", "unavailable", causes=(str(why),))
    table = table_from_report(report, exchange=account.exchange)
    kind = table.kind if table else next(iter(report["volume"]))
    entry = report["volume"].get(kind) or next(iter(report["volume"].values()))
    theirs = _dec(entry.get("volume"))
    window = table.window_ms if table else int(source["window_days"]) * MS_PER_DAY
    fetched_to = int(report.get("fetched_ms") or 0)
    fetched_from = int(report.get("fetched_from_ms") or fetched_to)
    end = fetched_to + 1
    start = end - window
    # fills around both ends of the window are read, for the boundary readings below
    margin = MS_PER_DAY + (fetched_to - fetched_from)
    fills = _perp_fills(store, account.id, start - margin, end + margin)
    counted = frozenset(source["counted_fill_types"])
    ours = _sum(fills, start, end, counted)
    base = dict(label=label, exchange=account.exchange, kind=kind, theirs=theirs, ours=ours, tier=str(
        entry.get("tier") or ""), start_ms=start, end_ms=end, fetched_ms=fetched_to)
    if _equal(theirs, ours):
        return Reconciliation(status="match", **base)
    diff = theirs - ours
    causes: list[str] = []
    # 1. the window boundary: other readings of "the last 14 days" that give exactly their figure
    day_start = end - 1 - (end - 1) % MS_PER_DAY - (window // MS_PER_DAY - 1) * MS_PER_DAY
    readings = {
        "the last whole UTC days (today included)": (day_start, end),
        "a window ending when the request was sent": (fetched_from + 1 - window, fetched_from + 1),
    }
    for text, (ws, we) in readings.items():
        if _equal(theirs, _sum(fills, ws, we, counted)):
            causes.append(f"window boundary: the exchange's figure equals ours over {text} ({_utc(ws)} to {_utc(we)})")
    # 2. fill types counted on one side only
    present = sorted({ft for ts, ft, _n in fills if start <= ts < end})
    uncounted = [t for t in present if t not in counted]
    counted_present = [t for t in present if t in counted]
    for r in range(1, len(uncounted) + 1):
        for extra in itertools.combinations(uncounted, r):
            if _equal(theirs, _sum(fills, start, end, counted | frozenset(extra))):
                causes.append(f"uncounted fill types: the exchange also counts {', '.join(extra)} fills "
                              "(perpvol does not, design.md)")
    for r in range(1, len(counted_present) + 1):
        for left_out in itertools.combinations(counted_present, r):
            if _equal(theirs, _sum(fills, start, end, counted - frozenset(left_out))):
                causes.append(f"fill types: the exchange does not count {', '.join(left_out)} fills")
    if causes:
        return Reconciliation(status="explained", causes=tuple(causes), **base)
    # 3. no exact explanation: what is likely
    state = store.get_sync_state(account.id)
    if diff > 0:
        if state.covered_to_ms is None or state.covered_to_ms < fetched_from:
            causes.append(f"fills not yet synced: perpvol's data ends at {_utc(state.covered_to_ms or 0)}")
        causes.extend(source.get("causes_when_more", ()))
        if uncounted:
            causes.append(f"fill types counted by the exchange only (present here: {', '.join(uncounted)})")
        causes.append("fills missing from perpvol: `perpvol verify` reads every window again")
    else:
        causes.append("perpvol counts fills the exchange does not (busted trades, other fill types?); "
                      "`perpvol verify` compares every window with the exchange")
    return Reconciliation(status="differs", causes=tuple(causes), **base)


# --------------------------------------------------------------------------------------------- the panel


def compute(store: Any, now_ms: int | None = None) -> list[TierProgress]:
    """Tier progress per venue with a tier source: a ``reported`` source against the newest table any of its
    accounts reported, with every account's reconciliation; an ``indicative`` one against its thresholds,
    saying the venue publishes no figure. Reported sources first, then the registry's order."""
    from perpvol_core.analytics import volume as vol

    now_ms = timeutil.now_ms() if now_ms is None else now_ms
    accounts = store.list_accounts()
    sources = {name: src for name in VENUES if (src := tier_source(name)) is not None}
    order = sorted(sources, key=lambda name: sources[name].get("source") != "reported")
    out = []
    for exchange in order:
        source = sources[exchange]
        mine = [a for a in accounts if a.exchange == exchange]
        if source.get("source") == "reported":
            reports = sorted(
                (a.exchange_report for a in mine if a.exchange_report and a.exchange_report.get("tiers")),
                key=lambda r: int(r.get("fetched_ms") or 0),
            )
            table = table_from_report(reports[-1], exchange=exchange) if reports else None
        else:
            table = indicative_table(exchange)
        window_ms = table.window_ms if table else int(source.get("window_days") or 14) * MS_PER_DAY
        in_window = vol.window_volume(store, now_ms - window_ms, now_ms, exchange)
        recent = vol.window_volume(store, now_ms - PACE_DAYS * MS_PER_DAY, now_ms, exchange)
        p = tier_progress(exchange, Decimal(in_window), Decimal(recent) / PACE_DAYS, table)
        if source.get("source") == "reported":
            recs = tuple(r for r in (reconcile(store, a) for a in mine) if r is not None)
            p = replace(p, reported=recs, note="" if table else str(source.get("missing_note") or ""))
        else:
            p = replace(p, note=str(source.get("note") or ""))
        out.append(p)
    return out
