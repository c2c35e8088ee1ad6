"""Paradex's fee schedule for one account: its published tables (``GET /v1/system/volume-tiers``, retail and
pro, §9) and what ``GET /v1/account/info`` reports of the account (``volume_tiers[kind]``: tier and 14-day
volume; ``fees``: maker and taker rates). Plain data for ``perpvol_core.analytics.fee_schedule``.

Which ``volume_tiers`` kinds appear is UNCONFIRMED: any reported kind is read, and the kind whose table
carries the account's reported rates (else the first reported) is the account's. The names of the rates
inside a table row's ``fee_rates`` are not documented: ``taker_rate``/``maker_rate`` and the ``perp_``
forms are read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from perpvol_core.exchanges.paradex.auth import jwt_claims
from perpvol_core.exchanges.paradex.credentials import ParadexL2Credentials
from perpvol_core.exchanges.paradex.parse import parse_account_info, parse_volume_tiers
from perpvol_core.exchanges.paradex.rest import ACCOUNT_INFO, VOLUME_TIERS

MS_PER_DAY = 86_400_000
_TAKER = ("taker_rate", "perp_taker_rate", "taker")
_MAKER = ("maker_rate", "perp_maker_rate", "maker")


def _rate(rates: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        if rates.get(name) not in (None, ""):
            return str(rates[name])
    return None


def _tables(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    tables = []
    for kind, tiers in sorted(by_kind.items(), key=lambda kv: (kv[0] != "retail", kv[0])):
        days = max(1, int(tiers[0]["duration_ms"]) // MS_PER_DAY)
        tables.append({
            "kind": kind, "window_days": days, "published": True, "above": False,
            "tiers": [{"name": t["tier_name"], "min_volume": t["min_volume"],
                       "nft_min_volume": t.get("nft_min_volume"),
                       "taker_rate": _rate(t.get("fee_rates") or {}, _TAKER),
                       "maker_rate": _rate(t.get("fee_rates") or {}, _MAKER)} for t in tiers],
        })  # fmt: skip
    return tables


def _account_kind(info: dict[str, Any], tables: list[dict[str, Any]], taker: str | None) -> tuple[str | None, str]:
    reported = [k for k in info.get("volume", {}) if any(t["kind"] == k for t in tables)]
    if not reported:
        return (tables[0]["kind"] if tables else None), "no reported volume kind has a table: the first table is shown"
    for kind in reported:
        table = next(t for t in tables if t["kind"] == kind)
        tier = info["volume"][kind].get("tier")
        row = next((r for r in table["tiers"] if r["name"] == tier), None)
        if len(reported) == 1 or (
            row is not None
            and taker is not None
            and row["taker_rate"] is not None
            and Decimal(row["taker_rate"]) == Decimal(taker)
        ):
            why = "the only kind reported" if len(reported) == 1 else "its tier's taker rate is the account's"
            return kind, f"volume_tiers reports {', '.join(reported)}; the {kind} table applies ({why})"
    return reported[0], f"volume_tiers reports {', '.join(reported)}; the first ({reported[0]}) is shown"


def fee_schedule(connector: Any, report: dict[str, Any] | None) -> dict[str, Any]:
    """The schedule from a fresh ``exchange_report`` (no request) or from the two endpoints.

    Raises ExchangeError (BadPayload for an unreadable answer).
    """
    if report and report.get("tiers") and report.get("volume"):
        rows, info, fetched = list(report["tiers"]), report, int(report.get("fetched_ms") or 0)
    else:
        rows = parse_volume_tiers(connector._public_get(VOLUME_TIERS))
        payload = connector.request("GET", ACCOUNT_INFO, endpoint="private")
        creds = connector.credentials
        address = (
            creds.account if isinstance(creds, ParadexL2Credentials) else jwt_claims(creds.token.reveal()).get("sub")
        )
        info = parse_account_info(payload, str(address) if address else None)
        fetched = int(connector.clock() * 1000)
    tables = _tables(rows)
    fees = info.get("fees") or {}
    taker, maker = _rate(fees, _TAKER), _rate(fees, _MAKER)
    kind, reading = _account_kind(info, tables, taker)
    entry = (info.get("volume") or {}).get(kind or "") or {}
    return {
        "source": f"{VOLUME_TIERS} + {ACCOUNT_INFO}",
        "fetched_ms": fetched,
        "tables": tables,
        "account_kind": kind,
        "reported_tier": entry.get("tier") or None,
        "reported_volume": entry.get("volume"),
        "taker_rate": taker,
        "maker_rate": maker,
        "readings": [reading],
        "note": "Paradex's tier volume covers the main account and all its subaccounts.",
    }
