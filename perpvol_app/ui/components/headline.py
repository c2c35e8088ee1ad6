"""Headline figures: live 24h, 7d, 30d and all-time volume, total and per exchange."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from perpvol_app.templates import render
from perpvol_app.ui.components.context import exact, money
from perpvol_core.exchanges import VENUES, display_name

#: the registered venues, in the registry's order (every breakdown lists each)
EXCHANGES: tuple[str, ...] = tuple(VENUES)

WINDOWS = (("24h", "Last 24h"), ("7d", "7 days"), ("30d", "30 days"), ("all", "All time"))
EXCHANGE_NAMES = {e: display_name(e) for e in EXCHANGES}  # one naming: perpvol_core.exchanges


def render_summary(summary: dict[str, Any] | None, partial: dict[str, Any] | None = None) -> str:
    """HTML of the four figures; exact values ride along in ``title`` and ``data-exact``. ``partial``
    (``CoverageView.partial_flags()``) marks a figure that is only a lower bound: ``≥ $X``."""
    totals = (summary or {}).get("totals") or {}
    by_exchange = (summary or {}).get("by_exchange") or {}
    bound = (partial or {}).get("totals") or {}
    bound_by = (partial or {}).get("by_exchange") or {}
    cells = []
    for key, label in WINDOWS:
        value = totals.get(key)
        subs = []
        for exch, name in EXCHANGE_NAMES.items():
            sub = (by_exchange.get(exch) or {}).get(key)
            if sub is not None:
                low = bool((bound_by.get(exch) or {}).get(key))
                subs.append({"exchange": exch, "exact": exact(sub), "name": name, "text": money(sub, 0),
                             "partial": low})  # fmt: skip
        cells.append(
            {
                "key": key,
                "label": label,
                "live": key == "24h",
                "exact": exact(value),
                "text": money(value),
                "partial": bool(bound.get(key)),
                "subs": subs,
            }
        )
    return render("ui/headline.html", cells=cells)


class Headline(pn.viewable.Viewer):
    """The four figures. ``summary`` is ``perpvol_core.analytics.volume.summary(...)``; the dashboard refreshes it."""

    summary = param.Dict(default={}, doc="volume.summary() result (Decimal values)")
    partial = param.Dict(default={}, doc="CoverageView.partial_flags(): the figures that are lower bounds")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._pane = pn.pane.HTML(render_summary(self.summary, self.partial), sizing_mode="stretch_width",
                                  margin=(5, 10))  # fmt: skip

    @param.depends("summary", "partial", watch=True)
    def _update(self) -> None:
        self._pane.object = render_summary(self.summary, self.partial)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane
