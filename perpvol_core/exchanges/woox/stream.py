"""WOO X private stream (v2 ``/v2/ws/private/stream/{application_id}``): auth message, fill pushes, application id."""

from __future__ import annotations

from typing import Any

from perpvol_core.exchanges._errors import InvalidCredentials, StreamAuthRefused
from perpvol_core.exchanges.woox.rest import ACCOUNT_INFO, WooxConnector, parse_fill, sign, v1_string_to_sign
from perpvol_core.fill import Fill


def auth_message(api_key: str, api_secret: str, timestamp_ms: int, msg_id: str = "auth") -> dict[str, Any]:
    """WOO X v2 ``auth`` event: ``sign`` = hex HMAC-SHA256(secret, ``"|" + timestamp``) (notes §6.1, vector V5)."""
    signature = sign(api_secret, v1_string_to_sign({}, timestamp_ms))
    params = {"apikey": api_key, "sign": signature, "timestamp": str(timestamp_ms)}
    return {"id": msg_id, "event": "auth", "params": params}


def parse_push(message: dict[str, Any]) -> Fill | None:
    """A :class:`Fill` from an ``executionreport`` push, or ``None`` when it is not a fill (``tradeId`` 0).

    Raises KeyError/ValueError/TypeError on a malformed fill push.
    """
    if message.get("topic") != "executionreport":
        return None
    data = message.get("data")
    if not isinstance(data, dict):
        return None
    trade_id = data.get("tradeId")
    if trade_id in (None, 0, "0", ""):
        return None
    row = {
        "id": trade_id,
        "symbol": data["symbol"],
        "executedPrice": data["executedPrice"],
        "executedQuantity": data["executedQuantity"],
        "fee": data.get("fee"),
        "feeAsset": data.get("feeAsset") or data.get("feeCurrency"),
        "side": data.get("side"),
        "isMaker": data.get("maker", data.get("isMaker", False)),
        "executedTimestamp": data.get("timestamp", message.get("ts")),
    }
    return parse_fill(row)


def application_id(creds: Any, base_url: str | None) -> str:
    """The account's WOO X application id (the v2 private stream's path) from ``GET /v3/account/info``.

    Raises StreamAuthRefused when the key is refused or the account names no application id;
    ExchangeError subclasses when WOO X cannot be reached.
    """

    connector = WooxConnector(creds, base_url)
    try:
        payload = connector.request("GET", ACCOUNT_INFO, endpoint=ACCOUNT_INFO)
    except InvalidCredentials as exc:
        raise StreamAuthRefused(str(exc)) from exc
    finally:
        connector.close()
    data = payload.get("data") if isinstance(payload, dict) else None
    app_id = str(data.get("applicationId") or "") if isinstance(data, dict) else ""
    if not app_id:
        raise StreamAuthRefused("WOO X /v3/account/info names no applicationId for the private stream")
    return app_id
