"""What one account's sync tells the world while it runs: its status, its progress and ETA, and how it ended,
as events on the bus (and to an optional progress callback, e.g. the CLI's progress bar).

:class:`SyncProgress` is the one place a sync publishes from; the ETA is measured from the progress made
in this sync (a resumed sync starts from where it stood).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from perpvol_core.exchanges import ExchangeError, ExchangeUnavailable, InvalidCredentials, RateLimited
from perpvol_core.security.redaction import redact
from perpvol_core.services.events import EventBus, get_bus

log = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]


def error_text(exc: BaseException) -> str:
    """The status text naming the cause: invalid/revoked credentials, rate-limited, unreachable, …"""
    if isinstance(exc, InvalidCredentials):
        return f"invalid or revoked credentials: {exc}"
    if isinstance(exc, RateLimited):
        return f"rate-limited: {exc}"
    if isinstance(exc, ExchangeUnavailable):
        return f"exchange unreachable: {exc}"
    if isinstance(exc, ExchangeError):
        return f"unexpected response from the exchange: {exc}"
    return f"internal error: {type(exc).__name__}: {redact(exc)}"


class SyncProgress:
    """The events of one account's sync: ``status``, ``page`` (progress and ETA), ``done``."""

    def __init__(
        self, label: str, exchange: str, bus: EventBus | None = None, callback: ProgressCallback | None = None
    ) -> None:
        self.label = label
        self.exchange = exchange
        self.bus = bus
        self.callback = callback
        self.t0 = time.monotonic()
        self._start: float | None = None  # the overall progress at this sync's first page

    def publish(self, event: dict[str, Any]) -> None:
        (self.bus or get_bus()).publish(event)
        if self.callback is not None:
            try:
                self.callback(event)
            except Exception as exc:  # a broken progress display must not stop the sync
                log.warning("progress callback failed: %s", redact(exc))

    def status(self, status: str, error: str | None = None) -> None:
        """The account's status changed ("syncing", "ok", "error")."""
        event: dict[str, Any] = {"type": "account_status", "label": self.label, "status": status}
        if error is not None:
            event["error"] = error
        self.publish(event)

    def new_round(self) -> None:
        """The runs were planned again (a resumed sync is brought up to date): progress restarts at 0."""
        self._start = None

    def measure(self, overall: float, *, resumed: bool) -> float | None:
        """The ETA in seconds at ``overall`` (0..1) done, from the pace of this sync (None before any gain)."""
        if self._start is None:
            self._start = overall if resumed else 0.0
        gained = overall - self._start
        elapsed = time.monotonic() - self.t0
        return elapsed * (1 - overall) / gained if gained > 0 else None

    def page(
        self, overall: float, eta: float | None, *, fills: int, new_fills: int, requests: int,
        covered_from_ms: int | None, covered_to_ms: int | None,
    ) -> None:  # fmt: skip
        """A page was stored."""
        self.publish({
            "type": "sync_progress", "label": self.label, "exchange": self.exchange, "progress": overall,
            "eta_s": eta, "fills": fills, "new_fills": new_fills, "requests": requests,
            "covered_from_ms": covered_from_ms, "covered_to_ms": covered_to_ms,
        })  # fmt: skip

    def done(self, result: Any) -> None:
        """The sync ended (``result``: the account's ``AccountResult``), then the account's status."""
        self.publish({
            "type": "sync_done", "label": self.label, "exchange": self.exchange, "ok": result.ok,
            "new_fills": result.new_fills, "fills": result.fills_seen, "error": result.error,
            "coverage": result.coverage, "covered_from_ms": result.covered_from_ms,
            "covered_to_ms": result.covered_to_ms,
        })  # fmt: skip
        if result.ok:
            self.status("ok")
        elif result.error_kind == "verification":
            self.status("error", result.error)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.t0
