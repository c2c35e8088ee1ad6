"""Market metadata (``hyperliquid-api.md`` §8): ``meta`` (per ``dex``), ``metaAndAssetCtxs``, ``spotMeta``,
``perpDexs``, ``allMids``, plus ``clearinghouseState`` and ``exchangeStatus`` (the weight-2 types)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from perpvol_sim.history import History, MarketSpec
from perpvol_sim.hyperliquid.wire import hex_of, num

#: spot pairs: name -> (pair index, base token index); USDC is token 0 (§8: ``@107`` is universe index 107)
_SPOT_PAIRS = {"PURR/USDC": (0, 1), "@107": (107, 150)}
_MAX_LEVERAGE = {"BTC": 40, "ETH": 25, "HYPE": 10, "SOL": 20}


def _last_prices(history: History) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for fill in reversed(history.fills):
        out.setdefault(fill.market, fill.price)
        if len(out) == len(history.profile.markets):
            break
    return out


def _asset(spec: MarketSpec, delisted: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name, "szDecimals": spec.size_dp,
                           "maxLeverage": _MAX_LEVERAGE.get(spec.name, 5), "onlyIsolated": False}  # fmt: skip
    if delisted:
        out["isDelisted"] = True
    return out


def meta(history: History, dex: str | None, delisted_in_meta: str) -> dict[str, Any]:
    """``meta``: the core dex's perps (``dex`` absent or ""), or builder dex ``dex``'s (names ``dex:NAME``); a
    delisted perp keeps its place flagged ``isDelisted`` or is left out (F24)."""
    universe = []
    for spec in history.profile.markets:
        kind = spec.kind
        if dex:
            if kind != "hip3" or not spec.name.startswith(dex + ":"):
                continue
        elif kind not in ("perp", "delisted"):
            continue
        if kind == "delisted" and delisted_in_meta == "absent":
            continue
        universe.append(_asset(spec, kind == "delisted"))
    tables = sorted({a["maxLeverage"] for a in universe})
    margin = [[lev, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}] for lev in tables]
    return {"universe": universe, "marginTables": margin}


def asset_contexts(history: History, dex: str | None, delisted_in_meta: str) -> list[Any]:
    """``metaAndAssetCtxs``: ``[meta, [ctx, ...]]`` with one context per universe entry."""
    described = meta(history, dex, delisted_in_meta)
    prices = _last_prices(history)
    contexts = []
    for asset in described["universe"]:
        price = num(prices.get(asset["name"], Decimal("1.0")))
        contexts.append({"dayNtlVlm": "1000000.0", "funding": "0.0000125", "impactPxs": [price, price],
                         "markPx": price, "midPx": price, "openInterest": "1000.0", "oraclePx": price,
                         "premium": "0.0", "prevDayPx": price})  # fmt: skip
    return [described, contexts]


def spot_meta(history: History) -> dict[str, Any]:
    tokens = [{"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0, "tokenId": hex_of("token:USDC", 32),
               "isCanonical": True, "evmContract": None, "fullName": None}]  # fmt: skip
    universe = []
    for spec in history.profile.markets:
        if spec.name not in _SPOT_PAIRS:
            continue
        pair_index, token_index = _SPOT_PAIRS[spec.name]
        tokens.append({"name": spec.base_asset, "szDecimals": spec.size_dp, "weiDecimals": 8, "index": token_index,
                       "tokenId": hex_of(f"token:{spec.base_asset}", 32), "isCanonical": pair_index == 0,
                       "evmContract": None, "fullName": None})  # fmt: skip
        universe.append({"name": spec.name, "tokens": [token_index, 0], "index": pair_index,
                         "isCanonical": pair_index == 0})  # fmt: skip
    return {"tokens": tokens, "universe": universe}


def perp_dexs(history: History) -> list[Any]:
    """``perpDexs``: ``null`` for the core dex, then one entry per builder dex of the history's markets."""
    dexes: dict[str, list[str]] = {}
    for spec in history.profile.markets:
        if spec.kind == "hip3":
            dexes.setdefault(spec.name.split(":", 1)[0], []).append(spec.name)
    out: list[Any] = [None]
    for name, coins in dexes.items():
        out.append({"name": name, "fullName": f"{name} dex", "deployer": hex_of(f"deployer:{name}", 40),
                    "oracleUpdater": None, "feeRecipient": None,
                    "assetToStreamingOiCap": [[c, "50000000.0"] for c in coins],
                    "assetToFundingMultiplier": [[c, "1.0"] for c in coins]})  # fmt: skip
    return out


def all_mids(history: History) -> dict[str, str]:
    prices = _last_prices(history)
    return {s.name: num(prices.get(s.name, Decimal("1.0"))) for s in history.profile.markets if s.kind == "perp"}


def clearinghouse_state(now_ms: int, known: bool) -> dict[str, Any]:
    value = "10000.0" if known else "0.0"
    summary = {"accountValue": value, "totalNtlPos": "0.0", "totalRawUsd": value, "totalMarginUsed": "0.0"}
    return {"marginSummary": summary, "crossMarginSummary": dict(summary), "crossMaintenanceMarginUsed": "0.0",
            "withdrawable": value, "assetPositions": [], "time": now_ms}  # fmt: skip


def exchange_status(now_ms: int) -> dict[str, Any]:
    return {"time": now_ms, "specialStatuses": None}
