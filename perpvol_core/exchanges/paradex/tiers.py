"""Paradex fee tiers: its own table (``GET /v1/system/volume-tiers``) and each account's trailing volume
(``GET /v1/account/info``), both stored by the sync as the account's ``exchange_report``."""

from __future__ import annotations

from typing import Any

from perpvol_core.exchanges.paradex.spec import COUNTED_FILL_TYPES


def tier_source() -> dict[str, Any]:
    """Plain data read by ``perpvol_core.analytics.tiers``: thresholds and the account's figure are reported."""
    return {
        "source": "reported",
        "window_days": 14,
        "counted_fill_types": COUNTED_FILL_TYPES,
        "missing_note": "Paradex's tier table comes with the first sync of a Paradex account.",
        "not_fetched": "Paradex's own figure has not been fetched yet (it comes with a sync)",
        # likely causes when the exchange counts more than we do and no exact reading explains it
        "causes_when_more": (
            "fills not yet listed by /v1/fills: Paradex lists a fill only once it is sent to chain for settlement, "
            "while its account figure may count it already — sync again later",
            "Paradex counts the main account and all its subaccounts: add the subaccounts' keys too",
        ),
    }
