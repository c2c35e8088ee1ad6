"""WOO X answers read into fills: a transactionHistory (or v1 trades) row to a :class:`Fill`, and a whole
transactionHistory answer (rows, ``meta`` when sent, bad rows reported and skipped) to a :class:`HistoryResponse`.
Used by the connector (``rest``), the history walk (``paging``) and the stream (``stream``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perpvol_core.exchanges._http import BadPayload, to_decimal, to_ms, to_text
from perpvol_core.exchanges.woox.spec import FILL_TYPE as WOOX_FILL_TYPE
from perpvol_core.fill import MAKER, TAKER, Fill
from perpvol_core.security.redaction import redact


def _pick(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise KeyError(names[0])


def _maker(value: Any) -> str:
    if isinstance(value, bool):
        return MAKER if value else TAKER
    text = str(value).strip().lower()
    if text in ("1", "true", "maker"):
        return MAKER
    if text in ("0", "false", "taker"):
        return TAKER
    raise ValueError(f"isMaker is {value!r}")


def parse_fill(row: dict[str, Any]) -> Fill:
    """A normalized :class:`Fill` from a transactionHistory (or v1 trades) row.

    Raises ``KeyError``/``ValueError``/``TypeError`` when the row is not a readable fill.
    """
    if not isinstance(row, dict):
        raise TypeError(f"row is a {type(row).__name__}")
    fill_id = to_text(_pick(row, "id"), "id")
    symbol = to_text(_pick(row, "symbol"), "symbol")
    price = to_decimal(_pick(row, "executedPrice", "executed_price"))
    size = to_decimal(_pick(row, "executedQuantity", "executed_quantity"))
    if price < 0 or size < 0:
        raise ValueError("negative price or quantity")
    fee_raw = row.get("fee", row.get("fee_amount"))
    fee = to_decimal(fee_raw) if fee_raw not in (None, "") else to_decimal(0)
    return Fill(
        exchange="woox",
        fill_id=fill_id,
        fill_type=WOOX_FILL_TYPE,
        market=symbol,
        side=str(row.get("side") or "").upper(),
        liquidity=_maker(_pick(row, "isMaker", "is_maker")),
        price=price,
        size=size,
        fee=fee,
        fee_asset=str(row.get("feeAsset") or row.get("fee_asset") or "USDT"),
        ts_ms=to_ms(_pick(row, "executedTimestamp", "executed_timestamp")),
    )


@dataclass
class HistoryResponse:
    """One transactionHistory answer: parsed fills (in the server's order), ``meta`` when sent."""

    fills: list[Fill]
    skipped: list[str]
    n_rows: int
    has_meta: bool
    per_page: int | None
    total: int | None

    @property
    def order(self) -> str | None:
        """``"desc"``/``"asc"`` from the rows (time, then trade id), None with fewer than two distinct rows."""
        if len(self.fills) < 2:
            return None
        first, last = _sort_key(self.fills[0]), _sort_key(self.fills[-1])
        if first == last:
            return None
        return "desc" if first > last else "asc"


def _sort_key(fill: Fill) -> tuple[int, int, str]:
    fid = fill.fill_id
    return (fill.ts_ms, int(fid) if fid.isdigit() else 0, fid)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def parse_history(payload: Any) -> HistoryResponse:
    """Rows and meta of a transactionHistory answer (``data.rows``/``data.meta``, top-level ``rows``/``meta`` or
    ``data`` as a list; camelCase or snake_case meta). Raises BadPayload (retryable) when there are no rows."""
    if not isinstance(payload, dict):
        raise BadPayload("WOO X transactionHistory: not a JSON object", retryable=True)
    data = payload.get("data")
    if isinstance(data, dict):
        rows, meta = data.get("rows"), data.get("meta", payload.get("meta"))
    elif isinstance(data, list):
        rows, meta = data, payload.get("meta")
    else:
        rows, meta = payload.get("rows"), payload.get("meta")
    if not isinstance(rows, list):
        raise BadPayload("WOO X transactionHistory: no rows in the response", retryable=True)
    has_meta = isinstance(meta, dict)
    per_page = total = None
    if isinstance(meta, dict):
        per_page = _int_or_none(meta.get("recordsPerPage", meta.get("records_per_page")))
        total = _int_or_none(meta.get("total"))
        if per_page is not None and per_page < 1:
            per_page = None
    fills: list[Fill] = []
    skipped: list[str] = []
    for row in rows:
        try:
            fills.append(parse_fill(row))
        except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
            rid = row.get("id") if isinstance(row, dict) else None
            skipped.append(redact(f"woox row id={rid}: {type(exc).__name__}: {exc}"))
    return HistoryResponse(fills, skipped, len(rows), has_meta, per_page, total)
