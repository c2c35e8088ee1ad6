"""Fill → page latency: a simulator's emit time against a browser-side timestamp of the DOM change.

For each deployment shape (``tests/live_rig.py``): ``sqlite`` is one ``perpvol serve`` (server and worker in one
process) on SQLite; ``pg`` is ``perpvol worker`` and ``perpvol serve --no-worker`` apart, on PostgreSQL and Redis.
Every registered venue has its simulator; ``--tabs`` dashboards are open in headless chromium, each watching
its live 24h figure (every 5 ms, through the shadow roots, stamped with the browser's clock). ``--fills`` fills
are emitted one at a time, the venues in turn; each is waited for in every tab (30 s at most: beyond, it counts
as missed) before the next. The latency of a fill in a tab is the first change of the figure after the emit
minus the emit time (the simulator's ``add_live_fill``, same machine clock). Prints p50/p99/max per shape.

    .venv/bin/python bench/live.py [--fills 100] [--tabs 5] [--shapes sqlite,pg]

To compare with an older checkout, run this file and ``tests/live_rig.py`` from inside that checkout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_rig import CHROME_ARGS, CHROMIUM, WATCH_JS, LiveRig, pg_available  # noqa: E402

MISSED_S = 30.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run_shape(shape: str, fills: int, tabs: int, history: int) -> dict[str, float]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix=f"perpvol-bench-live-{shape}-"))
    rig = LiveRig(tmp, shape, fills=history)
    t = time.perf_counter()
    rig.start()
    print(f"[{shape}] deployment up in {time.perf_counter() - t:.1f} s (venues: {', '.join(rig.venues())})",
          flush=True)  # fmt: skip
    latencies: list[float] = []
    missed = 0
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            context = browser.new_context()
            pages = [context.new_page() for _ in range(tabs)]
            rig.login(pages[0])
            for page in pages[1:]:
                page.goto(f"{rig.url}/app", wait_until="commit")
            for page in pages[1:]:
                page.locator('[data-window="24h"] .pv-figure-value').wait_for(timeout=90_000)
            for page in pages:
                page.evaluate(WATCH_JS, "24h")
            time.sleep(5.0)  # streams connected and their catch-up syncs done
            venues = rig.venues()
            for i in range(fills):
                _, emitted = rig.emit(venues[i % len(venues)])
                for page in pages:
                    try:
                        page.wait_for_function("(t) => window.pvChanges.some(c => c[0] > t)", arg=emitted,
                                               timeout=MISSED_S * 1000)  # fmt: skip
                    except PlaywrightTimeout:
                        missed += 1
                        continue
                    seen = page.evaluate("(t) => window.pvChanges.find(c => c[0] > t)[0]", emitted)
                    latencies.append(seen - emitted)
                time.sleep(0.05)
            browser.close()
    finally:
        rig.stop()
    result = {"n": len(latencies), "missed": missed, "p50": statistics.median(latencies) if latencies else 0.0,
              "p99": pct(latencies, 0.99) if latencies else 0.0, "max": max(latencies, default=0.0)}  # fmt: skip
    print(f"[{shape}] fill → page over {fills} fills × {tabs} tabs: p50 {result['p50']:.0f} ms, "
          f"p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms, missed (>{MISSED_S:.0f} s) {missed}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fills", type=int, default=100)
    ap.add_argument("--tabs", type=int, default=5)
    ap.add_argument("--history", type=int, default=2000, help="historical fills per simulated venue")
    ap.add_argument("--shapes", default="sqlite,pg")
    args = ap.parse_args(argv)
    results = {}
    for shape in args.shapes.split(","):
        if shape == "pg" and (reason := pg_available()):
            print(f"[pg] skipped: PostgreSQL unreachable: {reason}")
            continue
        results[shape] = run_shape(shape, args.fills, args.tabs, args.history)
    for shape, r in results.items():
        print(f"{shape:>6}: p50 {r['p50']:7.0f} ms   p99 {r['p99']:7.0f} ms   max {r['max']:7.0f} ms   "
              f"({r['n']} fill×tab samples, {r['missed']} missed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
