"""A local Hyperliquid (``POST /info`` + WebSocket ``/ws``), following ``exchanges/hyperliquid-api.md``.

* :mod:`.info` — ``POST /info``: ``userFills``, ``userFillsByTime``, ``userFees``, ``portfolio``,
  ``userRateLimit``, ``subAccounts``, ``userRole``, ``extraAgents``, ``meta``, ``metaAndAssetCtxs``,
  ``spotMeta``, ``perpDexs``, ``allMids``, ``clearinghouseState``, ``exchangeStatus``; weight limit (:mod:`.limiter`).
* :mod:`.ws` — ``/ws``: ``userFills`` snapshot then live fills, ``userEvents``, ping/pong, idle close.
* :mod:`.wire` — fill objects; :mod:`.served` — which fills are still served (retention);
  :mod:`.account` — volume and fee payloads; :mod:`.market` — metadata.
* :mod:`.config` — every UNCONFIRMED fork (F1-F27) as a field of :class:`HyperliquidSimConfig`;
  :mod:`.cli` — ``perpvol sim hyperliquid`` (:func:`cmd_sim`, ``SIM_FLAGS``).

The history (:mod:`.profile`) mixes core perps, delisted perps, HIP-3 perps (``xyz:TSLA``, ``USDH``) and spot
(``PURR/USDC``, ``@107``); the address is ``0x`` + 40 lowercase hex derived from the seed; an API-wallet
(agent) address and any unknown address read as empty.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import tornado.web

from perpvol_sim.faults import Faults
from perpvol_sim.history import History, SimFill
from perpvol_sim.hyperliquid.cli import SIM_FLAGS
from perpvol_sim.hyperliquid.config import HyperliquidSimConfig, option_names
from perpvol_sim.hyperliquid.info import InfoHandler, NotFoundHandler
from perpvol_sim.hyperliquid.profile import PROFILE
from perpvol_sim.hyperliquid.served import served_fills
from perpvol_sim.hyperliquid.state import HyperliquidState, address_of
from perpvol_sim.hyperliquid.ws import StreamHandler
from perpvol_sim.server import BackgroundServer, ServedSimulator

__all__ = ["SIM_FLAGS", "HyperliquidSim", "HyperliquidSimConfig", "address_of", "cmd_sim", "demo_venue",
           "hyperliquid_history", "make_app"]  # fmt: skip


def hyperliquid_history(
    seed: int, n_fills: int, now_ms: int | None = None, days: int = 730, burst: int = 0
) -> History:
    """A Hyperliquid history; ``burst``: one same-millisecond group of that many fills (F26 "possible" when
    it is larger than the page cap)."""
    venue = dataclasses.replace(PROFILE, burst=burst) if burst else PROFILE
    return History(venue, seed, n_fills, now_ms=now_ms, days=days)


def make_app(state: HyperliquidState) -> tornado.web.Application:
    args = {"state": state}
    return tornado.web.Application(
        [(r"/info", InfoHandler, args), (r"/ws", StreamHandler, args)],
        default_handler_class=NotFoundHandler,
        hyperliquid_state=state,
    )


class HyperliquidSim(ServedSimulator):
    """History + app + background server; ``start()`` returns the base URL (``POST {base}/info``, ``{ws}/ws``).

    ``sub_accounts``: that many sub-accounts of the master, each with its own small history. Options are
    :class:`HyperliquidSimConfig` fields (the forks); ``config`` may be replaced while running.
    """

    #: the demo's live pace relative to the first venue's
    live_interval_factor = 2.0

    def __init__(
        self,
        history: History | None = None,
        *,
        seed: int = 1,
        n_fills: int = 2000,
        now_ms: int | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        faults: Faults | None = None,
        sub_accounts: int = 0,
        config: HyperliquidSimConfig | None = None,
        **options: Any,
    ) -> None:
        unknown = set(options) - option_names()
        if unknown:
            raise TypeError(f"unknown simulator options: {sorted(unknown)}")
        if not 0 <= sub_accounts <= 10:
            raise ValueError("sub_accounts must be 0..10")
        self.history = history or hyperliquid_history(seed, n_fills, now_ms=now_ms)
        seed = self.history.seed
        subs = {
            address_of(seed, f"sub{i}"): History(
                PROFILE, seed * 100 + i, max(10, len(self.history.fills) // 10),
                now_ms=self.history.now_ms, days=self.history.days,
            )
            for i in range(1, sub_accounts + 1)
        }  # fmt: skip
        self.faults = faults or Faults()
        self.address = address_of(seed)
        self.agent_address = address_of(seed, "agent")
        self.state = HyperliquidState(
            self.history, dataclasses.replace(config or HyperliquidSimConfig(), **options), self.faults,
            self.address, self.agent_address, subs,
        )  # fmt: skip
        self.app = make_app(self.state)
        self.server = BackgroundServer(self.app, host=host, port=port)

    @property
    def config(self) -> HyperliquidSimConfig:
        return self.state.config

    def configure(self, **options: Any) -> None:
        """Change readings while running, e.g. ``sim.configure(page_cap=500)``."""
        self.state.config = dataclasses.replace(self.state.config, **options)

    @property
    def sub_addresses(self) -> list[str]:
        return list(self.state.subs)

    @property
    def requests(self) -> Counter[str]:
        return self.state.requests

    @property
    def info_url(self) -> str:
        return self.server.base_url + "/info"

    @property
    def ws_url(self) -> str:
        return self.server.ws_url + "/ws"

    def served_fills(self, address: str | None = None) -> list[SimFill]:
        """The fills the venue still serves for ``address`` (default: the master) under the retention
        readings, ascending: the truth of a sync that starts now."""
        address = (address or self.address).lower()
        history = self.state.histories[address]
        return served_fills(history, self.state.config, self.state.now_ms())

    def credentials(self) -> dict[str, str]:
        return {"kind": "hyperliquid_address", "address": self.address}



#: the demo's history stays within the venue's retention (10,000 fills), with room for live fills: the venue's
#: own all-time figure then covers exactly what perpvol can hold, so the demo's reconciliation agrees
DEMO_MAX_FILLS = 8_000


def demo_venue(seed: int, n_fills: int, now_ms: int, days: int, port: int | None = None) -> HyperliquidSim:
    """The simulator contract (``perpvol_core/exchanges/_spec.py``): a seeded Hyperliquid, not started; at most
    :data:`DEMO_MAX_FILLS` fills."""
    return HyperliquidSim(hyperliquid_history(seed, min(n_fills, DEMO_MAX_FILLS), now_ms=now_ms, days=days), port=port)


def cmd_sim(args: Any) -> int:
    """``perpvol sim hyperliquid`` (see :mod:`perpvol_sim.hyperliquid.cli`)."""
    from perpvol_sim.hyperliquid.cli import run

    return run(args)
