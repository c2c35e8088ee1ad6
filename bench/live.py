"""Fill-to-client latency: simulator fill → private stream → store → bus → ``/api/v1/stream`` message.

Runs both simulators, a SQLite store (or ``--database-url``), the worker with the live feed and the API
server in-process, and one WebSocket client. Each fill is added at the simulator; the clock stops when
the client receives the volume message whose all-time total includes it. Prints median and p99.

    .venv/bin/python bench/live.py [--fills 200] [--history 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perpvol_app import api  # noqa: E402
from perpvol_app.server import BackgroundApp  # noqa: E402
from perpvol_core.config import Settings  # noqa: E402
from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials  # noqa: E402
from perpvol_core.exchanges.woox.credentials import WooxCredentials  # noqa: E402
from perpvol_core.security.redaction import Secret  # noqa: E402
from perpvol_core.security.vault import Vault  # noqa: E402
from perpvol_core.services.events import EventBus  # noqa: E402
from perpvol_core.services.live import LIVE, LiveFeed  # noqa: E402
from perpvol_core.services.worker import Worker  # noqa: E402
from perpvol_core.store import Store  # noqa: E402
from perpvol_sim.history import History  # noqa: E402
from perpvol_sim.paradex import ParadexSim  # noqa: E402
from perpvol_sim.woox import WooxSim  # noqa: E402


def _wait(pred, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fills", type=int, default=200)
    p.add_argument("--history", type=int, default=2000, help="historical fills per simulated exchange")
    p.add_argument("--database-url", default=None)
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="perpvol-bench-live-"))
    home = tmp / "home"
    home.mkdir(mode=0o700)
    token = secrets.token_urlsafe(24)
    settings = Settings(home=home, database_url=args.database_url or f"sqlite:///{home / 'perpvol.db'}",
                        api_token=Secret(token))
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    woox = WooxSim(History("woox", 5, args.history, days=60))
    paradex = ParadexSim(History("paradex", 6, args.history, days=60))
    woox.start()
    paradex.start()
    creds = [
        ("bench-woox", "woox", woox.base_url,
         WooxCredentials(api_key=woox.config.api_key, api_secret=Secret(woox.config.api_secret))),
        ("bench-paradex", "paradex", paradex.base_url,
         ParadexTokenCredentials(token=Secret(paradex.mint_read_only_token()))),
    ]
    for label, exchange, url, c in creds:
        store.add_account(label, exchange, url, vault.encrypt(c, label=label, base_url=url), c.hint)
    bus = EventBus()
    worker = Worker(settings, store=store, vault=vault, interval_s=3600, days=70)
    worker.engine.bus = bus
    t = time.perf_counter()
    worker.run_once()
    print(f"backfill of {2 * args.history} fills: {time.perf_counter() - t:.1f} s")
    feed = LiveFeed(store, vault, bus=bus, sync_now=worker.sync_now, refresh_interval_s=3600)
    worker.add_service(feed)
    worker.start()
    server = BackgroundApp(api.make_app(api.ApiContext(settings, store=store, vault=vault, worker=worker, bus=bus)))
    server.start()
    try:
        _wait(lambda: [s["state"] for s in feed.status()["streams"]] == [LIVE, LIVE], 30, "both streams live")
        ws = ws_connect(f"{server.ws_url}/api/v1/stream?token={token}", open_timeout=10)
        expected = woox.history.expected_total() + paradex.history.expected_total()
        total: Decimal | None = None

        def read_until(target: Decimal, timeout: float) -> None:
            nonlocal total
            deadline = time.monotonic() + timeout
            while total != target:
                msg = json.loads(ws.recv(timeout=max(0.001, deadline - time.monotonic())))
                if msg.get("type") in ("volume", "fills_stored"):
                    total = Decimal(msg["totals"]["all"])

        read_until(expected, 30)
        latencies: list[float] = []
        for i in range(args.fills):
            sim, market = (woox, "PERP_BTC_USDT") if i % 2 == 0 else (paradex, "BTC-USD-PERP")
            t0 = time.perf_counter()
            fill = sim.history.add_live_fill(market=market)
            expected += fill.price * fill.size
            read_until(expected, 30)
            latencies.append((time.perf_counter() - t0) * 1000)
        ws.close()
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(round(0.99 * len(latencies))) - 1)]
        print(f"fill-to-client latency over {len(latencies)} fills (WOO X and Paradex alternating, "
              f"{store.dialect}): median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
              f"max {latencies[-1]:.1f} ms")
        new = sum(s["fills_new"] for s in feed.status()["streams"])
        print(f"fills ingested from the streams: {new}")
    finally:
        server.stop()
        worker.stop()
        woox.stop()
        paradex.stop()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
