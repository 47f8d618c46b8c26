"""The subgroup forest plot of the evidence report: one row per stratum, grouped by dimension,
one panel per metric, with goals, small and failing strata, and the sites' pooled estimate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter
from matplotlib.transforms import blended_transform_factory

from validation.report.figures.record import FigureRecord, figure_record
from validation.report.figures.style import (
    FAIL,
    GUIDE,
    INK,
    LINE,
    MIN_FONT_PT,
    PAGE_WIDTH_IN,
    POINT,
    RC,
    SMALL,
    finite,
    finite_values,
)


def _forest_rows(groups: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], float]:
    """Lay the groups out top to bottom: header, strata and pooled rows with their y."""
    rows: list[dict[str, Any]] = []
    y = 0.0
    for gi, group in enumerate(groups):
        if gi:
            y += 0.45
        rows.append({"kind": "header", "y": y, "group": gi, "label": str(group["title"])})
        y += 1.0
        for row in group["rows"]:
            rows.append({"kind": "stratum", "y": y, "group": gi, **row})
            y += 1.0
        if group.get("pooled"):
            rows.append(
                {
                    "kind": "pooled",
                    "y": y,
                    "group": gi,
                    "label": "Pooled, random effects",
                    "pooled": group["pooled"],
                }
            )
            y += 1.0
    return rows, y


def _forest_limits(
    rows: Sequence[Mapping[str, Any]], panel: Mapping[str, Any]
) -> tuple[float, float]:
    metric = panel["metric"]
    values: list[float] = []
    for row in rows:
        cell = (row.get("cells") or {}).get(metric) if row["kind"] == "stratum" else None
        if cell:
            values += finite_values(cell.get("ci_low"), cell.get("ci_high"), cell.get("estimate"))
        pooled = (row.get("pooled") or {}).get(metric) if row["kind"] == "pooled" else None
        if pooled:
            values += finite_values(
                *(pooled.get(k) for k in ("ci_low", "ci_high", "prediction_low", "prediction_high"))
            )
    goal = panel.get("goal") or {}
    values += finite_values(goal.get("lower"), goal.get("upper"), panel.get("reference"))
    proportion = panel.get("scale") != "measurement"
    if proportion:
        values += [1.0]
    else:
        values += [0.0]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = 0.06 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    if proportion:
        lo, hi = max(lo, 0.0), min(hi, 1.0 + pad / 2)
    return lo, hi


def _fmt_tick(scale: str) -> Any:
    if scale == "measurement":
        return FuncFormatter(lambda x, _: f"{x:g}".replace("-", "\u2212"))
    return PercentFormatter(xmax=1.0, decimals=0)


@dataclass(frozen=True)
class _Layout:
    """Sizes of a forest figure in inches: the label column, each panel's plot and tag text."""

    width: float
    height: float
    label: float
    plot: float
    text: float
    gap: float
    bottom: float
    rows: float

    @classmethod
    def of(cls, n_panels: int, rows_height: float) -> _Layout:
        label = 1.35 if n_panels > 1 else 1.6
        text = 0.95 if n_panels > 1 else 1.25
        gap = 0.12
        width = PAGE_WIDTH_IN - 0.45
        top, bottom, legend = 0.42, 0.42, 0.62
        rows = max(rows_height, 1.0) * _ROW_IN
        return cls(
            width=width,
            height=top + rows + bottom + legend,
            label=label,
            plot=(width - label - n_panels * (text + gap)) / n_panels,
            text=text,
            gap=gap,
            bottom=bottom + legend,
            rows=rows,
        )


#: Height of one forest row, in inches.
_ROW_IN = 0.158


def _tag(ax: Any, side: Any, y: float, text: str, **style: Any) -> None:
    """Text in the tag column right of a panel, at row ``y``."""
    ax.text(1.03, y, text, transform=side, ha="left", va="center", fontsize=SMALL, **style)


def _row_label(ax: Any, side: Any, x: float, y: float, text: str, **style: Any) -> None:
    """Text in the label column left of the first panel, at row ``y``."""
    ax.text(x, y, text, transform=side, ha="left", va="center", fontsize=SMALL, **style)


def _panel_axes(
    fig: Figure,
    layout: _Layout,
    index: int,
    panel: Mapping[str, Any],
    rows: Sequence[Any],
    height: float,
) -> Any:
    """The axes of panel ``index``: limits, ticks, title, grid and the zero line."""
    left = layout.label + index * (layout.plot + layout.text + layout.gap)
    ax = fig.add_axes(
        (
            left / layout.width,
            layout.bottom / layout.height,
            layout.plot / layout.width,
            layout.rows / layout.height,
        )
    )
    lo, hi = _forest_limits(rows, panel)
    ax.set_xlim(lo, hi)
    ax.set_ylim(height - 0.4, -0.6)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(_fmt_tick(str(panel.get("scale"))))
    scale = str(panel.get("scale"))
    ticks = MaxNLocator(nbins=5).tick_values(lo, hi)
    ax.set_xticks([t for t in ticks if lo <= t <= hi and (scale == "measurement" or t <= 1.0)])
    ax.tick_params(axis="x", labelsize=SMALL)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_title(
        str(panel["title"]), fontsize=8.5, color=INK, fontweight="bold", loc="center", pad=6
    )
    ax.grid(True, axis="x", color="#ececec", lw=0.5, zorder=0)
    if panel.get("scale") == "measurement" and lo < 0 < hi:
        ax.axvline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
    return ax


