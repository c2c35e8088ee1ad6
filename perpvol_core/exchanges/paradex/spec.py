"""Paradex as the rest of perpvol sees it (see ``perpvol_core.exchanges._spec``)."""

from __future__ import annotations

from perpvol_core.exchanges._spec import VenueSpec
from perpvol_core.exchanges.paradex.credentials import ParadexL2Credentials, ParadexTokenCredentials

#: fill types counted as trading volume (design.md, "What counts as volume")
COUNTED_FILL_TYPES = frozenset({"FILL", "LIQUIDATION", "RPI", "BLOCK_TRADE"})
#: stored and shown apart, never counted
UNCOUNTED_FILL_TYPES = frozenset({"SETTLE_MARKET", "UNWIND_TRANSFER", "TRANSFER"})


def is_perp(market: str) -> bool:
    """Perpetuals are ``<BASE>-<QUOTE>-PERP``; options and spot are not."""
    return market.endswith("-PERP")


def counts(market: str, fill_type: str) -> bool:
    """A perp fill of a traded type counts; settlements and transfers do not."""
    return is_perp(market) and fill_type in COUNTED_FILL_TYPES


SPEC = VenueSpec(
    name="paradex",
    display_name="Paradex",
    colour="#a8841a",
    default_base_url="https://api.prod.paradex.trade",
    hosts={
        "api.prod.paradex.trade": "ws.api.prod.paradex.trade",
        "api.testnet.paradex.trade": "ws.api.testnet.paradex.trade",
    },
    credential_kinds=(ParadexTokenCredentials, ParadexL2Credentials),
    connector="perpvol_core.exchanges.paradex.rest:ParadexConnector",
    stream="perpvol_core.exchanges.paradex.stream:ParadexStream",
    is_perp=is_perp,
    counts=counts,
    identity="perpvol_core.exchanges.paradex.identity:account_identity",
    simulator="paradex",
    fee_schedule="perpvol_core.exchanges.paradex.fee_schedule:fee_schedule",
    reported_figures="perpvol_core.exchanges.paradex.figures:SOURCE",
    tier_source="perpvol_core.exchanges.paradex.tiers:tier_source",
)
