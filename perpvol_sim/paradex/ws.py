"""The private WebSocket (JSON-RPC 2.0, §5): ``auth``, ``subscribe``/``unsubscribe`` to ``fills.*``, live fills."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import tornado.ioloop
import tornado.websocket

from perpvol_sim.history import SimFill
from perpvol_sim.paradex.fills import fill_to_json
from perpvol_sim.paradex.state import ParadexState, Principal, _Reject
from perpvol_sim.paradex.tokens import JwtError


class _WebSocketHandler(tornado.websocket.WebSocketHandler):
    def initialize(self, state: ParadexState) -> None:
        self.state = state
        self.principal: Principal | None = None
        self.channels: set[str] = set()
        self.io_loop = tornado.ioloop.IOLoop.current()

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self) -> None:
        self.state.request_count["WS /v1"] += 1
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.state.add_ws(self)

    def on_close(self) -> None:
        self.state.remove_ws(self)

    def _reply(self, request_id: Any, *, result: Any = None, error: tuple[int, str] | None = None) -> None:
        us_in = time.time_ns() // 1000
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if error is not None:
            message["error"] = {"code": error[0], "message": error[1]}
        else:
            message["result"] = result
            message["usIn"] = us_in
            message["usDiff"] = max(0, time.time_ns() // 1000 - us_in)
        self._send(message)

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.write_message(json.dumps(message, separators=(",", ":")))
        except tornado.websocket.WebSocketClosedError:
            self.state.remove_ws(self)

    def _dropped(self) -> bool:
        """Consult the ``WS_DROP`` fault; on a drop, cut the TCP connection without a close frame."""
        faults = self.state.faults
        if faults is None or not faults.drop_ws():
            return False
        stream = getattr(self.ws_connection, "stream", None)
        if stream is not None:
            stream.close()
        else:
            self.close()
        self.state.remove_ws(self)
        return True

    def on_message(self, message: str | bytes) -> None:
        if self._dropped():
            return
        try:
            request = json.loads(message)
        except (ValueError, json.JSONDecodeError):
            self._reply(None, error=(-32700, "Parse error"))
            return
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or "method" not in request:
            self._reply(request.get("id") if isinstance(request, dict) else None, error=(-32600, "Invalid Request"))
            return
        request_id, method = request.get("id"), request["method"]
        params = request.get("params") or {}
        if not isinstance(params, dict):
            self._reply(request_id, error=(-32602, "Invalid params"))
            return
        handler = {"auth": self._auth, "subscribe": self._subscribe, "unsubscribe": self._unsubscribe}.get(method)
        if handler is None:
            self._reply(request_id, error=(-32601, "Method not found"))
            return
        handler(request_id, params)

    def _auth(self, request_id: Any, params: dict[str, Any]) -> None:
        bearer = params.get("bearer")
        if not isinstance(bearer, str) or not bearer:
            self._reply(request_id, error=(40110, "Malformed Bearer Token"))
            return
        try:
            principal = self.state.authenticate(bearer)
        except (JwtError, _Reject):
            self._reply(request_id, error=(40111, "Invalid Bearer Token"))
            return
        if principal.read_only and not self.state.config.ws_accepts_read_only:
            self._reply(request_id, error=(40111, "Invalid Bearer Token"))
            return
        self.principal = principal
        self._reply(request_id, result={"node_id": uuid.uuid4().hex[:16]})

    def _subscribe(self, request_id: Any, params: dict[str, Any]) -> None:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel.startswith("fills."):
            self._reply(request_id, error=(-32602, "Invalid params: unknown channel"))
            return
        if self.principal is None:
            self._reply(request_id, error=(40110, "Malformed Bearer Token: authenticate first"))
            return
        if channel in self.channels:
            self._reply(request_id, error=(100, f"already subscribed to {channel}"))
            return
        self.channels.add(channel)
        self._reply(request_id, result={"channel": channel})

    def _unsubscribe(self, request_id: Any, params: dict[str, Any]) -> None:
        channel = params.get("channel")
        self.channels.discard(str(channel))
        self._reply(request_id, result={"channel": channel})

    def push_fill(self, fill: SimFill) -> None:
        """Runs on the server loop: one notification per matching subscription."""
        if self.principal is None or not self.state.owns_fills(self.principal.account):
            return
        if not (self.channels & {f"fills.{fill.market}", "fills.ALL"}) or self._dropped():
            return
        for channel in (f"fills.{fill.market}", "fills.ALL"):
            if channel in self.channels:
                data = fill_to_json(fill, self.principal.account, self.state.config)
                self._send({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})
