"""scripts/check_deps.py and scripts/gen_environment.py (both run by ``make lint``), as commands on a small
project written here: each disagreement they must catch makes them exit 1 and name it; this checkout passes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PYPROJECT = """\
[project]
name = "mini"
requires-python = ">=3.11"
dependencies = ["httpx>=0.28.1,<0.29", "psycopg[binary]>=3.3.9,<4"{more}]

[project.optional-dependencies]
test = ["pytest>=9.2.0,<10", "PyYAML>=6.0.4,<7"]

[tool.perpvol.check-deps]
product = ["perpvol_core"]
dev = ["tests"]

[tool.perpvol.check-deps.used-without-import]
psycopg = "the database driver"
"""
LOCK = "httpx==0.28.1\npsycopg==3.3.9\npsycopg-binary==3.3.9\npytest==9.2.0\nPyYAML==6.0.4\n"


def run(script: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(more=""))
    (tmp_path / "constraints.txt").write_text(LOCK)
    (tmp_path / "perpvol_core").mkdir()
    (tmp_path / "perpvol_core" / "__init__.py").write_text("import json\n\nimport httpx\nfrom perpvol_core import x\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("import pytest\nimport yaml\n\nfrom tests import y\n")
    return tmp_path


def test_this_checkout_passes_both_checks() -> None:
    for script, args in (("check_deps.py", ()), ("gen_environment.py", ("--check",))):
        proc = run(script, REPO, *args)
        assert proc.returncode == 0, proc.stderr


def test_check_deps_names_each_disagreement(mini: Path) -> None:
    assert run("check_deps.py", mini).returncode == 0, run("check_deps.py", mini).stderr
    core = mini / "perpvol_core" / "__init__.py"
    cases = {
        # the product imports what only the tests declare, inside a function too
        "product": (lambda: core.write_text(core.read_text() + "\ndef f():\n    import yaml\n"),
                    "yaml (imported by perpvol_core/__init__.py) comes from pyyaml, not declared in the dependencies"),
        # the tests import something no group declares
        "tests": (lambda: (mini / "tests" / "test_x.py").write_text("import tenacity\n"),
                  "tenacity (imported by tests/test_x.py) comes from tenacity, not declared in any group"),
        # a runtime dependency nothing imports and nobody explained
        "unused": (lambda: ((mini / "pyproject.toml").write_text(PYPROJECT.format(more=', "tqdm>=4.70.1,<5"')),
                            (mini / "constraints.txt").write_text(LOCK + "tqdm==4.70.1\n")),
                   "tqdm is declared but never imported by the product"),
        "exact pin": (lambda: (mini / "pyproject.toml").write_text(
            PYPROJECT.replace('"httpx>=0.28.1,<0.29"', '"httpx==0.28.1"').format(more="")),
                      "'httpx==0.28.1' pins an exact version"),
        "outside range": (lambda: (mini / "constraints.txt").write_text(LOCK.replace("httpx==0.28.1", "httpx==0.29.0")),
                          "httpx==0.29.0 is outside the declared range"),
        "unpinned": (lambda: (mini / "constraints.txt").write_text(LOCK.replace("pytest==9.2.0\n", "")),
                     "pytest is declared but not pinned"),
        "not exact": (lambda: (mini / "constraints.txt").write_text(LOCK.replace("pytest==9.2.0", "pytest>=9")),
                      "'pytest>=9' is not an exact name==version pin"),
    }
    originals = {p: p.read_text() for p in (core, mini / "tests" / "test_x.py", mini / "pyproject.toml",
                                            mini / "constraints.txt")}  # fmt: skip
    for name, (break_it, expected) in cases.items():
        break_it()
        proc = run("check_deps.py", mini)
        assert proc.returncode == 1 and expected in proc.stderr, (name, proc.stderr)
        for path, text in originals.items():
            path.write_text(text)
    assert run("check_deps.py", mini).returncode == 0


def test_gen_environment_writes_the_lock_and_check_fails_when_stale(mini: Path) -> None:
    assert run("gen_environment.py", mini, "--check").returncode == 1  # none written yet
    assert run("gen_environment.py", mini).returncode == 0
    env = (mini / "environment.yml").read_text()
    assert "  - python=3.11\n" in env and "      - psycopg[binary]==3.3.9\n" in env and "      - -e .\n" in env
    assert "      - psycopg-binary==3.3.9\n" in env and "      - PyYAML==6.0.4\n" in env  # the rest of the lock
    assert run("gen_environment.py", mini, "--check").returncode == 0
    (mini / "constraints.txt").write_text(LOCK.replace("httpx==0.28.1", "httpx==0.28.2"))  # the lock moved
    proc = run("gen_environment.py", mini, "--check")
    assert proc.returncode == 1 and "environment.yml is stale" in proc.stderr
    assert "+      - httpx==0.28.2" in proc.stderr
    assert run("gen_environment.py", mini).returncode == 0
    (mini / "environment.yml").write_text(env.replace("- pip\n", "- pip\n  - numpy\n"))  # edited by hand
    assert run("gen_environment.py", mini, "--check").returncode == 1
    (mini / "constraints.txt").write_text(LOCK.replace("pytest==9.2.0\n", ""))  # a declared package not locked
    proc = run("gen_environment.py", mini)
    assert proc.returncode == 1 and "pytest is declared in pyproject.toml but not in constraints.txt" in proc.stderr
