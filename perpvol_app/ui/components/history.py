"""The two-year daily history: bars stacked by exchange, a 30-day rolling line, a cumulative toggle,
day/week/month aggregation, zoom and a range selector, hover with exact figures, CSV export.

Bar heights are floats (drawing only); every figure shown in a tooltip or exported is the exact
decimal string of the store's Decimal totals.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from decimal import Decimal
from typing import Any, cast

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401 - the bokeh backend, also outside a served app
import panel as pn
import param
import polars as pl
from bokeh.models import NumeralTickFormatter, RangeTool

from perpvol_app.ui.components.context import money
from perpvol_app.ui.theme import EXCHANGE_COLORS, GOLD, LINE_COLOR, chart_opts
from perpvol_core.fill import EXCHANGES

ROLLING_DAYS = 30
#: the day view opens on the last year; the range selector below the chart moves or widens it.
INITIAL_VIEW_DAYS = 365
_TRUNCATE = {"day": None, "week": "1w", "month": "1mo"}
_MONEY_COLS = ("volume_usd", "maker_usd", "taker_usd", "fees_usd")


def _dec_str(col: str) -> pl.Expr:
    """Exact decimal text of a Decimal column (trailing zeros trimmed)."""
    return (
        pl.col(col).cast(pl.Utf8).str.replace(r"(\.\d*?)0+$", "$1").str.replace(r"\.$", "").alias(f"{col}_s")
    )


def normalize_daily(daily: pl.DataFrame) -> pl.DataFrame:
    """``volume.daily_volume`` output with ``date`` as a polars Date (it may come as text)."""
    if daily.is_empty():
        return pl.DataFrame(
            schema={"date": pl.Date, "exchange": pl.Utf8, "volume_usd": pl.Decimal(38, 2), "fills": pl.Int64}
        )
    dtype = daily.schema["date"]
    if dtype == pl.Utf8:
        daily = daily.with_columns(pl.col("date").str.to_date("%Y-%m-%d"))
    elif dtype != pl.Date:
        daily = daily.with_columns(pl.col("date").cast(pl.Date))
    return daily


def daily_series(daily: pl.DataFrame, end: dt.date | None = None) -> pl.DataFrame:
    """One row per UTC day from the first day with volume to ``end`` (default: the last day), one
    exact Decimal column per exchange plus ``total``; days without fills are zero."""
    daily = normalize_daily(daily)
    cols = ["date", *EXCHANGES, "total"]
    if daily.is_empty():
        return pl.DataFrame(schema={c: (pl.Date if c == "date" else pl.Decimal(38, 2)) for c in cols})
    wide = daily.pivot(on="exchange", index="date", values="volume_usd", aggregate_function="sum")
    dtype = daily.schema["volume_usd"]
    for exch in EXCHANGES:
        if exch not in wide.columns:
            wide = wide.with_columns(pl.lit(0).cast(dtype).alias(exch))
    first, newest = cast(dt.date, wide["date"].min()), cast(dt.date, wide["date"].max())
    last = max(newest, end) if end else newest
    days = pl.DataFrame({"date": pl.date_range(first, last, "1d", eager=True)})
    out = days.join(wide, on="date", how="left").with_columns(
        [pl.col(e).fill_null(pl.lit(0).cast(dtype)) for e in EXCHANGES]
    )
    return out.with_columns(pl.sum_horizontal(*EXCHANGES).cast(dtype).alias("total")).select(cols).sort("date")


def aggregate(series: pl.DataFrame, aggregation: str = "day", cumulative: bool = False) -> pl.DataFrame:
    """Per period (day/week/month start) exact Decimal volume per exchange, optionally cumulative."""
    every = _TRUNCATE[aggregation]
    out = series
    if every is not None and not series.is_empty():
        out = (
            series.group_by(pl.col("date").dt.truncate(every))
            .agg([pl.col(c).sum() for c in (*EXCHANGES, "total")])
            .sort("date")
        )
    if cumulative:
        out = out.with_columns([pl.col(c).cum_sum() for c in (*EXCHANGES, "total")])
    return out


def rolling_average(series: pl.DataFrame, days: int = ROLLING_DAYS) -> pl.DataFrame:
    """Trailing ``days``-day average of the daily total (exact sum ÷ days, shown to the cent)."""
    if series.is_empty():
        return series.select("date").with_columns(pl.lit(None).alias("avg"))
    cum = [Decimal(0), *(Decimal(v) for v in series["total"].cum_sum().to_list())]
    sums = [cum[i + 1] - cum[max(0, i + 1 - days)] for i in range(series.height)]
    avgs = [(s / Decimal(days)).quantize(Decimal("0.01")) for s in sums]
    return pl.DataFrame({"date": series["date"], "avg": avgs})


class HistoryChart(pn.viewable.Viewer):
    """Daily history of counted perp volume, built from ``perpvol_core.analytics.volume.daily_volume``."""

    aggregation: param.Selector[str] = param.Selector(default="day", objects=["day", "week", "month"])
    cumulative = param.Boolean(default=False)
    show_rolling = param.Boolean(default=True, doc="30-day rolling average line (day view)")
    daily = param.Parameter(default=None, doc="volume.daily_volume() frame")
    store = param.Parameter(default=None, precedence=-1)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._info = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self._plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=420, linked_axes=False)
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
        )
        self._layout = pn.Column(self._controls, self._info, self._plot, sizing_mode="stretch_width")
        if self.daily is None and self.store is not None:
            self.reload()
        else:
            self._redraw()

    # -- data --------------------------------------------------------------------------------------

    def fetch(self) -> pl.DataFrame:
        """The daily series from the store (a shared read; safe off the event loop)."""
        from perpvol_app.ui.components.context import memo
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
        """Long frame behind the bars: period, exchange, height (float), exact volume and period total."""
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
        """The daily series with exact decimal strings (one row per day and exchange with volume)."""
        daily = normalize_daily(self.daily if self.daily is not None else pl.DataFrame())
        cols = [c for c in ("date", "exchange", *_MONEY_COLS, "fills") if c in daily.columns]
        out = daily.select(cols).sort(["date", "exchange"]).with_columns(
            [pl.col(c).cast(pl.Utf8) for c in _MONEY_COLS if c in daily.columns]
        )
        buf = io.StringIO()
        out.write_csv(buf)
        buf.seek(0)
        return buf

    # -- drawing -----------------------------------------------------------------------------------

    @param.depends("daily", "aggregation", "cumulative", "show_rolling", watch=True)
    def _redraw(self) -> None:
        series = self.series()
        n_days = series.height
        if n_days:
            first, last = cast(dt.date, series["date"].min()), cast(dt.date, series["date"].max())
            total = cast(Decimal, series["total"].sum())  # a Decimal column sums to a Decimal
            span = f"{first:%Y-%m-%d} → {last:%Y-%m-%d}"
        else:
            total, span = Decimal(0), "no data yet"
        self._info.object = (
            f'<div class="pv-muted" id="pv-history-info" data-days="{n_days}">'
            f'<span class="pv-days">{n_days} days</span> · {html.escape(span)} · '
            f'total <span title="{total} USD">{html.escape(money(total))}</span></div>'
        )
        self._plot.object = self._build(series) if n_days else hv.Div(
            '<div class="pv-muted" style="padding:40px">No volume yet.</div>'
        )

    def _build(self, series: pl.DataFrame) -> hv.Layout:
        frame = self.chart_frame()
        unit = {"day": "Daily", "week": "Weekly", "month": "Monthly"}[self.aggregation]
        ylabel = f"{'Cumulative' if self.cumulative else unit} volume (USD)"
        bars = hv.Bars(
            frame.to_pandas(), kdims=["period", "exchange"], vdims=["height", "volume_s", "total_s"]
        ).opts(
            stacked=True,
            cmap=EXCHANGE_COLORS,
            line_color=None,
            bar_width=0.85,
            tools=["hover", "xwheel_zoom", "xpan", "box_zoom", "reset"],
            active_tools=["xwheel_zoom"],
            hover_tooltips=[
                ("Date", "@period{%F}"),
                ("Exchange", "@exchange"),
                ("Volume", "$@volume_s"),
                ("All exchanges", "$@total_s"),
            ],
            hover_formatters={"@period": "datetime"},
            legend_position="top_left",
            ylabel=ylabel,
            xlabel="",
            yformatter=NumeralTickFormatter(format="$0.[0]a"),
            height=380,
            show_legend=True,
            **chart_opts(),
        )
        main: hv.Overlay | hv.Bars = bars
        if self.show_rolling and self.aggregation == "day" and not self.cumulative:
            avg = rolling_average(series)
            pdf = avg.select(
                pl.col("date").alias("period"),
                pl.col("avg").cast(pl.Float64).alias("average"),
                pl.col("avg").cast(pl.Utf8).alias("average_s"),
            ).to_pandas()
            line = hv.Curve(pdf, "period", ["average", "average_s"], label=f"{ROLLING_DAYS}-day average").opts(
                color=LINE_COLOR, line_width=2,
                tools=["hover"],
                hover_tooltips=[("Date", "@period{%F}"), (f"{ROLLING_DAYS}-day average", "$@average_s")],
                hover_formatters={"@period": "datetime"},
            )  # fmt: skip
            main = (bars * line).opts(legend_position="top_left")
        overview_pdf = aggregate(series, "day", self.cumulative).select(
            pl.col("date").alias("period"), pl.col("total").cast(pl.Float64).alias("total")
        ).to_pandas()
        overview = hv.Area(overview_pdf, "period", "total").opts(
            color=GOLD, line_color=GOLD, fill_alpha=0.35, height=90, yaxis=None, xlabel="",
            tools=[], toolbar=None, default_tools=[], bgcolor="#000000", responsive=True,
        )  # fmt: skip
        first, last = (dt.datetime.combine(series["date"][i], dt.time()) for i in (0, -1))
        pad = dt.timedelta(days=1)
        start = max(first, last - dt.timedelta(days=INITIAL_VIEW_DAYS)) if self.aggregation == "day" else first
        shared: dict[str, Any] = {}

        def grab_range(plot: Any, _element: Any) -> None:
            shared["x_range"] = plot.state.x_range

        def add_range_tool(plot: Any, _element: Any) -> None:
            """A gold range selector on the overview driving the main chart's x range."""
            x_range = shared.get("x_range")
            if x_range is None:
                return
            tool = RangeTool(x_range=x_range, start_gesture="pan")
            tool.overlay.update(fill_color=GOLD, fill_alpha=0.18, line_color=GOLD, line_width=1, inverted=False)
            plot.state.add_tools(tool)

        main = main.opts(xlim=(start - pad, last + pad), hooks=[grab_range])
        overview = overview.opts(xlim=(first - pad, last + pad), hooks=[add_range_tool])
        return (main + overview).cols(1).opts(shared_axes=False)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
