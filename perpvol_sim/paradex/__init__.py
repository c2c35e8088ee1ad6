"""A local Paradex exchange: REST + private WebSocket, following ``exchanges/paradex-api.md``.

Real Starknet auth (SNIP-12 rev-0 typed data, Stark ECDSA verify), real ES384 JWTs with a 300 s lifetime,
long-lived read-only tokens, ``/v1/fills`` with opaque base64-JSON cursors, token-bucket rate limits with
``x-ratelimit-*`` headers, the documented error bodies and a JSON-RPC WebSocket pushing live fills.
Every UNCONFIRMED point of the notes is a field of :class:`ParadexSimConfig`.

Public API: :class:`ParadexSimConfig`, :func:`make_app`, :class:`ParadexSim`, :func:`cmd_sim`.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import hashlib
import json
import math
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NoReturn

import jwt as pyjwt
import tornado.ioloop
import tornado.web
import tornado.websocket
from cryptography.hazmat.primitives.asymmetric import ec

from perpvol_core.exchanges.paradex import starknet as sa
from perpvol_core.exchanges.paradex.spec import COUNTED_FILL_TYPES as PARADEX_COUNTED_FILL_TYPES
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.money import plain_decimal
from perpvol_sim.faults import HTML_ERROR, RATE_LIMIT, SERVER_ERROR, STALL, TRUNCATE, Faults
from perpvol_sim.history import History, SimFill
from perpvol_sim.paradex import figures as sim_figures
from perpvol_sim.server import BackgroundServer

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


# ---------------------------------------------------------------------------------------------------
# Rate limiting


class _TokenBucket:
    """Continuous-refill bucket: capacity ``limit``, refilled at ``limit / window_s`` tokens per second."""

    __slots__ = ("limit", "window_s", "tokens", "stamp")

    def __init__(self, limit: int, window_s: float, now: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.tokens = float(limit)
        self.stamp = now

    def _refill(self, now: float) -> None:
        rate = self.limit / self.window_s
        self.tokens = min(float(self.limit), self.tokens + max(0.0, now - self.stamp) * rate)
        self.stamp = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def headers(self, now: float) -> dict[str, str]:
        """``x-ratelimit-*`` values; reset = unix seconds when the next token is available."""
        rate = self.limit / self.window_s
        missing = max(0.0, 1.0 - self.tokens)
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(int(self.tokens)),
            "x-ratelimit-reset": str(math.ceil(now + missing / rate)),
            "x-ratelimit-window": str(int(self.window_s) if float(self.window_s).is_integer() else self.window_s),
        }


class RateLimiter:
    """Named buckets (``("account", addr)``, ``("ip", ip)``, ``("auth", ip)``); thread-safe."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}
        self._lock = threading.Lock()

    def _limit_for(self, kind: str) -> int:
        return {
            "account": self.limits.private_get_per_account,
            "ip": self.limits.per_ip,
            "auth": self.limits.auth_per_ip,
        }[kind]

    def check(self, keys: Sequence[tuple[str, str]], now: float) -> tuple[bool, dict[str, str]]:
        """Take one token from each bucket; returns (allowed, headers of the tightest bucket)."""
        with self._lock:
            buckets = []
            for key in keys:
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = _TokenBucket(self._limit_for(key[0]), self.limits.window_s, now)
                bucket._refill(now)
                buckets.append(bucket)
            empty = [b for b in buckets if b.tokens < 1.0]
            if empty:
                return False, empty[0].headers(now)
            for b in buckets:
                b.take(now)
            tightest = min(buckets, key=lambda b: b.tokens)
            return True, tightest.headers(now)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


# ---------------------------------------------------------------------------------------------------
# JWTs (ES384, like the exchange's example header)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class JwtError(Exception):
    """A bearer token that does not authenticate; ``message`` is the exchange's wording."""


class JwtExpired(JwtError):
    pass


