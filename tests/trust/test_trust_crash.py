"""Crash safety: a real sync process is SIGKILLed at seeded random moments, restarted, and must end exact.

Both simulators run in this process on free ports; a small driver (``python -c`` with the real
``SyncEngine``, or the real ``Worker`` + ``LiveFeed`` for live ingest) runs as a child process against
a real SQLite file or PostgreSQL database. The driver prints one line per progress event; the test
kills it after a seeded random number of events plus a seeded random delay, restarts it, and at the end
checks that the stored daily totals equal ``History.expected_daily()`` exactly and that no fill is
stored twice (row count == distinct identities == the simulator's fill count).

The fast slice: 2 kills on SQLite and 1 on PostgreSQL with a small history. ``-m slow``: 20 kills during
backfill and 20 during live ingest, on both dialects. ``run_crash_scenario`` is reused by bench/trust.py.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# One driver for both modes. Rate limits are raised on both sides (simulator and client) for speed only;
# pages are small so that a backfill has many pages (many kill points).
DRIVER = r"""
import json, os, sys, threading, time
from perpvol_core.config import Settings
from perpvol_core.services.events import get_bus
from perpvol_core.exchanges import RateLimit
from perpvol_core.store import Store
from perpvol_core.services.sync import SyncEngine
from perpvol_core.security.vault import Vault

fast = [RateLimit(100000, 1.0)]
opts = {
    "woox": {"rate_limits": {"/v3/trade/transactionHistory": fast, "/v3/account/info": fast, "/v3/public": fast},
             "page_limit": int(os.environ["T_WOOX_PAGE"]), "timeout": 10.0, "backoff_s": 0.05},
    "paradex": {"rate_limits": {"/v1/fills": fast, "private": fast, "public": fast},
                "page_size": int(os.environ["T_PARADEX_PAGE"]), "timeout": 10.0, "backoff_s": 0.05},
}
settings = Settings.from_env()
store = Store.open(settings)
vault = Vault.open(settings, store)
days = int(os.environ["T_DAYS"])
lock = threading.Lock()

def say(text):
    with lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

def on_event(ev):  # a progress dict (the sync's callback) or a typed bus event
    kind = ev.get("type") if isinstance(ev, dict) else ev.type
    if kind == "sync_progress":
        say("P")
    elif kind in ("volume", "fills_stored"):
        say("V")

if sys.argv[1] == "sync":
    engine = SyncEngine(store, vault, connector_options=opts)
    say("READY")
    results = engine.sync(days=days, progress=on_event)
    say("RESULT " + json.dumps([{"label": r.label, "ok": r.ok, "error": r.error} for r in results]))
    engine.close()
    store.close()
else:
    from perpvol_core.services.live import LiveFeed
    from perpvol_core.services.worker import Worker
    get_bus().subscribe(on_event)
    worker = Worker(settings, store=store, vault=vault, interval_s=1.0, days=days, connector_options=opts)
    feed = LiveFeed(store, vault, sync_now=worker.sync_now, fallback_interval_s=0.5, account_poll_s=0.3,
                    backoff_initial_s=0.1, backoff_max_s=0.5, auth_retry_s=60, refresh_interval_s=0.5)
    worker.add_service(feed)
    worker.start()
    say("READY")
    time.sleep(float(os.environ.get("T_LIVE_MAX_S", "120")))  # bounded: the test kills it long before
    worker.stop()
