"""One Hyperliquid fill object (``userFills``, ``userFillsByTime``, the ``userFills`` stream) -> :class:`Fill`.

Wire forms accepted (hyperliquid-api.md §3.2): ``time``/``oid``/``tid`` as JSON numbers or numeric strings
(F4), ``px``/``sz``/``fee``/``builderFee`` as decimal strings or numbers, ``builderFee`` absent when 0, and
any field we do not read (``hash``, ``dir``, ``closedPnl``, ``liquidation``, ``cloid``, ``twapId``, …).

Classification by ``coin`` (§3.5): ``"PURR/USDC"`` or ``"@107"`` is spot, ``"xyz:TSLA"`` is a HIP-3
builder-dex perp, anything else a core perp (including delisted coins no longer in ``meta``).

Fees (F8, unknowable per fill): ``Fill.fee`` is the venue's ``fee`` exactly as served and ``Fill.builder_fee``
the venue's ``builderFee`` exactly as served (None when absent). Nothing is added or subtracted: whether
``fee`` already includes the builder fee is not documented, and keeping both raw values lets a later
reading be applied without refetching (the venue forgets fills beyond its newest 10,000).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from perpvol_core.fill import MAKER, TAKER, Fill
from perpvol_core.money import to_decimal
from perpvol_core.security.redaction import redact

EXCHANGE = "hyperliquid"
#: core-dex perpetual fill (``"BTC"``)
PERP = "FILL"
#: HIP-3 builder-deployed perpetual fill (``"xyz:TSLA"``): a perp, counted, shown as its own category
HIP3 = "HIP3"
#: spot fill (``"PURR/USDC"``, ``"@107"``): stored, never counted
SPOT = "SPOT"
COUNTED_FILL_TYPES = frozenset({PERP, HIP3})


def is_spot(coin: str) -> bool:
    return "/" in coin or coin.startswith("@")


def is_perp(market: str) -> bool:
    """Every coin that is not spot is a perpetual (core or HIP-3)."""
    return not is_spot(market)


def counts(market: str, fill_type: str) -> bool:
    """Core and HIP-3 perp fills count as perp volume; spot never does."""
    return fill_type in COUNTED_FILL_TYPES and is_perp(market)


def fill_type_of(coin: str) -> str:
    if is_spot(coin):
        return SPOT
    if ":" in coin:
        return HIP3
    return PERP


def to_int(value: Any, what: str) -> int:
    """An integer from a JSON integer or a numeric string (never a float, a bool or a fraction)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} is a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal | str):
        text = str(value).strip()
        try:
            d = Decimal(text)
        except ArithmeticError as exc:
            raise ValueError(f"{what} {text[:30]!r} is not a number") from exc
        if not d.is_finite() or d != d.to_integral_value():
            raise ValueError(f"{what} {text[:30]!r} is not an integer")
        number = int(d)
    else:
        raise TypeError(f"{what} is {type(value).__name__}")
    if number < 0:
        raise ValueError(f"{what} is negative")
    return number


def _crossed(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"crossed is {str(value)[:20]!r}")


def fill_key(row: dict[str, Any]) -> tuple[int, int]:
    """``(tid, oid)``: the dedupe key (hyperliquid-api.md §3.7; ``tid`` alone may repeat across sides)."""
    return to_int(row["tid"], "tid"), to_int(row["oid"], "oid")


def parse_fill(row: Any) -> Fill:
    """A normalized :class:`Fill` from one fill object.

    Raises KeyError/ValueError/TypeError/ArithmeticError when the row is not a readable fill.
    """
    if not isinstance(row, dict):
        raise TypeError(f"a fill is a {type(row).__name__}, not an object")
    tid, oid = fill_key(row)
    coin = row["coin"]
    if not isinstance(coin, str) or not coin.strip():
        raise ValueError("coin is missing")
    coin = coin.strip()
    side = row["side"]
    if side not in ("B", "A"):
        raise ValueError(f"side is {str(side)[:10]!r}, not B or A")
    price = to_decimal(row["px"])
    size = to_decimal(row["sz"])
    if price < 0 or size < 0:
        raise ValueError("negative price or size")
    raw_builder = row.get("builderFee")
    fee_token = row.get("feeToken")
    return Fill(
        exchange=EXCHANGE,
        fill_id=f"{tid}:{oid}",
        fill_type=fill_type_of(coin),
        market=coin,
        side="BUY" if side == "B" else "SELL",
        liquidity=TAKER if _crossed(row["crossed"]) else MAKER,
        price=price,
        size=size,
        fee=to_decimal(row["fee"]),
        fee_asset=fee_token.strip() if isinstance(fee_token, str) and fee_token.strip() else "USDC",
        ts_ms=to_int(row["time"], "time"),
        builder_fee=None if raw_builder is None else to_decimal(raw_builder),
    )


def describe_row(row: Any) -> str:
    """A short, redacted name of a row for the skipped list (its ids, never the whole object)."""
    if not isinstance(row, dict):
        return f"a {type(row).__name__}"
    return redact(f"tid={str(row.get('tid'))[:24]} oid={str(row.get('oid'))[:24]} time={str(row.get('time'))[:16]}")


def parse_fills(rows: Iterable[Any]) -> tuple[list[Fill], list[str]]:
    """The readable fills of ``rows`` and a message for each bad row (reported and skipped, never fatal)."""
    fills: list[Fill] = []
    skipped: list[str] = []
    for row in rows:
        try:
            fills.append(parse_fill(row))
        except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            skipped.append(redact(f"hyperliquid fill {describe_row(row)}: {reason[:160]}"))
    return fills, skipped


def sort_key(fill: Fill) -> tuple[int, str]:
    """Time first; the id only makes the order deterministic (order within one ms is undocumented)."""
    return fill.ts_ms, fill.fill_id