class JwtIssuer:
    """Signs and verifies ES384 JWTs (PyJWT) with a per-simulator P-384 key."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._key = ec.generate_private_key(ec.SECP384R1())
        self.kid = uuid.uuid4().hex[:16]

    def encode(self, claims: dict[str, Any]) -> str:
        return pyjwt.encode(claims, self._key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})

    def decode(self, token: str, now: float) -> dict[str, Any]:
        """Verified claims; raises :class:`JwtExpired` / :class:`JwtError` with the exchange's messages.

        Expiry is checked against ``now`` (the simulator's clock, which tests shift), not the wall clock.
        """
        if len(token.split(".")) != 3:
            raise JwtError("missing or malformed jwt: token contains an invalid number of segments")
        try:
            claims: dict[str, Any] = pyjwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES384"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except pyjwt.InvalidAlgorithmError as exc:
            raise JwtError("missing or malformed jwt: signing method is invalid") from exc
        except pyjwt.InvalidSignatureError as exc:
            raise JwtError("missing or malformed jwt: token signature is invalid") from exc
        except pyjwt.InvalidTokenError as exc:
            raise JwtError("missing or malformed jwt: token is malformed") from exc
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise JwtError("missing or malformed jwt: token has no expiry")
        if now >= exp:
            # Go's duration formatting, as in the recorded body ("token is expired by 9.46872137s").
            raise JwtExpired(f"missing or malformed jwt: token is expired by {_go_seconds(now - exp)}")
        return claims

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "EC",
                    "crv": "P-384",
                    "alg": "ES384",
                    "use": "sig",
                    "kid": self.kid,
                    "x": _b64url(numbers.x.to_bytes(48, "big")),
                    "y": _b64url(numbers.y.to_bytes(48, "big")),
                }
            ]
        }


def _go_seconds(seconds: float) -> str:
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text or '0'}s"


# ---------------------------------------------------------------------------------------------------
# Accounts, keys and tokens


@dataclass
class ReadOnlyToken:
    token_id: str
    lookup_id: str
    account: int
    name: str
    created_at_s: int
    expiry_at_s: int
    revoked_at_s: int | None = None

    def as_api(self) -> dict[str, Any]:
        """``ApiToken`` shape (timestamps documented as ns)."""
        return {
            "token_id": self.token_id,
            "lookup_id": self.lookup_id,
            "name": self.name,
            "kind": "jwt",
            "allowed_cidrs": [],
            "created_at": self.created_at_s * 1_000_000_000,
            "expiry_at": self.expiry_at_s * 1_000_000_000,
            "last_updated_at": self.created_at_s * 1_000_000_000,
            "revoked_at": None if self.revoked_at_s is None else self.revoked_at_s * 1_000_000_000,
        }


class AccountRegistry:
    """Accounts (address → main public key + subkeys) and read-only tokens; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._main_key: dict[int, int] = {}
        self._subkeys: dict[int, set[int]] = {}
        self._tokens: dict[str, ReadOnlyToken] = {}
        self._revoked_jwt_subjects: set[int] = set()

    def register(self, address: int, main_public_key: int, subkeys: Iterable[int] = ()) -> None:
        with self._lock:
            self._main_key[address] = main_public_key
            self._subkeys.setdefault(address, set()).update(subkeys)

    def add_subkey(self, address: int, public_key: int) -> None:
        with self._lock:
            if address not in self._main_key:
                raise KeyError(hex(address))
            self._subkeys[address].add(public_key)

    def remove_subkey(self, address: int, public_key: int) -> None:
        with self._lock:
            self._subkeys.get(address, set()).discard(public_key)

    def is_registered(self, address: int) -> bool:
        with self._lock:
            return address in self._main_key

    def main_key(self, address: int) -> int | None:
        with self._lock:
            return self._main_key.get(address)

    def key_allowed(self, address: int, public_key: int) -> bool:
        with self._lock:
            return self._main_key.get(address) == public_key or public_key in self._subkeys.get(address, set())

    def public_keys(self, address: int) -> list[int]:
        with self._lock:
            main = self._main_key.get(address)
            return ([main] if main is not None else []) + sorted(self._subkeys.get(address, set()))

    def add_token(self, token: ReadOnlyToken) -> None:
        with self._lock:
            self._tokens[token.token_id] = token

    def token(self, token_id: str) -> ReadOnlyToken | None:
        with self._lock:
            return self._tokens.get(token_id)

    def tokens_of(self, address: int) -> list[ReadOnlyToken]:
        with self._lock:
            return [t for t in self._tokens.values() if t.account == address]

    def revoke(self, token_id_or_lookup: str, now_s: int) -> bool:
        with self._lock:
            for t in self._tokens.values():
                if token_id_or_lookup in (t.token_id, t.lookup_id) and t.revoked_at_s is None:
                    t.revoked_at_s = now_s
                    return True
        return False


# ---------------------------------------------------------------------------------------------------
# Fills: JSON shape, filters, cursors


def asset_kind_of(market: str) -> str:
    """PERP (``BTC-USD-PERP``), PERP_OPTION (``BTC-USD-96000-C``), OPTION (dated), SPOT (``ETH-USD``)."""
    parts = market.split("-")
    if market.endswith("-PERP"):
        return "PERP"
    if parts[-1] in ("C", "P"):
        # A dated option carries an expiry part (e.g. BTC-USD-27JUN25-96000-C).
        return "OPTION" if len(parts) >= 5 else "PERP_OPTION"
    return "SPOT"


def _stable_int(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def fill_to_json(fill: SimFill, account: int, config: ParadexSimConfig) -> dict[str, Any]:
    """A history fill as a ``FillResult`` (§3.1), optional fields only after their introduction dates."""
    fill_type = fill.fill_type
    if config.legacy_transfer_name and fill_type == "UNWIND_TRANSFER" and fill.ts_ms < _DAY_2026_07_22:
        fill_type = "TRANSFER"
    result: dict[str, Any] = {
        "id": fill.fill_id,
        "account": hex(account),
        "market": fill.market,
        "side": fill.side,
        "liquidity": fill.liquidity,
        "price": plain_decimal(fill.price),
        "size": plain_decimal(fill.size),
        "fee": plain_decimal(fill.fee),
        "fee_currency": fill.fee_asset,
        "created_at": str(fill.ts_ms) if config.created_at_as_string else fill.ts_ms,
        "order_id": fill.order_id,
        "client_id": "",
        "remaining_size": "0",
        "fill_type": fill_type,
    }
    since = config.field_introduced_ms
    # Deterministic per-fill values so that re-reading a page returns identical bodies.
    seed = _stable_int(fill.fill_id, fill.fill_type)
    trade_like = fill.fill_type in PARADEX_COUNTED_FILL_TYPES
    if fill.ts_ms >= since.get("realized_pnl", 0):
        result["realized_pnl"] = plain_decimal((Decimal(seed % 200_001) - 100_000) / 1000) if trade_like else "0"
    if fill.ts_ms >= since.get("realized_funding", 0):
        result["realized_funding"] = plain_decimal((Decimal(seed % 2_001) - 1_000) / 10_000)
    if fill.ts_ms >= since.get("flags", 0):
        result["flags"] = ["interactive"] if seed % 3 == 0 else (["rpi"] if fill.fill_type == "RPI" else [])
    if fill.ts_ms >= since.get("orderbook_seq_no", 0):
        result["orderbook_seq_no"] = 0 if fill.fill_type in ("LIQUIDATION", "SETTLE_MARKET") else fill.ts_ms * 1000
    if fill.ts_ms >= since.get("underlying_price", 0):
        result["underlying_price"] = plain_decimal(fill.price)
    return result


@dataclass(frozen=True)
class FillFilter:
    market: str | None = None
    asset_kind: str | None = None
    start_at: int | None = None
    end_at: int | None = None

    def as_cursor(self, account: int, limit: int) -> dict[str, Any]:
        return {
            "Market": self.market or "",
            "AssetKind": self.asset_kind or "",
            "Account": hex(account),
            "Limit": limit,
            "StartTime": self.start_at or 0,
            "EndTime": self.end_at or 0,
        }

    @classmethod
    def from_cursor(cls, data: dict[str, Any]) -> FillFilter:
        return cls(
            market=data.get("Market") or None,
            asset_kind=data.get("AssetKind") or None,
            start_at=int(data["StartTime"]) or None,
            end_at=int(data["EndTime"]) or None,
        )


def encode_cursor(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode("ascii")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The cursor's JSON; ValueError when it is not one of ours."""
    try:
        data = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), validate=False))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(data, dict) or "filter" not in data or "marker" not in data:
        raise ValueError("invalid cursor")
    return data


