"""Only the JavaScript bundles the page uses.

Panel's server page lists every bundle any imported model might need: BokehJS's WebGL and MathJax
parts (MathJax whenever an HTML pane exists, 1.7 MB) and the Tabulator/Luxon files (their models are
imported with ``panel``). BokehJS's tables part stays: ``panel.min.js`` builds on it. Neither Panel
nor Bokeh has a setting for this, so
:func:`install` wraps the one function that computes the page's bundle (``panel.io.server.
bundle_resources``) and drops each of these parts unless a model of the document uses it. The
dashboard's deferred sections use none of them (``tests/ui/test_bundles.py`` checks it, and that
the wrapped function is still where this module expects it: an upgrade that moves it fails there).
"""

from __future__ import annotations

import functools
from typing import Any

#: (substring of the bundle's URL, test on the document's models) of every part that may be dropped.
_OPTIONAL: tuple[tuple[str, str], ...] = (
    ("bokeh-gl", "gl"),
    ("bokeh-mathjax", "mathjax"),
    ("tabulator", "tabulator"),
    ("luxon", "tabulator"),
)


def used_parts(roots: Any) -> set[str]:
    """Which optional parts the models under ``roots`` need ("gl", "mathjax", "tabulator")."""
    from bokeh.embed.bundle import _use_gl, _use_mathjax
    from bokeh.model import Model

    objs: set[Any] = set()
    for root in roots:
        objs |= set(root.references()) if isinstance(root, Model) else set()
    parts = set()
    if _use_gl(objs):
        parts.add("gl")
    if _use_mathjax(objs):
        parts.add("mathjax")
    if any(type(o).__name__ == "DataTabulator" for o in objs):
        parts.add("tabulator")
    return parts


def trim(bundle: Any, parts: set[str]) -> Any:
    """``bundle`` without the files of the optional parts not in ``parts``."""
    drop = [needle for needle, part in _OPTIONAL if part not in parts]
    bundle.js_files = [f for f in bundle.js_files if not any(n in str(f) for n in drop)]
    bundle.css_files = [f for f in bundle.css_files if not any(n in str(f) for n in drop)]
    return bundle


def install() -> None:
    """Wrap Panel's page bundle once per process (idempotent).

    Raises: RuntimeError when Panel no longer has ``panel.io.server.bundle_resources``.
    """
    import panel.io.server as server

    original = getattr(server, "bundle_resources", None)
    if original is None:
        raise RuntimeError("panel.io.server.bundle_resources is gone: perpvol_app.ui.bundles needs updating")
    if getattr(original, "_perpvol_trimmed", False):
        return

    @functools.wraps(original)
    def bundle_resources(roots: Any, resources: Any, *args: Any, **kwargs: Any) -> Any:
        return trim(original(roots, resources, *args, **kwargs), used_parts(roots))

    bundle_resources._perpvol_trimmed = True  # type: ignore[attr-defined]
    server.bundle_resources = bundle_resources
