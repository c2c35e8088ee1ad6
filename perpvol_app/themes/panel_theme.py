"""Panel design for perpvol: Bootstrap dark recoloured gold (#ffd230) on black (#000000).

Imported by ``perpvol_app/ui/theme.py`` as ``perpvol_app.themes.panel_theme``, so that Panel serves
``perpvol.css`` (next to this file) to every component's shadow root through its component-resource
route, and applies ``bokeh_theme.json`` to every Bokeh/HoloViews plot.
"""

from __future__ import annotations

import json
import pathlib

import param
from bokeh.themes import Theme as BokehTheme
from panel.theme.base import THEME_CSS
from panel.theme.bootstrap import Bootstrap, BootstrapDarkTheme

HERE = pathlib.Path(__file__).resolve().parent
CSS_FILE = HERE / "perpvol.css"
BOKEH_THEME_FILE = HERE / "bokeh_theme.json"
BOKEH_THEME_JSON = json.loads(BOKEH_THEME_FILE.read_text(encoding="utf-8"))


class GoldTheme(BootstrapDarkTheme):
    """Bootstrap dark with perpvol.css on top and the gold Bokeh theme."""

    base_css = param.Filename(default=THEME_CSS / "bootstrap_dark.css")
    css = param.Filename(default=CSS_FILE)
    bokeh_theme = param.ClassSelector(class_=(BokehTheme, str), default=BokehTheme(json=BOKEH_THEME_JSON))

    _name = "dark"


class GoldDesign(Bootstrap):
    _themes = {"dark": GoldTheme, "default": GoldTheme}
