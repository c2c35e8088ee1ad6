"""WOO X's fee rates for one account: ``GET /v3/trade/tradingFee?symbol=`` (``takerFee``/``makerFee``) and
``GET /v3/account/info`` (``takerFeeRate``/``makerFeeRate``), woox-api.md §4. WOO X publishes no tier table
and no account volume through its API: the table is marked as not published, with no rungs.

The unit of these rates is UNCONFIRMED (``"takerFee":"10"``; ccxt divides by 100; the account's rates are
integers). Each reading is tolerated and the one used is said: a value of 1 or more is read as basis points
(``10`` = 0.10 %), a value from 0.01 to 1 as a percentage (``0.05`` = 5 bps), a smaller one as a fraction
(``0.0005`` = 5 bps). No sane fee is 1 % or more, which keeps the three apart for the rates WOO X charges
(a maker rate under 1 bp quoted in basis points, e.g. ``0.5``, would be misread as a percentage).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from perpvol_core.exchanges._errors import BadPayload
from perpvol_core.exchanges.woox.rest import ACCOUNT_INFO
from perpvol_core.money import canonical_decimal, to_decimal

TRADING_FEE = "/v3/trade/tradingFee"
#: the perp asked about (the rates are the account's, not the market's, on every reading of the notes)
SYMBOL = "PERP_BTC_USDT"
WINDOW_DAYS = 30
NOT_PUBLISHED = ("WOO X publishes no tier table and no account volume through its API (its tiers also depend "
                 "on WOO holdings): only the account's own rates are shown")  # fmt: skip


def read_rate(value: Any) -> tuple[Decimal, str] | None:
    """``(fraction, unit read)`` of one reported rate, or None when it is not a number."""
    try:
        number = to_decimal(value)
    except (TypeError, ValueError, ArithmeticError):
        return None
    size = abs(number)
    if size == 0:
        return Decimal(0), "zero in every unit"
    if size >= 1:
        return number / 10_000, "basis points"
    if size >= Decimal("0.01"):
        return number / 100, "a percentage"
    return number, "a fraction"


def _data(payload: Any) -> dict[str, Any]:
    data = payload.get("data", payload) if isinstance(payload, dict) else None
    if isinstance(data, list):  # a list of symbols: the one asked for, else the first
        data = next((d for d in data if isinstance(d, dict) and d.get("symbol") == SYMBOL), data[0] if data else None)
    return data if isinstance(data, dict) else {}


def parse_rates(trading_fee: Any, account_info: Any) -> dict[str, Any]:
    """Rates (fractions as decimal text) and the readings, preferring ``tradingFee`` over the account's."""
    fee, info = _data(trading_fee), _data(account_info)
    out: dict[str, Any] = {"readings": []}
    for side, names in (("taker", ("takerFee", "takerFeeRate", "futuresTakerFeeRate")),
                        ("maker", ("makerFee", "makerFeeRate", "futuresMakerFeeRate"))):  # fmt: skip
        for where, data in ((TRADING_FEE, fee), (ACCOUNT_INFO, info)):
            name = next((n for n in names if data.get(n) not in (None, "")), "")
            read = read_rate(data[name]) if name else None
            if read is not None:
                out[f"{side}_rate"] = canonical_decimal(read[0])
                out["readings"].append(f"{where} {name} {data[name]!r} read as {read[1]} "
                                       f"({canonical_decimal(read[0] * 10_000)} bps)")  # fmt: skip
                break
    if "taker_rate" not in out and "maker_rate" not in out:
        raise BadPayload("WOO X tradingFee and account/info hold no readable fee rate")
    return out


def fee_schedule(connector: Any, report: dict[str, Any] | None) -> dict[str, Any]:
    """Ask both endpoints (``tradingFee`` may be absent on a server: the account's rates then). Raises
    ExchangeError."""
    try:
        trading_fee = connector.request("GET", TRADING_FEE, params={"symbol": SYMBOL}, endpoint=ACCOUNT_INFO)
    except BadPayload:
        trading_fee = None
    account_info = connector.request("GET", ACCOUNT_INFO, endpoint=ACCOUNT_INFO)
    rates = parse_rates(trading_fee, account_info)
    return {
        "source": f"{TRADING_FEE} + {ACCOUNT_INFO}",
        "fetched_ms": int(connector.clock() * 1000),
        "tables": [{"kind": "vip", "window_days": WINDOW_DAYS, "published": False, "tiers": [],
                    "note": NOT_PUBLISHED}],  # fmt: skip
        "account_kind": "vip",
        **rates,
        "note": NOT_PUBLISHED,
    }
