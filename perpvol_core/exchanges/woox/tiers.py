"""WOO X fee tiers: no tier API and no account-volume figure (exchange notes §0), so indicative rungs."""

from __future__ import annotations

from typing import Any


def tier_source() -> dict[str, Any]:
    """Plain data read by ``perpvol_core.analytics.tiers``: indicative thresholds, shown as such."""
    return {
        "source": "indicative",
        "kind": "vip",
        "window_days": 30,
        "tiers": [("VIP 0", "0"), ("VIP 1", "1000000"), ("VIP 2", "10000000"), ("VIP 3", "50000000"),
                  ("VIP 4", "100000000"), ("VIP 5", "500000000")],
        "note": (
            "WOO X publishes no account-volume figure and no tier table through its API: perpvol's 30-day "
            "volume cannot be checked against the exchange, and these thresholds are indicative (WOO X tiers "
            "also depend on WOO holdings)."
        ),
    }  # fmt: skip
