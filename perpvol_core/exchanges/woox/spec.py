"""WOO X as the rest of perpvol sees it (see ``perpvol_core.exchanges._spec``)."""

from __future__ import annotations

from perpvol_core.exchanges._spec import VenueSpec
from perpvol_core.exchanges.woox.credentials import WooxCredentials

#: WOO X has a single kind of fill; it is stored under this type so identities are uniform.
FILL_TYPE = "FILL"


def is_perp(market: str) -> bool:
    """Perpetuals are ``PERP_<BASE>_<QUOTE>``; spot is ``SPOT_…``."""
    return market.startswith("PERP_")


def counts(market: str, fill_type: str) -> bool:
    """Every perp fill counts (WOO X has one kind of fill)."""
    return is_perp(market)


SPEC = VenueSpec(
    name="woox",
    display_name="WOO X",
    colour="#ffd230",
    default_base_url="https://api.woox.io",
    hosts={
        "api.woox.io": "wss.woox.io",
        "api.woo.org": "wss.woo.org",
        "api.staging.woox.io": "wss.staging.woox.io",
        "api.staging.woo.org": "wss.staging.woo.org",
    },
    credential_kinds=(WooxCredentials,),
    connector="perpvol_core.exchanges.woox.rest:WooxConnector",
    stream="perpvol_core.exchanges.woox.stream:WooxStream",
    is_perp=is_perp,
    counts=counts,
    identity="perpvol_core.exchanges.woox.identity:account_identity",
    simulator="woox",
    fee_schedule="perpvol_core.exchanges.woox.fees:fee_schedule",
    reported_figures="perpvol_core.exchanges.woox.figures:SOURCE",
    history_note=(
        "WOO X serves only the past two years of fills through /v3/trade/transactionHistory; "
        "older fills are not available through this endpoint."
    ),
    # legacy domains that serve the same accounts
    same_hosts={
        "api.woo.org": "api.woox.io",
        "api.woo.network": "api.woox.io",
        "api.staging.woo.org": "api.staging.woox.io",
    },
)
