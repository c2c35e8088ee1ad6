"""``perpvol export --out`` writes only to a new path or over an existing regular file.

The export is a temporary file renamed over the target, so anything else there (a device, a FIFO, a folder,
a symbolic link) would be replaced: refused with our message, exit 2, the target untouched. The device is a
copy of ``/dev/full`` made with mknod in the test's folder, so the machine's own ``/dev/full`` is never at risk.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from perpvol_core.config import Settings
from perpvol_core.store import Store
from tests.cli.test_cli_foundation import make_env, run
from tests.store.test_store import make_fills


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = make_env(tmp_path / "home")
    store = Store.open(Settings.from_env(env))
    store.ingest_fills(store.add_account("w", "woox", None, b"x", "h").id, make_fills(3, 40))
    store.close()
    return env


def _device(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # what /dev/full is
    except PermissionError:
        pytest.skip("this user cannot create a device node")


def _symlink(path: Path) -> None:
    (path.parent / "real.csv").write_text("keep me\n")
    path.symlink_to(path.parent / "real.csv")


TARGETS: dict[str, tuple[Callable[[Path], None], str]] = {
    "device": (_device, "is a device"),
    "fifo": (lambda p: os.mkfifo(p), "is a FIFO"),
    "folder": (lambda p: p.mkdir(), "is a folder"),
    "symlink": (_symlink, "is a symbolic link"),
}


@pytest.mark.parametrize("kind", list(TARGETS))
def test_export_refuses_a_target_that_is_not_a_regular_file(tmp_path: Path, env: dict[str, str], kind: str) -> None:
    make, words = TARGETS[kind]
    out = tmp_path / "out" / "target"
    out.parent.mkdir()
    make(out)
    before = out.lstat()
    res = run(env, "export", "--format", "csv", "--out", str(out))
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert f"{out} {words}" in res.stderr and "Traceback" not in res.stderr and "exported" not in res.stdout
    after = out.lstat()
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    if kind == "symlink":
        assert (tmp_path / "out" / "real.csv").read_text() == "keep me\n"
    expected = ["real.csv", "target"] if kind == "symlink" else ["target"]
    assert sorted(p.name for p in out.parent.iterdir()) == expected  # no temp file left behind


@pytest.mark.parametrize("existing", [False, True])
def test_export_writes_a_new_path_or_over_a_regular_file(tmp_path: Path, env: dict[str, str], existing: bool) -> None:
    out = tmp_path / "fills.csv"
    if existing:
        out.write_text("an older export\n")
    res = run(env, "export", "--format", "csv", "--out", str(out))
    assert res.returncode == 0, res.stderr
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 40 and stat.S_ISREG(out.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fills.csv")] == []  # no temp file left
