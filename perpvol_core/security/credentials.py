"""Typed credentials for each exchange. Secrets are :class:`Secret`; only the vault serializes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perpvol_core.security.redaction import Secret, mask


@dataclass(frozen=True)
class WooxCredentials:
    """A WOO X read-only API key and its secret."""

    api_key: str
    api_secret: Secret
    exchange: str = "woox"

    @property
    def hint(self) -> str:
        return f"key {mask(self.api_key)}"


@dataclass(frozen=True)
class ParadexTokenCredentials:
    """A Paradex read-only token (long-lived JWT, GET only)."""

    token: Secret
    exchange: str = "paradex"

    @property
    def hint(self) -> str:
        return f"read-only token {self.token.hint}"


@dataclass(frozen=True)
class ParadexL2Credentials:
    """A Paradex L2 (Stark) private key, main key or subkey, with the (main) account address."""

    account: str
    l2_key: Secret
    exchange: str = "paradex"

    @property
    def hint(self) -> str:
        return f"L2 key for {self.account[:6]}…{self.account[-4:]}"


Credentials = WooxCredentials | ParadexTokenCredentials | ParadexL2Credentials


def credentials_to_dict(creds: Credentials) -> dict[str, Any]:
    """Plain dict (secrets revealed) for the vault to encrypt; nothing else may call this."""
    if isinstance(creds, WooxCredentials):
        return {"kind": "woox", "api_key": creds.api_key, "api_secret": creds.api_secret.reveal()}
    if isinstance(creds, ParadexTokenCredentials):
        return {"kind": "paradex_token", "token": creds.token.reveal()}
    if isinstance(creds, ParadexL2Credentials):
        return {"kind": "paradex_l2", "account": creds.account, "l2_key": creds.l2_key.reveal()}
    raise TypeError(f"unknown credentials type {type(creds).__name__}")


def credentials_from_dict(data: dict[str, Any]) -> Credentials:
    kind = data.get("kind")
    if kind == "woox":
        return WooxCredentials(api_key=data["api_key"], api_secret=Secret(data["api_secret"]))
    if kind == "paradex_token":
        return ParadexTokenCredentials(token=Secret(data["token"]))
    if kind == "paradex_l2":
        return ParadexL2Credentials(account=data["account"], l2_key=Secret(data["l2_key"]))
    raise ValueError(f"unknown credentials kind {kind!r}")
