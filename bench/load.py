"""Load benchmark: N stored fills (default 5 million), then the API under 50 clients, the dashboard's first
load, the server's peak memory and a large backfill's ratio to the rate-limit bound. Prints; asserts nothing.

1. ingest: synthesized fills (two exchanges, 20 perps each plus spot noise, two years) through
   ``Store.ingest_fills`` in big batches; prints the ingest rate;
2. API: a server process (``perpvol_app.api`` routes, no worker) on that store; 50 concurrent httpx clients
   issue a bounded number of ``GET /api/v1/volume/summary`` and ``/api/v1/volume/daily`` requests; p50/p99;
   the server's peak RSS (psutil, sampled every 50 ms) during the load;
3. dashboard first load in headless chromium (``bench/dashboard.py``'s ``browser_time``: login, then
   navigation → chart drawn and document idle);
4. backfill of ``--backfill-fills`` fills (default 1 million) against the Paradex simulator, as a ratio to the
   documented rate-limit bound (``bench/backfill.py``'s ``bench_paradex``).

Run: ``.venv/bin/python bench/load.py [--fills 5000000] [--db URL] [--requests 1000] [--no-browser]
[--backfill-fills 1000000]``. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perpvol_core.config import Settings  # noqa: E402
from perpvol_core.exchanges import classify_all  # noqa: E402
from perpvol_core.fill import MS_PER_DAY, Fill  # noqa: E402
from perpvol_sim.server import free_port  # noqa: E402

TOKEN = "load-bench-token-0123456789abcdef"  # noqa: S105 - a local benchmark token
COINS = "BTC ETH SOL XRP DOGE ADA AVAX LINK DOT TRX TON SUI APT ARB OP NEAR LTC BCH ATOM FIL".split()
SERVER = r"""
import asyncio, os
from pathlib import Path
from perpvol_app import api
from perpvol_core.config import Settings
from perpvol_core.security.redaction import Secret
async def main():
    settings = Settings(home=Path(os.environ["T_HOME"]), database_url=os.environ["T_DB"],
                        api_token=Secret(os.environ["T_TOKEN"]))
    import uvicorn
    server = uvicorn.Server(uvicorn.Config(api.make_app(api.ApiContext(settings, use_worker=False)),
                                           host="127.0.0.1", port=int(os.environ["T_PORT"]), log_config=None,
                                           access_log=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    print("READY", flush=True)
    await serving
asyncio.run(main())
"""


def synth_fills(exchange: str, n: int, now_ms: int, seed: int, batch: int) -> Iterator[list[Fill]]:
    """``n`` fills over two years in batches; 10 % spot (not counted); exact Decimal money from integers."""
    rng = random.Random(f"{exchange}:{seed}")
    if exchange == "woox":
        perps = [f"PERP_{c}_USDT" for c in COINS]
        spot, asset = "SPOT_BTC_USDT", "USDT"
    else:
        perps = [f"{c}-USD-PERP" for c in COINS]
        spot, asset = "ETH-USD", "USDC"
    span = 730 * MS_PER_DAY
    out: list[Fill] = []
    for i in range(n):
        market = spot if i % 10 == 0 else perps[int(rng.random() * len(perps))]
        out.append(Fill(
            exchange=exchange, fill_id=f"{seed}{i:012d}", fill_type="FILL", market=market,
            side="BUY" if rng.random() < 0.5 else "SELL", liquidity="MAKER" if rng.random() < 0.45 else "TAKER",
            price=Decimal(int(rng.random() * 9_000_000) + 1000).scaleb(-2),
            size=Decimal(int(rng.random() * 100_000) + 1).scaleb(-4),
            fee=Decimal(int(rng.random() * 20_000) - 1000).scaleb(-6), fee_asset=asset,
            ts_ms=now_ms - int(rng.random() * span),
        ))  # fmt: skip
        if len(out) >= batch:
            yield out
            out = []
    if out:
        yield out


def seed_store(settings: Settings, n_total: int, batch: int) -> None:
    from perpvol_core.security.vault import Vault
    from perpvol_core.store import Store
    from perpvol_sim.demo import DEMO_CREDENTIALS

    store = Store.open(settings)
    Vault.open(settings, store)
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    done = 0
    for k, exchange in enumerate(("woox", "paradex")):
        acc = store.add_account(f"load-{exchange}", exchange, None, DEMO_CREDENTIALS, "load (no credentials)")
        share = n_total // 2 + (n_total % 2 if k == 0 else 0)
        for chunk in synth_fills(exchange, share, now, 7 + k, batch):
            store.ingest_fills(acc.id, classify_all(chunk))
            done += len(chunk)
            el = time.perf_counter() - t0
            print(f"  ingested {done:>10,} fills  {done / el:>9,.0f} fills/s", file=sys.stderr, flush=True)
        store.set_status(f"load-{exchange}", "ok")
    el = time.perf_counter() - t0
    print(f"ingest: {done:,} fills in {el:.1f} s = {done / el:,.0f} fills/s ({store.dialect}, batches of {batch:,})")
    store.close()


def api_load(settings: Settings, clients: int, requests: int) -> None:
    import psutil

    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}, "T_HOME": str(settings.home),
           "T_DB": settings.database_url, "T_TOKEN": TOKEN, "T_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        ps = psutil.Process(proc.pid)
        base_rss = ps.memory_info().rss
        peak = [base_rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                try:
                    peak[0] = max(peak[0], ps.memory_info().rss)
                except psutil.Error:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        url = f"http://127.0.0.1:{port}/api/v1"
        for path in ("/volume/summary", "/volume/daily"):
            lat = asyncio.run(_hammer(url + path, clients, requests))
            lat.sort()
            p50, p99 = statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"API GET {path:<16} {len(lat)} requests, {clients} concurrent clients: "
                  f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms")
        stop.set()
        sampler.join(2)
        print(f"server RSS: {base_rss / 2**20:.0f} MiB at start, peak {peak[0] / 2**20:.0f} MiB under load")
    finally:
        proc.terminate()
        proc.wait(20)


async def _hammer(url: str, clients: int, requests: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300, limits=limits) as c:
        first = await c.get(url)
        first.raise_for_status()

        async def worker() -> None:
            for _ in counter:
                t0 = time.perf_counter()
                r = await c.get(url)
                latencies.append(time.perf_counter() - t0)
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fills", type=int, default=5_000_000, help="fills stored in total (both exchanges)")
    p.add_argument("--db", default=None, help="database URL (default: a SQLite file in a temporary home)")
    p.add_argument("--batch", type=int, default=100_000)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=1000, help="requests per endpoint")
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--browser-runs", type=int, default=2)
    p.add_argument("--backfill-fills", type=int, default=1_000_000, help="0 skips the backfill ratio")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="perpvol-load-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        settings = Settings(home=home, database_url=a.db or f"sqlite:///{home / 'perpvol.db'}")
        print(f"load benchmark: {a.fills:,} fills, {a.clients} clients, {a.requests} requests per endpoint")
        seed_store(settings, a.fills, a.batch)
        api_load(settings, a.clients, a.requests)
        if not a.no_browser:
            from bench.dashboard import browser_time

            times = browser_time(home, a.browser_runs)
            print("dashboard first load (navigation → chart drawn, document idle): "
                  + ", ".join(f"{t:.1f} s" for t in times))
    if a.backfill_fills:
        from bench.backfill import bench_paradex

        bench_paradex(a.backfill_fills)
    return 0


if __name__ == "__main__":
    sys.exit(main())
