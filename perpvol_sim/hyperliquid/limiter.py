"""The REST weight limit (``hyperliquid-api.md`` §6): 1200 weight per minute per IP, a sliding window.

Weights: 2 for a few light info types, 60 for ``userRole``, 20 for every other one; fill endpoints cost 1 more
per 20 fills returned (F25). A refused request costs nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: info types of weight 2 (§6, verbatim list) and 60; all others weigh 20
LIGHT_TYPES = frozenset({"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState",
                         "exchangeStatus"})  # fmt: skip
HEAVY_TYPES = frozenset({"userRole"})
#: info types that cost extra per 20 items returned (those of §6 the simulator serves)
PER_ITEM_TYPES = frozenset({"userFills", "userFillsByTime"})
WINDOW_S = 60.0
_MAX_IPS = 10_000  # a bound on the remembered clients


def base_weight(info_type: str) -> int:
    if info_type in LIGHT_TYPES:
        return 2
    return 60 if info_type in HEAVY_TYPES else 20


def item_weight(n_items: int) -> int:
    """The extra weight of a fill response with ``n_items`` items (F25 reading A)."""
    return math.ceil(n_items / 20)


class WeightLimiter:
    """Sliding one-minute window of spent weight per client IP; ``limit()`` is read on every request."""

    def __init__(self, limit: Callable[[], int], clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._spent: dict[str, deque[tuple[float, int]]] = {}

    def _window(self, ip: str, now: float) -> deque[tuple[float, int]]:
        window = self._spent.get(ip)
        if window is None:
            if len(self._spent) >= _MAX_IPS:
                self._spent.clear()
            window = self._spent[ip] = deque()
        while window and window[0][0] <= now - WINDOW_S:
            window.popleft()
        return window

    def used(self, ip: str) -> int:
        with self._lock:
            return sum(w for _, w in self._window(ip, self._clock()))

    def admit(self, ip: str, weight: int) -> bool:
        """Spend ``weight`` if it fits in the window; False (nothing spent) when it does not."""
        with self._lock:
            now = self._clock()
            window = self._window(ip, now)
            if sum(w for _, w in window) + weight > self._limit():
                return False
            window.append((now, weight))
            return True

    def charge(self, ip: str, weight: int) -> None:
        """Spend ``weight`` after the fact (the per-item extra), even past the limit."""
        if weight <= 0:
            return
        with self._lock:
            now = self._clock()
            self._window(ip, now).append((now, weight))

    def reset(self) -> None:
        with self._lock:
            self._spent.clear()
