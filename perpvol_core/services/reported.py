"""The venue's reported volume figures, fetched after a sync beside its ``exchange_report``.

The venue's :class:`~perpvol_core.exchanges._figures.FigureSource` (its spec's ``reported_figures``) reads
what it needs; the answers are kept in the report as ``figures`` (plain JSON) for the reconciliation
(``perpvol_core.analytics.reconcile``). A failure is noted in the document, never raised.
"""

from __future__ import annotations

from typing import Any

from perpvol_core.exchanges import VENUES, ExchangeError, load
from perpvol_core.security.redaction import redact


def with_figures(exchange: str, connector: Any, report: dict[str, Any]) -> dict[str, Any]:
    """``report`` with the venue's figure answers added as ``figures`` (an ``error`` inside when unread)."""
    spec = VENUES.get(exchange)
    if spec is None or spec.reported_figures is None:
        return report
    try:
        figures = load(spec.reported_figures).fetch(connector)
    except ExchangeError as exc:
        figures = {**(report.get("figures") or {}), "error": redact(f"could not read the venue's figures: {exc}")}
    return {**report, "figures": figures}
