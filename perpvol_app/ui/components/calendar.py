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
from bokeh.models import ColumnDataSource, HoverTool, Range1d, TapTool
from bokeh.plotting import figure

from perpvol_app.templates import render
from perpvol_app.ui.components.context import exact, money
from perpvol_app.ui.components.history import normalize_daily
from perpvol_app.ui.theme import BLACK, GOLD, GOLD_DIM, chart_stylesheet, tooltip_html
from perpvol_core.exchanges import VENUES, display_name

#: the registered venues, in the registry's order (every breakdown lists each)
EXCHANGES: tuple[str, ...] = tuple(VENUES)

ROW_PX = 13
#: rows of one year band: seven weekdays and a gap (the gap above a band carries its year and month labels)
BAND = 8
#: week columns left of January's first week, for the year and weekday labels
LABEL_COLS = 5
#: weekday rows that carry a label (Monday is row 0)
WEEKDAY_LABELS = {0: "Mon", 2: "Wed", 4: "Fri"}
#: a month label needs this many week columns before the next one
MONTH_GAP_COLS = 3
LABEL_FONT = "9px"
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


def _week_col(day: dt.date) -> int:
    jan1 = dt.date(day.year, 1, 1)
    return ((day - jan1).days + jan1.weekday()) // 7


def calendar_labels(first: dt.date, last: dt.date) -> dict[str, dict[str, list[Any]]]:
    """The calendar's labels, in its own (week, row) coordinates: per year band its year and the months
    it shows (in the gap row above the band), and weekday names left of the first week."""
    months: dict[str, list[Any]] = {"x": [], "y": [], "text": []}
    weekdays: dict[str, list[Any]] = {"x": [], "y": [], "text": []}
    for year in range(last.year, first.year - 1, -1):
        top = (last.year - year) * BAND
        months["x"].append(-LABEL_COLS - 0.4)
        months["y"].append(top - 1)
        months["text"].append(str(year))
        next_col = 99
        for month in range(12, 0, -1):  # latest first: a clipped first month never crowds the next one
            start = max(dt.date(year, month, 1), first)
            if start > last or start.year != year or start.month != month:
                continue
            col = _week_col(start)
            if col > next_col - MONTH_GAP_COLS:
                continue
            months["x"].append(col - 0.45)
            months["y"].append(top - 1)
            months["text"].append(f"{start:%b}")
            next_col = col
        for row, name in WEEKDAY_LABELS.items():
            weekdays["x"].append(-0.7)
            weekdays["y"].append(top + row)
            weekdays["text"].append(name)
    return {"months": months, "weekdays": weekdays}


def legend_html(top: Decimal) -> str:
    """The colour legend: the empty-day colour, then the scale from the faintest to the busiest day."""
    def swatch(color: str, title: str) -> str:
        return (f'<span class="pv-cal-swatch" title="{title}" style="display:inline-block;width:12px;height:12px;'
                f'background:{color};border:1px solid #4d3f0f;vertical-align:middle;margin:0 1px"></span>')  # fmt: skip

    steps = [Decimal(i) / 4 for i in range(1, 5)]
    scale = "".join(swatch(_shade(float(f)), f"about {money(top * f * f, 0)} a day") for f in steps)
    return (
        f'<div class="pv-figure-sub pv-cal-legend" id="pv-calendar-legend" data-top="{exact(top)}">'
        f'{swatch(EMPTY_COLOR, "no volume")} no volume · {money(Decimal(0), 0)} {scale} {money(top, 0)} a day'
        " (brighter: more volume; square-root scale)</div>"
    )


def _bounded(value: Decimal) -> str:
    """A lower bound: ``≥ $X``, or "not covered" when nothing was stored (never a plain $0)."""
    return f"≥ {money(value)}" if value else NOT_COVERED


