"""Output drift: CUSUM charts of the monthly mean and EWMA charts of the positive rate, one panel
per segment, and an alarmed stream at full width with its monthly value."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from validation.numbers import as_float
from validation.report.figures.record import FigureRecord, figure_record
from validation.report.figures.style import (
    FAIL,
    GUIDE,
    INK,
    LINE,
    PAGE_WIDTH_IN,
    POINT,
    RC,
    SECOND,
    SMALL,
    fixed,
)
from validation.report.figures.surveillance import panels
from validation.report.segments import Key, segment_key, segment_label

#: The two output streams, by their ``segments[].series`` key.
MEAN, RATE = "output_mean", "output_positive_rate"


def _cusum_arrays(
    rows: Sequence[Mapping[str, Any]], months: Sequence[str], h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    upper = panels.by_month(rows, months, "upper")
    lower = -np.abs(panels.by_month(rows, months, "lower"))  # drawn below zero, whatever its sign
    limit = panels.by_month(rows, months, "limit")
    limit = np.where(np.isfinite(limit), limit, h)
    return upper, lower, limit


def _chart_range(
    rows: Sequence[Mapping[str, Any]], months: Sequence[str], signal: str, h: float
) -> tuple[list[float], list[float]]:
    """The values and limits of one stream's chart, for the shared y range."""
    if signal == MEAN:
        up, lo, lim = _cusum_arrays(rows, months, h)
        return [*up, *lo], list(lim)
    return (
        [*panels.by_month(rows, months, "ewma"), *panels.by_month(rows, months, "z")],
        list(panels.by_month(rows, months, "limit")),
    )


def _finish_chart(ax: Any, cap: float) -> None:
    ax.set_ylim(-cap * 1.05, cap * 1.05)
    ax.grid(True, axis="y", color="#ececec", lw=0.5, zorder=0)


def _cusum_panel(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    h: float,
    cap: float,
    marker_size: float = 9,
) -> None:
    x = np.arange(len(months), dtype=float)
    upper, lower, limit = _cusum_arrays(rows, months, h)
    panels.shade_months(ax, panels.by_month(rows, months, "n") == 0)
    ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
    ax.plot(x, limit, color=LINE, lw=0.9, ls="--", drawstyle="steps-mid", zorder=2)
    ax.plot(x, -limit, color=LINE, lw=0.9, ls="--", drawstyle="steps-mid", zorder=2)
    for values, colour, marker in ((upper, POINT, "o"), (lower, SECOND, "s")):
        shown, off = panels.clip(values, cap)
        ax.plot(x, shown, color=colour, lw=1.0, marker=marker, ms=2.6, zorder=3)
        panels.off_scale(ax, x, shown, off, colour)
    alarm = panels.flags(rows, months)
    if alarm.any():
        worst = np.where(np.nan_to_num(upper) >= np.abs(np.nan_to_num(lower)), upper, lower)
        shown, _ = panels.clip(worst, cap)
        ax.scatter(x[alarm], shown[alarm], marker="X", s=marker_size * 3, color=FAIL, zorder=5)
    _finish_chart(ax, cap)


def _ewma_panel(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    cap: float,
    marker_size: float = 9,
) -> None:
    x = np.arange(len(months), dtype=float)
    z = panels.by_month(rows, months, "z")
    stat = panels.by_month(rows, months, "ewma")
    limit = panels.by_month(rows, months, "limit")
    panels.shade_months(ax, panels.by_month(rows, months, "n") == 0)
    ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
    ax.plot(x, limit, color=LINE, lw=0.9, ls="--", zorder=2)
    ax.plot(x, -limit, color=LINE, lw=0.9, ls="--", zorder=2)
    zs, _ = panels.clip(z, cap)
    ax.scatter(x, zs, s=6, marker=".", color=GUIDE, zorder=2)
    shown, off = panels.clip(stat, cap)
    ax.plot(x, shown, color=POINT, lw=1.0, marker="o", ms=2.6, zorder=3)
    panels.off_scale(ax, x, shown, off, POINT)
    alarm = panels.flags(rows, months)
    if alarm.any():
        ax.scatter(x[alarm], shown[alarm], marker="X", s=marker_size * 3, color=FAIL, zorder=5)
    _finish_chart(ax, cap)