class FillBook:
    """Pages over a :class:`History`'s fills (ascending list, possibly growing at the end)."""

    def __init__(self, history: History) -> None:
        self.history = history
        self._lock = threading.Lock()
        self._ts: list[int] = []

    def _snapshot(self) -> tuple[list[Any], list[int]]:
        """The fills and their timestamps, both cut to the same length (live fills append at the end)."""
        fills = self.history.fills
        with self._lock:
            n = len(fills)
            if len(self._ts) > n:  # the history was replaced or trimmed: rebuild
                self._ts = []
            if len(self._ts) < n:
                self._ts.extend(f.ts_ms for f in fills[len(self._ts) : n])
            return fills, self._ts[:n]

    def _range(self, ts: list[int], flt: FillFilter, config: ParadexSimConfig) -> tuple[int, int]:
        lo, hi = 0, len(ts)
        if flt.start_at is not None:
            lo = (bisect.bisect_left if config.start_inclusive else bisect.bisect_right)(ts, flt.start_at)
        if flt.end_at is not None:
            hi = (bisect.bisect_right if config.end_inclusive else bisect.bisect_left)(ts, flt.end_at)
        return lo, max(lo, hi)

    @staticmethod
    def _locate(fills: list[SimFill], ts: list[int], marker: tuple[int, str, str, int]) -> int:
        """Index of the marker fill (ids repeat across fill types, so the type is part of the marker)."""
        marker_ts, marker_id, marker_type, _ = marker
        i = bisect.bisect_left(ts, marker_ts)
        j = bisect.bisect_right(ts, marker_ts)
        for k in range(i, j):
            if fills[k].fill_id == marker_id and fills[k].fill_type == marker_type:
                return k
        return i

    def page(
        self,
        flt: FillFilter,
        page_size: int,
        config: ParadexSimConfig,
        marker: tuple[int, str, str, int] | None = None,
        visible_until_ms: int | None = None,
    ) -> tuple[list[SimFill], bool, bool]:
        """(fills in response order, more after this page, more before this page).

        ``marker`` = (ts_ms, fill_id, fill_type, direction): direction 0 continues after the marker in response
        order ("next"), 1 goes back towards the first page ("prev").
        """
        fills, ts = self._snapshot()
        lo, hi = self._range(ts, flt, config)
        if visible_until_ms is not None:  # fills not yet settled are not listed
            hi = max(lo, min(hi, bisect.bisect_right(ts, visible_until_ms)))
        newest_first = config.sort != "oldest_first"

        def matches(f: SimFill) -> bool:
            return (flt.market is None or f.market == flt.market) and (
                flt.asset_kind is None or asset_kind_of(f.market) == flt.asset_kind
            ) and not sim_figures.withheld(config, f.ts_ms)

        # Walk in response order: down the ascending list for newest-first, up for oldest-first;
        # a "prev" cursor (direction 1) walks the other way and flips the page back at the end.
        step = -1 if newest_first else 1
        direction = 0 if marker is None else marker[3]
        walk = step if direction == 0 else -step
        if marker is None:
            start = hi - 1 if newest_first else lo
        else:
            start = self._locate(fills, ts, marker) + walk

        picked: list[Any] = []
        i = start
        while lo <= i < hi and len(picked) < page_size:
            if matches(fills[i]):
                picked.append(fills[i])
            i += walk
        more_beyond = any(matches(fills[k]) for k in _range_iter(i, lo, hi, walk))
        if direction == 1:
            picked.reverse()
            # Going back: "beyond" is towards the first page; after this page lies the old marker.
            return picked, True, more_beyond
        more_before = marker is not None
        return picked, more_beyond, more_before


def _range_iter(i: int, lo: int, hi: int, walk: int) -> Iterable[int]:
    return range(i, hi) if walk > 0 else range(i, lo - 1, -1)


# ---------------------------------------------------------------------------------------------------
# Simulator state shared by every handler


@dataclass(frozen=True)
class Principal:
    """Who a bearer token authenticates."""

    account: int
    read_only: bool
    token_id: str | None = None


