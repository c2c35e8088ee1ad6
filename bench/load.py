"""Load benchmark: N stored fills (default 5 million), then the API under 50 clients on SQLite AND PostgreSQL,
the server's peak memory, the dashboard's first load and a large backfill's ratio to the rate-limit bound.
Prints; asserts nothing.

1. ingest: synthesized fills (two exchanges, 20 perps each plus spot noise, two years) through the public
   ``Store.ingest_fills`` in big batches (fills, rollups and volume totals in one transaction each); the rate;
2. API, per database: a server process (``perpvol_app.api`` routes, no worker) on that store; ``--clients``
   concurrent aiohttp clients issue ``--requests`` requests to each of ``GET /api/v1/volume/summary``,
   ``/volume/daily`` and ``/volume/range``; p50/p99/max per endpoint; the server's RSS at start and its peak
   (psutil, sampled every 50 ms) and its CPU time per request (robust to a loaded machine, unlike latency);
   then the three endpoints mixed while ``--live-fills`` fills land one by one
   (10 per second, each a new data version, so reads recompute from the totals);
3. dashboard first load in headless chromium (``bench/dashboard.py``'s ``browser_time``), SQLite only;
4. backfill of ``--backfill-fills`` fills (default 1 million) against the Paradex simulator, as a ratio to the
   documented rate-limit bound (``bench/backfill.py``'s ``bench_paradex``).

Run: ``.venv/bin/python bench/load.py [--fills 5000000] [--dbs sqlite,postgresql] [--requests 2000]
[--no-browser] [--backfill-fills 0]``. PostgreSQL: a scratch database on ``--pg`` (default the local server),
dropped afterwards. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import json
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perpvol_core.config import Settings  # noqa: E402
from perpvol_core.exchanges import classify_all  # noqa: E402
from perpvol_core.fill import MS_PER_DAY, Fill  # noqa: E402
from perpvol_sim.server import free_port  # noqa: E402

TOKEN = "load-bench-token-0123456789abcdef"  # noqa: S105 - a local benchmark token
COINS = "BTC ETH SOL XRP DOGE ADA AVAX LINK DOT TRX TON SUI APT ARB OP NEAR LTC BCH ATOM FIL".split()
SERVER = r"""
import os
from pathlib import Path
from perpvol_app import api
from perpvol_core.config import Settings
from perpvol_core.security.redaction import Secret
import threading, time
import uvicorn
settings = Settings(home=Path(os.environ["T_HOME"]), database_url=os.environ["T_DB"],
                    api_token=Secret(os.environ["T_TOKEN"]))
# as `perpvol serve` runs it (uvicorn.run: its best event loop and HTTP parser)
server = uvicorn.Server(uvicorn.Config(api.make_app(api.ApiContext(settings, use_worker=False)),
                                       host="127.0.0.1", port=int(os.environ["T_PORT"]), log_config=None,
                                       access_log=False, proxy_headers=False, server_header=False))
def ready():
    while not server.started:
        time.sleep(0.02)
    print("READY", flush=True)
threading.Thread(target=ready, daemon=True).start()
server.run()
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


def seed_store(settings: Settings, n_total: int, batch: int, bulk: bool = False) -> None:
    """``n_total`` fills through the public ingest path (the same transaction keeps rollups and totals), or on
    PostgreSQL with ``bulk`` by COPY with the derived tables computed by the database (``bench/pg_bulk.py``)."""
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
        if bulk:
            from bench.pg_bulk import copy_fills

            done += copy_fills(settings.database_url, acc.id,
                               (classify_all(c) for c in synth_fills(exchange, share, now, 7 + k, batch)))  # fmt: skip
        else:
            for chunk in synth_fills(exchange, share, now, 7 + k, batch):
                store.ingest_fills(acc.id, classify_all(chunk))
                done += len(chunk)
                el = time.perf_counter() - t0
                print(f"  ingested {done:>10,} fills  {done / el:>9,.0f} fills/s", file=sys.stderr, flush=True)
        store.set_status(f"load-{exchange}", "ok")
    if bulk:
        from bench.pg_bulk import derive, new_data_version

        derive(settings.database_url)
        new_data_version(store)
    el = time.perf_counter() - t0
    how = "COPY + derived tables" if bulk else f"ingest_fills, batches of {batch:,}"
    print(f"seed: {done:,} fills in {el:.1f} s = {done / el:,.0f} fills/s ({store.dialect}, {how})")
    store.close()


ENDPOINTS = ("/volume/summary", "/volume/daily", "/volume/range?from=2025-01-01&to=2025-12-31")


