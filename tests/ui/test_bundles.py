"""Only the bundles the page uses: the patch is in place and the full dashboard needs none of the dropped parts."""

from __future__ import annotations

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