class ParadexState:
    """Everything the handlers share: history, accounts, tokens, limits, counters, clock, faults."""

    def __init__(
        self,
        history: History,
        config: ParadexSimConfig,
        registry: AccountRegistry,
        primary_account: int,
        faults: Faults | None,
    ) -> None:
        self.history = history
        self.config = config
        self.registry = registry
        self.primary_account = primary_account
        self.faults = faults
        self.book = FillBook(history)
        self.jwt = JwtIssuer(config.issuer)
        self.limiter = RateLimiter(config.limits)
        self.request_count: Counter[str] = Counter()
        self.rate_limited = 0
        self.server_errors = 0
        #: Added to the clock: tests move time forward instead of sleeping.
        self.clock_offset_s = 0.0
        self._ws_lock = threading.Lock()
        self._ws_clients: set[_WebSocketHandler] = set()
        self._markets: list[str] | None = None
        #: Read-only tokens minted at start by name (``make_app(read_only_tokens=[...])``).
        self.minted_tokens: dict[str, str] = {}

    # time -----------------------------------------------------------------------------------------
    def now(self) -> float:
        """Server time in seconds, including the test offset and any injected clock skew."""
        return self.config.clock() + self.clock_offset_s + _fault_clock_skew_s(self.faults)

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # tokens ---------------------------------------------------------------------------------------
    def issue_jwt(self, account: int) -> str:
        """A short-lived JWT as ``POST /auth`` returns: ``exp = iat + jwt_ttl_s``, ``sub`` = account."""
        iat = int(self.now())
        return self.jwt.encode(
            {
                "typ": "at+JWT",
                "iat": iat,
                "exp": iat + self.config.jwt_ttl_s,
                "iss": self.config.issuer,
                "sub": hex(account),
                "jti": uuid.uuid4().hex,
            }
        )

    def mint_read_only_token(self, account: int, name: str = "perpvol", ttl_s: int | None = None) -> tuple[str, str]:
        """A long-lived read-only token (a JWT, GET only); returns (token, token_id)."""
        now = int(self.now())
        record = ReadOnlyToken(
            token_id=uuid.uuid4().hex,
            lookup_id=secrets.token_hex(8),
            account=account,
            name=name,
            created_at_s=now,
            expiry_at_s=now + (self.config.read_only_ttl_s if ttl_s is None else ttl_s),
        )
        self.registry.add_token(record)
        token = self.jwt.encode(
            {
                "typ": "at+JWT",
                "iat": now,
                "exp": record.expiry_at_s,
                "iss": self.config.issuer,
                "sub": hex(account),
                "jti": record.token_id,
                "token_usage": "read_only",
            }
        )
        return token, record.token_id

    def authenticate(self, bearer: str) -> Principal:
        """Verify a bearer token; raises JwtError (message-only 401) or _Reject (enveloped 401)."""
        claims = self.jwt.decode(bearer, self.now())
        account = int(claims.get("sub", "0x0"), 16)
        if _fault_credentials_revoked(self.faults):
            raise _Reject(401, "INVALID_TOKEN", "token has been revoked")
        if claims.get("token_usage") == "read_only":
            record = self.registry.token(str(claims.get("jti")))
            if record is None or record.revoked_at_s is not None:
                raise _Reject(401, "INVALID_TOKEN", "token has been revoked")
            return Principal(account, read_only=True, token_id=record.token_id)
        return Principal(account, read_only=False)

    # fills and markets ----------------------------------------------------------------------------
    def owns_fills(self, account: int) -> bool:
        """Only the primary account owns the history; other registered accounts have no fills."""
        return account == self.primary_account or sim_figures.is_subaccount(self, account)

    def markets(self) -> list[str]:
        if self._markets is None:
            self._markets = sorted({f.market for f in self.history.fills})
        return self._markets

    def counted_notional(self, start_ms: int, end_ms: int, fill_types: Iterable[str] | None = None) -> Decimal:
        """Σ price × size of perp fills of ``fill_types`` (default: counted ones), ``start_ms <= ts < end_ms``."""
        types = PARADEX_COUNTED_FILL_TYPES if fill_types is None else frozenset(fill_types)
        fills, ts = self.book._snapshot()
        lo, hi = bisect.bisect_left(ts, start_ms), bisect.bisect_left(ts, end_ms)
        total = Decimal(0)
        for f in fills[lo:hi]:
            if sim_figures.counts_in_figures(self.config, f.market, f.fill_type, types):
                total += f.price * f.size
        return total

    def volume_window(self) -> tuple[int, int]:
        """``[start, end)`` of the 14-day tier window ``/account/info`` reports, per ``config.volume_window``."""
        now_ms = self.now_ms()
        if self.config.volume_window == "utc_days":
            start = now_ms - now_ms % MS_PER_DAY - 13 * MS_PER_DAY
        else:
            start = now_ms - 14 * MS_PER_DAY
        return start, now_ms + 1

    def visible_until_ms(self) -> int | None:
        """Newest timestamp ``/fills`` lists (``fills_delay_ms``); None = everything."""
        delay = self.config.fills_delay_ms
        return self.now_ms() - delay if delay > 0 else None

    # websocket fan-out ----------------------------------------------------------------------------
    def add_ws(self, client: _WebSocketHandler) -> None:
        with self._ws_lock:
            self._ws_clients.add(client)

    def remove_ws(self, client: _WebSocketHandler) -> None:
        with self._ws_lock:
            self._ws_clients.discard(client)

    def on_live_fill(self, fill: SimFill) -> None:
        """History callback (any thread): hop into each client's loop to push the fill."""
        with self._ws_lock:
            clients = list(self._ws_clients)
        for client in clients:
            client.io_loop.add_callback(client.push_fill, fill)


# ---------------------------------------------------------------------------------------------------
# Faults (the shared perpvol_sim.faults.Faults; None = no faults)


def _fault_clock_skew_s(faults: Faults | None) -> float:
    return 0.0 if faults is None else faults.clock_skew_ms / 1000.0


def _fault_credentials_revoked(faults: Faults | None) -> bool:
    return bool(faults is not None and faults.revoked)


# ---------------------------------------------------------------------------------------------------
# HTTP handlers


