"""Fills: the ``FillResult`` JSON shape, filters, opaque base64-JSON cursors and :class:`FillBook` (pages)."""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from perpvol_core.exchanges.paradex.spec import COUNTED_FILL_TYPES as PARADEX_COUNTED_FILL_TYPES
from perpvol_core.money import plain_decimal
from perpvol_sim.history import History, SimFill
from perpvol_sim.paradex import figures as sim_figures
from perpvol_sim.paradex.config import _DAY_2026_07_22, ParadexSimConfig


def asset_kind_of(market: str) -> str:
    """PERP (``BTC-USD-PERP``), PERP_OPTION (``BTC-USD-96000-C``), OPTION (dated), SPOT (``ETH-USD``)."""
    parts = market.split("-")
    if market.endswith("-PERP"):
        return "PERP"
    if parts[-1] in ("C", "P"):
        # A dated option carries an expiry part (e.g. BTC-USD-27JUN25-96000-C).
        return "OPTION" if len(parts) >= 5 else "PERP_OPTION"
    return "SPOT"


def _stable_int(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def fill_to_json(fill: SimFill, account: int, config: ParadexSimConfig) -> dict[str, Any]:
    """A history fill as a ``FillResult`` (§3.1), optional fields only after their introduction dates."""
    fill_type = fill.fill_type
    if config.legacy_transfer_name and fill_type == "UNWIND_TRANSFER" and fill.ts_ms < _DAY_2026_07_22:
        fill_type = "TRANSFER"
    result: dict[str, Any] = {
        "id": fill.fill_id,
        "account": hex(account),
        "market": fill.market,
        "side": fill.side,
        "liquidity": fill.liquidity,
        "price": plain_decimal(fill.price),
        "size": plain_decimal(fill.size),
        "fee": plain_decimal(fill.fee),
        "fee_currency": fill.fee_asset,
        "created_at": str(fill.ts_ms) if config.created_at_as_string else fill.ts_ms,
        "order_id": fill.order_id,
        "client_id": "",
        "remaining_size": "0",
        "fill_type": fill_type,
    }
    since = config.field_introduced_ms
    # Deterministic per-fill values so that re-reading a page returns identical bodies.
    seed = _stable_int(fill.fill_id, fill.fill_type)
    trade_like = fill.fill_type in PARADEX_COUNTED_FILL_TYPES
    if fill.ts_ms >= since.get("realized_pnl", 0):
        result["realized_pnl"] = plain_decimal((Decimal(seed % 200_001) - 100_000) / 1000) if trade_like else "0"
    if fill.ts_ms >= since.get("realized_funding", 0):
        result["realized_funding"] = plain_decimal((Decimal(seed % 2_001) - 1_000) / 10_000)
    if fill.ts_ms >= since.get("flags", 0):
        result["flags"] = ["interactive"] if seed % 3 == 0 else (["rpi"] if fill.fill_type == "RPI" else [])
    if fill.ts_ms >= since.get("orderbook_seq_no", 0):
        result["orderbook_seq_no"] = 0 if fill.fill_type in ("LIQUIDATION", "SETTLE_MARKET") else fill.ts_ms * 1000
    if fill.ts_ms >= since.get("underlying_price", 0):
        result["underlying_price"] = plain_decimal(fill.price)
    return result


@dataclass(frozen=True)
class FillFilter:
    market: str | None = None
    asset_kind: str | None = None
    start_at: int | None = None
    end_at: int | None = None

    def as_cursor(self, account: int, limit: int) -> dict[str, Any]:
        return {
            "Market": self.market or "",
            "AssetKind": self.asset_kind or "",
            "Account": hex(account),
            "Limit": limit,
            "StartTime": self.start_at or 0,
            "EndTime": self.end_at or 0,
        }

    @classmethod
    def from_cursor(cls, data: dict[str, Any]) -> FillFilter:
        return cls(
            market=data.get("Market") or None,
            asset_kind=data.get("AssetKind") or None,
            start_at=int(data["StartTime"]) or None,
            end_at=int(data["EndTime"]) or None,
        )


def encode_cursor(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode("ascii")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The cursor's JSON; ValueError when it is not one of ours."""
    try:
        data = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), validate=False))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(data, dict) or "filter" not in data or "marker" not in data:
        raise ValueError("invalid cursor")
    return data


