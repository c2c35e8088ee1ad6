"""A local Paradex exchange: REST + private WebSocket, following ``exchanges/paradex-api.md``.

Real Starknet auth (SNIP-12 rev-0 typed data, Stark ECDSA verify), real ES384 JWTs with a 300 s lifetime,
long-lived read-only tokens, ``/v1/fills`` with opaque base64-JSON cursors, token-bucket rate limits with
``x-ratelimit-*`` headers, the documented error bodies and a JSON-RPC WebSocket pushing live fills.
Every UNCONFIRMED point of the notes is a field of :class:`ParadexSimConfig`.

Public API: :class:`ParadexSimConfig`, :class:`ParadexSim`, :func:`demo_venue`, :func:`cmd_sim` (``.app.make_app``).

* :mod:`.config` — constants, tier tables, :class:`RateLimits`, :class:`ParadexSimConfig`;
  :mod:`.limiter` — token buckets; :mod:`.tokens` — JWTs, read-only tokens, the account registry.
* :mod:`.fills` — the fill JSON shape, filters, cursors, :class:`FillBook`; :mod:`.figures` — the reported
  figures (volume series, subaccounts); :mod:`.state` — :class:`ParadexState`, shared by every handler.
* :mod:`.handlers` — the handlers' base; :mod:`.handlers_system` — system, markets, auth and onboarding
  routes; :mod:`.handlers_account` — fills, account and token routes; :mod:`.ws` — the JSON-RPC WebSocket.
* :mod:`.app` — :func:`make_app`, :class:`ParadexSim`, :func:`demo_venue`; :mod:`.cli` — ``perpvol sim paradex``.
"""

from __future__ import annotations

# what importers outside the package name (the registry loads demo_venue, cmd_sim and SIM_FLAGS by name;
# figures.py types with ParadexState and reads FillBook through the package)
from perpvol_sim.paradex import figures  # noqa: F401
from perpvol_sim.paradex.app import ParadexDemoVenue, ParadexSim, demo_subkey_private_key, demo_venue  # noqa: F401
from perpvol_sim.paradex.cli import SIM_FLAGS, cmd_sim  # noqa: F401
from perpvol_sim.paradex.config import (  # noqa: F401
    DEMO_ACCOUNT_ADDRESS,
    DEMO_L2_PRIVATE_KEY,
    ParadexSimConfig,
    RateLimits,
)
from perpvol_sim.paradex.fills import FillBook, asset_kind_of, fill_to_json  # noqa: F401
from perpvol_sim.paradex.state import ParadexState  # noqa: F401
from perpvol_sim.paradex.tokens import JwtError, JwtExpired, JwtIssuer  # noqa: F401
