"""Proof-of-trust figures: SIGKILL crash runs and the fault matrix, printed as a table. Asserts via the suites.

Reuses ``tests/trust/test_trust_crash.py`` (``run_crash_scenario``) and ``tests/trust/test_trust_faults.py``
(``CASES``, ``run_fault_case``): each crash run kills a real sync process at seeded random moments and checks
exact totals afterwards; each fault case ends in complete data or a clear error (then recovers).

Run: ``.venv/bin/python bench/trust.py [--kills 20] [--dialects sqlite,postgresql] [--skip-faults]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def crash_rows(kills: int, dialects: list[str]) -> list[tuple[str, ...]]:
    import pytest

    from tests.trust.test_trust_crash import crash_env, database, run_crash_scenario

    rows = []
    for dialect in dialects:
        for mode, n_fills, seed in (("backfill", 12_000, 2024), ("live", 2000, 77)):
            with tempfile.TemporaryDirectory(prefix="perpvol-trust-") as tmp:
                try:
                    with database(dialect, Path(tmp)) as url, crash_env(Path(tmp), url, n_fills=n_fills) as env:
                        r = run_crash_scenario(env, mode, kills, seed=seed, woox_page=40, paradex_page=40)
                    rows.append((f"crash {mode}", dialect, f"{r.kills_landed}/{r.kills_asked} kills landed",
                                 f"exact: {r.fills['woox']:,} + {r.fills['paradex']:,} fills", f"{r.duration_s:.0f} s"))
                except pytest.skip.Exception as exc:
                    rows.append((f"crash {mode}", dialect, "skipped", str(exc), "-"))
                except AssertionError as exc:
                    rows.append((f"crash {mode}", dialect, "FAILED", str(exc).splitlines()[0][:80], "-"))
    return rows


def fault_rows() -> list[tuple[str, ...]]:
    from tests.trust.test_trust_faults import CASES, KNOWN_BUGS, run_fault_case

    rows = []
    for case in CASES:
        with tempfile.TemporaryDirectory(prefix="perpvol-fault-") as tmp:
            t0 = time.monotonic()
            try:
                o = run_fault_case(case, Path(tmp))
                detail = "complete, exact" if o.outcome == "complete" else f"error: {(o.error or '')[:60]}"
                verdict = f"ok ({o.outcome})" + (", recovered" if o.outcome == "error" else "")
            except AssertionError as exc:
                verdict = "KNOWN BUG" if case.id in KNOWN_BUGS else "FAILED"
                detail = str(exc).splitlines()[0][:70]
            rows.append((f"fault {case.name}", f"{case.exchange}/{case.kind} {case.when}", verdict, detail,
                         f"{time.monotonic() - t0:.1f} s"))
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("suite", "where", "outcome", "detail", "time")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--dialects", default="sqlite,postgresql")
    p.add_argument("--skip-crash", action="store_true")
    p.add_argument("--skip-faults", action="store_true")
    a = p.parse_args(argv)
    rows: list[tuple[str, ...]] = []
    if not a.skip_crash:
        rows += crash_rows(a.kills, [d for d in a.dialects.split(",") if d])
    if not a.skip_faults:
        rows += fault_rows()
    print_table(rows)
    crash = [r for r in rows if r[0].startswith("crash")]
    faults = [r for r in rows if r[0].startswith("fault")]
    print(f"\nkills survived: {sum(int(r[2].split('/')[0]) for r in crash if '/' in r[2])} "
          f"in {len(crash)} crash run(s); faults covered: {len(faults)} cases, "
          f"{sum(r[2].startswith('ok') for r in faults)} as specified, "
          f"{sum(r[2] == 'KNOWN BUG' for r in faults)} known bug(s), {sum(r[2] == 'FAILED' for r in faults)} failed")
    return 1 if any(r[2] == "FAILED" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
