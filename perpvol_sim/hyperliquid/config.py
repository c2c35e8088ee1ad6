"""Every reading the Hyperliquid notes leave open (``hyperliquid-api.md`` §9, forks F1-F27), as one config.

Defaults are the documented or most likely reading. Each field names its fork; :func:`check` refuses a value
outside a fork's readings, so a typo never silently serves the default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: F2: which fills of a window holding more than a page: the earliest N ascending, the latest N ascending,
#: or newest first (the latest N, descending)
WINDOW_PICKS = ("earliest", "latest", "descending")
#: F4: JSON types of ``time``/``oid``/``tid``
NUMBER_STYLES = ("numbers", "strings", "mixed")
#: F5: a window entirely older than the retained fills
OLD_WINDOW = ("empty", "error", "partial")
#: F9: ``tid`` of the maker row of a self-trade: its own, or the taker row's
SELF_TRADE_TIDS = ("unique", "shared")
#: F11: price and ``tid`` of an aggregated row (aggregateByTime)
AGG_PRICES = ("vwap", "last")
AGG_TIDS = ("first", "last", "new")
#: F13: HIP-3 fills in a response without ``dex``: all dexes, core only (``dex`` adds that dex), or per
#: ``dex`` (absent/"" = core and spot, "xyz" = only dex xyz)
HIP3_MODES = ("all", "core", "per_dex")
#: F14: a mixed-case ``user``
MIXED_CASE = ("accepted", "empty", "error")
#: F15: 429 body
RATE_LIMIT_BODIES = ("plain", "json")
#: F16: a malformed request
BAD_REQUESTS = ("422_text", "400_json")
#: F17: the streamed (non-snapshot) userFills message's flag
UPDATE_FLAGS = ("false", "absent")
#: F19: what resets the WebSocket idle timer
IDLE_RESETS = ("any", "ping")
#: F22: spot volume in ``dailyUserVlm`` / portfolio (not at all, once, twice)
SPOT_IN_VLM = ("none", "once", "double")
#: F23: portfolio "day": the last 24 h or the current UTC day
DAY_WINDOWS = ("rolling", "utc")
#: §4.1: ``dailyUserVlm`` ``userCross``/``userAdd``: taker/maker (the notes' strong reading), or another split
#: of the same total (here: by side, buy/sell; the Chainstack "cross-margin"/"isolated" reading cannot be drawn
#: from fills)
DAILY_MEANINGS = ("taker_maker", "other")
#: F24: a delisted perp in ``meta``
DELISTED_IN_META = ("flagged", "absent")

#: each fork field -> its readings
CHOICES = {
    "window_pick": WINDOW_PICKS,
    "number_style": NUMBER_STYLES,
    "old_window": OLD_WINDOW,
    "self_trade_tid": SELF_TRADE_TIDS,
    "agg_price": AGG_PRICES,
    "agg_tid": AGG_TIDS,
    "hip3_mode": HIP3_MODES,
    "mixed_case": MIXED_CASE,
    "rate_limit_body": RATE_LIMIT_BODIES,
    "bad_request": BAD_REQUESTS,
    "update_flag": UPDATE_FLAGS,
    "idle_reset": IDLE_RESETS,
    "daily_spot": SPOT_IN_VLM,
    "portfolio_day": DAY_WINDOWS,
    "daily_meaning": DAILY_MEANINGS,
    "delisted_in_meta": DELISTED_IN_META,
}


@dataclass
class HyperliquidSimConfig:
    """The simulator's readings (fields may be changed at runtime through ``sim.config``)."""

    #: F1: fills per userFillsByTime response (2000 documented for the endpoint, 500 on the general page)
    page_cap: int = 2000
    #: userFills: the newest this many, newest first
    recent_cap: int = 2000
    window_pick: str = "earliest"
    #: F3: ``endTime`` inclusive (True) or exclusive
    end_inclusive: bool = True
    number_style: str = "numbers"
    old_window: str = "empty"
    #: F6: only the newest this many fills are ever served
    retention_cap: int = 10_000
    #: F6: plus a time cap: fills older than this many days are not served (None: count cap only)
    retention_days: int | None = None
    #: F7: spot fills count toward the retention cap
    retention_counts_spot: bool = True
    #: F8: ``fee`` already includes ``builderFee`` (False: the total is fee + builderFee)
    fee_includes_builder: bool = False
    self_trade_tid: str = "unique"
    #: F10: a self-trade shows both rows (maker and taker); False: only the taker row
    self_trade_two_rows: bool = True
    agg_price: str = "vwap"
    agg_tid: str = "first"
    #: F12: the master's fills include its sub-accounts' fills
    master_includes_subs: bool = False
    hip3_mode: str = "all"
    mixed_case: str = "accepted"
    rate_limit_body: str = "plain"
    #: F15: seconds in a ``Retry-After`` header of a 429 (None: no header)
    retry_after_s: int | None = None
    bad_request: str = "422_text"
    update_flag: str = "false"
    #: F18: fills in the WebSocket snapshot (newest first); 0: an empty snapshot
    snapshot_depth: int = 2000
    #: the plain-text frame sent on connect (None: none)
    greeting: str | None = "Websocket connection established."
    #: F19: seconds without a (counting) client message after which the server closes (None: never)
    idle_timeout_s: float | None = 60.0
    idle_reset: str = "any"
    #: F19: the server closes every connection after this many seconds (None: never)
    max_connection_s: float | None = None
    #: F27: simultaneous WebSocket connections (100 documented, 10 in a third-party copy)
    max_connections: int = 100
    #: unique users across user subscriptions per connection
    max_ws_users: int = 10
    #: F21: ``dailyUserVlm`` entries (the last N UTC days)
    daily_days: int = 15
    #: F21: today's entry present (it is the last one)
    daily_today: bool = True
    daily_spot: str = "once"
    #: F22: ``dailyUserVlm`` and portfolio include the sub-accounts' volume
    vlm_includes_subs: bool = True
    portfolio_day: str = "rolling"
    daily_meaning: str = "taker_maker"
    delisted_in_meta: str = "flagged"
    #: REST weight per minute per IP
    weight_limit: int = 1200
    #: F25: extra weight of 1 per 20 fills returned by userFills/userFillsByTime
    extra_weight_per_items: bool = True
    #: not a fork: a UTC day (``YYYY-MM-DD``) whose fills are never served while userFees and portfolio still
    #: count them (a disagreement for the reconciliation's tests)
    withheld_day: str | None = None


def check(config: HyperliquidSimConfig) -> HyperliquidSimConfig:
    """``config`` when every fork holds one of its readings and every number is in range; else ValueError."""
    for name, choices in CHOICES.items():
        if getattr(config, name) not in choices:
            raise ValueError(f"{name} must be one of {choices}, not {getattr(config, name)!r}")
    for name in ("page_cap", "recent_cap", "retention_cap", "weight_limit", "max_connections", "max_ws_users"):
        if not isinstance(getattr(config, name), int) or getattr(config, name) < 1:
            raise ValueError(f"{name} must be a positive integer")
    if not 0 <= config.snapshot_depth <= 100_000 or not 0 <= config.daily_days <= 366:
        raise ValueError("snapshot_depth must be 0..100000 and daily_days 0..366")
    if config.retention_days is not None and config.retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    return config


def option_names() -> frozenset[str]:
    return frozenset(f.name for f in fields(HyperliquidSimConfig))
