"""What connectors read answers with: :class:`FillPage` (one page of fills and where to resume), the request
counters, and readers of JSON values (exact decimals, identity text, timestamps, the server's clock)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx


@dataclass
class FillPage:
    """One page of normalized fills and where to resume after it.

    ``position``: the connector's resume point after this page (``None`` when the range is done).
    ``window_done_ms``: set when this page completes a time window: ``[window_done_ms, end_ms]`` of the
    requested range is then complete (connectors walk windows from newest to oldest).
    ``skipped``: bad rows reported and skipped (redacted text). ``progress``: 0..1 of the range done.
    ``history_starts_ms``: set when the venue serves nothing older than this (a retention cap): the range
    before it can never be fetched, so the sync must not plan it again, and the account's history is
    complete only from the first UTC day that starts at or after it (``complete_from``).
    """

    fills: list
    position: dict | None
    window_done_ms: int | None = None
    skipped: list[str] = field(default_factory=list)
    progress: float | None = None
    history_starts_ms: int | None = None


@dataclass
class RequestStats:
    """Counters of one connector (the sync reports them per account)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_path: dict[str, int] = field(default_factory=dict)
    waited_s: float = 0.0


def parse_json(content: bytes) -> Any:
    """JSON with every non-integer number as ``Decimal`` (never float). Raises ``ValueError`` when not JSON."""
    return json.loads(content, parse_float=Decimal)


def to_text(value: Any, what: str) -> str:
    """Identity text (an id, a symbol) from a JSON string or integer; ``TypeError``/``ValueError`` otherwise.

    ``str()`` would turn ``null`` into the id ``"None"`` (so unrelated fills would share one identity) and a
    list into ``"['x']"``.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{what} is {type(value).__name__}, not text")
    text = str(value).strip()
    if not text:
        raise ValueError(f"{what} is empty")
    return text


def clock_skew_s(response: httpx.Response, local_now_s: float | None = None) -> float | None:
    """Seconds our clock is ahead of the server's, from its ``Date`` header (±1 s); None without one."""
    from email.utils import parsedate_to_datetime

    header = response.headers.get("date")
    if not header:
        return None
    try:
        server_s = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (time.time() if local_now_s is None else local_now_s) - server_s


def to_ms(value: Any) -> int:
    """Epoch milliseconds from int ms, ``"seconds.millis"`` text, seconds, or ns/us given as integers.

    Raises ``ValueError`` when the value is not a timestamp.
    """
    if value is None or isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    text = str(value).strip()
    try:
        d = Decimal(text)
    except ArithmeticError as exc:
        raise ValueError(f"not a timestamp: {value!r}") from exc
    if not d.is_finite() or d < 0:
        raise ValueError(f"not a timestamp: {value!r}")
    if "." in text or "e" in text.lower() or d < Decimal(100_000_000_000):  # seconds (with millis)
        return int((d * 1000).to_integral_value())
    if d >= Decimal(10) ** 17:  # nanoseconds
        return int(d // 1_000_000)
    if d >= Decimal(10) ** 14:  # microseconds
        return int(d // 1000)
    return int(d)