def control_chart_figure(
    segments: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    signal: str,
    onsets: Mapping[Key, str] | None = None,
    h: float = math.nan,
) -> Figure:
    """Draw the per-segment small multiples of one stream's control chart, on the same axes.

    Parameters
    ----------
    segments : sequence of mapping
        ``surveillance.json`` ``segments``: ``series.output_mean`` rows (``month, n, mean, z,
        upper, lower, limit, alarm``; ``lower`` is drawn below zero) or
        ``series.output_positive_rate`` rows (``month, n, rate, z, ewma, limit, alarm``;
        ``limit`` is the month's half-width).
    months : sequence of str
        The monitored months (``YYYY-MM``), the x axis.
    signal : {"output_mean", "output_positive_rate"}
        The stream: its CUSUM charts, or its EWMA charts.
    onsets : mapping, optional
        ``{(site, vendor): onset month}`` of the stream's alerts: those panels are framed and
        titled as alarmed, and the onset is marked.
    h : float
        The CUSUM limit, where the rows carry none.

    Returns
    -------
    Figure
        The charts with their legend.
    """
    onsets = dict(onsets or {})
    keys = [segment_key(s) for s in segments]
    by_key = {segment_key(s): panels.series(s, signal) for s in segments}
    values: list[float] = []
    limits: list[float] = [h]
    for rows in by_key.values():
        more, lims = _chart_range(rows, months, signal, h)
        values += more
        limits += lims
    cap = panels.value_range(values, limits)
    with matplotlib.rc_context(RC):
        fig, cells = panels.grid_axes(keys)
        any_alarm = False
        for key, ax, left, bottom in cells:
            rows = by_key[key]
            if signal == MEAN:
                _cusum_panel(ax, rows, months, h=h, cap=cap)
            else:
                _ewma_panel(ax, rows, months, cap=cap)
            any_alarm |= panels.title_panel(ax, key, rows, months, onsets)
            panels.finish_axes(
                ax, months, left=left, bottom=bottom, ylabel="CUSUM" if signal == MEAN else "EWMA"
            )
        if signal == MEAN:
            handles = [
                Line2D([], [], color=POINT, marker="o", ms=3, lw=1, label="Upper CUSUM (rise)"),
                Line2D([], [], color=SECOND, marker="s", ms=3, lw=1, label="Lower CUSUM (fall)"),
                Line2D([], [], color=LINE, lw=0.9, ls="--", label="Control limit \u00b1h"),
            ]
        else:
            handles = [
                Line2D([], [], color=POINT, marker="o", ms=3, lw=1, label="EWMA"),
                Line2D([], [], color=GUIDE, marker=".", lw=0, ms=5, label="Monthly value (z)"),
                Line2D([], [], color=LINE, lw=0.9, ls="--", label="Control limits"),
            ]
        panels.legend(fig, handles + panels.alarm_handles(any_alarm), rows=panels.grid_rows(keys))
    return fig


def _label(output: Mapping[str, Any] | None, default: str) -> str:
    """The label of the protocol's measurement or finding (``default`` without one)."""
    return str(output["label"]) if output else default


def _cusum_caption(chart: Mapping[str, Any], measure: Mapping[str, Any] | None = None) -> str:
    h, k, arl0 = (as_float(chart[name]) for name in ("h", "k", "arl0"))
    label = _label(measure, "output")
    return (
        "Cumulative-sum (CUSUM) control charts of the model's monthly mean "
        f"{label} measurement, one "
        "panel per site and vendor, and all sites pooled, on the same axes. Each month's mean is "
        "compared with that segment's frozen validation baseline and standardised for the "
        "number of studies; the upper line (circles) accumulates evidence that the measurements "
        "have risen, the lower line (squares, drawn below zero) that they have fallen, and both "
        "restart at zero when the evidence fades. A segment alarms when a line crosses the "
        f"dashed limit (h = {fixed(h)}, reference value k = {fixed(k)}), chosen so that a segment "
        f"whose measurements have not changed raises a false alarm on average only once in "
        f"{fixed(arl0, 0)} months. Grey months had no studies; values beyond the shown range are "
        "drawn at its edge as open triangles."
    )


