"""Fills that arrive with a stored identity but other content: reported per account, never swallowed.

The store keeps one fill per identity (account, exchange, fill_id, fill_type), so a page read twice changes
nothing. A fill with a stored identity whose content differs (time, market, side, liquidity, price, size, fee)
is not the same fill: an exchange that reused an id, or corrected a fill. The stored copy is kept (nothing is
overwritten unseen), and the arrival is recorded in the same transaction as the ingest, in the account's
``fill_conflicts:<account id>`` meta document (a count and the most recent ids), which the account's status
and its sync's coverage line show. Identical duplicates stay silent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from perpvol_core import timeutil
from perpvol_core.store import models as m

log = logging.getLogger(__name__)

#: what makes two fills with one identity the same fill
CONTENT = ("market", "side", "liquidity", "price", "size", "fee", "fee_asset", "ts_ms")
#: arrivals kept in the document (also what makes a re-read of one arrival count once)
RECENT = 200
IDS_SHOWN = 3
_CHUNK = 500

Key = tuple[str, str, str]


def meta_key(account_id: int) -> str:
    return f"fill_conflicts:{account_id}"


def _entry(row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {"exchange": row["exchange"], "fill_id": row["fill_id"], "fill_type": row["fill_type"], "fields": fields}


def _differs(new: dict[str, Any], old: Any) -> list[str]:
    return [c for c in CONTENT if new[c] != (old[c] if isinstance(old, dict) else getattr(old, c))]


def in_batch(rows: Sequence[dict[str, Any]]) -> tuple[dict[Key, dict[str, Any]], list[dict[str, Any]]]:
    """One row per identity (the first), and the later rows of a batch whose content differs from it."""
    unique: dict[Key, dict[str, Any]] = {}
    found = []
    for row in rows:
        key = (row["exchange"], row["fill_id"], row["fill_type"])
        first = unique.setdefault(key, row)
        if first is not row:
            fields = _differs(row, first)
            if fields:
                found.append(_entry(row, fields))
    return unique, found


def against_stored(conn: Connection, account_id: int, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``rows`` (not inserted: their identity is stored) whose content differs from the stored fill."""
    if not rows:
        return []
    t = m.fills
    wanted = {(r["exchange"], r["fill_id"], r["fill_type"]): r for r in rows}
    found = []
    ids = sorted({r["fill_id"] for r in rows})
    for start in range(0, len(ids), _CHUNK):
        q = sa.select(t).where(t.c.account_id == account_id, t.c.fill_id.in_(ids[start : start + _CHUNK]))
        for stored in conn.execute(q):
            new = wanted.get((stored.exchange, stored.fill_id, stored.fill_type))
            if new is not None:
                fields = _differs(new, stored)
                if fields:
                    found.append(_entry(new, fields))
    return found


def record(
    conn: Connection, account_id: int, found: list[dict[str, Any]], put_meta: Callable[[Connection, str, str], None]
) -> None:
    """Add ``found`` to the account's document (inside the ingest's transaction) and log each id."""
    if not found:
        return
    key = meta_key(account_id)
    text = conn.execute(sa.select(m.meta.c.value).where(m.meta.c.key == key)).scalar()
    doc = parse(text) or {"count": 0, "recent": []}
    recent = [r for r in doc.get("recent") or [] if isinstance(r, dict)]
    known = {_identity(r) for r in recent}
    fresh = []
    for f in found:  # the same arrival read again (an overlapping page) is counted once
        if _identity(f) not in known:
            known.add(_identity(f))
            fresh.append({**f, "seen_ms": timeutil.now_ms()})
            log.warning("account %s: fill %s %s arrived again with other %s; the stored copy is kept",
                        account_id, f["exchange"], f["fill_id"], ", ".join(f["fields"]))  # fmt: skip
    if not fresh:
        return
    doc["count"] = int(doc.get("count") or 0) + len(fresh)
    doc["recent"] = [*recent, *fresh][-RECENT:]
    put_meta(conn, key, json.dumps(doc, sort_keys=True))


def _identity(entry: dict[str, Any]) -> tuple[Any, ...]:
    return entry.get("exchange"), entry.get("fill_id"), entry.get("fill_type"), tuple(entry.get("fields") or ())


def forget(conn: Connection, account_id: int) -> None:
    """Drop the account's document (the account is removed)."""
    conn.execute(m.meta.delete().where(m.meta.c.key == meta_key(account_id)))


def parse(text: str | None) -> dict[str, Any] | None:
    """The stored document, or None (none, or unreadable: a hand-edited cell is ignored, never raised)."""
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("recent", []), list):
        return None
    return doc


def warning(store: Any, account_id: int) -> str | None:
    """The account's warning for people, naming the ids (None when no fill ever conflicted)."""
    doc = parse(store.get_meta(meta_key(account_id)))
    if not doc or not doc.get("count"):
        return None
    recent = [r for r in doc.get("recent") or [] if isinstance(r, dict)]
    ids = ", ".join(f"{r.get('fill_id')} ({'/'.join(r.get('fields') or [])})" for r in recent[-IDS_SHOWN:])
    return (
        f"{doc['count']} fill(s) arrived with the id of a stored fill but other content, e.g. {ids}; the stored "
        "copies are kept: `perpvol verify` compares them with what the exchange lists now"
    )


def note(store: Any, account_id: int) -> str:
    """What a sync's coverage line adds ('' when no fill ever conflicted)."""
    text = warning(store, account_id)
    return f". WARNING: {text}" if text else ""
