"""Reading ``/v3/trade/transactionHistory`` correctly under every reading of woox-api.md §3.1/§9.

The server may honour ``page``, ignore it (every request answers the first page) or reject it (−1004); cap
the page below the ``limit`` asked (clamping silently or rejecting the ``limit``); omit ``meta``; require
``symbol``; sort newest-first or oldest-first; refuse a long time span. :class:`HistoryWalk` adapts:

* **Request shape.** The first request that is refused with −1004/−1005 starts a bounded search over the
  shapes (``page`` sent or not, ``limit`` 500 → 10, ``symbol`` or not), cheapest change first (a change
  the error message names is tried first), then narrower time spans. The shape found is recorded.
* **Pages.** With ``page`` (honoured or not yet known) a window is read page by page. Each page must be
  a continuation of the ones before it: new ids only, in the window's order beyond the previous page,
  the same page size. A page of only known (or out-of-order) rows means ``page`` is ignored: noted, and
  the window continues as a time walk. Any other inconsistency (rows shifted by new fills, a page size
  that changed) also continues as a time walk, from the last consistent page.
* **Time walk.** The part of the window not yet read is always one range ``[lo, hi]``: newest-first
  rows move ``hi`` back to the oldest row held, oldest-first rows move ``lo`` forward to the newest row
  held (rows of that boundary millisecond come again and are deduped by id). A response that brings no
  new id ends the window when it is short (fewer rows than a page) and is a clear error when it is full
  (more fills than one page share one millisecond: no correct result is possible without ``page``).
* **Symbol required.** The account is read per symbol: current perpetuals of the instrument list plus
  every symbol already seen in the account's fills; a delisted symbol with no known fill cannot be
  enumerated (said in the profile's notes).

Every loop is bounded: each request either brings a new trade id or ends its window (so requests per
window <= new ids + 3, checked), windows are bounded by the span, scopes by the symbol list, the shape
search by its candidate list. The resume position after each page holds everything needed to continue
(shape, scope, window, mode, page, boundary ids), so a killed sync resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from perpvol_core.exchanges._http import BadPayload, FillPage
from perpvol_core.exchanges.woox import profile as prof
from perpvol_core.exchanges.woox.parse import HistoryResponse
from perpvol_core.exchanges.woox.source import LIMIT_LADDER, HistorySource, ParamRejected, Shape
from perpvol_core.fill import MS_PER_DAY

log = logging.getLogger(__name__)


MIN_SPAN_MS = MS_PER_DAY
POSITION_VERSION = 2


class HistoryWalk:
    """One ``iter_fill_pages`` call: ``pages()`` yields :class:`FillPage` s and updates ``connector.server_profile``."""

    def __init__(self, connector: HistorySource, start_ms: int, end_ms: int, position: dict | None) -> None:
        self.c = connector
        self.start = start_ms
        self.end = end_ms
        self.profile = prof.copy_profile(connector.server_profile)
        connector.server_profile = self.profile
        self.pos = dict(position) if isinstance(position, dict) and position.get("v") == POSITION_VERSION else None
        self.max_rows = 0  # the most rows one response brought in this walk (the page size when meta is absent)
        self.negotiated = False
        self._symbol_cache: list[str] | None = None

    # -- profile --------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.c.clock() * 1000)

    def _observe(self, key: str, value: Any, why: str = "") -> None:
        if prof.observe(self.profile, key, value, self._now(), why):
            log.warning("WOO X transactionHistory changed behaviour: %s -> %s (%s)", key, value, why)

    def _initial_shape(self) -> Shape:
        p = self.profile
        use_page = p.get("page") not in ("ignored", "rejected")
        limit = int(p.get("limit") or self.c.page_limit) if p.get("limit_over_cap") == "rejected" else self.c.page_limit
        return Shape(use_page, min(limit, self.c.page_limit), bool(p.get("symbol_required")))

    def _record_response(self, resp: HistoryResponse, shape: Shape) -> None:
        self._observe("meta", resp.has_meta, "meta object present" if resp.has_meta else "no meta object")
        if resp.order is not None:
            self._observe("order", resp.order, "rows of one response")
        self.max_rows = max(self.max_rows, resp.n_rows)
        if resp.has_meta and resp.per_page:
            self._observe("page_size", resp.per_page, "meta.recordsPerPage")
            if resp.per_page < shape.limit and self.profile.get("limit_over_cap") != "rejected":
                self._observe("limit_over_cap", "clamped", f"limit {shape.limit}, {resp.per_page} rows per page")
        elif not resp.has_meta and self.max_rows:
            self.profile["page_size"] = max(int(self.profile.get("page_size") or 0), self.max_rows)
        self.profile["limit"] = shape.limit
        if not shape.need_symbol:
            self._observe("symbol_required", False, "accepted without symbol")

    # -- requests ---------------------------------------------------------------------------------

    def _fetch(self, lo: int, hi: int, symbol: str | None, page: int | None, shape: Shape) -> HistoryResponse:
        return self.c.history_page(lo, hi, symbol=symbol, page=page if shape.use_page else None, limit=shape.limit)

    def _negotiate(
        self, shape: Shape, lo: int, hi: int, symbol: str | None, hint: str
    ) -> tuple[Shape, int, HistoryResponse]:
        """Find a request shape (and time span) the server accepts, cheapest change first.

        Returns (shape, span, the accepted response for ``[max(lo, hi - span), hi]``). Raises BadPayload
        when nothing is accepted, ExchangeError for other failures.
        """

        limits = [self.c.page_limit, *(x for x in LIMIT_LADDER if x < self.c.page_limit)]
        shapes = [
            Shape(use_page, limit, need_symbol)
            for use_page in ((True, False) if shape.use_page else (False,))
            for limit in limits
            for need_symbol in ((False, True) if not shape.need_symbol else (True,))
        ]
        hints: set[str] = set()

        def learn(message: str) -> None:
            text = message.lower()
            hints.update(k for k in ("page", "limit", "symbol") if k in text)

        def cost(s: Shape) -> float:
            # a knob a refusal named is worth changing first; keeping it is the least likely to help
            c = 0.0
            if shape.use_page and not s.use_page:
                c += 0.4 if "page" in hints else 1
            elif shape.use_page and "page" in hints:
                c += 1.5
            if s.limit < limits[0]:
                c += (0.4 if "limit" in hints else 1) + limits.index(s.limit) * 0.01
            elif "limit" in hints:
                c += 1.5
            if s.need_symbol and not shape.need_symbol:
                c += 0.4 if "symbol" in hints else 1
            elif not s.need_symbol and "symbol" in hints:
                c += 1.5
            return c

        learn(hint)
        probe_symbol = symbol
        full = max(MIN_SPAN_MS, hi - lo)

        def attempt(s: Shape, span: int) -> HistoryResponse | None:
            nonlocal probe_symbol
            sym = symbol
            if s.need_symbol and sym is None:
                if probe_symbol is None:
                    probe_symbol = (self._symbols() or ["PERP_BTC_USDT"])[0]
                sym = probe_symbol
            try:
                return self._fetch(max(lo, hi - span), hi, sym, 1, s)
            except ParamRejected as exc:
                learn(str(exc))
                return None

        tried = 0
        untried = [s for s in shapes if s != shape]  # ``shape`` itself was just refused
        while untried:  # every shape over the whole range, the cheapest under what the refusals named first
            s = min(untried, key=cost)
            untried.remove(s)
            tried += 1
            resp = attempt(s, full)
            if resp is not None:
                return s, full, resp
        ordered = sorted(shapes, key=cost)
        span = full // 2
        while span >= MIN_SPAN_MS:  # the cheapest shape over narrower spans
            tried += 1
            resp = attempt(ordered[0], span)
            if resp is not None:
                return ordered[0], span, resp
            span //= 2
        for s in ordered[1:]:  # every shape over the narrowest span, then widen
            tried += 1
            resp = attempt(s, MIN_SPAN_MS)
            if resp is not None:
                span = MIN_SPAN_MS
                while span * 2 <= full and attempt(s, span * 2) is not None:
                    tried += 1
                    span *= 2
                return s, span, self._fetch(max(lo, hi - span), hi, probe_symbol if s.need_symbol else symbol, 1, s)
        raise BadPayload(
            f"WOO X transactionHistory refused every request shape tried ({tried}: with and without page, limits "
            f"{limits[0]} to {limits[-1]}, with and without symbol, spans down to one day); the last refusal: {hint}"
        )

    def _symbols(self) -> list[str]:
        if self._symbol_cache is not None:
            return self._symbol_cache
        listed = set(self.c.perp_instruments())
        facts = self.c.facts  # the store's knowledge: symbols already seen in this account's fills
        known = {m for m in facts.known_markets if m.startswith("PERP_")} if facts is not None else set()
        self._symbol_cache = sorted(listed | known)
        return self._symbol_cache

    # -- the walk --------------------------------------------------------------------------------

    def pages(self) -> Iterator[FillPage]:
        """The pages of the range (see the module docstring). Raises ExchangeError, BadPayload with a clear
        message where no correct result is possible."""

        start, end = self.start, self.end
        pos = self.pos
        if pos is not None:
            shape = Shape(bool(pos["use_page"]), int(pos["limit"]), bool(pos["need_symbol"]))
            symbols: list[str] | None = list(pos["syms"]) if pos.get("syms") is not None else None
            si, span, w_hi = int(pos.get("si", 0)), int(pos["span"]), int(pos["w_hi"])
            self.max_rows = int(pos.get("mx") or 0)
        else:
            shape = self._initial_shape()
            symbols, si, span, w_hi = None, 0, max(MIN_SPAN_MS, end - start), end
        if shape.need_symbol and symbols is None:
            symbols = self._symbols()
        if symbols is not None:
            prof.add_note(self.profile, prof.DELISTED_NOTE)
            if not symbols:
                yield FillPage([], None, window_done_ms=start, progress=1.0)
                return
        span_total = max(1, end - start)
        pending: HistoryResponse | None = None
        prev_rows: int | None = None
        asked_page_again = False

        # window state
        w_lo = max(start, w_hi - span)
        mode = "page" if shape.use_page else "walk"
        page, pp1, lo, hi = 1, None, w_lo, w_hi
        seen: set[str] = set()
        if pos is not None:
            w_lo = int(pos.get("w_lo", w_lo))
            mode, page, pp1 = str(pos["mode"]), int(pos["page"]), pos.get("pp1")
            lo, hi, seen = int(pos["lo"]), int(pos["hi"]), set(pos.get("bnd") or [])
        requests = new_ids = 0

        while True:
            symbol = symbols[si] if symbols is not None else None
            if requests > new_ids + 3:  # unreachable by construction: each request brings an id or ends the window
                raise BadPayload(f"WOO X transactionHistory did not converge ({requests} requests, {new_ids} new "
                                 "fills in one window); stopped instead of looping")
            if pending is not None:
                resp, pending = pending, None
            else:
                try:
                    if mode == "page":
                        resp = self._fetch(w_lo, w_hi, symbol, page, shape)
                    else:
                        resp = self._fetch(lo, hi, symbol, None, shape)
                except ParamRejected as exc:
                    if not self.negotiated:
                        self.negotiated = True
                        old = shape
                        shape, span, pending = self._negotiate(shape, w_lo, w_hi, symbol, str(exc))
                        self._record_shape(old, shape)
                        if shape.need_symbol and symbols is None:
                            symbols, si, w_hi = self._symbols(), 0, end
                            prof.add_note(self.profile, prof.DELISTED_NOTE)
                            if not symbols:
                                yield FillPage([], None, window_done_ms=start, progress=1.0)
                                return
                    elif requests == 0 and span > MIN_SPAN_MS:
                        span = max(MIN_SPAN_MS, span // 2)
                        log.info("WOO X refused a window (%s); trying %d days", exc, span // MS_PER_DAY)
                    else:
                        raise BadPayload(f"WOO X transactionHistory refused a request: {exc}") from exc
                    w_lo = max(start, w_hi - span)
                    mode = "page" if shape.use_page else "walk"
                    page, pp1, lo, hi, seen, requests, new_ids = 1, None, w_lo, w_hi, set(), 0, 0
                    continue
            requests += 1
            # a response cannot show by itself that it is a full page: the largest seen before it (in this walk
            # or recorded in the profile) is the page size known
            rows_before = max(self.max_rows, int(self.profile.get("page_size") or 0))
            self._record_response(resp, shape)
            fresh = [f for f in resp.fills if f.fill_id not in seen]
            desc = (resp.order or self.profile.get("order")) != "asc"
            window_done = False
            if mode == "page":
                bad = 0
                if page > 1:
                    bad = sum(1 for f in resp.fills
                              if f.fill_id in seen or (desc and f.ts_ms > hi) or (not desc and f.ts_ms < lo))
                grew = pp1 is not None and (resp.n_rows > pp1 or (resp.per_page is not None and resp.per_page != pp1))
                if resp.fills and bad == len(resp.fills):
                    self._observe("page", "ignored", f"page {page} repeated rows already read")
                    mode = "walk"
                    shape = Shape(False, shape.limit, shape.need_symbol)  # later windows walk from the start
                elif bad or grew:
                    log.info("WOO X page %d is not a continuation (%d rows out of place%s); walking the time "
                             "window from the last consistent page", page, bad, ", page size changed" if grew else "")
                    mode = "walk"
                else:
                    if page == 1:
                        pp1 = resp.per_page if resp.per_page else resp.n_rows
                    elif resp.fills or pp1:
                        self._observe("page", "honoured", f"page {page} continued page {page - 1}")
                    if resp.fills:
                        if desc:
                            hi = min(f.ts_ms for f in resp.fills)
                        else:
                            lo = max(f.ts_ms for f in resp.fills)
                    if resp.n_rows == 0:
                        window_done = True
                    elif resp.has_meta and resp.per_page:
                        window_done = resp.n_rows < resp.per_page or (
                            resp.total is not None and page * resp.per_page >= resp.total)
                    elif page > 1 and pp1 and resp.n_rows < pp1:
                        window_done = True
                    page += 1
            elif not fresh:
                cap = resp.per_page if (resp.has_meta and resp.per_page) else (rows_before or shape.limit)
                if resp.n_rows == 0 or resp.n_rows < cap:
                    window_done = True
                else:
                    probe = None
                    if not asked_page_again:
                        # the one case where paging matters: ask once whether the server pages (now)
                        asked_page_again = True
                        try:
                            probe = self._fetch(lo, hi, symbol, 2, Shape(True, shape.limit, shape.need_symbol))
                        except ParamRejected:
                            probe = None
                    if probe is not None and probe.fills and all(
                        f.fill_id not in seen and (f.ts_ms <= hi if desc else f.ts_ms >= lo) for f in probe.fills
                    ):
                        # page 2 of [lo, hi] continues page 1 (this response): read the rest page by page
                        shape = Shape(True, shape.limit, shape.need_symbol)
                        mode, page, pp1 = "page", 2, resp.n_rows
                        w_lo, w_hi = lo, hi
                        pending = probe
                        seen.update(f.fill_id for f in resp.fills)
                        continue
                    when = min(f.ts_ms for f in resp.fills) if resp.fills else hi
                    raise BadPayload(
                        f"WOO X transactionHistory cannot be read past {resp.n_rows} fills sharing millisecond "
                        f"{when}{' of ' + symbol if symbol else ''}: the server does not page (page ignored or "
                        "rejected) and a time window cannot split one millisecond; stopped instead of looping "
                        "(this account's fills are incomplete)"
                    )
            else:
                if desc:
                    hi = min(f.ts_ms for f in resp.fills)
                else:
                    lo = max(f.ts_ms for f in resp.fills)
                if resp.has_meta and resp.per_page:
                    window_done = resp.n_rows < resp.per_page or (
                        resp.total is not None and resp.total <= resp.n_rows)
            if (not resp.has_meta and fresh and prev_rows == self.max_rows and 0 < prev_rows < shape.limit
                    and self.profile.get("limit_over_cap") != "rejected"):
                # a response of fewer rows than asked was followed by more rows: the page is capped
                self._observe("limit_over_cap", "clamped", f"limit {shape.limit}, {prev_rows} rows per page")
            prev_rows = resp.n_rows
            new_ids += len(fresh)
            seen.update(f.fill_id for f in resp.fills)
            window_done_ms: int | None = None
            if window_done:
                if w_lo <= start:
                    if symbols is None or si + 1 >= len(symbols):
                        yield FillPage(fresh, None, window_done_ms=start, skipped=resp.skipped, progress=1.0)
                        return
                    si, w_hi = si + 1, end
                else:
                    w_hi = w_lo  # the next window ends where this one started (1 ms overlap)
                    if symbols is None:
                        window_done_ms = w_lo
                w_lo = max(start, w_hi - span)
                mode = "page" if shape.use_page else "walk"
                page, pp1, lo, hi, seen, requests, new_ids = 1, None, w_lo, w_hi, set(), 0, 0
                bnd: list[str] = []
            else:
                if symbols is None and desc and hi < w_hi:
                    window_done_ms = hi + 1
                bnd_ts = hi if desc else lo
                bnd = [f.fill_id for f in resp.fills if f.ts_ms == bnd_ts]
            nxt = {
                "v": POSITION_VERSION, "use_page": shape.use_page, "limit": shape.limit,
                "need_symbol": shape.need_symbol, "syms": symbols, "si": si, "span": span, "w_hi": w_hi, "w_lo": w_lo,
                "mode": mode, "page": page, "pp1": pp1, "lo": lo, "hi": hi, "bnd": bnd, "mx": self.max_rows,
            }
            yield FillPage(fresh, nxt, window_done_ms=window_done_ms, skipped=resp.skipped,
                           progress=self._progress(symbols, si, lo, hi, desc, span_total))

    def _record_shape(self, old: Shape, new: Shape) -> None:
        if new.use_page != old.use_page:
            self._observe("page", "rejected", "−1004/−1005 with page, accepted without")
        if new.limit < old.limit:
            self._observe("limit_over_cap", "rejected", f"limit {old.limit} refused, {new.limit} accepted")
        self._observe("symbol_required", new.need_symbol,
                      "refused without symbol, accepted with" if new.need_symbol else "accepted without symbol")

    def _progress(self, symbols: list[str] | None, si: int, lo: int, hi: int, desc: bool, span_total: int) -> float:
        remaining = (hi - self.start) if desc else (self.end - lo)
        frac = 1 - max(0, min(span_total, remaining)) / span_total
        if symbols:
            frac = (si + frac) / len(symbols)
        return min(max(frac, 0.0), 0.999)