class _Reject(Exception):
    """An error response: enveloped ``{"error", "message", "data"}`` (or message-only when code is None)."""

    def __init__(
        self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None, data: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.data = data

    def body(self) -> dict[str, Any]:
        if self.code is None:
            return {"message": self.message}
        return {"error": self.code, "message": self.message, "data": self.data}


class _Handler(tornado.web.RequestHandler):
    """Base: counts, faults, rate limits, bearer auth and JSON/error writing in one place."""

    route = "?"
    #: "public" (IP bucket), "private" (bearer + account bucket on GET), or "auth" (auth bucket).
    access = "public"

    def initialize(self, state: ParadexState) -> None:
        self.state = state
        self.principal: Principal | None = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")

    async def prepare(self) -> None:
        state = self.state
        state.request_count[f"{self.request.method} {self.route}"] += 1
        try:
            await self._apply_faults()
            ip = self.request.remote_ip or "?"
            bucket = "auth" if self.access == "auth" else "ip"
            self._limit([(bucket, ip)])
            if self.access == "private":
                self.principal = self._bearer_principal()
                if self.principal.read_only and self.request.method != "GET":
                    raise _Reject(
                        state.config.read_only_write_status,
                        "INVALID_TOKEN_SCOPE",
                        "read-only token cannot be used for this request",
                    )
                if self.request.method == "GET":
                    self._limit([("account", hex(self.principal.account))])
        except _Reject as rej:
            self._send_reject(rej)
            raise tornado.web.Finish() from None

    async def _apply_faults(self) -> None:
        """The one place a request consults the shared fault configuration (``Faults.pick`` once)."""
        faults = self.state.faults
        if faults is None:
            return
        fault = faults.pick(self.request.path)
        if fault == STALL:
            await asyncio.sleep(faults.stall_s)
        elif fault == RATE_LIMIT:
            self.state.rate_limited += 1
            now = self.state.now()
            limits = self.state.config.limits
            raise _Reject(
                429,
                "RATE_LIMIT_EXCEEDED",
                "rate limit exceeded, retry after x-ratelimit-reset",
                headers={
                    "x-ratelimit-limit": str(limits.per_ip),
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(math.ceil(now + limits.window_s / limits.per_ip)),
                    "x-ratelimit-window": str(int(limits.window_s)),
                },
            )
        elif fault == SERVER_ERROR:
            self.state.server_errors += 1
            if self.state.server_errors % 2:
                raise _Reject(500, "INTERNAL_ERROR", "internal server error")
            raise _Reject(503, "SERVICE_UNAVAILABLE", "request timed out")
        elif fault == HTML_ERROR:
            self.set_status(502)
            self.set_header("Content-Type", "text/html")
            self.finish(faults.html_page())
            raise tornado.web.Finish()
        elif fault == TRUNCATE:
            self._truncate_next = True

    _truncate_next = False

    def _limit(self, keys: list[tuple[str, str]]) -> None:
        allowed, headers = self.state.limiter.check(keys, self.state.now())
        for name, value in headers.items():
            self.set_header(name, value)
        if not allowed:
            self.state.rate_limited += 1
            raise _Reject(429, "RATE_LIMIT_EXCEEDED", "rate limit exceeded, retry after x-ratelimit-reset", headers)

    def _bearer_principal(self) -> Principal:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Reject(401, None, "missing or malformed jwt: missing value in request header")
        try:
            return self.state.authenticate(token.strip())
        except JwtError as exc:
            raise _Reject(401, None, str(exc)) from None

    def _send_reject(self, rej: _Reject) -> None:
        self.clear_header("Content-Type")
        self.set_status(rej.status)
        for name, value in rej.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(rej.body()))

    def reject(self, status: int, code: str | None, message: str) -> NoReturn:
        """Send an error response and stop the handler."""
        self._send_reject(_Reject(status, code, message))
        raise tornado.web.Finish()

    def send_json(self, payload: Any, raw: str | None = None) -> None:
        body = (raw if raw is not None else json.dumps(payload, separators=(",", ":"))).encode()
        if self._truncate_next and self.state.faults is not None:
            body = self.state.faults.truncate(body)
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        code = {404: "NOT_FOUND", 405: "REQUEST_NOT_ALLOWED"}.get(status_code, "INTERNAL_ERROR")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": code, "message": self._reason, "data": None}))

    def query_int(self, name: str) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            self.reject(400, "VALIDATION_ERROR", f"{name} must be an integer")
            raise  # unreachable: reject() raises Finish

    def account_for(self) -> int:
        assert self.principal is not None
        return self.principal.account


class _NotFoundHandler(_Handler):
    route = "*"

    def get(self, *args: Any) -> None:
        self.reject(404, "NOT_FOUND", "not found")

    post = put = delete = get


class SystemConfigHandler(_Handler):
    route = "/v1/system/config"

    def get(self) -> None:
        body = dict(_TESTNET_SYSTEM_CONFIG, starknet_chain_id=self.state.config.chain_id)
        body.update(self.state.config.system_config_overrides)
        self.send_json(body)


class SystemTimeHandler(_Handler):
    route = "/v1/system/time"

    def get(self) -> None:
        now_ms = self.state.now_ms()
        self.send_json({"server_time": str(now_ms) if self.state.config.server_time_as_string else now_ms})


class SystemStateHandler(_Handler):
    route = "/v1/system/state"

    def get(self) -> None:
        self.send_json({"status": "ok"})


def _tier_fee_rates(order: int, kind: str = "retail") -> dict[str, str]:
    if kind == "pro":  # pro: a small maker fee, a lower taker fee
        return {"maker_rate": plain_decimal(Decimal("0.00005") - Decimal("0.00001") * order),
                "taker_rate": plain_decimal(Decimal("0.00025") - Decimal("0.00002") * order)}  # fmt: skip
    return {"maker_rate": "0", "taker_rate": plain_decimal(Decimal("0.0003") - Decimal("0.00002") * order)}


def _tier_of(kind: str, volume: Decimal) -> int:
    return max(i for i, (_name, minimum) in enumerate(_TABLES[kind]) if volume >= minimum)


class VolumeTiersHandler(_Handler):
    route = "/v1/system/volume-tiers"

    def get(self) -> None:
        results = []
        for kind, table in _TABLES.items():
            for order, (name, min_volume) in enumerate(table):
                results.append(
                    {
                        "kind": kind,
                        "tier_name": name,
                        "min_volume": plain_decimal(min_volume),
                        "min_volume_duration": "14d",
                        "nft_min_volume": plain_decimal(min_volume / 2) if kind == "retail" else "0",
                        "sort_order": order,
                        "fee_rates": _tier_fee_rates(order, kind),
                    }
                )
        self.send_json({"results": results})


class MarketsHandler(_Handler):
    route = "/v1/markets"

    def get(self) -> None:
        results = []
        for symbol in self.state.markets():
            parts = symbol.split("-")
            kind = asset_kind_of(symbol)
            market: dict[str, Any] = {
                "symbol": symbol,
                "base_currency": parts[0],
                "quote_currency": parts[1] if len(parts) > 1 else "USD",
                "settlement_currency": "USDC",
                "order_size_increment": "0.0001",
                "price_tick_size": "0.01",
                "min_notional": "10",
                "open_at": 1_700_000_000_000,
                "expiry_at": 0,
                "asset_kind": kind,
                "max_order_size": "1000000",
            }
            if kind in ("PERP_OPTION", "OPTION"):
                market["option_type"] = "CALL" if parts[-1] == "C" else "PUT"
                market["strike_price"] = parts[-2]
                if kind == "OPTION":
                    # Dated options expire; the exact date does not matter to a volume dashboard.
                    market["expiry_at"] = 1_800_000_000_000
            results.append(market)
        self.send_json({"results": results})


class JwksHandler(_Handler):
    route = "/v1/jwks.json"

    def get(self) -> None:
        self.send_json(self.state.jwt.jwks())


