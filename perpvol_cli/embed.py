"""``perpvol embed create|list|revoke``: read-only widget links (tokens shown once, stored hashed)."""

from __future__ import annotations

import json as json_text
import sys
from typing import Any

from perpvol_core.analytics.embed import _field, hash_token, new_token
from perpvol_core.config import Settings
from perpvol_core.timeutil import datetime_of_ms


def _open_store() -> Any:
    from perpvol_core.store import Store

    return Store.open(Settings.from_env())


def cmd_embed_create(*, name: str = "embed") -> int:
    """``perpvol embed create [--name N]``: print a new token once (only its hash is stored)."""
    store = _open_store()
    name = (name or "embed").strip()[:100] or "embed"
    token = new_token()
    row = store.add_embed_token(name, hash_token(token))
    token_id = _field(row, "id") if row is not None and not isinstance(row, int) else row
    print(f"embed token {token_id} ({name}) created; shown only once:")
    print(f"  token: {token}")
    print(f"  widget: /embed/{token}")
    print(f"  json:   /embed/{token}.json")
    print(f"revoke with: perpvol embed revoke {token_id}")
    return 0


def cmd_embed_list(*, json: bool = False) -> int:
    """``perpvol embed list``: id, name, created and revoked times (never a token or its hash)."""
    store = _open_store()
    rows = store.list_embed_tokens()
    if json:
        out = [
            {
                "id": _field(r, "id"),
                "name": _field(r, "name"),
                "created_ms": _field(r, "created_ms"),
                "revoked_ms": _field(r, "revoked_ms"),
            }
            for r in rows
        ]
        print(json_text.dumps(out))
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


def cmd_embed_revoke(*, token_id: str) -> int:
    """``perpvol embed revoke ID``: the token stops working at once. Exit 1 when the id is unknown."""
    try:
        number = int(token_id)
    except (TypeError, ValueError):
        print(f"perpvol: error: not a token id: {token_id!r}", file=sys.stderr)
        return 2
    store = _open_store()
    ok = store.revoke_embed_token(number)
    if ok is False:
        print(f"perpvol: error: no embed token with id {number}", file=sys.stderr)
        return 1
    print(f"embed token {number} revoked")
    return 0


def _fmt_ms(ms: Any) -> str:
    if ms is None:
        return "-"
    return datetime_of_ms(int(ms)).strftime("%Y-%m-%d %H:%M:%S")
