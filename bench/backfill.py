"""Backfill benchmark: perpvol's sync against the simulators at their documented rate limits, and ccxt.

Prints (no thresholds): wall time ÷ the rate-limit lower bound (pages needed ÷ documented rate),
requests made ÷ minimum pages, 429s; and for WOO X the same data read with ccxt's ``fetch_my_trades``
pagination (ccxt.woo pointed at the simulator): ratio of wall times and request counts. ``--readings``
runs the WOO X backfill under each reading of transactionHistory (woox-api.md §9: ``page`` honoured /
ignored / rejected, page cap, ``limit`` clamped or rejected, ``meta`` absent, ``symbol`` required, order);
requests count every transactionHistory request, refusals included; the minimum is the pages the reading
needs (per symbol when ``symbol`` is required: at least one request per listed or known perpetual).

    .venv/bin/python bench/backfill.py [--fills 20000] [--no-ccxt] [--exchange woox|paradex|both]
    .venv/bin/python bench/backfill.py --exchange woox --readings --fills 6000 --no-ccxt
    .venv/bin/python bench/backfill.py --exchange hyperliquid --fills 30000

Hyperliquid: the connector's userFillsByTime walk at its own pacing against the simulator's 1200 weight/min
limit (20 per request + 1 per 20 fills returned, the notes' worst reading), with the retention cap at
``--fills`` so the whole history is served; requests ÷ the fewest requests that can read the fills without
losing one (each page starts again at the previous page's last millisecond, and a full last page needs one
more request to show it was the last: ``fewest_pages``), and wall time ÷ the weight-budget bound (the earliest
those requests could all have been sent without a 429, with answers taking no time).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from perpvol_core.config import Settings
from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store
from perpvol_sim.history import History
from perpvol_sim.paradex import ParadexSim
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim


def _engine(tmp: Path, history: History) -> tuple[Store, Vault, SyncEngine]:
    settings = Settings(home=tmp, database_url=f"sqlite:///{tmp / 'bench.db'}")
    store = Store(settings.database_url)
    vault = Vault.open(settings, store)
    return store, vault, SyncEngine(store, vault, EventBus(), clock=lambda: history.now_ms)


def bench_woox(n: int, with_ccxt: bool) -> None:
    history = History("woox", 42, n)
    sim = WooxSim(history, response_format="live", window_anchor_ms=history.now_ms)
    url = sim.start()
    try:
        creds = WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET))
        res, wall = _timed_sync(history, "woox", url, creds)
        assert res.ok, res.error
        pages = math.ceil(n / 500)
        bound = pages / 2.0  # 2 requests / s
        print(f"WOO X  {n} fills: perpvol {wall:.2f}s, bound {bound:.2f}s -> wall/bound {wall / bound:.3f}; "
              f"requests {res.requests} / min pages {pages} = {res.requests / pages:.3f}; "
              f"429s {sim.rate_limited}; fills stored {res.new_fills}")
        if not with_ccxt:
            return
        import ccxt

        before = sum(sim.requests.values())
        before_429 = sim.rate_limited
        ex = ccxt.woo({"apiKey": DEMO_API_KEY, "secret": DEMO_API_SECRET, "enableRateLimit": True,
                       "options": {"paginationCalls": 10_000}})
        ex.urls["api"] = {"pub": url, "public": url, "private": url}
        ex.load_markets()
        ccxt_before = sum(sim.requests.values())
        t0 = time.perf_counter()
        trades = ex.fetch_my_trades(None, history.start_ms, None,
                                    {"paginate": True, "until": history.now_ms + 1, "paginationCalls": 10_000})
        cwall = time.perf_counter() - t0
        creq = sum(sim.requests.values()) - ccxt_before
        ids = {t["id"] for t in trades}
        print(f"ccxt   {len(ids)} distinct fills ({len(trades)} rows): {cwall:.2f}s, {creq} requests "
              f"(+{ccxt_before - before} for load_markets), 429s {sim.rate_limited - before_429}")
        print(f"perpvol/ccxt: wall {wall / cwall:.3f}, requests {res.requests / max(creq, 1):.3f}"
              + ("" if len(ids) == n else f"  (ccxt got {len(ids)} of {n} fills)"))
    finally:
        sim.stop()


#: (name, simulator options) of the transactionHistory readings benchmarked with ``--readings``
READINGS: list[tuple[str, dict[str, Any]]] = [
    ("page honoured, cap 500 (meta)", {}),
    ("page honoured, cap 100, limit clamped", {"page_size_cap": 100}),
    ("page ignored, cap 100, newest-first", {"page_mode": "ignored", "page_size_cap": 100, "sort_order": "desc"}),
    ("page ignored, cap 100, oldest-first, no meta",
     {"page_mode": "ignored", "page_size_cap": 100, "sort_order": "asc", "meta": False}),
    ("page rejected, limit>100 rejected -1004, no meta",
     {"page_mode": "rejected", "page_size_cap": 100, "limit_over_cap": "reject-1004", "meta": False}),
    ("symbol required, cap 100", {"symbol_required": True, "page_size_cap": 100}),
]


def bench_woox_readings(n: int) -> None:
    history = History("woox", 44, n)
    perps = {f.market for f in history.fills if f.market.startswith("PERP_")}
    listed = perps | {"PERP_BTC_USDT", "PERP_ETH_USDT"}
    print(f"WOO X readings, {n} fills (rate limit 2 requests/s):")
    for name, options in READINGS:
        sim = WooxSim(history, response_format="live", window_anchor_ms=history.now_ms, **options)
        url = sim.start()
        try:
            creds = WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET))
            res, wall = _timed_sync(history, "woox", url, creds)
            cap = min(500, options.get("page_size_cap", 500))
            if options.get("symbol_required"):
                counts = {m: sum(1 for f in history.fills if f.market == m) for m in listed}
                pages = sum(max(1, math.ceil(c / cap)) for c in counts.values())
                expected = sum(counts.values())
            else:
                pages = math.ceil(n / cap)
                expected = n
            bound = pages / 2.0
            req = sim.requests["transactionHistory"]
            status = "ok" if res.ok and res.new_fills == expected else f"NOT EXACT ({res.error or res.new_fills})"
            print(f"  {name:<50} wall/bound {wall / bound:.3f} ({wall:.1f}s/{bound:.1f}s); requests/min pages "
                  f"{req / pages:.3f} ({req}/{pages}); 429s {sim.rate_limited}; {status}")
        finally:
            sim.stop()


def _timed_sync(history: History, exchange: str, url: str, creds: Any) -> tuple[Any, float]:
    """One account's backfill into a fresh store; returns the sync result and its wall time."""
    with tempfile.TemporaryDirectory() as d:
        store, vault, engine = _engine(Path(d), history)
        store.add_account(exchange, exchange, url, vault.encrypt(creds, label=exchange, base_url=url), creds.hint)
        t0 = time.perf_counter()
        [res] = engine.sync()
        wall = time.perf_counter() - t0
        engine.close()
        store.close()
    return res, wall


