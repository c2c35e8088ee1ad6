"""Client-side pacing at each endpoint's documented rate limit, shared by every connector of a process (so a
normal backfill never draws a 429). Hand-written: no library keeps several weighted windows with a margin,
settles a request's weight from its answer and holds until the server's reset."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_s`` seconds (a sliding window, the strictest common reading).

    Where a venue prices requests by weight (e.g. 1200 weight a minute), ``requests`` is the weight
    budget and each request names its weight."""

    requests: int
    per_s: float


class Pacer:
    """Client-side pacing for one (account, endpoint): every documented limit is kept with a margin.

    For each limit N per W seconds a request of weight w may start only when the weights started in the last
    W·(1 + margin) plus w stay within N (weight 1 per request unless told: the N-th previous start then lies
    more than W·(1 + margin) ago) — this never exceeds a sliding window, a fixed window or a token bucket of
    that size. A request whose weight is known only from its answer (a venue charging per item returned) is
    charged its worst case and :meth:`settle`-d to the real one. A 429 widens the margin (up to 25 %) and
    holds every request until the server's reset time.

    ``stamp_answers``: a request counts from when its answer arrived, not from when it was sent (:meth:`settle`
    moves it): the server charged it at some point in between, so the window is then kept by the server's own
    clock and the margin need only cover the clocks' rates, not the answers' latency.
    """

    def __init__(self, limits: list[RateLimit], margin: float = 0.03, stamp_answers: bool = False) -> None:
        self.limits = list(limits)
        self.margin = margin
        self.stamp_answers = stamp_answers
        # [start, weight] of the recent requests: each weighs at least 1, so a budget's worth of entries is
        # all any limit can need
        self._starts: deque[list[float]] = deque(maxlen=max((lim.requests for lim in limits), default=1))
        self._hold_until = 0.0
        self._lock = threading.Lock()
        self._mine = threading.local()  # this thread's last start, for settle()

    def _next_start(self, now: float, weight: int) -> float:
        at = max(now, self._hold_until)
        for lim in self.limits:
            window = lim.per_s * (1 + self.margin)
            # the latest start that still counts against a request at ``at``; walk back from the newest
            spent = weight
            # answer stamps of concurrent requests may be out of order: newest first by stamp
            recent = sorted(self._starts, key=lambda e: e[0], reverse=True) if self.stamp_answers else reversed(
                self._starts)
            for start, w in recent:
                spent += int(w)
                if spent > lim.requests:  # this start (and all before it) must have left the window
                    at = max(at, start + window)
                    break
        return at

    def acquire(self, sleep: Callable[[float], None] = time.sleep, weight: int = 1) -> float:
        """Block until a request of ``weight`` may start; returns the seconds waited."""
        weight = max(1, min(int(weight), min((lim.requests for lim in self.limits), default=1)))
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                at = self._next_start(now, weight)
                if at <= now:
                    self._mine.entry = [now, weight]
                    self._starts.append(self._mine.entry)
                    return waited
            sleep(at - now)
            waited += at - now

    def settle(self, weight: int | None = None) -> None:
        """The last request this thread started weighs ``weight`` after all (known from its answer; None: as
        charged), and, with ``stamp_answers``, counts from now (its answer has just arrived)."""
        entry = getattr(self._mine, "entry", None)
        if entry is not None:
            with self._lock:
                if weight is not None:
                    entry[1] = max(1, int(weight))
                if self.stamp_answers:
                    entry[0] = max(entry[0], time.monotonic())

    def penalize(self, hold_s: float) -> None:
        """After a 429: hold every request for ``hold_s`` and pace more carefully from now on."""
        with self._lock:
            self._hold_until = max(self._hold_until, time.monotonic() + max(hold_s, 0.0))
            self.margin = min(max(self.margin * 2, 0.05), 0.25)


_pacers: dict[tuple[str, ...], Pacer] = {}
_pacers_lock = threading.Lock()


def get_pacer(
    key: tuple[str, ...], limits: list[RateLimit], margin: float = 0.03, stamp_answers: bool = False
) -> Pacer:
    """The process-wide pacer of ``key`` (exchange, account identity, endpoint): shared by every connector."""
    with _pacers_lock:
        pacer = _pacers.get(key)
        if pacer is None or pacer.limits != list(limits) or pacer.stamp_answers != stamp_answers:
            pacer = _pacers[key] = Pacer(limits, margin, stamp_answers)
        return pacer
