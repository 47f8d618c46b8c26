"""Small multiples of surveillance segments: the grid, the month axis and the alarm marks.

One layout serves every per-segment figure (:func:`panel_grid`): one row per site with its
vendors side by side, and the pooled segments in the last row, all on the same axes. An alarmed
segment's panel has a thick vermillion frame, a "\u2717 ALARM from <month>" title and the onset
line (:func:`title_panel`); months without data are grey and months whose labels are still
arriving are hatched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from validation.numbers import as_float
from validation.report.figures.style import FAIL, GUIDE, INK, PAGE_WIDTH_IN, SMALL, bottom_legend
from validation.report.segments import Key, is_pooled, segment_key, segment_label

#: Background of months without data, and of months whose labels are still arriving.
NO_DATA = "#eeeeee"
#: Off-scale values are drawn at this multiple of the largest limit, marked with an arrow head.
CAP = 2.5
#: Height of one row of panels, and of the legend below them (inches).
PANEL_H = 1.45
LEGEND_H = 0.55


def panel_grid(
    keys: Sequence[Key], *, max_cols: int = 4
) -> tuple[list[tuple[Key, int, int]], int, int]:
    """Place segments on a grid: a row per site (its vendors in name order), pooled ones last.

    Returns ``([(key, row, col), ...], nrows, ncols)``.

    Examples
    --------
    >>> pos, nrows, ncols = panel_grid([("s01", "GE"), ("*", "*"), ("s01", "Canon"), ("s02", "GE")])
    >>> [(k[0], k[1], r, c) for k, r, c in pos]
    [('s01', 'Canon', 0, 0), ('s01', 'GE', 0, 1), ('s02', 'GE', 1, 0), ('*', '*', 2, 0)]
    >>> nrows, ncols
    (3, 2)
    """
    plain = [k for k in keys if not is_pooled(k)]
    pooled = [k for k in keys if is_pooled(k)]
    sites: dict[str, list[str]] = {}
    for site, vendor in sorted(plain):
        sites.setdefault(site, []).append(vendor)
    widest = max([len(v) for v in sites.values()] + [len(pooled) and 1, 1])
    ncols = max(1, min(max_cols, widest))
    rows: list[list[Key]] = []
    for site, vendors in sites.items():
        for i in range(0, len(vendors), ncols):
            rows.append([(site, v) for v in vendors[i : i + ncols]])
    for i in range(0, len(pooled), ncols):
        rows.append(pooled[i : i + ncols])
    positions = [(key, r, c) for r, row in enumerate(rows) for c, key in enumerate(row)]
    return positions, max(1, len(rows)), ncols


def grid_rows(keys: Sequence[Key]) -> int:
    """How many rows of panels :func:`panel_grid` uses."""
    return len({r for _, r, _ in panel_grid(keys)[0]})


def grid_axes(
    keys: Sequence[Key], *, panel_h: float = PANEL_H, legend_h: float = LEGEND_H
) -> tuple[Figure, list[tuple[Key, Any, bool, bool]]]:
    """A figure with one axes per segment; returns ``(fig, [(key, ax, left_col, bottom), ...])``."""
    positions, nrows, ncols = panel_grid(keys)
    fig = Figure(figsize=(PAGE_WIDTH_IN - 0.1, legend_h + panel_h * nrows))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    used = {(r, c) for _, r, c in positions}
    for r in range(nrows):
        for c in range(ncols):
            if (r, c) not in used:
                axes[r][c].set_visible(False)
    out = []
    for key, r, c in positions:
        below_empty = r + 1 < nrows and (r + 1, c) not in used
        out.append((key, axes[r][c], c == 0, r == nrows - 1 or below_empty))
    return fig, out


def legend(fig: Figure, handles: Sequence[Any], *, rows: int, panel_h: float = PANEL_H) -> None:
    """The legend below the panels, and the layout that leaves room for it."""
    bottom_legend(fig, handles, ncol=min(len(handles), 4), handlelength=2.4)
    fig.tight_layout(
        rect=(0, LEGEND_H / (LEGEND_H + panel_h * rows) + 0.01, 1, 1), h_pad=0.9, w_pad=0.8
    )


def by_month(rows: Sequence[Mapping[str, Any]], months: Sequence[str], key: str) -> np.ndarray:
    """``rows[key]`` aligned on ``months`` (NaN where a month has no row or no value)."""
    where = {str(r.get("month")): r for r in rows}
    return np.array([as_float(where.get(m, {}).get(key)) for m in months], dtype=float)


def flags(
    rows: Sequence[Mapping[str, Any]], months: Sequence[str], key: str = "alarm"
) -> np.ndarray:
    """``rows[key]`` aligned on ``months`` as booleans (False where a month has no row)."""
    where = {str(r.get("month")): r for r in rows}
    return np.array([bool(where.get(m, {}).get(key)) for m in months], dtype=bool)


def series(segment: Mapping[str, Any], signal: str) -> list[Mapping[str, Any]]:
    """A ``segments`` entry's monthly rows of one output stream."""
    return list((segment.get("series") or {}).get(signal) or [])