def bench_paradex(n: int) -> None:
    """Paradex: /v1/fills requests of the backfill / the minimum pages (aim <= 1.05), the self-check's and the
    exchange-report's requests apart, and wall time (the simulator's own page building dominates it)."""
    history = History("paradex", 43, n)
    sim = ParadexSim(history)
    sim.start()
    try:
        creds = ParadexTokenCredentials(token=Secret(sim.mint_read_only_token()))
        res, wall = _timed_sync(history, "paradex", sim.api_url, creds)
        assert res.ok, res.error
        pages = math.ceil(n / 5000)
        bound = pages / 10.0  # 600 / min
        fills_requests = sim.request_count["GET /v1/fills"]
        check = res.check
        print(f"Paradex {n} fills: backfill requests {res.requests} / min pages {pages} = {res.requests / pages:.3f}; "
              f"self-check {len(check.windows) if check else 0} of {check.windows_total if check else 0} windows "
              f"({'agrees' if check and check.ok else 'DISAGREES'}), requests after the backfill "
              f"{res.check_requests} (GET /v1/fills in all {fills_requests}); wall {wall:.2f}s, rate bound "
              f"{bound:.2f}s -> wall/bound {wall / bound:.3f} (server time dominates); 429s {sim.rate_limited}; "
              f"fills stored {res.new_fills}")
    finally:
        sim.stop()


