"""The accounts repository: one row per exchange account, its encrypted credentials (the vault's ciphertext),
status, identity, and JSON documents (``server_profile``, ``verification``, ``exchange_report``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from perpvol_core import timeutil
from perpvol_core.security.redaction import redact
from perpvol_core.store import conflicts, volume_totals
from perpvol_core.store import models as m
from perpvol_core.store.db import Database
from perpvol_core.store.errors import AccountExists, AccountNotFound
from perpvol_core.store.fills import FillRepository
from perpvol_core.store.meta import MetaRepository

ACCOUNT_STATUSES = ("new", "ok", "syncing", "error")
ACCOUNT_DOCS = ("server_profile", "verification", "exchange_report")
#: the shape of a venue's name (``accounts.exchange`` is 20 characters wide)
_VENUE_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,19}")
KEEP: Any = object()


@dataclass
class Account:
    """One exchange account. ``credentials`` is the vault's ciphertext, never shown in a repr."""

    id: int
    label: str
    exchange: str
    base_url: str | None
    credentials: bytes = field(repr=False)
    hint: str
    status: str
    last_error: str | None
    created_ms: int
    identity: str | None = None
    server_profile: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    exchange_report: dict[str, Any] | None = None


def _json_doc(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:  # a hand-edited cell: treat as unknown rather than failing every read
        return None
    return value if isinstance(value, dict) else None


def _account(row: Any) -> Account:
    return Account(
        id=row.id, label=row.label, exchange=row.exchange, base_url=row.base_url,
        credentials=bytes(row.credentials), hint=row.hint, status=row.status, last_error=row.last_error,
        created_ms=row.created_ms, identity=row.identity, server_profile=_json_doc(row.server_profile),
        verification=_json_doc(row.verification), exchange_report=_json_doc(row.exchange_report),
    )  # fmt: skip


def _taken(label: str) -> AccountExists:
    return AccountExists(f"an account labelled {label!r} already exists (use --replace)")


class AccountRepository:
    def __init__(self, db: Database, meta: MetaRepository, fills: FillRepository) -> None:
        self.db = db
        self.meta = meta
        self.fills = fills

    def add(self, label: str, exchange: str, base_url: str | None, credentials: bytes, hint: str) -> Account:
        """Create an account with status ``new``.

        Raises:
            AccountExists: the label is taken.  ValueError: empty label, or an exchange that is not a venue's name
            (the services check it is one of the registry's; the store knows no venue).
        """
        label = label.strip()
        if not label:
            raise ValueError("label must not be empty")
        if not isinstance(exchange, str) or not _VENUE_NAME_RE.fullmatch(exchange):
            raise ValueError(f"{exchange!r} is not a venue's name (lower-case letters and digits, at most 20)")
        t = m.accounts
        try:
            with self.db.write() as conn:
                if conn.execute(sa.select(t.c.id).where(t.c.label == label)).first():
                    raise _taken(label)
                conn.execute(t.insert().values(
                    label=label, exchange=exchange, base_url=base_url, credentials=bytes(credentials), hint=hint,
                    status="new", last_error=None, created_ms=timeutil.now_ms(),
                ))  # fmt: skip
        except sa.exc.IntegrityError as exc:  # a concurrent add of the same label (PostgreSQL)
            raise _taken(label) from exc
        return self.get(label)

    def replace_credentials(self, label: str, credentials: bytes, hint: str, *, base_url: Any = KEEP) -> Account:
        """Swap the encrypted credentials (and optionally the base URL); status goes back to ``new``.

        Raises:
            AccountNotFound: no such label.
        """
        values: dict[str, Any] = {"credentials": bytes(credentials), "hint": hint, "status": "new", "last_error": None}
        if base_url is not KEEP:
            values["base_url"] = base_url
        self._update(label, values)
        return self.get(label)

    def get(self, label: str) -> Account:
        """Raises: AccountNotFound."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(m.accounts).where(m.accounts.c.label == label)).first()
        if row is None:
            raise AccountNotFound(f"no account labelled {label!r}")
        return _account(row)

    def get_by_id(self, account_id: int) -> Account:
        """Raises: AccountNotFound."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(m.accounts).where(m.accounts.c.id == account_id)).first()
        if row is None:
            raise AccountNotFound(f"no account with id {account_id}")
        return _account(row)

    def all(self) -> list[Account]:
        """All accounts, ordered by label."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(m.accounts).order_by(m.accounts.c.label)).all()
        return [_account(r) for r in rows]

    def remove(self, label: str) -> None:
        """Delete the account with its fills, rollups and sync state, in one transaction.

        Raises:
            AccountNotFound: no such label.
        """
        with self.db.write() as conn:
            account_id = conn.execute(sa.select(m.accounts.c.id).where(m.accounts.c.label == label)).scalar()
            if account_id is None:
                raise AccountNotFound(f"no account labelled {label!r}")
            self.fills.remove_account_fills(conn, account_id)
            conn.execute(m.sync_state.delete().where(m.sync_state.c.account_id == account_id))
            conflicts.forget(conn, account_id)
            volume_totals.forget(conn, account_id)
            conn.execute(m.accounts.delete().where(m.accounts.c.id == account_id))

    def set_identity(self, label: str, identity: str | None) -> Account:
        """Record the exchange's own identity of the account.

        Raises:
            AccountNotFound: no such label.  AccountExists: another label holds that identity.
        """
        t = m.accounts
        try:
            with self.db.write() as conn:
                if identity is not None:
                    same_exchange = sa.select(t.c.exchange).where(t.c.label == label).scalar_subquery()
                    other = conn.execute(
                        sa.select(t.c.label).where(t.c.identity == identity, t.c.label != label,
                                                   t.c.exchange == same_exchange)
                    ).scalar()  # fmt: skip
                    if other is not None:
                        raise AccountExists(f"this exchange account is already stored as {other!r}")
                res = conn.execute(t.update().where(t.c.label == label).values(identity=identity))
                if res.rowcount == 0:
                    raise AccountNotFound(f"no account labelled {label!r}")
        except sa.exc.IntegrityError as exc:  # a concurrent writer took the identity (PostgreSQL)
            raise AccountExists("this exchange account is already stored under another label") from exc
        return self.get(label)

    def set_doc(self, label: str, name: str, doc: dict[str, Any] | None) -> None:
        """Store one of the account's JSON documents (``server_profile``, ``verification``, ``exchange_report``).

        Raises:
            AccountNotFound: no such label.  ValueError: unknown document name.
        """
        if name not in ACCOUNT_DOCS:
            raise ValueError(f"unknown account document {name!r}")
        self._update(label, {name: None if doc is None else json.dumps(doc, sort_keys=True, default=str)})

    def set_status(self, label: str, status: str, error: str | None = None) -> None:
        """Set ``status`` (new|ok|syncing|error) and the last error, which is stored redacted.

        Raises:
            AccountNotFound: no such label.  ValueError: unknown status.
        """
        if status not in ACCOUNT_STATUSES:
            raise ValueError(f"unknown status {status!r} (expected one of {', '.join(ACCOUNT_STATUSES)})")
        self._update(label, {"status": status, "last_error": redact(error) if error else None})

    def _update(self, label: str, values: dict[str, Any]) -> None:
        with self.db.write() as conn:
            res = conn.execute(m.accounts.update().where(m.accounts.c.label == label).values(values))
            if res.rowcount == 0:
                raise AccountNotFound(f"no account labelled {label!r}")

    def rewrite_credentials(self, transform: Callable[[Any, bytes], bytes], meta: dict[str, str] | None = None) -> int:
        """Replace every account's credential blob by ``transform(row, blob)`` and set ``meta``, in ONE transaction.

        ``row`` has the account's ``label``, ``exchange`` and ``base_url`` (the vault binds blobs to them).
        Used by master-key rotation: either every blob and the check value change, or none does.
        Returns the number of accounts rewritten. Raises whatever ``transform`` raises (nothing is changed).
        """
        t = m.accounts
        with self.db.write() as conn:
            rows = conn.execute(sa.select(t.c.id, t.c.label, t.c.exchange, t.c.base_url, t.c.credentials)).all()
            for row in rows:
                new = transform(row, bytes(row.credentials))
                conn.execute(t.update().where(t.c.id == row.id).values(credentials=new))
            for key, value in (meta or {}).items():
                self.meta.put(conn, key, value)
        return len(rows)