"""


@dataclass
class CrashEnv:
    """Simulators with their histories, a home + database with two accounts (one per exchange)."""

    home: Path
    db_url: str
    woox: Any
    paradex: Any
    store: Any
    vault: Any
    labels: dict[str, str]  # exchange -> label

    @property
    def histories(self) -> dict[str, Any]:
        return {"woox": self.woox.history, "paradex": self.paradex.history}

    def child_env(self, days: int, woox_page: int, paradex_page: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
        env.update(
            PERPVOL_HOME=str(self.home),
            PERPVOL_DATABASE_URL=self.db_url,
            T_DAYS=str(days),
            T_WOOX_PAGE=str(woox_page),
            T_PARADEX_PAGE=str(paradex_page),
            PYTHONUNBUFFERED="1",
        )
        return env


@contextmanager
def crash_env(tmp_path: Path, db_url: str, n_fills: int, history_days: int = 700, seed: int = 5) -> Iterator[CrashEnv]:
    """Start both simulators (rate limits off: speed only) and add one account per exchange."""
    from perpvol_core.config import Settings
    from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
    from perpvol_core.exchanges.woox.credentials import WooxCredentials
    from perpvol_core.security.redaction import Secret
    from perpvol_core.security.vault import Vault
    from perpvol_core.store import Store
    from perpvol_sim.history import History
    from perpvol_sim.paradex import ParadexSim, ParadexSimConfig, RateLimits
    from perpvol_sim.woox import WooxSim

    home = tmp_path / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    woox = WooxSim(History("woox", seed, n_fills, days=history_days), rate_limits_enabled=False)
    big = RateLimits(private_get_per_account=10**7, per_ip=10**7, auth_per_ip=10**7, window_s=60.0)
    paradex = ParadexSim(History("paradex", seed, n_fills, days=history_days), config=ParadexSimConfig(limits=big))
    woox.start()
    paradex.start()
    settings = Settings(home=home, database_url=db_url)
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    wc = WooxCredentials(api_key=woox.config.api_key, api_secret=Secret(woox.config.api_secret))
    pc = ParadexTokenCredentials(token=Secret(paradex.mint_read_only_token("crash")))
    store.add_account("crash-woox", "woox", woox.base_url,
                      vault.encrypt(wc, label="crash-woox", base_url=woox.base_url), wc.hint)
    store.add_account("crash-paradex", "paradex", paradex.api_url,
                      vault.encrypt(pc, label="crash-paradex", base_url=paradex.api_url), pc.hint)
    env = CrashEnv(home, db_url, woox, paradex, store, vault, {"woox": "crash-woox", "paradex": "crash-paradex"})
    try:
        yield env
    finally:
        for h in env.histories.values():
            h.stop_live()
        woox.stop()
        paradex.stop()
        store.close()


class Driver:
    """The driver child process; stdout lines are read on a thread into a queue."""

    def __init__(self, mode: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, mode],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr = ""
        self._t_out = threading.Thread(target=self._pump, daemon=True)
        self._t_out.start()
        self._t_err = threading.Thread(target=self._pump_err, daemon=True)
        self._t_err.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def next_line(self, timeout: float) -> str | None:
        """The next stdout line; None at EOF. Raises AssertionError after ``timeout`` seconds."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"driver silent for {timeout}s; stderr: {self.stderr[-2000:]}") from None

    def wait_for(self, prefix: str, count: int, timeout: float) -> bool:
        """Read until ``count`` lines starting with ``prefix`` were seen; False when the process ended first."""
        deadline = time.monotonic() + timeout
        seen = 0
        while seen < count:
            line = self.next_line(max(0.1, deadline - time.monotonic()))
            if line is None:
                return False
            if line.startswith(prefix):
                seen += 1
        return True

    def kill(self) -> bool:
        """SIGKILL; True when the process was still running (the kill landed mid-work)."""
        alive = self.proc.poll() is None
        if alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._t_out.join(10)
        self._t_err.join(10)
        return alive

    def finish(self, timeout: float) -> str:
        """Wait for the RESULT line and the exit; returns the RESULT json text."""
        deadline = time.monotonic() + timeout
        result = ""
        while True:
            line = self.next_line(max(0.1, deadline - time.monotonic()))
            if line is None:
                break
            if line.startswith("RESULT "):
                result = line[len("RESULT "):]
        rc = self.proc.wait(max(1.0, deadline - time.monotonic()))
        self._t_err.join(10)
        assert rc == 0, f"driver exited {rc}: {self.stderr[-3000:]}"
        return result


@dataclass
class CrashReport:
    mode: str
    dialect: str
    kills_asked: int
    kills_landed: int = 0  # the process was still running when killed
    finished_early: int = 0  # the process ended before its kill point (nothing to kill)
    fills: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0


def _db_identity_counts(store: Any) -> tuple[int, int]:
    import sqlalchemy as sa

    with store._engine.connect() as conn:  # read-only check of the raw rows
        total = conn.execute(sa.text("SELECT COUNT(*) FROM fills")).scalar()
        distinct = conn.execute(
            sa.text("SELECT COUNT(*) FROM (SELECT DISTINCT account_id, exchange, fill_id, fill_type FROM fills) d")
        ).scalar()
    return int(total or 0), int(distinct or 0)


