"""The trade-history routes: ``GET /v3/trade/transactionHistory`` (every reading of §9),
``GET /v1/client/hist_trades`` and ``GET /v1/client/trades``."""

from __future__ import annotations

from typing import Any

from perpvol_sim.history import MS_PER_DAY
from perpvol_sim.woox.config import (
    EP_CLIENT_TRADES,
    EP_HIST_TRADES,
    EP_TRANSACTION_HISTORY,
    INVALID_PARAM,
    UNKNOWN_PARAM,
)
from perpvol_sim.woox.fills import v1_row, v3_row
from perpvol_sim.woox.handlers import _Base, _ParamError


class TransactionHistoryHandler(_Base):
    endpoint = EP_TRANSACTION_HISTORY

    def get(self) -> None:
        cfg = self.state.config
        if cfg.page_mode == "rejected" and self.get_query_argument("page", None) is not None:
            self.send_error_body(400, UNKNOWN_PARAM, "An unknown parameter was sent: page")
            return
        symbol = self.get_query_argument("symbol", None) or None
        if symbol is None and cfg.symbol_required:
            raise _ParamError("symbol")
        start = self.int_param("startTime")
        end = self.int_param("endTime")
        from_id = self.int_param("fromId")
        page = self.int_param("page", 1) or 1
        limit = self.int_param("limit", cfg.default_page_size) or cfg.default_page_size
        if page < 1 or limit < 1:
            raise _ParamError("page" if page < 1 else "limit")
        if limit > cfg.page_size_cap and cfg.limit_over_cap != "clamp":
            code = UNKNOWN_PARAM if cfg.limit_over_cap == "reject-1004" else INVALID_PARAM
            self.send_error_body(400, code, f"invalid request, please check parameter limit (max {cfg.page_size_cap})")
            return
        if cfg.page_mode == "ignored":
            page = 1
        if cfg.max_span_ms is not None and start is not None and end is not None and end - start > cfg.max_span_ms:
            raise _ParamError("endTime")
        floor = self.state.window_now_ms() - cfg.v3_history_days * MS_PER_DAY
        start = floor if start is None else max(start, floor)
        per_page = min(limit, cfg.page_size_cap)
        fills, positions = self.state.index.select(symbol, start, end, from_id, cfg.from_id_inclusive)
        if cfg.sort_order == "desc":
            positions = positions[::-1]
        served = page + 1 if self.state.faults.skip_page(self.request.path) else page  # injected: silently the next
        chunk = positions[(served - 1) * per_page : served * per_page]
        rows = [v3_row(fills[i], cfg.response_format) for i in chunk]
        data: dict[str, Any] = {"rows": rows}
        if cfg.meta:
            data["meta"] = {"total": len(positions), "recordsPerPage": per_page, "currentPage": page}
        self.ok({"data": data})


class HistTradesHandler(_Base):
    endpoint = EP_HIST_TRADES

    def get(self) -> None:
        cfg = self.state.config
        start = self.int_param("start_t")
        end = self.int_param("end_t")
        if start is None or end is None:
            raise _ParamError("start_t" if start is None else "end_t")
        symbol = self.get_query_argument("symbol", None) or None
        from_id = self.int_param("fromId", 1)
        limit = self.int_param("limit", cfg.hist_trades_default_limit) or cfg.hist_trades_default_limit
        if limit < 1:
            raise _ParamError("limit")
        limit = min(limit, cfg.hist_trades_limit_cap)
        fills, positions = self.state.index.select(symbol, start, end, from_id, cfg.hist_trades_from_id_inclusive)
        self.ok({"data": [v1_row(fills[i]) for i in positions[:limit]]})


class ClientTradesHandler(_Base):
    endpoint = EP_CLIENT_TRADES

    def get(self) -> None:
        cfg = self.state.config
        symbol = self.get_query_argument("symbol", None) or None
        start = self.int_param("start_t")
        end = self.int_param("end_t")
        page = self.int_param("page", 1) or 1
        size = self.int_param("size", cfg.client_trades_default_size) or cfg.client_trades_default_size
        if page < 1 or size < 1:
            raise _ParamError("page" if page < 1 else "size")
        floor = self.state.window_now_ms() - cfg.client_trades_days * MS_PER_DAY
        start = floor if start is None else max(start, floor)
        per_page = min(size, cfg.client_trades_size_cap)
        fills, positions = self.state.index.select(symbol, start, end, None, True)
        if cfg.sort_order == "desc":
            positions = positions[::-1]
        chunk = positions[(page - 1) * per_page : page * per_page]
        meta = {"total": len(positions), "records_per_page": per_page, "current_page": page}
        self.ok({"meta": meta, "rows": [v1_row(fills[i]) for i in chunk]})
