"""Input and population drift: the effect size of each test relative to its threshold, a map of
segment x month per monitored variable."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from validation.numbers import as_float
from validation.report.figures.record import FigureRecord, figure_record
from validation.report.figures.style import FAIL, INK, PAGE_WIDTH_IN, RC, SMALL, bottom_legend
from validation.report.figures.surveillance.panels import NO_DATA
from validation.report.segments import Key, segment_key, segment_label

#: White (no change) to Okabe-Ito blue (twice the threshold or more).
_HEAT = LinearSegmentedColormap.from_list("drift", ["#ffffff", "#cfe3f2", "#56B4E9", "#0072B2"])


def _cells(
    rows: Sequence[Mapping[str, Any]], months: Sequence[str], keys: Sequence[Key]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment x month grids of the effect-size ratio (NaN: not tested), of the material
    changes and of the alarms."""
    grid = np.full((len(keys), len(months)), np.nan)
    passed = np.zeros_like(grid, dtype=bool)
    alarm = np.zeros_like(grid, dtype=bool)
    index = {k: j for j, k in enumerate(keys)}
    col = {m: j for j, m in enumerate(months)}
    for row in rows:
        r, c = index.get(segment_key(row)), col.get(str(row.get("month")))
        if r is None or c is None:
            continue
        grid[r, c] = as_float(row.get("ratio"))
        passed[r, c] = bool(row.get("passed"))
        alarm[r, c] = bool(row.get("alarm"))
    return grid, passed, alarm


def _map_panel(
    ax: Any, panel: Mapping[str, Any], months: Sequence[str], keys: Sequence[Key]
) -> AxesImage:
    """Draw one variable's map: shaded ratio, dots for material changes, framed crosses for
    alarms and grey cells where nothing was tested."""
    grid, passed, alarm = _cells(panel["rows"], months, keys)
    image: AxesImage = ax.imshow(
        np.clip(grid, 0, 2),
        cmap=_HEAT,
        vmin=0,
        vmax=2,
        aspect="auto",
        interpolation="nearest",
    )
    dots = np.nonzero(passed & ~alarm)
    if dots[0].size:
        ax.scatter(
            dots[1],
            dots[0],
            s=9,
            marker="o",
            facecolor="white",
            edgecolor=INK,
            lw=0.7,
            zorder=3,
        )
    for r, c in zip(*np.nonzero(alarm), strict=True):
        ax.add_patch(
            Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=FAIL, lw=1.4, zorder=4)
        )
        ax.text(
            c, r, "\u2717", ha="center", va="center", fontsize=SMALL, color=FAIL, fontweight="bold"
        )
    for r, c in zip(*np.nonzero(np.isnan(grid)), strict=True):
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=NO_DATA, lw=0, zorder=1))
    ax.set_title(panel["title"], fontsize=8, loc="left", fontweight="bold", color=INK)
    return image


def _map_axes(ax: Any, months: Sequence[str], labels: Sequence[str], *, named: bool) -> None:
    """Segments down (named on the first column), about four months labelled across, and white
    lines between the cells."""
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels if named else [], fontsize=SMALL)
    step = max(1, math.ceil(len(months) / 4))
    ax.set_xticks(range(0, len(months), step))
    ax.set_xticklabels([months[j] for j in range(0, len(months), step)], fontsize=SMALL)
    ax.set_xticks(np.arange(-0.5, len(months)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(labels)), minor=True)
    ax.grid(True, which="minor", color="white", lw=0.6)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(labelsize=SMALL)


def drift_figure(
    panels: Sequence[Mapping[str, Any]], months: Sequence[str], *, keys: Sequence[Key]
) -> Figure:
    """Draw the drift effect sizes against their thresholds, a map of segment x month per
    variable.

    Parameters
    ----------
    panels : sequence of mapping
        One per variable and effect measure: ``{"title", "rows"}``, each row a ``drift`` row of
        ``surveillance.json`` with ``ratio`` (effect size divided by its threshold), ``passed``
        (effect size at or above its threshold) and ``alarm`` added by the report context.
    months : sequence of str
        The monitored months (columns).
    keys : sequence of (site, vendor)
        The segments (rows), in order.

    Returns
    -------
    Figure
        The maps with their legend and colour bar.
    """
    labels = [segment_label(*k) for k in keys]
    ncols = 2 if len(panels) > 1 else 1
    nrows = max(1, math.ceil(len(panels) / ncols))
    panel_h = 0.55 + 0.16 * len(keys)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(PAGE_WIDTH_IN - 0.1, 0.5 + panel_h * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        image = None
        for i, ax in enumerate(axes.flat):
            if i >= len(panels):
                ax.set_visible(False)
                continue
            image = _map_panel(ax, panels[i], months, keys)
            _map_axes(ax, months, labels, named=i % ncols == 0)
        handles = [
            Line2D(
                [],
                [],
                color=INK,
                marker="o",
                markerfacecolor="white",
                markeredgewidth=0.7,
                lw=0,
                ms=4,
                label="Material change (effect sizes at or above thresholds)",
            ),
            Patch(
                facecolor="white",
                edgecolor=FAIL,
                lw=1.4,
                label="\u2717 Alarm (test rejects and effect large)",
            ),
            Patch(facecolor=NO_DATA, edgecolor="none", label="Not tested (no studies)"),
        ]
        bottom_legend(fig, handles, ncol=3)
        fig.tight_layout(
            rect=(0, 0.35 / (0.5 + panel_h * nrows) + 0.02, 0.9, 1), h_pad=1.0, w_pad=1.0
        )
        if image is not None:
            cax = fig.add_axes((0.915, 0.3, 0.015, 0.5))
            bar = fig.colorbar(image, cax=cax, ticks=[0, 0.5, 1, 1.5, 2])
            bar.ax.set_yticklabels(
                ["0", "\u00bd", "1 (threshold)", "1\u00bd", "\u2265 2"], fontsize=SMALL
            )
            bar.set_label("Effect size / its threshold (smallest)", fontsize=SMALL)
    return fig


def drift_map(fig: Figure) -> FigureRecord:
    """The record of the drift maps (drawn by :func:`drift_figure`).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    caption = (
        "Input and population drift against the frozen validation baseline, one map per "
        "variable: each cell is a segment (row) in a month (column), shaded by the size of its "
        "difference from the baseline divided by the threshold that counts as a material "
        "change (for a continuous variable the smaller of KS D and PSI, each relative to its "
        "threshold; darker is larger, 1 is the threshold). A dot marks a material change; a "
        "cross in a red frame marks an alarm, raised only when the test also "
        "rejects at the family-wise adjusted level, so that large samples do not alarm on "
        "trivial differences. Grey cells had no studies to test."
    )
    return figure_record(
        fig,
        "drift-map",
        "Maps of drift effect size by segment and month, one per monitored variable",
        caption,
    )
