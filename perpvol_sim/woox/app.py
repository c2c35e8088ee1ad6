"""The app factory (:func:`make_app`: options checked, routes, shared state), the bundle (:class:`WooxSim`: app +
background server) and the simulator contract (:class:`WooxDemoVenue`, :func:`demo_venue`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields, replace
from typing import Any

import tornado.web

from perpvol_sim.faults import Faults
from perpvol_sim.history import History, SimFill
from perpvol_sim.server import BackgroundServer, ServedSimulator
from perpvol_sim.woox.config import (
    DEMO_API_KEY,
    DEMO_API_SECRET,
    DEMO_APPLICATION_ID,
    LIMIT_OVER_CAP,
    PAGE_MODES,
    WooxSimConfig,
)
from perpvol_sim.woox.handlers import _NotFound
from perpvol_sim.woox.handlers_account import AccountInfoHandler, ListenKeyHandler, TradingFeeHandler
from perpvol_sim.woox.handlers_public import InstrumentsHandler, SystemInfoHandler, TokenHandler, TokenNetworkHandler
from perpvol_sim.woox.handlers_trades import ClientTradesHandler, HistTradesHandler, TransactionHistoryHandler
from perpvol_sim.woox.state import WooxState
from perpvol_sim.woox.ws import PrivateStreamHandler, V3PrivateStreamHandler


def make_app(
    history: History,
    *,
    api_key: str = DEMO_API_KEY,
    api_secret: str = DEMO_API_SECRET,
    application_id: str = DEMO_APPLICATION_ID,
    response_format: str = "doc",
    string_error_codes: bool = False,
    faults: Faults | None = None,
    page_size_cap: int = 500,
    config: WooxSimConfig | None = None,
    **options: Any,
) -> tornado.web.Application:
    """The simulator's Tornado application. ``options`` are further :class:`WooxSimConfig` fields.

    The shared :class:`WooxState` is ``app.settings["woox_state"]``.
    """
    if response_format not in ("doc", "live"):
        raise ValueError("response_format must be 'doc' or 'live'")
    if options.get("page_mode", "honoured") not in PAGE_MODES:
        raise ValueError(f"page_mode must be one of {PAGE_MODES}")
    if options.get("limit_over_cap", "clamp") not in LIMIT_OVER_CAP:
        raise ValueError(f"limit_over_cap must be one of {LIMIT_OVER_CAP}")
    if options.get("sort_order", "asc") not in ("asc", "desc"):
        raise ValueError("sort_order must be 'asc' or 'desc'")
    known = {f.name for f in fields(WooxSimConfig)}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"unknown simulator options: {sorted(unknown)}")
    config = replace(
        config or WooxSimConfig(),
        api_key=api_key,
        api_secret=api_secret,
        application_id=application_id,
        response_format=response_format,
        string_error_codes=string_error_codes,
        page_size_cap=page_size_cap,
        **options,
    )
    state = WooxState(history, config, faults)
    args = {"state": state}
    return tornado.web.Application(
        [
            (r"/v3/trade/transactionHistory", TransactionHistoryHandler, args),
            (r"/v1/client/hist_trades", HistTradesHandler, args),
            (r"/v1/client/trades", ClientTradesHandler, args),
            (r"/v3/account/info", AccountInfoHandler, args),
            (r"/v3/trade/tradingFee", TradingFeeHandler, args),
            (r"/v3/public/systemInfo", SystemInfoHandler, args),
            (r"/v3/public/instruments", InstrumentsHandler, args),
            (r"/v1/public/token", TokenHandler, args),
            (r"/v1/public/token_network", TokenNetworkHandler, args),
            (r"/v3/account/listenKey", ListenKeyHandler, args),
            (r"/v2/ws/private/stream/([^/]+)", PrivateStreamHandler, args),
            (r"/v3/private", V3PrivateStreamHandler, args),
        ],
        woox_state=state,
        default_handler_class=_NotFound,
        default_handler_args=args,
    )


class WooxSim(ServedSimulator):
    """History + app + background server: ``start()`` returns the base URL (``http://host:port``).

    ``requests`` counts requests per endpoint key, ``rate_limited`` the 429s answered (injected ones
    included); ``config`` and ``faults`` may be changed while running.
    """

    def __init__(
        self,
        history: History | None = None,
        *,
        seed: int = 1,
        n_fills: int = 5000,
        now_ms: int | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        faults: Faults | None = None,
        **app_options: Any,
    ) -> None:
        self.history = history or History("woox", seed, n_fills, now_ms=now_ms)
        self.faults = faults or Faults()
        self.app = make_app(self.history, faults=self.faults, **app_options)
        self.state: WooxState = self.app.settings["woox_state"]
        self.server = BackgroundServer(self.app, host=host, port=port)

    @property
    def config(self) -> WooxSimConfig:
        return self.state.config

    @property
    def requests(self) -> Counter[str]:
        return self.state.requests

    @property
    def ws_private_url(self) -> str:
        return f"{self.server.ws_url}/v2/ws/private/stream/{self.config.application_id}"

    @property
    def ws_v3_private_url(self) -> str:
        """Without the ``?key=<listenKey>`` query (get a key from ``POST /v3/account/listenKey``)."""
        return f"{self.server.ws_url}/v3/private"

    def add_algo_fill(self, **kwargs: Any) -> SimFill:
        """A live fill of an algo/stop order: pushed on ``algoexecutionreportv2``, served by REST as any fill."""
        self.state.next_fills_are_algo(1)
        return self.history.add_live_fill(**kwargs)



class WooxDemoVenue(WooxSim):
    """The simulator contract (``perpvol_core/exchanges/_spec.py``): a seeded WOO X plus its demo credentials."""

    #: the demo's live pace relative to the first venue's (WOO X is the first)
    live_interval_factor = 1.0

    def credentials(self) -> dict[str, str]:
        """The API key and secret the simulator accepts (simulator demo credentials, printing them is fine)."""
        return {"kind": "woox", "api_key": str(self.config.api_key), "api_secret": str(self.config.api_secret)}


def demo_venue(seed: int, n_fills: int, now_ms: int, days: int, port: int | None = None) -> WooxDemoVenue:
    """A seeded WOO X simulator per the simulator contract, not started (``start()`` returns the base URL)."""
    return WooxDemoVenue(History("woox", seed, n_fills, now_ms=now_ms, days=days), port=port)
