"""Token-bucket rate limits with ``x-ratelimit-*`` headers (§4.1): :class:`RateLimiter`."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

from perpvol_sim.paradex.config import RateLimits


class _TokenBucket:
    """Continuous-refill bucket: capacity ``limit``, refilled at ``limit / window_s`` tokens per second."""

    __slots__ = ("limit", "window_s", "tokens", "stamp")

    def __init__(self, limit: int, window_s: float, now: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.tokens = float(limit)
        self.stamp = now

    def _refill(self, now: float) -> None:
        rate = self.limit / self.window_s
        self.tokens = min(float(self.limit), self.tokens + max(0.0, now - self.stamp) * rate)
        self.stamp = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def headers(self, now: float) -> dict[str, str]:
        """``x-ratelimit-*`` values; reset = unix seconds when the next token is available."""
        rate = self.limit / self.window_s
        missing = max(0.0, 1.0 - self.tokens)
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(int(self.tokens)),
            "x-ratelimit-reset": str(math.ceil(now + missing / rate)),
            "x-ratelimit-window": str(int(self.window_s) if float(self.window_s).is_integer() else self.window_s),
        }


class RateLimiter:
    """Named buckets (``("account", addr)``, ``("ip", ip)``, ``("auth", ip)``); thread-safe."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}
        self._lock = threading.Lock()

    def _limit_for(self, kind: str) -> int:
        return {
            "account": self.limits.private_get_per_account,
            "ip": self.limits.per_ip,
            "auth": self.limits.auth_per_ip,
        }[kind]

    def check(self, keys: Sequence[tuple[str, str]], now: float) -> tuple[bool, dict[str, str]]:
        """Take one token from each bucket; returns (allowed, headers of the tightest bucket)."""
        with self._lock:
            buckets = []
            for key in keys:
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = _TokenBucket(self._limit_for(key[0]), self.limits.window_s, now)
                bucket._refill(now)
                buckets.append(bucket)
            empty = [b for b in buckets if b.tokens < 1.0]
            if empty:
                return False, empty[0].headers(now)
            for b in buckets:
                b.take(now)
            tightest = min(buckets, key=lambda b: b.tokens)
            return True, tightest.headers(now)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
