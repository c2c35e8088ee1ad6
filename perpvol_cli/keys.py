"""``perpvol keys add|list|remove|rotate-master``: credentials in, masked hints out.

Secrets come only from stdin (``--api-secret-stdin``, ``--token-stdin``, ``--l2-key-stdin``) or a getpass
prompt on a terminal; they go straight into a :class:`Secret` and through the vault, never to output.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from perpvol_core.config import ConfigError, Settings
from perpvol_core.security.credentials import (
    Credentials,
    ParadexL2Credentials,
    ParadexTokenCredentials,
    WooxCredentials,
)
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.security.vault import Vault, VaultError, rotate_master_key
from perpvol_core.store import Account, AccountExists, AccountNotFound, Store, StoreError

_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_HEX_RE = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
EXIT_USAGE = 2
EXIT_REJECTED = 3


class UsageError(Exception):
    """Bad command-line input; the message tells the user what to type instead."""


def _fail(message: str, code: int = 1) -> int:
    print(f"perpvol: error: {redact(message)}", file=sys.stderr)
    return code


def _read_secret(what: str, from_stdin: bool) -> Secret:
    """One secret from stdin (when asked) or a hidden prompt on a terminal. Raises: UsageError."""
    if from_stdin:
        value = sys.stdin.read().strip()
    elif sys.stdin.isatty():
        value = getpass.getpass(f"{what}: ").strip()
    else:
        raise UsageError(f"no {what} given: pipe it on stdin with the matching --…-stdin flag")
    if not value:
        raise UsageError(f"the {what} is empty")
    if any(ch.isspace() for ch in value):
        raise UsageError(f"the {what} contains whitespace; paste only the value")
    return Secret(value)


def _credentials_from_args(args: argparse.Namespace) -> Credentials:
    """Build typed credentials from the flags, validating their shapes. Raises: UsageError."""
    if args.exchange == "woox":
        if args.token_stdin or args.account or args.l2_key_stdin:
            raise UsageError("WOO X takes --api-key and --api-secret-stdin only")
        api_key = (args.api_key or "").strip()
        if not api_key:
            raise UsageError("WOO X needs --api-key KEY (the public part) and the secret on stdin")
        if any(ch.isspace() for ch in api_key):
            raise UsageError("--api-key contains whitespace")
        return WooxCredentials(api_key=api_key, api_secret=_read_secret("WOO X API secret", args.api_secret_stdin))
    if args.api_key or args.api_secret_stdin:
        raise UsageError("Paradex takes --token-stdin, or --account 0x… with --l2-key-stdin")
    if args.token_stdin and (args.account or args.l2_key_stdin):
        raise UsageError("give either --token-stdin or --account with --l2-key-stdin, not both")
    if args.account or args.l2_key_stdin:
        account = (args.account or "").strip()
        if not _HEX_RE.match(account):
            raise UsageError("--account must be the Paradex account address as 0x-hex (e.g. 0x1a2b…)")
        l2_key = _read_secret("Paradex L2 private key", args.l2_key_stdin)
        if not _HEX_RE.match(l2_key.reveal()):
            raise UsageError("the Paradex L2 private key must be 0x-hex")
        return ParadexL2Credentials(account=account.lower(), l2_key=l2_key)
    return ParadexTokenCredentials(token=_read_secret("Paradex read-only token", args.token_stdin))


def _check_label(label: str) -> str:
    label = label.strip()
    if not _LABEL_RE.match(label):
        raise UsageError("--label must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit)")
    return label


def _check_base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    base_url = base_url.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", base_url):
        raise UsageError("--base-url must be an http(s) URL, e.g. https://api.staging.woox.io")
    return base_url


def _test_credentials(creds: Credentials, base_url: str | None) -> str:
    """Ask the exchange whether the credentials work; returns its short identity string.

    Raises: perpvol_core.exchanges._http.ExchangeError (and subclasses) with a user-facing message.
    """
    from perpvol_core.services.sync import test_credentials

    return str(test_credentials(creds, base_url))


def _exchange_errors() -> tuple[type[BaseException], ...]:
    from perpvol_core.exchanges import ExchangeError

    return (ExchangeError,)


def cmd_keys_add(args: argparse.Namespace) -> int:
    """Validate, test against the exchange (unless --no-test), encrypt and save credentials."""
    try:
        label = _check_label(args.label)
        base_url = _check_base_url(args.base_url)
        creds = _credentials_from_args(args)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    settings = Settings.from_env()
    store = Store.open(settings)
    try:
        vault = Vault.open(settings, store)
        existing = _existing(store, label)
        if existing is not None and not args.replace:
            return _fail(f"an account labelled {label!r} already exists (add --replace to replace its credentials)")
        if existing is not None and existing.exchange != args.exchange:
            return _fail(f"{label!r} is a {existing.exchange} account; remove it first to reuse the label")
        identity = ""
        if not args.no_test:
            try:
                test_url = base_url or (existing.base_url if existing else None)
                identity = _test_credentials(creds, test_url)
            except _exchange_errors() as exc:
                return _fail(f"credentials not saved: {exc}", EXIT_REJECTED)
        # the blob is bound to the label, exchange and the URL the row will hold (the vault's associated data)
        blob = vault.encrypt(creds, label=label, base_url=base_url if base_url is not None or existing is None
                             else existing.base_url)
        if existing is not None:
            account = store.replace_credentials(
                label, blob, creds.hint, **({"base_url": base_url} if base_url is not None else {})
            )
            verb = "replaced credentials of"
        else:
            account = store.add_account(label, args.exchange, base_url, blob, creds.hint)
            verb = "added"
    except (AccountExists, StoreError, VaultError, ConfigError) as exc:
        return _fail(str(exc))
    finally:
        store.close()
    suffix = f", verified as {redact(identity)}" if identity else (", not tested" if args.no_test else "")
    print(f"{verb} {account.exchange} account {account.label!r} ({account.hint}){suffix}")
    return 0


def _existing(store: Store, label: str) -> Account | None:
    try:
        return store.get_account(label)
    except AccountNotFound:
        return None


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()


def _account_rows(store: Store) -> list[dict[str, object]]:
    rows = []
    for account in store.list_accounts():
        state = store.get_sync_state(account.id)
        rows.append(
            {
                "label": account.label,
                "exchange": account.exchange,
                "status": account.status,
                "hint": account.hint,
                "base_url": account.base_url,
                "last_sync": _iso(state.last_success_ms),
                "covered_from": _day(state.covered_from_ms),
                "covered_to": _day(state.covered_to_ms),
                "fills": store.fill_count(account.id),
                "last_error": account.last_error,
            }
        )
    return rows


def cmd_keys_list(args: argparse.Namespace) -> int:
    """List accounts with a masked hint only (``--json`` for scripts)."""
    settings = Settings.from_env()
    store = Store.open(settings)
    try:
        rows = _account_rows(store)
    finally:
        store.close()
    if args.json:
        print(redact(json.dumps(rows)))
        return 0
    if not rows:
        print("no accounts yet: add one with `perpvol keys add woox|paradex --label NAME …`")
        return 0
    header = ("LABEL", "EXCHANGE", "STATUS", "HINT", "LAST SYNC", "COVERAGE", "FILLS")
    table = [header]
    for row in rows:
        coverage = f"{row['covered_from']} → {row['covered_to']}" if row["covered_from"] else "-"
        table.append(
            (
                str(row["label"]),
                str(row["exchange"]),
                str(row["status"]),
                str(row["hint"]),
                str(row["last_sync"] or "never"),
                coverage,
                str(row["fills"]),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print(redact("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()))
    for row in rows:
        if row["last_error"]:
            print(redact(f"{row['label']}: last error: {row['last_error']}"))
    return 0


def cmd_keys_remove(args: argparse.Namespace) -> int:
    """Remove an account with its fills, rollups, sync state and encrypted credentials."""
    settings = Settings.from_env()
    store = Store.open(settings)
    try:
        store.remove_account(args.label)
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
