"""A local WOO X exchange (REST + legacy v2 private WebSocket), following ``exchanges/woox-api.md``.

Routes (notes §3, §4, §6.1):

* ``GET /v3/trade/transactionHistory`` — ≤ 2 years back; ``symbol`` (optional unless
  ``symbol_required``), ``startTime``/``endTime`` (ms, both inclusive), ``fromId`` (inclusive unless
  configured), ``page`` (1-based), ``limit`` (page size = min(limit, ``page_size_cap``), default
  ``default_page_size``); answer ``data.rows`` + ``data.meta {total, recordsPerPage, currentPage}``.
  Rows are sorted ascending by id (= by time) unless ``sort_order="desc"``. The readings of §9:
  ``page_mode`` ``"honoured"`` / ``"ignored"`` (every request answers the first page) / ``"rejected"``
  (−1004 unknown parameter); ``limit_over_cap`` ``"clamp"`` (silently) / ``"reject-1004"`` /
  ``"reject-1005"``; ``meta=False`` (no ``meta`` object); ``symbol_required``; ``delisted_symbols``
  (traded, but absent from ``/v3/public/instruments``).
* ``GET /v1/client/hist_trades`` — all time; ``start_t``/``end_t`` required, ``fromId`` cursor
  (inclusive unless configured), ``limit`` (default 25, cap 1000); rows under ``data``, snake_case.
* ``GET /v1/client/trades`` — ≤ 90 days; ``page``/``size``; top-level ``rows`` + snake_case ``meta``.
* ``GET /v3/account/info``, ``GET /v3/public/systemInfo``, ``GET /v3/public/instruments``,
  ``GET /v1/public/token``, ``GET /v1/public/token_network`` (the last two: what ccxt's
  ``load_markets`` asks for).
* WebSocket ``/v2/ws/private/stream/{application_id}``: ``auth`` (sign = HMAC of ``|ts``),
  ``subscribe`` ``executionreport`` / ``algoexecutionreportv2``, server ``ping`` every
  ``ws_ping_interval_s``, one push per new live fill (algo/stop-order fills on ``algoexecutionreportv2``,
  ``data`` a list, as ccxt pro reads it).
* ``POST /v3/account/listenKey`` (body ``{"type": "WEBSOCKET"}``, v3-signed) → ``data.<listen_key_field>``
  and ``data.expiredTime`` (24 h; a new key expires the previous one), and WebSocket
  ``/v3/private?key=<listenKey>`` (§6.2): ``{"id", "cmd": "SUBSCRIBE", "params": [topics]}``, server
  ``{"cmd": "PING"}`` answered by ``{"cmd": "PONG"}``; v3 private topic names and payloads are UNCONFIRMED:
  served as the v2 ones (``executionreport``, ``algoexecutionreportv2``).

Auth (§2): ``/v3/*`` signs ``ts + METHOD + path[?raw query] + body``; ``/v1/*`` signs the sorted
``k=v&…`` params + ``|ts``; hex compared case-insensitively; 13-digit ms timestamp within 300 s of the
simulator's clock (shifted by ``Faults.clock_skew_ms``). Rate limits are sliding windows per
application id per endpoint (public: per IP per endpoint) answered with HTTP 429 / −1003.

Formats: ``"doc"`` (int ms timestamps, string prices and quantities, as the v3 docs) and ``"live"``
(``"1752055173.630"`` string seconds, JSON numbers, as recorded real responses). v1 endpoints always
answer as their docs show (JSON numbers, string-seconds timestamps). Every UNCONFIRMED point of the
notes is a field of :class:`WooxSimConfig`.

Public API: :class:`WooxSimConfig`, :func:`make_app`, :class:`WooxSim`, :func:`cmd_sim`,
:func:`v1_string_to_sign`, :func:`v3_string_to_sign`, :func:`sign`.

* :mod:`.config` — demo credentials, error codes, endpoint keys, the readings' choices, default rate limits,
  :class:`WooxSimConfig`; :mod:`.signing` — HMAC signing, the v1/v3 strings to sign, header format checks.
* :mod:`.fills` — exact-number JSON, the v3/v1 trade rows, the WebSocket pushes, :class:`_FillIndex`;
  :mod:`.limiter` — sliding-window rate limits; :mod:`.state` — :class:`WooxState`, shared by every handler.
* :mod:`.handlers` — the handlers' base, :class:`_ParamError`, the 404 handler; :mod:`.handlers_trades` —
  transactionHistory, hist_trades, client/trades; :mod:`.handlers_account` — account info, tradingFee,
  listenKey; :mod:`.handlers_public` — systemInfo, instruments, token, token_network; :mod:`.ws` — the v2 and
  v3 private WebSockets.
* :mod:`.app` — :func:`make_app`, :class:`WooxSim`, :func:`demo_venue`; :mod:`.cli` — ``perpvol sim woox``.
"""

from __future__ import annotations

# what importers outside the package name (the registry loads demo_venue, cmd_sim and SIM_FLAGS by name)
from perpvol_sim.woox.app import WooxSim, demo_venue  # noqa: F401
from perpvol_sim.woox.cli import SIM_FLAGS, cmd_sim  # noqa: F401
from perpvol_sim.woox.config import DEMO_API_KEY, DEMO_API_SECRET  # noqa: F401
from perpvol_sim.woox.fills import encode_json, execution_report, v1_row, v3_row  # noqa: F401
from perpvol_sim.woox.signing import _v1_candidates, sign, v1_string_to_sign, v3_string_to_sign  # noqa: F401
