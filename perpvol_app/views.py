"""The JSON views of the API (blocking; the routes run them in a thread): decimal strings, never floats.

Shared by the REST routes, the stream's snapshot and the tests; they read the store and the worker only.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from perpvol_core.money import canonical_decimal
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.timeutil import iso_utc, now_ms

log = logging.getLogger(__name__)


def jsonable(obj: Any) -> Any:
    """Recursively turn ``Decimal`` into decimal strings, dates into ISO text, tuples/sets into lists."""
    if isinstance(obj, Decimal):
        return canonical_decimal(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [jsonable(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, Secret):
        return obj.hint
    return obj


def account_view(acc: Any) -> dict[str, Any]:
    """Public form of an account: never the credential blob, only the masked hint."""
    get = (lambda k: acc.get(k)) if isinstance(acc, dict) else (lambda k: getattr(acc, k, None))
    last_error = get("last_error")
    return {
        "label": get("label"),
        "exchange": get("exchange"),
        "base_url": get("base_url"),
        "hint": get("hint"),
        "status": get("status"),
        "last_error": redact(last_error) if last_error else None,
        "created_ms": get("created_ms"),
    }


def accounts_payload(store: Any) -> list[dict[str, Any]]:
    """``GET /accounts``: the one account-status view (``services.status``), never a credential."""
    from perpvol_core.services.status import account_statuses

    return [
        {
            "label": s.label, "exchange": s.exchange, "base_url": s.base_url, "hint": s.hint, "status": s.status,
            "last_error": s.last_error, "created_ms": s.created_ms, "display_name": s.display_name,
            "fills": s.fills, "coverage": s.coverage, "last_success_ms": s.last_success_ms, "identity": s.identity,
            "complete_from": s.complete_from,
        }
        for s in account_statuses(store)
    ]  # fmt: skip


def range_payload(store: Any, start: date | None, end: date | None, exchange: str | None) -> dict[str, Any]:
    """``GET /volume/range``: ``volume.range_json`` of the range; an open end is the first day with volume
    or today (UTC), as ``perpvol volume --from/--to`` reads it."""
    from perpvol_core.analytics import volume

    report = volume.range_json(volume.resolve_range(store, start, end, exchange))
    start, end = date.fromisoformat(report["from"]), date.fromisoformat(report["to"])
    return {**report, "coverage": coverage_payload(store, now_ms(), start, end, exchange)}


def coverage_payload(
    store: Any, at_ms: int, start: date | None = None, end: date | None = None, exchange: str | None = None
) -> dict[str, Any]:
    """The ``coverage`` object of every volume answer (``analytics.coverage.coverage_json``); ``range`` is
    set when ``start`` or ``end`` is given (the range's own partial note)."""
    from perpvol_core.analytics import coverage

    ranged = start is not None or end is not None
    return coverage.coverage_json(coverage.venue_coverage(store, exchange), at_ms, start, end, ranged=ranged)


def summary_payload(store: Any, at_ms: int | None = None) -> dict[str, Any]:
    """``{"generated_at", "totals": {24h,7d,30d,all}, "by_exchange": {...}}`` with decimal strings."""
    from perpvol_core.analytics import volume

    s = volume.summary(store, now_ms=at_ms)  # None: the answer shared by concurrent callers for up to 1 s
    generated = now_ms() if at_ms is None else at_ms
    totals, by_exchange = jsonable(s["totals"]), jsonable(s["by_exchange"])
    return {"generated_at": iso_utc(generated), "totals": totals, "by_exchange": by_exchange,
            "coverage": coverage_payload(store, generated)}  # fmt: skip


def current_payload(store: Any, at_ms: int | None = None) -> dict[str, Any]:
    """The live 24h figure: ``generated_at``, ``as_of_ms``, ``window``, ``volume_usd``, ``by_exchange``, ``totals``."""
    s = summary_payload(store, at_ms)
    at_ms = now_ms() if at_ms is None else at_ms
    return {
        "generated_at": s["generated_at"],
        "as_of_ms": at_ms,
        "window": {"start_ms": at_ms - 86_400_000, "end_ms": at_ms},
        "volume_usd": s["totals"].get("24h", "0"),
        "by_exchange": {ex: vals.get("24h", "0") for ex, vals in s["by_exchange"].items()},
        "totals": s["totals"],
        "coverage": s["coverage"],
    }


def daily_payload(
    store: Any, start: date | None, end: date | None, exchange: str | None, market: str | None
) -> dict[str, Any]:
    """Daily rows of the JSON contract (``date, exchange, volume_usd, maker_usd, taker_usd, fees_usd, fills``).

    The rows are shared per data version by the core (``volume.daily_rows``, the store's read cache);
    ``coverage`` is read anew.
    """
    return {**_build_daily_payload(store, start, end, exchange, market),
            "coverage": coverage_payload(store, now_ms(), start, end, exchange)}  # fmt: skip


def _build_daily_payload(
    store: Any, start: date | None, end: date | None, exchange: str | None, market: str | None
) -> dict[str, Any]:
    from perpvol_core.analytics import volume

    rows = volume.daily_rows(store, start, end, exchange, market)  # shared per data version by the core
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "exchange": exchange,
        "market": market,
        "daily": rows,
    }


