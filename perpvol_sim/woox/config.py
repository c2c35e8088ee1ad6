"""The WOO X simulator's constants and settings: the demo credentials, the documented error codes and messages
(§5.3), the endpoint keys, the readings' choices, the default rate limits (§5.2) and :class:`WooxSimConfig`
(every UNCONFIRMED point of ``exchanges/woox-api.md`` as a field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# Demo credentials: the public test-vector key and secret of the notes (§2.5) and the application id of
# a recorded response. Simulator-only values; printing them is fine.
DEMO_API_KEY = "AbmyVJGUpN064ks5ELjLfA=="
DEMO_API_SECRET = "QHKRXHPAW1MC9YGZMAT8YDJG2HPR"  # noqa: S105 - public test vector (§2.5)
DEMO_APPLICATION_ID = "251bf5c4-f3c8-4544-bb8b-80001007c3c0"

# Error codes and messages of the documented table (§5.3).
UNKNOWN = -1000
INVALID_SIGNATURE = -1001
UNAUTHORIZED = -1002
TOO_MANY_REQUEST = -1003
UNKNOWN_PARAM = -1004
INVALID_PARAM = -1005
_MESSAGES = {
    UNKNOWN: "An unknown error occurred while processing the request.",
    INVALID_SIGNATURE: "The api key or secret is in wrong format.",
    UNAUTHORIZED: "API key or secret is invalid, it may be because the key has insufficient permission "
    "or the key is expired/revoked.",
    TOO_MANY_REQUEST: "Rate limit exceed.",
    UNKNOWN_PARAM: "An unknown parameter was sent.",
    INVALID_PARAM: "invalid request, please check your request",
}

# Endpoint keys used for counters and rate limits.
EP_TRANSACTION_HISTORY = "transactionHistory"
EP_HIST_TRADES = "hist_trades"
EP_CLIENT_TRADES = "trades"
EP_ACCOUNT_INFO = "account_info"
EP_SYSTEM_INFO = "systemInfo"
EP_INSTRUMENTS = "instruments"
EP_TOKEN = "token"  # noqa: S105 - an endpoint name
EP_TOKEN_NETWORK = "token_network"  # noqa: S105 - an endpoint name
EP_LISTEN_KEY = "listenKey"
EP_TRADING_FEE = "tradingFee"
#: the readings of ``/v3/trade/tradingFee``'s unit (§4, UNCONFIRMED): 5 bps served as "5", "0.05" or "0.0005"
FEE_UNITS = {"bps": Decimal(10_000), "percent": Decimal(100), "fraction": Decimal(1)}

#: the readings of transactionHistory's ``page`` parameter (§9) and of a ``limit`` above the cap
PAGE_MODES = ("honoured", "ignored", "rejected")
LIMIT_OVER_CAP = ("clamp", "reject-1004", "reject-1005")
ALGO_TOPIC = "algoexecutionreportv2"
LISTEN_KEY_TTL_MS = 24 * 3_600_000

#: (requests, window seconds) per endpoint (§5.2); public endpoints are counted per IP.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    EP_TRANSACTION_HISTORY: (2, 1.0),
    EP_HIST_TRADES: (1, 1.0),
    EP_CLIENT_TRADES: (10, 1.0),
    EP_ACCOUNT_INFO: (10, 60.0),
    EP_SYSTEM_INFO: (10, 1.0),
    EP_INSTRUMENTS: (10, 1.0),
    EP_TOKEN: (10, 1.0),
    EP_TOKEN_NETWORK: (10, 1.0),
    EP_LISTEN_KEY: (5, 10.0),
    EP_TRADING_FEE: (2, 1.0),
}


@dataclass
class WooxSimConfig:
    """Every choice the notes leave open, plus credentials. Fields may be changed at runtime."""

    api_key: str = DEMO_API_KEY
    api_secret: str = DEMO_API_SECRET
    application_id: str = DEMO_APPLICATION_ID
    response_format: str = "doc"  # "doc" | "live" (v3 trade rows)
    string_error_codes: bool = False  # error ``code`` as "-1002" instead of -1002 (seen live)
    page_size_cap: int = 500  # transactionHistory max page size (ccxt assumes 500)
    default_page_size: int = 100  # transactionHistory without ``limit`` (live meta showed 100)
    symbol_required: bool = False  # transactionHistory without ``symbol`` → 400 −1005 when True
    from_id_inclusive: bool = True  # transactionHistory ``fromId``
    sort_order: str = "asc"  # "asc" | "desc" by id, transactionHistory and client/trades
    max_span_ms: int | None = None  # transactionHistory endTime − startTime limit (None: unlimited)
    page_mode: str = "honoured"  # "honoured" | "ignored" (always page 1) | "rejected" (−1004), §9
    limit_over_cap: str = "clamp"  # a ``limit`` above ``page_size_cap``: "clamp" | "reject-1004" | "reject-1005"
    meta: bool = True  # transactionHistory answers ``data.meta`` (False: rows only)
    delisted_symbols: tuple[str, ...] = ()  # traded symbols absent from /v3/public/instruments
    listen_key_field: str = "listenKey"  # UNCONFIRMED name of the key in the listenKey answer
    v3_private_stream: bool = True  # False: no listenKey endpoint and no /v3/private (v2 only)
    listen_key_ttl_ms: int = LISTEN_KEY_TTL_MS  # validity of a listenKey (24 h documented)
    hist_trades_from_id_inclusive: bool = True
    hist_trades_default_limit: int = 25
    hist_trades_limit_cap: int = 1000
    client_trades_default_size: int = 25
    client_trades_size_cap: int = 1000
    v3_history_days: int = 730
    client_trades_days: int = 90
    window_anchor_ms: int | None = None  # data windows measured from here instead of the clock
    ts_window_ms: int = 300_000
    stale_timestamp_code: int = UNAUTHORIZED  # UNCONFIRMED: −1002 or −1001
    rate_limits_enabled: bool = True
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    maintenance_status: int = 0  # systemInfo ``status``: 0 ok, 1 trading maintenance, 2 system maintenance
    ws_ping_interval_s: float = 10.0
    ws_max_missed_pongs: int = 10
    #: ``/v3/trade/tradingFee`` rates' unit (a key of FEE_UNITS); None: the endpoint is not served (404)
    fee_unit: str | None = "bps"