class FillBook:
    """Pages over a :class:`History`'s fills (ascending list, possibly growing at the end)."""

    def __init__(self, history: History) -> None:
        self.history = history
        self._lock = threading.Lock()
        self._ts: list[int] = []

    def _snapshot(self) -> tuple[list[Any], list[int]]:
        """The fills and their timestamps, both cut to the same length (live fills append at the end)."""
        fills = self.history.fills
        with self._lock:
            n = len(fills)
            if len(self._ts) > n:  # the history was replaced or trimmed: rebuild
                self._ts = []
            if len(self._ts) < n:
                self._ts.extend(f.ts_ms for f in fills[len(self._ts) : n])
            return fills, self._ts[:n]

    def _range(self, ts: list[int], flt: FillFilter, config: ParadexSimConfig) -> tuple[int, int]:
        lo, hi = 0, len(ts)
        if flt.start_at is not None:
            lo = (bisect.bisect_left if config.start_inclusive else bisect.bisect_right)(ts, flt.start_at)
        if flt.end_at is not None:
            hi = (bisect.bisect_right if config.end_inclusive else bisect.bisect_left)(ts, flt.end_at)
        return lo, max(lo, hi)

    @staticmethod
    def _locate(fills: list[SimFill], ts: list[int], marker: tuple[int, str, str, int]) -> int:
        """Index of the marker fill (ids repeat across fill types, so the type is part of the marker)."""
        marker_ts, marker_id, marker_type, _ = marker
        i = bisect.bisect_left(ts, marker_ts)
        j = bisect.bisect_right(ts, marker_ts)
        for k in range(i, j):
            if fills[k].fill_id == marker_id and fills[k].fill_type == marker_type:
                return k
        return i

    def page(
        self,
        flt: FillFilter,
        page_size: int,
        config: ParadexSimConfig,
        marker: tuple[int, str, str, int] | None = None,
        visible_until_ms: int | None = None,
    ) -> tuple[list[SimFill], bool, bool]:
        """(fills in response order, more after this page, more before this page).

        ``marker`` = (ts_ms, fill_id, fill_type, direction): direction 0 continues after the marker in response
        order ("next"), 1 goes back towards the first page ("prev").
        """
        fills, ts = self._snapshot()
        lo, hi = self._range(ts, flt, config)
        if visible_until_ms is not None:  # fills not yet settled are not listed
            hi = max(lo, min(hi, bisect.bisect_right(ts, visible_until_ms)))
        newest_first = config.sort != "oldest_first"

        def matches(f: SimFill) -> bool:
            return (
                (flt.market is None or f.market == flt.market)
                and (flt.asset_kind is None or asset_kind_of(f.market) == flt.asset_kind)
                and not sim_figures.withheld(config, f.ts_ms)
            )

        # Walk in response order: down the ascending list for newest-first, up for oldest-first;
        # a "prev" cursor (direction 1) walks the other way and flips the page back at the end.
        step = -1 if newest_first else 1
        direction = 0 if marker is None else marker[3]
        walk = step if direction == 0 else -step
        if marker is None:
            start = hi - 1 if newest_first else lo
        else:
            start = self._locate(fills, ts, marker) + walk

        picked: list[Any] = []
        i = start
        while lo <= i < hi and len(picked) < page_size:
            if matches(fills[i]):
                picked.append(fills[i])
            i += walk
        more_beyond = any(matches(fills[k]) for k in _range_iter(i, lo, hi, walk))
        if direction == 1:
            picked.reverse()
            # Going back: "beyond" is towards the first page; after this page lies the old marker.
            return picked, True, more_beyond
        more_before = marker is not None
        return picked, more_beyond, more_before


def _range_iter(i: int, lo: int, hi: int, walk: int) -> Iterable[int]:
    return range(i, hi) if walk > 0 else range(i, lo - 1, -1)
