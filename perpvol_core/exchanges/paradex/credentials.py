"""Paradex credentials: a read-only token (kind ``paradex_token``), or an L2 (Stark) private key with the
account address (kind ``paradex_l2``; a subkey is an L2 key used with its MAIN account's address)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from perpvol_core.security.credentials import CredentialModel, SecretText, check_hex, check_secret, stored

_TOKEN_MAX = 16384
_L2_KEY_MAX = 70


class ParadexTokenCredentials(CredentialModel):
    """A Paradex read-only token (long-lived JWT, GET only)."""

    exchange: ClassVar[str] = "paradex"
    summary: ClassVar[str] = "a Paradex read-only token"
    kind: Literal["paradex_token"] = "paradex_token"
    token: SecretText = Field(title="Paradex read-only token", description="a read-only token (JWT) of the account")

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretText, info: ValidationInfo) -> SecretText:
        return value if stored(info) else check_secret(value, "Paradex read-only token", _TOKEN_MAX)

    @property
    def hint(self) -> str:
        return f"read-only token {self.token.hint}"


class ParadexL2Credentials(CredentialModel):
    """A Paradex L2 (Stark) private key, main key or subkey, with the (main) account address."""

    exchange: ClassVar[str] = "paradex"
    summary: ClassVar[str] = "a Paradex account address with an L2 private key (main key or subkey)"
    kind: Literal["paradex_l2"] = "paradex_l2"
    account: str = Field(title="Paradex account address", description="0x-hex; for a subkey, the MAIN account's")
    l2_key: SecretText = Field(title="Paradex L2 private key", description="0x-hex Stark private key")

    @field_validator("account")
    @classmethod
    def _account(cls, value: str, info: ValidationInfo) -> str:
        if stored(info):
            return value
        return check_hex(value.strip(" "), "Paradex account address").lower()

    @field_validator("l2_key")
    @classmethod
    def _l2_key(cls, value: SecretText, info: ValidationInfo) -> SecretText:
        if stored(info):
            return value
        check_secret(value, "Paradex L2 private key", _L2_KEY_MAX)
        check_hex(value.reveal(), "Paradex L2 private key")
        return value

    @property
    def hint(self) -> str:
        return f"L2 key for {self.account[:6]}…{self.account[-4:]}"
