"""Dashboard benchmark: two years × two exchanges × 20 markets stored; prints figures, asserts nothing.

1. navigation → chart drawn in headless chromium (``perpvol serve`` subprocess, after login);
2. the server's cost of one live update (the periodic callback's work), with and without the
   process-wide cache that sessions share; and of a full reload after a sync.

Run: ``.venv/bin/python bench/dashboard.py [--fills N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perpvol_core.config import Settings  # noqa: E402
from perpvol_core.fill import Fill  # noqa: E402
from perpvol_sim.demo import DEMO_CREDENTIALS  # noqa: E402
from perpvol_sim.server import free_port  # noqa: E402

WOOX_MARKETS = [f"PERP_{c}_USDT" for c in (
    "BTC ETH SOL XRP DOGE ADA AVAX LINK DOT TRX TON SUI APT ARB OP NEAR LTC BCH ATOM FIL").split()]  # fmt: skip
PARADEX_MARKETS = [m.replace("PERP_", "").replace("_USDT", "-USD-PERP") for m in WOOX_MARKETS]
PASSWORD = "bench-password-123"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def to_fill(exchange: str, f: object) -> Fill:
    return Fill(exchange=exchange, fill_id=str(f.fill_id), fill_type=f.fill_type, market=f.market, side=f.side,
                liquidity=f.liquidity, price=f.price, size=f.size, fee=f.fee, fee_asset=f.fee_asset,
                ts_ms=int(f.ts_ms))  # fmt: skip


def seed(home: Path, fills: int) -> Settings:
    from perpvol_core.security.vault import Vault
    from perpvol_core.store import Store
    from perpvol_sim.history import History

    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}")
    store = Store.open(settings)
    Vault.open(settings, store)  # the key file first: the server opens the vault
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    for exchange, markets in (("woox", WOOX_MARKETS), ("paradex", PARADEX_MARKETS)):
        history = History(exchange, 3, fills, now_ms=now, markets=markets)
        acc = store.add_account(f"bench-{exchange}", exchange, None, DEMO_CREDENTIALS, "bench (no credentials)")
        store.ingest_fills(acc.id, [to_fill(exchange, f) for f in history.fills])
        store.set_status(f"bench-{exchange}", "ok")
    print(f"stored {2 * fills} fills (2 exchanges × 20 markets × 730 days) in {time.perf_counter() - t0:.1f} s")
    store.close()
    return settings


def browser_time(home: Path, runs: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env.update(PERPVOL_HOME=str(home), PERPVOL_PASSWORD=PASSWORD)
    proc = subprocess.Popen(
        [sys.executable, "-m", "perpvol_cli.main", "serve", "--port", str(port), "--no-worker"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    times: list[float] = []
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROME_ARGS)
            ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            page.goto(f"{url}/login")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.locator("#pv-history-info").wait_for(timeout=120_000)
            for _ in range(runs):
                page = ctx.new_page()
                idle: list[float] = []
                page.on("console", lambda m, idle=idle: idle.append(time.perf_counter())
                        if "document idle" in m.text else None)  # fmt: skip
                t0 = time.perf_counter()
                page.goto(f"{url}/app")
                page.locator("#pv-history-info").wait_for(timeout=120_000)
                page.locator("canvas").first.wait_for(timeout=120_000)
                page.wait_for_function("() => true")
                deadline = time.perf_counter() + 60
                while not idle and time.perf_counter() < deadline:
                    page.wait_for_timeout(50)
                times.append((idle[0] if idle else time.perf_counter()) - t0)
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(20)
    return times


def live_update_cost(settings: Settings, n: int) -> tuple[list[float], list[float], tuple[float, float]]:
    import perpvol_app.ui.dashboard as d
    from perpvol_app.ui.components.context import AppContext
    from perpvol_core.store import Store

    store = Store.open(settings)
    ctx = AppContext(settings=settings, store=store)
    dash = d.Dashboard(ctx)
    uncached, cached = [], []
    for _ in range(n):
        d._live_caches.clear()
        d._rows_caches.clear()
        t0 = time.perf_counter()
        dash.tick()
        uncached.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dash.tick()
        cached.append(time.perf_counter() - t0)
    from perpvol_app.ui.components.context import forget

    forget(store)  # as after a sync that stored new fills: every shared read recomputed once
    t0 = time.perf_counter()
    dash.reload()
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    dash.reload()  # another session reloading after the same sync
    warm = time.perf_counter() - t0
    store.close()
    return uncached, cached, (cold, warm)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fills", type=int, default=40_000, help="fills per exchange")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = seed(home, args.fills)
        unc, cac, full = live_update_cost(settings, 20)
        print(f"live update (periodic callback), first session per interval: {statistics.median(unc) * 1000:.1f} ms")
        print(f"live update, other sessions (shared cache): {statistics.median(cac) * 1000:.2f} ms")
        print(f"full reload after a sync: first session {full[0] * 1000:.0f} ms, others {full[1] * 1000:.0f} ms")
        times = browser_time(home, args.runs)
        print(f"navigation → chart drawn (chromium, {args.runs} runs): "
              f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