class AuthHandler(_Handler):
    """``POST /v1/auth`` and ``POST /v1/auth/{pubkey}``: Stark-signed headers → a 300 s JWT (§2.4)."""

    route = "/v1/auth"
    access = "auth"

    def post(self, pubkey_hex: str | None = None) -> None:
        state = self.state
        status = state.config.auth_error_status
        headers = self.request.headers
        raw_account = headers.get("PARADEX-STARKNET-ACCOUNT")
        raw_signature = headers.get("PARADEX-STARKNET-SIGNATURE")
        raw_ts = headers.get("PARADEX-TIMESTAMP")
        raw_exp = headers.get("PARADEX-SIGNATURE-EXPIRATION")
        if not raw_account or not raw_signature or not raw_ts:
            self.reject(400, "VALIDATION_ERROR", "missing PARADEX-STARKNET-ACCOUNT, -SIGNATURE or -TIMESTAMP header")
        try:
            account = int(raw_account, 16)
        except ValueError:
            self.reject(400, "INVALID_STARKNET_ADDRESS", "invalid starknet account address")
        try:
            timestamp = int(raw_ts)
            # The spec's default signature lifetime when the header is absent: 30 minutes.
            expiration = int(raw_exp) if raw_exp else timestamp + 1800
        except ValueError:
            self.reject(400, "INVALID_TIMESTAMP", "timestamp and expiration must be unix seconds")
        try:
            signature = sa.parse_signature_header(raw_signature)
        except ValueError as exc:
            self.reject(status, "INVALID_STARKNET_SIGNATURE", str(exc))
        now = state.now()
        if abs(timestamp - now) > state.config.timestamp_window_s:
            self.reject(status, "INVALID_TIMESTAMP", f"timestamp {timestamp} is too far from server time {int(now)}")
        if expiration <= now:
            self.reject(status, "INVALID_TIMESTAMP", "signature expired")
        if expiration - timestamp > state.config.max_signature_validity_s:
            self.reject(status, "INVALID_TIMESTAMP", "signature expiration too far in the future")
        if not state.registry.is_registered(account):
            self.reject(400, "NOT_ONBOARDED", "User has never called /onboarding endpoint")
        if pubkey_hex is None:
            public_key = state.registry.main_key(account)
        else:
            public_key = int(pubkey_hex, 16)
            if not state.registry.key_allowed(account, public_key):
                self.reject(status, "INVALID_SUBKEY", "public key is not registered for this account")
        assert public_key is not None
        if not sa.verify_auth(public_key, account, state.config.chain_id, timestamp, expiration, signature):
            self.reject(status, "STARKNET_SIGNATURE_VERIFICATION_FAILED", "starknet signature verification failed")
        self.set_header("Paradigm-Request-Received", str(time.time_ns()))
        self.send_json({"jwt_token": state.issue_jwt(account)})


class OnboardingHandler(_Handler):
    """``POST /v1/onboarding`` (§2.3): registers a Starknet-key account whose address derives from its key."""

    route = "/v1/onboarding"
    access = "auth"

    def post(self) -> None:
        state = self.state
        status = state.config.auth_error_status
        try:
            account = int(self.request.headers.get("PARADEX-STARKNET-ACCOUNT", ""), 16)
            signature = sa.parse_signature_header(self.request.headers.get("PARADEX-STARKNET-SIGNATURE", ""))
            public_key = int(json.loads(self.request.body or b"{}")["public_key"], 16)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            self.reject(400, "VALIDATION_ERROR", "missing or invalid onboarding headers or body")
        config = dict(_TESTNET_SYSTEM_CONFIG, **state.config.system_config_overrides)
        derived = sa.account_address_from_public_key(
            public_key, config["paraclear_account_proxy_hash"], config["paraclear_account_hash"]
        )
        if derived != account:
            self.reject(400, "INVALID_STARKNET_ADDRESS", "account address does not match the public key")
        if not sa.verify_onboarding(public_key, account, state.config.chain_id, signature):
            self.reject(status, "STARKNET_SIGNATURE_VERIFICATION_FAILED", "starknet signature verification failed")
        if not state.registry.is_registered(account):
            state.registry.register(account, public_key)
        self.set_status(200)
        self.finish()


class FillsHandler(_Handler):
    """``GET /v1/fills`` (§3.1): filters, page_size 1..5000, opaque base64-JSON cursors."""

    route = "/v1/fills"
    access = "private"

    def get(self) -> None:
        state = self.state
        page_size = self.query_int("page_size")
        if page_size is None:
            page_size = PAGE_SIZE_DEFAULT
        if not 1 <= page_size <= PAGE_SIZE_MAX:
            self.reject(400, "VALIDATION_ERROR", f"page_size must be between 1 and {PAGE_SIZE_MAX}")
        account = self.account_for()
        cursor = self.get_query_argument("cursor", None)
        marker: tuple[int, str, str, int] | None = None
        initial_marker = None
        if cursor:
            try:
                data = decode_cursor(cursor)
                flt = FillFilter.from_cursor(data["filter"])
                position = data["marker"]
                marker = (
                    int(data["time"]) // 1_000_000,
                    str(position["marker"]),
                    str(position.get("fill_type", "FILL")),
                    int(position["direction"]),
                )
                initial_marker = data.get("initial_marker")
                if data["filter"].get("Account") not in (None, "", hex(account)):
                    raise ValueError("cursor of another account")
            except (ValueError, KeyError, TypeError):
                self.reject(400, "INVALID_REQUEST_PARAMETER", "invalid cursor")
        else:
            asset_kind = self.get_query_argument("asset_kind", None) or None
            if asset_kind is not None and asset_kind not in ASSET_KINDS:
                self.reject(400, "VALIDATION_ERROR", f"asset_kind must be one of {', '.join(ASSET_KINDS)}")
            flt = FillFilter(
                market=self.get_query_argument("market", None) or None,
                asset_kind=asset_kind,
                start_at=self.query_int("start_at"),
                end_at=self.query_int("end_at"),
            )
        if not state.owns_fills(account):
            self.send_json({"next": None, "prev": None, "results": []})
            return
        visible = state.visible_until_ms()
        book = sim_figures.book_for(state, account)
        fills, more_after, more_before = book.page(flt, page_size, state.config, marker, visible)
        if state.faults is not None and state.faults.skip_page(self.request.path):
            # injected fault: silently answer with the page after this one (a pagination bug)
            if fills and more_after:
                last = fills[-1]
                skip_marker = (last.ts_ms, last.fill_id, last.fill_type, 0)
                fills, more_after, _ = book.page(flt, page_size, state.config, skip_marker, visible)
            else:
                fills, more_after = [], False
        if initial_marker is None and fills:
            initial_marker = fills[0].fill_id

        def make_cursor(fill: SimFill, direction: int) -> str:
            return encode_cursor(
                {
                    "filter": flt.as_cursor(account, page_size),
                    "time": fill.ts_ms * 1_000_000,
                    "marker": {"marker": fill.fill_id, "direction": direction, "fill_type": fill.fill_type},
                    "initial_marker": initial_marker,
                }
            )

        self.send_json(
            {
                "next": make_cursor(fills[-1], 0) if fills and more_after else None,
                "prev": make_cursor(fills[0], 1) if fills and more_before else None,
                "results": [fill_to_json(f, account, state.config) for f in fills],
            }
        )


