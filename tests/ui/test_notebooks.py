"""The notebooks run (nbval) against a demo store; the Voila read-only view renders without the vault.

Every notebook is executed in a real kernel of this venv by ``python -m pytest --nbval-lax`` in a
subprocess whose environment points ``PERPVOL_DATABASE_URL``/``PERPVOL_HOME`` at a temporary SQLite store
seeded from the simulators' histories (``perpvol_sim.demo``). The read-only view (module and
notebook) runs with NO master key configured, and must neither import the vault nor create a key file.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat
import pytest

from perpvol_sim.demo import demo_accounts, seed_demo_store
from perpvol_sim.server import free_port

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
STRIP_SCRIPT = REPO / "scripts" / "strip_notebook_outputs.py"
BIN = Path(sys.executable).parent
DEMO_FILLS = 1500
CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: Modules the read-only view must never load: the vault, credentials and everything that syncs.
# The venue registry (display names, colours, the credential kinds' models: shapes, never a secret) is what
# the view names venues by; the vault, the sync and the live feed are what it must never load.
FORBIDDEN_MODULES = (
    "perpvol_core.security.vault",
    "perpvol_core.security.key_file",
    "perpvol_core.services.sync",
    "perpvol_core.services.live",
)


def _clean_env(home: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env.update(PERPVOL_HOME=str(home), PERPVOL_DATABASE_URL=db_url, PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store seeded with one WOO X and one Paradex simulator history (no credentials)."""
    folder = tmp_path_factory.mktemp("demo-db")
    url = f"sqlite:///{folder / 'perpvol.db'}"
    store = seed_demo_store(url, seed=7, fills=DEMO_FILLS)
    assert store.fill_count() == DEMO_FILLS * len(demo_accounts())
    store.close()
    return url


def _files(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir()) if home.exists() else []


# -- committed notebooks are clean ------------------------------------------------------------------


def test_notebooks_exist() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"dashboard.ipynb", "explore.ipynb", "readonly.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: run scripts/strip_notebook_outputs.py"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata


def _strip_script():  # noqa: ANN202 - the script module, loaded from scripts/
    spec = importlib.util.spec_from_file_location("strip_notebook_outputs", STRIP_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_strip_script_check_mode_and_strip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _strip_script()
    assert script.main(["--check"]) == 0  # the committed notebooks
    dirty = tmp_path / "dirty.ipynb"
    nb = nbformat.read(NOTEBOOK_DIR / "readonly.ipynb", as_version=4)
    sources = [c.source for c in nb.cells]
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.execution_count = 3
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="volume 123\n")]
    nb.metadata["widgets"] = {"state": {}}
    nbformat.write(nb, dirty)
    capsys.readouterr()
    assert script.main(["--check", str(dirty)]) == 1
    assert "dirty.ipynb" in capsys.readouterr().out
    assert script.main([str(dirty)]) == 0
    assert script.main(["--check", str(dirty)]) == 0
    stripped = nbformat.read(dirty, as_version=4)
    nbformat.validate(stripped)
    assert [c.source for c in stripped.cells] == sources


# -- the read-only view has no access to the vault ----------------------------------------------------


