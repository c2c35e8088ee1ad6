"""WOO X's own id of an account: the ``applicationId`` of ``GET /v3/account/info``."""

from __future__ import annotations

from typing import Any


def account_identity(connector: Any, credentials: Any) -> str | None:
    """The application id behind the key (one more request), lower-case; None when not given.

    Raises ExchangeError.
    """
    payload = connector.request("GET", "/v3/account/info", endpoint="/v3/account/info")
    data = payload.get("data") if isinstance(payload, dict) else None
    app = data.get("applicationId") if isinstance(data, dict) else None
    return str(app).strip().lower() or None if app is not None else None