def _draw_goals(
    ax: Any, rows: Sequence[Mapping[str, Any]], n_groups: int, metric: str, bounds: list[float]
) -> bool:
    """Dashed goal lines over the rows of each group whose strata are judged on ``metric``."""
    drawn = False
    for gi in range(n_groups):
        judged = [
            r
            for r in rows
            if r["group"] == gi
            and r["kind"] == "stratum"
            and ((r.get("cells") or {}).get(metric) or {}).get("judged")
        ]
        if not judged or not bounds:
            continue
        y0, y1 = judged[0]["y"] - 0.5, judged[-1]["y"] + 0.5
        for b in bounds:
            ax.vlines(b, y0, y1, color=LINE, lw=0.9, ls="--", zorder=2)
            ax.text(
                b, y0 - 0.05, "goal", ha="center", va="bottom", fontsize=MIN_FONT_PT, color=LINE
            )
        drawn = True
    return drawn


def _draw_pooled(ax: Any, side: Any, y: float, pooled: Mapping[str, Any] | None) -> bool:
    """The sites' random-effects estimate: a diamond (CI), its prediction interval and a tag."""
    if not pooled or not finite(pooled.get("estimate")):
        _tag(ax, side, y, "not estimable", color=GUIDE)
        return False
    plo, phi = pooled.get("prediction_low"), pooled.get("prediction_high")
    if finite(plo) and finite(phi):
        ax.plot((plo, phi), (y, y), color=LINE, lw=0.7, zorder=3, marker="|", ms=5)
    est = float(pooled["estimate"])
    low, high = pooled.get("ci_low"), pooled.get("ci_high")
    clo = low if finite(low) else est
    chi = high if finite(high) else est
    ax.add_patch(
        Polygon(
            [(clo, y), (est, y - 0.36), (chi, y), (est, y + 0.36)],
            closed=True,
            facecolor=LINE,
            edgecolor=LINE,
            lw=0.6,
            zorder=4,
        )
    )
    tag = f"{pooled.get('k', '')} sites"
    if pooled.get("poolable") is False:
        tag += "; not poolable"
    _tag(
        ax,
        side,
        y,
        tag,
        color=INK,
        fontweight="bold" if pooled.get("poolable") is False else "normal",
    )
    return True


def _draw_stratum(ax: Any, side: Any, y: float, cell: Mapping[str, Any] | None) -> set[str]:
    """One stratum's estimate and interval with its tags; returns the marks it used."""
    if cell is None:
        _tag(ax, side, y, "not reported", color=GUIDE, fontstyle="italic")
        return set()
    used: set[str] = set()
    n_text = f"n = {int(cell['n']):,}" if finite(cell.get("n")) else "n = n/a"
    est = cell.get("estimate")
    small = bool(cell.get("small"))
    failed = cell.get("goal_met") is False
    tags = [n_text]
    if small:
        tags.append("small")
        used.add("small")
    if failed:
        tags.append("\u2717 fails")
        used.add("fail")
    elif cell.get("goal_met") is True:
        tags.append("\u2713 meets")
        used.add("met")
    _tag(
        ax,
        side,
        y,
        "  ".join(tags),
        color=FAIL if failed else INK,
        fontweight="bold" if failed else "normal",
        fontstyle="italic" if small and not failed else "normal",
    )
    if not finite(est):
        ax.text(
            0.5,
            y,
            "n/a (undefined)",
            transform=side,
            ha="center",
            va="center",
            fontsize=SMALL,
            color=GUIDE,
            fontstyle="italic",
        )
        return used
    colour = FAIL if failed else POINT
    if finite(cell.get("ci_low")) and finite(cell.get("ci_high")):
        ax.plot(
            (cell["ci_low"], cell["ci_high"]),
            (y, y),
            color=colour,
            lw=1.6 if failed else 1.1,
            zorder=3,
            solid_capstyle="butt",
        )
    ax.plot(
        est,
        y,
        marker="D" if failed else "o",
        ms=5.0 if failed else 4.6,
        markerfacecolor="white" if small else colour,
        markeredgecolor=LINE if failed else colour,
        markeredgewidth=0.9,
        lw=0,
        zorder=4,
    )
    return used


