"""The venues perpvol reads, in one registry: a new venue is one package and one name in :data:`VENUE_PACKAGES`.

A venue package ``perpvol_core/exchanges/<name>/`` holds ``spec.py`` (its :class:`VenueSpec` ``SPEC``: names,
colour, hosts, counting rules, and where the rest lives), ``credentials.py`` (its credential kinds, pydantic
models), ``rest.py`` (the REST connector: requests, signing, pagination, parsing) and ``stream.py`` (its
:class:`StreamAdapter`). Everything else in perpvol reads a venue through the helpers below; connectors,
stream adapters and identity functions are imported on first use, so naming a venue does not load its
signing libraries.
"""

from __future__ import annotations

import dataclasses
import importlib
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Union
from urllib.parse import urlsplit

from pydantic import Field, ValidationError

from perpvol_core.exchanges._errors import (
    BadPayload,
    ExchangeError,
    ExchangeUnavailable,
    InvalidCredentials,
    RateLimited,
)
from perpvol_core.exchanges._facts import StoredFacts
from perpvol_core.exchanges._http import Connector, FillPage, RateLimit
from perpvol_core.exchanges._spec import StreamAdapter, VenueSpec, load
from perpvol_core.fill import Fill
from perpvol_core.security.credentials import STORED, CredentialModel, CredentialsInvalid, NotText

#: The one list of venues (package names under ``perpvol_core.exchanges``), in display order.
VENUE_PACKAGES: tuple[str, ...] = ("woox", "paradex", "hyperliquid")


def _spec_of(package: str) -> VenueSpec:
    spec: VenueSpec = importlib.import_module(f"perpvol_core.exchanges.{package}.spec").SPEC
    if spec.name != package:
        raise RuntimeError(f"the spec of package {package!r} is named {spec.name!r}")
    return spec


VENUES: dict[str, VenueSpec] = {package: _spec_of(package) for package in VENUE_PACKAGES}
#: credential kind -> its model, over every venue
KINDS: dict[str, type[CredentialModel]] = {
    model.model_fields["kind"].default: model for spec in VENUES.values() for model in spec.credential_kinds
}

# names of earlier versions, kept for callers
ExchangeInfo = VenueSpec
EXCHANGES = VENUES
DEFAULT_BASE_URLS: dict[str, str] = {name: spec.default_base_url for name, spec in VENUES.items()}


def venue(name: str) -> VenueSpec:
    """The spec of venue ``name``. Raises KeyError for a venue perpvol does not read."""
    return VENUES[name]


exchange_info = venue


def display_name(name: str) -> str:
    """The venue's own spelling (``venue(name).display_name``); an unknown name is shown as it is."""
    spec = VENUES.get(name)
    return spec.display_name if spec else name


def venue_names() -> str:
    """Every venue for a message: ``"<display name> (<name>), …"``."""
    return ", ".join(f"{spec.display_name} ({name})" for name, spec in VENUES.items())


def credential_kinds(exchange: str | None = None) -> dict[str, type[CredentialModel]]:
    """kind -> model, of one venue or of all."""
    return {kind: model for kind, model in KINDS.items() if exchange is None or model.exchange == exchange}


def credential_union() -> Any:
    """The discriminated union of every credential kind (``kind`` tells which), for request models."""
    models = tuple(KINDS.values())
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007  (a runtime tuple of types)


# -- reading credentials -------------------------------------------------------------------------------


def _given(value: Any) -> bool:
    # None and "" are a form's empty inputs; an empty Secret was given (and is refused as empty)
    return value is not None and value != ""


def _kind_for(exchange: str, given: set[str]) -> type[CredentialModel]:
    """The one kind of ``exchange`` whose fields the given ones belong to."""
    kinds = list(credential_kinds(exchange).values())
    fits = [m for m in kinds if given <= set(m.model_fields) - {"kind"}]
    if len(kinds) == 1:
        return kinds[0]
    if len(fits) == 1 and given:
        return fits[0]
    options = "; or ".join(m.summary for m in kinds)
    if not given:
        raise CredentialsInvalid(None, f"{display_name(exchange)} needs {options}.")
    raise CredentialsInvalid(None, f"A {display_name(exchange)} account takes {options} — give the fields of one only.")


