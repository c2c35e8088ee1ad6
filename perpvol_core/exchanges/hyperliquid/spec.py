"""Hyperliquid as perpvol sees it (the venue contract, ``perpvol_core.exchanges._spec``)."""

from __future__ import annotations

from perpvol_core.exchanges._spec import VenueSpec
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.parse import counts, is_perp
from perpvol_core.exchanges.hyperliquid.stream import DEFAULT_BASE_URL, WS_HOSTS

SPEC = VenueSpec(
    name="hyperliquid",
    display_name="Hyperliquid",
    # Hyperliquid's own mint-teal: apart from WOO X's gold (#ffd230) and Paradex's bronze (#a8841a), and
    # bright enough on black
    colour="#50d2c1",
    default_base_url=DEFAULT_BASE_URL,
    hosts=dict(WS_HOSTS),
    credential_kinds=(HyperliquidAddress,),
    connector="perpvol_core.exchanges.hyperliquid.rest:HyperliquidConnector",
    stream="perpvol_core.exchanges.hyperliquid.stream:HyperliquidStream",
    is_perp=is_perp,
    counts=counts,
    identity="perpvol_core.exchanges.hyperliquid.rest:identity",
    simulator="hyperliquid",
    fee_schedule="perpvol_core.exchanges.hyperliquid.fee_schedule:fee_schedule",
    reported_figures="perpvol_core.exchanges.hyperliquid.figures:SOURCE",
    tier_source=None,
    # only the newest 10,000 fills of an address are served
    retention_limited=True,
    history_note=(
        "Hyperliquid serves only an address's 10,000 most recent fills; days before the oldest one it served "
        "are not covered, and every fill perpvol has seen is kept"
    ),
)
