"""The STARD 2015 flow diagram of the evidence report: every study from receipt to analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from validation.report.figures.record import FigureRecord, figure_record
from validation.report.figures.style import INK, RC


def _box(
    ax: Any, x: float, y: float, w: float, h: float, lines: Sequence[str], *, main: bool
) -> None:
    face = "#eef3f8" if main else "#fbf4ec"
    edge = "#2b5d8a" if main else "#b5732a"
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.12",
            facecolor=face,
            edgecolor=edge,
            lw=0.9,
        )
    )
    ax.text(
        x if main else x - w / 2 + 0.18,
        y,
        "\n".join(lines),
        ha="center" if main else "left",
        va="center",
        fontsize=8,
        color=INK,
        linespacing=1.35,
    )


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": "#444444", "lw": 0.9, "shrinkA": 0, "shrinkB": 0},
    )


def flow_diagram_figure(flow: Mapping[str, Any]) -> Figure:
    """Draw the flow diagram (see :func:`flow_diagram`)."""
    reasons = [f"\u2022 {e['label']}: {e['n']:,}" for e in flow["exclusions"]]
    side_h_ingest = 0.62 + 0.34 * len(reasons)
    main_x, main_w, main_h = 2.6, 3.6, 0.85
    side_x, side_w = 7.6, 4.6
    step = max(1.55, side_h_ingest + 0.45)
    y_recv = 0.0
    y_incl = y_recv - step
    y_qual = y_incl - 1.15
    y_ref = y_qual - 1.0
    y_anal = y_ref - 1.15
    height = -(y_anal) + 1.2
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(6.4, 0.52 * height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 10.2)
        ax.set_ylim(y_anal - 0.6, y_recv + 0.6)
        ax.axis("off")
        _box(
            ax,
            main_x,
            y_recv,
            main_w,
            main_h,
            ["Studies received", f"n = {flow['received']:,}"],
            main=True,
        )
        _box(
            ax,
            main_x,
            y_incl,
            main_w,
            main_h,
            ["Included after ingest", f"n = {flow['included']:,}"],
            main=True,
        )
        _box(
            ax, main_x, y_anal, main_w, main_h, ["Analysed", f"n = {flow['analysed']:,}"], main=True
        )
        y_mid = (y_recv + y_incl) / 2
        _box(
            ax,
            side_x,
            y_mid,
            side_w,
            side_h_ingest,
            [f"Excluded at ingest: {flow['excluded_at_ingest']:,}", *reasons],
            main=False,
        )
        _box(
            ax,
            side_x,
            y_qual,
            side_w,
            0.6,
            [f"Rejected by the device quality gate: {flow['quality_rejected']:,}"],
            main=False,
        )
        _box(
            ax,
            side_x,
            y_ref,
            side_w,
            0.6,
            [f"No reference standard: {flow['no_reference']:,}"],
            main=False,
        )
        for top, bottom in ((y_recv, y_incl), (y_incl, y_anal)):
            _arrow(ax, (main_x, top - main_h / 2), (main_x, bottom + main_h / 2))
        for y in (y_mid, y_qual, y_ref):
            _arrow(ax, (main_x, y), (side_x - side_w / 2, y))
    return fig


def flow_diagram(flow: Mapping[str, Any]) -> FigureRecord:
    """STARD-style flow: received, excluded at ingest, quality gate, no reference, analysed.

    Parameters
    ----------
    flow : mapping
        The report's flow context: counts ``received``, ``included``, ``excluded_at_ingest``,
        ``quality_rejected``, ``no_reference``, ``analysed`` and the ``exclusions`` (each
        ``{"label", "n"}``).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    return figure_record(
        flow_diagram_figure(flow),
        "flow",
        "Flow diagram of studies from receipt to analysis",
        "Flow of studies (STARD 2015): every file received from the sites is accounted for, "
        "from receipt through exclusion at ingest (with its reason), rejection by the device's "
        "image-quality gate and a missing reference standard, to the analysed set.",
    )


# ---------------------------------------------------------------------------------------------