class _Peak:
    """The server's RSS, sampled every 50 ms in a thread: at start and the peak since."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._ps = psutil.Process(pid)
        self.start = self.peak = self._ps.memory_info().rss
        self.cpu_s = lambda: sum(self._ps.cpu_times()[:2])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self._ps.memory_info().rss)
            except Exception:  # noqa: BLE001 - the process ended
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def _line(label: str, lat: list[float], clients: int) -> str:
    if not lat:
        return f"  GET {label:<58} no request completed"
    lat = sorted(lat)
    p50, p99 = statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return (f"  GET {label:<58} {len(lat):>5} requests, {clients} clients: p50 {p50 * 1000:6.1f} ms, "
            f"p99 {p99 * 1000:6.1f} ms, max {lat[-1] * 1000:6.0f} ms")  # fmt: skip


def api_load(settings: Settings, clients: int, requests: int, live_fills: int) -> None:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}, "T_HOME": str(settings.home),
           "T_DB": settings.database_url, "T_TOKEN": TOKEN, "T_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        peak = _Peak(proc.pid)
        url = f"http://127.0.0.1:{port}/api/v1"
        for path in ENDPOINTS:
            cpu0 = peak.cpu_s()
            lat = asyncio.run(_hammer([url + path], clients, requests))[url + path]
            per = (peak.cpu_s() - cpu0) / (len(lat) + 1) * 1000  # the server's CPU, whatever else runs
            print(_line(path, lat, clients) + f", server CPU {per:.2f} ms/request")
        print(f"  server RSS: {peak.start / 2**20:.0f} MiB at start, peak {peak.peak / 2**20:.0f} MiB under load")
        if live_fills:
            stop = threading.Event()
            writer = threading.Thread(target=_live_writer, args=(settings, live_fills, stop), daemon=True)
            writer.start()
            by_url = asyncio.run(_hammer([url + p for p in ENDPOINTS], clients, requests, until=stop))
            writer.join(60)
            for path in ENDPOINTS:
                print(_line(f"{path} (live fills)", by_url[url + path], clients))
            print(f"  with {live_fills} fills landing one by one (10 per second) during those reads; "
                  f"server RSS peak {peak.peak / 2**20:.0f} MiB")
        peak.stop()
    finally:
        proc.terminate()
        proc.wait(20)


def _live_writer(settings: Settings, n: int, stop: threading.Event) -> None:
    """``n`` single fills, 10 per second, each its own ingest (a new data version every time)."""
    from perpvol_core.store import Store

    store = Store(settings.database_url)
    try:
        acc = store.get_account("load-woox")
        fills = [f for chunk in synth_fills("woox", n, int(time.time() * 1000), 99, n) for f in chunk]
        for i, fill in enumerate(fills):
            live = dataclasses.replace(fill, fill_id=f"live{i:08d}", ts_ms=int(time.time() * 1000))
            store.ingest_fills(acc.id, classify_all([live]))
            time.sleep(0.1)
    finally:
        stop.set()
        store.close()


async def _hammer(
    urls: list[str], clients: int, requests: int, until: threading.Event | None = None
) -> dict[str, list[float]]:
    """``clients`` concurrent aiohttp workers; ``requests`` in all (round-robin over ``urls``), or until
    ``until`` is set. Latency per URL (request sent → body read, gzip accepted). The workers read the gzipped
    body without inflating it: on this 2-core machine the load generator shares the cores with the server, and
    inflating 2 years of daily rows 50 times over cost the client more CPU than the server spends answering
    (the warm-up checks that each answer inflates to JSON)."""
    import aiohttp

    latencies: dict[str, list[float]] = {u: [] for u in urls}
    counter = iter(range(10**9 if until is not None else requests))
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "gzip"}
    async with aiohttp.ClientSession(headers=headers, connector=connector, auto_decompress=False) as session:
        for u in urls:  # warm: the first answer of each is computed, the rest are served
            async with session.get(u) as r:
                r.raise_for_status()
                body = await r.read()
                if r.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                json.loads(body)

        async def worker() -> None:
            for i in counter:
                if until is not None and until.is_set():
                    return
                u = urls[i % len(urls)]
                t0 = time.perf_counter()
                async with session.get(u) as r:
                    await r.read()
                latencies[u].append(time.perf_counter() - t0)
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def _pg_database(admin_url: str) -> tuple[str, str]:
    """A scratch database on the PostgreSQL server of ``admin_url``: (its URL, its name)."""
    import sqlalchemy as sa

    name = f"perpvol_load_{os.getpid()}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def _drop_pg(admin_url: str, name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fills", type=int, default=5_000_000, help="fills stored in total (both exchanges)")
    p.add_argument("--dbs", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    p.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                   help="PostgreSQL server (a scratch database is created on it and dropped)")
    p.add_argument("--batch", type=int, default=100_000)
    p.add_argument("--pg-seed", choices=("copy", "ingest"), default="copy",
                   help="PostgreSQL: COPY + derived tables (bench/pg_bulk.py; fast) or the ingest path (slow)")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=2000, help="requests per endpoint")
    p.add_argument("--live-fills", type=int, default=50, help="fills landing during a mixed read run (0: none)")
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--browser-runs", type=int, default=2)
    p.add_argument("--backfill-fills", type=int, default=1_000_000, help="0 skips the backfill ratio")
    a = p.parse_args(argv)
    print(f"load benchmark: {a.fills:,} fills, {a.clients} clients, {a.requests} requests per endpoint")
    for db in a.dbs.split(","):
        with tempfile.TemporaryDirectory(prefix="perpvol-load-") as tmp:
            home = Path(tmp) / "home"
            home.mkdir(mode=0o700)
            pg_name = None
            if db == "postgresql":
                url, pg_name = _pg_database(a.pg)
            else:
                url = f"sqlite:///{home / 'perpvol.db'}"
            try:
                settings = Settings(home=home, database_url=url)
                print(f"== {db}")
                seed_store(settings, a.fills, a.batch, bulk=db == "postgresql" and a.pg_seed == "copy")
                api_load(settings, a.clients, a.requests, a.live_fills)
                if db == "sqlite" and not a.no_browser:
                    from bench.dashboard import browser_time

                    times = browser_time(home, a.browser_runs)
                    print("dashboard first load (navigation → chart drawn, document idle): "
                          + ", ".join(f"{t:.1f} s" for t in times))
            finally:
                if pg_name:
                    _drop_pg(a.pg, pg_name)
    if a.backfill_fills:
        from bench.backfill import bench_paradex

        bench_paradex(a.backfill_fills)
    return 0


if __name__ == "__main__":
    sys.exit(main())
