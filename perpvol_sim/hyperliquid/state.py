"""The simulated venue's state and its fill queries (``hyperliquid-api.md`` §2, §3; forks F1-F5, F9-F14).

One master address owns ``history``; optional sub-accounts own their own histories; one API-wallet (agent)
address signs for the master and, as on the venue, reads as an empty account (§2.1).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter
from typing import Any

from perpvol_sim.faults import Faults
from perpvol_sim.history import History, SimFill
from perpvol_sim.hyperliquid.config import HyperliquidSimConfig, check
from perpvol_sim.hyperliquid.limiter import WeightLimiter
from perpvol_sim.hyperliquid.served import ServedCache, visible
from perpvol_sim.hyperliquid.wire import Ledger, Row, aggregate, hex_of, to_wire

ADDRESS = re.compile(r"^0[xX][0-9a-fA-F]{40}$")
_MAX_TIME = 2**63 - 1


class BadRequest(ValueError):
    """A request the venue refuses to deserialize (answered per F16)."""


def address_of(seed: int, role: str = "master") -> str:
    """The simulator's address of ``role`` for ``seed``: ``0x`` + 40 lowercase hex."""
    return hex_of(f"hyperliquid:{role}:{seed}", 40)


class HyperliquidState:
    """Everything the handlers share. ``config`` may be changed while running (checked on assignment)."""

    def __init__(
        self,
        history: History,
        config: HyperliquidSimConfig,
        faults: Faults,
        address: str,
        agent: str,
        subs: dict[str, History] | None = None,
    ) -> None:
        self.history = history
        self._config = check(config)
        self.faults = faults
        self.address = address.lower()
        self.agent = agent.lower()
        self.subs = dict(subs or {})
        self.histories = {self.address: history, **self.subs}
        self.limiter = WeightLimiter(lambda: self._config.weight_limit)
        self.requests: Counter[str] = Counter()
        self.rate_limited = 0
        self._ledgers = {addr: Ledger(h) for addr, h in self.histories.items()}
        self._served = {addr: ServedCache() for addr in self.histories}
        self.ws_lock = threading.Lock()
        self.ws_connections = 0

    @property
    def config(self) -> HyperliquidSimConfig:
        return self._config

    @config.setter
    def config(self, value: HyperliquidSimConfig) -> None:
        self._config = check(value)

    def now_ms(self) -> int:
        return self.faults.now_ms()

    # -- request fields ------------------------------------------------------------------------------
    def user(self, body: dict[str, Any], key: str = "user") -> str | None:
        """The lowercase address of ``body[key]``; None when the venue answers as for an unknown user (F14)."""
        raw = body.get(key)
        if not isinstance(raw, str) or not ADDRESS.match(raw):
            raise BadRequest(f"invalid `{key}`: expected a 42-character hex address")
        if raw[2:] != raw[2:].lower() or raw[1] == "X":
            if self._config.mixed_case == "error":
                raise BadRequest(f"invalid `{key}`: the address must be lowercase")
            if self._config.mixed_case == "empty":
                return None
        return raw.lower()

    @staticmethod
    def time_field(body: dict[str, Any], key: str, required: bool) -> int | None:
        value = body.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_TIME:
            raise BadRequest(f"invalid `{key}`: expected milliseconds since the epoch")
        return value

    @staticmethod
    def flag(body: dict[str, Any], key: str) -> bool:
        value = body.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise BadRequest(f"invalid `{key}`: expected a boolean")
        return value

    @staticmethod
    def dex(body: dict[str, Any]) -> str | None:
        value = body.get("dex")
        if value is not None and (not isinstance(value, str) or len(value) > 32):
            raise BadRequest("invalid `dex`: expected a dex name")
        return value

    # -- fills ---------------------------------------------------------------------------------------
    def served(self, address: str) -> list[SimFill]:
        """What the venue still serves for ``address`` (ascending; F6, F7, F10)."""
        history = self.histories.get(address)
        if history is None:
            return []
        return self._served[address].get(history, self._config, self.now_ms())

    def rows(
        self, address: str, start: int = 0, end: int = _MAX_TIME, limit: tuple[str, int] | None = None
    ) -> list[Row]:
        """The served rows of ``address`` (plus its sub-accounts' under F12) with ``start <= time <= end``,
        ascending by (time, tid); ``limit`` ``("head"|"tail", n)``: only the first or last n of them."""
        if address not in self.histories:
            return []
        owners = [address]
        if address == self.address and self._config.master_includes_subs:
            owners += list(self.subs)
        out: list[Row] = []
        for owner in owners:
            ledger = self._ledgers[owner]
            served = self.served(owner)  # ascending by time: only the window's rows are built
            lo = bisect.bisect_left(served, start, key=lambda f: f.ts_ms)
            hi = bisect.bisect_right(served, end, lo=lo, key=lambda f: f.ts_ms)
            if limit is not None:  # only the rows a page can hold are built
                lo, hi = (lo, min(hi, lo + limit[1])) if limit[0] == "head" else (max(lo, hi - limit[1]), hi)
            out.extend(ledger.row(f) for f in served[lo:hi])
        if len(owners) > 1:
            out.sort(key=lambda r: (r.time, r.tid))
            if limit is not None:
                out = out[: limit[1]] if limit[0] == "head" else out[max(0, len(out) - limit[1]) :]
        return out

    def _by_dex(self, rows: list[Row], dex: str | None) -> list[Row]:
        """F13: which HIP-3 rows a response holds."""
        mode = self._config.hip3_mode
        if mode == "all":
            return rows
        if not dex:
            return [r for r in rows if r.kind != "hip3"]
        prefix = dex + ":"
        if mode == "core":
            return [r for r in rows if r.kind != "hip3" or r.coin.startswith(prefix)]
        return [r for r in rows if r.coin.startswith(prefix)]

    def _wire(self, rows: list[Row], shared_tids: bool = True) -> list[dict[str, Any]]:
        config = self._config
        tids: dict[int, int] = {}
        if config.self_trade_tid == "shared" and shared_tids:
            tids = self._shared_tids()
        return [to_wire(r, config.number_style, config.fee_includes_builder, tids.get(r.tid)) for r in rows]

    def _shared_tids(self) -> dict[int, int]:
        """F9 "shared": a self-trade's maker row carries its taker row's ``tid``."""
        out: dict[int, int] = {}
        for history in self.histories.values():
            for maker, taker in history.self_trades.items():
                out[int(maker)] = int(taker)
        return out

    def live_row(self, address: str, fill: SimFill) -> dict[str, Any]:
        """A new fill of ``address`` as its WebSocket fill object."""
        return self._wire([self._ledgers[address].row(fill)], shared_tids=False)[0]

    def snapshot(self, address: str) -> list[dict[str, Any]]:
        """The WebSocket snapshot: the newest ``snapshot_depth`` served rows, newest first (F18)."""
        depth = self._config.snapshot_depth
        if depth == 0 or address not in self.histories:
            return []
        rows = self.rows(address)
        return self._wire(rows[max(0, len(rows) - depth):][::-1])

    def user_fills(self, address: str | None, aggregate_by_time: bool, dex: str | None) -> list[dict[str, Any]]:
        """``userFills``: the newest ``recent_cap`` served rows, newest first, no time filter (§3.1)."""
        if address is None:
            return []
        rows = self._by_dex(self.rows(address), dex)
        if aggregate_by_time:
            rows = aggregate(rows, self._config.agg_price, self._config.agg_tid)
        newest = rows[max(0, len(rows) - self._config.recent_cap):]
        return self._wire(newest[::-1], not aggregate_by_time)

    def user_fills_by_time(
        self, address: str | None, start: int, end: int | None, aggregate_by_time: bool, dex: str | None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]] | dict[str, Any]:
        """``userFillsByTime`` (§3.1, §3.6, §3.7): ``startTime`` inclusive, ``endTime`` per F3 (absent/null: now),
        a full window's earliest/latest page or descending (F2), a window older than retention per F5."""
        if address is None:
            return []
        config = self._config
        end = self.now_ms() if end is None else end
        # a page holds the first or last ``page_cap`` of the window: only those are built, unless rows are
        # still to be dropped (per dex) or merged (aggregateByTime)
        exact = not aggregate_by_time and config.hip3_mode == "all"
        limit = (("head" if config.window_pick == "earliest" else "tail"), config.page_cap) if exact else None
        rows = self.rows(address, start, end if config.end_inclusive else end - 1, limit)
        if not rows and self._older_than_retention(address, end):
            if config.old_window == "error":
                return {"error": f"Only the {config.retention_cap} most recent fills are available"}
            if config.old_window == "partial":
                rows = self._partial(address, start, end)
        rows = self._by_dex(rows, dex)
        if aggregate_by_time:
            rows = aggregate(rows, config.agg_price, config.agg_tid)
        cap = config.page_cap
        if config.window_pick == "descending":
            rows = rows[::-1][:cap]
        elif config.window_pick == "latest":
            rows = rows[max(0, len(rows) - cap):]
        else:
            rows = rows[:cap]
        if newest_first and config.window_pick != "descending":
            rows = rows[::-1]
        return self._wire(rows, not aggregate_by_time)

    def _older_than_retention(self, address: str, end: int) -> bool:
        history = self.histories.get(address)
        served = self.served(address)
        if history is None or len(served) >= len(history.fills):
            return False  # nothing was cut
        oldest = min((r.time for r in self.rows(address, 0, served[0].ts_ms)), default=None) if served else None
        return oldest is None or end < oldest

    def _partial(self, address: str, start: int, end: int) -> list[Row]:
        """F5 "partial": a window past retention answers with the older half of what it held, as a lagging
        index would; the rest is simply missing."""
        ledger = self._ledgers[address]
        shown = visible(self.histories[address], self._config.self_trade_two_rows)
        inside = [ledger.row(f) for f in shown if start <= f.ts_ms <= end]
        return inside[: len(inside) // 2]
