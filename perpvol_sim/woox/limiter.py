"""Rate limits (§5.2): :class:`_SlidingWindow`, a per-key sliding-window limiter."""

from __future__ import annotations

import threading
import time
from collections import deque


class _SlidingWindow:
    """Per-key sliding-window limiter: at most ``limit`` accepted requests in any ``window_s``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def allow(self, key: tuple[str, str], limit: int, window_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= window_s:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
