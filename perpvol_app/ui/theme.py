"""Gold (#ffd230) on black (#000000): the CSS, the Bokeh/HoloViews theme and the Panel template.

``perpvol_app/themes/perpvol.css`` carries the page and widget colours;
``perpvol_app/themes/bokeh_theme.json`` every chart's.
Both are wired into a Panel ``Design`` so the template, each component's shadow root and each
HoloViews pane get them without per-component work.
"""

from __future__ import annotations

import pathlib
from typing import Any

import holoviews as hv
import panel as pn
from bokeh.themes import Theme as BokehTheme

from perpvol_app.themes import panel_theme as _themes
from perpvol_core.exchanges import VENUES

GOLD = "#ffd230"
GOLD_DIM = "#c9a626"
GOLD_FAINT = "#4d3f0f"
BLACK = "#000000"
ERROR = "#ff8a7a"
#: Each venue's own colour (its spec's ``colour``, readable on black); the rolling line is a pale gold over all.
EXCHANGE_COLORS = {name: spec.colour for name, spec in VENUES.items()}
LINE_COLOR = "#fff3c4"

THEMES_DIR = pathlib.Path(_themes.__file__).resolve().parent
GoldTheme = _themes.GoldTheme
GoldDesign = _themes.GoldDesign
CSS_FILE = _themes.CSS_FILE


def bokeh_theme() -> BokehTheme:
    return GoldTheme.param.bokeh_theme.default


#: hv.extension ran in this process (outside a notebook)
_extension_loaded = False


def apply_theme() -> None:
    """Process-wide defaults: HoloViews renders with the gold theme, Panel uses the gold design."""
    global _extension_loaded
    if pn.extension._loaded or _extension_loaded:
        # In a notebook where pn.extension already ran: re-running hv.extension would reload BokehJS from
        # the CDN, which an offline machine cannot reach, and the charts would come out blank. In a server,
        # once per process is enough: a page's resources come from the models it holds, and a second
        # hv.extension costs each new session ~40 ms before its page is sent
        hv.renderer("bokeh")
        hv.Store.set_current_backend("bokeh")
    else:
        hv.extension("bokeh", logo=False, inline=pn.config.inline)
        _extension_loaded = True
    renderer = hv.renderer("bokeh")
    renderer.theme = bokeh_theme()
    renderer.webgl = False  # canvas: WebGL costs 0.15-0.3 s a page in a browser without a GPU
    from perpvol_app.ui import bundles

    bundles.install()
    pn.config.design = GoldDesign
    pn.config.theme = "dark"  # type: ignore[misc]  # panel's config.__setattr__ sets it; the getter has no setter


class DashboardTemplate(pn.template.BootstrapTemplate):
    """Panel's Bootstrap template whose page can carry HTML rendered by the server (``first_paint``)."""

    # Panel parses a template outside its own folder from its text, in its own environment: the
    # ``extends`` of Panel's bootstrap page resolves there (tests/ui/test_bundles.py fails if it stops).
    _template = pathlib.Path(__file__).resolve().parent.parent / "templates" / "page.html"

    def first_paint(self, html: str) -> None:
        """Show ``html`` (already escaped: a perpvol template) at the top of the main column until the
        Bokeh document is drawn."""
        # BaseTemplate's render variables reach the page's Jinja context (add_variable is only on pn.Template);
        # Panel's environment does not autoescape, and perpvol's templates have escaped every value already
        self._render_variables["pv_first_paint"] = html


def make_template(title: str = "perpvol") -> DashboardTemplate:
    """The page: black header with a gold title, no sidebar (one column reads well on a phone)."""
    return DashboardTemplate(
        title=title,
        design=GoldDesign,
        theme="dark",
        header_background=BLACK,
        header_color=GOLD,
        main_max_width="1400px",
        collapsed_sidebar=True,
        meta_description="Your perpetual-futures volume on " + ", ".join(s.display_name for s in VENUES.values()),
        meta_viewport="width=device-width, initial-scale=1",
    )


