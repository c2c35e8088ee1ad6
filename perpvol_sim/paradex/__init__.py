"""A local Paradex exchange: REST + private WebSocket, following ``exchanges/paradex-api.md``.

Real Starknet auth (SNIP-12 rev-0 typed data, Stark ECDSA verify), real ES384 JWTs with a 300 s lifetime,
long-lived read-only tokens, ``/v1/fills`` with opaque base64-JSON cursors, token-bucket rate limits with
``x-ratelimit-*`` headers, the documented error bodies and a JSON-RPC WebSocket pushing live fills.
Every UNCONFIRMED point of the notes is a field of :class:`ParadexSimConfig`.

Public API: :class:`ParadexSimConfig`, :func:`make_app`, :class:`ParadexSim`, :func:`cmd_sim`.

* :mod:`.config` — constants, tier tables, :class:`RateLimits`, :class:`ParadexSimConfig`;
  :mod:`.limiter` — token buckets; :mod:`.tokens` — JWTs, read-only tokens, the account registry.
* :mod:`.fills` — the fill JSON shape, filters, cursors, :class:`FillBook`; :mod:`.figures` — the reported
  figures (volume series, subaccounts); :mod:`.state` — :class:`ParadexState`, shared by every handler.
* :mod:`.handlers` — the handlers' base; :mod:`.handlers_system` — system, markets, auth and onboarding
  routes; :mod:`.handlers_account` — fills, account and token routes; :mod:`.ws` — the JSON-RPC WebSocket.
* :mod:`.app` — :func:`make_app`, :class:`ParadexSim`, :func:`demo_venue`; :mod:`.cli` — ``perpvol sim paradex``.
"""

from __future__ import annotations

from perpvol_sim.paradex import figures  # noqa: F401  (re-exported: importers read pdx.figures)
from perpvol_sim.paradex.app import (  # noqa: F401  (re-exported: importers name this package)
    ParadexDemoVenue,
    ParadexSim,
    demo_subkey_private_key,
    demo_venue,
    make_app,
)
from perpvol_sim.paradex.cli import SIM_FLAGS, cmd_sim  # noqa: F401  (re-exported: the simulator contract)
from perpvol_sim.paradex.config import (  # noqa: F401  (re-exported: importers name this package)
    ASSET_KINDS,
    DEFAULT_FIELD_INTRODUCED_MS,
    DEMO_ACCOUNT_ADDRESS,
    DEMO_L2_PRIVATE_KEY,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    ParadexSimConfig,
    RateLimits,
)
from perpvol_sim.paradex.fills import (  # noqa: F401  (re-exported: importers name this package)
    FillBook,
    FillFilter,
    asset_kind_of,
    decode_cursor,
    encode_cursor,
    fill_to_json,
)
from perpvol_sim.paradex.handlers_account import (  # noqa: F401  (re-exported: importers name this package)
    AccountHandler,
    AccountHistoryHandler,
    AccountInfoHandler,
    FillsHandler,
    SubaccountsHandler,
    TokenHandler,
    TokensHandler,
)
from perpvol_sim.paradex.handlers_system import (  # noqa: F401  (re-exported: importers name this package)
    AuthHandler,
    JwksHandler,
    MarketsHandler,
    OnboardingHandler,
    SystemConfigHandler,
    SystemStateHandler,
    SystemTimeHandler,
    VolumeTiersHandler,
)
from perpvol_sim.paradex.limiter import RateLimiter  # noqa: F401  (re-exported: importers name this package)
from perpvol_sim.paradex.state import ParadexState, Principal  # noqa: F401  (re-exported: figures types with it)
from perpvol_sim.paradex.tokens import (  # noqa: F401  (re-exported: importers name this package)
    AccountRegistry,
    JwtError,
    JwtExpired,
    JwtIssuer,
    ReadOnlyToken,
)
