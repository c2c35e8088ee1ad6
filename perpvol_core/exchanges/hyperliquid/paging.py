"""Reading every fill of ``[start_ms, end_ms]`` from ``userFillsByTime`` under every reading of the notes.

``userFillsByTime`` takes only a time window and answers at most one page of it (hyperliquid-api.md §3.6,
§3.7): 2000 fills, or 500, or another cap (F1); the earliest N of the window ascending, the latest N, or a
descending page (F2); ``endTime`` inclusive or exclusive (F3). No cursor, no "more" flag, no total.

The walk therefore completes *windows*. A window's answer is either smaller than the largest answer seen
so far in this walk (then the server returned all of the window: whatever the cap, it was not reached) or
"full" (maybe truncated: the served block ``[tmin, tmax]`` is one end of the window). A full answer splits
the window into the parts the block may have left out: ``[a, tmin]`` below it and ``[tmax, b]`` above it,
each including the block's edge millisecond, because a page can end inside a millisecond and the next
request must ask for that millisecond again (never ``+1``). Both parts are strictly smaller, so the walk
ends; a request budget derived from the range bounds it anyway.

The reading is learnt on the way, never assumed: new fills found *above* a full block mean the server
serves the earliest N (then every "below" part is known empty and is dropped: the documented reading costs
one request per page), new fills *below* one mean it serves the latest N (every "above" part is dropped).
A full answer inside one millisecond cannot be split by time: that millisecond is completed from
``userFills`` (the newest 2000 fills) when they reach back past it, else the account gets a clear error.

Windows are completed from the newest down (a stack with the upper part on top), so whatever lies above
every pending window is complete: ``window_done_ms`` is reported from there, as the sync engine expects.
Under the earliest-N reading the upper window stays pending until the end, so the range completes at its
last page (an interrupted walk resumes from ``position``: the pending windows, the reading, the counts).

Retention (§3.7): the venue serves only its newest 10,000 fills. When the walk was served that many (or
more: spot may not count), or refused an older window with an error object, and the oldest served fill is
newer than ``start_ms``, nothing older will ever be served: the last page says so in ``history_starts_ms``
(one millisecond after the oldest served fill: the cap may cut through that millisecond).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from perpvol_core.exchanges._errors import BadPayload, ExchangeError
from perpvol_core.exchanges._http import FillPage
from perpvol_core.exchanges.hyperliquid.parse import parse_fills, sort_key
from perpvol_core.exchanges.hyperliquid.source import FillsSource
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

#: the documented count cap of what the venue serves ("only the 10000 most recent fills are available")
RETENTION_FILLS = 10_000
#: ``userFills`` answers at most this many of the newest fills (§3.1)
USER_FILLS_MAX = 2000
#: the smallest page cap the budget allows for (the documented ones are 2000 and 500)
SMALLEST_PAGE = 50

RANGE, LOWER, UPPER, SEARCH = "range", "lower", "upper", "search"
EARLIEST, LATEST = "earliest", "latest"


def request_budget(start_ms: int, end_ms: int, retention: int) -> int:
    """The most requests one walk of ``[start_ms, end_ms]`` may make before it stops with an error.

    The venue serves at most ``retention`` fills (twice that if spot fills do not count toward the cap);
    with pages of at least ``SMALLEST_PAGE`` each page costs at most three requests (itself, the probe of
    one side, the same-millisecond fallback), plus one probe per day of the range for empty windows.
    """
    pages = -(-2 * retention // SMALLEST_PAGE)
    days = max(1, -(-(end_ms - start_ms) // MS_PER_DAY))
    return 16 + 3 * pages + days


@dataclass
class Window:
    lo: int
    hi: int
    side: str = RANGE

    def as_list(self) -> list[Any]:
        return [self.lo, self.hi, self.side]


class FillsWalk:
    """One walk of ``[start_ms, end_ms]`` (see the module docstring); ``pages()`` yields its FillPages."""

    def __init__(
        self, conn: FillsSource, start_ms: int, end_ms: int, position: dict | None, dex: str | None = None
    ) -> None:
        self.conn = conn
        #: a builder dex read on its own (F13, :mod:`.dexes`): ``dex`` is sent, only that dex's fills are handed
        #: out, and retention and the empty-address check are left to the walk without ``dex``
        self.dex = dex
        self.start_ms, self.end_ms = start_ms, end_ms
        pos = position or {}
        try:
            self.windows = [Window(int(w[0]), int(w[1]), str(w[2])) for w in pos["windows"]]
        except (KeyError, TypeError, ValueError, IndexError):
            self.windows = [Window(start_ms, end_ms)]
        self.mode: str | None = pos.get("mode") if pos.get("mode") in (EARLIEST, LATEST) else None
        self.cap = _int(pos.get("cap"), 0)
        self.served = _int(pos.get("served"), 0)
        self.oldest: int | None = _int(pos.get("oldest"), 0) or None
        self.requests = _int(pos.get("requests"), 0)
        self.end_inclusive = bool(pos.get("end_inclusive", False))
        #: the newest end of a window the venue refused with an error object (F5: older than it serves)
        self.refused_hi: int | None = _int(pos.get("refused_hi"), 0) or None
        #: the venue answered fills older than all it served for the range (F5 "partial": a lagging index)
        self.lagging = bool(pos.get("lagging", False))
        self.retention = conn.retention_fills
        self.budget = request_budget(start_ms, end_ms, self.retention)
        self.seen: set[str] = set()

    # -- state ------------------------------------------------------------------------------------

    def position(self) -> dict[str, Any]:
        return {
            "windows": [w.as_list() for w in self.windows],
            "mode": self.mode,
            "cap": self.cap,
            "served": self.served,
            "oldest": self.oldest,
            "requests": self.requests,
            "end_inclusive": self.end_inclusive,
            "refused_hi": self.refused_hi,
            "lagging": self.lagging,
        }

    def _complete_from(self) -> int | None:
        """Where ``[x, end_ms]`` is complete: above every pending window (None while the top is pending)."""
        if not self.windows:
            return self.start_ms
        top = max(w.hi for w in self.windows)
        return top + 1 if top < self.end_ms else None

    def _progress(self) -> float:
        span = max(1, self.end_ms - self.start_ms + 1)
        pending = sum(w.hi - w.lo + 1 for w in self.windows)
        return min(max(1 - pending / span, 0.0), 0.999)

    def _learn(self, mode: str) -> None:
        """The server serves the ``mode`` end of a full window: the other side's probes are known empty."""
        if self.mode == mode:
            return
        log.info("hyperliquid userFillsByTime serves the %s fills of a window", mode)
        self.mode = mode
        drop = LOWER if mode == EARLIEST else UPPER
        self.windows = [w for w in self.windows if w.side != drop]

    def _known_empty(self, window: Window) -> bool:
        return (self.mode == EARLIEST and window.side == LOWER) or (self.mode == LATEST and window.side == UPPER)

    def _push(self, window: Window) -> None:
        if not self._known_empty(window):
            self.windows.append(window)

    def _take(self, fills: list[Fill]) -> list[Fill]:
        fresh = []
        for fill in fills:
            if fill.fill_id in self.seen:
                continue
            self.seen.add(fill.fill_id)
            fresh.append(fill)
            self.served += 1
            self.oldest = fill.ts_ms if self.oldest is None else min(self.oldest, fill.ts_ms)
        return fresh

    def _count_request(self) -> None:
        self.requests += 1
        if self.requests > self.budget:
            raise BadPayload(
                f"Hyperliquid: reading {self.conn.credentials.hint}'s fills took more than {self.budget} requests "
                "for this range without finishing; stopped (the venue's answers do not fit any documented reading)"
            )

    # -- the walk ---------------------------------------------------------------------------------

    def pages(self) -> Iterator[FillPage]:
        while self.windows:
            window = self.windows.pop()
            if self._known_empty(window):
                continue
            search_from: int | None = None
            if window.side == SEARCH:
                # the venue refused a window starting at window.lo: look for the oldest start it accepts
                if window.hi - window.lo < MS_PER_DAY:
                    self.refused_hi = window.hi if self.refused_hi is None else max(self.refused_hi, window.hi)
                    continue
                search_from = window.lo
                window = Window((window.lo + window.hi + 1) // 2, window.hi)
            self._count_request()
            fresh, skipped = self._read_window(window, search_from)
            if self.dex is not None:
                fresh = [f for f in fresh if f.market.startswith(self.dex + ":")]
            if self.windows:
                yield FillPage(fresh, self.position(), window_done_ms=self._complete_from(), skipped=skipped,
                               progress=self._progress())
            else:
                yield self._last_page(fresh, skipped)
                return
        yield self._last_page([], [])

    def _read_window(self, window: Window, search_from: int | None = None) -> tuple[list[Fill], list[str]]:
        """Ask for ``window`` and push the parts its answer may have left out. ``search_from``: a refused start
        below this window, whose part below it is still to be searched when this window is served."""
        a, b = window.lo, window.hi
        # endTime inclusive or exclusive (F3): b + 1 covers b either way until a fill at endTime itself shows
        # that it is inclusive; then such fills could crowd the window's own out of a full answer, so the
        # window is asked again with endTime b (once per walk: the reading is kept)
        end = b if self.end_inclusive else b + 1
        rows = self.conn.fills_by_time_rows(a, end, self.dex)
        if rows is None:  # an error object for this window (F5): the venue serves nothing that old
            self._refused(window)
            return [], []
        if search_from is not None and search_from < a:
            self.windows.append(Window(search_from, a - 1, SEARCH))  # under this window's parts: older
        fills, skipped = parse_fills(rows)
        if not self.end_inclusive and any(f.ts_ms == end for f in fills):
            self.end_inclusive = True
            self._count_request()
            rows = self.conn.fills_by_time_rows(a, b, self.dex)
            if rows is None:
                self._refused(window)
                return [], []
            fills, skipped = parse_fills(rows)
        in_window = sorted((f for f in fills if a <= f.ts_ms <= b), key=sort_key)
        n = len(rows)
        self.cap = max(self.cap, n)
        fresh = self._take(in_window)
        # new fills beyond the edge millisecond of the block that made this probe tell the reading
        if fresh and window.side == UPPER and in_window[-1].ts_ms > a:
            self._learn(EARLIEST)
        elif fresh and window.side == LOWER and in_window[0].ts_ms < b:
            self._learn(LATEST)
        if not in_window or n < self.cap:
            return fresh, skipped  # all of the window was served
        tmin, tmax = in_window[0].ts_ms, in_window[-1].ts_ms
        if tmin == tmax:
            # a full answer inside one millisecond: time cannot split it
            fresh += self._take(self._same_millisecond(tmin, len(in_window)))
            if tmin > a:
                self._push(Window(a, tmin - 1, LOWER))
            if tmin < b:
                self._push(Window(tmin + 1, b, UPPER))
            return fresh, skipped
        self._push(Window(a, tmin, LOWER))
        self._push(Window(tmax, b, UPPER))  # on top: the newer part is completed first
        return fresh, skipped

    def _refused(self, window: Window) -> None:
        """An error object instead of fills (F5). If the venue refuses windows by their *start* (too old),
        newer parts of this one may still be served: a binary search on the start finds the oldest it
        accepts (about ten requests for two years), down to a day; whatever lies in a refused day is older
        than the first complete day (``history_starts_ms``)."""
        if window.hi - window.lo >= MS_PER_DAY:
            self.windows.append(Window(window.lo, window.hi, SEARCH))
        else:
            self.refused_hi = window.hi if self.refused_hi is None else max(self.refused_hi, window.hi)

    def _same_millisecond(self, ts_ms: int, served: int) -> list[Fill]:
        """Every fill of millisecond ``ts_ms`` from ``userFills`` (newest first, at most 2000), which holds
        all of them when it reaches back past ``ts_ms`` or serves fewer than its cap (the account's every fill).

        Raises ExchangeError when it does not: the millisecond cannot be read completely (a per-account error).
        """
        self._count_request()
        rows = self.conn.user_fills_rows(self.dex)
        fills, _ = parse_fills(rows)
        if not any(f.ts_ms < ts_ms for f in fills) and len(rows) >= self.conn.recent_fills:
            raise ExchangeError(
                f"Hyperliquid: {served} or more fills of {self.conn.credentials.hint} share the millisecond "
                f"{ts_ms}, more than one answer of userFillsByTime holds, and it is older than the newest "
                f"{self.conn.recent_fills} fills that userFills serves: that millisecond cannot be read completely"
            )
        return sorted((f for f in fills if f.ts_ms == ts_ms), key=sort_key)

    def _probe_below(self) -> list[Fill]:
        """One request for ``[start_ms, oldest served - 1]``, the part of the range older than every fill
        served, when nothing yet shows whether the venue stopped serving there (served under its count cap;
        only while no fill of the account is stored: an incremental sync starts after fills it already has).
        Under F5 it is "older than retention" only if the venue cut there: an empty answer says nothing, an
        error object that the venue stopped serving, fills that it serves a lagging part of what it cut
        (kept, but the history is still complete only from the oldest fill served above them)."""
        assert self.oldest is not None
        self._count_request()
        oldest = self.oldest
        end = oldest - 1
        # endTime = oldest - 1 under either bound reading: the probe only looks for evidence (the walk itself
        # already covered this part), and a bound at the oldest served fill would not be "older" than it
        rows = self.conn.fills_by_time_rows(self.start_ms, end)
        if rows is None:
            self.refused_hi = end
            return []
        fills, _ = parse_fills(rows)
        below = self._take(sorted((f for f in fills if self.start_ms <= f.ts_ms <= end), key=sort_key))
        if below:
            self.lagging = True
        self.oldest = oldest
        return below

    def _last_page(self, fresh: list[Fill], skipped: list[str]) -> FillPage:
        if self.dex is not None:
            fresh = [f for f in fresh if f.market.startswith(self.dex + ":")]
            return FillPage(fresh, None, window_done_ms=self.start_ms, skipped=skipped, progress=1.0)
        if (self.oldest is not None and self.oldest > self.start_ms and self.refused_hi is None
                and self.served < self.retention and not self.conn.has_stored_fills()):
            fresh = fresh + self._probe_below()
        starts: int | None = None
        if self.oldest is not None and self.oldest > self.start_ms and (
            self.served >= self.retention or self.refused_hi is not None or self.lagging
        ):
            # served as many fills as the venue keeps, or it refused an older window: nothing older is served.
            # The cap may cut through the oldest served millisecond (fills of one order share it), so the
            # history is complete only after it: a fill exactly at midnight would otherwise pass its day as whole
            starts = self.oldest + 1
        elif self.oldest is None and self.refused_hi is not None and self.refused_hi < self.end_ms:
            starts = self.refused_hi + 1
        if starts is not None:
            log.info("hyperliquid %s: the venue serves fills from %d on (retention)", self.conn.credentials.hint,
                     starts)
        if self.served == 0:
            self.conn.check_not_empty()  # the first sync of an address without a single fill says so
        return FillPage(fresh, None, window_done_ms=self.start_ms, skipped=skipped, progress=1.0,
                        history_starts_ms=starts)


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def describe_refusal(payload: Any) -> str:
    """A short, redacted text of an error object the venue answered instead of fills."""
    if isinstance(payload, dict):
        text = payload.get("error") or payload.get("msg") or payload.get("message") or payload.get("response")
        return redact(str(text or payload)[:160])
    return redact(str(payload)[:160])