def render_range(
    report: dict[str, Any] | None, title: str = "", bound: set[str] | None = None, note: str = ""
) -> str:
    """HTML of ``volume.range_report``: one row per exchange (display names) and the total. ``bound``: the
    venues the range does not fully cover (their volume and the total read ``≥ $X``), ``note`` says why."""
    if not report:
        return '<div class="pv-muted">Choose a range.</div>'
    bound = bound or set()
    rows = [(display_name(e), cell, e in bound) for e, cell in report["by_exchange"].items()]
    if len(rows) > 1:
        rows.append(("Total", report["totals"], bool(bound & set(report["by_exchange"]))))
    body = [
        {
            "name": name,
            "money": [
                {"exact": exact(cell[k]), "text": _bounded(cell[k]) if low and k == "volume_usd" else money(cell[k])}
                for k in ("volume_usd", "maker_usd", "taker_usd", "fees_usd")
            ],
            "fills": f"{cell['fills']:,}",
            "partial": low,
        }
        for name, cell, low in rows
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
        note=note,
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
        self._legend = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self._layout = pn.Column(self._plot, self._legend, sizing_mode="stretch_width")
        self._redraw()

    def _make_figure(self) -> Any:
        fig = figure(
            height=3 * BAND * ROW_PX + 40, sizing_mode="stretch_width", output_backend="canvas", tools="",
            toolbar_location=None, x_range=Range1d(start=-0.5 - LABEL_COLS, end=53.5), background_fill_color=BLACK,
            border_fill_color=BLACK,
            outline_line_color=None, name="pv-calendar-figure", css_classes=["pv-calendar-figure"],
            stylesheets=[chart_stylesheet()],
            min_border_left=4, min_border_right=4,
        )  # fmt: skip
        cells = fig.rect("x", "y", width=0.9, height=0.9, source=self._source, fill_color="color", line_color=None,
                         selection_line_color=GOLD, selection_line_width=2,  # type: ignore[call-arg]
                         nonselection_fill_alpha=1.0)  # fmt: skip
        rows = [("Total", "@{total_fmt}"), *((display_name(e), f"@{{{e}_fmt}}") for e in EXCHANGES),
                ("Fills", "@{fills}")]  # fmt: skip
        fig.add_tools(HoverTool(renderers=[cells], tooltips=tooltip_html("@label", rows)), TapTool(renderers=[cells]))
        fig.xaxis.visible = False
        fig.yaxis.visible = False
        fig.grid.visible = False
        self._month_source = ColumnDataSource({"x": [], "y": [], "text": []})
        self._weekday_source = ColumnDataSource({"x": [], "y": [], "text": []})
        for source, align, name in ((self._month_source, "left", "pv-calendar-months"),
                                    (self._weekday_source, "right", "pv-calendar-weekdays")):  # fmt: skip
            fig.text("x", "y", text="text", source=source, text_align=align, text_baseline="middle",
                     text_font_size=LABEL_FONT, text_color=GOLD_DIM, name=name)  # fmt: skip
        return fig

    @param.depends("daily", "coverage", watch=True)
    def _redraw(self) -> None:
        daily = self.daily if self.daily is not None else pl.DataFrame()
        cols = calendar_columns(daily, end=dt.datetime.now(dt.UTC).date(), coverage=self.coverage)
        self._source.data = cols
        years = sorted({int(d[:4]) for d in cols["date"]}, reverse=True)
        if cols["date"]:
            labels = calendar_labels(dt.date.fromisoformat(cols["date"][0]), dt.date.fromisoformat(cols["date"][-1]))
            self._month_source.data, self._weekday_source.data = labels["months"], labels["weekdays"]
        top = max((Decimal(t) for t in cols["total_s"]), default=Decimal(0))
        self._legend.object = legend_html(top) if cols["date"] else ""
        self._figure.height = max(1, len(years)) * BAND * ROW_PX + 20
        # top row first; the first band's labels sit in the row above it
        self._figure.y_range.update(start=max(1, len(years)) * BAND - 1.5, end=-1.5)

    def _on_select(self, _attr: str, _old: Any, new: list[int]) -> None:
        if new:
            self.day = dt.date.fromisoformat(self._source.data["date"][new[0]])

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
