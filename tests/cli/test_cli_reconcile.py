"""A new user's path to a difference: ``perpvol sim paradex --withheld-day D`` (the venue stops listing a day's
fills while its figures count them), ``keys add``, ``sync``, then ``perpvol reconcile`` exits 1 and names the day,
the amount and the cause, in text and in JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from perpvol_sim.server import free_port
from tests.cli.test_cli_e2e import PERPVOL, run


def test_a_withheld_day_is_reported_by_the_command(tmp_path: Path, sqlite_url: str) -> None:
    env = dict(os.environ, PERPVOL_HOME=str(tmp_path / "home"), PERPVOL_DATABASE_URL=sqlite_url)
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    port = free_port()
    sim = subprocess.Popen([*PERPVOL, "sim", "paradex", "--port", str(port), "--fills", "20000", "--withheld-day", day],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip
    try:
        lines = []
        deadline = time.monotonic() + 90
        while not any(line.startswith("fills") for line in lines):
            assert sim.poll() is None and time.monotonic() < deadline, "".join(lines)
            lines.append(sim.stdout.readline())  # type: ignore[union-attr]
        token = re.search(r"read-only token : (\S+)", "".join(lines)).group(1)  # type: ignore[union-attr]
        added = run(env, "keys", "add", "paradex", "--label", "p", "--base-url", f"http://127.0.0.1:{port}/v1",
                    "--token-stdin", stdin=token)  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert run(env, "sync").returncode == 0
        text = run(env, "reconcile")
        assert text.returncode == 1, text.stdout + text.stderr
        assert f"days: {day}" in text.stdout and "cause: fills not yet synced" in text.stdout, text.stdout
        listed = run(env, "reconcile", "--json", "--label", "p")
        assert listed.returncode == 1
        [account] = json.loads(listed.stdout)["accounts"]
        [row] = [r for r in account["rows"] if r["status"] == "differs" and r["period"] == "day"]
        assert row["day"] == day and Decimal(row["ours"]) == 0 < Decimal(row["theirs"]) == Decimal(row["difference"])
        assert [c["code"] for c in row["causes"]] == ["missing_fills"]
    finally:
        sim.terminate()
        sim.wait(20)
