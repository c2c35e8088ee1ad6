"""Layout facts of the served dashboard in Debian chromium, at a desktop and a phone size.

The dashboard is served as a Panel app (``panel serve perpvol_app/app.py``) on a store seeded from the
simulators' histories. Checked: the page is exactly as wide as the viewport (no horizontal scroll),
every headline figure is visible in full, the history chart is drawn on a canvas, its tooltip shows
formatted money and display names, the range totals equal the generator's figures, the calendar is
drawn and a click on it shows that day, and the page loads none of the dropped bundles.
Screenshots go to ``artifacts/`` (not committed).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from perpvol_core.exchanges import VENUES, display_name
from perpvol_sim.server import free_port
from tests.served import panel_serve
from tests.served import served as run_server

#: the registered venues (each breakdown lists every one)
EXCHANGES: tuple[str, ...] = tuple(VENUES)


def _history(exchange: str, seed: int, n_fills: int, now_ms: int):  # noqa: ANN202
    """The venue's demo simulator's history (as ``seed_demo_store`` seeds it: 730 days)."""
    from perpvol_app.serve import simulator

    return simulator(exchange).demo_venue(seed, n_fills, now_ms, 730).history

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SEED, FILLS = 9, 4000
ARTIFACTS = ROOT / "artifacts"
MONEY = re.compile(r"\$\d{1,3}(,\d{3})*\.\d{2}")

if not Path(CHROMIUM).exists():  # pragma: no cover
    pytest.skip("Debian chromium is not installed (make chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from perpvol_core.config import Settings
    from perpvol_sim.demo import seed_demo_store

    home = tmp_path_factory.mktemp("layout-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env.update(PERPVOL_HOME=str(home), PERPVOL_NO_WORKER="1")
    settings = Settings.from_env(env)
    now_ms = int(time.time() * 1000)
    seed_demo_store(settings.database_url, seed=SEED, fills=FILLS, now_ms=now_ms, settings=settings).close()
    port = free_port()
    url = f"http://127.0.0.1:{port}/app"
    with run_server(panel_serve(port), env, home / "server.log", url, "panel serve"):
        expected = {e: _history(e, SEED, FILLS, now_ms).expected_daily() for e in EXCHANGES}
        yield {"url": url, "home": home, "expected": expected}
    text = (home / "server.log").read_text()
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]


_FACTS = """() => {
  const figures = [];
  const walk = (root) => {
    figures.push(...root.querySelectorAll('.pv-figure-value'));
    root.querySelectorAll('*').forEach(el => { if (el.shadowRoot) walk(el.shadowRoot); });
  };
  walk(document);
  const vw = window.innerWidth;
  return {
    scrollWidth: document.documentElement.scrollWidth, bodyScroll: document.body.scrollWidth, vw,
    figures: figures.map(f => { const r = f.getBoundingClientRect();
      return {text: f.textContent, left: r.left, right: r.right, clipped: f.scrollWidth > f.clientWidth}; }),
  };
}"""


def _open(page, url: str) -> None:  # noqa: ANN001
    page.goto(url)
    page.locator("#pv-history-info").wait_for(timeout=90_000)
    page.locator(".pv-history-figure canvas").first.wait_for(timeout=60_000)
    page.locator(".pv-calendar-figure canvas").first.wait_for(timeout=60_000)  # the deferred sections
    page.locator("#pv-accounts").wait_for(timeout=60_000)


def _hover_tooltip(page) -> str:  # noqa: ANN001
    page.locator(".pv-history-figure").first.scroll_into_view_if_needed()
    box = page.locator(".pv-history-figure").first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 200
    y = box["y"] + box["height"] - 45  # just above the x axis: every day with volume has a bar there
    for i in range(60):
        page.mouse.move(box["x"] + box["width"] * (0.97 - i * 0.015), y)
        tip = page.locator(".pv-tooltip")
        if tip.count() and tip.first.is_visible():
            return tip.first.inner_text()
    raise AssertionError("no tooltip over the history bars")


def _check_layout(page, width: int) -> None:  # noqa: ANN001
    facts = page.evaluate(_FACTS)
    assert facts["scrollWidth"] == facts["vw"] == width, facts
    assert len(facts["figures"]) == 4
    for f in facts["figures"]:
        assert f["left"] >= 0 and f["right"] <= width and not f["clipped"], f
        assert MONEY.fullmatch(f["text"].strip()), f


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 900), ("phone", 390, 844)])
def test_layout(served: dict, name: str, width: int, height: int) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=name == "phone",
                                  has_touch=name == "phone")  # fmt: skip
        page = ctx.new_page()
        failed: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        _open(page, served["url"])
        assert 'name="viewport"' in page.content()
        _check_layout(page, width)
        tip = _hover_tooltip(page)
        assert MONEY.search(tip), tip
        assert any(display_name(n) in tip for n in VENUES) or "30-day average" in tip, tip
        assert "woox" not in tip and "paradex" not in tip.replace("Paradex", "")
        _check_layout(page, width)  # still no overflow with every section built
        # the template scrolls inside #main: a viewport as tall as the content makes the full screenshot
        tall = page.evaluate("() => document.querySelector('#main').scrollHeight + 80")
        page.set_viewport_size({"width": width, "height": min(int(tall), 6000)})
        page.wait_for_timeout(1000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
        browser.close()
    assert not failed, failed
    assert not [u for u in requests if re.search(r"mathjax|bokeh-gl|tabulator|luxon", u)], requests


def test_headline_is_in_the_page_before_bokehjs_draws(served: dict) -> None:
    """The server renders the four figures into the page HTML: with the Bokeh document held back (its
    WebSocket refused) they are readable, exact and laid out; once the document is drawn they are shown once."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        for width, height in ((1280, 900), (390, 844)):
            ctx = browser.new_context(viewport={"width": width, "height": height})
            page = ctx.new_page()
            page.route_web_socket(re.compile(r".*/ws(\?.*)?$"), lambda ws: None)  # never answered
            page.goto(served["url"], wait_until="load")
            page.wait_for_timeout(500)
            assert page.locator("#pv-first-paint").count() == 1
            assert page.locator(".pv-history-figure canvas").count() == 0  # nothing of the document drawn
            _check_layout(page, width)
            exact = page.locator('#pv-first-paint [data-window="all"] .pv-figure-value').get_attribute("data-exact")
            want = sum((v["volume_usd"] for daily in served["expected"].values() for v in daily.values()), Decimal(0))
            assert exact is not None and Decimal(exact) == want
            ctx.close()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _open(page, served["url"])
        assert page.locator("#pv-first-paint").count() == 0
        _check_layout(page, 1280)  # four figures: the live headline only
        browser.close()


