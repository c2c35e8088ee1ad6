"""HIP-3 builder-dex fills that a request without ``dex`` may leave out (hyperliquid-api.md §8, fork F13).

A ccxt recording shows ``"flx:CRCL"`` fills in a default ``userFills`` answer, so every dex's fills are most
likely served without ``dex`` ("all"). The notes leave two other readings open: only the core dex unless
``dex`` names another one ("core": ``dex: "xyz"`` adds that dex's fills to the core's), or one dex per request
("per_dex": ``dex: "xyz"`` serves only that dex's). The walk without ``dex`` always comes first; then:

* a HIP-3 fill in it shows the "all" reading: nothing more is read, and the server profile says so (later
  syncs skip the dexes even when their range holds no HIP-3 fill);
* otherwise, unless the profile already says "all", ``perpDexs`` names the builder dexes; one ``userFills``
  with ``dex`` per dex drops those that hold none of the account's fills in the range (a short answer without
  one), and each other dex is walked with ``dex`` set, handing out only that dex's fills (the walk's own
  dedupe and the store's keep any other fill from counting twice). What these answers hold tells "core"
  (other fills beside the dex's) from "per_dex" (only the dex's); the profile records it.

Once the profile says "core" or "per_dex", later syncs read the dexes first and the walk without ``dex``
last, so the windows it completes are complete; before the reading is known, the walk without ``dex``
reports no window complete until its fills show "all" (under the documented earliest-N reading it completes
the range only at its end anyway).

Positions: ``{"base": FillsWalk position, "dexes_done"}`` in the walk without ``dex`` (a bare FillsWalk
position, as an older version saved, is read as one); ``{"dex", "dexes" (the ones after it), "walk" (its
FillsWalk position), "starts" (the retention start the walk without ``dex`` found), "then" ("base": that walk
comes next; "done")}`` in a dex walk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from perpvol_core.exchanges._http import FillPage
from perpvol_core.exchanges.hyperliquid.paging import FillsWalk
from perpvol_core.exchanges.hyperliquid.parse import parse_fills
from perpvol_core.exchanges.hyperliquid.source import FillsSource

log = logging.getLogger(__name__)

#: the server profile's key for the F13 reading: "all", "core" or "per_dex"
PROFILE_KEY = "hip3_fills"
ALL, CORE, PER_DEX = "all", "core", "per_dex"


def reading(conn: FillsSource) -> str | None:
    value = conn.observed(PROFILE_KEY)
    return value if value in (ALL, CORE, PER_DEX) else None


def _record(conn: FillsSource, value: str) -> None:
    if reading(conn) != value:
        log.info("hyperliquid: HIP-3 fills without `dex`: %s", value)
        conn.observe(PROFILE_KEY, value)


def dex_pages(conn: FillsSource, start_ms: int, end_ms: int, position: dict | None) -> Iterator[FillPage]:
    """Every fill of ``[start_ms, end_ms]``, builder dexes included under every F13 reading."""
    pos = position if isinstance(position, dict) else {}
    if isinstance(pos.get("dex"), str):
        yield from _dex_walks(conn, start_ms, end_ms, pos)
        return
    if "base" in pos:
        base = pos["base"] if isinstance(pos["base"], dict) else None
        yield from _base_walk(conn, start_ms, end_ms, base, bool(pos.get("dexes_done")), _tally(pos))
        return
    if position is None and reading(conn) in (CORE, PER_DEX):
        # known to need the dexes: read them first, so the walk without ``dex`` completes windows truly
        dexes = _dexes_to_walk(conn, start_ms, end_ms)
        if dexes:
            first = {"dex": dexes[0], "dexes": dexes[1:], "walk": None, "then": "base"}
            yield from _dex_walks(conn, start_ms, end_ms, first)
            return
        yield from _base_walk(conn, start_ms, end_ms, None, True, (0, None))
        return
    yield from _base_walk(conn, start_ms, end_ms, position or None, False, (0, None))  # a bare (older) position


def _dexes_to_walk(conn: FillsSource, start_ms: int, end_ms: int) -> list[str]:
    """The builder dexes whose fills may still be missing: ``perpDexs``, less each dex whose newest fills
    (``userFills`` with ``dex``: one request) show it holds none of the account's fills in the range (a short
    answer without one). A dex fill of the range in that answer tells the reading ("core" when other fills
    come with it, "per_dex" when not): the walk without ``dex``, over the same range, did not return it."""
    dexes = []
    for dex in conn.perp_dexs():
        fills, _ = parse_fills(conn.user_fills_rows(dex))
        own = sum(1 for f in fills if f.market.startswith(f"{dex}:") and start_ms <= f.ts_ms <= end_ms)
        if own:
            _record(conn, CORE if own < len(fills) else PER_DEX)
        if own or len(fills) >= conn.recent_fills:  # its fills, or too many others to tell: walk it
            dexes.append(dex)
    return dexes


Tally = tuple[int, "int | None"]


def _tally(pos: dict) -> Tally:
    """Fills served so far by the walks before this one, and the oldest of them (the retention evidence)."""
    served, oldest = pos.get("served"), pos.get("oldest")
    return (served if isinstance(served, int) else 0), (oldest if isinstance(oldest, int) else None)


def _add(tally: Tally, served: int, oldest: int | None) -> Tally:
    older = [t for t in (tally[1], oldest) if t is not None]
    return tally[0] + served, (min(older) if older else None)


def _retention_start(conn: FillsSource, start_ms: int, tally: Tally) -> int | None:
    """The venue serves only its newest fills of every market: all the walks together served as many as it
    keeps, so nothing older than their oldest is served (as ``FillsWalk`` decides for one walk)."""
    served, oldest = tally
    return oldest + 1 if oldest is not None and oldest > start_ms and served >= conn.retention_fills else None


def _base_walk(
    conn: FillsSource, start_ms: int, end_ms: int, position: dict | None, dexes_done: bool, before: Tally
) -> Iterator[FillPage]:
    """The walk without ``dex``. Until its fills show the "all" reading (or the dexes were read before it), a
    window it completes may still miss HIP-3 fills: it is not reported complete (``window_done_ms``)."""
    hip3 = False
    walk = FillsWalk(conn, start_ms, end_ms, position)
    for page in walk.pages():
        hip3 = hip3 or any(":" in f.market for f in page.fills)
        if hip3:
            _record(conn, ALL)
        whole = dexes_done or reading(conn) == ALL
        if page.position is not None:
            page.position = {"base": page.position, "dexes_done": dexes_done, "served": before[0],
                             "oldest": before[1]}  # fmt: skip
            if not whole:
                page.window_done_ms = None
            yield page
            continue
        tally = _add(before, walk.served, walk.oldest)
        if page.history_starts_ms is None:  # the dexes read before this walk count toward the cap too
            page.history_starts_ms = _retention_start(conn, start_ms, tally)
        dexes = [] if whole else _dexes_to_walk(conn, start_ms, end_ms)
        if not dexes:
            yield page
            return
        # the dexes' fills are still to be read: this page does not complete the range yet
        then = {"dex": dexes[0], "dexes": dexes[1:], "walk": None, "starts": page.history_starts_ms, "then": "done",
                "served": tally[0], "oldest": tally[1]}  # fmt: skip
        page.position = then
        page.window_done_ms, page.history_starts_ms, page.progress = None, None, 0.999
        yield page
        yield from _dex_walks(conn, start_ms, end_ms, then)
        return


def _dex_walks(conn: FillsSource, start_ms: int, end_ms: int, position: dict) -> Iterator[FillPage]:
    """The dexes of ``position`` one after the other; the last page completes the range unless the walk without
    ``dex`` comes next (``then: "base"``)."""
    dex: str = position["dex"]
    rest = [d for d in position.get("dexes") or [] if isinstance(d, str)]
    starts = position.get("starts") if isinstance(position.get("starts"), int) else None
    then = "base" if position.get("then") == "base" else "done"
    walk_position = position.get("walk") if isinstance(position.get("walk"), dict) else None
    tally = _tally(position)
    own = position.get("own") if walk_position is not None else None
    while True:
        walk = _Observed(conn, start_ms, end_ms, walk_position, dex)
        if isinstance(own, list) and len(own) == 2 and isinstance(own[0], int):
            walk.own_served, walk.own_oldest = own[0], own[1] if isinstance(own[1], int) else None
        for page in walk.pages():
            if page.position is not None:
                page.position = {"dex": dex, "dexes": rest, "walk": page.position, "starts": starts, "then": then,
                                 "served": tally[0], "oldest": tally[1], "own": [walk.own_served, walk.own_oldest]}
                page.window_done_ms = None
                page.progress = 0.999 if then == "done" else 0.0
                yield page
                continue
            walk.conclude()
            tally = _add(tally, walk.own_served, walk.own_oldest)
            if not rest and then == "done":
                page.history_starts_ms = starts or _retention_start(conn, start_ms, tally)
                yield page
                return
            if rest:
                page.position = {"dex": rest[0], "dexes": rest[1:], "walk": None, "starts": starts, "then": then,
                                 "served": tally[0], "oldest": tally[1]}  # fmt: skip
            else:
                page.position = {"base": None, "dexes_done": True, "served": tally[0], "oldest": tally[1]}
            page.window_done_ms = None
            page.progress = 0.999 if then == "done" else 0.0
            yield page
            if not rest:
                yield from _base_walk(conn, start_ms, end_ms, None, True, tally)
                return
        dex, rest, walk_position, own = rest[0], rest[1:], None, None


class _Observed(FillsWalk):
    """A dex walk that counts the dex's own fills it served (retention evidence) and notes whether the venue
    answered fills of other markets beside them (F13)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.own = self.other = 0
        self.own_served = 0
        self.own_oldest: int | None = None

    def _take(self, fills: list[Any]) -> list[Any]:
        for fill in fills:
            if fill.market.startswith(f"{self.dex}:"):
                self.own += 1
            else:
                self.other += 1
        fresh = super()._take(fills)
        for fill in fresh:
            if fill.market.startswith(f"{self.dex}:"):
                self.own_served += 1
                self.own_oldest = fill.ts_ms if self.own_oldest is None else min(self.own_oldest, fill.ts_ms)
        return fresh

    def conclude(self) -> None:
        if self.own and reading(self.conn) != ALL:
            _record(self.conn, CORE if self.other else PER_DEX)
