"""``perpvol keys add|list|test|remove|rotate-master``: credentials in, masked hints out.

Secrets come only from stdin (``--api-secret-stdin``, ``--token-stdin``, ``--l2-key-stdin``) or a getpass
prompt on a terminal; they go straight into a :class:`Secret` and through the vault, never to output.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from perpvol_core.config import ConfigError, Settings
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.security.vault import Vault, VaultError, rotate_master_key
from perpvol_core.services.accounts import AccountInputError, AccountRequest, DuplicateAccount
from perpvol_core.store import AccountExists, AccountNotFound, Store, StoreError
from perpvol_core.store.existing import no_data_text, open_existing

EXIT_USAGE = 2
EXIT_REJECTED = 3
#: the flag of each input of the account form (the service speaks in the form's words)
_FLAGS = {
    "label": "--label",
    "api_key": "--api-key",
    "api_secret": "--api-secret-stdin",
    "token": "--token-stdin",
    "account": "--account",
    "l2_key": "--l2-key-stdin",
    "base_url": "--base-url",
    "exchange": "woox|paradex",
}


class UsageError(Exception):
    """Bad command-line input; the message tells the user what to type instead."""


def _fail(message: str, code: int = 1) -> int:
    print(f"perpvol: error: {redact(message)}", file=sys.stderr)
    return code


def _input_error(exc: AccountInputError) -> int:
    flag = _FLAGS.get(exc.field or "")
    return _fail(f"{exc} ({flag})" if flag else str(exc), EXIT_USAGE)


_SECRETS = {
    "api_secret": ("WOO X API secret", "--api-secret-stdin"),
    "token": ("Paradex read-only token", "--token-stdin"),
    "l2_key": ("Paradex L2 private key", "--l2-key-stdin"),
}


def _request_from_args(args: argparse.Namespace) -> AccountRequest:
    """The account form filled from the flags; the secret read from stdin or a hidden prompt. Raises: UsageError."""
    values: dict[str, Secret | None] = dict.fromkeys(_SECRETS)
    flagged = [f for f in _SECRETS if getattr(args, f"{f}_stdin")]
    if len(flagged) > 1:
        raise UsageError("stdin carries one secret: give only one of " + ", ".join(_SECRETS[f][1] for f in flagged))
    if flagged:
        values[flagged[0]] = Secret(sys.stdin.read().strip())
    else:
        want = "api_secret" if args.exchange == "woox" else ("l2_key" if args.account else "token")
        what, flag = _SECRETS[want]
        if want == "api_secret" and not args.api_key:
            pass  # the form says what is missing first (the API key)
        elif sys.stdin.isatty():
            values[want] = Secret(getpass.getpass(f"{what}: ").strip())
        else:
            raise UsageError(f"no {what} given: pipe it on stdin with {flag}")
    return AccountRequest(
        exchange=args.exchange, label=args.label, api_key=args.api_key, account=args.account,
        base_url=args.base_url, **values,
    )  # fmt: skip


def cmd_keys_add(args: argparse.Namespace) -> int:
    """Validate, test against the exchange (unless --no-test), encrypt and save credentials."""
    from perpvol_core.exchanges import ExchangeError
    from perpvol_core.services import accounts

    try:
        accounts.validate_label(args.label)
        accounts.validate_base_url(args.base_url)
        req = _request_from_args(args)
        accounts.build_credentials(req)
    except AccountInputError as exc:
        return _input_error(exc)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    settings = Settings.from_env()
    store = Store.open(settings)
    try:
        vault = Vault.open(settings, store)
        replacing = args.replace and _exists(store, req.label.strip(" "))
        account, report = accounts.add_account_report(store, vault, req, replace=args.replace, test=not args.no_test)
    except DuplicateAccount as exc:
        return _fail(f"credentials not saved: {exc}")
    except AccountInputError as exc:
        return _input_error(exc)
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


def cmd_keys_test(args: argparse.Namespace) -> int:
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
        result = accounts.test_account(store, vault, args.label)
    except AccountInputError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except ExchangeError as exc:
        return _fail(f"{args.label}: credentials do not work: {exc}", EXIT_REJECTED)
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


def cmd_keys_list(args: argparse.Namespace) -> int:
    """List accounts with a masked hint only (``--json`` for scripts)."""
    from perpvol_core.services.status import account_statuses, iso_time

    settings = Settings.from_env()
    store = open_existing(settings)  # a read never creates a database
    if store is None:
        print("[]" if args.json else no_data_text(settings))
        return 0
    try:
        statuses = account_statuses(store)
    finally:
        store.close()
    if args.json:
        print(redact(json.dumps([s.as_keys_json() for s in statuses])))
        return 0
    if not statuses:
        print("no accounts yet: add one with `perpvol keys add woox|paradex --label NAME …`")
        return 0
    header = ("LABEL", "EXCHANGE", "STATUS", "HINT", "LAST SYNC", "COVERAGE", "FILLS")
    table = [header]
    for s in statuses:
        row = s.as_keys_json()
        coverage = f"{row['covered_from']} → {row['covered_to']}" if row["covered_from"] else "-"
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


def cmd_keys_remove(args: argparse.Namespace) -> int:
    """Remove an account with its fills, rollups, sync state and encrypted credentials."""
    from perpvol_core.services import accounts

    settings = Settings.from_env()
    store = Store.open(settings)
    try:
        accounts.remove_account(store, args.label)
    except AccountInputError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except AccountNotFound as exc:
        return _fail(str(exc))
    finally:
        store.close()
    print(f"removed account {args.label!r} with its fills and credentials")
    return 0


def cmd_keys_rotate_master(args: argparse.Namespace) -> int:
    """Re-encrypt every credential under a fresh master key (crash-safe key file replacement)."""
    settings = Settings.from_env()
    store = Store.open(settings)
    new_key_file = Path(args.new_key_file).expanduser() if args.new_key_file else None
    try:
        path, count = rotate_master_key(settings, store, new_key_file)
    except (VaultError, ConfigError) as exc:
        return _fail(str(exc))
    finally:
        store.close()
    print(f"re-encrypted {count} credential(s) under a new master key, stored in {path}")
    if new_key_file is not None:
        var = "PERPVOL_MASTER_KEY_FILE" if settings.master_key is None else "PERPVOL_MASTER_KEY(_FILE)"
        print(f"now set {var} to use {path} (the old key no longer opens this database)")
    return 0
