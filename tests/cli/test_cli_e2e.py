"""A new user's path, end to end over real HTTP and a real database: start both simulators, add their
credentials with ``perpvol keys add`` (tested against the exchange before saving), ``perpvol sync``,
and ``perpvol volume --json --daily`` equals the simulators' truth day by day."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from perpvol_sim.history import History
from perpvol_sim.paradex import ParadexSim
from perpvol_sim.woox import DEMO_API_KEY, DEMO_API_SECRET, WooxSim

PERPVOL = [sys.executable, "-m", "perpvol_cli.main"]
NOW_MS = int(time.time() * 1000)


def run(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PERPVOL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


@pytest.fixture
def sims():
    # 729 days of history: the CLI syncs 730 days back from its own (later) clock, so every generated fill
    # is inside the window; the exact two-year boundary is tested with a fixed clock in test_sync.py.
    woox = WooxSim(History("woox", 31, 1200, now_ms=NOW_MS, days=729))
    paradex = ParadexSim(History("paradex", 32, 1200, now_ms=NOW_MS, days=729))
    woox.start()
    paradex.start()
    try:
        yield woox, paradex
    finally:
        woox.stop()
        paradex.stop()


def _combined_truth(*histories: History) -> dict[tuple[str, str], dict]:
    truth = {}
    for exchange, history in histories:
        for day, row in history.expected_daily().items():
            truth[(day, exchange)] = row
    return truth


def test_new_user_adds_keys_syncs_and_sees_exact_daily_volume(sims, db_url: str, tmp_path: Path) -> None:
    woox, paradex = sims
    env = dict(os.environ, PERPVOL_HOME=str(tmp_path / "home"), PERPVOL_DATABASE_URL=db_url)
    token = paradex.mint_read_only_token()

    bad = run(env, "keys", "add", "woox", "--label", "bad", "--api-key", DEMO_API_KEY, "--api-secret-stdin",
              "--base-url", woox.base_url, stdin="not-the-secret-at-all")
    assert bad.returncode != 0
    assert "not-the-secret-at-all" not in bad.stdout + bad.stderr
    assert "credential" in (bad.stdout + bad.stderr).lower()

    added = run(env, "keys", "add", "woox", "--label", "woo", "--api-key", DEMO_API_KEY, "--api-secret-stdin",
                "--base-url", woox.base_url, stdin=DEMO_API_SECRET)
    assert added.returncode == 0, added.stderr
    added = run(env, "keys", "add", "paradex", "--label", "dex", "--token-stdin",
                "--base-url", paradex.api_url, stdin=token)
    assert added.returncode == 0, added.stderr

    listed = run(env, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    labels = {row["label"] for row in json.loads(listed.stdout)}
    assert labels == {"woo", "dex"}
    assert DEMO_API_SECRET not in listed.stdout and token not in listed.stdout

    tested = run(env, "keys", "test", "woo")
    assert tested.returncode == 0, tested.stderr

    synced = run(env, "sync")
    assert synced.returncode == 0, synced.stderr + synced.stdout
    for secret in (DEMO_API_SECRET, token):
        assert secret not in synced.stdout + synced.stderr

    report = run(env, "volume", "--json", "--daily")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    got = {(row["date"], row["exchange"]): row for row in data["daily"]}
    truth = _combined_truth(("woox", woox.history), ("paradex", paradex.history))
    assert set(got) == set(truth)
    for key, expected in truth.items():
        row = got[key]
        assert Decimal(row["volume_usd"]) == expected["volume_usd"], key
        assert Decimal(row["maker_usd"]) == expected["maker_usd"], key
        assert Decimal(row["taker_usd"]) == expected["taker_usd"], key
        assert Decimal(row["fees_usd"]) == expected["fees_usd"], key
        assert row["fills"] == expected["fills"], key
    total = sum((v["volume_usd"] for v in truth.values()), Decimal(0))
    assert Decimal(data["totals"]["all"]) == total

    # nothing new: a second sync succeeds and changes nothing
    again = run(env, "sync")
    assert again.returncode == 0, again.stderr
    assert json.loads(run(env, "volume", "--json", "--daily").stdout)["daily"] == data["daily"]


def test_sync_exits_non_zero_when_an_account_fails(sims, sqlite_url: str, tmp_path: Path) -> None:
    woox, paradex = sims
    env = dict(os.environ, PERPVOL_HOME=str(tmp_path / "home"), PERPVOL_DATABASE_URL=sqlite_url)
    token = paradex.mint_read_only_token()
    assert run(env, "keys", "add", "paradex", "--label", "dex", "--token-stdin",
               "--base-url", paradex.api_url, stdin=token).returncode == 0
    paradex.revoke_token(token)
    result = run(env, "sync")
    assert result.returncode != 0
    assert "dex" in result.stdout + result.stderr
    assert token not in result.stdout + result.stderr
    listed = json.loads(run(env, "keys", "list", "--json").stdout)
    assert listed[0]["status"] == "error"


def _keys_add_argv(venue: str, label: str, credentials: dict, base_url: str) -> tuple[list[str], str | None]:
    """``keys add <venue>`` for a simulator's credentials: each field by its option; a secret on stdin."""
    from perpvol_cli.venues import credential_options

    options = {o.field: o for o in credential_options(venue)}
    argv, stdin = ["keys", "add", venue, "--label", label, "--base-url", base_url], None
    for field, value in credentials.items():
        if field == "kind":
            continue
        opt = options[field]
        if opt.secret:
            argv.append(opt.flag)
            stdin = str(value)
        else:
            argv += [opt.flag, str(value)]
    return argv, stdin


def test_every_registered_venue_end_to_end(db_url: str, tmp_path: Path) -> None:
    """For each venue of the registry, a new user's path against its simulator (``demo_venue``):
    ``keys add <venue>`` with the options its credential kinds give, ``sync``, and ``volume --json --daily``
    equals the simulator's truth on every day from the account's ``complete_from``; earlier days are not
    covered (never counted as a full day)."""
    from perpvol_app.serve import simulator
    from perpvol_core.exchanges import VENUES

    env = dict(os.environ, PERPVOL_HOME=str(tmp_path / "home"), PERPVOL_DATABASE_URL=db_url)
    sims = {name: simulator(name).demo_venue(40 + i, 400, NOW_MS, 729) for i, name in enumerate(VENUES)}
    for sim in sims.values():
        sim.start()
    try:
        for name, sim in sims.items():
            argv, stdin = _keys_add_argv(name, f"e2e-{name}", sim.credentials(), sim.base_url)
            added = run(env, *argv, stdin=stdin)
            assert added.returncode == 0, added.stderr
        synced = run(env, "sync")
        assert synced.returncode == 0, synced.stderr + synced.stdout
        listed = {row["exchange"]: row for row in json.loads(run(env, "keys", "list", "--json").stdout)}
        assert set(listed) == set(VENUES)
        data = json.loads(run(env, "volume", "--json", "--daily").stdout)
        for name, sim in sims.items():
            complete_from = listed[name]["complete_from"]
            assert complete_from, name  # every account, of every venue, says from which day it is complete
            got = {row["date"]: row for row in data["daily"] if row["exchange"] == name}
            truth = sim.history.expected_daily()
            for day, expected in truth.items():
                if day >= complete_from:
                    assert Decimal(got[day]["volume_usd"]) == expected["volume_usd"], (name, day)
                    assert got[day]["fills"] == expected["fills"], (name, day)
            assert all(row["covered"] == (day >= complete_from) for day, row in got.items()), name
            assert set(got) <= set(truth), name
    finally:
        for sim in sims.values():
            sim.stop()
