"""The exchanges perpvol reads, in one registry: a third exchange is one more package and one entry here.

Each exchange package holds ``auth`` (request signing as an ``httpx.Auth``), ``rest`` (the connector:
requests, pagination, parsing) and ``stream`` (the private fill stream's URL, handshake messages and
push parsing). Connectors are imported lazily: naming an exchange does not load its signing libraries.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from perpvol_core.exchanges._errors import (
    BadPayload,
    ExchangeError,
    ExchangeUnavailable,
    InvalidCredentials,
    RateLimited,
)
from perpvol_core.exchanges._http import Connector, FillPage, RateLimit


@dataclass(frozen=True)
class ExchangeInfo:
    """What the rest of perpvol needs to know of one exchange."""

    name: str
    display_name: str
    default_base_url: str
    #: REST host -> private WebSocket host, for the documented production and staging hosts.
    ws_hosts: dict[str, str]
    #: "module:Class" of the connector.
    connector: str


EXCHANGES: dict[str, ExchangeInfo] = {
    "woox": ExchangeInfo(
        name="woox",
        display_name="WOO X",
        default_base_url="https://api.woox.io",
        ws_hosts={
            "api.woox.io": "wss.woox.io",
            "api.woo.org": "wss.woo.org",
            "api.staging.woox.io": "wss.staging.woox.io",
            "api.staging.woo.org": "wss.staging.woo.org",
        },
        connector="perpvol_core.exchanges.woox.rest:WooxConnector",
    ),
    "paradex": ExchangeInfo(
        name="paradex",
        display_name="Paradex",
        default_base_url="https://api.prod.paradex.trade",
        ws_hosts={
            "api.prod.paradex.trade": "ws.api.prod.paradex.trade",
            "api.testnet.paradex.trade": "ws.api.testnet.paradex.trade",
        },
        connector="perpvol_core.exchanges.paradex.rest:ParadexConnector",
    ),
}
DEFAULT_BASE_URLS: dict[str, str] = {name: info.default_base_url for name, info in EXCHANGES.items()}


def exchange_info(name: str) -> ExchangeInfo:
    """Raises KeyError for an exchange perpvol does not know."""
    return EXCHANGES[name]


def display_name(name: str) -> str:
    """``"WOO X"`` for ``"woox"``; an unknown name is shown as it is."""
    info = EXCHANGES.get(name)
    return info.display_name if info else name


def make_connector(credentials: Any, base_url: str | None = None, **options: Any) -> Connector:
    """The connector for ``credentials`` (WOO X key, Paradex token or L2 key).

    Raises ValueError for credentials of an exchange perpvol does not know.
    """
    exchange = getattr(credentials, "exchange", None)
    info = EXCHANGES.get(exchange) if isinstance(exchange, str) else None
    if info is None:
        raise ValueError(f"no connector for credentials of {exchange!r}")
    module_name, _, class_name = info.connector.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    connector: Connector = cls(credentials, base_url, **options)
    return connector


__all__ = [
    "DEFAULT_BASE_URLS",
    "EXCHANGES",
    "BadPayload",
    "Connector",
    "ExchangeError",
    "ExchangeInfo",
    "ExchangeUnavailable",
    "FillPage",
    "InvalidCredentials",
    "RateLimit",
    "RateLimited",
    "display_name",
    "exchange_info",
    "make_connector",
]
