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

GOLD = "#ffd230"
GOLD_DIM = "#c9a626"
GOLD_FAINT = "#4d3f0f"
BLACK = "#000000"
ERROR = "#ff8a7a"
#: One gold shade per exchange, readable on black; the rolling line is a pale gold over both.
EXCHANGE_COLORS = {"woox": GOLD, "paradex": "#a8841a"}
LINE_COLOR = "#fff3c4"

THEMES_DIR = pathlib.Path(_themes.__file__).resolve().parent
GoldTheme = _themes.GoldTheme
GoldDesign = _themes.GoldDesign
CSS_FILE = _themes.CSS_FILE


def bokeh_theme() -> BokehTheme:
    return GoldTheme.param.bokeh_theme.default


def apply_theme() -> None:
    """Process-wide defaults: HoloViews renders with the gold theme, Panel uses the gold design."""
    if pn.extension._loaded:
        # In a notebook where pn.extension already ran: re-running hv.extension would reload BokehJS from
        # the CDN, which an offline machine cannot reach, and the charts would come out blank.
        hv.renderer("bokeh")
        hv.Store.set_current_backend("bokeh")
    else:
        hv.extension("bokeh", logo=False, inline=pn.config.inline)
    hv.renderer("bokeh").theme = bokeh_theme()
    pn.config.design = GoldDesign
    pn.config.theme = "dark"  # type: ignore[misc]  # panel's config.__setattr__ sets it; the getter has no setter


def make_template(title: str = "perpvol") -> pn.template.BootstrapTemplate:
    """The page: black header with a gold title, no sidebar (one column reads well on a phone)."""
    return pn.template.BootstrapTemplate(
        title=title,
        design=GoldDesign,
        theme="dark",
        header_background=BLACK,
        header_color=GOLD,
        main_max_width="1400px",
        collapsed_sidebar=True,
        meta_description="Your perpetual-futures volume on WOO X and Paradex",
    )


def chart_opts() -> dict[str, Any]:
    """Options shared by every chart (the Bokeh theme does colours; these do sizing and tools)."""
    return {
        "bgcolor": BLACK,
        "responsive": True,
        "toolbar": "above",
        "fontsize": {"title": "13pt", "labels": "11pt", "ticks": "10pt"},
    }