def _message(model: type[CredentialModel], error: Any) -> tuple[str | None, str]:
    loc = error.get("loc") or ()
    name = str(loc[0]) if loc else None
    title = model.field_title(name) if name else ""
    kind = error.get("type")
    cause = error.get("ctx", {}).get("error")
    if kind == "value_error" and not isinstance(cause, NotText):
        return name, str(cause or f"The {title} is not valid.")
    if kind == "missing":
        return name, f"The {title} is missing."
    if kind == "extra_forbidden":
        return name, f"The field {name!r} is not part of {model.summary}."
    if kind in ("literal_error", "union_tag_invalid"):
        return "kind", f"The kind of credentials must be one of {', '.join(KINDS)}."
    return name, f"The {title} must be text."


def parse_credentials(
    data: Mapping[str, Any] | CredentialModel, *, exchange: str | None = None, stored: bool = False
) -> CredentialModel:
    """The credential model for ``data``: a mapping with ``kind`` (any venue's), or without it and with
    ``exchange`` (the kind is the one whose fields are given; empty values count as not given).

    ``stored=True`` (the vault): shapes are not checked again, so a rule made stricter later never makes
    stored credentials unreadable. Raises CredentialsInvalid (``field``: the input at fault, ``"exchange"``
    or ``"kind"``; the message in our words).
    """
    if isinstance(data, CredentialModel):
        if exchange is not None and data.exchange != exchange:
            raise CredentialsInvalid("exchange", f"These are {display_name(data.exchange)} credentials.")
        return data
    if not isinstance(data, Mapping):
        raise CredentialsInvalid(None, "Credentials are a set of named fields.")
    fields = {str(k): v for k, v in data.items() if k != "exchange" and (k == "kind" or _given(v))}
    kind = fields.pop("kind", None)
    if kind is None:
        if exchange not in VENUES:
            raise CredentialsInvalid("exchange", f"The exchange must be one of {venue_names()}.")
        model = _kind_for(exchange, set(fields))
    else:
        if not isinstance(kind, str) or kind not in KINDS:
            raise CredentialsInvalid("kind", f"The kind of credentials must be one of {', '.join(KINDS)}.")
        model = KINDS[kind]
        if exchange is not None and model.exchange != exchange:
            raise CredentialsInvalid("kind", f"{kind!r} credentials are not {display_name(exchange)} credentials.")
    try:
        return model.model_validate(fields, context={STORED: True} if stored else None)
    except ValidationError as exc:
        field, message = _message(model, exc.errors(include_url=False, include_input=False)[0])
        raise CredentialsInvalid(field, message) from None


def stored_credentials(data: Mapping[str, Any]) -> CredentialModel:
    """Credentials the vault decrypted (``kind`` included). Raises CredentialsInvalid."""
    return parse_credentials(data, stored=True)


# -- where a venue lives -------------------------------------------------------------------------------


class BaseUrlRefused(ValueError):
    """A base URL on no host of the venue and not on a loopback address: nothing is ever sent there."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1`` (where the simulators run)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def venue_hosts(exchange: str) -> tuple[str, ...]:
    """The documented REST hosts of a venue (its ``hosts`` and legacy ``same_hosts``), sorted."""
    spec = venue(exchange)
    return tuple(sorted({*spec.hosts, *spec.same_hosts}))


def is_venue_host(exchange: str | None, host: str) -> bool:
    """True when ``host`` is a documented REST host of ``exchange`` (of any venue when None)."""
    names = [exchange] if exchange is not None else list(VENUES)
    return any(name in VENUES and host.lower() in venue_hosts(name) for name in names)


def check_base_url(exchange: str | None, url: str | None) -> None:
    """Refuse, before anything is sent, a base URL that is neither https on one of the venue's hosts (of any
    venue when ``exchange`` is None) nor http(s) on a loopback address. None: the venue's default.

    Raises BaseUrlRefused (its message names the allowed hosts).
    """
    if url is None:
        return
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        host, parts = "", None
    if parts is not None and parts.scheme in ("http", "https") and is_loopback(host):
        return
    if parts is not None and parts.scheme == "https" and is_venue_host(exchange, host):
        return
    names = [exchange] if exchange in VENUES else list(VENUES)
    hosts = "; ".join(f"{display_name(n)}: {', '.join(venue_hosts(n))}" for n in names)
    raise BaseUrlRefused(
        f"perpvol connects only to a venue's own hosts over https ({hosts}) or to a loopback address "
        "(127.0.0.1, ::1, localhost: a simulator)."
    )


# -- what a venue does ---------------------------------------------------------------------------------


def make_connector(credentials: Any, base_url: str | None = None, **options: Any) -> Connector:
    """The REST connector of the venue of ``credentials``. Raises ValueError for credentials of no venue."""
    spec = VENUES.get(getattr(credentials, "exchange", None) or "")
    if spec is None:
        raise ValueError(f"no connector for credentials of {getattr(credentials, 'exchange', None)!r}")
    connector: Connector = load(spec.connector)(credentials, base_url, **options)
    return connector


def make_stream(credentials: Any, base_url: str | None = None, **options: Any) -> StreamAdapter:
    """The stream adapter of the venue of ``credentials``. Raises ValueError for credentials of no venue."""
    spec = VENUES.get(getattr(credentials, "exchange", None) or "")
    if spec is None:
        raise ValueError(f"no stream for credentials of {getattr(credentials, 'exchange', None)!r}")
    adapter: StreamAdapter = load(spec.stream)(credentials, base_url, **options)
    return adapter


def account_identity(connector: Any, credentials: Any) -> str | None:
    """The venue's own id of the account behind ``credentials`` (one more request). Raises ExchangeError."""
    identity: str | None = load(venue(credentials.exchange).identity)(connector, credentials)
    return identity