def chart_opts() -> dict[str, Any]:
    """Options shared by every chart (the Bokeh theme does colours; these do sizing and tools)."""
    return {
        "bgcolor": BLACK,
        "responsive": True,
        "toolbar": "above",
        "fontsize": {"title": "13pt", "labels": "11pt", "ticks": "10pt"},
    }


#: The active tool's mark (the line beside a pressed toolbar button). Each tool button declares its own
#: ``--active-border`` on its ``:host`` (Bokeh's blue), which inherited values cannot override; a rule in
#: the toolbar's own shadow root, on the buttons themselves, can.
TOOLBAR_CSS = f"""
:host, * {{ --active-border: {GOLD}; --highlight-color: {GOLD}; }}
"""


def toolbar_stylesheet() -> Any:
    """The InlineStyleSheet of every chart's toolbar: the active tool marked in gold."""
    from bokeh.models import InlineStyleSheet

    return InlineStyleSheet(css=TOOLBAR_CSS)


def gold_toolbar(fig: Any) -> None:
    """Put ``fig``'s toolbar on theme (the active-tool mark gold on black)."""
    fig.toolbar.stylesheets = [*fig.toolbar.stylesheets, toolbar_stylesheet()]


def gold_toolbar_hook(plot: Any, _element: Any) -> None:
    """HoloViews hook: :func:`gold_toolbar` on the rendered Bokeh figure."""
    if hasattr(plot.state, "toolbar"):
        gold_toolbar(plot.state)


#: The tooltip and toolbar of plain Bokeh figures: CSS variables cross the shadow roots of the tooltip.
CHART_CSS = f"""
:host {{
  --tooltip-color: {BLACK};
  --tooltip-text: {GOLD};
  --tooltip-border: {GOLD};
  --tooltip-arrow-color: {GOLD};
  --active-tool-highlight: {GOLD};
}}
.bk-tool-icon {{ filter: invert(82%) sepia(60%) saturate(800%) hue-rotate(0deg); }}
"""


def chart_stylesheet() -> Any:
    """The InlineStyleSheet of every plain Bokeh figure (gold tooltip on black, gold tool icons)."""
    from bokeh.models import InlineStyleSheet

    return InlineStyleSheet(css=CHART_CSS)


def tooltip_html(title: str, rows: list[tuple[str, str]]) -> str:
    """A Bokeh tooltip template: a bold title line, then ``label: value`` rows (``@field`` placeholders)."""
    lines = "".join(
        f'<div><span style="color:{GOLD_DIM}">{label}:</span> '
        f'<span style="color:{GOLD};font-variant-numeric:tabular-nums">{value}</span></div>'
        for label, value in rows
    )
    return (
        f'<div class="pv-tooltip" style="background:{BLACK};color:{GOLD};padding:2px 4px;font-size:12px">'
        f'<div style="font-weight:700">{title}</div>{lines}</div>'
    )


#: Bokeh's own widgets (date pickers, range slider) on black: they live in shadow roots the page CSS misses.
WIDGET_CSS = f"""
:host {{ color: {GOLD}; }}
.bk-input, input.bk-input {{ background-color: {BLACK}; color: {GOLD}; border: 1px solid {GOLD_FAINT}; }}
.bk-input-group label, label {{ color: {GOLD_DIM}; }}
.noUi-target {{ background: #1a1504; border-color: {GOLD_FAINT}; box-shadow: none; }}
.noUi-connect {{ background: {GOLD}; }}
.noUi-handle {{ background: {GOLD}; border-color: {GOLD}; box-shadow: none; width: 28px !important;
  height: 28px !important; right: -14px !important; top: -9px !important; border-radius: 50%; }}
.noUi-handle::before, .noUi-handle::after {{ display: none; }}
"""


def widget_stylesheet() -> Any:
    """The InlineStyleSheet of Bokeh widgets placed next to plain Bokeh figures (large touch handles)."""
    from bokeh.models import InlineStyleSheet

    return InlineStyleSheet(css=WIDGET_CSS)
