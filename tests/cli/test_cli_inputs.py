"""Bounded input and one data home through the real command line (subprocesses), on SQLite and PostgreSQL.

``perpvol sync --days N`` outside 1..730 is refused in our words before anything is opened: the sync state of
every account is byte for byte what it was, and the accounts keep working. A reading command on an empty home
creates nothing and says where it looked; the demo's data is where the README's next commands look.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import Vault
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store
from perpvol_sim.history import History
from perpvol_sim.paradex import ParadexSim
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim

PERPVOL = [sys.executable, "-m", "perpvol_cli.main"]
NOW_MS = int(time.time() * 1000)


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    # the timeout only ends a hang (today `--days 99999999999` never returns); no test measures time
    return subprocess.run([*PERPVOL, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env.update(extra)
    return env


def _dump(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT s.*, a.label, a.status, a.last_error FROM sync_state s JOIN accounts a ON a.id = s.account_id "
                "ORDER BY s.account_id"))]  # fmt: skip
    finally:
        engine.dispose()


@pytest.fixture
def synced(settings):
    """Two accounts (WOO X and Paradex simulators, small histories) synced once in-process."""
    woox = WooxSim(History("woox", 41, 150, now_ms=NOW_MS, days=729))
    paradex = ParadexSim(History("paradex", 42, 150, now_ms=NOW_MS, days=729))
    woox.start()
    paradex.start()
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    for label, exchange, url, creds in (
        ("woo", "woox", woox.base_url, WooxCredentials(api_key=DEMO_API_KEY, api_secret=Secret(DEMO_API_SECRET))),
        ("dex", "paradex", paradex.api_url, ParadexTokenCredentials(token=Secret(paradex.mint_read_only_token()))),
    ):
        store.add_account(label, exchange, url, vault.encrypt(creds, label=label, base_url=url), creds.hint)
    engine = SyncEngine(store, vault)
    assert all(r.ok for r in engine.sync()), [r.error for r in engine.sync()]
    engine.close()
    store.close()
    try:
        yield _env(PERPVOL_HOME=str(settings.home), PERPVOL_DATABASE_URL=settings.database_url)
    finally:
        woox.stop()
        paradex.stop()


def test_sync_days_out_of_range_is_refused_and_changes_nothing(synced, settings) -> None:
    env = synced
    before = _dump(settings.database_url)
    assert len(before) == 2
    for days in ("0", "731", "800000", str(10**11)):
        for extra in ((), ("--label", "woo")):
            res = run(env, "sync", "--days", days, *extra)
            assert res.returncode == 2, (days, res.stdout, res.stderr)
            assert "--days" in res.stderr and "Traceback" not in res.stderr and "out of range" not in res.stderr
            assert _dump(settings.database_url) == before, days
    listed = run(env, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["label"]: r["status"] for r in json.loads(listed.stdout)} == {"woo": "ok", "dex": "ok"}
    ok = run(env, "sync", "--days", "1")  # the smallest accepted value works on both accounts
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count(" ok ") == 2
    volume = run(env, "volume", "--json")
    assert volume.returncode == 0 and json.loads(volume.stdout)["totals"]["all"] != "0"


def test_reading_commands_on_an_empty_home_create_nothing(tmp_path: Path) -> None:
    home = tmp_path / "nothing-here"
    env = _env(PERPVOL_HOME=str(home), HOME=str(tmp_path))
    for args in (("keys", "list"), ("volume",), ("verify",), ("sync",)):
        res = run(env, *args)
        assert res.returncode == 0, (args, res.stderr)
        said = res.stdout + res.stderr
        assert "no perpvol data yet" in said and str(home / "perpvol.db") in said, args
    listed = run(env, "keys", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    volume = run(env, "volume", "--json")
    assert volume.returncode == 0 and json.loads(volume.stdout)["totals"]["all"] == "0"
    export = run(env, "export", "--format", "csv", "--out", str(tmp_path / "fills.csv"))
    assert export.returncode == 1 and "nothing exported" in export.stderr
    assert not (tmp_path / "fills.csv").exists()
    assert not home.exists() and not (tmp_path / ".perpvol").exists()


def test_the_demos_data_is_where_the_readme_commands_look(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perpvol_app.serve import demo_settings
    from perpvol_sim.demo import seed_demo_store

    monkeypatch.setenv("HOME", str(tmp_path))  # the default home (~) of this process and of the commands
    env = _env(HOME=str(tmp_path))  # a new user: no PERPVOL_* variable set
    settings = demo_settings(dict(env))
    assert tmp_path in settings.home.parents
    settings.ensure_home()
    seed_demo_store(settings.database_url, fills=60, settings=settings).close()  # what the demo stores
    listed = run(env, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    from perpvol_core.exchanges import VENUES

    assert sorted(r["label"] for r in json.loads(listed.stdout)) == sorted(f"demo-{name}" for name in VENUES)
    volume = run(env, "volume", "--json")
    assert volume.returncode == 0 and json.loads(volume.stdout)["totals"]["all"] != "0"


def test_the_demo_refuses_a_home_with_the_users_own_accounts(tmp_path: Path, free_port: int) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = _env(PERPVOL_HOME=str(home), PERPVOL_PASSWORD="pw-for-the-test")
    store = Store(f"sqlite:///{home / 'perpvol.db'}")
    store.add_account("main", "woox", None, b"blob", "hint")
    store.close()
    res = run(env, "demo", "--port", str(free_port), "--fills", "20", timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "main" in res.stderr and "PERPVOL_HOME=~/.perpvol-demo make demo" in res.stderr
    store = Store(f"sqlite:///{home / 'perpvol.db'}")
    assert [a.label for a in store.list_accounts()] == ["main"]  # no simulated account mixed in
    store.close()
