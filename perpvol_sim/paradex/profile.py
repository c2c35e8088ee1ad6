"""The Paradex history profile: markets, fill types, what counts and the id scheme of the seeded histories.

Paradex fill types of a perp fill: mostly ``FILL``, some ``LIQUIDATION``/``RPI``/``BLOCK_TRADE`` (counted) and
``SETTLE_MARKET``/``UNWIND_TRANSFER`` (stored, not counted, no fee); a few ids appear twice with another
``fill_type`` (identity is ``(fill_id, fill_type)``).
"""

from __future__ import annotations

import random

from perpvol_sim.profiles import MarketSpec, VenueProfile, market

COUNTED = frozenset({"FILL", "LIQUIDATION", "RPI", "BLOCK_TRADE"})

MARKETS = (
    market("BTC-USD-PERP", 60000, 1, 5, 6000, 30, "perp"),
    market("ETH-USD-PERP", 3000, 2, 4, 3000, 22, "perp"),
    market("SOL-USD-PERP", 150, 3, 2, 1500, 12, "perp"),
    market("DOGE-USD-PERP", 0.15, 5, 0, 800, 5, "perp"),
    market("HYPE-USD-PERP", 30, 3, 2, 900, 5, "perp"),
    market("ARB-USD-PERP", 1.1, 4, 1, 600, 3, "perp"),
    market("ETH-USD", 3000, 2, 4, 500, 2, "spot"),
    market("BTC-USD-96000-C", 1500, 1, 3, 400, 1.5, "option"),
    market("ETH-USD-3500-P", 120, 2, 2, 300, 1, "option"),
    market("BTC-USD-27JUN25-96000-C", 1800, 1, 3, 400, 0.5, "option"),
)

# Fill types of a perp fill (weights in per mille).
_PERP_TYPES = (
    ("FILL", 920),
    ("LIQUIDATION", 15),
    ("RPI", 30),
    ("BLOCK_TRADE", 10),
    ("SETTLE_MARKET", 10),
    ("UNWIND_TRANSFER", 15),
)


def _kind(name: str) -> str:
    return "perp" if name.endswith("-PERP") else ("option" if name[-2:] in ("-C", "-P") else "spot")


def _draw_fill_type(spec: MarketSpec, rng: random.Random) -> str:
    if spec.kind != "perp":
        return "SETTLE_MARKET" if spec.kind == "option" and rng.random() < 0.03 else "FILL"
    r = int(rng.random() * 1000)
    for name, weight in _PERP_TYPES:
        if r < weight:
            return name
        r -= weight
    return "FILL"


PROFILE = VenueProfile(
    name="paradex",
    markets=MARKETS,
    kind_of=_kind,
    quote_asset="USDC",
    counted_types=COUNTED,
    feeless_types=frozenset({"SETTLE_MARKET", "UNWIND_TRANSFER"}),
    draw_fill_type=_draw_fill_type,
    twins=True,
    # 13-digit ms timestamp + 15-digit increasing suffix
    id_scheme="ts_prefixed",
    id_start=(200_000_000_000_000, 10**13),
    order_start=(100_000_000_000_000, 10**13),
)
