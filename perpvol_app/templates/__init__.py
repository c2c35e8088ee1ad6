"""HTML pages of the server (embed widget, login), rendered by Jinja2 with autoescape on."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("perpvol_app", "templates"),
        autoescape=True,  # every value is escaped: labels, names and messages can never become markup
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **values: Any) -> str:
    """Render template ``name`` with ``values``. Raises: jinja2.TemplateError (a bug, not bad input)."""
    return _env().get_template(name).render(**values)