class AccountHandler(_Handler):
    route = "/v1/account"
    access = "private"

    def get(self) -> None:
        account = self.account_for()
        now_ms = self.state.now_ms()
        self.send_json(
            {
                "account": hex(account),
                "account_value": "10000",
                "free_collateral": "9000",
                "initial_margin_requirement": "1000",
                "maintenance_margin_requirement": "500",
                "margin_cushion": "9500",
                "seq_no": now_ms * 1000,
                "settlement_asset": "USDC",
                "status": "ACTIVE",
                "total_collateral": "10000",
                "updated_at": now_ms,
            }
        )


class AccountInfoHandler(_Handler):
    """``volume_tiers`` = counted perp notional of the last 14 days (the tier window of the fees doc)."""

    route = "/v1/account/info"
    access = "private"

    def get(self) -> None:
        state = self.state
        account = self.account_for()
        start, end = state.volume_window()
        volume = (
            state.counted_notional(start, end, state.config.volume_fill_types)
            + sim_figures.subaccount_notional(state, start, end)
            if state.owns_fills(account)
            else Decimal(0)
        )
        kinds = state.config.volume_tier_kinds or ("retail",)
        volume_tiers = {k: {"tier": _TABLES[k][_tier_of(k, volume)][0], "volume": plain_decimal(volume)} for k in kinds}
        fee_rates = _tier_fee_rates(_tier_of(kinds[0], volume), kinds[0])
        self.send_json(
            {
                "results": [
                    {
                        "account": hex(account),
                        "created_at": 1_700_000_000_000,
                        "derivation_path": "",
                        "kind": "main",
                        "parent_account": "",
                        "public_key": hex(state.registry.main_key(account) or 0),
                        "username": "",
                        "isolated_market": "",
                        "has_ecosystem_nft": False,
                        "fees": {**fee_rates, "commission_rate": "0", "discount_rate": "0"},
                        "volume_tiers": volume_tiers,
                    }
                ]
            }
        )


class AccountHistoryHandler(_Handler):
    """``GET /v1/account/history?type=…`` — shape only: 30 daily points (UTC midnights, ms)."""

    route = "/v1/account/history"
    access = "private"
    _TYPES = ("pnl", "value", "volume", "fee_savings")

    def get(self) -> None:
        kind = self.get_query_argument("type", None)
        if kind not in self._TYPES:
            self.reject(400, "VALIDATION_ERROR", f"type must be one of {', '.join(self._TYPES)}")
        state = self.state
        values, days = sim_figures.volume_series(state, self.account_for())
        if kind != "volume" or not state.owns_fills(self.account_for()):
            values = ["0"] * len(days)
        # Numbers (spec) written from Decimal text, never through float.
        self.send_json(None, raw=f'{{"data":[{",".join(values)}],"timestamps":[{",".join(map(str, days))}]}}')


class SubaccountsHandler(_Handler):
    """``GET /v1/account/subaccounts`` (perpvol_sim/paradex/figures.py)."""

    route = "/v1/account/subaccounts"
    access = "private"

    def get(self) -> None:
        self.send_json(sim_figures.subaccounts_answer(self.state, self.account_for()))


class TokensHandler(_Handler):
    """``GET/POST /v1/account/tokens`` (§2.1): list and create read-only tokens."""

    route = "/v1/account/tokens"
    access = "private"

    def get(self) -> None:
        tokens = self.state.registry.tokens_of(self.account_for())
        with_invalid = self.get_query_argument("with_invalid", "false") == "true"
        now = self.state.now()
        self.send_json(
            {
                "results": [
                    t.as_api() for t in tokens if with_invalid or (t.revoked_at_s is None and t.expiry_at_s > now)
                ]
            }
        )

    def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            ttl = int(body.get("expiry_duration", self.state.config.read_only_ttl_s))
        except (ValueError, TypeError, json.JSONDecodeError):
            self.reject(400, "VALIDATION_ERROR", "invalid body")
        if not 60 <= ttl <= 365 * 86_400:
            self.reject(400, "VALIDATION_ERROR", "expiry_duration must be between 60 s and 1 year")
        token, token_id = self.state.mint_read_only_token(self.account_for(), str(body.get("name", "token")), ttl)
        record = self.state.registry.token(token_id)
        assert record is not None
        self.send_json({"token": token, "api_token": record.as_api()})


class TokenHandler(_Handler):
    route = "/v1/account/tokens/{lookup_id}"
    access = "private"

    def delete(self, lookup_id: str) -> None:
        owned = {t.lookup_id for t in self.state.registry.tokens_of(self.account_for())}
        if lookup_id not in owned or not self.state.registry.revoke(lookup_id, int(self.state.now())):
            self.reject(404, "NOT_FOUND", "token not found")
        self.send_json({})


# ---------------------------------------------------------------------------------------------------
# WebSocket (JSON-RPC 2.0, §5)


