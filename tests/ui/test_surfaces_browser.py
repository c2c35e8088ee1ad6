"""The dashboard's surfaces in Debian chromium, served as ``perpvol serve`` serves it (the one ASGI app:
login, API, Panel dashboard; no worker), on a store seeded from the simulators' histories.

Checked at a phone (390 px) and a desktop (1280 px) size: the horizontal chart axes' tick labels do not
overlap and stay on the canvas; every table is fully visible (stacked on a phone) instead of being cut
at the right edge; the calendar carries year, month and weekday labels and a colour legend inside the
viewport; "Not counted" names each row's market and reason; the fee-tier panel shows one labelled pair
(exchange says / perpvol counts) with the difference; the toolbar's active-tool mark is gold; a normal
session's server log has no WARNING or ERROR line; and, with fills landing while the page loads, the
headline's "All time" and the history's total are the same figure. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from perpvol_core.exchanges import VENUE_PACKAGES as EXCHANGES
from perpvol_core.fill import MS_PER_DAY
from perpvol_sim.server import free_port
from tests.served import served as run_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SEED, FILLS = 9, 3000
PASSWORD = "Surfaces-Test.Pass:1!"
ARTIFACTS = ROOT / "artifacts"
GOLD_RGB = "rgb(255, 210, 48)"
#: what the seeded exchange report says the Paradex-like account traded over its 14 days (input data)
THEIRS = Decimal("123456.78")

if not Path(CHROMIUM).exists():  # pragma: no cover
    pytest.skip("Debian chromium is not installed (make chromium)", allow_module_level=True)

# perpvol serve without a worker (the seeded accounts have no credentials to sync with), logging as the CLI does
_SERVE = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
from perpvol_core.config import Settings
from perpvol_app.serve import run_server
sys.exit(run_server(Settings.from_env(), int(sys.argv[1]), "127.0.0.1", sys.argv[2], worker=False))
"""


def _report_account(store) -> tuple[str, str]:  # noqa: ANN001
    """(label, exchange) of the seeded account whose venue publishes its own 14-day figure."""
    from perpvol_core.analytics.tiers import reconcile
    from perpvol_sim.demo import demo_accounts

    for label, exchange in demo_accounts():
        store.set_account_doc(label, "exchange_report", {"exchange": exchange, "volume": {}})
        if reconcile(store, store.get_account(label)) is not None:
            return label, exchange
        store.set_account_doc(label, "exchange_report", None)
    raise AssertionError("no seeded venue publishes its own volume figure")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from perpvol_core.config import Settings
    from perpvol_sim.demo import seed_demo_store, sim_fills

    home = tmp_path_factory.mktemp("surfaces-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env.update(PERPVOL_HOME=str(home), PYTHONPATH=str(ROOT))
    settings = Settings.from_env(env)
    now_ms = int(time.time() * 1000)
    store = seed_demo_store(settings.database_url, seed=SEED, fills=FILLS, now_ms=now_ms, settings=settings)
    label, exchange = _report_account(store)
    fetched = now_ms - 60_000
    store.set_account_doc(label, "exchange_report", {
        "exchange": exchange, "fetched_ms": fetched, "fetched_from_ms": fetched,
        "volume": {"retail": {"tier": "VIP 0", "volume": str(THEIRS)}},
        "tiers": [{"kind": "retail", "tier_name": n, "min_volume": v, "duration_ms": 14 * MS_PER_DAY, "sort_order": i}
                  for i, (n, v) in enumerate([("VIP 0", "0"), ("VIP 1", "1000000"), ("VIP 2", "10000000")])],
    })  # fmt: skip
    port = free_port()
    log_path = home / "server.log"
    url = f"http://127.0.0.1:{port}"
    try:
        with run_server([sys.executable, "-c", _SERVE, str(port), PASSWORD], env, log_path, f"{url}/login",
                        "the server"):  # fmt: skip
            window_end = fetched + 1
            ours = sum((f.notional for f in sim_fills(exchange, SEED, FILLS, now_ms=now_ms)
                        if window_end - 14 * MS_PER_DAY <= f.ts_ms < window_end and f.counted), Decimal(0))  # fmt: skip
            yield {"url": url, "log": log_path, "store": store, "label": label, "ours_in_window": ours}
    finally:
        store.close()


def _login(browser, url: str, width: int, height: int = 900):  # noqa: ANN001, ANN202
    ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=width < 500)
    page = ctx.new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.locator("#pv-history-info").wait_for(timeout=90_000)
    return ctx, page


def _wait_built(page) -> None:  # noqa: ANN001
    page.locator(".pv-calendar-figure canvas").first.wait_for(timeout=60_000)
    page.locator("#pv-types-apart").wait_for(timeout=60_000)
    page.locator(".pv-pair").first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => ({_AXES})().some(a => a.figure === 'pv-markets-figure' && a.labels.length)",
                           timeout=60_000)  # fmt: skip
    page.wait_for_timeout(800)  # the last canvases settle


