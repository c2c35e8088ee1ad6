"""The volume figures Hyperliquid reports about an address (``hyperliquid-api.md`` §4), from the stored
``exchange_report`` (:mod:`.report`) plus the address's sub-accounts (``subAccounts``).

* ``userFees.dailyUserVlm``: per UTC day ``userCross`` and ``userAdd``. Two meanings are UNCONFIRMED and
  given as one fork, ``dailyUserVlm``: whether the pair is taker/maker (the notes' strong reading; else
  only the day's total is compared) and whether spot volume is in it, once or twice (F22). Each reading
  is a set of figures; the reconciliation keeps the one the data fits.
* ``portfolio`` ``perpAllTime.vlm`` (all time, perps) and ``perpDay.vlm``, whose "day" is the last 24 h or
  the UTC day so far (F23, fork ``perpDay``).

* ``userRateLimit.cumVlm``: the address's cumulative traded volume since it started (§4.3); whether spot is
  in it is UNCONFIRMED (fork ``cumVlm``: perps only, or spot counted once).

Whether the address's sub-accounts are in these figures is UNCONFIRMED too (F22): when the venue lists
sub-accounts of the address, every figure is also given with the scope "address and its sub-accounts" (its
reading ends in ``SUBS``; the unforked all-time figure gets the fork ``portfolio scope``), compared with the
address plus the sub-accounts added to perpvol.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from perpvol_core.exchanges._figures import FigureSource, ReportedFigure
from perpvol_core.exchanges.hyperliquid.parse import is_spot
from perpvol_core.timeutil import MS_PER_DAY, ms_of_datetime

DAILY_FORK = "dailyUserVlm"
DAY_FORK = "perpDay"
CUM_FORK = "cumVlm"
SCOPE_FORK = "portfolio scope"
SUBS = "; sub-accounts included"
_SPOT = {0: "perps only", 1: "spot once", 2: "spot twice"}
_SPLIT = {True: "userCross/userAdd = taker/maker", False: "total only"}


def _reading(spot: int, split: bool) -> str:
    return f"{_SPOT[spot]}; {_SPLIT[split]}"


def _day_start(date: str) -> int | None:
    try:
        return ms_of_datetime(datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC))
    except ValueError:
        return None


def _dec(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None


class HyperliquidFigures(FigureSource):
    forks = {
        DAILY_FORK: tuple(_reading(spot, split) for split in (True, False) for spot in (0, 1, 2)),
        DAY_FORK: ("rolling 24 h", "UTC day"),
        CUM_FORK: ("perps only", "spot once"),
        SCOPE_FORK: ("address only", "address only" + SUBS),
    }

    def is_spot(self, market: str) -> bool:
        return is_spot(market)

    def fetch(self, connector: Any) -> dict[str, Any]:
        """The address's sub-accounts (``subAccounts``: a list, or null when it has none) and ``cumVlm``
        (``userRateLimit``) with the time it was read."""
        user = connector.credentials.address
        subs = connector.info({"type": "subAccounts", "user": user})
        rows = subs if isinstance(subs, list) else []
        limits = connector.info({"type": "userRateLimit", "user": user})
        cum = _dec(limits.get("cumVlm")) if isinstance(limits, dict) else None
        return {"subaccounts": [str(r["subAccountUser"]).lower() for r in rows
                                if isinstance(r, dict) and r.get("subAccountUser")],
                "cum_vlm": str(cum) if cum is not None else None,
                "cum_vlm_ms": int(connector.clock() * 1000)}  # fmt: skip

    def subaccounts(self, report: dict[str, Any]) -> list[str] | None:
        subs = (report.get("figures") or {}).get("subaccounts")
        return [str(s) for s in subs] if isinstance(subs, list) else None

    def figures(self, report: dict[str, Any]) -> list[ReportedFigure]:
        fetched = report.get("fetched_ms")
        if not isinstance(fetched, int):
            return []
        until = fetched + 1
        out: list[ReportedFigure] = []
        src = "/info userFees dailyUserVlm"
        for row in report.get("daily") or []:
            start = _day_start(str(row.get("date")))
            if start is None or start >= until:
                continue
            end = min(start + MS_PER_DAY, until)
            day = str(row["date"])
            values = {"volume": _dec(row.get("total")), "taker_volume": _dec(row.get("taker")),
                      "maker_volume": _dec(row.get("maker"))}  # fmt: skip
            for split in (True, False):
                for spot in (0, 1, 2):
                    metrics = ("volume", "taker_volume", "maker_volume") if split else ("volume",)
                    for metric in metrics:
                        what = {"volume": "volume", "taker_volume": "userCross (taker)",
                                "maker_volume": "userAdd (maker)"}[metric]  # fmt: skip
                        out.append(ReportedFigure(
                            key=f"daily:{day}:{metric}", label=f"daily {what}, {day}", metric=metric,  # type: ignore[arg-type]
                            period="day", day=day, start_ms=start, end_ms=end, value=values[metric],
                            spot_factor=spot, source=src, fork=DAILY_FORK, reading=_reading(spot, split),
                        ))  # fmt: skip
        all_time = _dec(report.get("perp_all_time_volume"))
        if report.get("perp_all_time_volume") is not None:
            out.append(ReportedFigure(
                key="portfolio:perpAllTime", label="perp volume, all time", period="all_time", end_ms=until,
                value=all_time, source="/info portfolio perpAllTime.vlm",
            ))  # fmt: skip
        doc = report.get("figures") or {}
        if doc.get("cum_vlm") is not None and isinstance(doc.get("cum_vlm_ms"), int):
            for spot, reading in ((0, "perps only"), (1, "spot once")):
                out.append(ReportedFigure(
                    key="userRateLimit:cumVlm", label="cumulative volume (cumVlm)", period="all_time",
                    end_ms=doc["cum_vlm_ms"] + 1, value=_dec(doc["cum_vlm"]), spot_factor=spot,
                    source="/info userRateLimit cumVlm", fork=CUM_FORK, reading=reading,
                ))  # fmt: skip
        day_value = _dec(report.get("perp_day_volume"))
        if report.get("perp_day_volume") is not None:
            for reading, start in (("rolling 24 h", fetched - MS_PER_DAY), ("UTC day", fetched - fetched % MS_PER_DAY)):
                out.append(ReportedFigure(
                    key="portfolio:perpDay", label="perp volume, day", period="window", start_ms=start,
                    end_ms=until, value=day_value, source="/info portfolio perpDay.vlm", fork=DAY_FORK,
                    reading=reading,
                ))  # fmt: skip
        if self.subaccounts(report):
            out = self._with_subaccounts(out)
        return out

    @staticmethod
    def _with_subaccounts(figures: list[ReportedFigure]) -> list[ReportedFigure]:
        """Each figure under both scopes: the address only, and the address with its sub-accounts."""
        out = []
        for fig in figures:
            fork, reading = (fig.fork, fig.reading) if fig.fork else (SCOPE_FORK, "address only")
            out.append(fig.model_copy(update={"fork": fork, "reading": reading}))
            out.append(fig.model_copy(update={"fork": fork, "reading": reading + SUBS,
                                              "scope": "account_and_subaccounts"}))  # fmt: skip
        return out


SOURCE = HyperliquidFigures()
