"""A drawn figure as the reports embed it: an SVG data URI with its id, alternative text and
caption (the figure record every report template's figure partial renders)."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from validation.report.figures.style import GUIDE, RC, SMALL

#: A figure record: ``{"id", "src", "alt", "caption"}``.
FigureRecord = dict[str, str]


def to_uri(fig: Figure) -> str:
    """``fig`` as an SVG (vector, no date, tight box) data URI."""
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(
            buf,
            format="svg",
            metadata={"Date": None},
            bbox_inches="tight",
            pad_inches=0.04,
            transparent=True,
        )
    data = base64.b64encode(buf.getvalue().encode("utf-8")).decode("ascii")
    return f"data:image/svg+xml;base64,{data}"


def figure_record(fig: Figure, fig_id: str, alt: str, caption: str) -> FigureRecord:
    """The record of a drawn figure: ``{"id", "src", "alt", "caption"}``."""
    return {"id": fig_id, "src": to_uri(fig), "alt": alt, "caption": caption}


def empty_message(ax: Any, text: str) -> None:
    """Write ``text`` in the middle of an axes that has nothing to draw, without ticks."""
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        fontsize=SMALL,
        color=GUIDE,
        wrap=True,
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])
