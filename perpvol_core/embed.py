"""Read-only embed links: random revocable tokens stored hashed, and the aggregate-only embed payload.

``perpvol embed create|list|revoke`` are the ``cmd_embed_*`` handlers. A token is shown once at
creation (``secrets.token_urlsafe``); the store keeps only its SHA-256. The payload of
:func:`embed_payload` holds aggregate totals only (no fill, market, account, label or key data) and
never touches the vault.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from perpvol_core.config import Settings

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{16,200}$")
TOKEN_BYTES = 24


def new_token() -> str:
    """A fresh random embed token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token: the only form the store keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def plausible_token(token: str) -> bool:
    """True when ``token`` has the shape of an embed token (cheap check before a lookup)."""
    return bool(_TOKEN_RE.match(token or ""))


def lookup(store: Any, token: str) -> Any | None:
    """The active (unrevoked) embed token row for ``token``, or ``None`` (malformed, unknown or revoked)."""
    if not plausible_token(token):
        return None
    row = store.find_embed_token(hash_token(token))
    if row is None:
        return None
    if _field(row, "revoked_ms") is not None:
        return None
    return row


def _field(row: Any, name: str) -> Any:
    if isinstance(row, dict):
        return row.get(name)
    return getattr(row, name, None)


def _dec(value: Any) -> str:
    from perpvol_core.store.models import canonical_decimal

    return canonical_decimal(value if isinstance(value, Decimal) else Decimal(str(value)))


def embed_payload(store: Any, now_ms: int | None = None) -> dict[str, Any]:
    """Aggregate figures only: ``{"generated_at", "totals": {24h, 7d, 30d, all}, "by_exchange": {...}}``.

    Values are decimal strings. Raises whatever the store raises when the database is unreachable.
    """
    from perpvol_core import volume

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    summary = volume.summary(store, now_ms=now_ms)
    totals = {str(k): _dec(v) for k, v in (summary.get("totals") or {}).items()}
    by_exchange = {
        str(ex): {str(k): _dec(v) for k, v in (vals or {}).items()}
        for ex, vals in (summary.get("by_exchange") or {}).items()
    }
    generated = datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"generated_at": generated, "totals": totals, "by_exchange": by_exchange}


# -- command line ---------------------------------------------------------------------------------
def _open_store() -> Any:
    from perpvol_core.store import Store

    return Store.open(Settings.from_env())


def cmd_embed_create(args: argparse.Namespace) -> int:
    """``perpvol embed create [--name N]``: print a new token once (only its hash is stored)."""
    store = _open_store()
    name = (getattr(args, "name", None) or "embed").strip()[:100] or "embed"
    token = new_token()
    row = store.add_embed_token(name, hash_token(token))
    token_id = _field(row, "id") if row is not None and not isinstance(row, int) else row
    print(f"embed token {token_id} ({name}) created; shown only once:")
    print(f"  token: {token}")
    print(f"  widget: /embed/{token}")
    print(f"  json:   /embed/{token}.json")
    print(f"revoke with: perpvol embed revoke {token_id}")
    return 0


def cmd_embed_list(args: argparse.Namespace) -> int:
    """``perpvol embed list``: id, name, created and revoked times (never a token or its hash)."""
    store = _open_store()
    rows = store.list_embed_tokens()
    if getattr(args, "json", False):
        out = [
            {
                "id": _field(r, "id"),
                "name": _field(r, "name"),
                "created_ms": _field(r, "created_ms"),
                "revoked_ms": _field(r, "revoked_ms"),
            }
            for r in rows
        ]
        print(json.dumps(out))
        return 0
    if not rows:
        print("no embed tokens")
        return 0
    print(f"{'id':>4}  {'name':<24} {'created (UTC)':<20} status")
    for r in rows:
        created = _fmt_ms(_field(r, "created_ms"))
        revoked = _field(r, "revoked_ms")
        status = f"revoked {_fmt_ms(revoked)}" if revoked is not None else "active"
        print(f"{_field(r, 'id'):>4}  {str(_field(r, 'name'))[:24]:<24} {created:<20} {status}")
    return 0


def cmd_embed_revoke(args: argparse.Namespace) -> int:
    """``perpvol embed revoke ID``: the token stops working at once. Exit 1 when the id is unknown."""
    try:
        token_id = int(args.token_id)
    except (TypeError, ValueError):
        print(f"perpvol: error: not a token id: {args.token_id!r}", file=sys.stderr)
        return 2
    store = _open_store()
    ok = store.revoke_embed_token(token_id)
    if ok is False:
        print(f"perpvol: error: no embed token with id {token_id}", file=sys.stderr)
        return 1
    print(f"embed token {token_id} revoked")
    return 0


def _fmt_ms(ms: Any) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
