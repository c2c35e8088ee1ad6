"""What an account is given, checked: the label, the base URL, a market, the exchange and the credentials.

The one place these inputs are validated (every surface calls these through ``perpvol_core.services.accounts``,
which re-exports them): messages are in the words of a form, never a CLI flag, and
``AccountInputError.field`` says which input so each surface can add its own hint. The credential fields are
checked by the venue's credential models (``perpvol_core.exchanges.parse_credentials``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from perpvol_core.exchanges import (
    VENUES,
    BaseUrlRefused,
    check_base_url,
    display_name,
    parse_credentials,
    venue_names,
)
from perpvol_core.security.credentials import Credentials, CredentialsInvalid

LABEL_MAX = 64
_LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")  # 1-64 characters (LABEL_MAX)
_MARKET_RE = re.compile(r"[A-Za-z0-9_\-]{1,80}")
#: The same rules as anchored patterns, for schemas that document them (the API's OpenAPI document).
LABEL_PATTERN = f"^{_LABEL_RE.pattern}$"
MARKET_PATTERN = f"^{_MARKET_RE.pattern}$"
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.?)*|\[[0-9A-Fa-f:.]+\]")
_URL_PATH_RE = re.compile(r"(?:/[A-Za-z0-9._~\-]*)*")
_PRINTABLE_RE = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what exchange keys, secrets and tokens are made of
_URL_MAX = 2000


class AccountInputError(ValueError):
    """An input of the account form is missing or malformed.

    ``field`` names the input ("label", "api_key", "api_secret", "token", "account", "l2_key",
    "base_url", "exchange") or is None; ``str()`` is the message in the form's words.
    """

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


class DuplicateAccount(AccountInputError):
    """The same exchange account is already stored under another label (``existing_label``)."""

    def __init__(self, existing_label: str, exchange: str) -> None:
        super().__init__(
            None, f"this {display_name(exchange)} account is already stored as {existing_label!r}; "
            f"replace the credentials of {existing_label!r} instead of adding it twice",
        )
        self.existing_label = existing_label


class AccountRequest:
    """What a surface collected to add or replace an account: the label, the base URL (None: the venue's
    default) and the credentials: a credential model (``credentials=``), a mapping of its fields (with
    ``kind``, or without it: the kind of ``exchange`` whose fields are given), or those fields as keywords
    (``AccountRequest("<venue>", "label", <field>=...)``). Fields left None or "" count as not given.
    """

    __slots__ = ("base_url", "credentials", "exchange", "label")

    def __init__(
        self,
        exchange: str | None = None,
        label: str = "",
        *,
        base_url: str | None = None,
        credentials: Any = None,
        **fields: Any,
    ) -> None:
        if credentials is not None and fields:
            raise TypeError("give the credentials as a model or mapping, or as fields, not both")
        self.exchange = getattr(credentials, "exchange", None) or exchange
        self.label = label
        self.base_url = base_url
        self.credentials: Credentials | Mapping[str, Any] = credentials if credentials is not None else fields

    def __repr__(self) -> str:  # secrets are Secret (masked) or a model (masked hint)
        return f"AccountRequest({self.exchange!r}, {self.label!r}, base_url={self.base_url!r})"


def validate_label(label: str) -> str:
    """The label with surrounding spaces removed. Raises AccountInputError("label")."""
    if not isinstance(label, str) or not label.strip(" "):
        raise AccountInputError("label", "Give the account a label.")
    label = label.strip(" ")
    if not _LABEL_RE.fullmatch(label):
        raise AccountInputError(
            "label",
            f"A label is 1-{LABEL_MAX} letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return label


_ANY = object()


def validate_base_url(exchange: Any, url: Any = _ANY) -> str | None:
    """The base URL of an account of ``exchange`` (trailing '/' dropped; None/"" -> None, the venue's default).

    It is https on one of the venue's hosts or http(s) on a loopback address (a simulator), without
    credentials, query or fragment: anything else is refused before any request is sent. Called with the URL
    alone (``validate_base_url(url)``, earlier versions), the hosts of every venue are allowed.

    Raises AccountInputError("base_url").
    """
    if url is _ANY:
        exchange, url = None, exchange
    url = _url_shape(url)
    if url is not None:
        try:
            check_base_url(exchange if exchange in VENUES else None, url)
        except BaseUrlRefused as exc:
            raise AccountInputError("base_url", f"The base URL is refused: {exc}") from None
    return url


def _url_shape(url: Any) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str):
        raise AccountInputError("base_url", "The base URL must be text.")
    url = url.strip(" ")
    if not url:
        return None
    bad = AccountInputError(
        "base_url",
        "The base URL must be an http(s) URL such as https://<host>[:port][/path] "
        "(no user name, password, query or fragment).",
    )
    if len(url) > _URL_MAX or not _PRINTABLE_RE.fullmatch(url):
        raise bad
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise bad from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
        or "?" in url
        or "#" in url
        or not parts.hostname
        or not _HOST_RE.fullmatch(parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc)
        or not _URL_PATH_RE.fullmatch(parts.path)
        or (port is not None and not 0 < port < 65536)
    ):
        raise bad
    return url.rstrip("/")


def validate_market(market: str) -> str:
    """A market symbol such as ``PERP_BTC_USDT`` or ``BTC-USD-PERP``. Raises AccountInputError(None)."""
    if not isinstance(market, str) or not _MARKET_RE.fullmatch(market):
        raise AccountInputError(None, "A market is a symbol such as PERP_BTC_USDT or BTC-USD-PERP.")
    return market


def validate_exchange(exchange: Any) -> str:
    """Raises AccountInputError("exchange") for an exchange perpvol does not read."""
    if not isinstance(exchange, str) or exchange not in VENUES:
        raise AccountInputError("exchange", f"The exchange must be one of {venue_names()}.")
    return exchange


def build_credentials(req: AccountRequest) -> Credentials:
    """Typed credentials from the request, every shape checked (by the credential models). Raises AccountInputError."""
    given_kind = isinstance(req.credentials, Mapping) and req.credentials.get("kind") is not None
    exchange = None if req.exchange is None and given_kind else validate_exchange(req.exchange)
    try:
        return parse_credentials(req.credentials, exchange=exchange)
    except CredentialsInvalid as exc:
        raise AccountInputError(exc.field, str(exc)) from None
