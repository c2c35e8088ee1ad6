"""Fills as served: exact-number JSON (:func:`encode_json`), the v3 and v1 trade rows, the WebSocket pushes
(``executionreport``, ``algoexecutionreportv2``) and :class:`_FillIndex` (time, symbol and ``fromId`` selection).
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from decimal import Decimal
from typing import Any

from perpvol_core.money import plain_decimal
from perpvol_sim.history import History, SimFill
from perpvol_sim.woox.config import ALGO_TOPIC

_DEC_MARK = "\x00DEC\x00"
_DEC_JSON = re.compile(r'"\\u0000DEC\\u0000([-0-9.]+)"')


def _num(value: Decimal) -> str:
    """A Decimal to be written as a bare JSON number (exact digits, never via float)."""
    return _DEC_MARK + format(value, "f")


def encode_json(obj: Any) -> bytes:
    """JSON with :func:`_num` markers turned into bare numbers."""
    text = json.dumps(obj, separators=(",", ":"))
    return _DEC_JSON.sub(r"\1", text).encode()


def _seconds_string(ts_ms: int) -> str:
    return f"{ts_ms // 1000}.{ts_ms % 1000:03d}"


def v3_row(fill: SimFill, response_format: str) -> dict[str, Any]:
    """A transactionHistory row (§3.1) in the doc or the live format."""
    live = response_format == "live"
    row: dict[str, Any] = {
        "id": int(fill.fill_id),
        "symbol": fill.market,
        "orderId": int(fill.order_id),
        "orderTag": "default",
        "executedPrice": _num(fill.price) if live else plain_decimal(fill.price),
        "executedQuantity": _num(fill.size) if live else plain_decimal(fill.size),
        "isMaker": 1 if fill.liquidity == "MAKER" else 0,
        "side": fill.side,
        "fee": _num(fill.fee),
        "feeAsset": fill.fee_asset,
        "realizedPnl": None,
        "executedTimestamp": _seconds_string(fill.ts_ms) if live else fill.ts_ms,
    }
    if not live:
        row["isMatchRpi"] = False  # in the doc schema, absent from the recorded response
    return row


def v1_row(fill: SimFill) -> dict[str, Any]:
    """A v1 hist_trades / client/trades row (§3.3, §3.4): snake_case, numbers, string seconds."""
    return {
        "id": int(fill.fill_id),
        "symbol": fill.market,
        "order_id": int(fill.order_id),
        "order_tag": "default",
        "executed_price": _num(fill.price),
        "executed_quantity": _num(fill.size),
        "is_maker": 1 if fill.liquidity == "MAKER" else 0,
        "side": fill.side,
        "fee": _num(fill.fee),
        "fee_asset": fill.fee_asset,
        "executed_timestamp": _seconds_string(fill.ts_ms),
    }


def execution_report(fill: SimFill) -> dict[str, Any]:
    """The v2 WebSocket ``executionreport`` push for a fill (§6.1): int ms timestamp, ``maker`` bool."""
    return {
        "topic": "executionreport",
        "ts": fill.ts_ms,
        "data": {
            "symbol": fill.market,
            "clientOrderId": 0,
            "orderId": int(fill.order_id),
            "type": "LIMIT" if fill.liquidity == "MAKER" else "MARKET",
            "side": fill.side,
            "quantity": _num(fill.size),
            "price": _num(fill.price),
            "tradeId": int(fill.fill_id),
            "executedPrice": _num(fill.price),
            "executedQuantity": _num(fill.size),
            "fee": _num(fill.fee),
            "feeAsset": fill.fee_asset,
            "totalExecutedQuantity": _num(fill.size),
            "avgPrice": _num(fill.price),
            "status": "FILLED",
            "reason": "",
            "orderTag": "default",
            "totalFee": _num(fill.fee),
            "visible": _num(fill.size),
            "timestamp": fill.ts_ms,
            "reduceOnly": False,
            "maker": fill.liquidity == "MAKER",
        },
    }


def algo_execution_report(fill: SimFill) -> dict[str, Any]:
    """The ``algoexecutionreportv2`` push of an algo/stop-order fill: ``data`` is a list of order updates
    (as ccxt pro reads it), each with the ``executionreport`` fields plus the algo order's ids."""
    report = execution_report(fill)
    data = dict(report["data"])
    data.update({"algoOrderId": int(fill.order_id), "algoType": "STOP", "rootAlgoOrderId": int(fill.order_id),
                 "triggerPrice": data["price"], "isTriggered": True, "isActivated": True})  # fmt: skip
    return {"topic": ALGO_TOPIC, "ts": fill.ts_ms, "data": [data]}


def fill_push(fill: SimFill, algo: bool) -> dict[str, Any]:
    return algo_execution_report(fill) if algo else execution_report(fill)


class _FillIndex:
    """Binary-searchable views over ``history.fills`` (all and per symbol), extended as fills arrive.

    WOO X ids increase with time in the generated history, so one sorted list serves both the time
    range and the ``fromId`` cursor.
    """

    def __init__(self, history: History) -> None:
        self.history = history
        self._lock = threading.Lock()
        self._seen = 0
        self._ts: dict[str | None, list[int]] = {None: []}
        self._ids: dict[str | None, list[int]] = {None: []}
        self._pos: dict[str | None, list[int]] = {None: []}

    def _refresh(self) -> list[SimFill]:
        fills = self.history.fills
        n = len(fills)
        if n > self._seen:
            for i in range(self._seen, n):
                fill = fills[i]
                fid = int(fill.fill_id)
                for key in (None, fill.market):
                    if key not in self._ts:
                        self._ts[key], self._ids[key], self._pos[key] = [], [], []
                    self._ts[key].append(fill.ts_ms)
                    self._ids[key].append(fid)
                    self._pos[key].append(i)
            self._seen = n
        return fills

    def symbols(self) -> list[str]:
        """Every symbol the history has traded so far."""
        with self._lock:
            self._refresh()
            return sorted(k for k in self._ts if k is not None)

    def select(
        self, symbol: str | None, start_ms: int | None, end_ms: int | None, from_id: int | None, inclusive: bool
    ) -> tuple[list[SimFill], list[int]]:
        """(fills, positions into fills) matching the filters, ascending by id and time."""
        with self._lock:
            fills = self._refresh()
            ts, ids, pos = self._ts.get(symbol, []), self._ids.get(symbol, []), self._pos.get(symbol, [])
            lo = 0 if start_ms is None else bisect.bisect_left(ts, start_ms)
            hi = len(ts) if end_ms is None else bisect.bisect_right(ts, end_ms)
            if from_id is not None:
                lo = max(lo, (bisect.bisect_left if inclusive else bisect.bisect_right)(ids, from_id))
            return fills, pos[lo : max(lo, hi)]