def month_axis(ax: Any, months: Sequence[str], *, labels: bool) -> None:
    """Months on the x axis: a minor tick each, about four labelled."""
    n = len(months)
    step = max(1, math.ceil(n / 4))
    ax.set_xticks(range(n), minor=True)
    major = list(range(0, n, step))
    ax.set_xticks(major)
    ax.set_xticklabels([months[i] for i in major] if labels else [], fontsize=SMALL)
    ax.tick_params(axis="x", which="minor", length=1.5)
    ax.set_xlim(-0.6, n - 0.4)


def finish_axes(
    ax: Any,
    months: Sequence[str],
    *,
    left: bool,
    bottom: bool,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
) -> None:
    """The y range (when given, with horizontal grid lines), the month axis (labelled on the
    bottom panels) and the y label (on the left ones)."""
    if ylim is not None:
        ax.set_ylim(*ylim)
        ax.grid(True, axis="y", color="#ececec", lw=0.5, zorder=0)
    month_axis(ax, months, labels=bottom)
    if bottom:
        ax.xaxis.set_tick_params(labelbottom=True)
    ax.tick_params(labelsize=SMALL)
    if left:
        ax.set_ylabel(ylabel, fontsize=SMALL)


def shade_months(ax: Any, mask: np.ndarray) -> None:
    """Grey the months without data."""
    for i in np.flatnonzero(mask):
        ax.axvspan(i - 0.5, i + 0.5, color=NO_DATA, lw=0, zorder=0)


def hatch_months(ax: Any, mask: np.ndarray) -> None:
    """Hatch the months whose labels are still arriving (their values may still change)."""
    for i in np.flatnonzero(mask):
        ax.axvspan(
            i - 0.5, i + 0.5, facecolor=NO_DATA, hatch="///", edgecolor="#d0d0d0", lw=0, zorder=0
        )


def pending_handle() -> Patch:
    """The legend entry of the hatched months."""
    return Patch(facecolor=NO_DATA, hatch="///", edgecolor="#d0d0d0", label="Labels still arriving")


def onset_line(ax: Any, onset: str | None, months: Sequence[str]) -> int | None:
    """Draw the onset month as a dashed vermillion line; its position, or None if not shown."""
    if onset is None or onset not in months:
        return None
    i = list(months).index(onset)
    ax.axvline(i, color=FAIL, lw=1.0, ls=(0, (3, 2)), zorder=2)
    return i


def mark_alarm_panel(ax: Any, title: str, onset: str | None, months: Sequence[str]) -> None:
    """Thick vermillion frame, an ALARM title and the onset line: the alarmed segment."""
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(FAIL)
        spine.set_linewidth(1.6)
    suffix = f"\n\u2717 ALARM from {onset}" if onset else "\n\u2717 ALARM"
    ax.set_title(title + suffix, fontsize=8, loc="left", color=FAIL, fontweight="bold")
    i = onset_line(ax, onset, months)
    if i is not None:
        ax.annotate(
            "onset",
            xy=(i, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-2, -2),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=SMALL,
            color=FAIL,
            fontweight="bold",
        )


