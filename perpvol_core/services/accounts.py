"""The one account path: validate -> test against the exchange -> encrypt -> save.

The CLI (``perpvol keys``), the API, the dashboard's key form and the demo all add, replace, test and
remove accounts through these functions, so labels, URLs, hex addresses and secrets are checked the
same way and give the same messages everywhere. The credential fields are checked by the venue's credential
models (``perpvol_core.exchanges.parse_credentials``). Messages are in the words of a form (naming the venue's
own field, such as its API key), never a CLI flag: each surface adds its own hint
(``AccountInputError.field`` says which input).

The inputs are checked in ``account_inputs`` (re-exported here, so a surface needs this module only).

One real account is stored once: the test step asks the venue who the credentials belong to (its spec's
``identity``), at which server (production, staging and each simulator hold different accounts; a venue's
legacy domains, its ``same_hosts``, hold the same ones). That identity is stored with the account; a second
label for the same exchange account is refused with :class:`DuplicateAccount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from perpvol_core.exchanges import (
    VENUES,
    account_identity,
    display_name,
    load,
    make_connector,
)
from perpvol_core.security.credentials import Credentials
from perpvol_core.security.redaction import redact
from perpvol_core.services.account_inputs import (
    LABEL_PATTERN,
    MARKET_PATTERN,
    AccountInputError,
    AccountRequest,
    DuplicateAccount,
    build_credentials,
    validate_base_url,
    validate_exchange,
    validate_label,
    validate_market,
)
from perpvol_core.services.events import AccountChanged, publish_quietly
from perpvol_core.store import Account, AccountExists, AccountNotFound, Store


@dataclass(frozen=True)
class AccountTest:
    """What the exchange said about the credentials.

    ``text`` is a short redacted description (what the venue said of the account); ``identity`` the
    exchange's own id of the account (None when it could not be read); ``duplicate_of`` the other label
    that holds the same identity (an account stored twice before this check existed).
    """

    label: str
    exchange: str
    text: str
    identity: str | None
    duplicate_of: str | None = None
    #: What the server was seen to do (a reading of the venue's unconfirmed behaviour), when observed.
    server_profile: str | None = None

    def __str__(self) -> str:
        return self.text


# -- validation ---------------------------------------------------------------------------------------


def _server(exchange: str, base_url: str | None) -> str:
    """The server an account lives on: production and staging (or two simulators) hold different accounts;
    a venue's legacy domains (``same_hosts``) hold the same accounts as the host they stand for."""
    spec = VENUES[exchange]
    host = urlsplit(base_url or spec.default_base_url).netloc.lower()
    return spec.same_hosts.get(host, host)


def probe(creds: Credentials, base_url: str | None, **connector_options: Any) -> tuple[str, str | None]:
    """Ask the exchange whether the credentials work: (description, identity).

    The identity is the exchange's id of the account at its server, ``"<id>@<host>"``.

    Raises ExchangeError subclasses (InvalidCredentials, RateLimited, ExchangeUnavailable, BadPayload).
    """
    connector = make_connector(creds, base_url, **connector_options)
    try:
        text = redact(connector.validate() or "ok")
        account_id = account_identity(connector, creds)
    finally:
        connector.close()
    return text, (f"{account_id}@{_server(creds.exchange, base_url)}" if account_id else None)


def _holder(store: Store, exchange: str, identity: str, label: str) -> str | None:
    for acc in store.list_accounts():
        if acc.exchange == exchange and acc.identity == identity and acc.label != label:
            return str(acc.label)
    return None


# -- the path -------------------------------------------------------------------------------------------


def _existing(store: Store, label: str) -> Account | None:
    try:
        return store.get_account(label)
    except AccountNotFound:
        return None


def add_account(
    store: Store, vault: Any, req: AccountRequest, *, replace: bool = False, test: bool = True, **connector_options: Any
) -> Account:
    """Validate, test against the exchange (unless ``test=False``), encrypt and save; returns the account.

    Raises what :func:`add_account_report` raises.
    """
    return add_account_report(store, vault, req, replace=replace, test=test, **connector_options)[0]


