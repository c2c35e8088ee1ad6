"""Days a venue no longer serves, in Debian chromium: one page load, checked at a desktop and a 390-px width.

The store (dates relative to today, UTC): an account on a venue that serves everything, synced 730 days
back, and one on the retention-limited venue whose history is complete only from ``today - 10 days``, with
a fill stored on ``today - 12`` (before it) and the venue's own all-time figure 12,345.67. So "All time" and
"30 days" are lower bounds (``≥``), "7 days" is not; the note under the headline names the venue and the
day and shows the venue's figure beside ours; the chart's band of that venue is shown (hatched, up to the
day) with its key; the range totals (the last year) and the breakdowns (all time) say they are partial.
At 390 px nothing of it overflows the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from perpvol_core.analytics.coverage import REPORTED_ALL_TIME
from perpvol_core.exchanges import VENUES, classify_all, display_name
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.store import SyncUpdate
from perpvol_sim.server import free_port
from tests.analytics.test_coverage import CAPPED, FULL, _perp_market
from tests.served import panel_serve
from tests.served import served as run_server
from tests.ui.test_layout_browser import ARTIFACTS, CHROME_ARGS, CHROMIUM

pytestmark = pytest.mark.browser


def _fill(exchange: str, n: int, ts_ms: int, notional: str) -> Fill:
    return Fill(exchange=exchange, fill_id=f"{exchange}-{n}", fill_type="FILL", market=_perp_market(exchange),
                side="SELL", liquidity="MAKER", price=Decimal(notional), size=Decimal(1), fee=Decimal(0),
                fee_asset="USDC", ts_ms=ts_ms)  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from perpvol_core.config import Settings
    from perpvol_core.security.vault import Vault
    from perpvol_core.store import Store

    home = tmp_path_factory.mktemp("coverage-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "PANEL_"))}
    env.update(PERPVOL_HOME=str(home), PERPVOL_NO_WORKER="1")
    settings = Settings.from_env(env)
    store = Store(settings.database_url)
    Vault.open(settings, store)  # the key section opens the vault of this database
    today = datetime.now(UTC).date()
    midnight = int(datetime.combine(today, datetime.min.time(), tzinfo=UTC).timestamp() * 1000)
    complete = today - timedelta(days=10)
    full = store.add_account("full", FULL, None, b"not-a-credential", "masked")
    capped = store.add_account("capped", CAPPED, None, b"not-a-credential", "masked")
    store.ingest_fills(full.id, classify_all([_fill(FULL, i, midnight - d * MS_PER_DAY + 3_600_000, "1000")
                                              for i, d in enumerate((400, 100, 40, 20, 3))]))  # fmt: skip
    before, after = midnight - 12 * MS_PER_DAY + 7_200_000, midnight - 3 * MS_PER_DAY + 7_200_000
    store.ingest_fills(capped.id, classify_all([_fill(CAPPED, 1, before, "300"), _fill(CAPPED, 2, after, "200")]))
    read_from = midnight - 730 * MS_PER_DAY + 5_000_000
    for acc, first in ((full, midnight - 729 * MS_PER_DAY), (capped, midnight - 10 * MS_PER_DAY)):
        store.update_sync_state(acc.id, SyncUpdate(covered_from_ms=read_from, covered_to_ms=midnight,
                                                   complete_from_ms=first, last_success_ms=midnight))  # fmt: skip
        store.set_status(acc.label, "ok")
    store.set_account_doc("capped", "exchange_report", {"exchange": CAPPED, "fetched_ms": midnight,
                                                        REPORTED_ALL_TIME: "12345.67"})  # fmt: skip
    store.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}/app"
    with run_server(panel_serve(port), env, home / "server.log", url, "panel serve"):
        yield {"url": url, "complete": complete}
    text = (home / "server.log").read_text()
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]


#: per selector: text, box and data of every element matching it, in any shadow root (one walk of the page)
_FIND = """(sels) => {
  const out = Object.fromEntries(sels.map(s => [s, []]));
  const walk = (root) => {
    for (const sel of sels) root.querySelectorAll(sel).forEach(el => { const r = el.getBoundingClientRect();
      out[sel].push({text: el.textContent, left: r.left, right: r.right, width: r.width,
                     clipped: el.scrollWidth > el.clientWidth + 1, data: Object.assign({}, el.dataset)}); });
    root.querySelectorAll('*').forEach(el => { if (el.shadowRoot) walk(el.shadowRoot); });
  };
  walk(document);
  out.scrollWidth = document.documentElement.scrollWidth;
  return out;
}"""
_SELECTORS = [".pv-figure-value", "#pv-coverage", "#pv-chart-key", ".pv-range-note", ".pv-range tr[data-partial]",
              "#pv-breakdown-coverage"]  # fmt: skip

#: the not-covered bands of the history chart as the browser holds them
_BANDS = """(names) => names.map(n => Bokeh.documents.map(d => d.get_model_by_name(n)).find(m => m))
  .filter(m => m).map(a => ({name: a.name, visible: a.visible, right: a.right, hatch: a.hatch_pattern}))"""


def _check(page, width: int, complete: date) -> None:  # noqa: ANN001
    name = display_name(CAPPED)
    found = page.evaluate(_FIND, _SELECTORS)

    def one(selector: str) -> dict:
        assert len(found[selector]) == 1, (selector, found[selector])
        return found[selector][0]

    values = [f["text"].strip() for f in found[".pv-figure-value"]]
    assert len(values) == 4, values
    assert values[2].startswith("≥ $") and values[3].startswith("≥ $"), values  # 30 days, all time
    assert not values[1].startswith("≥"), values  # 7 days: covered
    assert values[3] == "≥ $5,500.00", values  # 5 x 1,000 + 300 + 200, and only a lower bound
    for f in found[".pv-figure-value"]:
        assert f["left"] >= 0 and f["right"] <= width and not f["clipped"], f
    note = one("#pv-coverage")
    assert f"partial: {name} not covered before {complete.isoformat()}" in note["text"], note
    when = f"(as of {(complete + timedelta(days=10)).isoformat()} 00:00 UTC)"  # fetched at today's midnight
    assert f"{name} reports $12,345.67 all-time perp volume {when} · perpvol: ≥ $500.00" in note["text"], note
    assert 0 <= note["left"] and note["right"] <= width, note
    key = one("#pv-chart-key")
    assert f"{name} before {complete.isoformat()}" in key["text"] and key["right"] <= width, key
    assert f"{name} not covered before {complete.isoformat()}" in one(".pv-range-note")["text"]
    assert {r["data"]["exchange"] for r in found[".pv-range tr[data-partial]"]} == {name, "Total"}
    assert f"the rows of {name} are lower bounds" in one("#pv-breakdown-coverage")["text"]
    assert found["scrollWidth"] == width


def test_not_covered_days_on_desktop_and_phone(served: dict) -> None:
    from playwright.sync_api import sync_playwright

    complete: date = served["complete"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(served["url"])
        page.locator(".pv-history-figure canvas").first.wait_for(timeout=90_000)
        page.locator("#pv-breakdown-coverage").wait_for(state="attached", timeout=60_000)
        page.wait_for_function(f"() => ({_FIND})(['.pv-range-note'])['.pv-range-note'].length > 0", timeout=60_000)
        bands = {b["name"]: b for b in page.evaluate(_BANDS, [f"pv-not-covered-{v}" for v in VENUES])}
        assert set(bands) == {f"pv-not-covered-{v}" for v in VENUES}, bands
        shown = {n for n, b in bands.items() if b["visible"]}
        assert shown == {f"pv-not-covered-{CAPPED}"}, bands
        edge = datetime.combine(complete, datetime.min.time(), tzinfo=UTC).timestamp() * 1000 - MS_PER_DAY / 2
        assert bands[f"pv-not-covered-{CAPPED}"]["right"] == edge and bands[f"pv-not-covered-{CAPPED}"]["hatch"]
        _check(page, 1280, complete)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "coverage-desktop.png"))
        page.set_viewport_size({"width": 390, "height": 844})  # the same page, at a phone's width
        page.wait_for_timeout(1500)
        _check(page, 390, complete)
        page.screenshot(path=str(ARTIFACTS / "coverage-phone.png"))
        browser.close()
