"""The two-year daily history: bars stacked by exchange, a 30-day rolling line, a cumulative toggle,
day/week/month aggregation, zoom, a range slider and two date pickers linked to the chart's x range,
hover with exact figures, CSV export.

Plain Bokeh on a canvas (no HoloViews, no WebGL): one figure per session whose data source is replaced
on a data change, so a session's cost is the figure itself. Bar heights are floats (drawing only);
every figure shown in a tooltip or exported comes from the store's exact Decimal totals.

The frames behind the chart (daily series, periods, rolling average, the sources' columns) are in
``history_frames``; their names are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any, cast

import panel as pn
import param
import polars as pl
from bokeh.models import ColumnDataSource, CustomJS, DataRange1d, DatetimeTickFormatter, HoverTool, NumeralTickFormatter
from bokeh.models.annotations import Legend, LegendItem
from bokeh.models.tickers import ContinuousTicker
from bokeh.models.widgets import DatePicker, DateRangeSlider
from bokeh.plotting import figure

from perpvol_app.templates import render
from perpvol_app.ui.components.context import exact, memo, money
from perpvol_app.ui.components.history_frames import (  # noqa: F401  (re-exported: importers name this module)
    EXCHANGES,
    NOT_COVERED,
    ROLLING_DAYS,
    _dec_str,
    aggregate,
    chart_columns,
    daily_series,
    normalize_daily,
    rolling_average,
    rolling_columns,
)
from perpvol_app.ui.theme import (
    EXCHANGE_COLORS,
    GOLD,
    LINE_COLOR,
    chart_stylesheet,
    gold_toolbar,
    tooltip_html,
    widget_stylesheet,
)
from perpvol_core import bounds
from perpvol_core.exchanges import display_name

#: the day view opens on the last year; the range selector below the chart moves or widens it.
INITIAL_VIEW_DAYS = 365
_MONEY_COLS = ("volume_usd", "maker_usd", "taker_usd", "fees_usd")


def _ms(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000


#: x range → slider (at once) and date pickers (once the gesture settles); pickers/slider → x range.
_X_TO_CONTROLS = """
const day = 86400000;
slider.value = [Math.max(slider.start, x.start), Math.min(slider.end, x.end)];
if (window._pvRangeTimer) clearTimeout(window._pvRangeTimer);
window._pvRangeTimer = setTimeout(() => {
  const iso = (ms) => new Date(ms).toISOString().slice(0, 10);
  let a = Math.ceil(x.start / day) * day, b = Math.floor(x.end / day) * day;
  a = Math.max(a, slider.start); b = Math.min(b, slider.end);
  if (b < a) b = a;
  if (from.value !== iso(a)) from.value = iso(a);
  if (to.value !== iso(b)) to.value = iso(b);
}, 250);
"""
_SLIDER_TO_X = "x.start = slider.value[0]; x.end = slider.value[1];"
_PICKERS_TO_X = """
const day = 86400000;
const a = Date.parse(from.value), b = Date.parse(to.value);
if (isNaN(a) || isNaN(b) || b < a) return;
const lo = a - day / 2, hi = b + day / 2;
if (Math.abs(x.start - lo) > day / 2 || Math.abs(x.end - hi) > day / 2) { x.start = lo; x.end = hi; }
"""


class HistoryChart(pn.viewable.Viewer):
    """Daily history of counted perp volume, built from ``perpvol_core.analytics.volume.daily_volume``.

    ``date_range`` is the (from, to) pair of the date pickers (UTC days, inclusive): it follows the
    chart's x range (zoom, pan, slider) and moves it; the dashboard shows the range's totals.
    """

    aggregation: param.Selector[str] = param.Selector(default="day", objects=["day", "week", "month"])
    cumulative = param.Boolean(default=False)
    show_rolling = param.Boolean(default=True, doc="30-day rolling average line (day view)")
    daily = param.Parameter(default=None, doc="volume.daily_volume() frame")
    coverage = param.Dict(default={}, doc="volume.complete_from(): per venue, the first covered UTC day")
    store = param.Parameter(default=None, precedence=-1)
    date_range = param.Tuple(default=None, length=2, allow_None=True, doc="(from, to) dates of the pickers")

    def __init__(self, defer_controls: bool = False, **params: Any) -> None:
        super().__init__(**params)
        self._info = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self._source = ColumnDataSource(chart_columns(pl.DataFrame(schema=self._empty_schema())))
        self._avg_source = ColumnDataSource({"period": [], "label": [], "average": [], "average_fmt": []})
        self._figure, self._avg_renderer = self._make_figure()
        today = dt.datetime.now(dt.UTC).date()
        self._slider = DateRangeSlider(
            start=_ms(today - dt.timedelta(days=1)), end=_ms(today), value=(_ms(today - dt.timedelta(days=1)),  # type: ignore[arg-type]  # bokeh takes epoch ms for dates
            _ms(today)), step=1, format="%Y-%m-%d", bar_color=GOLD, title="Range", show_value=False,
            sizing_mode="stretch_width", margin=(0, 16, 0, 16), name="pv-range-slider",
            stylesheets=[widget_stylesheet()],
        )  # fmt: skip
        self._from = DatePicker(title="From", value=today.isoformat(), width=150, name="pv-range-from",
                                stylesheets=[widget_stylesheet()])  # fmt: skip
        self._to = DatePicker(title="To", value=today.isoformat(), width=150, name="pv-range-to",
                              stylesheets=[widget_stylesheet()])  # fmt: skip
        for picker in (self._from, self._to):
            picker.on_change("value", self._on_picker)
        self._plot = pn.pane.Bokeh(self._figure, sizing_mode="stretch_width", min_height=380)
        self._range_controls = pn.pane.Bokeh(
            self._bokeh_row(), sizing_mode="stretch_width", min_height=110, margin=(0, 0)
        )
        self._controls = pn.Row(
            pn.widgets.RadioButtonGroup.from_param(self.param.aggregation, label=""),
            pn.widgets.Checkbox.from_param(self.param.cumulative, label="Cumulative"),
            pn.widgets.Checkbox.from_param(self.param.show_rolling, label="30-day average"),
            pn.widgets.FileDownload(
                callback=self.csv, filename="perpvol-daily.csv", label="Export CSV",
                embed=False, width=130,
            ),
            sizing_mode="stretch_width",
            styles={"flex-wrap": "wrap"},
        )  # fmt: skip
        self._layout = pn.Column(self._info, self._plot, sizing_mode="stretch_width")
        if self.daily is None and self.store is not None:
            self.reload()
        else:
            self._redraw()
        if not defer_controls:
            self.show_controls()

    def show_controls(self) -> None:
        """Add the controls above the chart and the range selector below it, linked in the browser (idempotent).

        A served dashboard calls this once its page has loaded: the controls are a third of the first
        document's models (the date pickers alone are two widget libraries), and the chart draws sooner
        without them. Until then the chart shows its initial range, set on the same models."""
        if self._controls in self._layout.objects:
            return
        x = self._figure.x_range
        args = {"x": x, "slider": self._slider, "from": self._from, "to": self._to}
        x.js_on_change("start", CustomJS(args=args, code=_X_TO_CONTROLS))
        x.js_on_change("end", CustomJS(args=args, code=_X_TO_CONTROLS))
        self._slider.js_on_change("value", CustomJS(args=args, code=_SLIDER_TO_X))
        for picker in (self._from, self._to):
            picker.js_on_change("value", CustomJS(args=args, code=_PICKERS_TO_X))
        self._layout.objects = [self._controls, self._info, self._plot, self._range_controls]

    @property
    def figure(self) -> Any:
        """The chart's Bokeh figure (the dashboard draws the not-covered bands on it)."""
        return self._figure

    @staticmethod
    def _empty_schema() -> dict[str, Any]:
        return {"date": pl.Date, **{c: pl.Decimal(38, 2) for c in (*EXCHANGES, "total")}}

    def _bokeh_row(self) -> Any:
        from bokeh.layouts import column, row

        return column(
            self._slider, row(self._from, self._to, margin=(0, 10)), sizing_mode="stretch_width", name="pv-range"
        )

    def _make_figure(self) -> tuple[Any, Any]:
        fig = figure(
            x_axis_type="datetime", height=380, sizing_mode="stretch_width", output_backend="canvas",
            tools="xpan,xwheel_zoom,box_zoom,reset", active_scroll="xwheel_zoom", active_drag="xpan",
            toolbar_location="above", background_fill_color="#000000", border_fill_color="#000000",
            outline_line_color=None, name="pv-history-figure", css_classes=["pv-history-figure"],
            stylesheets=[chart_stylesheet()],
        )  # fmt: skip
        fig.toolbar.logo = None
        gold_toolbar(fig)
        fig.xgrid.grid_line_color = None
        fig.ygrid.grid_line_color = "#2b2308"
        fig.yaxis.formatter = NumeralTickFormatter(format="$0.[00]a")
        for axis in fig.xaxis:
            if isinstance(axis.ticker, ContinuousTicker):
                axis.ticker.desired_num_ticks = 4  # short labels, few of them: readable at 390 px
            axis.formatter = DatetimeTickFormatter(days="%d %b", months="%b '%y", years="%Y")
        if isinstance(fig.y_range, DataRange1d):
            fig.y_range.start = 0
        width = 0.85 * 86_400_000
        renderers = fig.vbar_stack(
            list(EXCHANGES), x="period", width=width, source=self._source, line_color=None,
            color=[EXCHANGE_COLORS[e] for e in EXCHANGES], name=list(EXCHANGES),
        )  # fmt: skip
        self._bar_renderers = renderers
        avg = fig.line("period", "average", source=self._avg_source, color=LINE_COLOR, line_width=2, name="average")
        for renderer, exch in zip(renderers, EXCHANGES, strict=True):
            rows = [(display_name(exch), f"@{{{exch}_fmt}}"), ("All exchanges", "@{total_fmt}")]
            fig.add_tools(HoverTool(renderers=[renderer], tooltips=tooltip_html("@label", rows), mode="mouse"))
        fig.add_tools(HoverTool(renderers=[avg], tooltips=tooltip_html(
            "@label", [(f"{ROLLING_DAYS}-day average", "@{average_fmt}")]), mode="mouse"))  # fmt: skip
        items = [LegendItem(label=display_name(e), renderers=[r]) for e, r in zip(EXCHANGES, renderers, strict=True)]  # type: ignore[list-item]  # bokeh stubs: renderer lists are invariant
        items.append(LegendItem(label=f"{ROLLING_DAYS}-day average", renderers=[avg]))  # type: ignore[list-item]  # idem
        legend = Legend(items=items, location="top_left", orientation="horizontal", click_policy="hide",
                        background_fill_alpha=0.0, border_line_color=None, label_text_color=GOLD)  # fmt: skip
        fig.add_layout(legend, "above")
        fig.yaxis.axis_label = "Daily volume (USD)"
        return fig, avg

    # -- data --------------------------------------------------------------------------------------

    def fetch(self) -> pl.DataFrame:
        """The daily series from the store (a shared read; safe off the event loop)."""
        from perpvol_core.analytics import volume

        return memo(self.store, ("daily_volume",), lambda: volume.daily_volume(self.store))

    def reload(self) -> None:
        self.daily = self.fetch()

    def series(self) -> pl.DataFrame:
        """One row per day (exact Decimal per exchange and total); up to today when there is data."""
        daily = self.daily if self.daily is not None else pl.DataFrame()
        today = dt.datetime.now(dt.UTC).date()
        return daily_series(daily, end=today)

    def chart_frame(self) -> pl.DataFrame:
        """Long frame of the bars: period, exchange, height (float), exact volume and period total."""
        agg = aggregate(self.series(), self.aggregation, self.cumulative)
        if agg.is_empty():
            return pl.DataFrame(schema={"period": pl.Date, "exchange": pl.Utf8, "height": pl.Float64,
                                        "volume_s": pl.Utf8, "total_s": pl.Utf8})  # fmt: skip
        long = agg.unpivot(index=["date", "total"], on=list(EXCHANGES), variable_name="exchange", value_name="vol")
        return long.select(
            pl.col("date").alias("period"),
            "exchange",
            pl.col("vol").cast(pl.Float64).alias("height"),
            _dec_str("vol").alias("volume_s"),
            _dec_str("total").alias("total_s"),
        ).sort(["period", "exchange"])

    def csv(self) -> io.StringIO:
        """The daily series with exact decimal strings (one row per day and exchange with volume);
        ``exchange_name`` is the name the page and the legend show."""
        daily = normalize_daily(self.daily if self.daily is not None else pl.DataFrame())
        cols = [c for c in ("date", "exchange", *_MONEY_COLS, "fills") if c in daily.columns]
        out = (
            daily.select(cols)
            .sort(["date", "exchange"])
            .with_columns([pl.col(c).cast(pl.Utf8) for c in _MONEY_COLS if c in daily.columns])
        )
        if "exchange" in out.columns:  # the id for scripts (as in the CLI's JSON), the name as on the page
            shown = {e: display_name(e) for e in EXCHANGES}
            names = pl.col("exchange").replace_strict(shown, default=pl.col("exchange"))
            out = out.with_columns(names.alias("exchange_name")).select(
                "date", "exchange", "exchange_name", *[c for c in out.columns if c not in ("date", "exchange")]
            )
        buf = io.StringIO()
        out.write_csv(buf)
        buf.seek(0)
        return buf

    # -- drawing -----------------------------------------------------------------------------------

    def _columns(self, series: pl.DataFrame) -> tuple[dict[str, Any], dict[str, Any]]:
        """The sources' columns, shared by every session until the data changes."""
        coverage = dict(self.coverage or {})
        key = ("history_columns", self.aggregation, self.cumulative, series.height,
               series["date"].max() if series.height else None, tuple(sorted(coverage.items())))  # fmt: skip

        def compute() -> tuple[dict[str, Any], dict[str, Any]]:
            return chart_columns(series, self.aggregation, self.cumulative, coverage), rolling_columns(series)

        if self.store is None:
            return compute()
        return memo(self.store, key, compute)

    @param.depends("daily", "coverage", "aggregation", "cumulative", "show_rolling", watch=True)
    def _redraw(self) -> None:
        series = self.series()
        n_days = series.height
        if n_days:
            first, last = cast(dt.date, series["date"].min()), cast(dt.date, series["date"].max())
            total = cast(Decimal, series["total"].sum())  # a Decimal column sums to a Decimal
            span = f"{first:%Y-%m-%d} → {last:%Y-%m-%d}"
        else:
            total, span = Decimal(0), "no data yet"
        self._info.object = render(
            "ui/history_info.html", n_days=n_days, span=span, total=exact(total), text=money(total)
        )
        bars, avg = self._columns(series)
        self._source.data = bars
        show_avg = self.show_rolling and self.aggregation == "day" and not self.cumulative
        self._avg_source.data = avg if show_avg else {k: [] for k in avg}
        unit = {"day": "Daily", "week": "Weekly", "month": "Monthly"}[self.aggregation]
        self._figure.yaxis.axis_label = f"{'Cumulative' if self.cumulative else unit} volume (USD)"
        width_days = {"day": 0.85, "week": 6.0, "month": 26.0}[self.aggregation]
        for r in self._bar_renderers:
            r.glyph.width = width_days * 86_400_000
        if not n_days:
            return
        dates: list[dt.date] = series["date"].to_list()
        first, last = dates[0], dates[-1]
        pad = 86_400_000
        self._slider.update(start=_ms(first) - pad, end=_ms(last) + pad)
        if self.date_range is None:
            start = max(first, last - dt.timedelta(days=INITIAL_VIEW_DAYS))
            self.set_range(start, last)

    def set_range(self, start: dt.date, end: dt.date) -> None:
        """Show ``start``..``end`` (inclusive) in the chart, the slider and the pickers."""
        lo, hi = _ms(start) - 43_200_000, _ms(end) + 43_200_000
        self._figure.x_range.update(start=lo, end=hi)
        self._slider.value = (max(lo, self._slider.start), min(hi, self._slider.end))  # type: ignore[assignment]  # epoch ms, as above
        self._from.value, self._to.value = start.isoformat(), end.isoformat()
        self.date_range = (start, end)

    def _on_picker(self, _attr: str, _old: Any, _new: Any) -> None:
        a, b = str(self._from.value)[:10], str(self._to.value)[:10]
        try:  # the one check of user-given days (perpvol_core.bounds); a picked range may be given backwards
            start, end = bounds.day_range(*sorted((a, b)), names=("From", "To"))
        except bounds.InputError:
            return
        if start is None or end is None:
            return
        if self.date_range != (start, end):
            self.date_range = (start, end)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
