"""Hyperliquid fill objects on the wire (``hyperliquid-api.md`` §3.2): every field, the readings of F4, F8, F9, F11.

A :class:`Ledger` walks one history once, in order, and keeps what a fill object shows beyond the
venue-neutral :class:`~perpvol_sim.history.SimFill`: ``startPosition``, ``dir`` and ``closedPnl`` from a running
position per coin, and the per-fill extras drawn from a hash of the ``tid`` (deterministic, so a restarted
simulator serves the same objects): ``builderFee`` on some perp fills (absent when 0), a ``liquidation``
object on some taker perp fills, a ``cloid`` on some orders. ``hash`` is one per crossing order and time
(a self-trade's two rows share it).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from perpvol_sim.history import History, SimFill

_PNL_QUANT = Decimal("0.000001")
_BUILDER_RATE = Decimal("0.0001")


def num(value: Decimal) -> str:
    """Decimal text as Hyperliquid prints it: fixed point, at least one decimal (``"0.0"``, ``"60000.0"``)."""
    if value == 0:
        return "0.0"
    text = format(value, "f")
    return text if "." in text else text + ".0"


def digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def hex_of(text: str, length: int) -> str:
    """``0x`` + ``length`` lowercase hex digits derived from ``text``."""
    return "0x" + hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class Row:
    """One fill object before its numbers take their wire types (Decimals and ints)."""

    coin: str
    px: Decimal
    sz: Decimal
    side: str
    time: int
    start_position: Decimal
    dir: str
    closed_pnl: Decimal
    hash: str
    oid: int
    crossed: bool
    fee: Decimal
    fee_token: str
    tid: int
    builder_fee: Decimal
    liquidation: dict[str, str] | None
    cloid: str | None
    kind: str  # the profile's market kind ("perp", "delisted", "hip3", "spot")


class Ledger:
    """The running position walk of one history; :meth:`row` of any of its fills (thread-safe, lazy)."""

    def __init__(self, history: History) -> None:
        self.history = history
        self._lock = threading.Lock()
        self._done = 0
        self._rows: dict[str, Row] = {}
        self._position: dict[str, Decimal] = {}
        self._entry: dict[str, Decimal] = {}

    def row(self, fill: SimFill) -> Row:
        with self._lock:
            found = self._rows.get(fill.fill_id)
            if found is None:
                fills = self.history.fills
                while self._done < len(fills):
                    self._walk(fills[self._done])
                    self._done += 1
                found = self._rows[fill.fill_id]
            return found

    def _walk(self, fill: SimFill) -> None:
        kind = self.history.profile.kind_of(fill.market)
        start = self._position.get(fill.market, Decimal(0))
        entry = self._entry.get(fill.market, fill.price) if start else fill.price
        size = fill.size
        closed = Decimal(0)
        if kind == "spot":  # a balance, never negative
            label = "Buy" if fill.side == "BUY" else "Sell"
            if fill.side == "BUY":
                entry = (entry * start + fill.price * size) / (start + size)
                after = start + size
            else:
                closed = (fill.price - entry) * min(size, start)
                after = max(Decimal(0), start - size)
        else:
            signed = size if fill.side == "BUY" else -size
            after = start + signed
            if start == 0 or (start > 0) == (signed > 0):
                label = "Open Long" if signed > 0 else "Open Short"
                entry = (entry * abs(start) + fill.price * size) / (abs(start) + size)
            else:
                closed = (fill.price - entry) * min(size, abs(start)) * (1 if start > 0 else -1)
                if size <= abs(start):
                    label = "Close Short" if signed > 0 else "Close Long"
                else:  # flipped: the rest opens at this price
                    label = "Short > Long" if signed > 0 else "Long > Short"
                    entry = fill.price
        self._position[fill.market] = after
        self._entry[fill.market] = entry
        self._rows[fill.fill_id] = self._make_row(fill, kind, start, label, closed.quantize(_PNL_QUANT))

    def _make_row(self, fill: SimFill, kind: str, start: Decimal, label: str, closed: Decimal) -> Row:
        tid = int(fill.fill_id)
        mark = digest(f"tid:{tid}")
        perp = kind != "spot"
        crossed = fill.liquidity == "TAKER"
        builder = Decimal(0)
        if perp and mark % 6 == 0:
            builder = (fill.price * fill.size * _BUILDER_RATE).quantize(_PNL_QUANT)
        liquidation = None
        if perp and crossed and mark % 41 == 1:
            liquidation = {
                "liquidatedUser": hex_of(f"liquidated:{tid}", 40),
                "markPx": num(fill.price),
                "method": "market" if mark % 2 else "backstop",
            }
        cloid = hex_of(f"cloid:{fill.order_id}", 32) if digest(f"oid:{fill.order_id}") % 5 == 2 else None
        taker_id = self.history.self_trades.get(fill.fill_id)
        hash_oid = self._rows[taker_id].oid if taker_id in self._rows else int(fill.order_id)
        return Row(
            coin=fill.market, px=fill.price, sz=fill.size, side="B" if fill.side == "BUY" else "A",
            time=fill.ts_ms, start_position=start, dir=label, closed_pnl=closed,
            hash=hex_of(f"tx:{fill.ts_ms}:{hash_oid}", 64), oid=int(fill.order_id), crossed=crossed,
            fee=fill.fee, fee_token=fill.fee_asset, tid=tid, builder_fee=builder, liquidation=liquidation,
            cloid=cloid, kind=kind,
        )  # fmt: skip


def aggregate(rows: list[Row], agg_price: str, agg_tid: str) -> list[Row]:
    """``aggregateByTime``: the parts of one crossing order (taker rows of one ``oid`` at one ``time``) merged
    into one row: sizes, fees and PnL summed, ``px`` the VWAP or the last part's (F11), ``tid`` the first
    part's, the last part's or a new one. Maker rows stay as they are. ``rows`` ascending."""
    out: list[Row] = []
    group: list[Row] = []

    def flush() -> None:
        if not group:
            return
        if len(group) == 1:
            out.append(group[0])
        else:
            out.append(_merged(group, agg_price, agg_tid))
        group.clear()

    for row in rows:
        if group and not (row.crossed and row.oid == group[0].oid and row.time == group[0].time):
            flush()
        if row.crossed:
            group.append(row)
        else:
            flush()
            out.append(row)
    flush()
    return out


def _merged(group: list[Row], agg_price: str, agg_tid: str) -> Row:
    size = sum((r.sz for r in group), Decimal(0))
    if agg_price == "vwap":
        exponent = min(r.px.as_tuple().exponent for r in group)
        px = (sum((r.px * r.sz for r in group), Decimal(0)) / size).quantize(Decimal(1).scaleb(int(exponent) - 4))
    else:
        px = group[-1].px
    tids = {"first": group[0].tid, "last": group[-1].tid, "new": digest(f"agg:{group[0].tid}") % 10**15}
    first = group[0]
    return Row(
        coin=first.coin, px=px, sz=size, side=first.side, time=first.time, start_position=first.start_position,
        dir=first.dir, closed_pnl=sum((r.closed_pnl for r in group), Decimal(0)), hash=first.hash, oid=first.oid,
        crossed=True, fee=sum((r.fee for r in group), Decimal(0)), fee_token=first.fee_token, tid=tids[agg_tid],
        builder_fee=sum((r.builder_fee for r in group), Decimal(0)),
        liquidation=first.liquidation, cloid=first.cloid, kind=first.kind,
    )  # fmt: skip


def to_wire(row: Row, number_style: str, fee_includes_builder: bool, tid: int | None = None) -> dict[str, Any]:
    """The fill object: ``time``/``oid``/``tid`` as numbers, strings or mixed (F4, by the tid's parity),
    ``fee`` with or without ``builderFee`` (F8), ``builderFee`` absent when 0."""
    tid = row.tid if tid is None else tid
    as_text = number_style == "strings" or (number_style == "mixed" and tid % 2 == 1)

    def ident(value: int) -> int | str:
        return str(value) if as_text else value

    fee = row.fee + row.builder_fee if fee_includes_builder else row.fee
    out: dict[str, Any] = {
        "coin": row.coin, "px": num(row.px), "sz": num(row.sz), "side": row.side, "time": ident(row.time),
        "startPosition": num(row.start_position), "dir": row.dir, "closedPnl": num(row.closed_pnl),
        "hash": row.hash, "oid": ident(row.oid), "crossed": row.crossed, "fee": num(fee),
        "tid": ident(tid), "feeToken": row.fee_token, "twapId": None,
    }  # fmt: skip
    if row.builder_fee != 0:
        out["builderFee"] = num(row.builder_fee)
    if row.liquidation is not None:
        out["liquidation"] = dict(row.liquidation)
    if row.cloid is not None:
        out["cloid"] = row.cloid
    return out