def _ewma_caption(
    chart: Mapping[str, Any], threshold: float, finding: Mapping[str, Any] | None = None
) -> str:
    lam, big_l, arl0 = (as_float(chart[name]) for name in ("lam", "L", "arl0"))
    label = _label(finding, "finding")
    at = (
        f" ({label} probability of at least {fixed(threshold)})" if math.isfinite(threshold) else ""
    )
    return (
        "Exponentially weighted moving-average (EWMA) control charts of the share of studies "
        f"the model flags as {label}-positive{at}, one panel per site and vendor, and all sites "
        "pooled. Each month's positive rate is compared with the segment's frozen validation "
        "baseline and standardised (grey dots); the EWMA line (circles) averages them, giving "
        f"the latest month the weight \u03bb = {fixed(lam)}. A segment alarms when the EWMA "
        f"leaves the dashed limits (L = {fixed(big_l, 3)} standard errors of the EWMA, narrower "
        f"in the first months), set so that a segment whose output has not changed raises a "
        f"false alarm on average only once in {fixed(arl0, 0)} months. Grey months had no "
        "studies."
    )


#: The id and alternative text of each stream's charts.
CHART_FIGURES: dict[str, tuple[str, str]] = {
    MEAN: (
        "cusum-mean",
        "CUSUM control charts of the monthly mean predicted {measure}, one panel per segment",
    ),
    RATE: (
        "ewma-positive-rate",
        "EWMA control charts of the monthly positive rate, one panel per segment",
    ),
}


def control_charts(
    fig: Figure,
    *,
    signal: str,
    chart: Mapping[str, Any],
    onsets: Mapping[Key, str] | None = None,
    threshold: float = math.nan,
    measure: Mapping[str, Any] | None = None,
    finding: Mapping[str, Any] | None = None,
) -> FigureRecord:
    """The record of one stream's control charts (drawn by :func:`control_chart_figure`).

    Parameters
    ----------
    fig : Figure
        The drawn charts.
    signal : {"output_mean", "output_positive_rate"}
        The stream: CUSUM charts of the monthly mean predicted measurement, or EWMA charts of
        the standardised monthly positive rate of the finding.
    chart : mapping
        The chart's parameters, ``false_alarm.charts.cusum`` (``k, h, arl0``) or
        ``false_alarm.charts.ewma`` (``lam, L, arl0``) of ``surveillance.json``.
    onsets : mapping, optional
        ``{(site, vendor): onset month}`` of the stream's alerts, named in the caption.
    threshold : float
        The protocol's probability threshold of the finding (the EWMA caption states it).
    measure, finding : mapping, optional
        The protocol's measurement and finding (:mod:`validation.report.outputs`): their labels
        name the streams.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    caption = (
        _cusum_caption(chart, measure)
        if signal == MEAN
        else _ewma_caption(chart, threshold, finding)
    )
    fig_id, alt = CHART_FIGURES[signal]
    alt = alt.format(measure=_label(measure, "output"))
    return figure_record(fig, fig_id, alt, caption + panels.alarmed_names(onsets or {}))


def alert_chart_figure(
    segment: Mapping[str, Any],
    months: Sequence[str],
    *,
    signal: str,
    baseline: Mapping[str, Any] | None = None,
    onset: str | None = None,
    h: float = math.nan,
    measure: Mapping[str, Any] | None = None,
    finding: Mapping[str, Any] | None = None,
) -> Figure:
    """Draw one alarmed output stream at full width: the monthly value against the segment's
    baseline (``baseline``: its ``baseline.segments`` entry), and its control chart, with the
    onset marked on both (``h``: the CUSUM limit where the rows carry none; ``measure`` and
    ``finding``: the protocol's outputs, which name the axes)."""
    rows = panels.series(segment, signal)
    x = np.arange(len(months), dtype=float)
    n = panels.by_month(rows, months, "n")
    base = baseline or {}
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(PAGE_WIDTH_IN - 0.1, 2.45))
        left, right = fig.subplots(1, 2)
        if signal == MEAN:
            level = panels.by_month(rows, months, "mean")
            ref = as_float(base.get("mean_measurement"))
            axis = measure["axis"] if measure else "output"
            left.set_ylabel(f"Mean predicted {axis}", fontsize=SMALL)
            ref_name = "Baseline mean"
        else:
            level = panels.by_month(rows, months, "rate") * 100.0
            ref = as_float(base.get("positive_rate")) * 100.0
            left.set_ylabel(f"{_label(finding, 'Positive')}-positive studies (%)", fontsize=SMALL)
            ref_name = "Baseline rate"
        panels.shade_months(left, n == 0)
        left.plot(x, level, color=POINT, lw=1.0, marker="o", ms=3, zorder=3, label="Monthly value")
        if math.isfinite(ref):
            left.axhline(ref, color=LINE, lw=0.9, ls=":", zorder=2, label=ref_name)
        alarm = panels.flags(rows, months)
        if alarm.any():
            left.scatter(x[alarm], level[alarm], marker="X", s=30, color=FAIL, zorder=5)
        panels.count_labels(left, n, lift=2)
        lo, hi = np.nanmin(np.r_[level, ref]), np.nanmax(np.r_[level, ref])
        pad = 0.12 * ((hi - lo) or 1.0)
        left.set_ylim(lo - 2.2 * pad, hi + pad)
        left.grid(True, axis="y", color="#ececec", lw=0.5, zorder=0)
        left.legend(loc="upper left", fontsize=SMALL, handlelength=1.8)
        values, limits = _chart_range(rows, months, signal, h)
        cap = panels.value_range(values, limits)
        if signal == MEAN:
            _cusum_panel(right, rows, months, h=h, cap=cap, marker_size=10)
            right.set_ylabel("CUSUM", fontsize=SMALL)
        else:
            _ewma_panel(right, rows, months, cap=cap, marker_size=10)
            right.set_ylabel("EWMA", fontsize=SMALL)
        for ax in (left, right):
            panels.month_axis(ax, months, labels=True)
            ax.tick_params(labelsize=SMALL)
            ax.spines[["top", "right"]].set_visible(False)
            panels.onset_line(ax, onset, months)
        title = segment_label(segment["site"], segment["vendor"])
        left.set_title(f"{title}: monthly value", fontsize=8, loc="left", fontweight="bold")
        right.set_title(
            f"{title}: control chart  \u2717 ALARM from {onset}" if onset else f"{title}: chart",
            fontsize=8,
            loc="left",
            color=FAIL if onset else INK,
            fontweight="bold",
        )
        fig.tight_layout(w_pad=2.0)
    return fig


