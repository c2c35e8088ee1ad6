"""``make voila PORT=…`` and ``make docker-test``'s engine install, checked without building anything.

``make -n`` prints the recipes (nothing runs). ``scripts/ensure-docker.sh`` runs for real with a PATH where
``dockerd`` is missing and ``apt-get`` is a recorder, so the test sees what a fresh Debian machine would be
asked to install; with ``dockerd`` present it must install nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _make_n(*args: str, env: dict[str, str] | None = None) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "PORT"} | (env or {})
    proc = subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, env=environ, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.replace("\\\n", " ")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_voila_takes_a_port_and_defaults_to_8866() -> None:
    voila = [line for line in _make_n("voila", "PORT=8871").splitlines() if "bin/voila " in line]
    assert len(voila) == 1 and "--port=8871" in voila[0] and "--Voila.ip=127.0.0.1" in voila[0]
    assert "--port=8866" in _make_n("voila")
    assert "--port=8872" in _make_n("voila", env={"PORT": "8872"})  # as `make demo` reads PORT
    assert "demo --port 5006" in _make_n("demo")  # the demo keeps its own default


def _shim(tmp_path: Path, with_dockerd: bool) -> tuple[dict[str, str], Path]:
    """A PATH with the basic tools, no dockerd (unless asked) and an apt-get that records its arguments."""
    bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
    bin_dir.mkdir()
    for tool in ("bash", "id", "env", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    (bin_dir / "apt-get").write_text(
        f'#!{shutil.which("bash")}\necho "$*" >> {log}\n'
        f'[[ "$*" == *install* ]] && printf "#!/bin/sh\\n" > {bin_dir}/dockerd && chmod +x {bin_dir}/dockerd\nexit 0\n'
    )
    (bin_dir / "apt-get").chmod(0o755)
    if with_dockerd:
        (bin_dir / "dockerd").write_text("#!/bin/sh\n")
        (bin_dir / "dockerd").chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}, log


@pytest.mark.skipif(os.geteuid() != 0, reason="the script installs only as root")
@pytest.mark.parametrize("with_dockerd", [False, True])
def test_docker_test_installs_the_engine_only_when_missing(tmp_path: Path, with_dockerd: bool) -> None:
    env, log = _shim(tmp_path, with_dockerd)
    proc = subprocess.run([env["PATH"] + "/bash", str(REPO / "scripts" / "ensure-docker.sh")], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    if with_dockerd:
        assert calls == []
    else:
        assert calls[0].startswith("update") and calls[1].split()[-1] == "docker.io" and "install" in calls[1]
        assert "-y" in calls[1].split()


def test_the_smoke_script_installs_the_engine_before_starting_it_host_network_only() -> None:
    smoke = (REPO / "scripts" / "docker-smoke.sh").read_text()
    ensure, start = smoke.index("scripts/ensure-docker.sh"), smoke.index("dockerd --bridge=none --iptables=false")
    assert ensure < start
    assert "docker-test: install services compose-validator" in (REPO / "Makefile").read_text()
