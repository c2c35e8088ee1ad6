"""The app factory (:func:`make_app`: routes, shared state), the bundle (:class:`ParadexSim`: app + background
server) and the simulator contract (:class:`ParadexDemoVenue`, :func:`demo_venue`)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import jwt as pyjwt
import tornado.web

from perpvol_core.exchanges.paradex import starknet as sa
from perpvol_sim.faults import Faults
from perpvol_sim.history import History
from perpvol_sim.paradex.config import DEMO_ACCOUNT_ADDRESS, DEMO_L2_PRIVATE_KEY, ParadexSimConfig
from perpvol_sim.paradex.handlers import _NotFoundHandler
from perpvol_sim.paradex.handlers_account import (
    AccountHandler,
    AccountHistoryHandler,
    AccountInfoHandler,
    FillsHandler,
    SubaccountsHandler,
    TokenHandler,
    TokensHandler,
)
from perpvol_sim.paradex.handlers_system import (
    AuthHandler,
    JwksHandler,
    MarketsHandler,
    OnboardingHandler,
    SystemConfigHandler,
    SystemStateHandler,
    SystemTimeHandler,
    VolumeTiersHandler,
)
from perpvol_sim.paradex.state import ParadexState
from perpvol_sim.paradex.tokens import AccountRegistry
from perpvol_sim.paradex.ws import _WebSocketHandler
from perpvol_sim.server import BackgroundServer, ServedSimulator


def make_app(
    history: History,
    *,
    accounts: dict[int, Sequence[int]] | None = None,
    primary_account: int | None = None,
    read_only_tokens: Sequence[str] = (),
    faults: Faults | None = None,
    config: ParadexSimConfig | None = None,
    **overrides: Any,
) -> tornado.web.Application:
    """The Paradex simulator as a Tornado app.

    ``accounts`` maps an account address to its public keys (main key first, then subkeys; default:
    the §2.2 demo account). ``primary_account`` owns ``history``'s fills (default: the first account).
    ``read_only_tokens`` names read-only tokens to mint at start (see ``app.settings["paradex"]``).
    Keyword ``overrides`` set :class:`ParadexSimConfig` fields (``jwt_ttl_s=…``, ``auth_error_status=…``).
    The shared state is ``app.settings["paradex"]`` (:class:`ParadexState`).
    """
    config = replace(config or ParadexSimConfig(), **overrides)
    if accounts is None:
        accounts = {DEMO_ACCOUNT_ADDRESS: [sa.public_key_from_private(DEMO_L2_PRIVATE_KEY)]}
    registry = AccountRegistry()
    for address, keys in accounts.items():
        keys = list(keys)
        registry.register(address, keys[0], keys[1:])
    primary = primary_account if primary_account is not None else next(iter(accounts))
    state = ParadexState(history, config, registry, primary, faults)
    for name in read_only_tokens:
        state.minted_tokens[name] = state.mint_read_only_token(primary, name)[0]
    kw = {"state": state}
    routes = [
        (r"/v1/system/config", SystemConfigHandler, kw),
        (r"/v1/system/time", SystemTimeHandler, kw),
        (r"/v1/system/state", SystemStateHandler, kw),
        (r"/v1/system/volume-tiers", VolumeTiersHandler, kw),
        (r"/v1/markets", MarketsHandler, kw),
        (r"/v1/jwks\.json", JwksHandler, kw),
        (r"/jwks\.json", JwksHandler, kw),
        (r"/v1/auth", AuthHandler, kw),
        (r"/v1/auth/(0x[0-9a-fA-F]+)", AuthHandler, kw),
        (r"/v1/onboarding", OnboardingHandler, kw),
        (r"/v1/fills", FillsHandler, kw),
        (r"/v1/account", AccountHandler, kw),
        (r"/v1/account/info", AccountInfoHandler, kw),
        (r"/v1/account/history", AccountHistoryHandler, kw),
        (r"/v1/account/subaccounts", SubaccountsHandler, kw),
        (r"/v1/account/tokens", TokensHandler, kw),
        (r"/v1/account/tokens/([^/]+)", TokenHandler, kw),
        (r"/v1", _WebSocketHandler, kw),
    ]
    return tornado.web.Application(
        routes,
        default_handler_class=_NotFoundHandler,
        default_handler_args=kw,
        paradex=state,
        websocket_ping_interval=config.ws_ping_interval_s or None,
        websocket_ping_timeout=5 if config.ws_ping_interval_s else None,
    )


class ParadexSim(ServedSimulator):
    """History + app + background server. ``start()`` returns the root URL (REST under ``/v1``)."""

    def __init__(
        self,
        history: History | None = None,
        *,
        seed: int = 1,
        n_fills: int = 2000,
        host: str = "127.0.0.1",
        port: int | None = None,
        accounts: dict[int, Sequence[int]] | None = None,
        faults: Faults | None = None,
        config: ParadexSimConfig | None = None,
        **overrides: Any,
    ) -> None:
        if history is None:
            history = History("paradex", seed, n_fills)
        self.history = history
        self.app = make_app(history, accounts=accounts, faults=faults, config=config, **overrides)
        self.state: ParadexState = self.app.settings["paradex"]
        self.server = BackgroundServer(self.app, host=host, port=port)
        self._unsubscribe: Callable[[], Any] | None = None

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> str:
        url = self.server.start()
        self._unsubscribe = self.history.subscribe(self.state.on_live_fill)
        return url

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.server.stop()


    # addresses ------------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """The REST base the exchange documents (``https://api.prod.paradex.trade/v1``)."""
        return self.server.base_url + "/v1"

    @property
    def ws_url(self) -> str:
        return self.server.ws_url + "/v1"

    @property
    def account(self) -> int:
        """The account that owns the history's fills."""
        return self.state.primary_account

    # counters -------------------------------------------------------------------------------------
    @property
    def request_count(self) -> Counter[str]:
        """Requests per route, keyed like ``"GET /v1/fills"``."""
        return self.state.request_count


    # credentials ----------------------------------------------------------------------------------
    def mint_read_only_token(self, name: str = "perpvol", ttl_s: int | None = None, account: int | None = None) -> str:
        return self.state.mint_read_only_token(self.account if account is None else account, name, ttl_s)[0]

    def revoke_token(self, token: str) -> bool:
        """Revoke a read-only token (the token itself, its token_id or lookup_id)."""
        token_id = token
        if token.count(".") == 2:
            token_id = str(pyjwt.decode(token, options={"verify_signature": False}).get("jti", ""))
        return self.state.registry.revoke(token_id, int(self.state.now()))

    def register_account(self, address: int, main_public_key: int, subkeys: Iterable[int] = ()) -> None:
        self.state.registry.register(address, main_public_key, subkeys)

    def register_l2_keys(self, address: int, main_private_key: int, subkey_private_keys: Iterable[int] = ()) -> None:
        """Register an account's L2 main key and subkeys from their private keys."""
        self.register_account(
            address,
            sa.public_key_from_private(main_private_key),
            [sa.public_key_from_private(k) for k in subkey_private_keys],
        )

    def add_subkey(self, address: int, public_key: int) -> None:
        self.state.registry.add_subkey(address, public_key)

    def remove_subkey(self, address: int, public_key: int) -> None:
        self.state.registry.remove_subkey(address, public_key)

    def issue_jwt(self, account: int | None = None) -> str:
        """A JWT as ``POST /auth`` would return it (for tests that do not exercise signing)."""
        return self.state.issue_jwt(self.account if account is None else account)

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock forward (expire JWTs, refill buckets) without sleeping."""
        self.state.clock_offset_s += seconds


def demo_subkey_private_key(seed: int) -> int:
    """A deterministic demo subkey (simulator only)."""
    return sa.grind_key(int.from_bytes(hashlib.sha256(f"perpvol-sim-subkey-{seed}".encode()).digest(), "big"))


class ParadexDemoVenue(ParadexSim):
    """The simulator contract (``perpvol_core/exchanges/_spec.py``): a seeded Paradex plus a read-only token."""

    #: the demo's live pace relative to the first venue's
    live_interval_factor = 1.5

    @property
    def base_url(self) -> str:
        """What an account is added with: the REST base (``…/v1``)."""
        return self.api_url

    def start(self) -> str:
        super().start()
        return self.api_url

    def credentials(self) -> dict[str, str]:
        """A fresh long-lived read-only token of the history's account (simulator credentials)."""
        return {"kind": "paradex_token", "token": self.mint_read_only_token("perpvol-demo")}


def demo_venue(seed: int, n_fills: int, now_ms: int, days: int, port: int | None = None) -> ParadexDemoVenue:
    """A seeded Paradex simulator per the simulator contract, not started (``start()`` returns the REST base)."""
    return ParadexDemoVenue(History("paradex", seed, n_fills, now_ms=now_ms, days=days), port=port)
