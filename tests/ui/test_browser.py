"""The real page in Debian chromium: ``perpvol demo`` in a subprocess (simulators, sync, login, worker).

Checks the day count of the chart, gold-on-black computed colours, adding a key through the form
against a running Paradex simulator (it syncs and shows masked), and that the secret never reaches
the page's DOM nor any WebSocket frame sent to the browser. Writes ``artifacts/dashboard.png``.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perpvol_app.serve import DEMO_HISTORY_DAYS
from perpvol_sim.server import free_port
from tests.served import served as run_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "Browser-Test.Pass:1!"  # mixed case and punctuation: typed exactly as printed
SEED, FILLS = 5, 1200

if not Path(CHROMIUM).exists():  # pragma: no cover
    pytest.skip("Debian chromium is not installed (make chromium)", allow_module_level=True)


def _demo_ports() -> int:
    """A free port followed by one free port per registered venue (the demo's simulators)."""
    import socket

    from perpvol_core.exchanges import VENUES

    for _ in range(50):
        port = free_port()
        try:
            for p in range(port + 1, port + 1 + len(VENUES)):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no consecutive free ports for the demo")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("demo-home")
    port = _demo_ports()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env.update(PERPVOL_HOME=str(home), PERPVOL_PASSWORD=PASSWORD)
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "perpvol_cli.main", "demo", "--port", str(port), "--fills", str(FILLS),
           "--seed", str(SEED)]  # fmt: skip
    with run_server(cmd, env, home / "server.log", f"{url}/login", "perpvol demo", timeout_s=180):
        yield {"url": url, "home": home, "port": port}


def _expected_days(home: Path) -> int:
    """Days from the first simulated fill day (the History generator's own figures) to today."""
    from perpvol_app.serve import simulator
    from perpvol_core.exchanges import VENUES
    from perpvol_core.store import Store

    store = Store(f"sqlite:///{home / 'perpvol.db'}")
    try:
        now_ms = int(store.get_meta("demo_sim_now_ms"))
    finally:
        store.close()
    days = [d for e in VENUES
            for d in simulator(e).demo_venue(SEED, FILLS, now_ms, DEMO_HISTORY_DAYS).history.expected_daily()]
    first = dt.date.fromisoformat(min(days))
    return (dt.datetime.now(dt.UTC).date() - first).days + 1


_ALL_DOM = """() => {
  const parts = [];
  const walk = (root) => {
    parts.push(root.innerHTML || '');
    root.querySelectorAll('input, textarea').forEach(i => parts.push(i.value || ''));
    root.querySelectorAll('*').forEach(el => { if (el.shadowRoot) walk(el.shadowRoot); });
  };
  walk(document.documentElement);
  return parts.join('\\n');
}"""


_COLORS = """() => {
  const find = (root) => {
    const el = root.querySelector('.pv-figure-value');
    if (el) return el;
    for (const n of root.querySelectorAll('*')) {
      if (n.shadowRoot) { const f = find(n.shadowRoot); if (f) return f; }
    }
    return null;
  };
  const body = getComputedStyle(document.body);
  return {bg: body.backgroundColor, color: body.color, figure: getComputedStyle(find(document)).color};
}"""


def test_dashboard_in_chromium(demo_server: dict) -> None:
    from playwright.sync_api import sync_playwright

    from perpvol_app.ui.components.keys import kind_label
    from perpvol_core.exchanges import KINDS, VENUES
    from perpvol_sim.paradex import ParadexSim

    sim = ParadexSim(seed=21, n_fills=150)
    sim.start()
    token = sim.mint_read_only_token("browser")
    frames: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 2400})

            def on_ws(ws) -> None:  # noqa: ANN001
                ws.on("framereceived", lambda payload: frames.append(
                    payload if isinstance(payload, str) else bytes(payload).decode("utf-8", "replace")))  # fmt: skip

            page.on("websocket", on_ws)
            page.goto(f"{demo_server['url']}/app")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")

            info = page.locator("#pv-history-info")
            info.wait_for(timeout=90_000)
            page.locator("canvas").first.wait_for(timeout=60_000)
            assert int(info.get_attribute("data-days")) == _expected_days(demo_server["home"])

            colors = page.evaluate(_COLORS)
            assert colors == {"bg": "rgb(0, 0, 0)", "color": "rgb(255, 210, 48)", "figure": "rgb(255, 210, 48)"}

            # add a Paradex read-only token through the form (its kind and fields come from the registry's
            # credential model), against the running simulator
            model = KINDS["paradex_token"]
            kind = page.locator("select").filter(has=page.locator("option", has_text=kind_label(model)))
            kind.select_option(label=kind_label(model))
            label_input = page.locator(f"input[placeholder='e.g. main-{next(iter(VENUES))}']")
            label_input.fill("px-browser")
            label_input.press("Tab")
            # the token field appears after the server handles the kind change (a round trip)
            secret_input = page.locator(f"input[placeholder='{model.model_fields['token'].description}']")
            secret_input.wait_for(state="visible", timeout=30_000)
            secret_input.fill(token)
            secret_input.press("Tab")
            page.locator("input[placeholder='exchange default']").fill(sim.api_url)
            page.locator("input[placeholder='exchange default']").press("Tab")
            page.get_by_role("button", name="Test and save").click()

            row = page.locator("#pv-accounts tr[data-label='px-browser']")
            row.wait_for(timeout=60_000)
            page.wait_for_function(
                """() => { const find = (root) => { const r = root.querySelector("tr[data-label='px-browser']");
                  if (r) return r; for (const n of root.querySelectorAll('*')) if (n.shadowRoot) {
                  const f = find(n.shadowRoot); if (f) return f; } return null; };
                  const r = find(document); return r && r.dataset.status === 'ok'; }""",
                timeout=90_000,
            )
            assert f"••••{token[-4:]}" in row.locator(".pv-hint").inner_text()
            assert int(row.locator("td.num").inner_text().replace(",", "")) > 0  # fills synced

            dom = page.evaluate(_ALL_DOM)
            assert token not in dom
            assert token not in page.content()
            out = ROOT / "artifacts"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / "dashboard.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 3000})
            time.sleep(1.0)
            page.screenshot(path=str(out / "dashboard-phone.png"), full_page=True)
            browser.close()
    finally:
        sim.stop()
    assert frames, "no WebSocket frames captured"
    assert not [f for f in frames if token in f]


