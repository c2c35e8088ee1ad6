"""What every venue's credentials have in common; the kinds themselves live in each venue package.

A credential kind is a frozen pydantic model (:class:`CredentialModel`) with a ``kind`` literal (the
discriminator of the API's and the vault's union), a ClassVar ``exchange`` and a ``hint`` property (never a
secret). Secret fields are :data:`SecretText`: a :class:`~perpvol_core.security.redaction.Secret` once
validated, masked when dumped to JSON, revealed only by :func:`credentials_to_dict` (the vault's input).
Every shape check of a credential lives in its model's validators, with messages in our words; the helpers
here (:func:`check_secret`, :func:`check_hex`) are the checks several kinds share.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    SerializationInfo,
    ValidationInfo,
    WithJsonSchema,
)

from perpvol_core.security.redaction import Secret

#: visible ASCII: what exchange keys, secrets and tokens are made of
PRINTABLE_RE = re.compile(r"[\x21-\x7e]+")
HEX_RE = re.compile(r"0x[0-9a-fA-F]{1,64}")
#: the context key under which :func:`credentials_to_dict` asks for secrets in clear
_REVEAL = "reveal_secrets"
#: the context key under which stored credentials are loaded: shapes were checked when they were added
STORED = "stored"


class CredentialsInvalid(ValueError):
    """A credential field is missing or malformed. ``field`` names it (None: the whole set); ``str()`` is
    the message in a form's words (never pydantic's, never a CLI flag, never the secret)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotText(ValueError):
    """A credential field given as something other than text (the message names the field)."""


def _to_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value)
    raise NotText("not text")


def _dump_secret(value: Secret, info: SerializationInfo) -> Any:
    if info.context and info.context.get(_REVEAL):
        return value.reveal()
    return value.hint if info.mode == "json" else value


#: a secret field: accepts text or a Secret, holds a Secret, dumps masked (JSON) unless the vault asks
SecretText = Annotated[
    Secret,
    PlainValidator(_to_secret),
    PlainSerializer(_dump_secret, when_used="always"),
    WithJsonSchema({"type": "string", "format": "password", "writeOnly": True}),
]


def stored(info: ValidationInfo) -> bool:
    """True while the vault loads credentials it stored: their shape was checked when they were added, so a
    rule made stricter since never makes an account's credentials unreadable."""
    return bool(info.context and info.context.get(STORED))


def check_secret(value: Secret, what: str, max_len: int) -> Secret:
    """``value`` unchanged when it looks like one secret pasted alone (not empty, not too long, no whitespace,
    visible ASCII only). Raises ValueError with a message naming ``what``."""
    text = value.reveal()
    if not text:
        raise ValueError(f"The {what} is empty.")
    if len(text) > max_len:
        raise ValueError(f"The {what} is too long to be one; paste only the value.")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"The {what} contains whitespace; paste only the value.")
    if not PRINTABLE_RE.fullmatch(text):
        raise ValueError(f"The {what} contains characters no {what} has; paste only the value.")
    return value


def check_hex(text: str, what: str) -> str:
    """``text`` when it is 0x-hex of at most 64 digits. Raises ValueError naming ``what``."""
    if not HEX_RE.fullmatch(text):
        raise ValueError(f"The {what} must be 0x-hex (such as 0x1a2b…).")
    return text


class CredentialModel(BaseModel):
    """One kind of credentials of one venue. Subclasses set ``kind`` (a Literal with a default), ``exchange``,
    ``summary`` and a ``hint``; each field's ``title`` names it in messages ("<venue> API key")."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True, validate_default=False)

    #: the venue (a key of the registry)
    exchange: ClassVar[str]
    #: what this kind is, in a sentence's words ("a <venue> API key and its secret")
    summary: ClassVar[str] = "credentials"
    kind: str

    @property
    def hint(self) -> str:
        """A short description shown in lists (never a secret)."""
        raise NotImplementedError

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        """The fields holding a secret (:data:`SecretText`): a form masks them, a CLI reads them from stdin."""
        return tuple(name for name, info in cls.model_fields.items() if info.annotation is Secret)

    @classmethod
    def field_title(cls, name: str) -> str:
        info = cls.model_fields.get(name)
        return (info.title if info is not None and info.title else name.replace("_", " "))

    def __repr__(self) -> str:  # pydantic's repr would be fine (secrets are masked); this one is shorter
        return f"{type(self).__name__}({self.hint})"


#: any credential kind (annotations; the registry holds the discriminated union of the real ones)
Credentials = CredentialModel


def credentials_to_dict(creds: CredentialModel) -> dict[str, Any]:
    """Plain dict, ``kind`` included and secrets revealed, for the vault to encrypt; nothing else may call this."""
    if not isinstance(creds, CredentialModel):
        raise TypeError(f"not credentials: {type(creds).__name__}")
    return creds.model_dump(mode="python", context={_REVEAL: True})


__all__ = [
    "HEX_RE",
    "PRINTABLE_RE",
    "STORED",
    "CredentialModel",
    "Credentials",
    "CredentialsInvalid",
    "NotText",
    "SecretText",
    "check_hex",
    "check_secret",
    "credentials_to_dict",
    "stored",
]
