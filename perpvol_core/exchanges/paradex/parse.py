"""Paradex answers read into values: a ``FillResult`` row to a :class:`Fill` (``parse_fill``), and the exchange's
own figures (``/v1/system/volume-tiers``, ``/v1/account/info``) to exact decimal strings.

Pure functions of a decoded payload, with no HTTP and no auth, kept apart from the connector (``rest``) so the
stream (``stream``), the fee schedule (``fee_schedule``) and the tests read payloads without the request machinery.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from perpvol_core.exchanges._http import BadPayload, to_decimal, to_ms, to_text
from perpvol_core.fill import MAKER, TAKER, Fill
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

_DURATION_UNITS_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}
#: fill types whose old name is stored under the current one
FILL_TYPE_ALIASES = {"TRANSFER": "UNWIND_TRANSFER"}


def _int(value: str | int) -> int:
    if isinstance(value, int):
        return value
    text = value.strip()
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def parse_fill(row: dict[str, Any]) -> Fill:
    """A normalized :class:`Fill` from a ``FillResult``; raises KeyError/ValueError/TypeError on a bad row."""
    if not isinstance(row, dict):
        raise TypeError(f"row is a {type(row).__name__}")
    fill_id = to_text(row["id"], "id")
    liquidity = str(row.get("liquidity") or "").upper()
    if liquidity not in (MAKER, TAKER):
        raise ValueError(f"liquidity is {row.get('liquidity')!r}")
    fill_type = str(row.get("fill_type") or "FILL").upper()
    fill_type = FILL_TYPE_ALIASES.get(fill_type, fill_type)
    price = to_decimal(row["price"])
    size = to_decimal(row["size"])
    if price < 0 or size < 0:
        raise ValueError("negative price or size")
    fee = row.get("fee")
    return Fill(
        exchange="paradex",
        fill_id=fill_id,
        fill_type=fill_type,
        market=to_text(row["market"], "market"),
        side=str(row.get("side") or "").upper(),
        liquidity=liquidity,
        price=price,
        size=size,
        fee=to_decimal(fee) if fee not in (None, "") else to_decimal(0),
        fee_asset=str(row.get("fee_currency") or "USDC"),
        ts_ms=to_ms(row["created_at"]),
    )


def duration_ms(text: Any) -> int:
    """``"14d"`` → milliseconds (units w, d, h, m, s; a bare number is days). Raises ValueError."""
    raw = str(text).strip().lower()
    unit = raw[-1:] if raw[-1:] in _DURATION_UNITS_MS else "d"
    number = raw[:-1] if raw[-1:] in _DURATION_UNITS_MS else raw
    value = int(number)
    if value <= 0:
        raise ValueError(f"not a positive duration: {text!r}")
    return value * _DURATION_UNITS_MS[unit]


def _money_text(value: Any) -> str:
    """A decimal string as the exchange sent it (checked to be a finite number)."""
    return format(to_decimal(value), "f")


def parse_volume_tiers(payload: Any) -> list[dict[str, Any]]:
    """The rows of ``GET /v1/system/volume-tiers`` (§9) with exact decimal strings and ``duration_ms``.

    Rows that are not readable are left out. Raises BadPayload when there is no ``results`` list.
    """
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list):
        raise BadPayload("Paradex /v1/system/volume-tiers: no results list")
    tiers: list[dict[str, Any]] = []
    for row in results:
        try:
            rates = row.get("fee_rates") if isinstance(row.get("fee_rates"), dict) else {}
            tiers.append(
                {
                    "kind": str(row.get("kind") or "retail"),
                    "tier_name": to_text(row["tier_name"], "tier_name"),
                    "min_volume": _money_text(row["min_volume"]),
                    "nft_min_volume": _money_text(row.get("nft_min_volume") or 0),
                    "min_volume_duration": str(row.get("min_volume_duration") or "14d"),
                    "duration_ms": duration_ms(row.get("min_volume_duration") or "14d"),
                    "sort_order": int(row.get("sort_order") or 0),
                    "fee_rates": {str(k): _money_text(v) for k, v in rates.items() if v not in (None, "")},
                }
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            log.info("Paradex volume tier row skipped: %s", redact(exc))
    tiers.sort(key=lambda t: (t["kind"], t["sort_order"], Decimal(t["min_volume"])))
    return tiers


def parse_account_info(payload: Any, address: str | None = None) -> dict[str, Any]:
    """``volume_tiers`` (by kind: tier, volume), ``fees`` and ``kind`` of ``GET /v1/account/info`` (§9).

    Picks the result of ``address`` when given and present, else the main account, else the first.
    Raises BadPayload when no result carries ``volume_tiers``.
    """
    results = payload.get("results") if isinstance(payload, dict) else None
    if isinstance(payload, dict) and results is None and "volume_tiers" in payload:
        results = [payload]  # a single object instead of a list: same fields
    rows = [r for r in results or [] if isinstance(r, dict) and isinstance(r.get("volume_tiers"), dict)]
    if not rows:
        raise BadPayload("Paradex /v1/account/info: no volume_tiers")

    def same(a: Any) -> bool:
        try:
            return address is not None and _int(str(a)) == _int(address)
        except ValueError:
            return False

    row = next((r for r in rows if same(r.get("account"))), None) or next(
        (r for r in rows if r.get("kind") in ("main", "")), rows[0]
    )
    volumes: dict[str, dict[str, str]] = {}
    for kind, value in row["volume_tiers"].items():
        if not isinstance(value, dict):
            continue
        try:
            volumes[str(kind)] = {"tier": str(value.get("tier") or ""), "volume": _money_text(value["volume"])}
        except (KeyError, ValueError) as exc:
            log.info("Paradex volume_tiers[%s] unreadable: %s", kind, redact(exc))
    if not volumes:
        raise BadPayload("Paradex /v1/account/info: volume_tiers has no readable volume")
    fees_raw: dict[str, Any] = row["fees"] if isinstance(row.get("fees"), dict) else {}
    fees = {}
    for name, value in fees_raw.items():
        try:
            fees[str(name)] = _money_text(value)
        except ValueError:
            continue
    return {
        "account": str(row.get("account") or ""),
        "account_kind": str(row.get("kind") or ""),
        "parent_account": str(row.get("parent_account") or ""),
        "has_ecosystem_nft": bool(row.get("has_ecosystem_nft")),
        "volume": volumes,
        "fees": fees,
    }
