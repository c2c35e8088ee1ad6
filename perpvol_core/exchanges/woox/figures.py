"""WOO X reports no volume figure about an account (``woox-api.md`` §0: no daily, 30-day or VIP volume
endpoint in v1 or v3): every WOO X account's reconciliation row says "not reported"."""

from __future__ import annotations

from perpvol_core.exchanges._figures import FigureSource


class WooxFigures(FigureSource):
    not_reported = (
        "WOO X publishes no volume figure for an account (no daily, 30-day or VIP volume endpoint): "
        "nothing to check perpvol's figures against"
    )


SOURCE = WooxFigures()