def test_demo_syncs_every_simulated_fill(demo_server: dict) -> None:
    """Each simulator's whole history is stored once: none lost at the two-year edge (the oldest fill is
    exactly the history's span old), none counted twice; live fills come on top."""
    from perpvol_core.services.status import account_statuses
    from perpvol_core.store import Store

    store = Store(f"sqlite:///{demo_server['home'] / 'perpvol.db'}")
    try:
        now_ms = int(store.get_meta("demo_sim_now_ms"))
        # the demo's worker syncs again now and then (after a stream reconnect, say): wait, bounded, for a
        # moment when neither account is mid-sync instead of reading one instant
        deadline = time.monotonic() + 60
        while True:
            accounts = {a.exchange: a for a in store.list_accounts() if a.label in ("demo-woox", "demo-paradex")}
            if all(a.status != "syncing" for a in accounts.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert set(accounts) == {"woox", "paradex"}
        for exchange, account in accounts.items():
            assert account.status == "ok", (exchange, account.last_error)
            assert store.fills_frame(end_ms=now_ms + 1, account_id=account.id).height == FILLS, exchange
        shown = {s.label: s.fills for s in account_statuses(store)}  # the count every surface shows
        assert shown["demo-woox"] >= FILLS and shown["demo-paradex"] >= FILLS
    finally:
        store.close()


def test_a_framing_page_cannot_show_the_dashboard(demo_server: dict) -> None:
    """Signed in, a page of another origin frames the dashboard and the login: both stay blank; the embed shows."""
    import re

    import tornado.web
    from playwright.sync_api import sync_playwright

    from perpvol_sim.server import BackgroundServer

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env["PERPVOL_HOME"] = str(demo_server["home"])
    out = subprocess.run([sys.executable, "-m", "perpvol_cli.main", "embed", "create", "--name", "frame-test"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    embed_token = re.search(r"token: (\S+)", out).group(1)
    url = demo_server["url"]
    attack_html = (f'<iframe name="dash" src="{url}/app" width="900" height="600"></iframe>'
                   f'<iframe name="login" src="{url}/login" width="400" height="300"></iframe>'
                   f'<iframe name="embed" src="{url}/embed/{embed_token}" width="600" height="200"></iframe>')

    class Attacker(tornado.web.RequestHandler):
        def get(self) -> None:
            self.finish(f"<!doctype html><html><body>{attack_html}</body></html>")

    attacker = BackgroundServer(tornado.web.Application([(r"/", Attacker)]))
    attacker.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            page = browser.new_page()
            page.goto(f"{url}/login")  # signed in: only the framing policy can stop the frame
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.locator("#pv-history-info").wait_for(timeout=90_000)
            page.goto(attacker.base_url + "/")  # another origin (another port), same browser, same cookie
            page.wait_for_load_state("load")
            page.frame_locator("iframe[name=embed]").locator("h1").wait_for(timeout=30_000)  # frameable, as designed
            for name in ("dash", "login"):
                frame = page.frame(name=name)
                assert frame is not None
                assert frame.url.startswith("chrome-error://"), (name, frame.url)  # blocked by the browser
                html = frame.content()
                assert "pv-history-info" not in html and "password" not in html and "Sign in" not in html
            browser.close()
    finally:
        attacker.stop()
