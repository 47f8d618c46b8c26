"""Forest plot of a model version comparison: candidate minus released, pooled and by stratum.

Drawn like the subgroup forest plots of :mod:`validation.report.figures.forest` (object-oriented
matplotlib, SVG data URI, printed size, no text under
:data:`~validation.report.figures.style.MIN_FONT_PT`,
the Okabe-Ito palette, and marker shape as well as colour for every distinction). One panel per
endpoint; the rows (pooled, then every stratum) are the same in every panel. Each panel shows the
line of no difference (solid) and the non-inferiority limit that the protocol's margin sets
(dashed; ``-margin`` when higher is better, ``+margin`` otherwise), with the inferior side shaded.
Every number drawn comes from ``results.json``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator
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
)

#: Most panels side by side in one figure (more endpoints make a second figure).
MAX_PANELS = 4
#: Shading of the inferior side of the non-inferiority limit.
INFERIOR = "#f6dccf"
UNTESTED = "#8a939b"

#: Marker, size, face, edge, line colour and width of each row status (see versions.status).
STYLE: dict[str, dict[str, Any]] = {
    "pass": {"marker": "o", "ms": 4.6, "face": POINT, "edge": POINT, "line": POINT, "lw": 1.1},
    "fail": {"marker": "D", "ms": 5.2, "face": FAIL, "edge": LINE, "line": FAIL, "lw": 1.7},
    "untested": {
        "marker": "s",
        "ms": 4.4,
        "face": UNTESTED,
        "edge": UNTESTED,
        "line": UNTESTED,
        "lw": 1.1,
    },
    "descriptive": {
        "marker": "o",
        "ms": 4.4,
        "face": "white",
        "edge": POINT,
        "line": "#7fb1d6",
        "lw": 0.9,
    },
    "descriptive-fail": {
        "marker": "o",
        "ms": 4.4,
        "face": "white",
        "edge": FAIL,
        "line": FAIL,
        "lw": 0.9,
    },
}
LEGEND = {
    "pass": "Judged: non-inferior",
    "fail": "Judged: NOT non-inferior",
    "untested": "Judged, not tested (gatekeeping)",
    "descriptive": "Not judged (descriptive)",
    "descriptive-fail": "Not judged; interval crosses the limit",
}


def _scale(unit: str) -> float:
    """Proportions are drawn in percentage points; a measurement (its UCUM unit, "%" included)
    and indices as they are."""
    return 100.0 if unit in ("", "proportion") else 1.0


def _tick(unit: str) -> FuncFormatter:
    fmt = "{:.2f}" if unit in ("index", "slope") else "{:g}"
    return FuncFormatter(lambda x, _: fmt.format(round(x, 6)).replace("-", "\u2212"))


def _layout(rows: Sequence[Mapping[str, Any]]) -> tuple[list[float], float]:
    """The y of every row (headers add a little space before them) and the total height."""
    ys: list[float] = []
    y = 0.0
    for i, row in enumerate(rows):
        if row["kind"] == "header" and i:
            y += 0.35
        ys.append(y)
        y += 1.0
    return ys, y


def _limits(panel: Mapping[str, Any], scale: float) -> tuple[float, float]:
    values = [0.0]
    for row in panel["rows"]:
        values += [
            scale * float(row[k]) for k in ("difference", "ci_low", "ci_high") if finite(row.get(k))
        ]
    bound = scale * float(panel["limit"]) if finite(panel.get("limit")) else None
    if bound is not None:
        values.append(bound)
    lo, hi = min(values), max(values)
    pad = 0.08 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    if bound is not None:  # leave the inferior side of the limit visibly shaded
        room = 0.12 * (hi - lo)
        lo, hi = (min(lo, bound - room), hi) if bound < 0 else (lo, max(hi, bound + room))
    return lo, hi


def comparison_forest_figure(
    panels: Sequence[Mapping[str, Any]], *, confidence: float = 0.95
) -> Figure:
    """Draw the comparison forest plot (see :func:`comparison_forest`)."""
    if not panels:
        raise ValueError("panels: expected at least one endpoint panel, got none")
    rows = panels[0]["rows"]
    ys, height = _layout(rows)
    label_in, gap_in = 1.15, 0.2
    width_in = PAGE_WIDTH_IN - 0.45
    n = len(panels)
    plot_in = (width_in - label_in - (n - 1) * gap_in) / n
    title_lines = max(
        len(textwrap.wrap(str(p["title"]), max(12, int(plot_in * 15)))) for p in panels
    )
    row_in = 0.168
    top_in = 0.18 + 0.15 * title_lines
    bottom_in, legend_in = 0.42, 0.7
    plot_h = (height + 0.9) * row_in
    fig_h = top_in + plot_h + bottom_in + legend_in
    used: set[str] = set()
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width_in, fig_h))
        for pi, panel in enumerate(panels):
            unit = str(panel.get("unit", ""))
            scale = _scale(unit)
            left = label_in + pi * (plot_in + gap_in)
            ax = fig.add_axes(
                (
                    left / width_in,
                    (bottom_in + legend_in) / fig_h,
                    plot_in / width_in,
                    plot_h / fig_h,
                )
            )
            lo, hi = _limits(panel, scale)
            ax.set_xlim(lo, hi)
            ax.set_ylim(height - 0.4, -1.3)
            ax.set_yticks([])
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.xaxis.set_major_formatter(_tick(unit))
            ax.tick_params(axis="x", labelsize=SMALL)
            ax.spines[["top", "right", "left"]].set_visible(False)
            ax.grid(True, axis="x", color="#ececec", lw=0.5, zorder=0)
            title = "\n".join(textwrap.wrap(str(panel["title"]), max(12, int(plot_in * 15))))
            ax.set_title(title, fontsize=SMALL, color=INK, fontweight="bold", pad=4)
            ax.set_xlabel(str(panel.get("xlabel") or ""), fontsize=SMALL)
            ax.axvline(0.0, color="#9a9a9a", lw=0.8, zorder=1)
            if finite(panel.get("limit")):
                bound = scale * float(panel["limit"])
                inferior = (lo, bound) if bound < 0 else (bound, hi)
                ax.axvspan(*inferior, color=INFERIOR, lw=0, zorder=0)
                ax.axvline(bound, color=LINE, lw=0.9, ls="--", zorder=2)
                inward = bound > (lo + hi) / 2  # the label sits on the side of the centre
                ax.text(
                    bound,
                    -0.85,
                    "limit\u2009" if inward else "\u2009limit",
                    ha="right" if inward else "left",
                    va="center",
                    fontsize=MIN_FONT_PT,
                    color=LINE,
                )
            side = blended_transform_factory(ax.transAxes, ax.transData)
            for row, y in zip(panel["rows"], ys, strict=True):
                if pi == 0:
                    header = row["kind"] == "header"
                    ax.text(
                        -label_in / plot_in + (0.0 if header else 0.08),
                        y,
                        str(row["label"]),
                        transform=side,
                        ha="left",
                        va="center",
                        fontsize=SMALL,
                        fontweight="bold" if row["kind"] != "stratum" else "normal",
                        color="#17385a" if header else INK,
                    )
                if row["kind"] == "header":
                    continue
                state = str(row.get("status"))
                if state not in STYLE or not finite(row.get("difference")):
                    ax.text(
                        0.5,
                        y,
                        "n/a",
                        transform=side,
                        ha="center",
                        va="center",
                        fontsize=MIN_FONT_PT,
                        color=GUIDE,
                        fontstyle="italic",
                    )
                    continue
                used.add(state)
                style = STYLE[state]
                grow = 0.8 if row["kind"] == "pooled" else 0.0
                if finite(row.get("ci_low")) and finite(row.get("ci_high")):
                    ax.plot(
                        (scale * float(row["ci_low"]), scale * float(row["ci_high"])),
                        (y, y),
                        color=style["line"],
                        lw=style["lw"] + grow / 2,
                        solid_capstyle="butt",
                        zorder=3,
                    )
                ax.plot(
                    scale * float(row["difference"]),
                    y,
                    marker=style["marker"],
                    ms=style["ms"] + grow,
                    markerfacecolor=style["face"],
                    markeredgecolor=style["edge"],
                    markeredgewidth=0.9,
                    lw=0,
                    zorder=4,
                )
        conf = f"{100 * confidence:g}%"
        handles: list[Any] = []
        for state in STYLE:
            if state in used:
                style = STYLE[state]
                handles.append(
                    Line2D(
                        [],
                        [],
                        color=style["line"],
                        lw=style["lw"],
                        marker=style["marker"],
                        ms=style["ms"],
                        markerfacecolor=style["face"],
                        markeredgecolor=style["edge"],
                        label=LEGEND[state],
                    )
                )
        handles += [
            Line2D([], [], color="#9a9a9a", lw=0.8, label="No difference"),
            Line2D([], [], color=LINE, lw=0.9, ls="--", label="Non-inferiority limit (margin)"),
            Patch(facecolor=INFERIOR, edgecolor="none", label="Inferior side of the limit"),
        ]
        fig.legend(
            handles=handles,
            loc="lower center",
            ncol=3 if len(handles) > 4 else len(handles),
            fontsize=SMALL,
            bbox_to_anchor=(0.5, 0.0),
            handlelength=2.2,
            columnspacing=1.4,
            frameon=False,
            title=f"Difference (candidate \u2212 released) with its {conf} CI",
            title_fontsize=SMALL,
        )
    return fig


def comparison_forest(
    panels: Sequence[Mapping[str, Any]],
    *,
    fig_id: str,
    alt: str,
    caption: str,
    confidence: float = 0.95,
) -> FigureRecord:
    """A forest plot of the paired differences between a candidate and the released version.

    Parameters
    ----------
    panels : sequence of mapping
        One per endpoint: ``{"title", "unit" (the measurement's UCUM code, "" for a
        proportion, "index"), "xlabel",
        "limit" (the signed non-inferiority limit on the difference, or None), "rows"}``; every
        panel has the same rows, each ``{"kind" ("header", "pooled" or "stratum"), "label",
        "difference", "ci_low", "ci_high", "status"}`` (status as in
        :func:`validation.report.evidence.versions.status`). Proportions are drawn in percentage
        points.
    fig_id, alt, caption : str
        The figure's id, alternative text and caption.
    confidence : float
        Confidence level of the intervals (for the legend).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    return figure_record(
        comparison_forest_figure(panels, confidence=confidence), fig_id, alt, caption
    )
