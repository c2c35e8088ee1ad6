"""WOO X credentials: a read-only API key and its secret (kind ``woox``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from perpvol_core.security.credentials import (
    PRINTABLE_RE,
    CredentialModel,
    SecretText,
    check_secret,
    stored,
)
from perpvol_core.security.redaction import mask

_API_KEY_MAX = 200
_API_SECRET_MAX = 400


class WooxCredentials(CredentialModel):
    """A WOO X read-only API key and its secret."""

    exchange: ClassVar[str] = "woox"
    summary: ClassVar[str] = "a WOO X API key and its secret"
    kind: Literal["woox"] = "woox"
    api_key: str = Field(title="WOO X API key", description="the public part of a read-only API key")
    api_secret: SecretText = Field(title="WOO X API secret", description="the API key's secret")

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: str, info: ValidationInfo) -> str:
        if stored(info):
            return value
        value = value.strip(" ")
        if not value:
            raise ValueError("WOO X needs the API key (the public part) and its secret.")
        if any(ch.isspace() for ch in value):
            raise ValueError("The WOO X API key contains whitespace; paste only the value.")
        if len(value) > _API_KEY_MAX or not PRINTABLE_RE.fullmatch(value):
            raise ValueError("The WOO X API key is not a key; paste only the value.")
        return value

    @field_validator("api_secret")
    @classmethod
    def _api_secret(cls, value: SecretText, info: ValidationInfo) -> SecretText:
        return value if stored(info) else check_secret(value, "WOO X API secret", _API_SECRET_MAX)

    @property
    def hint(self) -> str:
        return f"key {mask(self.api_key)}"
