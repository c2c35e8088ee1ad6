"""WebSocket ``/ws`` (``hyperliquid-api.md`` §7): ``userFills`` (snapshot, then streamed fills) and
``userEvents``/``user`` (fills on channel ``"user"``, F20), ``{"method":"ping"}`` -> ``{"channel":"pong"}``.

On connect an optional plain-text greeting. A subscription is acknowledged with ``subscriptionResponse``;
the ``userFills`` snapshot carries ``isSnapshot: true``, later messages ``isSnapshot: false`` or no flag (F17).
The server closes a connection idle for ``idle_timeout_s`` (reset by any client message or only by a ping,
F19), every connection after ``max_connection_s`` (F19), connections past ``max_connections`` (F27), and
refuses more than ``max_ws_users`` users per connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import tornado.ioloop
import tornado.websocket

from perpvol_sim.history import SimFill
from perpvol_sim.hyperliquid.state import ADDRESS, HyperliquidState

_TICK_MS = 100
_USER_TYPES = ("userFills", "userEvents", "user")


class StreamHandler(tornado.websocket.WebSocketHandler):
    def initialize(self, state: HyperliquidState) -> None:
        self.state = state
        self.subscriptions: dict[tuple[str, str], dict[str, Any]] = {}  # (type, user) -> as sent
        self._unsubscribers: dict[str, Callable[[], None]] = {}
        self._loop: tornado.ioloop.IOLoop | None = None
        self._timer: tornado.ioloop.PeriodicCallback | None = None
        self._counted = False
        self._opened = self._last_client = time.monotonic()

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self, *args: Any) -> None:
        state = self.state
        with state.ws_lock:
            if state.ws_connections >= state.config.max_connections:
                self.close(1013, "too many connections")
                return
            state.ws_connections += 1
            self._counted = True
        self._loop = tornado.ioloop.IOLoop.current()
        self._timer = tornado.ioloop.PeriodicCallback(self._tick, _TICK_MS)
        self._timer.start()
        if state.config.greeting is not None:
            self.write_message(state.config.greeting)

    def _tick(self) -> None:
        config = self.state.config
        now = time.monotonic()
        if config.idle_timeout_s is not None and now - self._last_client > config.idle_timeout_s:
            self.close(1000, "idle")
        elif config.max_connection_s is not None and now - self._opened > config.max_connection_s:
            self.close(1000, "scheduled disconnect")

    def _send(self, message: dict[str, Any]) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.state.faults.drop_ws():
            self.close(1001, "dropped")
            return
        self.write_message(json.dumps(message, separators=(",", ":")))

    def _error(self, text: str) -> None:
        self._send({"channel": "error", "data": text})

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = json.loads(message)
        except ValueError:
            self._error(f"Error parsing JSON into valid websocket request: {str(message)[:80]}")
            return
        method = msg.get("method") if isinstance(msg, dict) else None
        if self.state.config.idle_reset == "any" or method == "ping":
            self._last_client = time.monotonic()
        if method == "ping":
            self._send({"channel": "pong"})
        elif method in ("subscribe", "unsubscribe") and isinstance(msg.get("subscription"), dict):
            self._subscription(method, msg["subscription"])
        else:
            self._error(f"Error parsing JSON into valid websocket request: {json.dumps(msg)[:80]}")

    def _subscription(self, method: str, sub: dict[str, Any]) -> None:
        kind, user = sub.get("type"), sub.get("user")
        if kind not in _USER_TYPES or not isinstance(user, str) or not ADDRESS.match(user):
            self._error(f"Invalid subscription {json.dumps(sub)[:120]}")
            return
        key = (str(kind), user.lower())
        if method == "unsubscribe":
            if self.subscriptions.pop(key, None) is None:
                self._error(f"Already unsubscribed: {json.dumps(sub)[:120]}")
                return
            self._send({"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}})
            return
        users = {u for _, u in self.subscriptions} | {key[1]}
        if len(users) > self.state.config.max_ws_users:
            self._error("Cannot track more than 10 total users.")
            return
        if key in self.subscriptions:
            self._error(f"Already subscribed: {json.dumps(sub)[:120]}")
            return
        self.subscriptions[key] = sub
        self._send({"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}})
        address = key[1]
        if kind == "userFills":
            self._send({"channel": "userFills",
                        "data": {"user": address, "isSnapshot": True, "fills": self.state.snapshot(address)}})
        history = self.state.histories.get(address)
        if history is not None and address not in self._unsubscribers:
            self._unsubscribers[address] = history.subscribe(lambda fill: self._from_thread(address, fill))

    def _from_thread(self, address: str, fill: SimFill) -> None:
        if self._loop is not None:
            self._loop.add_callback(self._push, address, fill)

    def _push(self, address: str, fill: SimFill) -> None:
        row = self.state.live_row(address, fill)
        for kind, user in list(self.subscriptions):
            if user != address:
                continue
            if kind == "userFills":
                data: dict[str, Any] = {"user": address, "fills": [row]}
                if self.state.config.update_flag == "false":
                    data["isSnapshot"] = False
                self._send({"channel": "userFills", "data": data})
            else:
                self._send({"channel": "user", "data": {"fills": [row]}})

    def on_close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        for unsubscribe in self._unsubscribers.values():
            unsubscribe()
        self._unsubscribers.clear()
        if self._counted:
            with self.state.ws_lock:
                self.state.ws_connections -= 1
            self._counted = False