def test_range_totals_and_calendar_click(served: dict) -> None:
    from playwright.sync_api import sync_playwright

    expected = served["expected"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        _open(page, served["url"])
        rng = page.locator(".pv-range").first
        rng.wait_for(timeout=30_000)
        start, end = rng.get_attribute("data-from"), rng.get_attribute("data-to")
        want = sum((r["volume_usd"] for e in EXCHANGES for d, r in expected[e].items() if start <= d <= end),
                   Decimal(0))  # fmt: skip
        assert Decimal(rng.get_attribute("data-total")) == want
        assert (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days == 365
        # the From picker moves the range (and its totals follow)
        new_from = (dt.date.fromisoformat(end) - dt.timedelta(days=6)).isoformat()
        page.evaluate(
            """(v) => { for (const m of Bokeh.documents[0].all_models)
                          if (m.name === 'pv-range-from') m.value = v; }""",
            new_from,
        )
        rng = page.locator(f'.pv-range[data-from="{new_from}"]').first
        rng.wait_for(timeout=30_000)
        want = sum((r["volume_usd"] for e in EXCHANGES for d, r in expected[e].items() if new_from <= d <= end),
                   Decimal(0))  # fmt: skip
        assert Decimal(rng.get_attribute("data-total")) == want
        # a click on the calendar's most recent cell with volume shows that day
        box = page.locator(".pv-calendar-figure").first.bounding_box()
        assert box and box["height"] > 50
        page.locator(".pv-calendar-figure").first.scroll_into_view_if_needed()
        box = page.locator(".pv-calendar-figure").first.bounding_box()
        clicked = False
        for col in range(53):
            for row in range(7):
                x = box["x"] + 44 + (box["width"] - 54) * (col + 0.5) / 54
                y = box["y"] + 10 + row * 13 + 6
                page.mouse.move(x, y)
                tip = page.locator(".pv-tooltip")
                if tip.count() and tip.first.is_visible() and "Fills" in tip.first.inner_text():
                    label = tip.first.inner_text().splitlines()[0]
                    page.mouse.click(x, y)
                    day = label.split()[-1]
                    cell = page.locator(f'.pv-range[data-from="{day}"][data-to="{day}"]').first
                    cell.wait_for(timeout=30_000)
                    day_total = sum((expected[e].get(day, {}).get("volume_usd", Decimal(0)) for e in EXCHANGES),
                                    Decimal(0))  # fmt: skip
                    assert Decimal(cell.get_attribute("data-total")) == day_total
                    clicked = True
                    break
            if clicked:
                break
        assert clicked, "no calendar cell answered the hover"
        browser.close()
