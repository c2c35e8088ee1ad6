"""``perpvol reconcile [--label L] [--json]``: every figure the venues report, beside ours.

Exit 0 when nothing differs, 1 when a figure differs (or the account is unknown). The JSON is the
:class:`~perpvol_core.analytics.reconcile.Reconciliation` model (money as exact decimal strings).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # the command's module is imported with the CLI; the analytics only when it runs
    from perpvol_core.analytics.reconcile import AccountReconciliation, Reconciliation, ReconRow

MARK = {"agrees": "ok ", "differs": "DIFF", "not_reported": " -- "}


def _usd(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"


def _row(r: ReconRow) -> list[str]:
    line = f"  {MARK[r.status]}  {r.figure:<44} venue {_usd(r.theirs):>18}  ours {_usd(r.ours):>18}"
    if len(r.accounts) > 1:
        line += f"  (ours: {' + '.join(r.accounts)})"
    if r.status == "differs":
        line += f"  diff {_usd(r.difference)}"
    lines = [line]
    if r.status == "differs":
        if r.days and not r.day:
            lines.append(f"        days: {', '.join(r.days)}")
        lines.extend(f"        cause: {c.text}" for c in r.causes)
    return lines


def account_lines(a: AccountReconciliation) -> list[str]:
    """One account as text: its status, the reading each fork fits, then its figures (agreeing day figures of a
    series summed up in one line, every other figure on its own)."""
    lines = [f"{a.label} ({a.venue}): {a.status.replace('_', ' ')}"]
    if a.main:
        lines.append(f"  subaccount of {a.main}")
    if a.subaccounts:
        lines.append(f"  subaccounts added: {', '.join(a.subaccounts)}")
    if a.missing_subaccounts:
        lines.append(f"  subaccounts the venue lists, not added: {', '.join(a.missing_subaccounts)}")
    if a.note:
        lines.append(f"  {a.note}")
    lines.extend(f"  reading: {fit.text}" for fit in a.fits)
    groups: dict[tuple[str, str], list[ReconRow]] = {}
    for r in a.rows:
        groups.setdefault((r.source, r.metric) if r.day else (r.key, ""), []).append(r)
    for rows in groups.values():
        agreeing = [r for r in rows if r.status == "agrees" and r.day]
        if len(agreeing) > 1:
            days = sorted(r.day or "" for r in agreeing)
            name = agreeing[0].figure.rsplit(",", 1)[0]
            lines.append(f"  {MARK['agrees']}  {name}: {len(agreeing)} days agree ({days[0]} … {days[-1]})")
            rows = [r for r in rows if r not in agreeing]
        for r in rows:
            lines.extend(_row(r))
    return lines


def text(rec: Reconciliation) -> str:
    out = []
    for a in rec.accounts:
        out.extend(account_lines(a))
        out.append("")
    out.append(f"{rec.agrees} agree, {rec.differs} differ, {rec.not_reported} not reported")
    return "\n".join(out)


def cmd_reconcile(*, label: str | None = None, json: bool = False) -> int:
    from perpvol_core.analytics.reconcile import reconcile
    from perpvol_core.config import Settings
    from perpvol_core.store import AccountNotFound, Store
    from perpvol_core.store.existing import no_data_text, open_existing

    settings = Settings.from_env()
    store = open_existing(settings)
    if store is None:
        print(f"perpvol: {no_data_text(settings)}", file=sys.stderr)
        store = Store("sqlite://")
    try:
        rec = reconcile(store, label=label)
    except AccountNotFound as exc:
        print(f"perpvol: error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(rec.model_dump_json() if json else text(rec))
    return 0 if rec.ok else 1


def register(app: typer.Typer, finish: Callable[[Callable[[], int | None]], Any]) -> None:
    """Add ``perpvol reconcile`` to the command tree (one line in ``perpvol_cli.main``)."""

    @app.command("reconcile", help="Set every figure the exchanges report beside ours (exit 1 when one differs).")
    def _reconcile(
        label: Annotated[str | None, typer.Option("--label", help="Only this account (default: all).")] = None,
        json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        finish(lambda: cmd_reconcile(label=label, json=json))
