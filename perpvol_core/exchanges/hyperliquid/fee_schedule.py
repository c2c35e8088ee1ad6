"""Hyperliquid's fee schedule for one address, from ``{"type":"userFees"}`` (§4.1, §5): the perps VIP table
(``feeSchedule`` base rates, then ``tiers.vip[]`` by ``ntlCutoff``), the address's own rates
(``userCrossRate`` taker, ``userAddRate`` maker). Plain data for ``perpvol_core.analytics.fee_schedule``.

A tier needs 14-day *weighted* volume above its cutoff ("> $5M"), weighted = perps + 2 x spot, assessed
at the end of each UTC day, shared by the master account and its sub-accounts (§5). The address's tier is
the one whose rates are its rates; a staking or referral discount makes the rates match no row, and then
no tier is named. The table's rows are never hard-coded: an answer without ``feeSchedule`` has none.
"""

from __future__ import annotations

from typing import Any

from perpvol_core.exchanges._errors import BadPayload
from perpvol_core.money import canonical_decimal, to_decimal

WINDOW_DAYS = 14
#: "(14d weighted volume) = (14d perps volume) + 2 * (14d spot volume)" (§5)
SPOT_WEIGHT = "2"


def _dec(value: Any) -> str | None:
    try:
        return canonical_decimal(to_decimal(value))
    except (TypeError, ValueError, ArithmeticError):
        return None


def _table(schedule: Any) -> list[dict[str, Any]]:
    if not isinstance(schedule, dict):
        return []
    rows = [{"name": "Tier 0", "min_volume": "0", "taker_rate": _dec(schedule.get("cross")),
             "maker_rate": _dec(schedule.get("add"))}]  # fmt: skip
    vip = (schedule.get("tiers") or {}).get("vip") if isinstance(schedule.get("tiers"), dict) else None
    readable = []
    for row in vip if isinstance(vip, list) else []:
        cutoff = _dec(row.get("ntlCutoff")) if isinstance(row, dict) else None
        if cutoff is not None:
            readable.append((to_decimal(cutoff), cutoff, row))
    for i, (_value, cutoff, row) in enumerate(sorted(readable, key=lambda r: r[0]), start=1):
        rows.append({"name": f"Tier {i}", "min_volume": cutoff, "taker_rate": _dec(row.get("cross")),
                     "maker_rate": _dec(row.get("add"))})  # fmt: skip
    return rows


def parse_user_fees(payload: Any, fetched_ms: int) -> dict[str, Any]:
    """The schedule of a ``userFees`` answer. Raises BadPayload when it holds neither table nor rates."""
    if not isinstance(payload, dict):
        raise BadPayload("Hyperliquid userFees: not an object")
    tiers = _table(payload.get("feeSchedule"))
    taker, maker = _dec(payload.get("userCrossRate")), _dec(payload.get("userAddRate"))
    if not tiers and taker is None and maker is None:
        raise BadPayload("Hyperliquid userFees holds no fee schedule and no rates")
    readings = []
    matched = [t["name"] for t in tiers if t["taker_rate"] == taker and t["maker_rate"] == maker]
    if matched:
        readings.append(f"userCrossRate/userAddRate are the rates of {matched[-1]}")
    elif tiers:
        readings.append("the address's rates match no tier exactly (a staking or referral discount?): "
                        "no tier named")
    tables = []
    if tiers:
        tables.append({"kind": "vip", "window_days": WINDOW_DAYS, "published": True, "above": True, "tiers": tiers,
                       "spot_weight": SPOT_WEIGHT,
                       "note": "14-day weighted volume (perps + 2 x spot), assessed at the end of each UTC day"})
    return {
        "source": "/info userFees",
        "fetched_ms": fetched_ms,
        "tables": tables,
        "account_kind": "vip" if tables else None,
        "reported_tier": matched[-1] if matched else None,
        "taker_rate": taker,
        "maker_rate": maker,
        "readings": readings,
        "note": "The master account and its sub-accounts share one tier; vault volume counts apart.",
    }


def fee_schedule(connector: Any, report: dict[str, Any] | None) -> dict[str, Any]:
    """Ask ``userFees`` for the connector's address. Raises ExchangeError."""
    payload = connector.info({"type": "userFees", "user": connector.credentials.address})
    return parse_user_fees(payload, int(connector.clock() * 1000))