def alert_chart(
    fig: Figure,
    *,
    segment: Mapping[str, Any],
    signal: str,
    onset: str | None,
    fig_id: str,
    measure: Mapping[str, Any] | None = None,
    finding: Mapping[str, Any] | None = None,
) -> FigureRecord:
    """The record of one alarmed output stream's chart (drawn by :func:`alert_chart_figure`).

    Parameters
    ----------
    fig : Figure
        The drawn chart.
    segment : mapping
        The alarmed ``segments`` entry of ``surveillance.json``.
    signal : {"output_mean", "output_positive_rate"}
        The alarmed stream.
    onset : str or None
        The alert's onset month.
    fig_id : str
        The figure's id (unique in the report).
    measure, finding : mapping, optional
        The protocol's measurement and finding: their labels name the stream.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    name = segment_label(segment["site"], segment["vendor"])
    if signal == MEAN:
        what = f"mean {_label(measure, 'output')} measured by the model"
        ref = "the dotted line is the segment's validation baseline mean"
        chart = "its CUSUM chart, with the decision limits dashed"
    else:
        what = f"share of studies flagged {_label(finding, 'finding')}-positive"
        ref = "the dotted line is the segment's validation baseline rate"
        chart = "its EWMA chart, with the control limits dashed"
    caption = (
        f"{name}: the monthly {what} (left; {ref}; the small grey numbers are the studies per "
        f"month) and {chart} (right). Crosses mark the months in alarm"
        + (f"; the vertical dashed line marks the onset, {onset}." if onset else ".")
    )
    return figure_record(fig, fig_id, f"{name}: monthly {what} and its control chart", caption)
