"""WOO X private streams (woox-api.md §6, §9): the current v3 ``/v3/private?key=<listenKey>`` with the key from
``POST /v3/account/listenKey`` (24 h), and the v2 ``/v2/ws/private/stream/{application_id}`` fallback; fills of
ordinary orders (``executionreport``) and of algo/stop orders (``algoexecutionreportv2``, ``data`` a list, as
ccxt pro reads it). v3 private topic names and payloads are UNCONFIRMED: the v2 ones are used, and pushes
are parsed whichever shape they take.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from perpvol_core import timeutil
from perpvol_core.exchanges._errors import BadPayload, InvalidCredentials, StreamAuthRefused, StreamProtocolError
from perpvol_core.exchanges._spec import StreamAdapter, StreamConnection, StreamReply, StreamTarget
from perpvol_core.exchanges._stream import await_reply, ws_url
from perpvol_core.exchanges.woox.parse import parse_fill
from perpvol_core.exchanges.woox.rest import (
    ACCOUNT_INFO,
    LISTEN_KEY,
    WooxConnector,
    sign,
    v1_string_to_sign,
)
from perpvol_core.exchanges.woox.spec import SPEC
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import redact, register_secret

log = logging.getLogger(__name__)

FILL_TOPICS = ("executionreport", "algoexecutionreportv2")
LISTEN_KEY_TTL_MS = 24 * 3_600_000
V3_PRIVATE_PATH = "/v3/private"
V2_PRIVATE_PATH = "/v2/ws/private/stream/{application_id}"


def v3_url(base_url: str | None, listen_key: str) -> str:
    """``wss://<ws host of the REST host>/v3/private?key=<listenKey>`` (legacy ``api.woo.org`` included)."""
    return ws_url(SPEC, base_url, V3_PRIVATE_PATH) + f"?key={listen_key}"


def v2_url(base_url: str | None, application_id: str) -> str:
    """``wss://<ws host of the REST host>/v2/ws/private/stream/<application id>``."""
    return ws_url(SPEC, base_url, V2_PRIVATE_PATH.format(application_id=application_id or "perpvol"))


def v3_subscribe_message(msg_id: str = "pv-sub") -> dict[str, Any]:
    """``{"id", "cmd": "SUBSCRIBE", "params": [topics]}`` (the v3 command shape, §6.2)."""
    return {"id": msg_id, "cmd": "SUBSCRIBE", "params": list(FILL_TOPICS)}


