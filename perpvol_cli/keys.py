"""``perpvol keys add|list|test|remove|rotate-master``: credentials in, masked hints out.

Secrets come only from stdin (``--<field>-stdin``, one per secret field of the venue's credential kinds) or
a getpass prompt on a terminal; they go straight into a :class:`Secret` and through the vault, never to output.
"""

from __future__ import annotations

import getpass
import json as json_text
import sys
from pathlib import Path
from typing import Any

from perpvol_cli import venues
from perpvol_core.config import ConfigError, Settings
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.security.vault import Vault, VaultError, rotate_master_key
from perpvol_core.services.accounts import AccountInputError, AccountRequest, DuplicateAccount
from perpvol_core.store import AccountExists, AccountNotFound, Store, StoreError
from perpvol_core.store.existing import no_data_text, open_existing

EXIT_USAGE = 2
EXIT_REJECTED = 3
#: the option of each input of the account form that is not a credential field (the service speaks in the
#: form's words; the CLI adds the option to type)
_FLAGS = {"label": "--label", "base_url": "--base-url"}


class UsageError(Exception):
    """Bad command-line input; the message tells the user what to type instead."""


def _fail(message: str, code: int = 1) -> int:
    print(f"perpvol: error: {redact(message)}", file=sys.stderr)
    return code


def _input_error(exc: AccountInputError, venue: str) -> int:
    field = exc.field or ""
    flags = {**{o.field: o.flag for o in venues.credential_options(venue)}, **_FLAGS,
             "exchange": "|".join(venues.names())}  # fmt: skip
    flag = flags.get(field)
    return _fail(f"{exc} ({flag})" if flag else str(exc), EXIT_USAGE)


def _kind(venue: str, given: set[str]) -> Any:
    """The credential kind of ``venue`` the given options belong to (the venue's first kind when none is
    given). Raises UsageError when they belong to no single kind."""
    kinds = venues.kinds(venue)
    fits = [m for m in kinds if given <= set(venues.input_fields(m))]
    if fits:
        return fits[0]
    options = {o.field: o.flag for o in venues.credential_options(venue)}
    raise UsageError(
        f"{venues.display_name(venue)} takes {venues.kinds_text(venue)}; "
        f"these options belong to different ones: {', '.join(options[f] for f in sorted(given))}"
    )


def _request(venue: str, label: str, fields: dict[str, Any], base_url: str | None) -> AccountRequest:
    """The account form filled from the options; a secret read from stdin or a hidden prompt.

    ``fields``: a credential field -> its option's value (a secret field: True when ``--<field>-stdin``).
    Raises UsageError."""
    given = {f for f, v in fields.items() if v not in (None, False, "")}
    model = _kind(venue, given)
    secrets = venues.secret_fields(model)
    flagged = [f for f in venues.input_fields(model) if f in secrets and fields.get(f)]
    titles = {f: model.field_title(f) for f in venues.input_fields(model)}
    flag = {o.field: o.flag for o in venues.credential_options(venue)}
    if len(flagged) > 1:
        raise UsageError("stdin carries one secret: give only one of " + ", ".join(flag[f] for f in flagged))
    values: dict[str, Any] = {f: fields[f] for f in given - secrets}
    if flagged:
        values[flagged[0]] = Secret(sys.stdin.read().strip())
    missing_plain = any(f not in values for f in venues.input_fields(model) if f not in secrets)
    for field in venues.input_fields(model):
        if field not in secrets or field in values or missing_plain:
            continue  # with a plain field missing, the form says so first (before asking for a secret)
        if sys.stdin.isatty():
            values[field] = Secret(getpass.getpass(f"{titles[field]}: ").strip())
        else:
            raise UsageError(f"no {titles[field]} given: pipe it on stdin with {flag[field]}")
    return AccountRequest(venue, label, base_url=base_url, credentials={"kind": venues.kind_name(model), **values})


def cmd_keys_add(
    venue: str, *, label: str, fields: dict[str, Any], base_url: str | None = None, replace: bool = False,
    no_test: bool = False,
) -> int:  # fmt: skip
    """Validate, test against the exchange (unless ``no_test``), encrypt and save credentials."""
    from perpvol_core.exchanges import ExchangeError
    from perpvol_core.services import accounts

    try:
        accounts.validate_label(label)
        accounts.validate_base_url(base_url)
        req = _request(venue, label, fields, base_url)
        accounts.build_credentials(req)
    except AccountInputError as exc:
        return _input_error(exc, venue)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    settings = Settings.from_env()
    store = Store.open(settings)
    try:
        vault = Vault.open(settings, store)
        replacing = replace and _exists(store, req.label.strip(" "))
        account, report = accounts.add_account_report(store, vault, req, replace=replace, test=not no_test)
    except DuplicateAccount as exc:
        return _fail(f"credentials not saved: {exc}")
    except AccountInputError as exc:
        return _input_error(exc, venue)
    except AccountExists as exc:
        return _fail(f"{exc} (add --replace to replace its credentials)")
    except ExchangeError as exc:
        return _fail(f"credentials not saved: {exc}", EXIT_REJECTED)
    except (StoreError, VaultError, ConfigError) as exc:
        return _fail(str(exc))
    finally:
        store.close()
    verb = "replaced credentials of" if replacing else "added"
    suffix = f", verified as {report.text}" if report is not None else ", not tested"
    print(redact(f"{verb} {account.exchange} account {account.label!r} ({account.hint}){suffix}"))
    return 0


