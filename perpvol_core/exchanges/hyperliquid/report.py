"""The venue's own figures for an address: ``portfolio`` and ``userFees`` read into exact decimal strings.

``portfolio`` (§4.2) is a list of ``[period, {vlm, accountValueHistory, pnlHistory}]`` pairs (a mapping is
read too); ``perpAllTime.vlm`` and ``perpDay.vlm`` are kept ("day" may be rolling or the UTC day, F23).
``userFees.dailyUserVlm`` (§4.1) is per day ``userCross`` (taker) and ``userAdd`` (maker); its length, its
last day and its scope (spot, sub-accounts: F21, F22) are not documented, so every entry is kept as served.
Nothing here is ever used to correct fills: it is shown beside them.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from perpvol_core.exchanges._errors import BadPayload
from perpvol_core.money import canonical_decimal, to_decimal

log = logging.getLogger(__name__)

PERIODS = {"perpAllTime": "perp_all_time_volume", "perpDay": "perp_day_volume",
           "allTime": "all_time_volume", "day": "day_volume"}


def _money(value: Any) -> str | None:
    """Exact decimal text of a JSON number or decimal string; None when it is not one."""
    try:
        return canonical_decimal(to_decimal(value))
    except (TypeError, ValueError, ArithmeticError):
        return None


def portfolio_volumes(payload: Any) -> dict[str, str | None]:
    """``{perp_all_time_volume, perp_day_volume, all_time_volume, day_volume}`` (None where absent)."""
    periods: dict[str, Any] = {}
    if isinstance(payload, list):
        for item in payload:
            if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str):
                periods[item[0]] = item[1]
    elif isinstance(payload, dict):
        periods = payload
    out: dict[str, str | None] = {}
    for period, key in PERIODS.items():
        body = periods.get(period)
        out[key] = _money(body.get("vlm")) if isinstance(body, dict) else None
    return out


def daily_volumes(payload: Any) -> list[dict[str, str]]:
    """``dailyUserVlm`` as ``[{date, taker, maker, total}]`` by date; unreadable entries are left out."""
    rows = payload.get("dailyUserVlm") if isinstance(payload, dict) else None
    out: dict[str, dict[str, str]] = {}
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or not isinstance(row.get("date"), str):
            continue
        try:
            taker, maker = to_decimal(row["userCross"]), to_decimal(row["userAdd"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            log.info("hyperliquid dailyUserVlm entry unreadable: %r", row.get("date"))
            continue
        date = row["date"].strip()[:10]
        out[date] = {"date": date, "taker": canonical_decimal(taker), "maker": canonical_decimal(maker),
                     "total": canonical_decimal(taker + maker)}
    return [out[d] for d in sorted(out)]


def fee_rates(payload: Any) -> dict[str, str]:
    """The address's current rates (``userCrossRate`` taker, ``userAddRate`` maker) where readable."""
    if not isinstance(payload, dict):
        return {}
    rates = {"taker": _money(payload.get("userCrossRate")), "maker": _money(payload.get("userAddRate"))}
    return {k: v for k, v in rates.items() if v is not None}


def build_report(portfolio: Any, fees: Any) -> dict[str, Any]:
    """The report's venue part. Raises BadPayload when neither answer holds a single readable figure."""
    volumes = portfolio_volumes(portfolio)
    daily = daily_volumes(fees)
    rates = fee_rates(fees)
    if all(v is None for v in volumes.values()) and not daily and not rates:
        raise BadPayload("Hyperliquid portfolio and userFees hold no readable volume or fee figure")
    fourteen = sum((Decimal(d["total"]) for d in daily), Decimal(0))
    return {**volumes, "daily": daily, "daily_total_volume": canonical_decimal(fourteen) if daily else None,
            "fees": rates}