class _WebSocketHandler(tornado.websocket.WebSocketHandler):
    def initialize(self, state: ParadexState) -> None:
        self.state = state
        self.principal: Principal | None = None
        self.channels: set[str] = set()
        self.io_loop = tornado.ioloop.IOLoop.current()

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self) -> None:
        self.state.request_count["WS /v1"] += 1
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.state.add_ws(self)

    def on_close(self) -> None:
        self.state.remove_ws(self)

    def _reply(self, request_id: Any, *, result: Any = None, error: tuple[int, str] | None = None) -> None:
        us_in = time.time_ns() // 1000
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if error is not None:
            message["error"] = {"code": error[0], "message": error[1]}
        else:
            message["result"] = result
            message["usIn"] = us_in
            message["usDiff"] = max(0, time.time_ns() // 1000 - us_in)
        self._send(message)

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.write_message(json.dumps(message, separators=(",", ":")))
        except tornado.websocket.WebSocketClosedError:
            self.state.remove_ws(self)

    def _dropped(self) -> bool:
        """Consult the ``WS_DROP`` fault; on a drop, cut the TCP connection without a close frame."""
        faults = self.state.faults
        if faults is None or not faults.drop_ws():
            return False
        stream = getattr(self.ws_connection, "stream", None)
        if stream is not None:
            stream.close()
        else:
            self.close()
        self.state.remove_ws(self)
        return True

    def on_message(self, message: str | bytes) -> None:
        if self._dropped():
            return
        try:
            request = json.loads(message)
        except (ValueError, json.JSONDecodeError):
            self._reply(None, error=(-32700, "Parse error"))
            return
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or "method" not in request:
            self._reply(request.get("id") if isinstance(request, dict) else None, error=(-32600, "Invalid Request"))
            return
        request_id, method = request.get("id"), request["method"]
        params = request.get("params") or {}
        if not isinstance(params, dict):
            self._reply(request_id, error=(-32602, "Invalid params"))
            return
        handler = {"auth": self._auth, "subscribe": self._subscribe, "unsubscribe": self._unsubscribe}.get(method)
        if handler is None:
            self._reply(request_id, error=(-32601, "Method not found"))
            return
        handler(request_id, params)

    def _auth(self, request_id: Any, params: dict[str, Any]) -> None:
        bearer = params.get("bearer")
        if not isinstance(bearer, str) or not bearer:
            self._reply(request_id, error=(40110, "Malformed Bearer Token"))
            return
        try:
            principal = self.state.authenticate(bearer)
        except (JwtError, _Reject):
            self._reply(request_id, error=(40111, "Invalid Bearer Token"))
            return
        if principal.read_only and not self.state.config.ws_accepts_read_only:
            self._reply(request_id, error=(40111, "Invalid Bearer Token"))
            return
        self.principal = principal
        self._reply(request_id, result={"node_id": uuid.uuid4().hex[:16]})

    def _subscribe(self, request_id: Any, params: dict[str, Any]) -> None:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel.startswith("fills."):
            self._reply(request_id, error=(-32602, "Invalid params: unknown channel"))
            return
        if self.principal is None:
            self._reply(request_id, error=(40110, "Malformed Bearer Token: authenticate first"))
            return
        if channel in self.channels:
            self._reply(request_id, error=(100, f"already subscribed to {channel}"))
            return
        self.channels.add(channel)
        self._reply(request_id, result={"channel": channel})

    def _unsubscribe(self, request_id: Any, params: dict[str, Any]) -> None:
        channel = params.get("channel")
        self.channels.discard(str(channel))
        self._reply(request_id, result={"channel": channel})

    def push_fill(self, fill: SimFill) -> None:
        """Runs on the server loop: one notification per matching subscription."""
        if self.principal is None or not self.state.owns_fills(self.principal.account):
            return
        if not (self.channels & {f"fills.{fill.market}", "fills.ALL"}) or self._dropped():
            return
        for channel in (f"fills.{fill.market}", "fills.ALL"):
            if channel in self.channels:
                data = fill_to_json(fill, self.principal.account, self.state.config)
                self._send({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})


# ---------------------------------------------------------------------------------------------------
# App factory, bundle, CLI


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


class ParadexSim:
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

    def __enter__(self) -> ParadexSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses ------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.server.base_url

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

    @property
    def rate_limited(self) -> int:
        """How many requests were answered 429."""
        return self.state.rate_limited

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


#: ``perpvol sim paradex`` flags (the reported figures' readings and disagreements)
SIM_FLAGS = sim_figures.SIM_FLAGS


def demo_subkey_private_key(seed: int) -> int:
    """A deterministic demo subkey (simulator only)."""
    return sa.grind_key(int.from_bytes(hashlib.sha256(f"perpvol-sim-subkey-{seed}".encode()).digest(), "big"))


def cmd_sim(args: Any) -> int:
    """``perpvol sim paradex --port P [--seed N] [--fills N] [--live]``: serve until Ctrl-C."""
    history = History("paradex", args.seed, args.fills)
    subkey = demo_subkey_private_key(args.seed)
    sim = ParadexSim(history, host=getattr(args, "host", "127.0.0.1"), port=args.port,
                     **sim_figures.options_of(args))  # fmt: skip
    sim.add_subkey(sim.account, sa.public_key_from_private(subkey))
    sim.start()
    token = sim.mint_read_only_token("demo")
    if getattr(args, "live", False):
        history.start_live(5.0)
    # Simulator credentials only (the main key is paradex-py's public test key): fine to print.
    print(f"Paradex simulator on {sim.base_url}  (REST {sim.api_url}, WebSocket {sim.ws_url})")
    print(f"account address : {hex(sim.account)}")
    print(f"L2 main key     : {hex(DEMO_L2_PRIVATE_KEY)}")
    print(f"L2 subkey       : {hex(subkey)}  (POST /v1/auth/{hex(sa.public_key_from_private(subkey))})")
    print(f"read-only token : {token}")
    if sim_figures.subaccount_history(sim.state) is not None:
        print(f"subaccount      : {hex(sim_figures.SUBACCOUNT_ADDRESS)}  "
              f"(read-only token {sim_figures.subaccount_token(sim.state, 'demo-sub')})")
    if sim_figures.options_of(args):
        print(f"figures         : {sim_figures.options_of(args)}")
    print(f"fills           : {len(history.fills)}  (seed {args.seed})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if getattr(args, "live", False):
            history.stop_live()
        sim.stop()
    return 0


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
