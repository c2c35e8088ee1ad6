"""Read-only embed links: random revocable tokens stored hashed, and the aggregate-only embed payload.

``perpvol embed create|list|revoke`` (``perpvol_cli.embed``) manage them. A token is shown once at
creation (``secrets.token_urlsafe``); the store keeps only its SHA-256. The payload of
:func:`embed_payload` holds aggregate totals only (no fill, market, account, label or key data) and
never touches the vault.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from perpvol_core import timeutil
from perpvol_core.money import canonical_decimal

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


def embed_payload(store: Any, now_ms: int | None = None) -> dict[str, Any]:
    """Aggregate figures only: ``{"generated_at", "totals": {24h, 7d, 30d, all}, "by_exchange": {...},
    "partial": {period: bool}, "note": str}``: ``partial`` marks a total that is only a lower bound (a venue
    no longer serves the start of the period), ``note`` says which venue from which day (never a label).

    Values are decimal strings. Raises whatever the store raises when the database is unreachable.
    """
    from perpvol_core.analytics import coverage, volume

    now_ms = timeutil.now_ms() if now_ms is None else now_ms
    summary = volume.summary(store, now_ms=now_ms)
    totals = {str(k): canonical_decimal(v) for k, v in (summary.get("totals") or {}).items()}
    by_exchange = {
        str(ex): {str(k): canonical_decimal(v) for k, v in (vals or {}).items()}
        for ex, vals in (summary.get("by_exchange") or {}).items()
    }
    generated = timeutil.iso_utc(now_ms)
    gaps = coverage.summary_gaps(coverage.venue_coverage(store), now_ms)
    partial = {p: bool(found) for p, found in gaps.items()}
    note = coverage.partial_note(gaps["all"] or gaps["30d"])
    return {"generated_at": generated, "totals": totals, "by_exchange": by_exchange, "partial": partial, "note": note}