def sync_status_payload(ctx: Any) -> dict[str, Any]:
    """Per-account sync state from the one account-status view plus the worker's own status when there is one."""
    from perpvol_core.services.status import account_statuses

    store = ctx.store
    accounts = []
    for view in account_statuses(store):  # the one account-status view, plus the sync's own counters
        st = store.get_sync_state(view.account_id)
        state = {
            "covered_from_ms": view.covered_from_ms,
            "covered_to_ms": view.covered_to_ms,
            "progress": view.progress,
            "eta_s": view.eta_s,
            "fills_seen": st.fills_seen,
            "last_success_ms": view.last_success_ms,
            "last_error": redact(st.last_error) if st.last_error else None,
        }
        accounts.append({"label": view.label, "exchange": view.exchange, "status": view.status,
                         "last_error": view.last_error, "fills": view.fills, "coverage": view.coverage,
                         "complete_from": view.complete_from, "sync": state})  # fmt: skip
    worker_status: Any = None
    worker = ctx.worker
    if worker is not None:
        try:
            worker_status = jsonable(worker.status())
        except Exception as exc:  # noqa: BLE001
            worker_status = {"error": redact(exc)}
    return {"generated_at": iso_utc(now_ms()), "accounts": accounts, "worker": _clean_status(worker_status)}


def _clean_status(value: Any) -> Any:
    """Worker status made JSON-safe: floats kept (progress/eta are not money), strings redacted."""
    if isinstance(value, dict):
        return {str(k): _clean_status(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_status(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value)




# -- ready bytes (perpvol_app.api_cache) ------------------------------------------------------------------------
# Each answer is kept per data version (the store's read cache) and per what else it shows: the accounts'
# coverage inputs (sync state, the venue's own figures: one query, ``rollup_reads.coverage_inputs``) and the
# clock — the summary's windows per second, the coverage's periods per UTC day (they start at whole days).


def _clock_day() -> int:
    return (now_ms() + 1) // 86_400_000


def day_until_ms() -> int:
    """When the daily rows and ranges next move with the clock (their key's UTC day changes)."""
    return (_clock_day() + 1) * 86_400_000 - 1


def summary_until_ms() -> int:
    """When the summary's figures next move with the clock (its key's second changes)."""
    from perpvol_core.analytics.volume import SUMMARY_TTL_MS

    return (now_ms() // SUMMARY_TTL_MS + 1) * SUMMARY_TTL_MS


def read_state(store: Any) -> tuple[str, Any]:
    """What the volume answers read besides the clock: the data version and the coverage inputs (a key)."""
    from perpvol_core.store import rollup_reads

    return store.data_version(), rollup_reads.coverage_inputs(store)


def summary_bytes(store: Any) -> Any:
    """``GET /volume/summary`` encoded, shared within one second of the clock."""
    from perpvol_app.api_cache import cached_json
    from perpvol_app.api_models import Summary
    from perpvol_core.analytics.volume import SUMMARY_TTL_MS
    from perpvol_core.store import rollup_reads

    second, inputs = now_ms() // SUMMARY_TTL_MS, rollup_reads.coverage_inputs(store)
    return cached_json(store, "summary", (second, inputs), Summary, lambda: summary_payload(store),
                       stale_args=(second - 1, inputs))  # fmt: skip


def daily_bytes(store: Any, start: date | None, end: date | None, exchange: str | None, market: str | None) -> Any:
    """``GET /volume/daily`` encoded."""
    from perpvol_app.api_cache import cached_json
    from perpvol_app.api_models import Daily
    from perpvol_core.store import rollup_reads

    key = (start, end, exchange, market, _clock_day(), rollup_reads.coverage_inputs(store))
    return cached_json(store, "daily", key, Daily, lambda: daily_payload(store, start, end, exchange, market))


def range_bytes(store: Any, start: date | None, end: date | None, exchange: str | None) -> Any:
    """``GET /volume/range`` encoded (an open end is today, UTC: the day is in the key)."""
    from perpvol_app.api_cache import cached_json
    from perpvol_app.api_models import VolumeRange
    from perpvol_core.store import rollup_reads

    key = (start, end, exchange, _clock_day(), rollup_reads.coverage_inputs(store))
    return cached_json(store, "range", key, VolumeRange, lambda: range_payload(store, start, end, exchange))
