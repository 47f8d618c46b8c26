"""Performance on the audited subset: the audited bias by month of acquisition against the
premarket goal, and the change of the audited bias since validation (signed T against its
limit), one panel per segment."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from validation.numbers import as_float
from validation.report.figures.record import FigureRecord, figure_record
from validation.report.figures.style import FAIL, GUIDE, LINE, POINT, RC, SMALL, fixed
from validation.report.figures.surveillance import panels
from validation.report.segments import Key

#: Panel height (inches) of the audited-bias change chart: lower than the others', so that it
#: fits on the page under the section's tables.
BIAS_PANEL_H = 1.1
#: The audited bias is drawn within this many times the largest goal bound (in the measurement's
#: unit, whatever it is: ±8 mm for a ±1 mm goal, ±40 points for a ±5-point goal).
BIAS_RANGE_GOALS = 8.0
#: A month's audited bias with its interval.
_ESTIMATE: dict[str, Any] = {
    "fmt": "o",
    "ms": 2.8,
    "color": POINT,
    "ecolor": POINT,
    "elinewidth": 0.8,
    "capsize": 1.5,
    "zorder": 3,
}


def _bias_ylim(
    performance: Sequence[Mapping[str, Any]], goal: Mapping[str, Any]
) -> tuple[float, float]:
    """The shared bias range: the goal, zero, the estimates and their intervals, within
    :data:`BIAS_RANGE_GOALS` times the goal (unbounded without a goal)."""
    bounds = [as_float(goal.get("lower")), as_float(goal.get("upper"))]
    reach = max((abs(b) for b in bounds if math.isfinite(b) and b != 0.0), default=math.inf)
    levels = [*bounds, 0.0]
    for row in performance:
        ci = row.get("bias_ci") or [None, None]
        levels += [as_float(row.get("bias")), *(as_float(c) for c in ci[:2])]
    finite = [v for v in levels if math.isfinite(v)]
    lo, hi = min(finite), max(finite)
    lim_lo, lim_hi = max(lo, -BIAS_RANGE_GOALS * reach), min(hi, BIAS_RANGE_GOALS * reach)
    pad = 0.1 * ((lim_hi - lim_lo) or 1.0)
    return (lim_lo - pad, lim_hi + pad)


def _bias_panel(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    goal: Mapping[str, Any],
    ylim: tuple[float, float],
    pending: np.ndarray,
) -> None:
    x = np.arange(len(months), dtype=float)
    panels.hatch_months(ax, pending)
    ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
    for bound in ("lower", "upper"):
        if math.isfinite(as_float(goal.get(bound))):
            ax.axhline(as_float(goal[bound]), color=LINE, lw=0.8, ls="-.", zorder=2)
    bias = panels.by_month(rows, months, "bias")
    where = {str(r.get("month")): r for r in rows}
    cis = [where.get(m, {}).get("bias_ci") or [None, None] for m in months]
    low = np.array([as_float(c[0]) for c in cis])
    high = np.array([as_float(c[1]) for c in cis])
    ok = np.isfinite(bias)
    err = np.vstack([bias - low, high - bias])
    err = np.where(np.isfinite(err), err, 0.0)
    if ok.any():
        ax.errorbar(x[ok], np.clip(bias[ok], *ylim), yerr=err[:, ok], **_ESTIMATE)
    alarm = panels.flags(rows, months)
    if alarm.any():
        ax.scatter(x[alarm], np.clip(bias[alarm], *ylim), marker="X", s=27, color=FAIL, zorder=5)
    panels.count_labels(ax, panels.by_month(rows, months, "labelled"), lift=1.5)


def performance_figure(
    performance: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    keys: Sequence[Key],
    goal: Mapping[str, Any] | None = None,
    pending: Sequence[str] = (),
    onsets: Mapping[Key, str] | None = None,
    measure: Mapping[str, Any] | None = None,
) -> Figure:
    """Draw the audited bias (model minus reference measurement) by month of acquisition, per
    segment.

    Parameters
    ----------
    performance : sequence of mapping
        ``surveillance.json`` ``performance`` rows (``month, site, vendor, labelled, bias,
        bias_ci, alarm``).
    months : sequence of str
        The monitored months.
    keys : sequence of (site, vendor)
        The segments to draw (a panel each, even without labels).
    goal : mapping, optional
        The premarket bias goal (``lower`` / ``upper``), drawn dash-dot.
    pending : sequence of str
        Months whose labels are still arriving (hatched).
    onsets : mapping, optional
        ``{(site, vendor): onset}`` of the ``performance`` alerts (framed panels).
    measure : mapping, optional
        The protocol's measurement (:func:`validation.report.outputs.measure_context`): the
        unit of the axis.

    Returns
    -------
    Figure
        The panels with their legend.
    """
    goal = goal or {}
    onsets = dict(onsets or {})
    rows_by = panels.rows_by_segment(performance, keys)
    ylim = _bias_ylim(performance, goal)
    shown = (ylim[0] - 0.12 * (ylim[1] - ylim[0]), ylim[1])  # room for the counts below
    pending_mask = np.array([m in set(pending) for m in months], dtype=bool)
    ylabel = f"Bias{measure['difference_axis'] if measure else ''}"
    with matplotlib.rc_context(RC):
        fig, cells = panels.grid_axes(list(rows_by))
        for key, ax, left, bottom in cells:
            rows = rows_by[key]
            _bias_panel(ax, rows, months, goal=goal, ylim=ylim, pending=pending_mask)
            panels.title_panel(ax, key, rows, months, onsets)
            panels.finish_axes(ax, months, left=left, bottom=bottom, ylabel=ylabel, ylim=shown)
        handles = [
            Line2D([], [], color=POINT, marker="o", ms=3, lw=0.8, label="Bias with its CI"),
            Line2D([], [], color=LINE, lw=0.8, ls="-.", label="Premarket goal for the bias"),
            panels.pending_handle(),
            Line2D([], [], color=FAIL, marker="X", lw=0, ms=5, label="Goal missed (alarm)"),
        ]
        panels.legend(fig, handles, rows=panels.grid_rows(list(rows_by)))
    return fig


def performance_chart(
    fig: Figure,
    *,
    onsets: Mapping[Key, str] | None = None,
    confidence: float = 0.95,
    measure: Mapping[str, Any] | None = None,
) -> FigureRecord:
    """The record of the audited bias chart (drawn by :func:`performance_figure`).

    Parameters
    ----------
    fig : Figure
        The drawn chart.
    onsets : mapping, optional
        ``{(site, vendor): onset}`` of the ``performance`` alerts, named in the caption.
    confidence : float
        Level of the intervals.
    measure : mapping, optional
        The protocol's measurement: its label names what the bias is of.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    caption = (
        f"Bias of the model's {measure['label'] if measure else 'measurement'} against the "
        "reference reading on the audited studies, by "
        "month of acquisition, one panel per site and vendor and all sites pooled: each point "
        f"is the month's mean difference (model minus reference) with its {100 * confidence:g}% "
        "confidence interval, and the small grey numbers are the labelled studies behind it. "
        "The dash-dot lines are the premarket goal for the bias. Hatched months are still "
        "awaiting labels (reference readings arrive one to three months after acquisition), "
        "so their points may change in later reports." + panels.alarmed_names(onsets or {})
    )
    return figure_record(
        fig,
        "performance-bias",
        "Audited bias by month of acquisition, one panel per segment, with the premarket goal",
        caption,
    )


