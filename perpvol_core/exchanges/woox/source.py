"""What the history walk (``paging``) needs from the connector (``rest``), so the walk never imports the connector:
:class:`HistorySource` (one transactionHistory request, the instrument list, the clock, the page limit, the
account's facts and server profile), the request :class:`Shape`, and :class:`ParamRejected`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from perpvol_core.exchanges._facts import StoredFacts
from perpvol_core.exchanges.woox.parse import HistoryResponse

#: the ``limit`` values tried, largest first, when the server refuses one
LIMIT_LADDER = (500, 200, 100, 50, 25, 10)


class ParamRejected(Exception):
    """transactionHistory refused a parameter (−1004 unknown parameter, −1005 invalid parameter)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Shape:
    """How a transactionHistory request is built."""

    use_page: bool
    limit: int
    need_symbol: bool


class HistorySource(Protocol):
    """The connector, as the walk sees it."""

    clock: Callable[[], float]
    page_limit: int
    facts: StoredFacts | None
    server_profile: dict[str, Any] | None

    def history_page(
        self, lo: int, hi: int, *, symbol: str | None = None, page: int | None = None, limit: int | None = None
    ) -> HistoryResponse:
        """One request for fills in ``[lo, hi]``. Raises ParamRejected, ExchangeError."""
        ...

    def perp_instruments(self) -> list[str]:
        """The current perpetual symbols."""
        ...