def weight_budget_bound_s(weights: list[int], budget: int = 1200, window_s: float = 60.0) -> float:
    """The earliest start of the last request when requests of ``weights`` are sent in order, each as soon as
    the sliding window of ``window_s`` has room for it under ``budget`` (zero latency): the wall-time floor."""
    starts: list[float] = []
    for i, weight in enumerate(weights):
        t = starts[-1] if starts else 0.0
        while sum(w for s, w in zip(starts, weights[:i], strict=True) if s > t - window_s) + weight > budget:
            t = min(s for s in starts if s > t - window_s) + window_s  # the oldest spend in the window expires
        starts.append(t)
    return starts[-1] if starts else 0.0


def fewest_pages(times: list[int], cap: int) -> list[int]:
    """The answers (their sizes) of the fewest ``userFillsByTime`` requests that can read every fill of ``times``
    without losing one: each request after the first starts at the previous answer's last millisecond (a
    page may end inside a millisecond, so it is asked again: never ``+1``), and a full answer is followed by
    one more request, since only a shorter answer shows that nothing is left."""
    times = sorted(times)
    sizes: list[int] = []
    i = 0
    while True:
        size = min(cap, len(times) - i)
        sizes.append(size)
        if size < cap:
            return sizes
        last = times[i + size - 1]
        j = i + size
        while j > i and times[j - 1] == last:  # the next answer starts with this millisecond again
            j -= 1
        if j == i:
            raise ValueError("a millisecond holds a whole page: no time-based walk can read it")
        i = j


def bench_hyperliquid(n: int, page_cap: int) -> None:
    from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
    from perpvol_core.exchanges.hyperliquid.rest import HyperliquidConnector
    from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history

    history = hyperliquid_history(45, n, days=729)
    sim = HyperliquidSim(history, page_cap=page_cap, retention_cap=n, extra_weight_per_items=True)
    sim.start()
    try:
        sim.state.rows(sim.address)  # the simulator builds its served rows once (not the venue's latency)
        conn = HyperliquidConnector(HyperliquidAddress(address=sim.address), sim.base_url, retention_fills=n)
        before = dict(sim.state.requests)
        t0 = time.perf_counter()
        got = {f.fill_id for page in conn.iter_fill_pages(history.start_ms, history.now_ms) for f in page.fills}
        wall = time.perf_counter() - t0
        conn.close()
        served = len(sim.served_fills())
        by_type = {k: v - before.get(k, 0) for k, v in sim.state.requests.items() if v - before.get(k, 0)}
        requests = sum(v for k, v in by_type.items() if k != "info")
        sizes = fewest_pages([f.ts_ms for f in sim.served_fills()], page_cap)
        pages = len(sizes)
        weights = [20 + math.ceil(size / 20) for size in sizes]
        bound = weight_budget_bound_s(weights)
        ratio = f"{wall / bound:.3f}" if bound > 0 else "n/a (the pages fit in one minute's budget)"
        # the bound takes answers to be instant; a walk asks its next page only once the last one is read, so
        # the requests after the budget's wait each add an answer's time (printed apart)
        answer_s = (wall - conn.stats.waited_s) / max(1, conn.stats.requests)
        print(f"Hyperliquid {served} fills served, page cap {page_cap}: requests {requests} / min pages {pages} = "
              f"{requests / pages:.3f} ({by_type}); wall {wall:.1f}s, weight-budget bound {bound:.1f}s -> "
              f"wall/bound {ratio}; waited for the budget {conn.stats.waited_s:.1f}s, {answer_s * 1000:.0f} ms per "
              f"answer (request + reading it); 429s {sim.rate_limited}; fills read {len(got)}"
              + ("" if len(got) == served else "  NOT EXACT"))
    finally:
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fills", type=int, default=20000)
    p.add_argument("--exchange", choices=["woox", "paradex", "hyperliquid", "both"], default="both")
    p.add_argument("--page-cap", type=int, default=2000, help="Hyperliquid: the simulator's page cap (F1)")
    p.add_argument("--no-ccxt", action="store_true")
    p.add_argument("--readings", action="store_true", help="WOO X: one backfill per transactionHistory reading")
    a = p.parse_args(argv)
    if a.exchange in ("woox", "both"):
        if a.readings:
            bench_woox_readings(a.fills)
        else:
            bench_woox(a.fills, not a.no_ccxt)
    if a.exchange in ("paradex", "both"):
        bench_paradex(a.fills)
    if a.exchange == "hyperliquid":
        bench_hyperliquid(a.fills, a.page_cap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