def _change_panel(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    limit: float,
    cap: float,
    pending: np.ndarray,
) -> np.ndarray:
    """Draw one segment's T against its limit; return the T of each month."""
    x = np.arange(len(months), dtype=float)
    t = panels.by_month(rows, months, "t")
    panels.hatch_months(ax, pending)
    panels.shade_months(ax, ~np.isfinite(t) & ~pending)
    ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
    if math.isfinite(limit):
        for level in (limit, -limit):
            ax.axhline(level, color=LINE, lw=0.9, ls="--", zorder=2)
    shown, off = panels.clip(t, cap)
    ax.plot(x, shown, color=POINT, lw=1.0, marker="o", ms=2.6, zorder=3)
    panels.off_scale(ax, x, shown, off, POINT)
    alarm = panels.flags(rows, months)
    if alarm.any():
        ax.scatter(x[alarm], shown[alarm], marker="X", s=27, color=FAIL, zorder=5)
    return t


def bias_change_figure(
    records: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    keys: Sequence[Key],
    limits: Mapping[Key, float],
    pending: Sequence[str] = (),
    onsets: Mapping[Key, str] | None = None,
) -> Figure:
    """Draw the change of the audited bias since validation: signed T by month of acquisition,
    per segment.

    Parameters
    ----------
    records : sequence of mapping
        ``surveillance.json`` ``bias_change.months`` rows (``month, site, vendor, t, limit,
        alarm``; the statistic of the month's window of largest ``|T|``).
    months : sequence of str
        The monitored months.
    keys : sequence of (site, vendor)
        The segments to draw (a panel each, even when not assessed).
    limits : mapping
        ``{(site, vendor): limit}``, the calibrated limit of each assessed segment (dashed at
        plus and minus).
    pending : sequence of str
        Months whose labels are still arriving (hatched).
    onsets : mapping, optional
        ``{(site, vendor): first alarmed month}`` (framed panels with the onset line).

    Returns
    -------
    Figure
        The panels with their legend.
    """
    onsets = dict(onsets or {})
    rows_by = panels.rows_by_segment(records, keys)
    limit_of = {k: as_float(limits.get(k)) for k in rows_by}
    cap = panels.value_range([as_float(r.get("t")) for r in records], list(limit_of.values()))
    pending_mask = np.array([m in set(pending) for m in months], dtype=bool)
    any_alarm = False
    with matplotlib.rc_context(RC):
        fig, cells = panels.grid_axes(list(rows_by), panel_h=BIAS_PANEL_H)
        for key, ax, left, bottom in cells:
            rows = rows_by[key]
            limit = limit_of[key]
            t = _change_panel(ax, rows, months, limit=limit, cap=cap, pending=pending_mask)
            any_alarm |= panels.title_panel(ax, key, rows, months, onsets)
            if not math.isfinite(limit) and not np.isfinite(t).any():
                ax.text(
                    0.5,
                    0.5,
                    "not assessed",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    fontsize=SMALL,
                    color=GUIDE,
                )
            panels.finish_axes(
                ax, months, left=left, bottom=bottom, ylabel="T", ylim=(-cap * 1.05, cap * 1.05)
            )
        handles = [
            Line2D([], [], color=POINT, marker="o", ms=3, lw=1, label="T of the month"),
            Line2D([], [], color=LINE, lw=0.9, ls="--", label="Segment's limit \u00b1c"),
            panels.pending_handle(),
            Patch(
                facecolor=panels.NO_DATA, edgecolor="none", label="No audited label in the window"
            ),
        ]
        if any_alarm:
            handles += panels.alarm_handles(True)[:3]
        panels.legend(fig, handles, rows=panels.grid_rows(list(rows_by)), panel_h=BIAS_PANEL_H)
    return fig