def test_readonly_module_imports_nothing_secret() -> None:
    tree = ast.parse((REPO / "perpvol_app" / "ui" / "readonly.py").read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{a.name}" for a in node.names)
    for name in imported:
        assert not name.startswith(FORBIDDEN_MODULES), f"readonly.py imports {name}"


def test_readonly_view_runs_without_master_key_and_never_loads_vault(tmp_path: Path, demo_db: str) -> None:
    home = tmp_path / "home"
    # a configured key file that does not exist: the vault would refuse to open; the view never asks
    missing_key = tmp_path / "nowhere" / "master.key"
    code = (
        "import json, sys\n"
        "from perpvol_app.ui.readonly import readonly_view\n"
        "view = readonly_view()\n"
        "names = [getattr(o, 'name', '') for o in view.objects]\n"
        "print(json.dumps({'modules': sorted(m for m in sys.modules if m.startswith('perpvol')), 'names': names}))\n"
    )
    env = _clean_env(home, demo_db, PERPVOL_MASTER_KEY_FILE=str(missing_key))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in FORBIDDEN_MODULES:
        assert not any(m == name or m.startswith(name + ".") for m in out["modules"]), f"{name} was imported"
    assert {"headline", "daily-chart", "breakdown", "market-chart"} <= set(out["names"])
    assert not missing_key.exists() and not missing_key.parent.exists()
    assert "master.key" not in _files(home)


# -- the notebooks run under nbval ------------------------------------------------------------------------


def _nbval(notebooks: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
        "--timeout=240", "-o", "addopts=", *map(str, notebooks),
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


def test_notebooks_run_under_nbval(tmp_path: Path, demo_db: str) -> None:
    """All notebooks, cell by cell, in one kernel per notebook (``--nbval-lax``: errors fail, outputs are free).

    The dashboard has the Keys section, so it opens the vault: it gets a key file, as ``perpvol serve``
    has. The read-only notebook runs WITHOUT any key in the Voila tests below.
    """
    from perpvol_core.security.vault import generate_key, write_key_file

    key_file = tmp_path / "keys" / "master.key"
    key_file.parent.mkdir(mode=0o700)
    write_key_file(key_file, generate_key())
    db_copy = tmp_path / "perpvol.db"  # the vault records its key check: keep the shared demo db untouched
    shutil.copy(demo_db.removeprefix("sqlite:///"), db_copy)
    env = _clean_env(tmp_path / "home", f"sqlite:///{db_copy}", PERPVOL_MASTER_KEY_FILE=str(key_file))
    proc = _nbval(NOTEBOOKS, env)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


# -- the Voila view ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory: pytest.TempPathFactory, demo_db: str) -> Iterator[tuple[str, Path]]:
    """``voila notebooks/readonly.ipynb`` on a free port, with the demo store and no master key."""
    voila = BIN / "voila"
    if not voila.exists():
        pytest.skip(f"voila is not installed in {BIN}")
    home = tmp_path_factory.mktemp("voila-home")
    port = free_port()
    log = home.parent / "voila.log"
    with open(log, "w") as log_fh:
        proc = subprocess.Popen(
            [str(voila), "notebooks/readonly.ipynb", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
            cwd=REPO, env=_clean_env(home, demo_db), stdout=log_fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"voila exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"voila did not start:\n{log.read_text()[-3000:]}")
                    time.sleep(0.5)
            yield url, home
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=180) as resp:  # noqa: S310 - loopback only
        return resp.status, resp.read().decode("utf-8", "replace")


def test_voila_renders_aggregates_without_keys(voila_url: tuple[str, Path]) -> None:
    url, home = voila_url
    status, page = _get(url)
    assert status == 200
    # the executed view is in the page: the figures (Bokeh documents) and the aggregate tables
    assert "Daily perp volume (USD)" in page and "Volume by market (USD)" in page
    assert page.count("application/vnd.holoviews_exec.v0+json") >= 1
    for marker in ("pv-by-exchange", "pv-by-market", "pv-exchange-breakdown", "All time"):
        assert marker in page, marker
    # the Bokeh models of the rendered documents (the page also inlines BokehJS itself, whose library
    # code mentions every widget, so look at the serialized models, not at raw strings)
    models = re.findall(r'type\\*":\\*"object\\*",\\*"name\\*":\\*"([A-Za-z_.]+)', page)
    assert models.count("Figure") >= 2, sorted(set(models))
    inputs = [m for m in models if re.search(r"(Input|TextArea|Button|Select|Picker|Toggle|Checkbox)$", m)]
    assert inputs == [], f"the read-only view has input widgets: {inputs}"
    assert "Traceback" not in page and "master.key" not in page
    assert "master.key" not in _files(home)
    # the perpvol template (voila.json): no stylesheet or script from another host (Voila's lab template
    # links Font Awesome from a CDN), and Panel's JupyterLab plugin is not loaded (it fails in Voila)
    external = re.findall(r'<(?:link|script)\b[^>]*\b(?:href|src)="((?:https?:)?//[^"]*)"', page)
    assert external == [], external
    config = json.loads(re.search(r'<script id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    extensions = {e["name"] for e in config["federated_extensions"]}
    assert "@pyviz/jupyterlab_pyviz" not in extensions, extensions


@pytest.mark.browser
def test_voila_page_draws_charts_in_a_browser(voila_url: tuple[str, Path], tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (make chromium)")
    from playwright.sync_api import sync_playwright

    url, _home = voila_url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1600})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, timeout=180_000)
            page.wait_for_selector(".pv-card", timeout=120_000)
            # Playwright's CSS engine pierces (nested) shadow roots, where Panel renders the plots
            page.locator("canvas").first.wait_for(timeout=120_000)
            assert page.locator(".bk-Canvas, .bk-canvas, canvas").count() >= 2
            assert page.locator("input[type=password]").count() == 0
            assert page.locator(".pv-ro input, .pv-ro textarea").count() == 0
            assert page.locator(".pv-card").count() == 4
            page.screenshot(path=str(tmp_path / "voila.png"), full_page=True)
            assert not [e for e in errors if "sprintf" in e or "Bokeh" in e], errors
        finally:
            browser.close()


#: Every Bokeh figure of the page: its title, its canvas and its frame (the plotting area), in page pixels.
_FIGURES_JS = """() => {
  const out = [];
  const walk = (view) => {
    if (view.model.type === "Figure") {
      const host = view.el.getBoundingClientRect();
      const f = view.frame.bbox;
      out.push({title: view.model.title ? view.model.title.text : "",
                canvas: {left: host.left, right: host.right, width: host.width},
                frame: {left: host.left + f.x, right: host.left + f.x + f.width, width: f.width}});
    }
    for (const child of (view.child_views || [])) walk(child);
  };
  for (const key of Object.keys(Bokeh.index)) walk(Bokeh.index[key]);
  return out;
}"""


def _is_local(url: str) -> bool:
    """A request to this machine's Voila: 127.0.0.1, or an in-page blob:/data: URL."""
    if url.startswith("data:"):
        return True
    return urlsplit(url.removeprefix("blob:")).hostname == "127.0.0.1"


@pytest.mark.browser
@pytest.mark.parametrize(
    ("name", "width", "height"),
    [("desktop", 1280, 900), ("phone", 390, 844), ("phone-360", 360, 740), ("phone-414", 414, 896)],
)
def test_voila_page_is_black_titled_once_and_fits(voila_url: tuple[str, Path], name: str, width: int,
                                                  height: int) -> None:  # fmt: skip
    """Black, one title, every request served by the local Voila (offline), no console error, and the
    charts inside the viewport: no horizontal page scroll, each chart's canvas and plotting frame on
    screen, the daily chart's frame taking most of its canvas (not pushed right by the market chart)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (make chromium)")
    from playwright.sync_api import sync_playwright

    url, _home = voila_url
    local = url.rstrip("/")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            bad: list[str] = []
            requested: list[str] = []
            failed: list[str] = []
            errors: list[str] = []
            page.on("response", lambda r: bad.append(f"{r.status} {r.url}")
                    if r.status >= 400 and r.url.startswith(local) else None)  # fmt: skip
            page.on("request", lambda r: requested.append(r.url))
            page.on("websocket", lambda ws: requested.append(ws.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, timeout=180_000)
            page.wait_for_selector(".pv-card", timeout=120_000)
            page.locator("canvas").first.wait_for(timeout=120_000)
            page.wait_for_function(f"() => ({_FIGURES_JS})().length === 2", timeout=120_000)
            facts = page.evaluate("""() => ({bg: getComputedStyle(document.body).backgroundColor,
                                             scroll: document.documentElement.scrollWidth, vw: window.innerWidth})""")
            assert facts["bg"] == "rgb(0, 0, 0)", facts
            assert facts["scroll"] == facts["vw"] == width, facts
            text = page.locator("body").inner_text()
            assert "Render it with" not in text and "voila notebooks" not in text
            assert page.locator("text=perpvol — perpetual volume").count() == 1
            assert "read-only view" not in text
            assert not bad, bad  # the theme CSS and every other local resource is served
            assert [u for u in requested if not _is_local(u)] == []  # offline: no CDN (Font Awesome was)
            assert failed == []
            assert errors == []  # e.g. the pyviz lab extension's "Shared module ... doesn't exist"
            figures: list[dict[str, Any]] = page.evaluate(_FIGURES_JS)
            assert sorted(f["title"] for f in figures) == ["Daily perp volume (USD)", "Volume by market (USD)"]
            for fig in figures:
                for box in (fig["canvas"], fig["frame"]):
                    assert 0 <= box["left"] < box["right"] <= width, fig
            daily = next(f for f in figures if f["title"].startswith("Daily"))
            # its frame starts after its own y axis: with the frames aligned it began ~200 px in
            assert daily["frame"]["width"] >= 0.6 * daily["canvas"]["width"], daily
            out = REPO / "artifacts"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / f"voila-{name}.png"), full_page=True)
        finally:
            browser.close()


def test_readonly_chart_ticks_keep_two_decimals(demo_db: str) -> None:
    """The y ticks read "$1.5m", "$2m", "$2.5m" (the "$0,0a" format printed "$2m" for 1.5m and 2m)."""
    import holoviews as hv

    from perpvol_app.ui import readonly
    from perpvol_core.store import Store

    readonly.use_theme()
    store = Store(demo_db)
    try:
        fig = hv.render(readonly.daily_chart(readonly.load(store)), backend="bokeh")
    finally:
        store.close()
    assert fig.yaxis[0].formatter.format == "$0.[00]a"
    assert fig.toolbar.logo is None and fig.sizing_mode == "stretch_width"


def test_explore_notebook_passes_while_fills_keep_landing(tmp_path: Path, demo_db: str) -> None:
    """explore.ipynb compares the fills with the aggregates: it must pass while live fills are ingested.

    A writer thread adds a counted fill every ~10 ms to the notebook's database for the whole
    run (as the live demo does); the notebook reads one data version (``FrozenStore``)."""
    import threading

    from perpvol_core.store import Store
    from perpvol_sim.demo import sim_fills

    db_copy = tmp_path / "perpvol.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), db_copy)
    url = f"sqlite:///{db_copy}"
    writer_store = Store(url)
    account = writer_store.get_account("demo-woox")
    now_ms = int(time.time() * 1000)
    # fresh fills (new ids, later than every stored one) from another seed's history
    live = [f for f in sim_fills("woox", 99, 4000, now_ms=now_ms + 86_400_000) if f.counted]
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        for fill in live:
            if stop.wait(0.01):
                return
            written.append(writer_store.ingest_fills(account.id, [fill]))

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        proc = _nbval([NOTEBOOK_DIR / "explore.ipynb"], _clean_env(tmp_path / "home", url))
    finally:
        stop.set()
        thread.join(10)
        writer_store.close()
    assert sum(written) > 0, "no fill landed during the run"
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