def assert_exact(env: CrashEnv) -> dict[str, int]:
    """Stored fills == simulator fills (no duplicates, none missing); daily totals == expected exactly."""
    from perpvol_core.analytics import volume

    total, distinct = _db_identity_counts(env.store)
    assert total == distinct, f"{total - distinct} fill(s) stored twice"
    counts: dict[str, int] = {}
    for exchange, history in env.histories.items():
        acc = env.store.get_account(env.labels[exchange])
        stored = env.store.fill_count(acc.id)
        assert stored == len(history.fills), f"{exchange}: stored {stored} fills, the exchange has {len(history.fills)}"
        counts[exchange] = stored
        daily = volume.daily_volume(env.store, exchange=exchange)
        got = {
            row["date"].isoformat(): {
                "volume_usd": Decimal(row["volume_usd"]),
                "maker_usd": Decimal(row["maker_usd"]),
                "taker_usd": Decimal(row["taker_usd"]),
                "fees_usd": Decimal(row["fees_usd"]),
                "fills": int(row["fills"]),
            }
            for row in daily.iter_rows(named=True)
        }
        expected = history.expected_daily()
        assert set(got) == set(expected), f"{exchange}: days differ: {sorted(set(got) ^ set(expected))[:5]}"
        for day, exp in expected.items():
            assert got[day] == exp, f"{exchange} {day}: stored {got[day]} != expected {exp}"
    assert total == sum(counts.values())
    return counts


def run_crash_scenario(
    env: CrashEnv,
    mode: str,
    kills: int,
    seed: int,
    *,
    woox_page: int = 50,
    paradex_page: int = 50,
    days: int = 730,
    live_interval_s: float = 0.03,
    timeout_s: float = 120.0,
) -> CrashReport:
    """Kill the driver ``kills`` times at seeded random moments, then run it to completion and check.

    ``mode``: "backfill" (kills during the first sync) or "live" (a backfill first, then kills while the
    simulators produce live fills that arrive over the private streams and incremental syncs).
    """
    rng = random.Random(seed)
    dialect = "postgresql" if env.db_url.startswith("postgresql") else "sqlite"
    report = CrashReport(mode, dialect, kills)
    t0 = time.monotonic()
    child_env = env.child_env(days, woox_page, paradex_page)
    if mode == "live":
        Driver("sync", child_env).finish(timeout_s)  # the backfill (not killed)
        for h in env.histories.values():
            h.start_live(live_interval_s)
    for _ in range(kills):
        driver = Driver("sync" if mode == "backfill" else "live", child_env)
        try:
            assert driver.wait_for("READY", 1, timeout_s), f"driver did not start: {driver.stderr[-2000:]}"
            # kill after a random number of progress (backfill) or live-volume (live) events, plus a random delay
            events = rng.randint(1, 6) if mode == "backfill" else rng.randint(1, 12)
            reached = driver.wait_for("P" if mode == "backfill" else "V", events, timeout_s)
            if reached:
                time.sleep(rng.uniform(0.0, 0.04))
            landed = driver.kill()
        finally:
            if driver.proc.poll() is None:
                driver.kill()
        if landed and reached:
            report.kills_landed += 1
        else:
            report.finished_early += 1
    for h in env.histories.values():
        h.stop_live()
    final = Driver("sync", child_env)
    result = final.finish(timeout_s * 2)
    assert '"ok": false' not in result, result
    report.fills = assert_exact(env)
    report.duration_s = time.monotonic() - t0
    return report


# ------------------------------------------------------------------------------------------ databases
@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL database URL (PostgreSQL skips locally / fails in CI when down)."""
    from tests.conftest import _pg_available, drop_pg_database, make_pg_database

    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'perpvol.db'}"
        return
    url, name = make_pg_database(_pg_available())
    try:
        yield url
    finally:
        drop_pg_database(name)


# ------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize(("kind", "kills"), [("sqlite", 2), ("postgresql", 1)])
def test_backfill_survives_sigkill(tmp_path: Path, kind: str, kills: int) -> None:
    with database(kind, tmp_path) as url, crash_env(tmp_path, url, n_fills=1200) as env:
        report = run_crash_scenario(env, "backfill", kills, seed=101)
    assert report.kills_landed >= 1, report  # at least one kill really interrupted a running sync


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backfill_survives_20_sigkills(tmp_path: Path, kind: str) -> None:
    with database(kind, tmp_path) as url, crash_env(tmp_path, url, n_fills=12_000, seed=7) as env:
        report = run_crash_scenario(env, "backfill", 20, seed=2024, woox_page=40, paradex_page=40)
    print(report)
    assert report.kills_landed >= 15, report


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_live_ingest_survives_20_sigkills(tmp_path: Path, kind: str) -> None:
    with database(kind, tmp_path) as url, crash_env(tmp_path, url, n_fills=2000, seed=9) as env:
        report = run_crash_scenario(env, "live", 20, seed=77)
    print(report)
    assert report.kills_landed >= 15, report
    # live fills really were produced during the kills
    assert all(len(h.fills) > 2000 for h in env.histories.values())
