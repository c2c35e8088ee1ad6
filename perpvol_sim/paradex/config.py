"""The Paradex simulator's constants and settings: the demo account, field introduction dates, page sizes,
the testnet system config, the volume-tier tables, :class:`RateLimits` and :class:`ParadexSimConfig` (every
UNCONFIRMED point of ``exchanges/paradex-api.md`` as a field).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from perpvol_core.exchanges.paradex import starknet as sa

# The §2.2 test account (public test data from paradex-py's own tests): the demo's main account.
DEMO_L2_PRIVATE_KEY = 0x543B6CF6C91817A87174AAEA4FB370AC1C694E864D7740D728F8344D53E815
DEMO_ACCOUNT_ADDRESS = 0x129C135ED63DF9353885E292BE4426B8ED6122B13C6C0E1BB787288A1F5ADFA

# Introduction dates of newer fill fields (§3.1, §7.4); fills older than these lack the field.
_DAY_2025_01_02 = 1_735_776_000_000
_DAY_2025_02_05 = 1_738_713_600_000
_DAY_2025_06_05 = 1_749_081_600_000
_DAY_2026_07_22 = 1_784_678_400_000
DEFAULT_FIELD_INTRODUCED_MS: dict[str, int] = {
    "realized_pnl": _DAY_2025_01_02,
    "realized_funding": _DAY_2025_02_05,
    "flags": _DAY_2025_06_05,
    # No date in the notes for these two; they arrive with ``flags`` here (choice).
    "orderbook_seq_no": _DAY_2025_06_05,
    "underlying_price": _DAY_2025_06_05,
}

ASSET_KINDS = ("PERP", "PERP_OPTION", "OPTION", "SPOT")
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 5000

# Testnet system config (§1; the SDK mock = ccxt fixture), with every field paradex-py's SystemConfig requires.
_TESTNET_SYSTEM_CONFIG: dict[str, Any] = {
    "starknet_chain_id": sa.TESTNET_CHAIN_ID,
    "l1_chain_id": "11155111",
    "paraclear_decimals": 8,
    "paraclear_account_proxy_hash": "0x3530cc4759d78042f1b543bf797f5f3d647cde0388c33734cf91b7f7b9314a9",
    "paraclear_account_hash": "0x41cb0280ebadaa75f996d8d92c6f265f6d040bb3ba442e5f86a554f1765244e",
    "paraclear_evm_account_hash": "0x0",
    "paraclear_address": "0x286003f7c7bfc3f94e8f0af48b48302e7aee2fb13c23b141479ba00832ef2c6",
    "oracle_address": "0x2c6a867917ef858d6b193a0ff9e62b46d0dc760366920d631715d58baeaca1f",
    "starknet_fullnode_rpc_url": "https://pathfinder.api.testnet.paradex.trade/rpc/v0.5",
    "starknet_fullnode_rpc_base_url": "https://pathfinder.api.testnet.paradex.trade",
    "starknet_gateway_url": "",
    "block_explorer_url": "https://voyager.testnet.paradex.trade/",
    "environment": "testnet",
    "liquidation_fee": "0.2",
    "partial_liquidation_buffer": "0.2",
    "partial_liquidation_share_increment": "0.05",
    "l1_core_contract_address": "0x582CC5d9b509391232cd544cDF9da036e55833Af",
    "l1_operator_address": "0x11bACdFbBcd3Febe5e8CEAa75E0Ef6444d9B45FB",
    "l1_relayer_address": "0x0",
    "l2_relayer_address": "0x0",
    "universal_deployer_address": "0x0",
    "assets_limit_per_account": 20,
    "dime_staking_contract_address": "0x0",
    "bridged_tokens": [
        {
            "name": "TEST USDC",
            "symbol": "USDC",
            "decimals": 6,
            "l1_token_address": "0x29A873159D5e14AcBd63913D4A7E2df04570c666",
            "l1_bridge_address": "0x8586e05adc0C35aa11609023d4Ae6075Cb813b4C",
            "l2_token_address": "0x6f373b346561036d98ea10fb3e60d2f459c872b1933b50b21fe6ef4fda3b75e",
            "l2_bridge_address": "0x46e9237f5408b5f899e72125dd69bd55485a287aaf24663d3ebe00d237fc7ef",
        }
    ],
}

# /system/volume-tiers (§1, §9): 14-day retail and pro tables; the account's tier follows its 14-day volume.
_VOLUME_TIERS = [
    ("VIP 0", Decimal("0")),
    ("VIP 1", Decimal("100000")),
    ("VIP 2", Decimal("1000000")),
    ("VIP 3", Decimal("10000000")),
    ("VIP 4", Decimal("50000000")),
]
_PRO_TIERS = [
    ("Pro 0", Decimal("0")),
    ("Pro 1", Decimal("5000000")),
    ("Pro 2", Decimal("25000000")),
    ("Pro 3", Decimal("100000000")),
]
_TABLES = {"retail": _VOLUME_TIERS, "pro": _PRO_TIERS}


# ---------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class RateLimits:
    """Token buckets (continuous refill): ``limit`` requests per ``window_s`` seconds (§4.1)."""

    private_get_per_account: int = 600
    per_ip: int = 1500
    auth_per_ip: int = 600
    window_s: float = 60.0


@dataclass(frozen=True)
class ParadexSimConfig:
    """Every behaviour the notes leave open, plus knobs for tests and benches."""

    chain_id: str = sa.TESTNET_CHAIN_ID
    system_config_overrides: dict[str, Any] = field(default_factory=dict)
    #: Lifetime of JWTs issued by ``POST /auth`` (the exchange: 300 s, hard cap).
    jwt_ttl_s: int = 300
    #: Lifetime of read-only tokens minted by the helpers (1 min … 1 year on the exchange).
    read_only_ttl_s: int = 365 * 86_400
    #: HTTP status for a rejected auth signature/timestamp (UNCONFIRMED: 400 or 401).
    auth_error_status: int = 401
    #: HTTP status when a read-only token is used for a non-GET request (UNCONFIRMED: 401 or 403).
    read_only_write_status: int = 401
    #: Allowed |PARADEX-TIMESTAMP − server time| in seconds (UNCONFIRMED).
    timestamp_window_s: int = 300
    #: Longest allowed PARADEX-SIGNATURE-EXPIRATION − PARADEX-TIMESTAMP (spec: max 1 week).
    max_signature_validity_s: int = 7 * 86_400
    #: ``/fills`` order (UNCONFIRMED; assumed like ``/trades``): "newest_first" or "oldest_first".
    sort: str = "newest_first"
    #: Whether ``start_at``/``end_at`` bounds are inclusive (UNCONFIRMED).
    start_inclusive: bool = True
    end_inclusive: bool = True
    #: ``/system/time`` ``server_time`` as a string (spec) or an int (a third-party probe).
    server_time_as_string: bool = True
    #: ``created_at`` of fills as a string (a ccxt fixture) instead of an int (spec).
    created_at_as_string: bool = False
    #: Show ``TRANSFER`` instead of ``UNWIND_TRANSFER`` on fills before 2026-07-22 (UNCONFIRMED).
    legacy_transfer_name: bool = True
    field_introduced_ms: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_FIELD_INTRODUCED_MS))
    #: Whether read-only tokens authenticate a WebSocket (UNCONFIRMED).
    ws_accepts_read_only: bool = True
    #: Seconds between server WebSocket pings (the exchange: 55 s); 0 disables.
    ws_ping_interval_s: float = 55.0
    #: Fills younger than this many ms are not yet in ``/fills`` ("sent to chain for settlement", §7.5, delay
    #: UNCONFIRMED) while ``/account/info`` already counts them.
    fills_delay_ms: int = 0
    #: Fill types ``/account/info`` counts in ``volume_tiers`` (which ones Paradex counts is UNCONFIRMED);
    #: None = the types perpvol counts (design.md).
    volume_fill_types: frozenset[str] | None = None
    #: Window of ``volume_tiers[kind].volume``: "rolling" (the last 14 × 24 h, default) or "utc_days" (the
    #: last 14 whole UTC days including today's part) — the notes give only the 14-day duration.
    volume_window: str = "rolling"
    #: The kinds ``/account/info`` reports in ``volume_tiers`` (which appear is UNCONFIRMED): ("retail",),
    #: ("retail", "pro") or ("pro",); ``fees`` are the first kind's tier rates.
    volume_tier_kinds: tuple[str, ...] = ("retail",)
    #: Granularity of ``/account/history?type=volume`` (UNCONFIRMED): "daily", "hourly" or "cumulative"
    #: (perpvol_sim/paradex/figures.py). The three options below make the figures disagree with the fills.
    volume_series: str = "daily"
    #: A UTC day (``YYYY-MM-DD``) whose fills ``/fills`` never lists while the figures count them.
    withheld_day: str | None = None
    #: The reported figures count spot fills too.
    figures_include_spot: bool = False
    #: Fills of the account's one subaccount (0: none); its volume counts in ``volume_tiers``.
    subaccount_fills: int = 0
    limits: RateLimits = field(default_factory=RateLimits)
    #: Wall clock in seconds; tests pass a controllable one.
    clock: Callable[[], float] = time.time
    issuer: str = "Paradex sim"
