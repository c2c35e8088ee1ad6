"""The Hyperliquid history profile (``exchanges/hyperliquid-api.md`` §3.5, §5, §8).

Markets: core perps (``BTC``, ``ETH``, ``HYPE``, ...), delisted perps (``MATIC``, ``FTM``: still in the fill
history), HIP-3 builder-dex perps (``xyz:TSLA``, ``flx:CRCL``, fees in ``USDH``) and spot (``PURR/USDC``,
``@107``). Fill types: ``FILL`` (core perp, delisted ones included), ``HIP3`` (builder-dex perp) and ``SPOT``;
a liquidation keeps its market's type. perpvol counts core and HIP-3 perps, never spot.

A same-millisecond cluster is one crossing order against several resting orders (taker, one ``oid``);
some taker fills have the user's own resting order on the other side (self-trades, two rows).
Ids are integers: ``tid`` near 5e14, ``oid`` near 9e10 (the recorded fills' sizes).
"""

from __future__ import annotations

from decimal import Decimal

from perpvol_sim.profiles import VenueProfile, market

#: perps that were delisted: their fills stay in the history, ``meta`` flags or drops them (F24)
DELISTED = frozenset({"MATIC", "FTM"})

MARKETS = (
    market("BTC", 60000, 0, 5, 6000, 28, "perp"),
    market("ETH", 3000, 1, 4, 3000, 20, "perp"),
    market("HYPE", 30, 3, 2, 1500, 14, "perp"),
    market("SOL", 150, 2, 2, 1500, 10, "perp"),
    market("DOGE", 0.15, 5, 0, 800, 4, "perp"),
    market("AVAX", 25, 3, 2, 700, 3, "perp"),
    market("MATIC", 0.5, 4, 1, 600, 1.5, "delisted"),
    market("FTM", 0.6, 4, 1, 500, 1, "delisted"),
    market("xyz:TSLA", 250, 2, 3, 1500, 5, "hip3", base="TSLA", quote="USDH"),
    market("flx:CRCL", 55, 3, 2, 800, 3, "hip3", base="CRCL", quote="USDH"),
    market("PURR/USDC", 0.2, 5, 0, 300, 3, "spot", base="PURR"),
    market("@107", 30, 3, 2, 600, 3, "spot", base="HYPE"),
)


def kind_of(name: str) -> str:
    """§3.5: ``/`` or a leading ``@`` is spot, ``dex:NAME`` a HIP-3 perp, anything else a core perp."""
    if "/" in name or name.startswith("@"):
        return "spot"
    if ":" in name:
        return "hip3"
    return "delisted" if name in DELISTED else "perp"


PROFILE = VenueProfile(
    name="hyperliquid",
    markets=MARKETS,
    kind_of=kind_of,
    quote_asset="USDC",
    id_scheme="int",
    id_start=(500_000_000_000_000, 10**13),
    order_start=(90_000_000_000, 10**9),
    perp_kinds=frozenset({"perp", "delisted", "hip3"}),
    kind_fill_types=(("perp", "FILL"), ("delisted", "FILL"), ("hip3", "HIP3"), ("spot", "SPOT")),
    self_trade_p=0.01,
    cluster=(0.88, 2, 25),
    cluster_takes=True,
    taker_rate=Decimal("0.00045"),
    maker_rate=Decimal("0.00015"),
    rebate_rate=Decimal("-0.00001"),
    spot_buy_fee_in_base=True,
)