def bias_change_chart(
    fig: Figure,
    *,
    limits: Mapping[Key, float],
    onsets: Mapping[Key, str] | None = None,
    min_shift: float = math.nan,
    measure: Mapping[str, Any] | None = None,
) -> FigureRecord:
    """The record of the chart of the audited bias's change since validation (drawn by
    :func:`bias_change_figure`).

    Parameters
    ----------
    fig : Figure
        The drawn chart.
    limits : mapping
        ``{(site, vendor): limit}``, the calibrated limits (their range is stated).
    onsets : mapping, optional
        ``{(site, vendor): first alarmed month}``, named in the caption.
    min_shift : float
        The materiality gate of an alarm, in the measurement's unit.
    measure : mapping, optional
        The protocol's measurement: its label, and the unit and decimals of ``min_shift``.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    finite = sorted(v for v in (as_float(v) for v in limits.values()) if math.isfinite(v))
    if not finite:
        span = ""
    elif finite[0] == finite[-1] or round(finite[0], 2) == round(finite[-1], 2):
        span = f" (c = {fixed(finite[0])})"
    else:
        span = f" (c from {fixed(finite[0])} to {fixed(finite[-1])})"
    digits = int(measure["precision"]) if measure else 1
    symbol = f" {measure['difference_symbol']}" if measure and measure["difference_symbol"] else ""
    gate = (
        f" and a change of at least {fixed(min_shift, digits)}{symbol}"
        if math.isfinite(min_shift)
        else ""
    )
    label = measure["label"] if measure else "measurement"
    caption = (
        f"Change of the audited bias (model minus reference {label}) since the validation "
        "study, by "
        "month of acquisition, one panel per site and vendor and all sites pooled, on the same "
        "axes: each point is the month's T, the audited bias of the window of one to three "
        "months ending that month minus the validation bias, in standard errors that include "
        "the validation study's own sampling error (above zero the model now reads higher "
        "against the reference than in validation). The dashed lines are the segment's limit "
        f"\u00b1c{span}. A cross marks a month in alarm (|T| at the limit{gate}). Hatched "
        "months are still awaiting labels, so their T may change in later reports; grey months "
        "have no audited label in their window yet. Values beyond the shown range are drawn at "
        "its edge as open triangles." + panels.alarmed_names(onsets or {})
    )
    return figure_record(
        fig,
        "bias-change",
        "Change of the audited bias since validation (T) by month of acquisition, one panel per "
        "segment, with the limits",
        caption,
    )
