"""A year-by-day calendar of daily volume (gold scale on black), and the totals of any date range.

``calendar_columns(daily)`` lays every UTC day from the first day with volume to ``end`` out as one
cell (a week per column, a weekday per row, a band per year) with its exact figures as text; hover
shows them, a click selects the day and ``Calendar.day`` carries it (the dashboard shows that day's
breakdown). ``render_range(report)`` is the HTML of ``volume.range_report`` (range totals, a day's
breakdown).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import panel as pn
import param
import polars as pl
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Range1d, TapTool
from bokeh.plotting import figure

from perpvol_app.templates import render
from perpvol_app.ui.components.context import exact, money
from perpvol_app.ui.components.history import normalize_daily
from perpvol_app.ui.theme import BLACK, GOLD, chart_stylesheet, tooltip_html
from perpvol_core.exchanges import VENUES, display_name

#: the registered venues, in the registry's order (every breakdown lists each)
EXCHANGES: tuple[str, ...] = tuple(VENUES)

ROW_PX = 13
#: rows of one year band: seven weekdays and a gap
BAND = 8
EMPTY_COLOR = "#141004"
#: a day no venue's stored history covers (before every venue's ``complete_from``): not zero, unknown
NOT_COVERED_COLOR = "#262626"
NOT_COVERED = "not covered"
_LOW = (0x3a, 0x2e, 0x08)  # a faint gold
_HIGH = (0xff, 0xd2, 0x30)  # the gold


def _shade(fraction: float) -> str:
    r, g, b = (round(lo + (hi - lo) * fraction) for lo, hi in zip(_LOW, _HIGH, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def calendar_days(
    daily: pl.DataFrame, end: dt.date | None = None, coverage: dict[str, dt.date] | None = None
) -> list[dict[str, Any]]:
    """One dict per UTC day from the first day with volume to ``end`` (default: the last such day):
    ``date``, ``total`` and per exchange ``volume``/``fills`` (exact Decimal / int) and ``<exchange>_covered``
    (False before the venue's ``complete_from`` in ``coverage``); empty covered days are zero."""
    coverage = coverage or {}
    daily = normalize_daily(daily)
    if daily.is_empty():
        return []
    per_day: dict[dt.date, dict[str, Any]] = {}
    for row in daily.iter_rows(named=True):
        cell = per_day.setdefault(row["date"], {})
        cell[row["exchange"]] = (Decimal(row["volume_usd"]), int(row.get("fills") or 0))
    first = min(per_day)
    last = max(max(per_day), end) if end else max(per_day)
    out = []
    for i in range((last - first).days + 1):
        day = first + dt.timedelta(days=i)
        cell = per_day.get(day, {})
        entry: dict[str, Any] = {"date": day}
        for exch in EXCHANGES:
            entry[exch], entry[f"{exch}_fills"] = cell.get(exch, (Decimal(0), 0))
            entry[f"{exch}_covered"] = exch not in coverage or day >= coverage[exch]
        entry["total"] = sum((entry[e] for e in EXCHANGES), Decimal(0))
        entry["fills"] = sum(entry[f"{e}_fills"] for e in EXCHANGES)
        out.append(entry)
    return out


def calendar_columns(
    daily: pl.DataFrame, end: dt.date | None = None, coverage: dict[str, dt.date] | None = None
) -> dict[str, list[Any]]:
    """The calendar's cell source: x (week of the year), y (band and weekday), colour and text fields. A
    venue's day before its ``complete_from`` (``coverage``) reads "not covered", never $0; a day no venue
    covers has its own colour."""
    days = calendar_days(daily, end, coverage)
    cols: dict[str, list[Any]] = {k: [] for k in ("x", "y", "color", "label", "date", "total_s", "total_fmt",
                                                  "fills", *(f"{e}_fmt" for e in EXCHANGES))}  # fmt: skip
    if not days:
        return cols
    top = float(max(d["total"] for d in days)) or 1.0
    last_year = days[-1]["date"].year
    for d in days:
        day: dt.date = d["date"]
        jan1 = dt.date(day.year, 1, 1)
        cols["x"].append(((day - jan1).days + jan1.weekday()) // 7)
        cols["y"].append((last_year - day.year) * BAND + day.weekday())
        total: Decimal = d["total"]
        # square-root scale: a burst day does not wash out every ordinary one
        covered = [e for e in EXCHANGES if d[f"{e}_covered"]]
        empty = NOT_COVERED_COLOR if not covered else EMPTY_COLOR
        cols["color"].append(_shade(math.sqrt(float(total) / top)) if total > 0 else empty)
        cols["label"].append(f"{day:%a %Y-%m-%d}")
        cols["date"].append(day.isoformat())
        cols["total_s"].append(exact(total))
        cols["total_fmt"].append(money(total) if len(covered) == len(EXCHANGES) else f"{money(total)} ({NOT_COVERED} "
                                 "for some exchanges)")
        cols["fills"].append(f"{d['fills']:,}")
        for e in EXCHANGES:
            stored = f"{NOT_COVERED} ({money(d[e])} stored)" if d[e] else NOT_COVERED
            shown = money(d[e]) if d[f"{e}_covered"] else stored
            cols[f"{e}_fmt"].append(shown)
    return cols


def render_range(report: dict[str, Any] | None, title: str = "") -> str:
    """HTML of ``volume.range_report``: one row per exchange (display names) and the total."""
    if not report:
        return '<div class="pv-muted">Choose a range.</div>'
    rows = [(display_name(e), cell) for e, cell in report["by_exchange"].items()]
    if len(rows) > 1:
        rows.append(("Total", report["totals"]))
    body = [
        {
            "name": name,
            "money": [
                {"exact": exact(cell[k]), "text": money(cell[k])}
                for k in ("volume_usd", "maker_usd", "taker_usd", "fees_usd")
            ],
            "fills": f"{cell['fills']:,}",
        }
        for name, cell in rows
    ]
    days = report["days"]
    caption = title or f"{report['from']:%Y-%m-%d} → {report['to']:%Y-%m-%d} · {days} day{'s' if days != 1 else ''}"
    return render(
        "ui/range.html",
        date_from=report["from"].isoformat(),
        date_to=report["to"].isoformat(),
        total=exact(report["totals"]["volume_usd"]),
        caption=caption,
        headers=("Volume", "Maker", "Taker", "Fees", "Fills"),
        rows=body,
    )


class Calendar(pn.viewable.Viewer):
    """Daily volume as a calendar (a band per year). A click sets ``day``."""

    daily = param.Parameter(default=None, doc="volume.daily_volume() frame")
    coverage = param.Dict(default={}, doc="volume.complete_from(): per venue, the first covered UTC day")
    day = param.CalendarDate(default=None, allow_None=True, doc="the clicked day")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._source = ColumnDataSource(calendar_columns(pl.DataFrame()))
        self._figure = self._make_figure()
        self._source.selected.on_change("indices", self._on_select)
        self._plot = pn.pane.Bokeh(self._figure, sizing_mode="stretch_width")
        self._redraw()

    def _make_figure(self) -> Any:
        fig = figure(
            height=3 * BAND * ROW_PX + 40, sizing_mode="stretch_width", output_backend="canvas", tools="",
            toolbar_location=None, x_range=Range1d(start=-0.5, end=53.5), background_fill_color=BLACK,
            border_fill_color=BLACK,
            outline_line_color=None, name="pv-calendar-figure", css_classes=["pv-calendar-figure"],
            stylesheets=[chart_stylesheet()],
            min_border_left=44,
        )  # fmt: skip
        cells = fig.rect("x", "y", width=0.9, height=0.9, source=self._source, fill_color="color", line_color=None,
                         selection_line_color=GOLD, selection_line_width=2,  # type: ignore[call-arg]
                         nonselection_fill_alpha=1.0)  # fmt: skip
        rows = [("Total", "@{total_fmt}"), *((display_name(e), f"@{{{e}_fmt}}") for e in EXCHANGES),
                ("Fills", "@{fills}")]  # fmt: skip
        fig.add_tools(HoverTool(renderers=[cells], tooltips=tooltip_html("@label", rows)), TapTool(renderers=[cells]))
        fig.xaxis.visible = False
        fig.grid.visible = False
        fig.yaxis.major_tick_line_color = None
        fig.yaxis.minor_tick_line_color = None
        fig.yaxis.axis_line_color = None
        return fig

    @param.depends("daily", "coverage", watch=True)
    def _redraw(self) -> None:
        daily = self.daily if self.daily is not None else pl.DataFrame()
        cols = calendar_columns(daily, end=dt.datetime.now(dt.UTC).date(), coverage=self.coverage)
        self._source.data = cols
        years = sorted({int(d[:4]) for d in cols["date"]}, reverse=True)
        ticks = [i * BAND + 3 for i in range(len(years))]
        self._figure.yaxis.ticker = FixedTicker(ticks=ticks)
        self._figure.yaxis.major_label_overrides = {t: str(y) for t, y in zip(ticks, years, strict=True)}
        self._figure.height = max(1, len(years)) * BAND * ROW_PX + 20
        self._figure.y_range.update(start=max(1, len(years)) * BAND - 1, end=-1)  # top row first

    def _on_select(self, _attr: str, _old: Any, new: list[int]) -> None:
        if new:
            self.day = dt.date.fromisoformat(self._source.data["date"][new[0]])

    def __panel__(self) -> pn.viewable.Viewable:
        return self._plot