def is_perp(exchange: str, market: str) -> bool:
    """True when ``market`` is a perpetual on ``exchange`` (False for a venue perpvol does not read)."""
    spec = VENUES.get(exchange)
    return bool(spec and spec.is_perp(market))


def counts(exchange: str, market: str, fill_type: str) -> bool:
    """True when a fill counts as perp volume on ``exchange`` (design.md, "What counts as volume")."""
    spec = VENUES.get(exchange)
    return bool(spec and spec.counts(market, fill_type))


def why_not_counted(exchange: str, market: str, fill_type: str) -> str | None:
    """Why a fill does not count as perp volume, in words (None when it counts): the first of the venue's
    rules it fails. The wording names the market's kind from common symbol shapes (``SPOT`` or a ``/`` pair:
    spot; a strike then ``C``/``P``: an option); the decision itself is the venue's ``counts``."""
    if not is_perp(exchange, market):
        parts = market.upper().replace("_", "-").split("-")
        if "SPOT" in parts or "/" in market:
            return "spot market"
        if len(parts) > 2 and parts[-1] in ("C", "P") and parts[-2].replace(".", "").isdigit():
            return "option"
        return "not a perpetual market"
    if not counts(exchange, market, fill_type):
        kinds = [k for k in ("settlement", "unwind", "transfer") if k[:6].upper() in fill_type.upper()]
        return f"{' / '.join(kinds) or fill_type}, not a trade"
    return None


def classify(fill: Fill) -> Fill:
    """``fill`` with ``is_perp`` and ``counted`` set by its venue's rules (both False for a venue perpvol does
    not read), as the store requires before it keeps a fill."""
    spec = VENUES.get(fill.exchange)
    perp = bool(spec and spec.is_perp(fill.market))
    counted = bool(spec and spec.counts(fill.market, fill.fill_type))
    if fill.is_perp is perp and fill.counted is counted:
        return fill
    return dataclasses.replace(fill, is_perp=perp, counted=counted)


def classify_all(fills: Iterable[Fill]) -> list[Fill]:
    """:func:`classify` of every fill."""
    return [classify(f) for f in fills]


__all__ = [
    "DEFAULT_BASE_URLS",
    "EXCHANGES",
    "KINDS",
    "VENUES",
    "VENUE_PACKAGES",
    "BadPayload",
    "BaseUrlRefused",
    "Connector",
    "CredentialsInvalid",
    "ExchangeError",
    "ExchangeInfo",
    "ExchangeUnavailable",
    "FillPage",
    "InvalidCredentials",
    "RateLimit",
    "RateLimited",
    "StoredFacts",
    "StreamAdapter",
    "VenueSpec",
    "account_identity",
    "check_base_url",
    "classify",
    "classify_all",
    "counts",
    "credential_kinds",
    "credential_union",
    "display_name",
    "exchange_info",
    "is_loopback",
    "is_perp",
    "is_venue_host",
    "make_connector",
    "make_stream",
    "parse_credentials",
    "stored_credentials",
    "venue",
    "venue_hosts",
    "venue_names",
]
