"""``perpvol sim hyperliquid`` flags (``perpvol_sim.hyperliquid.cli``) and the simulator's fault injection."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from perpvol_sim import faults as fault_kinds
from perpvol_sim.hyperliquid import HyperliquidSim
from perpvol_sim.hyperliquid.cli import SIM_FLAGS, build
from perpvol_sim.server import free_port


def test_flags_become_readings() -> None:
    flags = {flag for flag, _, _ in SIM_FLAGS}
    assert {"--page-cap", "--window-pick", "--end-inclusive", "--number-style", "--old-window", "--retention-cap",
            "--retention-days", "--retention-counts-spot", "--fee-includes-builder", "--self-trade-tid",
            "--self-trade-two-rows", "--hip3-mode", "--mixed-case", "--rate-limit-body", "--retry-after-s",
            "--update-flag", "--snapshot-depth", "--idle-timeout-s", "--max-connection-s", "--daily-days",
            "--portfolio-day", "--extra-weight-per-items", "--burst"} <= flags  # fmt: skip
    args = argparse.Namespace(port=free_port(), seed=3, fills=30, sim_args=[
        "--page-cap", "500", "--window-pick", "latest", "--end-inclusive", "no", "--retention-days", "none",
        "--idle-timeout-s", "12.5", "--greeting", "none", "--sub-accounts", "1"])  # fmt: skip
    sim = build(args)
    config = sim.config
    assert (config.page_cap, config.window_pick, config.end_inclusive) == (500, "latest", False)
    assert (config.retention_days, config.idle_timeout_s, config.greeting) == (None, 12.5, None)
    assert len(sim.sub_addresses) == 1 and len(sim.history.fills) == 30
    with pytest.raises(SystemExit):
        build(argparse.Namespace(port=1, seed=1, fills=1, sim_args=["--number-style", "hex"]))
    with pytest.raises(ValueError, match="page_cap"):
        HyperliquidSim(seed=1, n_fills=1, page_cap=0)
    with pytest.raises(TypeError, match="unknown simulator options"):
        HyperliquidSim(seed=1, n_fills=1, page_size=5)


@pytest.fixture
def served_process() -> Iterator[tuple[str, str]]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments: `perpvol sim hyperliquid`
        [sys.executable, "-m", "perpvol_cli.main", "sim", "hyperliquid", "--port", str(port), "--fills", "60",
         "--number-style", "strings", "--page-cap", "25"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("Hyperliquid simulator on http://127.0.0.1:")
        address = lines[1].split()[1]
        yield f"http://127.0.0.1:{port}", address
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_command_serves_with_its_flags(served_process: tuple[str, str]) -> None:
    base_url, address = served_process
    page = httpx.post(base_url + "/info", json={"type": "userFillsByTime", "user": address, "startTime": 0},
                      timeout=10).json()  # fmt: skip
    assert len(page) == 25 and all(isinstance(f["tid"], str) for f in page)


def test_injected_faults() -> None:
    with HyperliquidSim(seed=8, n_fills=40) as sim, httpx.Client(base_url=sim.base_url, timeout=10) as client:
        body = {"type": "userFills", "user": sim.address}
        sim.faults.force(fault_kinds.RATE_LIMIT)
        assert client.post("/info", json=body).status_code == 429
        sim.faults.force(fault_kinds.SERVER_ERROR)
        failed = client.post("/info", json=body)
        assert failed.status_code == 500 and failed.headers["content-type"].startswith("text/plain")
        sim.faults.force(fault_kinds.TRUNCATE)
        with pytest.raises(json.JSONDecodeError):
            json.loads(client.post("/info", json=body).text)
        assert len(client.post("/info", json=body).json()) == 40
        assert sim.rate_limited == 1
