"""A server process for the browser tests: started, waited for until a page answers 200, always stopped.

One place for what every browser test did by hand: the log file, the readiness poll (bounded), the failure
message with the log's tail, and the stop (terminate, then kill).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


class Served(NamedTuple):
    """The running server and the 200 answer that showed it ready."""

    proc: subprocess.Popen[bytes]
    ready: httpx.Response


def panel_serve(port: int) -> list[str]:
    """``panel serve`` of the dashboard app on 127.0.0.1:``port`` (one process)."""
    return [sys.executable, "-m", "panel", "serve", str(ROOT / "perpvol_app" / "app.py"), "--port", str(port),
            "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}", "--num-procs", "1"]  # fmt: skip


@contextmanager
def served(
    cmd: list[str], env: Mapping[str, str], log_path: Path, ready_url: str, what: str, timeout_s: float = 120
) -> Iterator[Served]:
    """Run ``cmd`` (output to ``log_path``) until ``ready_url`` answers 200; yield the process and that answer,
    stop the process after."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"{what} exited: {log_path.read_text()[-3000:]}")
                try:
                    ready = httpx.get(ready_url, timeout=30)  # a first page may render for a while
                    if ready.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{what} did not start: {log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield Served(proc, ready)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