def add_account_report(
    store: Store, vault: Any, req: AccountRequest, *, replace: bool = False, test: bool = True, **connector_options: Any
) -> tuple[Account, AccountTest | None]:
    """:func:`add_account`, also returning what the exchange said (None when not tested), for surfaces to show.

    With ``replace=True`` an existing label gets the new credentials (and the base URL, when given).

    Raises:
        AccountInputError: a malformed input, or a label of another exchange.
        DuplicateAccount: the exchange account is already stored under another label.
        AccountExists: the label is taken and ``replace`` is False.
        ExchangeError: the exchange refused the credentials or could not be reached (nothing saved).
        VaultError, StoreError: the vault or the database failed (nothing saved).
    """
    label = validate_label(req.label)
    creds = build_credentials(req)
    base_url = validate_base_url(creds.exchange, req.base_url)
    existing = _existing(store, label)
    if existing is not None and not replace:
        raise AccountExists(f"an account labelled {label!r} already exists")
    if existing is not None and existing.exchange != creds.exchange:
        raise AccountInputError(
            "label", f"{label!r} is a {display_name(existing.exchange)} account; remove it first to reuse the label."
        )
    identity: str | None = None
    report: AccountTest | None = None
    if test:
        test_url = base_url or (existing.base_url if existing else None)
        text, identity = probe(creds, test_url, **connector_options)
        report = AccountTest(label, creds.exchange, text, identity)
        if identity is not None:
            holder = _holder(store, creds.exchange, identity, label)
            if holder is not None:
                raise DuplicateAccount(holder, creds.exchange)
            if existing is not None and existing.identity not in (None, identity):
                raise AccountInputError(
                    None, f"these credentials belong to another {display_name(creds.exchange)} account than "
                    f"{label!r}; add them under a new label.",
                )
    # the blob is bound to the label and the URL the row will hold (the vault's associated data)
    bound_url = base_url if base_url is not None or existing is None else existing.base_url
    blob = vault.encrypt(creds, label=label, base_url=bound_url)
    if existing is not None:
        _set_identity(store, label, creds.exchange, identity)
        replaced = store.replace_credentials(
            label, blob, creds.hint, **({"base_url": base_url} if base_url is not None else {})
        )
        publish_quietly(AccountChanged(action="changed", label=label, exchange=creds.exchange))
        return replaced, report
    account = store.add_account(label, creds.exchange, base_url, blob, creds.hint)
    if identity is not None:
        try:
            account = _set_identity(store, label, creds.exchange, identity)
        except DuplicateAccount:  # another writer stored the same account meanwhile: take this one back out
            store.remove_account(label)
            raise
    publish_quietly(AccountChanged(action="added", label=label, exchange=creds.exchange))
    return account, report


def _set_identity(store: Store, label: str, exchange: str, identity: str | None) -> Account:
    try:
        return store.set_identity(label, identity)
    except AccountExists:
        holder = _holder(store, exchange, identity, label) if identity else None
        raise DuplicateAccount(holder or "another label", exchange) from None


def test_account(store: Store, vault: Any, label: str, **connector_options: Any) -> AccountTest:
    """Test the stored credentials of ``label`` and record the exchange's identity of the account.

    Raises AccountNotFound, VaultError, ExchangeError subclasses.
    """
    account = store.get_account(_stored_label(store, label))
    creds = vault.decrypt_account(account)
    text, identity = probe(creds, account.base_url, **connector_options)
    duplicate_of = None
    if identity is not None and account.identity != identity:
        holder = _holder(store, account.exchange, identity, account.label)
        if holder is None:
            store.set_identity(account.label, identity)
        else:  # stored twice before identities were recorded: say so (totals count its fills once)
            duplicate_of = holder
    profile_text = _record_server_profile(store, account, creds, **connector_options)
    return AccountTest(account.label, account.exchange, text, identity, duplicate_of, profile_text)


def _record_server_profile(store: Store, account: Account, creds: Any, **connector_options: Any) -> str | None:
    """Observe which reading of the exchange's unconfirmed behaviour the server follows, store it as the
    account's server profile and describe it (None where there is nothing to observe). Raises ExchangeError."""
    from perpvol_core.services.sync import probe_server_profile

    profile = probe_server_profile(creds, account.base_url, account.server_profile, **connector_options)
    if profile is None:
        return None
    store.set_account_doc(account.label, "server_profile", profile)
    return str(load(VENUES[account.exchange].connector).describe_server_profile(profile))


test_account.__test__ = False  # type: ignore[attr-defined]  # a service, not a pytest test


def _stored_label(store: Store, label: str) -> str:
    """``label`` validated; a label stored before validation was strict is still found as it is."""
    try:
        return validate_label(label)
    except AccountInputError:
        if isinstance(label, str) and _existing(store, label) is not None:
            return label
        raise


def remove_account(store: Store, label: str) -> None:
    """Remove the account with its fills, rollups, sync state and encrypted credentials.

    Raises AccountInputError (malformed label), AccountNotFound.
    """
    stored = _stored_label(store, label)
    account = _existing(store, stored)
    store.remove_account(stored)
    publish_quietly(AccountChanged(action="removed", label=stored, exchange=account.exchange if account else None))


__all__ = [
    "LABEL_PATTERN",
    "MARKET_PATTERN",
    "AccountInputError",
    "AccountRequest",
    "AccountTest",
    "DuplicateAccount",
    "add_account",
    "add_account_report",
    "build_credentials",
    "probe",
    "remove_account",
    "test_account",
    "validate_base_url",
    "validate_exchange",
    "validate_label",
    "validate_market",
]