def onset_of(rows: Sequence[Mapping[str, Any]], months: Sequence[str]) -> str | None:
    """The first alarmed month of ``rows``, or None."""
    alarmed = flags(rows, months)
    return months[int(np.flatnonzero(alarmed)[0])] if alarmed.any() else None


def title_panel(
    ax: Any,
    key: Key,
    rows: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    onsets: Mapping[Key, str],
) -> bool:
    """Title a segment's panel, marked as alarmed when it has an alert or an alarmed month;
    return whether it is alarmed."""
    title = segment_label(*key)
    alarmed = key in onsets or bool(flags(rows, months).any())
    if alarmed:
        mark_alarm_panel(ax, title, onsets.get(key) or onset_of(rows, months), months)
    else:
        ax.set_title(title, fontsize=8, loc="left", color=INK, fontweight="bold")
        ax.spines[["top", "right"]].set_visible(False)
    return alarmed


def clip(values: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Values clipped to ``[-cap, cap]`` and the mask of those that were off scale."""
    off = np.abs(np.nan_to_num(values)) > cap
    return np.clip(values, -cap, cap), off


def off_scale(ax: Any, x: np.ndarray, clipped: np.ndarray, off: np.ndarray, colour: str) -> None:
    """Open triangles at the edge of the range for the values beyond it."""
    if off.any():
        ax.scatter(
            x[off],
            clipped[off],
            marker="^",
            s=22,
            facecolor="white",
            edgecolor=colour,
            lw=0.9,
            zorder=6,
        )


def value_range(values: Sequence[float], limits: Sequence[float]) -> float:
    """The shared y range: the data, at most :data:`CAP` times the largest limit."""
    lim = max([v for v in limits if math.isfinite(v)] + [1.0])
    data = max([abs(v) for v in values if math.isfinite(v)] + [0.0])
    return max(1.3 * lim, min(1.1 * data, CAP * lim))


def count_labels(ax: Any, counts: np.ndarray, *, lift: float) -> None:
    """The number of studies behind each month, small and grey at the bottom of the panel."""
    for i, count in enumerate(counts):
        if math.isfinite(count):
            ax.annotate(
                f"{int(count)}",
                xy=(i, 0.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, lift),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=SMALL - 0.5 if SMALL > 7.0 else SMALL,
                color=GUIDE,
            )


def alarm_handles(alarmed: bool) -> list[Any]:
    """Legend entries of the alarm marks (only when a panel is alarmed) and of empty months."""
    marks = [
        Line2D([], [], color=FAIL, marker="X", lw=0, ms=5, label="Alarm in that month"),
        Line2D([], [], color=FAIL, lw=1.0, ls=(0, (3, 2)), label="Onset of the alarm"),
        Patch(facecolor="white", edgecolor=FAIL, lw=1.6, label="Alarmed segment (\u2717 in title)"),
    ]
    empty = Patch(facecolor=NO_DATA, edgecolor="none", label="No studies that month")
    return [*marks, empty] if alarmed else [empty]


def alarmed_names(onsets: Mapping[Key, str]) -> str:
    """The end of a caption naming the alarmed segments and their onsets ("" if none)."""
    if not onsets:
        return ""
    names = [f"{segment_label(*k)} (from {m})" for k, m in sorted(onsets.items())]
    return " Alarmed: " + "; ".join(names) + "."


def rows_by_segment(
    rows: Sequence[Mapping[str, Any]], keys: Sequence[Key]
) -> dict[Key, list[Mapping[str, Any]]]:
    """``rows`` grouped by segment: every one of ``keys`` (in order, even without rows), then
    any other segment the rows name."""
    grouped: dict[Key, list[Mapping[str, Any]]] = {k: [] for k in keys}
    for row in rows:
        grouped.setdefault(segment_key(row), []).append(row)
    return grouped
