"""``perpvol volume`` (totals, daily series, the JSON contract) and ``perpvol export`` (fills to CSV/Parquet)."""

from __future__ import annotations

import csv
import json as json_text
import os
import stat
import sys
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import polars as pl

from perpvol_core import bounds, timeutil
from perpvol_core.analytics import coverage, volume
from perpvol_core.config import Settings
from perpvol_core.exchanges import display_name
from perpvol_core.store import Store, canonical_decimal
from perpvol_core.store.existing import no_data_text, open_existing

EXIT_USAGE = 2
_MONEY_COLUMNS = ("price", "size", "notional", "fee")
EXPORT_COLUMNS = (
    "account", "exchange", "fill_id", "fill_type", "market", "side", "liquidity", "price", "size", "notional",
    "fee", "fee_asset", "ts_ms", "time_utc", "is_perp", "counted",
)  # fmt: skip


def _usd(value: str) -> str:
    """Human display only (JSON stays exact): thousands separators, cents."""
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = (cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        print("  ".join(cells))


def _bound(value: str, partial: bool) -> str:
    """A figure that is only a lower bound (a venue does not cover the whole period) reads "≥ 1,234.00"."""
    return f"≥ {_usd(value)}" if partial else _usd(value)


def _print_human(report: dict, exchange: str | None) -> None:
    periods = volume.PERIODS
    cov = report.get("coverage") or {}
    venues = cov.get("venues") or {}
    rows: list[tuple[str, ...]] = [("perp volume (USD)", *periods)]
    for exch in [exchange] if exchange else list(report["by_exchange"]):
        partial = (venues.get(exch) or {}).get("partial") or {}
        rows.append((exch, *(_bound(report["by_exchange"][exch][p], bool(partial.get(p))) for p in periods)))
    if not exchange:
        partial = cov.get("partial") or {}
        rows.append(("total", *(_bound(report["totals"][p], bool(partial.get(p))) for p in periods)))
    _print_table(rows)
    _print_coverage(cov, exchange)
    if "range" in report:
        _print_range(report["range"], cov.get("range") or {})
    if "daily" in report:
        print()
        if not report["daily"]:
            print("no fills in this range")
            return
        daily: list[tuple[str, ...]] = [("date", "exchange", "volume", "maker", "taker", "fees", "fills", "")]
        for d in report["daily"]:
            # a day before the venue's complete_from: only what is stored, not the day's volume
            note = "" if d.get("covered", True) else "not covered (stored part only)"
            daily.append(
                (d["date"], d["exchange"], _usd(d["volume_usd"]), _usd(d["maker_usd"]), _usd(d["taker_usd"]),
                 _usd(d["fees_usd"]), str(d["fills"]), note)
            )  # fmt: skip
        _print_table(daily)
        uncovered = sorted({d["exchange"] for d in report["daily"] if not d.get("covered", True)})
        for exch in uncovered:
            print(f"{display_name(exch)}: days before its complete history are not covered (see `perpvol keys list`)")


def _print_coverage(cov: dict, exchange: str | None) -> None:
    """What is not covered (days before a venue's complete_from) and the venues' own all-time figures."""
    venues = {e: v for e, v in (cov.get("venues") or {}).items() if exchange in (None, e)}
    notes: list[str] = []
    for v in venues.values():
        if any(v["partial"].values()):
            since = v["complete_from"]
            notes.append(f"{v['display_name']}: partial, not covered before {since}" if since
                         else f"{v['display_name']}: partial, not synced yet")  # fmt: skip
        if v.get("reported_all_time") is not None:
            when = f" as of {v['reported_at']}" if v.get("reported_at") else ""
            notes.append(f"{v['display_name']} reports {_usd(v['reported_all_time'])} all-time perp volume{when} "
                         f"(perpvol stores {_usd(v['ours_all_time'])})")  # fmt: skip
    if notes:
        print()
        for line in notes:
            print(line)


def _range(store: Store, start: date | None, end: date | None, exchange: str | None) -> dict:
    """The ``"range"`` object: an open end is the first day with volume or today (UTC)."""
    return volume.range_json(volume.resolve_range(store, start, end, exchange))


def _print_range(rng: dict, cov: dict) -> None:
    print()
    print(f"{rng['from']} → {rng['to']} ({rng['days']} days)" + (f"  {cov['note']}" if cov.get("note") else ""))
    rows: list[tuple[str, ...]] = [("exchange", "volume", "maker", "taker", "fees", "fills")]
    names = list(rng["by_exchange"])
    gaps = cov.get("not_covered") or {}
    cells = [(display_name(e), rng["by_exchange"][e], e in gaps) for e in names]
    if len(names) > 1:
        cells.append(("total", rng["totals"], bool(gaps)))
    for name, c, partial in cells:
        nothing = partial and name != "total" and not Decimal(c["volume_usd"])  # a venue: never a plain 0.00
        shown = "not covered" if nothing else _bound(c["volume_usd"], partial)
        rows.append((name, shown, _usd(c["maker_usd"]), _usd(c["taker_usd"]),
                     _usd(c["fees_usd"]), f"{c['fills']:,}"))  # fmt: skip
    _print_table(rows)


def cmd_volume(
    *, json: bool = False, daily: bool = False, date_from: str | None = None, date_to: str | None = None,
    exchange: str | None = None,
) -> int:
    """Print volume totals (and the daily series with --daily), as a table or the JSON contract."""
    try:
        start, end = bounds.day_range(date_from, date_to, names=("--from", "--to"))
    except bounds.InputError as exc:
        print(f"perpvol: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = Settings.from_env()
    store = open_existing(settings)  # a read never creates a database: no data reports zeros
    if store is None:
        print(f"perpvol: {no_data_text(settings)}", file=sys.stderr)
        store = Store("sqlite://")
    try:
        report = volume.volume_report(store, daily=daily, start=start, end=end, exchange=exchange)
        if start or end:
            report["range"] = _range(store, start, end, exchange)
        rng = report.get("range")
        first, last = (date.fromisoformat(rng["from"]), date.fromisoformat(rng["to"])) if rng else (None, None)
        report["coverage"] = coverage.coverage_json(
            coverage.venue_coverage(store, exchange), timeutil.now_ms(), first, last, ranged=rng is not None
        )
    finally:
        store.close()
    if json:
        print(json_text.dumps(report))
    else:
        _print_human(report, exchange)
    return 0


def _export_frame(store: Store) -> pl.DataFrame:
    labels = {a.id: a.label for a in store.list_accounts()}
    fills = store.fills_frame()
    return fills.with_columns(
        pl.col("account_id").replace_strict(labels, default=None, return_dtype=pl.Utf8).alias("account"),
        pl.from_epoch(pl.col("ts_ms"), time_unit="ms").dt.replace_time_zone("UTC")
        .dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").alias("time_utc"),
    ).select(EXPORT_COLUMNS)  # fmt: skip


def _write_csv(frame: pl.DataFrame, tmp: Path) -> None:
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        for row in frame.iter_rows(named=True):
            writer.writerow(
                canonical_decimal(row[c]) if c in _MONEY_COLUMNS else str(row[c]).lower()
                if isinstance(row[c], bool) else row[c]
                for c in EXPORT_COLUMNS
            )  # fmt: skip


def export_target_problem(out: Path) -> str | None:
    """Why ``out`` cannot receive an export, or None: a new path or an existing regular file only.

    The export is written to a temporary file renamed over ``out``; a device, FIFO, folder or link there
    would be replaced by a regular file (as root, ``/dev/full`` itself), so those are refused untouched.
    """
    if not out.parent.is_dir():
        return f"folder {out.parent} does not exist"
    try:
        mode = out.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot use {out}: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a symbolic link" if stat.S_ISLNK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "not a regular file")  # fmt: skip
    return f"{out} is {kind}; --out takes a new file name or an existing regular file"


def cmd_export(*, format: str, out: str) -> int:  # noqa: A002 - the documented option's name
    """Export every stored fill: CSV with exact decimal strings, or Parquet with Decimal columns."""
    target = Path(out).expanduser()
    problem = export_target_problem(target)
    if problem:
        print(f"perpvol: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    settings = Settings.from_env()
    store = open_existing(settings)  # a read never creates a database
    if store is None:
        print(f"perpvol: error: nothing exported: {no_data_text(settings)}", file=sys.stderr)
        return 1
    try:
        frame = _export_frame(store)
    finally:
        store.close()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # no half-written export on a crash
    try:
        if format == "csv":
            _write_csv(frame, tmp)
        else:
            frame.write_parquet(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    generated = timeutil.iso_utc(timeutil.now_ms())
    print(f"exported {frame.height} fills to {target} ({format}, {generated})")
    return 0
