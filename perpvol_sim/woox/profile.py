"""The WOO X history profile: markets, what counts and the id scheme of the seeded histories."""

from __future__ import annotations

from perpvol_sim.profiles import VenueProfile, market

MARKETS = (
    market("PERP_BTC_USDT", 60000, 1, 4, 6000, 30, "perp"),
    market("PERP_ETH_USDT", 3000, 2, 3, 3000, 22, "perp"),
    market("PERP_SOL_USDT", 150, 3, 2, 1500, 14, "perp"),
    market("PERP_DOGE_USDT", 0.15, 5, 0, 800, 6, "perp"),
    market("PERP_XRP_USDT", 0.6, 4, 1, 800, 6, "perp"),
    market("PERP_WOO_USDT", 0.25, 5, 0, 500, 4, "perp"),
    market("PERP_ARB_USDT", 1.1, 4, 1, 600, 3, "perp"),
    market("SPOT_BTC_USDT", 60000, 2, 5, 2000, 3, "spot"),
    market("SPOT_LTC_USDT", 85, 2, 2, 300, 2, "spot"),
)


def _kind(name: str) -> str:
    return "perp" if name.startswith("PERP_") else "spot"


PROFILE = VenueProfile(
    name="woox",
    markets=MARKETS,
    kind_of=_kind,
    quote_asset="USDT",
    # increasing 10-digit trade ids, 11-digit order ids
    id_scheme="int",
    id_start=(1_700_000_000, 1_000_000),
    order_start=(60_000_000_000, 1_000_000_000),
    # WOO X charges spot buys in the bought asset (the recorded LTC fixture)
    spot_buy_fee_in_base=True,
)
