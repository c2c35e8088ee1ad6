"""The figures a venue reports about an account's volume, in one typed shape for every venue.

A venue that reports figures names a :class:`FigureSource` in its spec (``reported_figures``,
``"module:SOURCE"``). After a sync the source's :meth:`FigureSource.fetch` reads the venue's answers (kept
with the account's ``exchange_report`` as ``figures``, plain JSON), and :meth:`FigureSource.figures` turns
that stored document into :class:`ReportedFigure` rows: one per day, per window or per period the venue
states, each with the interval it covers, its scope, and the rounding the venue states.

Where the venue's meaning is not documented (UNCONFIRMED in the exchange notes) the source gives the same
answer under every reading as a ``fork``: figures tagged ``fork=<name>``, ``reading=<reading>``. The
reconciliation (``perpvol_core.analytics.reconcile``) keeps the reading the data fits and says which.

Public API: :class:`ReportedFigure`, :class:`FigureSource`, :data:`CENT`, :func:`utc_day_window`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from perpvol_core.timeutil import MS_PER_DAY, date_of_ms

#: agreement "to the cent" when the venue states no rounding of its own
CENT = Decimal("0.01")

Scope = Literal["account", "account_and_subaccounts"]
Metric = Literal["volume", "taker_volume", "maker_volume"]


class ReportedFigure(BaseModel):
    """One figure the venue reports: ``value`` (None: the venue left it out) over ``[start_ms, end_ms)``."""

    model_config = ConfigDict(frozen=True)

    #: stable id of the figure within its venue, e.g. ``"daily:2026-12-01"`` or ``"tier_window:retail"``
    key: str
    #: what it is, for people: ``"volume series, 2026-12-01"``
    label: str
    metric: Metric = "volume"
    #: ``day`` (one UTC day), ``window`` (a rolling window), ``all_time``
    period: Literal["day", "window", "all_time"]
    #: the UTC day (``YYYY-MM-DD``) of a ``day`` figure
    day: str | None = None
    start_ms: int | None = None  # None: from the account's first fill (all time)
    end_ms: int
    scope: Scope = "account"
    value: Decimal | None
    #: the venue's stated rounding (agreement within half of it); None: to the cent
    rounding: Decimal | None = None
    #: how many times spot volume is in the figure under this reading (0: perps only)
    spot_factor: int = 0
    #: the endpoint and field it came from
    source: str
    #: an undocumented meaning: the fork's name and this figure's reading of it ("" when documented)
    fork: str = ""
    reading: str = ""


class FigureSource:
    """What one venue reports (subclassed in ``perpvol_core/exchanges/<name>/figures.py``)."""

    #: said when the venue reports no volume figure at all ("" when it does)
    not_reported: str = ""
    #: each fork's readings in order of preference (the documented or most likely first)
    forks: dict[str, tuple[str, ...]] = {}

    def fetch(self, connector: Any) -> dict[str, Any]:
        """The venue's answers the figures are read from, as plain JSON (raises ExchangeError)."""
        return {}

    def figures(self, report: dict[str, Any]) -> list[ReportedFigure]:
        """The figures of a stored ``exchange_report`` (its ``figures`` part: what :meth:`fetch` gave)."""
        return []

    def is_spot(self, market: str) -> bool:
        """A spot market of this venue (what ``spot_factor`` counts)."""
        return False

    def subaccounts(self, report: dict[str, Any]) -> list[str] | None:
        """The venue's ids of the account's subaccounts, as the venue listed them (None: not known)."""
        return None


def utc_day_window(day_ms: int, until_ms: int | None = None) -> tuple[str, int, int]:
    """(``YYYY-MM-DD``, start, end) of the UTC day holding ``day_ms``; the end is cut at ``until_ms``."""
    start = day_ms - day_ms % MS_PER_DAY
    end = start + MS_PER_DAY
    if until_ms is not None:
        end = max(start, min(end, until_ms))
    return date_of_ms(start).isoformat(), start, end