def _legend(fig: Figure, used: set[str], confidence: float, min_n: int | None) -> None:
    """The legend of the marks the figure uses."""
    handles = [
        Line2D(
            [],
            [],
            color=POINT,
            lw=1.1,
            marker="o",
            ms=4.6,
            label=f"Estimate with its {100 * confidence:g}% CI",
        )
    ]
    if "small" in used:
        below = f"fewer than {min_n} studies" if min_n else "few studies"
        handles.append(
            Line2D(
                [],
                [],
                color=POINT,
                lw=1.1,
                marker="o",
                ms=4.6,
                markerfacecolor="white",
                label=f"Small stratum ({below})",
            )
        )
    if "fail" in used:
        handles.append(
            Line2D(
                [],
                [],
                color=FAIL,
                lw=1.6,
                marker="D",
                ms=5.0,
                markeredgecolor=LINE,
                label="Judged stratum: goal not met",
            )
        )
    if "goal" in used:
        handles.append(
            Line2D([], [], color=LINE, lw=0.9, ls="--", label="Goal, where the stratum is judged")
        )
    if "reference" in used:
        handles.append(
            Line2D([], [], color=GUIDE, lw=0.9, ls=":", label="Estimate over all studies")
        )
    if "pooled" in used:
        handles.append(
            Line2D(
                [],
                [],
                color=LINE,
                lw=0.7,
                marker="D",
                ms=5.5,
                label="Sites pooled (CI); thin line: prediction interval",
            )
        )
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=2 if len(handles) > 3 else 3,
        fontsize=SMALL,
        bbox_to_anchor=(0.5, 0.0),
        handlelength=2.4,
        columnspacing=1.6,
        frameon=False,
    )


def forest_figure(
    groups: Sequence[Mapping[str, Any]],
    panels: Sequence[Mapping[str, Any]],
    *,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> Figure:
    """Draw a subgroup forest plot (see :func:`forest`)."""
    rows, height = _forest_rows(groups)
    layout = _Layout.of(len(panels), height)
    used: set[str] = set()
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(layout.width, layout.height))
        for pi, panel in enumerate(panels):
            ax = _panel_axes(fig, layout, pi, panel, rows, height)
            metric = str(panel["metric"])
            if finite(panel.get("reference")):
                ax.axvline(float(panel["reference"]), color=GUIDE, lw=0.9, ls=":", zorder=1)
                used.add("reference")
            side = blended_transform_factory(ax.transAxes, ax.transData)
            goal = panel.get("goal") or {}
            bounds = finite_values(goal.get("lower"), goal.get("upper"))
            if _draw_goals(ax, rows, len(groups), metric, bounds):
                used.add("goal")
            label_x = -layout.label / layout.plot
            for r in rows:
                y = r["y"]
                if r["kind"] == "header":
                    if pi == 0:
                        _row_label(
                            ax, side, label_x, y, r["label"], fontweight="bold", color="#17385a"
                        )
                elif r["kind"] == "pooled":
                    if pi == 0:
                        _row_label(
                            ax, side, label_x + 0.06, y, r["label"], fontstyle="italic", color=INK
                        )
                    if _draw_pooled(ax, side, y, (r["pooled"] or {}).get(metric)):
                        used.add("pooled")
                else:
                    if pi == 0:
                        _row_label(ax, side, label_x + 0.06, y, str(r["label"]), color=INK)
                    used |= _draw_stratum(ax, side, y, (r.get("cells") or {}).get(metric))
            ax.set_xlabel(str(panel.get("xlabel") or ""), fontsize=SMALL)
        _legend(fig, used, confidence, min_n)
    return fig


def forest(
    groups: Sequence[Mapping[str, Any]],
    panels: Sequence[Mapping[str, Any]],
    *,
    fig_id: str,
    alt: str,
    caption: str,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> FigureRecord:
    """A subgroup forest plot: one row per stratum, grouped by dimension, one panel per metric.

    Parameters
    ----------
    groups : sequence of mapping
        One per dimension: ``{"title": str, "rows": [{"label": str, "cells": {metric: cell}}],
        "pooled": {metric: pooled} or None}``. A cell holds ``n, estimate, ci_low, ci_high,
        small, judged, goal_met`` (the tidy strata row); ``pooled`` holds the random-effects
        ``estimate, ci_low, ci_high, prediction_low, prediction_high, k, poolable``.
    panels : sequence of mapping
        One per metric: ``{"metric", "title", "xlabel", "scale" ("measurement", in its unit,
        or "proportion"),
        "goal" ({"lower", "upper"} or None), "reference" (the all-studies estimate or None)}``.
    fig_id, alt, caption : str
        The figure's id, alternative text and caption.
    confidence : float
        Confidence level of the intervals (for the legend).
    min_n : int, optional
        The protocol's smallest stratum size (for the legend of small strata).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = forest_figure(groups, panels, confidence=confidence, min_n=min_n)
    return figure_record(fig, fig_id, alt, caption)
