"""A deployment of perpvol against one simulator per registered venue, for the live-push tests and ``bench/live.py``.

Two shapes: ``sqlite`` (one ``perpvol serve`` process: server and worker together, SQLite) and ``pg``
(``perpvol worker`` and ``perpvol serve --no-worker`` apart, PostgreSQL and a Redis of the rig's own, so a test
may stop and restart it). The simulators run in the caller's process (live mode off: :meth:`LiveRig.emit` adds
a fill when told and returns the emit time); the accounts are added through the one account path and synced
before the processes start.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from perpvol_sim.server import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PG_ADMIN_URL = os.environ.get("PERPVOL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "Live-Rig.Pass:1!"

#: in the page: every 5 ms, the exact value of the headline figure of ``window`` (through the shadow roots);
#: each change is recorded in ``window.pvChanges`` as [browser clock (epoch ms), value]
WATCH_JS = """(window_) => {
  const find = (root) => {
    const hit = root.querySelector(`[data-window="${window_}"] .pv-figure-value`);
    if (hit) return hit;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const h = find(el.shadowRoot); if (h) return h; }
    }
    return null;
  };
  window.pvChanges = [];
  let last = null;
  setInterval(() => {
    const el = find(document);
    const v = el ? el.getAttribute('data-exact') : null;
    if (v !== null && v !== last) { last = v; window.pvChanges.push([performance.timeOrigin + performance.now(), v]); }
  }, 5);
}"""


def pg_available() -> str | None:
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc)


def _pg(sql: str) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(sql))
    eng.dispose()


def _wait_http(url: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer: {log.read_text()[-3000:]}")
        time.sleep(0.2)


class LiveRig:
    """``start()``, then :meth:`emit` fills and watch them arrive; ``stop()`` (idempotent)."""

    def __init__(self, tmp: Path, shape: str, fills: int = 300, seed: int = 3) -> None:
        assert shape in ("sqlite", "pg")
        self.tmp, self.shape, self.fills, self.seed = tmp, shape, fills, seed
        self.home = tmp / "home"
        self.token = secrets.token_urlsafe(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self.redis: subprocess.Popen[Any] | None = None
        self.redis_port: int | None = None
        self.db_name: str | None = None
        self.sims: Any = None
        self.app: Any = None
        self.labels: dict[str, str] = {}  # venue → account label

    # -- set-up ----------------------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        if self.db_name is None:
            return f"sqlite:///{self.home / 'perpvol.db'}"
        return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{self.db_name}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
        env.update(PERPVOL_HOME=str(self.home), PERPVOL_DATABASE_URL=self.database_url,
                   PERPVOL_PASSWORD=PASSWORD, PERPVOL_API_TOKEN=self.token, PYTHONPATH=str(ROOT))  # fmt: skip
        if self.redis_port is not None:
            env["PERPVOL_REDIS_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        return env

    def start_redis(self) -> None:
        if self.redis_port is None:
            self.redis_port = free_port()
        self.redis = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.redis_port, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait(10)
            self.redis = None

    def start(self, inprocess: bool = False) -> LiveRig:
        """Simulators, accounts, a first sync, then the processes (``inprocess``: the server and its worker in
        this process instead, SQLite shape only)."""
        from perpvol_app.serve import DemoVenues
        from perpvol_core.config import Settings
        from perpvol_core.security.vault import Vault
        from perpvol_core.services import accounts
        from perpvol_core.services.events import EventBus
        from perpvol_core.services.sync import SyncEngine
        from perpvol_core.store import Store

        self.home.mkdir(mode=0o700, parents=True)
        if self.shape == "pg":
            self.db_name = f"perpvol_rig_{uuid.uuid4().hex[:12]}"
            _pg(f'CREATE DATABASE "{self.db_name}"')
            self.start_redis()
        self.sims = DemoVenues(self.seed, self.fills, int(time.time() * 1000))
        self.sims.start()
        settings = Settings(home=self.home, database_url=self.database_url)
        store = Store.open(settings)
        vault = Vault.open(settings, store)
        for req in self.sims.requests():
            accounts.add_account(store, vault, req)
            self.labels[req.exchange] = req.label
        engine = SyncEngine(store, vault, EventBus())
        try:
            results = engine.sync(days=30)
        finally:
            engine.close()
        assert all(r.ok for r in results), [r.error for r in results]
        store.close()
        if inprocess:  # the server and its worker in this process: a test may look inside
            from perpvol_app.server import BackgroundApp, ServerConfig, create_app
            from perpvol_core.security.redaction import Secret

            config = ServerConfig(settings=Settings(home=self.home, database_url=self.database_url,
                                                    api_token=Secret(self.token)),
                                  password=PASSWORD, port=self.port, worker=True)  # fmt: skip
            self.app = BackgroundApp(create_app(config), port=self.port)
            self.app.start()
        elif self.shape == "sqlite":
            self._spawn("server", "serve", "--port", str(self.port))
        else:
            self._spawn("worker", "worker")
            self._spawn("server", "serve", "--port", str(self.port), "--no-worker")
        if not inprocess:
            _wait_http(f"{self.url}/login", self.procs["server"], self.tmp / "server.log")
        return self

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.tmp / f"{name}.log").open("w")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "perpvol_cli.main", *args], cwd=ROOT,
                                            env=self.env(), stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    def stop(self) -> None:
        if self.app is not None:
            self.app.stop()
            self.app = None
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
        if self.sims is not None:
            self.sims.stop()
            self.sims = None
        self.stop_redis()
        if self.db_name is not None:
            _pg(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self.db_name = None

    # -- use -------------------------------------------------------------------------------------
    def venues(self) -> list[str]:
        return list(self.sims.venues)

    def emit(self, venue: str) -> tuple[Any, float]:
        """A new fill on ``venue``'s simulator (pushed on its stream); returns it and its emit time (epoch ms)."""
        history = self.sims.venues[venue].history
        t = time.time() * 1000
        return history.add_live_fill(), t

    def expected_total(self) -> Decimal:
        """All-time volume the simulators have served (what perpvol must count)."""
        return sum((sim.history.expected_total() for sim in self.sims.venues.values()), Decimal(0))

    def expected_text(self) -> str:
        """:meth:`expected_total` as the page writes it (``data-exact``: the canonical decimal string)."""
        from perpvol_core.money import canonical_decimal

        return canonical_decimal(self.expected_total())

    def ws(self) -> Any:
        from websockets.sync.client import connect

        return connect(f"ws://127.0.0.1:{self.port}/api/v1/stream?token={self.token}", open_timeout=20)

    def login(self, page: Any) -> None:
        page.goto(f"{self.url}/app")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.locator('[data-window="24h"] .pv-figure-value').wait_for(timeout=90_000)


def recv_json(ws: Any, timeout: float) -> dict[str, Any] | None:
    try:
        return dict(json.loads(ws.recv(timeout=timeout)))
    except TimeoutError:
        return None
