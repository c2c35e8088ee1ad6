"""What the fill walks (``paging``, ``dexes``) need from the connector (``rest``), so they never import it."""

from __future__ import annotations

from typing import Any, Protocol

from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress


class FillsSource(Protocol):
    """The connector, as the walks see it."""

    credentials: HyperliquidAddress
    retention_fills: int
    recent_fills: int

    def fills_by_time_rows(self, start_ms: int, end_ms: int, dex: str | None = None) -> list[Any] | None: ...

    def user_fills_rows(self, dex: str | None = None) -> list[Any]: ...

    def perp_dexs(self) -> list[str]: ...

    def has_stored_fills(self) -> bool: ...

    def check_not_empty(self) -> None: ...

    def observed(self, key: str) -> Any: ...

    def observe(self, key: str, value: Any) -> None: ...