#: every horizontal axis of a named figure: its tick labels' centres and widths on screen, the canvas width
_AXES = """() => {
  const out = [];
  for (const av of Bokeh.index.query(v => v.model && v.model.formatter !== undefined && v.dimension === 0)) {
    const pv = av.plot_view;
    if (!pv.model.name || !pv.model.name.startsWith('pv-')) continue;
    const major = av.tick_coords.major;
    const [sxs] = av.scoords(major);
    const boxes = av.compute_labels(major[0]);
    boxes.visuals = av.visuals.major_label_text.values();
    boxes.base_font_size = pv.base_font_size;
    out.push({figure: pv.model.name, canvas: pv.canvas_view.bbox.width,
              labels: boxes.items.map((l, i) => ({text: l.text, sx: sxs[i], w: l.size().width}))});
  }
  return out;
}"""

#: every perpvol table (in any shadow root) that is shown: its right edge and overflow against its box
_TABLES = """() => {
  const out = [];
  const walk = (root) => {
    root.querySelectorAll('table').forEach(t => {
      const r = t.getBoundingClientRect();
      if (!r.width) return;
      const box = t.parentElement.getBoundingClientRect();
      out.push({id: t.id || t.className, right: r.right, boxRight: box.right, scroll: t.parentElement.scrollWidth,
                client: t.parentElement.clientWidth});
    });
    root.querySelectorAll('*').forEach(el => { if (el.shadowRoot) walk(el.shadowRoot); });
  };
  walk(document);
  return {vw: window.innerWidth, tables: out};
}"""

#: the calendar's text labels on screen (left edge, width) and its legend's box
_CALENDAR = """() => {
  const pv = Bokeh.index.query_one(v => v.model && v.model.name === 'pv-calendar-figure' && v.frame);
  const rect = pv.canvas_view.el.getBoundingClientRect();
  const ctx = document.createElement('canvas').getContext('2d');
  const labels = {};
  for (const rv of pv.renderer_views.values()) {
    const name = rv.model.name;
    if (!name || !name.startsWith('pv-calendar-')) continue;
    const g = rv.model.glyph, d = rv.model.data_source.data;
    ctx.font = `${g.text_font_size.value} ${g.text_font.value}`;
    labels[name] = d.text.map((t, i) => {
      const w = ctx.measureText(t).width, x = rect.left + pv.frame.x_scale.compute(d.x[i]);
      const left = g.text_align.value === 'right' ? x - w : x;
      return {text: t, left, right: left + w, y: d.y[i]};
    });
  }
  let legend = null;
  const walk = (root) => {
    const el = root.querySelector('#pv-calendar-legend');
    if (el) { const r = el.getBoundingClientRect();
              legend = {left: r.left, right: r.right, height: r.height, text: el.textContent,
                        swatches: el.querySelectorAll('.pv-cal-swatch').length}; return; }
    root.querySelectorAll('*').forEach(n => { if (!legend && n.shadowRoot) walk(n.shadowRoot); });
  };
  walk(document);
  return {vw: window.innerWidth, labels, legend};
}"""

#: the computed mark colour of every pressed toolbar button
_ACTIVE_TOOLS = """() => {
  const out = [];
  const walk = (root) => {
    root.querySelectorAll('.bk-active').forEach(el => {
      if (el.shadowRoot && el.shadowRoot.querySelector('.bk-tool-icon'))
        out.push(getComputedStyle(el).borderBottomColor);
    });
    root.querySelectorAll('*').forEach(el => { if (el.shadowRoot) walk(el.shadowRoot); });
  };
  walk(document);
  return out;
}"""


def _html_of(page, selector: str) -> str:  # noqa: ANN001
    return page.locator(selector).first.evaluate("e => e.outerHTML")


def _check_axes(page) -> None:  # noqa: ANN001
    axes = page.evaluate(_AXES)
    assert {a["figure"] for a in axes} >= {"pv-history-figure", "pv-markets-figure"}, axes
    for axis in axes:
        labels = axis["labels"]
        assert len(labels) >= 2, axis
        for a, b in zip(labels, labels[1:], strict=False):
            assert b["sx"] - a["sx"] >= (a["w"] + b["w"]) / 2 + 4, (axis["figure"], a, b)  # a gap between labels
        for label in labels:
            assert label["sx"] - label["w"] / 2 >= 0 and label["sx"] + label["w"] / 2 <= axis["canvas"], (axis, label)


def _check_tables(page) -> None:  # noqa: ANN001
    facts = page.evaluate(_TABLES)
    assert len(facts["tables"]) >= 5, facts
    for t in facts["tables"]:  # fully visible: nothing beyond its box, nothing to scroll to
        assert t["right"] <= min(t["boxRight"], facts["vw"]) + 0.5 and t["scroll"] <= t["client"], t