def pong_for(message: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a server ping (v2 ``{"event": "ping"}``, v3 ``{"cmd": "PING"}``), None for other messages."""
    if str(message.get("event", "")).lower() == "ping":
        return {"event": "pong", "ts": timeutil.now_ms()}
    if str(message.get("cmd", "")).upper() == "PING":
        return {"cmd": "PONG", "ts": timeutil.now_ms()}
    return None


def new_listen_key(creds: Any, base_url: str | None, **options: Any) -> tuple[str, int]:
    """``POST /v3/account/listenKey`` (body ``{"type": "WEBSOCKET"}``): ``(key, expiry ms)``; a new key expires
    the previous one. The key is registered for redaction (it opens the account's private stream).

    Raises StreamAuthRefused when the key is refused, BadPayload when the server has no such endpoint or
    answers no key, ExchangeError subclasses when WOO X cannot be reached.
    """
    connector = WooxConnector(creds, base_url, **options)
    try:
        payload = connector.request(
            "POST", LISTEN_KEY, content=json.dumps({"type": "WEBSOCKET"}).encode(), endpoint=LISTEN_KEY,
            headers={"Content-Type": "application/json"},
        )
    except InvalidCredentials as exc:
        raise StreamAuthRefused(str(exc)) from exc
    finally:
        connector.close()
    data = payload.get("data") if isinstance(payload, dict) else None
    key: Any = data
    expiry: Any = None
    if isinstance(data, dict):  # the field name is not documented: accept the likely ones
        key = next((data[k] for k in ("listenKey", "authKey", "key", "token") if data.get(k)), None)
        expiry = next((data[k] for k in ("expiredTime", "expireTime", "expiresAt", "expiry") if data.get(k)), None)
    if not isinstance(key, str) or not key:
        raise BadPayload("WOO X /v3/account/listenKey answered no key")
    register_secret(key)
    try:
        expiry_ms = int(str(expiry)) if expiry is not None else 0
    except ValueError:
        expiry_ms = 0
    now = timeutil.now_ms()
    if not now < expiry_ms <= now + 2 * LISTEN_KEY_TTL_MS:
        expiry_ms = now + LISTEN_KEY_TTL_MS
    return key, expiry_ms



def auth_message(api_key: str, api_secret: str, timestamp_ms: int, msg_id: str = "auth") -> dict[str, Any]:
    """WOO X v2 ``auth`` event: ``sign`` = hex HMAC-SHA256(secret, ``"|" + timestamp``) (notes §6.1, vector V5)."""
    signature = sign(api_secret, v1_string_to_sign({}, timestamp_ms))
    params = {"apikey": api_key, "sign": signature, "timestamp": str(timestamp_ms)}
    return {"id": msg_id, "event": "auth", "params": params}


def parse_push(message: dict[str, Any]) -> Fill | None:
    """The first :class:`Fill` of a push (see :func:`parse_fills`), or ``None`` when it carries none.

    Raises KeyError/ValueError/TypeError on a malformed fill push.
    """
    fills = parse_fills(message)
    return fills[0] if fills else None


def parse_fills(message: dict[str, Any]) -> list[Fill]:
    """The fills of an ``executionreport`` push (``data`` one object) or an ``algoexecutionreportv2`` push
    (``data`` a list of order updates); updates with ``tradeId`` 0 or absent are not fills.

    Raises KeyError/ValueError/TypeError on a malformed fill push.
    """
    topic = str(message.get("topic") or "").lower()
    if topic not in FILL_TOPICS:
        return []
    data = message.get("data")
    items = data if isinstance(data, list) else [data]
    fills = []
    for item in items:
        if isinstance(item, dict):
            fill = _push_fill(item, message)
            if fill is not None:
                fills.append(fill)
    return fills


def _push_fill(data: dict[str, Any], message: dict[str, Any]) -> Fill | None:
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


class WooxStream(StreamAdapter):
    """One account's WOO X private stream: v3 with a fresh listenKey (replaced ``listen_key_renew_s`` before it
    expires), and the v2 stream for ``auth_retry_s`` when the host has no v3 stream (404 on connect, no
    listenKey endpoint) or refuses the v3 subscription. Server pings are answered with pongs.

    Options: ``listen_key_renew_s`` (3600), ``auth_retry_s`` (300), ``handshake_timeout_s`` (10),
    ``application_id`` (the v2 path, else read from ``GET /v3/account/info``).
    """

    def __init__(self, credentials: Any, base_url: str | None, **options: Any) -> None:
        super().__init__(credentials, base_url, **options)
        self.listen_key_renew_s = float(options.get("listen_key_renew_s", 3600.0))
        self.fallback_s = float(options.get("auth_retry_s", 300.0))
        self.timeout_s = float(options.get("handshake_timeout_s", 10.0))
        self._app_id: str | None = options.get("application_id")
        self._v2_until = 0.0
        self._kind = ""

    def _fall_back_to_v2(self, why: str) -> None:
        log.info("WOO X stream: using the v2 private stream (%s)", redact(why))
        self._v2_until = time.monotonic() + self.fallback_s

    async def target(self) -> StreamTarget:
        if self._v2_until <= time.monotonic():
            try:
                key, expiry_ms = await asyncio.to_thread(new_listen_key, self.credentials, self.base_url)
            except BadPayload as exc:  # no listenKey endpoint (or no key in the answer): the v2 stream
                self._fall_back_to_v2(f"listenKey: {exc}")
            else:
                left_s = (expiry_ms - timeutil.now_ms()) / 1000
                lead = min(self.listen_key_renew_s, max(1.0, left_s / 2))
                self._kind = "v3"
                return StreamTarget(v3_url(self.base_url, key), time.monotonic() + max(1.0, left_s - lead), "v3")
        if self._app_id is None:
            self._app_id = await asyncio.to_thread(application_id, self.credentials, self.base_url)
        self._kind = "v2"
        return StreamTarget(v2_url(self.base_url, self._app_id), None, "v2")

    def connect_failed(self, status: int | None) -> bool:
        if self._kind != "v3":
            return False
        if status == 404:  # no v3 private stream on this host
            self._fall_back_to_v2("v3 private stream not found")
        return True  # 401: the key was refused or expired; a new one is fetched

    async def handshake(self, conn: StreamConnection) -> None:
        if self._kind == "v3":
            # the listenKey in the URL authenticates; subscribe the fill topics (§6.2 command shape)
            await conn.send_json(v3_subscribe_message("pv-sub"))
            reply = await await_reply(
                conn, lambda m: m.get("id") == "pv-sub" or str(m.get("cmd", "")).upper() == "SUBSCRIBE",
                self.timeout_s, pong_for,
            )  # fmt: skip
            if not reply.get("success"):
                self._fall_back_to_v2("v3 subscribe refused")  # the documented v2 stream instead
                raise StreamProtocolError(f"v3 subscribe refused: {redact(reply.get('errorMsg') or reply)}")
            return
        creds = self.credentials
        await conn.send_json(auth_message(creds.api_key, creds.api_secret.reveal(), timeutil.now_ms(), "pv-auth"))
        reply = await await_reply(conn, lambda m: m.get("event") == "auth", self.timeout_s, pong_for)
        if not reply.get("success"):
            raise StreamAuthRefused(redact(reply.get("errorMsg") or "auth failed"))
        for topic in FILL_TOPICS:  # fills of ordinary orders and of algo/stop orders (as ccxt pro)
            await conn.send_json({"id": f"pv-sub-{topic}", "topic": topic, "event": "subscribe"})
            reply = await await_reply(conn, lambda m: m.get("event") == "subscribe", self.timeout_s, pong_for)
            if not reply.get("success"):
                raise StreamProtocolError(f"subscribe refused: {redact(reply.get('errorMsg') or reply)}")

    def on_message(self, message: Any) -> StreamReply:
        if not isinstance(message, dict):
            return StreamReply()
        pong = pong_for(message)
        if pong is not None:
            return StreamReply(replies=[pong])
        return StreamReply(fills=parse_fills(message))
