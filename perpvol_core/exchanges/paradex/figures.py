"""The volume figures Paradex reports about an account (``paradex-api.md`` §3.3, §9).

* ``GET /v1/account/info`` ``volume_tiers[kind].volume``: the traded volume over the tier window (14 days),
  counting the main account **and all its subaccounts**. The window's exact edges are not documented:
  fork ``tier window``, readings ``rolling 14 × 24 h`` (ending when the answer was given) and
  ``14 UTC days`` (today's part included). Kept by the sync in ``exchange_report["volume"]``.
* ``GET /v1/account/history?type=volume``: ``{data: [number], timestamps: [int]}``. Its granularity, range
  and whether it is cumulative are UNCONFIRMED: fork ``volume series``, readings ``daily`` (a point per UTC
  day, that day's volume), ``hourly`` (a point per hour, summed here into UTC days) and ``cumulative`` (a
  running total at each point: a day's volume is the step from the point before). Timestamps in seconds
  are read as well as milliseconds.
* ``GET /v1/account/subaccounts``: the account's subaccounts (what the tier window also counts).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from decimal import Decimal
from typing import Any

from perpvol_core.exchanges._errors import ExchangeError
from perpvol_core.exchanges._figures import FigureSource, ReportedFigure, utc_day_window
from perpvol_core.exchanges.paradex.identity import _address
from perpvol_core.money import canonical_decimal, to_decimal
from perpvol_core.timeutil import MS_PER_DAY

log = logging.getLogger(__name__)

HISTORY = "/v1/account/history"
SUBACCOUNTS = "/v1/account/subaccounts"
HOUR_MS = 3_600_000
TIER_FORK = "tier window"
SERIES_FORK = "volume series"


def _money(value: Any) -> str | None:
    try:
        return canonical_decimal(to_decimal(value))
    except (TypeError, ValueError, ArithmeticError):
        return None


def _ms(value: Any) -> int | None:
    """A timestamp in ms (one below 10^11 is read as seconds); None when it is not an integer."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number * 1000 if 0 < number < 100_000_000_000 else number


def series_points(payload: Any) -> list[tuple[int, str]]:
    """``(ts_ms, value)`` of a ``/v1/account/history`` answer, ascending; unreadable points are left out."""
    if not isinstance(payload, dict):
        return []
    data, stamps = payload.get("data"), payload.get("timestamps")
    if not isinstance(data, list) or not isinstance(stamps, list):
        return []
    out = {}
    for raw_ts, raw_value in zip(stamps, data, strict=False):
        ts, value = _ms(raw_ts), _money(raw_value)
        if ts is not None and value is not None:
            out[ts] = value
    return sorted(out.items())


class ParadexFigures(FigureSource):
    forks = {
        TIER_FORK: ("rolling 14 × 24 h", "14 UTC days"),
        SERIES_FORK: ("daily", "hourly", "cumulative"),
    }

    def is_spot(self, market: str) -> bool:
        """Spot markets are ``<BASE>-<QUOTE>`` (two parts); perps end in ``-PERP``, options carry a strike."""
        return market.count("-") == 1

    def fetch(self, connector: Any) -> dict[str, Any]:
        """The volume series and the subaccounts (a failing subaccounts list is left out, not fatal)."""
        before = int(connector.clock() * 1000)
        series = connector.request("GET", HISTORY, params={"type": "volume"}, endpoint="private")
        after = int(connector.clock() * 1000)
        subaccounts: list[str] | None = None
        try:
            subs = connector.request("GET", SUBACCOUNTS, endpoint="private")
            rows = subs.get("results") if isinstance(subs, dict) else None
            subaccounts = [str(r["account"]) for r in rows or [] if isinstance(r, dict) and r.get("account")]
        except ExchangeError as exc:
            log.info("Paradex subaccounts not read: %s", type(exc).__name__)
        return {"series": [[ts, v] for ts, v in series_points(series)], "series_from_ms": before,
                "series_ms": after, "subaccounts": subaccounts}  # fmt: skip

    def figures(self, report: dict[str, Any]) -> list[ReportedFigure]:
        return self._tier_window(report) + self._series(report.get("figures") or {})

    def _tier_window(self, report: dict[str, Any]) -> list[ReportedFigure]:
        fetched = report.get("fetched_ms")
        if not isinstance(fetched, int):
            return []
        out = []
        for kind, entry in (report.get("volume") or {}).items():
            value = _money(entry.get("volume")) if isinstance(entry, dict) else None
            day_start = fetched - fetched % MS_PER_DAY
            for reading, start in (("rolling 14 × 24 h", fetched - 14 * MS_PER_DAY),
                                   ("14 UTC days", day_start - 13 * MS_PER_DAY)):  # fmt: skip
                out.append(ReportedFigure(
                    key=f"tier_window:{kind}", label=f"14-day tier volume ({kind})", period="window",
                    start_ms=start, end_ms=fetched + 1, scope="account_and_subaccounts",
                    value=Decimal(value) if value is not None else None,
                    source="/v1/account/info volume_tiers", fork=TIER_FORK, reading=reading,
                ))  # fmt: skip
        return out

    def _series(self, doc: dict[str, Any]) -> list[ReportedFigure]:
        points = [(int(ts), Decimal(v)) for ts, v in doc.get("series") or []]
        until = doc.get("series_ms")
        if not points or not isinstance(until, int):
            return []
        until += 1
        src = "/v1/account/history?type=volume"
        out: list[ReportedFigure] = []

        def day_figure(reading: str, ts: int, value: Decimal, start: int | None = None, end: int | None = None,
                       key: str | None = None) -> ReportedFigure:  # fmt: skip
            day, d_start, d_end = utc_day_window(ts, until)
            return ReportedFigure(
                key=key or f"series:{day}", label=f"volume series, {day}", period="day", day=day,
                start_ms=d_start if start is None else start, end_ms=d_end if end is None else end,
                value=value, source=src, fork=SERIES_FORK, reading=reading,
            )

        # daily: one point per UTC day, that day's volume
        for ts, value in points:
            out.append(day_figure("daily", ts, value, key=f"series:{utc_day_window(ts)[0]}:{ts}"))
        # hourly: points summed into UTC days, over the hours the series covers
        by_day: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
        for ts, value in points:
            by_day[ts - ts % MS_PER_DAY].append((ts, value))
        for day_ms, rows in sorted(by_day.items()):
            first, last = rows[0][0], rows[-1][0]
            total = sum((v for _ts, v in rows), Decimal(0))
            out.append(day_figure("hourly", day_ms, total, start=first, end=min(last + HOUR_MS, until,
                                                                                  day_ms + MS_PER_DAY)))
        # cumulative: a running total through each point's UTC day
        for (_ts0, v0), (ts1, v1) in zip(points, points[1:], strict=False):
            out.append(day_figure("cumulative", ts1, v1 - v0))
        ts_first, v_first = points[0]
        _day, _s, first_end = utc_day_window(ts_first, until)
        out.append(ReportedFigure(
            key="series:through-first-day", label=f"volume series, all time through {_day}", period="all_time",
            start_ms=None, end_ms=first_end, value=v_first, source=src, fork=SERIES_FORK, reading="cumulative",
        ))  # fmt: skip
        return out

    def subaccounts(self, report: dict[str, Any]) -> list[str] | None:
        """The subaccounts' addresses, spelled as the account's identity is (``identity._address``)."""
        subs = (report.get("figures") or {}).get("subaccounts")
        if not isinstance(subs, list):
            return None
        return [a for a in (_address(s) for s in subs) if a is not None]


SOURCE = ParadexFigures()