def _check_calendar(page) -> None:  # noqa: ANN001
    facts = page.evaluate(_CALENDAR)
    months, weekdays = facts["labels"]["pv-calendar-months"], facts["labels"]["pv-calendar-weekdays"]
    names = {m["text"] for m in months}
    assert {"Jan", "Apr", "Jul", "Oct", "Dec"} <= names and any(n.isdigit() and len(n) == 4 for n in names), names
    assert {w["text"] for w in weekdays} == {"Mon", "Wed", "Fri"}
    for label in months + weekdays:
        assert 0 <= label["left"] and label["right"] <= facts["vw"], label
    for row in {m["y"] for m in months}:  # one band's labels never run into each other
        line = sorted((m for m in months if m["y"] == row), key=lambda m: m["left"])
        for a, b in zip(line, line[1:], strict=False):
            assert a["right"] + 2 <= b["left"], (a, b)
    legend = facts["legend"]
    assert legend and legend["swatches"] >= 3 and legend["height"] > 0, legend
    assert 0 <= legend["left"] and legend["right"] <= facts["vw"] and "no volume" in legend["text"], legend


def _check_not_counted_and_tiers(page, served: dict) -> None:  # noqa: ANN001
    rows = page.locator("#pv-types-apart tbody tr")
    assert rows.count() > 0
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        market, reason = cells.nth(1).inner_text().strip(), cells.nth(3).inner_text().strip()
        assert market and reason, rows.nth(i).inner_text()
    pair = page.locator(f'.pv-pair[data-label="{served["label"]}"]').first
    text = pair.inner_text()
    assert "exchange says" in text and "perpvol counts" in text and "difference" in text, text
    theirs = Decimal(pair.locator('[data-figure="theirs"] [data-exact]').get_attribute("data-exact"))
    ours = Decimal(pair.locator('[data-figure="ours"] [data-exact]').get_attribute("data-exact"))
    difference = Decimal(pair.locator('[data-figure="difference"] [data-exact]').get_attribute("data-exact"))
    assert theirs == THEIRS and ours == served["ours_in_window"] and difference == theirs - ours
    assert pair.locator("[data-causes]").inner_text().strip()
    # the exchange's 14-day block shows this one pair: no other 14-day figure beside it
    block = page.locator(".pv-tier", has=pair)
    assert block.locator("[data-exact]").count() == 3, _html_of(page, ".pv-tier")


def _screenshot(page, name: str, width: int) -> None:  # noqa: ANN001
    tall = page.evaluate("() => document.querySelector('#main').scrollHeight + 80")
    page.set_viewport_size({"width": width, "height": min(int(tall), 7000)})
    page.wait_for_timeout(1000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"surfaces-{name}.png"), full_page=True)


@pytest.mark.parametrize(("name", "width"), [("phone", 390), ("desktop", 1280)])
def test_surfaces(served: dict, name: str, width: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        ctx, page = _login(browser, served["url"], width)
        _wait_built(page)
        _check_axes(page)
        _check_tables(page)
        _check_calendar(page)
        _check_not_counted_and_tiers(page, served)
        marks = page.evaluate(_ACTIVE_TOOLS)
        assert marks and set(marks) == {GOLD_RGB}, marks
        _screenshot(page, name, width)
        ctx.close()
        browser.close()


def test_a_normal_session_logs_no_warning(served: dict) -> None:
    """The sessions above (and this one) leave no WARNING or ERROR line in the server's log."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        ctx, page = _login(browser, served["url"], 1280)
        _wait_built(page)
        ctx.close()
        browser.close()
    time.sleep(1)
    bad = [line for line in served["log"].read_text().splitlines() if " WARNING " in line or " ERROR " in line]
    assert not bad, bad


_FIRST_LOAD = """() => {
  const find = (root, sel) => {
    const el = root.querySelector(sel);
    if (el) return el;
    for (const n of root.querySelectorAll('*'))
      if (n.shadowRoot) { const f = find(n.shadowRoot, sel); if (f) return f; }
    return null;
  };
  const all = find(document, '#pv-headline [data-window="all"] .pv-figure-value');
  const total = find(document, '#pv-history-info .pv-history-total');
  return all && total ? {all: all.dataset.exact, history: total.dataset.exact} : null;
}"""


def test_first_load_shows_one_total_while_fills_arrive(served: dict) -> None:
    """A writer adds counted fills every 20 ms while the page loads: its first load shows the same exact
    figure as "All time" and as the history's total (one read of the data, not two at different moments)."""
    from playwright.sync_api import sync_playwright

    from perpvol_sim.demo import demo_accounts, sim_fills

    store = served["store"]
    template = [f for f in sim_fills(EXCHANGES[0], SEED + 1, 400) if f.counted]
    account = store.get_account(next(label for label, e in demo_accounts() if e == EXCHANGES[0]))
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            fill = dataclasses.replace(template[i % len(template)], fill_id=f"live-{i}", ts_ms=int(time.time() * 1000))
            written.append(store.ingest_fills(account.id, [fill]))
            i += 1
            stop.wait(0.02)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            ctx, page = _login(browser, served["url"], 1280)
            page.wait_for_function(f"() => ({_FIRST_LOAD})() !== null", timeout=30_000)
            during = sum(written)
            figures = page.evaluate(_FIRST_LOAD)
            ctx.close()
            browser.close()
    finally:
        stop.set()
        writer.join(10)
    assert during > 10, during  # fills kept landing while the page loaded
    assert figures["all"] == figures["history"], figures
