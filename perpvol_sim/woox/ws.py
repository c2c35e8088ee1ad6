"""The private WebSockets: the legacy v2 stream ``/v2/ws/private/stream/{application_id}`` (§6.1) and the v3
stream ``/v3/private?key=<listenKey>`` (§6.2), each pushing live fills.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

import tornado.ioloop
import tornado.websocket

from perpvol_sim.history import SimFill
from perpvol_sim.woox.config import ALGO_TOPIC, UNAUTHORIZED
from perpvol_sim.woox.fills import encode_json, fill_push
from perpvol_sim.woox.signing import _TS13, sign
from perpvol_sim.woox.state import WooxState


class _FillStream(tornado.websocket.WebSocketHandler):
    """What both private streams share: the ping timer and missed pongs, drop faults, live fills pushed on the
    connection's own loop to the subscribed topics, and the cleanup on close. A subclass says its ping."""

    def initialize(self, state: WooxState) -> None:
        self.state = state
        self.topics: set[str] = set()
        self.missed_pongs = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._pinger: tornado.ioloop.PeriodicCallback | None = None
        self._loop: tornado.ioloop.IOLoop | None = None

    def check_origin(self, origin: str) -> bool:
        return True

    def _start_pinging(self) -> None:
        self._loop = tornado.ioloop.IOLoop.current()
        self._pinger = tornado.ioloop.PeriodicCallback(self._ping, self.state.config.ws_ping_interval_s * 1000)
        self._pinger.start()

    def _ping_message(self) -> dict[str, Any]:
        raise NotImplementedError

    def _ping(self) -> None:
        if self.missed_pongs >= self.state.config.ws_max_missed_pongs:
            self.close(1000, "ping timeout")
            return
        self.missed_pongs += 1
        self._send(self._ping_message())

    def _send(self, obj: dict[str, Any]) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.state.faults.drop_ws():
            self.close(1001, "dropped")  # going away: a dropped stream
            return
        self.write_message(encode_json(obj).decode())

    def _follow_fills(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.state.history.subscribe(self._on_fill)

    def _on_fill(self, fill: SimFill) -> None:
        # Called from whatever thread added the fill: hop into this connection's loop.
        if self._loop is not None:
            self._loop.add_callback(self._push, fill)

    def _push(self, fill: SimFill) -> None:
        algo = self.state.is_algo(fill)
        if (ALGO_TOPIC if algo else "executionreport") in self.topics:
            self._send(fill_push(fill, algo))

    def on_close(self) -> None:
        if self._pinger is not None:
            self._pinger.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


class PrivateStreamHandler(_FillStream):
    """Legacy v2 private stream (§6.1): auth, subscribe ``executionreport``, ping/pong, fill pushes."""

    def initialize(self, state: WooxState) -> None:
        super().initialize(state)
        self.authed = False

    def open(self, application_id: str) -> None:
        self.state.count("ws_private")
        self.application_id = application_id
        self._start_pinging()

    def _ping_message(self) -> dict[str, Any]:
        return {"event": "ping"}

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = json.loads(message)
        except ValueError:
            self._send({"event": "error", "success": False, "errorMsg": "invalid message"})
            return
        if not isinstance(msg, dict):
            return
        event = msg.get("event")
        msg_id = msg.get("id")
        now = self.state.now_ms()
        if event == "pong":
            self.missed_pongs = 0
        elif event == "ping":
            self._send({"event": "pong", "ts": now})
        elif event == "auth":
            error = self._auth_error(msg.get("params") or {})
            self.authed = error is None
            reply = {"id": msg_id, "event": "auth", "success": self.authed, "ts": now}
            if error:
                reply["errorMsg"] = error
            self._send(reply)
        elif event == "subscribe":
            topic = msg.get("topic")
            if not self.authed:
                self._send(
                    {"id": msg_id, "event": "subscribe", "success": False, "ts": now, "errorMsg": "not authenticated"}
                )
            elif topic not in ("executionreport", ALGO_TOPIC):
                self._send(
                    {
                        "id": msg_id,
                        "event": "subscribe",
                        "success": False,
                        "ts": now,
                        "errorMsg": f"invalid topic {topic}",
                    }
                )
            else:
                self._follow_fills()
                self.topics.add(str(topic))
                self._send({"id": msg_id, "event": "subscribe", "success": True, "ts": now})
        else:
            self._send({"id": msg_id, "event": event, "success": False, "ts": now, "errorMsg": "unknown event"})

    def _auth_error(self, params: dict[str, Any]) -> str | None:
        cfg = self.state.config
        ts = str(params.get("timestamp", ""))
        given = str(params.get("sign", "")).lower()
        if self.state.faults.revoked or str(params.get("apikey", "")) != cfg.api_key:
            return "invalid api key"
        if self.application_id != cfg.application_id:
            return "invalid application id"
        if not _TS13.match(ts) or abs(self.state.now_ms() - int(ts)) > cfg.ts_window_ms:
            return "invalid timestamp"
        if not hmac.compare_digest(sign(cfg.api_secret, "|" + ts), given):
            return "invalid signature"
        return None



class V3PrivateStreamHandler(_FillStream):
    """v3 private stream ``/v3/private?key=<listenKey>`` (§6.2). A bad or expired key: HTTP 401 on the
    upgrade. ``{"id", "cmd": "SUBSCRIBE", "params": [topics]}`` → ``{"id", "cmd": "SUBSCRIBE", "success": true}``;
    ``{"cmd": "PING"}`` every ``ws_ping_interval_s`` (answer ``{"cmd": "PONG"}``); pushes as on v2 (UNCONFIRMED)."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        self.state.count("ws_v3_private")
        key = self.get_query_argument("key", "")
        if not self.state.config.v3_private_stream:
            self.set_status(404)
            self.finish(encode_json({"success": False, "code": -1006, "message": "not found"}))
            return
        if self.state.faults.revoked or not self.state.listen_key_valid(key):
            self.set_status(401)
            self.finish(encode_json({"success": False, "code": UNAUTHORIZED, "message": "invalid listen key"}))
            return
        await super().get(*args, **kwargs)

    def open(self, *args: Any) -> None:
        self._start_pinging()

    def _ping_message(self) -> dict[str, Any]:
        return {"cmd": "PING", "ts": self.state.now_ms()}

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = json.loads(message)
        except ValueError:
            self._send({"success": False, "errorMsg": "invalid message"})
            return
        if not isinstance(msg, dict):
            return
        cmd = str(msg.get("cmd", "")).upper()
        now = self.state.now_ms()
        if cmd == "PONG":
            self.missed_pongs = 0
        elif cmd == "PING":
            self._send({"cmd": "PONG", "ts": now})
        elif cmd in ("SUBSCRIBE", "UNSUBSCRIBE"):
            params = msg.get("params")
            topics = [str(t) for t in params] if isinstance(params, list) else []
            bad = [t for t in topics if t not in ("executionreport", ALGO_TOPIC)]
            if not topics or bad or len(topics) > 20:
                self._send({"id": msg.get("id"), "cmd": cmd, "success": False, "ts": now,
                            "errorMsg": f"invalid topic {bad[0] if bad else topics}"})  # fmt: skip
                return
            if cmd == "SUBSCRIBE":
                self.topics.update(topics)
                self._follow_fills()
            else:
                self.topics.difference_update(topics)
            self._send({"id": msg.get("id"), "cmd": cmd, "success": True, "ts": now})
        else:
            self._send({"id": msg.get("id"), "cmd": cmd, "success": False, "ts": now, "errorMsg": "unknown cmd"})
