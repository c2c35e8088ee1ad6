"""The simulator state every handler shares (:class:`WooxState`): history, config, faults, counters, the
limiter, listenKeys and which live fills are algo-order fills.
"""

from __future__ import annotations

import threading
from collections import Counter

from perpvol_sim.faults import Faults
from perpvol_sim.history import History, SimFill
from perpvol_sim.woox.config import WooxSimConfig
from perpvol_sim.woox.fills import _FillIndex
from perpvol_sim.woox.limiter import _SlidingWindow


class WooxState:
    """What the handlers share: history, config, faults, counters, limiter, WebSocket clients."""

    def __init__(self, history: History, config: WooxSimConfig, faults: Faults | None) -> None:
        self.history = history
        self.config = config
        self.faults = faults or Faults()
        self.index = _FillIndex(history)
        self.limiter = _SlidingWindow()
        self.requests: Counter[str] = Counter()
        self.rate_limited_by_endpoint: Counter[str] = Counter()
        self.auth_failures = 0
        self._lock = threading.Lock()
        self.listen_keys: dict[str, int] = {}  # listenKey -> expiry (ms, simulator clock)
        self.algo_fill_ids: set[str] = set()  # live fills of algo/stop orders (pushed on algoexecutionreportv2)
        self._algo_next = 0
        # first subscriber: marks a fill as algo before any stream handler sees it
        history.subscribe(self._mark_algo)

    def _mark_algo(self, fill: SimFill) -> None:
        with self._lock:
            if self._algo_next > 0:
                self._algo_next -= 1
                self.algo_fill_ids.add(fill.fill_id)

    def next_fills_are_algo(self, n: int = 1) -> None:
        with self._lock:
            self._algo_next += n

    def is_algo(self, fill: SimFill) -> bool:
        with self._lock:
            return fill.fill_id in self.algo_fill_ids

    def new_listen_key(self) -> tuple[str, int]:
        """A new key valid 24 h; creating one expires the previous ones (§6.2)."""
        import secrets as _secrets

        key = _secrets.token_urlsafe(24)
        expiry = self.now_ms() + self.config.listen_key_ttl_ms
        with self._lock:
            self.listen_keys = {key: expiry}
        return key, expiry

    def listen_key_valid(self, key: str) -> bool:
        with self._lock:
            expiry = self.listen_keys.get(key)
        return expiry is not None and self.now_ms() < expiry

    @property
    def rate_limited(self) -> int:
        return sum(self.rate_limited_by_endpoint.values())

    def now_ms(self) -> int:
        return self.faults.now_ms()

    def window_now_ms(self) -> int:
        anchor = self.config.window_anchor_ms
        return anchor if anchor is not None else self.now_ms()

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.requests[endpoint] += 1

    def count_rate_limited(self, endpoint: str) -> None:
        with self._lock:
            self.rate_limited_by_endpoint[endpoint] += 1
