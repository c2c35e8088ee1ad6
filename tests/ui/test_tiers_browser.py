"""The fee-tier panel in Debian chromium, at a desktop (1280 px) and a phone (390 px) size in one test, on a
home synced from every registered venue's simulator and served as ``perpvol serve`` serves it: each account
shows the venue's real table (or "not published"), its tier, the next tier and the reach date, the date the
tier is lost, and the fee paid in bps, the same figures as the core's outlook; nothing runs past the phone's
screen. Screenshots go to ``artifacts/``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from perpvol_core import timeutil
from perpvol_core.exchanges import VENUES
from perpvol_sim.server import free_port
from tests.served import served as run_server
from tests.ui.test_surfaces_browser import _SERVE, ARTIFACTS, CHROME_ARGS, CHROMIUM, PASSWORD, ROOT, _login

pytestmark = pytest.mark.browser

OPTIONS = {"max_attempts": 6, "backoff_s": 0.05, "timeout": 5.0}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from perpvol_app.serve import simulator
    from perpvol_core.analytics.tier_outlook import outlook
    from perpvol_core.config import Settings
    from perpvol_core.security.vault import Vault
    from perpvol_core.services import accounts
    from perpvol_core.services.events import EventBus
    from perpvol_core.services.sync import SyncEngine
    from perpvol_core.store import Store

    home = tmp_path_factory.mktemp("tiers-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env.update(PERPVOL_HOME=str(home), PYTHONPATH=str(ROOT))
    settings = Settings.from_env(env)
    now_ms = timeutil.now_ms()
    sims = {name: simulator(name).demo_venue(80 + i, 300, now_ms, 30) for i, name in enumerate(VENUES)}
    for sim in sims.values():
        sim.start()
    store = Store.open(settings)
    try:
        vault = Vault.open(settings, store)
        for name, sim in sims.items():
            req = accounts.AccountRequest(name, f"tiers-{name}", credentials=sim.credentials(), base_url=sim.base_url)
            accounts.add_account(store, vault, req)
        engine = SyncEngine(store, vault, EventBus(), connector_options={n: dict(OPTIONS) for n in VENUES})
        assert all(r.ok for r in engine.sync(days=30))
        engine.close()
        expected = {o.label: o for o in outlook(store)}
    finally:
        store.close()
        for sim in sims.values():
            sim.stop()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with run_server([sys.executable, "-c", _SERVE, str(port), PASSWORD], env, home / "server.log", f"{url}/login",
                    "the server"):  # fmt: skip
        yield {"url": url, "expected": expected}


def _check(page, expected: dict, width: int) -> None:  # noqa: ANN001
    from perpvol_app.ui.components.context import exact

    page.locator(".pv-outlook").first.wait_for(timeout=90_000)
    for label, o in expected.items():
        block = page.locator(f'.pv-outlook[data-label="{label}"]')
        assert block.count() == 1, label
        published = o.table is not None and o.table.published
        assert block.get_attribute("data-published") == ("true" if published else "false")
        if published:
            rows = block.locator("details[open] tr[data-tier-row]")
            assert rows.count() == len(o.table.tiers), label  # the venue's table, every rung
            names = [rows.nth(i).get_attribute("data-tier-row") for i in range(rows.count())]
            assert names == [t.name for t in o.table.tiers]
            current = block.locator('tr[data-mark="current"]')
            assert current.first.get_attribute("data-tier-row") == o.projection.tier
            loss = block.locator("[data-loss]").get_attribute("data-loss")
            assert loss == (o.projection.loss_date.isoformat() if o.projection.loss_date else "")
            reach = block.locator("[data-reach]").get_attribute("data-reach")
            assert reach == (o.projection.reach_date.isoformat() if o.projection.reach_date else "")
        else:
            assert "not published" in block.locator("[data-unpublished]").inner_text()
        for side in ("taker", "maker"):
            paid = getattr(o, side).effective_bps
            cell = block.locator(f'tr[data-side="{side}"] [data-effective] [data-bps]')
            assert cell.get_attribute("data-bps") == (exact(paid) if paid is not None else "")
            assert cell.is_visible()
    # nothing runs past the screen: every block and table inside the viewport
    boxes = page.evaluate("""() => {
      const out = [];
      const walk = (root) => {
        root.querySelectorAll('.pv-outlook, .pv-outlook table').forEach(el => {
          const r = el.getBoundingClientRect();
          if (r.width) out.push({right: r.right, scroll: el.scrollWidth, client: el.clientWidth});
        });
        root.querySelectorAll('*').forEach(el => { if (el.shadowRoot) walk(el.shadowRoot); });
      };
      walk(document);
      return {vw: window.innerWidth, boxes: out};
    }""")
    assert boxes["boxes"], "no tier block drawn"
    for box in boxes["boxes"]:
        assert box["right"] <= boxes["vw"] + 1 and box["scroll"] <= box["client"] + 1, (width, box)


def _screenshot(page, name: str) -> None:  # noqa: ANN001
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": 2400})
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".pv-outlook").first.locator("xpath=..").screenshot(path=str(ARTIFACTS / f"tiers-{name}.png"))


def test_tiers_panel_desktop_and_phone(served: dict) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            ctx, page = _login(browser, served["url"], 1280)  # one page load: the desktop, then the phone
            _check(page, served["expected"], 1280)
            _screenshot(page, "desktop")
            page.set_viewport_size({"width": 390, "height": 900})
            page.wait_for_timeout(800)
            _check(page, served["expected"], 390)
            _screenshot(page, "phone")
            ctx.close()
        finally:
            browser.close()
