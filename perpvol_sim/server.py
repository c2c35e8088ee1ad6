"""Run a Tornado application (a simulator) on a background thread, for tests, the demo and benches."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, Self

import tornado.httpserver
import tornado.web


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BackgroundServer:
    """Serves ``app`` on ``host:port`` from its own event loop thread. ``start()`` returns the base URL."""

    def __init__(self, app: tornado.web.Application, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "server not started"
        return self._loop

    def start(self) -> str:
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"server on port {self.port} did not start")
        return self.base_url

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

        async def boot() -> None:
            self._server = tornado.httpserver.HTTPServer(self.app, xheaders=False)
            self._server.listen(self.port, address=self.host)
            self._ready.set()

        self._loop.run_until_complete(boot())
        self._loop.run_forever()
        self._loop.close()

    def call_soon(self, fn, *args) -> None:  # noqa: ANN001 - thread-safe hop into the server loop
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.stop()
                await self._server.close_all_connections()

        fut = asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        try:
            fut.result(5)
        except Exception:  # noqa: BLE001, S110 - best effort on shutdown
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)
        self._loop = None

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServedSimulator:
    """What every venue simulator's handle shares: a :class:`BackgroundServer` (``server``) serving a history
    (``history``) from a state that counts 429s (``state``); its URL, start, stop and ``with`` block. A venue
    whose start or stop does more (one follows live fills itself) overrides them."""

    history: Any
    state: Any
    server: BackgroundServer

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def rate_limited(self) -> int:
        """How many requests were answered 429."""
        return int(self.state.rate_limited)

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.history.stop_live()
        self.server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_until_interrupted(self, live: bool) -> int:
        """The end of ``perpvol sim <venue>`` once the simulator is started and described: a live fill every
        5 s when ``live``, then serve until Ctrl-C and stop. The exit code (0)."""
        if live:
            self.history.start_live(5.0)
            print("  live: a new fill every 5 s")
        print("Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return 0
