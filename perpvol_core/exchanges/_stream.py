"""The private-stream URL of an account, derived from the REST host it was added with."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from perpvol_core.exchanges import EXCHANGES

#: Path of each exchange's private stream; ``{application_id}`` is filled in for WOO X v2.
WS_PATHS = {"woox": "/v2/ws/private/stream/{application_id}", "paradex": "/v1"}


def ws_url(exchange: str, base_url: str | None, application_id: str | None = None, path: str | None = None) -> str:
    """The private-stream URL for an account's REST ``base_url`` (production hosts map to their WS hosts);
    ``path`` replaces the exchange's default stream path (WOO X v3: ``/v3/private``).

    Raises ValueError for an unknown exchange.
    """
    if exchange not in WS_PATHS:
        raise ValueError(f"no stream for exchange {exchange!r}")
    info = EXCHANGES[exchange]
    path = path or WS_PATHS[exchange].format(application_id=application_id or "perpvol")
    parts = urlsplit((base_url or info.default_base_url).rstrip("/"))
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    host = parts.hostname or ""
    if host in info.hosts:
        return urlunsplit((scheme, info.hosts[host], path, "", ""))
    base_path = parts.path.rstrip("/")
    if exchange == "paradex" and base_path.endswith("/v1"):  # REST base URLs are documented with /v1
        base_path = base_path[: -len("/v1")]
    return urlunsplit((scheme, parts.netloc, base_path + path, "", ""))
