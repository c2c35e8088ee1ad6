"""The Reconciliation section in Debian chromium, desktop then a 390-px phone, in one page load each.

A store synced against two simulators: one venue agrees with every figure, the other withholds a day's fills
from its fill list (its figures still count them). The page must show the agreeing account as agreeing, the
differing one with a red mark on the withheld day, its amount (the simulator's own count of that day) and its
cause, and fit the phone's width. Screenshots go to ``artifacts/`` (not committed).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from perpvol_core.config import Settings
from perpvol_sim.history import History, utc_day
from perpvol_sim.server import free_port
from tests.analytics.recon_setup import Synced, busy_day, counted_by_day, simulator
from tests.served import panel_serve
from tests.served import served as run_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "artifacts"

if not Path(CHROMIUM).exists():  # pragma: no cover
    pytest.skip("Debian chromium is not installed (make chromium)", allow_module_level=True)


def _synced_home(home: Path) -> tuple[dict[str, str], str, str]:
    """A home whose store is synced against an agreeing and a disagreeing simulator; (env, day, amount)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env.update(PERPVOL_HOME=str(home), PERPVOL_NO_WORKER="1")
    settings = Settings.from_env(env)
    now = int(time.time() * 1000)
    history = History("paradex", 3, 1200, now_ms=now, days=30)
    day = busy_day(history.fills, history.profile, range(2, 8))
    amount = counted_by_day([f for f in history.fills if utc_day(f.ts_ms) == day], history.profile)[day]
    hl = simulator("hyperliquid")
    sims = {"differs": simulator("paradex").ParadexDemoVenue(history, withheld_day=day),
            "agrees": hl.HyperliquidSim(hl.hyperliquid_history(4, 800, now_ms=now, days=30), weight_limit=10**9)}
    synced = Synced(settings)
    try:
        for (label, sim), exchange in zip(sims.items(), ("paradex", "hyperliquid"), strict=True):
            sim.start()
            synced.add(label, exchange, sim)
        synced.sync()
    finally:
        synced.close()
        for sim in sims.values():
            sim.stop()
    return env, day, f"{amount:,.2f}"


def test_reconciliation_panel_desktop_and_phone(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env, day, amount = _synced_home(home)
    port = free_port()
    url = f"http://127.0.0.1:{port}/app"
    with run_server(panel_serve(port), env, home / "server.log", url, "panel serve"):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            for name, width, height in (("desktop", 1280, 900), ("phone", 390, 844)):
                ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=name == "phone",
                                          has_touch=name == "phone")  # fmt: skip
                page = ctx.new_page()
                page.goto(url)
                bad = page.locator('.pv-recon-account[data-label="differs"]')
                bad.wait_for(timeout=90_000)
                assert bad.get_attribute("data-status") == "differs"
                good = page.locator('.pv-recon-account[data-label="agrees"]')
                assert good.get_attribute("data-status") == "agrees"
                assert good.locator('.pv-recon-row[data-status="differs"]').count() == 0
                row = bad.locator(f'.pv-recon-row[data-status="differs"][data-day="{day}"]')
                row.scroll_into_view_if_needed()
                assert row.is_visible()
                text = row.inner_text()
                assert amount in text and "cause:" in text and "✗" in text, text
                box = row.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (name, box)
                widths = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
                assert max(widths) <= width, (name, widths)
                ARTIFACTS.mkdir(exist_ok=True)
                row.screenshot(path=str(ARTIFACTS / f"reconcile-row-{name}.png"))
                bad.screenshot(path=str(ARTIFACTS / f"reconcile-{name}.png"))
                ctx.close()
            browser.close()
    text = (home / "server.log").read_text()
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]
