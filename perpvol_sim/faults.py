"""Fault injection shared by the simulators: one :class:`Faults` object per run, changeable at runtime.

Each simulator calls :meth:`Faults.pick` exactly once per HTTP request and acts on the answer in its
own dialect (the venues differ in error bodies)::

    fault = faults.pick(request.path)
    if fault == RATE_LIMIT: ...            # 429 with the exchange's rate-limit body
    elif fault == SERVER_ERROR: ...        # 500/503 with the exchange's JSON error envelope
    elif fault == HTML_ERROR: ...          # 502 text/html page from a "proxy" (faults.html_page())
    elif fault == STALL: await asyncio.sleep(faults.stall_s)  # then answer normally
    elif fault == TRUNCATE: ...            # answer normally but cut the JSON body (faults.truncate())

Faults fire either by probability (``rate_limit_p=0.1``) or deterministically for the next N
requests (``faults.force(RATE_LIMIT, 3)``); forced faults win, in the order they were forced.
``clock_skew_ms`` shifts the simulator's clock (server time and the timestamp-window check);
``revoked`` makes every credential invalid; :meth:`drop_ws` tells WebSocket handlers to drop a
connection (forced via ``force(WS_DROP, n)`` or ``ws_drop_p``).

``drop_page=(path, n)`` makes the ``n``-th request (1-based) on ``path`` silently skip one page of rows:
the simulator answers with the page after the one asked for, as a server with a pagination bug would.
Nothing in the response says so; only a second reading of the same time range by another query shape
can find the gap. Simulators ask :meth:`Faults.skip_page` once per data request.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from typing import Any

from perpvol_core import timeutil

RATE_LIMIT = "rate_limit"
SERVER_ERROR = "server_error"
HTML_ERROR = "html_error"
STALL = "stall"
TRUNCATE = "truncate"
WS_DROP = "ws_drop"
DROP_PAGE = "drop_page"
REQUEST_FAULTS = (RATE_LIMIT, SERVER_ERROR, HTML_ERROR, STALL, TRUNCATE)

_PROBABILITY_FIELDS = {
    RATE_LIMIT: "rate_limit_p",
    SERVER_ERROR: "server_error_p",
    HTML_ERROR: "html_error_p",
    STALL: "stall_p",
    TRUNCATE: "truncate_p",
}

_HTML_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)


class Faults:
    """Thread-safe fault configuration (see the module docstring). All probabilities default to 0."""

    def __init__(
        self,
        *,
        rate_limit_p: float = 0.0,
        server_error_p: float = 0.0,
        html_error_p: float = 0.0,
        stall_p: float = 0.0,
        stall_s: float = 30.0,
        truncate_p: float = 0.0,
        ws_drop_p: float = 0.0,
        clock_skew_ms: int = 0,
        revoked: bool = False,
        only_paths: tuple[str, ...] = (),
        seed: int | None = None,
        drop_page: tuple[str, int] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._forced: deque[str] = deque()
        self._forced_ws = 0
        self.counts: Counter[str] = Counter()
        self.rate_limit_p = rate_limit_p
        self.server_error_p = server_error_p
        self.html_error_p = html_error_p
        self.stall_p = stall_p
        self.stall_s = stall_s
        self.truncate_p = truncate_p
        self.ws_drop_p = ws_drop_p
        self.clock_skew_ms = clock_skew_ms
        self.revoked = revoked
        self.only_paths = only_paths
        self.drop_page = drop_page
        self._data_requests: Counter[str] = Counter()

    def set(self, **fields: Any) -> None:
        """Change settings at runtime, e.g. ``faults.set(rate_limit_p=0.5, clock_skew_ms=-400_000)``."""
        with self._lock:
            for name, value in fields.items():
                if name.startswith("_") or not hasattr(self, name) or callable(getattr(self, name)):
                    raise AttributeError(f"unknown fault setting {name!r}")
                setattr(self, name, value)
                if name == "drop_page":  # the n-th request counts from now
                    self._data_requests.clear()

    def force(self, kind: str, n: int = 1) -> None:
        """Make the next ``n`` requests (or WebSocket checks, for ``WS_DROP``) fail with ``kind``."""
        if kind not in REQUEST_FAULTS and kind != WS_DROP:
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            if kind == WS_DROP:
                self._forced_ws += n
            else:
                self._forced.extend([kind] * n)

    def reset(self) -> None:
        """Back to no faults at all (counts are kept)."""
        with self._lock:
            self._forced.clear()
            self._forced_ws = 0
            self.rate_limit_p = self.server_error_p = self.html_error_p = 0.0
            self.stall_p = self.truncate_p = self.ws_drop_p = 0.0
            self.clock_skew_ms = 0
            self.revoked = False
            self.drop_page = None

    def pick(self, path: str = "") -> str | None:
        """The fault for this request (one of ``REQUEST_FAULTS``) or None. Call once per request."""
        with self._lock:
            if self.only_paths and not path.startswith(self.only_paths):
                return None
            fault: str | None = None
            if self._forced:
                fault = self._forced.popleft()
            else:
                for kind, field_name in _PROBABILITY_FIELDS.items():
                    p = getattr(self, field_name)
                    if p > 0 and self._rng.random() < p:
                        fault = kind
                        break
            if fault is not None:
                self.counts[fault] += 1
            return fault

    def skip_page(self, path: str) -> bool:
        """True when this data request on ``path`` must silently skip a page (``drop_page``). Call once per request."""
        with self._lock:
            if self.drop_page is None:
                return False
            target, nth = self.drop_page
            if not path.startswith(target):
                return False
            self._data_requests[target] += 1
            if self._data_requests[target] != nth:
                return False
            self.counts[DROP_PAGE] += 1
            return True

    def drop_ws(self) -> bool:
        """True when a WebSocket handler should drop its connection now (consult once per message)."""
        with self._lock:
            drop = False
            if self._forced_ws > 0:
                self._forced_ws -= 1
                drop = True
            elif self.ws_drop_p > 0 and self._rng.random() < self.ws_drop_p:
                drop = True
            if drop:
                self.counts[WS_DROP] += 1
            return drop

    def now_ms(self) -> int:
        """The simulator's clock: real time shifted by ``clock_skew_ms``."""
        return timeutil.now_ms() + self.clock_skew_ms

    @staticmethod
    def html_page() -> str:
        """A proxy's 502 page (served as ``text/html``)."""
        return _HTML_PAGE

    @staticmethod
    def truncate(body: bytes) -> bytes:
        """The body cut roughly in half: never valid JSON when the body was a JSON object or array."""
        return body[: max(1, len(body) // 2)]
