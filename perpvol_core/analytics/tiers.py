"""The exchange's own window volume of one account beside ours (the 14-day figure a venue reports for its fee
tier), and the venue's tier table as its report carries it.

Each venue's spec names its tier source (``tier_source``: plain data). A ``reported`` source is a venue that
publishes each account's own trailing volume, which the sync stores as the account's ``exchange_report``
document: :func:`reconcile` compares the exchange's figure with ours over the same window and with the same
counting rules (design.md: counted perp fills), and names the likely cause of a difference: the window
boundary, fill types counted on one side only, or fills not yet synced. Fee tiers themselves (tables, the next
tier, the tier-loss date, the fee paid) are ``fee_schedule`` and ``tier_outlook``.

Public API: :class:`TierTable`, :class:`Reconciliation`, :func:`table_from_report`, :func:`reconcile`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from perpvol_core import timeutil
from perpvol_core.exchanges import VENUES, load
from perpvol_core.fill import MS_PER_DAY


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
    """Tiers of one exchange (and kind) over a rolling window, ascending, as an ``exchange_report`` carries them."""

    exchange: str
    kind: str
    window_ms: int
    tiers: tuple[Tier, ...]
    source: str

    @property
    def window_days(self) -> int:
        return max(1, round(self.window_ms / MS_PER_DAY))


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


# --------------------------------------------------------------------------------------------- reconciling


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
