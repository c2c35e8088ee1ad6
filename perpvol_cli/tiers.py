"""``perpvol tiers [--json]``: per account, the venue's fee tables, where the account stands over the venue's
own rolling window, what it takes to reach the next tier (and by when at the recent pace), the date the tier
is lost if the trader stops today, and the fee paid in basis points against the schedule's rates.

The figures come from ``perpvol_core.analytics.tier_outlook`` (stored fills and the schedule the last sync
read from the venue); nothing here asks an exchange. ``--json`` prints ``{"accounts": [...]}`` with exact
decimal strings (the API's ``GET /api/v1/tiers`` body).
"""

from __future__ import annotations

import json as json_text
import sys
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

import typer


def _usd(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"


def _bps(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN)}"


def _fee_line(side: str, paid: Any) -> str:
    text = f"{side} {_bps(paid.effective_bps)} bps on {_usd(paid.fee_volume)}"
    if paid.other_asset_fills:
        text += f" (+{paid.other_asset_fills} fills with fees in other assets left out)"
    extra = []
    if paid.schedule_bps is not None:
        extra.append(f"tier's rate {_bps(paid.schedule_bps)}")
    if paid.reported_bps is not None:
        extra.append(f"your reported rate {_bps(paid.reported_bps)}")
    return text + (f" ({', '.join(extra)})" if extra else "")


def lines(o: Any) -> list[str]:
    """The human text of one account's outlook."""
    p = o.projection
    table = o.table
    head = (f"{o.venue} · {o.label} · {o.window_days}-day window {o.window_start.isoformat()} to "
            f"{o.window_end.isoformat()}")  # fmt: skip
    out = [head]
    stand = f"  volume {_usd(p.volume)} · pace {_usd(p.pace)}/day"
    if table is None or not table.published:
        stand += " · tier table not published by the venue" if table is not None else " · fee schedule not read yet"
    else:
        stand += f" · tier {p.tier or 'below the first tier'}"
        if o.reported_tier:
            stand += f" ({o.venue} says {o.reported_tier})"
    out.append(stand)
    if table is not None and table.published:
        if p.next_tier is None:
            out.append("  next: top tier")
        else:
            when = (f"on {p.reach_date.isoformat()} at this pace" if p.reach_date
                    else "not reached at this pace")  # fmt: skip
            out.append(f"  next: {p.next_tier} at {_usd(p.next_threshold)}: {_usd(p.needed)} more, {when}")
        if p.loss_date is not None:
            out.append(f"  if you stop trading today, {p.tier} is lost on {p.loss_date.isoformat()}")
        elif p.tier is not None:
            out.append(f"  {p.tier} is the lowest tier: it cannot be lost")
    out.append("  fee paid: " + _fee_line("taker", o.taker) + " · " + _fee_line("maker", o.maker))
    for t in [t for t in [table] if t is not None and t.published] + list(o.other_tables):
        rungs = ", ".join(
            f"{r.name} {'>' if t.above else '≥'}{_usd(r.min_volume)}"
            f" {_bps(r.taker_rate * 10_000 if r.taker_rate is not None else None)}/"
            f"{_bps(r.maker_rate * 10_000 if r.maker_rate is not None else None)} bps"
            for r in t.tiers
        )
        out.append(f"  {t.kind} table (taker/maker): {rungs}")
    out.extend(f"  note: {n}" for n in o.notes)
    if o.error:
        out.append(f"  error: {o.error}")
    return out


def cmd_tiers(*, json: bool = False) -> int:
    """Print every account's tier outlook."""
    from perpvol_core.analytics.tier_outlook import outlook
    from perpvol_core.config import Settings
    from perpvol_core.store import Store
    from perpvol_core.store.existing import no_data_text, open_existing

    settings = Settings.from_env()
    store = open_existing(settings)
    if store is None:
        print(f"perpvol: {no_data_text(settings)}", file=sys.stderr)
        store = Store("sqlite://")
    try:
        accounts = outlook(store)
    finally:
        store.close()
    if json:
        print(json_text.dumps({"accounts": [a.model_dump(mode="json") for a in accounts]}))
        return 0
    if not accounts:
        print("no accounts yet: add one with `perpvol keys add EXCHANGE --label L …`")
    for i, account in enumerate(accounts):
        if i:
            print()
        print("\n".join(lines(account)))
    return 0


def register(app: typer.Typer, finish: Callable[[Callable[[], int | None]], Any]) -> None:
    """Add ``perpvol tiers`` to the command line."""

    @app.command("tiers", help="Fee tiers: where each account stands, what it takes, the fee paid in bps.")
    def _tiers(json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False) -> None:
        finish(lambda: cmd_tiers(json=json))