def _exists(store: Store, label: str) -> bool:
    try:
        store.get_account(label)
    except AccountNotFound:
        return False
    return True


def cmd_keys_test(*, label: str) -> int:
    """``perpvol keys test L``: decrypt the stored credentials and ask the exchange who they are."""
    from perpvol_core.exchanges import ExchangeError
    from perpvol_core.services import accounts

    settings = Settings.from_env()
    try:
        store = Store.open(settings)
    except (StoreError, ConfigError) as exc:
        return _fail(str(exc))
    try:
        vault = Vault.open(settings, store)
        result = accounts.test_account(store, vault, label)
    except AccountInputError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except ExchangeError as exc:
        return _fail(f"{label}: credentials do not work: {exc}", EXIT_REJECTED)
    except (AccountNotFound, StoreError, VaultError, ConfigError) as exc:
        return _fail(str(exc))
    finally:
        store.close()
    print(redact(f"{result.label}: ok — {result.text}"))
    if result.server_profile:
        print(redact(f"{result.label}: {result.server_profile}"))
    if result.duplicate_of:
        print(redact(f"{result.label}: the same exchange account as {result.duplicate_of!r}; "
                     "its fills count once in every total (remove one of the two labels)"))  # fmt: skip
    return 0


def cmd_keys_list(*, json: bool = False) -> int:
    """List accounts with a masked hint only (``--json`` for scripts)."""
    from perpvol_core.services.status import account_statuses, iso_time

    settings = Settings.from_env()
    store = open_existing(settings)  # a read never creates a database
    if store is None:
        print("[]" if json else no_data_text(settings))
        return 0
    try:
        statuses = account_statuses(store)
    finally:
        store.close()
    if json:
        print(redact(json_text.dumps([s.as_keys_json() for s in statuses])))
        return 0
    if not statuses:
        print(f"no accounts yet: add one with `perpvol keys add {'|'.join(venues.names())} --label NAME …`")
        return 0
    # COMPLETE: the first whole UTC day from which the stored history is complete, to the last sync
    header = ("LABEL", "EXCHANGE", "STATUS", "HINT", "LAST SYNC", "COMPLETE", "FILLS")
    table = [header]
    for s in statuses:
        row = s.as_keys_json()
        start = row["complete_from"] or row["covered_from"]
        coverage = f"{start} → {row['covered_to']}" if start else "-"
        table.append(
            (s.label, s.exchange, s.status, s.hint, iso_time(s.last_success_ms) or "never", coverage, str(s.fills))
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print(redact("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()))
    for s in statuses:
        if s.last_error:
            print(redact(f"{s.label}: last error: {s.last_error}"))
    return 0


def cmd_keys_remove(*, label: str) -> int:
    """Remove an account with its fills, rollups, sync state and encrypted credentials."""
    from perpvol_core.services import accounts

    settings = Settings.from_env()
    store = Store.open(settings)
    try:
        accounts.remove_account(store, label)
    except AccountInputError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except AccountNotFound as exc:
        return _fail(str(exc))
    finally:
        store.close()
    print(f"removed account {label!r} with its fills and credentials")
    return 0


def cmd_keys_rotate_master(*, new_key_file: str | None = None) -> int:
    """Re-encrypt every credential under a fresh master key (crash-safe key file replacement)."""
    settings = Settings.from_env()
    store = Store.open(settings)
    new_path = Path(new_key_file).expanduser() if new_key_file else None
    try:
        path, count = rotate_master_key(settings, store, new_path)
    except (VaultError, ConfigError) as exc:
        return _fail(str(exc))
    finally:
        store.close()
    print(f"re-encrypted {count} credential(s) under a new master key, stored in {path}")
    if new_path is not None:
        var = "PERPVOL_MASTER_KEY_FILE" if settings.master_key is None else "PERPVOL_MASTER_KEY(_FILE)"
        print(f"now set {var} to use {path} (the old key no longer opens this database)")
    return 0
