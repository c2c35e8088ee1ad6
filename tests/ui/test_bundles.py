"""Only the bundles the page uses: the patch is in place and the full dashboard needs none of the dropped parts."""

from __future__ import annotations

from decimal import Decimal

import panel.io.server as panel_server
from bokeh.document import Document
from bokeh.embed.bundle import Bundle

from perpvol_app.ui import bundles
from perpvol_app.ui.components.context import AppContext
from perpvol_app.ui.dashboard import Dashboard
from perpvol_app.ui.theme import apply_theme, make_template
from perpvol_core.config import Settings


def test_panel_bundle_function_is_wrapped() -> None:
    # fails when an upgrade moves or renames the function the page's bundle comes from
    apply_theme()
    assert getattr(panel_server.bundle_resources, "_perpvol_trimmed", False)
    bundles.install()  # idempotent
    assert getattr(panel_server.bundle_resources, "_perpvol_trimmed", False)


def test_trim_drops_unused_parts_only() -> None:
    files = ["static/js/bokeh.min.js", "static/js/bokeh-gl.min.js", "static/js/bokeh-mathjax.min.js",
             "static/js/bokeh-tables.min.js", "static/extensions/panel/bundled/datatabulator/tabulator.min.js",
             "static/extensions/panel/bundled/datatabulator/luxon/luxon.min.js",
             "static/extensions/panel/panel.min.js"]  # fmt: skip
    out = bundles.trim(Bundle(js_files=files, css_files=["x/tabulator_simple.min.css", "a.css"]), set())
    assert out.js_files == ["static/js/bokeh.min.js", "static/js/bokeh-tables.min.js",
                            "static/extensions/panel/panel.min.js"]  # fmt: skip
    assert out.css_files == ["a.css"]
    kept = bundles.trim(Bundle(js_files=files), {"gl", "mathjax", "tabulator"})
    assert kept.js_files == files


def test_the_whole_dashboard_needs_no_dropped_part(sqlite_settings: Settings) -> None:
    from perpvol_core.store import Store
    from perpvol_sim.demo import seed_demo_store

    seed_demo_store(sqlite_settings.database_url, seed=3, fills=300).close()
    store = Store.open(sqlite_settings)
    try:
        apply_theme()
        template = make_template()
        template.main.append(Dashboard(AppContext(settings=sqlite_settings, store=store), defer=False))
        doc = Document()
        template.server_doc(doc)
        assert bundles.used_parts(doc.roots) == set()
        # and the check sees a WebGL plot when there is one
        from bokeh.plotting import figure

        assert bundles.used_parts([figure(output_backend="webgl")]) == {"gl"}
    finally:
        store.close()


def test_page_html_carries_the_server_rendered_headline(sqlite_settings: Settings) -> None:
    # fails when an upgrade breaks the page template (its ``extends`` of Panel's bootstrap page or the
    # render variables that carry the figures)
    import io
    import re

    from perpvol_app.ui.components.headline import render_summary
    from perpvol_core.analytics import volume
    from perpvol_core.store import Store
    from perpvol_sim.demo import seed_demo_store

    seed_demo_store(sqlite_settings.database_url, seed=4, fills=200).close()
    store = Store.open(sqlite_settings)
    try:
        apply_theme()
        summary = volume.summary(store)
        template = make_template()
        template.first_paint(render_summary(summary) + "<b>&lt;x&gt;</b>")
        out = io.StringIO()
        template.save(out)
        page = out.getvalue()
        assert page.count('id="pv-first-paint"') == 1 and page.count('class="pv-figures"') == 1
        assert 'id="main"' in page and 'id="header"' in page  # Panel's bootstrap page around it
        assert "<b>&lt;x&gt;</b>" in page  # inserted as given: escaped by perpvol's templates, not twice
        shown = re.findall(r'data-window="all".*?data-exact="([^"]+)"', page)
        assert shown and Decimal(shown[0]) == summary["totals"]["all"] > 0
        plain = make_template()
        quiet = io.StringIO()
        plain.save(quiet)
        assert "pv-first-paint" not in quiet.getvalue()  # nothing to show: no block, no script
    finally:
        store.close()
