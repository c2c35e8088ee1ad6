"""What a Hyperliquid account is to perpvol: a public address, read without any key.

Hyperliquid serves every address's fills to anyone (``POST /info``, no signature), so the only credential is
the address of the account that trades: the master account or a sub-account. An API (agent) wallet only
signs; querying it returns no fills at all (the docs' "common pitfall"), which is why the messages below
name it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from perpvol_core.security.credentials import CredentialModel

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
ADDRESS_RULE = (
    "A Hyperliquid address is 0x followed by 40 hex digits "
    "(the master or sub-account address, not an API wallet)."
)


def normalize_address(value: Any) -> str:
    """The address in lowercase with blanks removed. Raises ValueError (our own words) when it is not one."""
    if not isinstance(value, str):
        raise ValueError(ADDRESS_RULE)
    text = "".join(value.split())
    if not ADDRESS_RE.fullmatch(text):
        raise ValueError(ADDRESS_RULE)
    return text.lower()


class HyperliquidAddress(CredentialModel):
    """A Hyperliquid master or sub-account address (public: there is no secret to keep)."""

    exchange: ClassVar[str] = "hyperliquid"
    summary: ClassVar[str] = "a Hyperliquid account address (master or sub-account; no key needed)"

    kind: Literal["hyperliquid_address"] = "hyperliquid_address"
    address: str = Field(
        title="Hyperliquid address",
        description="0x + 40 hex digits: the master or sub-account that trades, not an API wallet",
    )

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        return normalize_address(value)

    @property
    def hint(self) -> str:
        """``0x1234…abcd``: enough to tell accounts apart in lists."""
        return f"{self.address[:6]}…{self.address[-4:]}"
