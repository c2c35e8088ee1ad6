"""The built wheel is the product: installed into a fresh virtualenv, the app imports, loads its theme, renders
the dashboard and migrates a database from the installed files alone (not from this checkout).

The wheel is built from a copy of the sources, so the checkout gets no ``build/``. The fresh venv gets the
wheel (``--no-deps``) and, for the third-party dependencies only, the project venv's site-packages as a plain
path line in a ``.pth`` file: a path line does not run that directory's own ``.pth`` files, so the project's
editable-install finder (``__editable__*``) never loads and cannot shadow the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("perpvol_core", "perpvol_cli", "perpvol_app", "perpvol_sim")

# Run by the fresh venv's python, cwd outside the checkout, in isolated mode (-I: no PYTHONPATH, no cwd).
_PROBE = r"""
import importlib.resources, json, sys
from pathlib import Path

checkout, home = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
from perpvol_app.ui import dashboard, theme
from perpvol_core.config import Settings

theme.apply_theme()
css = Path(theme.CSS_FILE)
app = dashboard.create_app(Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}"))
page = home / "page.html"
app.save(str(page))
versions = importlib.resources.files("perpvol_core.store") / "migrations" / "versions"
from perpvol_core.store import Store
store = Store(f"sqlite:///{home / 'perpvol.db'}")
with store._engine.connect() as conn:
    from alembic.migration import MigrationContext
    revision = MigrationContext.configure(conn).get_current_revision()
print(json.dumps({
    "modules": {n: getattr(m, "__file__", None) for n, m in sys.modules.items()
                if n.split(".")[0] in ("perpvol_core", "perpvol_cli", "perpvol_app", "perpvol_sim")},
    "css": str(css), "css_text": css.read_text()[:200],
    "migrations": sorted(p.name for p in versions.iterdir() if p.name.endswith(".py")),
    "revision": revision,
    "page_has_dashboard": "pv-headline" in page.read_text(),
    "finders": [type(f).__name__ + ":" + getattr(type(f), "__module__", "") for f in sys.meta_path],
    "site": [p for p in sys.path if p],
}))
"""


def _copy_sources(dest: Path) -> Path:
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = _copy_sources(work / "src")
    out = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", str(out),
         str(src)],
        check=True, cwd=work, timeout=600,
    )  # fmt: skip
    (built,) = out.glob("perpvol-*.whl")
    return built


def test_the_wheel_holds_every_source_and_data_file(wheel: Path) -> None:
    """Every file of the four packages (migrations, themes, templates, …) is in the wheel, and nothing else."""
    names = {n for n in zipfile.ZipFile(wheel).namelist() if not n.startswith("perpvol-")}
    want = {
        p.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for p in (ROOT / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "perpvol_core/store/migrations/env.py" in want and "perpvol_app/themes/perpvol.css" in want
    assert sorted(want - names) == []  # a data file left out of [tool.setuptools.package-data]
    assert sorted(names - want) == []


def test_the_installed_wheel_imports_themes_and_renders_the_dashboard(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         "--disable-pip-version-check", "-q", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", purelib], text=True).strip())
    project_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_project_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(project_site)))

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PYTHON"))}
    run = subprocess.run(
        [str(python), "-I", "-c", _PROBE, str(ROOT), str(home)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])

    modules = report["modules"]
    assert "perpvol_app.ui.dashboard" in modules and "perpvol_app.ui.theme" in modules
    assert "perpvol_core.store.store" in modules
    for name, file in modules.items():
        assert file is not None, name
        path = Path(file).resolve()
        assert path.is_relative_to(site.resolve()), f"{name} came from {path}, not the installed wheel"
        assert not path.is_relative_to(ROOT), f"{name} came from the checkout"
    css = Path(report["css"]).resolve()
    assert css.is_relative_to(site.resolve()) and css.name == "perpvol.css"
    assert report["css_text"] == (ROOT / "perpvol_app/themes/perpvol.css").read_text()[:200]
    shipped = sorted(p.name for p in (ROOT / "perpvol_core/store/migrations/versions").glob("*.py"))
    assert report["migrations"] == shipped
    assert report["revision"] == sorted(report["migrations"])[-1].split("_")[0]
    assert report["page_has_dashboard"]
    assert not any("editable" in f.lower() for f in report["finders"]), report["finders"]
    assert str(ROOT) not in report["site"]
