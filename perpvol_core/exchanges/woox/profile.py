"""What a WOO X server does with ``/v3/trade/transactionHistory`` (the "server profile"), as a JSON document.

woox-api.md §3.1/§9 leave open whether ``page`` is honoured, ignored or rejected, the page size and what a
larger ``limit`` gets, whether ``meta`` is sent, whether ``symbol`` is required and the row order. The
connector observes each of these while it reads fills and records the reading here; the sync engine
stores it per account (``store.set_account_doc(label, "server_profile", doc)``) and hands it back on the
next sync, where it is used, and checked again: a change is noted in ``changes``, never assumed.

Keys (all optional until observed): ``page`` ``"honoured" | "ignored" | "rejected" | "unknown"``,
``page_size`` (rows per response the server grants), ``limit`` (the ``limit`` it accepts),
``limit_over_cap`` ``"clamped" | "rejected" | "unknown"``, ``meta`` (bool), ``order`` ``"desc" | "asc" |
"unknown"``, ``symbol_required`` (bool), ``detected_ms``, ``updated_ms``, ``changes``
(``[{"ms", "what"}]``, the last few), ``notes`` (plain sentences).
"""

from __future__ import annotations

import copy
from typing import Any

from perpvol_core import timeutil

PROFILE_VERSION = 1
MAX_CHANGES = 10
DELISTED_NOTE = (
    "symbol is required: fills are read per symbol (the current perpetuals of /v3/public/instruments plus every "
    "symbol already seen in this account's fills); a delisted symbol with no known fill cannot be enumerated, "
    "so its fills cannot be read"
)


def new_profile(now_ms: int | None = None) -> dict[str, Any]:
    now = timeutil.now_ms() if now_ms is None else now_ms
    return {
        "version": PROFILE_VERSION,
        "endpoint": "/v3/trade/transactionHistory",
        "page": "unknown",
        "page_size": None,
        "limit": None,
        "limit_over_cap": "unknown",
        "meta": None,
        "order": "unknown",
        "symbol_required": None,
        "detected_ms": now,
        "updated_ms": now,
        "changes": [],
        "notes": [],
    }


def copy_profile(profile: dict[str, Any] | None) -> dict[str, Any]:
    """A working copy of a stored profile (a fresh one when none or unreadable)."""
    if not isinstance(profile, dict) or profile.get("version") != PROFILE_VERSION:
        return new_profile()
    out = new_profile(profile.get("detected_ms"))
    out.update(copy.deepcopy(profile))
    return out


def observe(profile: dict[str, Any], key: str, value: Any, now_ms: int | None = None, why: str = "") -> bool:
    """Record ``key = value``; a value that differs from a known one is a change, noted with ``why``.

    Returns True when the value was different from a known one (a change of the server's behaviour).
    """
    old = profile.get(key)
    if old == value:
        return False
    now = timeutil.now_ms() if now_ms is None else now_ms
    profile[key] = value
    profile["updated_ms"] = now
    known = old not in (None, "unknown")
    if known:
        text = f"{key}: {old} -> {value}" + (f" ({why})" if why else "")
        profile["changes"] = [*profile.get("changes", []), {"ms": now, "what": text}][-MAX_CHANGES:]
    return known


def add_note(profile: dict[str, Any], note: str) -> None:
    notes = list(profile.get("notes") or [])
    if note not in notes:
        notes.append(note)
        profile["notes"] = notes


def describe_server_profile(profile: dict[str, Any] | None) -> str:
    """One line naming the reading, e.g. ``page ignored (time-window walk), 100 rows/page (limit 500 clamped),
    meta absent, newest-first, symbol optional``; ``"not yet observed"`` without a profile."""
    if not isinstance(profile, dict) or not profile:
        return "transactionHistory reading not yet observed (first sync or `keys test` records it)"
    page = profile.get("page") or "unknown"
    paging = {"honoured": "page honoured (page by page)", "ignored": "page ignored (time-window walk)",
              "rejected": "page rejected (time-window walk)"}.get(page, "page not yet observed")
    size = profile.get("page_size")
    limit = profile.get("limit")
    over = profile.get("limit_over_cap") or "unknown"
    size_text = f"{size} rows/page" if size else "page size not yet observed"
    if limit:
        size_text += f" (limit {limit}" + (f", larger {over}" if over in ("clamped", "rejected") else "") + ")"
    meta_seen, order_seen, symbol_seen = profile.get("meta"), profile.get("order"), profile.get("symbol_required")
    meta = "meta sent" if meta_seen is True else "meta absent" if meta_seen is False else "meta not yet observed"
    order = {"desc": "newest-first", "asc": "oldest-first"}.get(str(order_seen), "order not yet observed")
    symbol = ("symbol required (per-symbol sync)" if symbol_seen is True
              else "symbol optional" if symbol_seen is False else "symbol need not yet observed")
    text = f"{paging}, {size_text}, {meta}, {order}, {symbol}"
    changes = profile.get("changes") or []
    if changes:
        text += f"; last change: {changes[-1].get('what')}"
    return text
