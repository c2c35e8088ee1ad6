"""Public and auth routes: ``/v1/system/*``, ``/v1/markets``, ``/v1/jwks.json``, ``POST /v1/auth`` and
``POST /v1/onboarding`` (Starknet-signed headers, §2.3, §2.4)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from perpvol_core.exchanges.paradex import starknet as sa
from perpvol_core.money import plain_decimal
from perpvol_sim.paradex.config import _TABLES, _TESTNET_SYSTEM_CONFIG
from perpvol_sim.paradex.fills import asset_kind_of
from perpvol_sim.paradex.handlers import _Handler


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
