"""The look shared by every report figure: palette, fonts, sizes and small text helpers.

Figures are drawn at the size they print (at most :data:`PAGE_WIDTH_IN` wide, shown unscaled by
the stylesheets) with no text under :data:`MIN_FONT_PT`. They use the Okabe-Ito colour-blind-safe
palette and never rely on colour alone: markers, line styles and text tags carry the same
information.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from validation.numbers import as_float

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: Okabe-Ito colour-blind-safe palette and distinct markers, assigned to vendors in sorted order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Text and axis ink.
INK = "#1f2a36"
#: Estimates, limits and failing strata: Okabe-Ito blue, vermillion and a dark ink; guides grey.
POINT = "#0072B2"
FAIL = "#D55E00"
LINE = "#1f2a36"
GUIDE = "#7a7a7a"
#: Second series colour (Okabe-Ito bluish green).
SECOND = "#009E73"
#: Printable width of an A4 page between the reports' margins, in inches (174 mm).
PAGE_WIDTH_IN = 174 / 25.4
#: Smallest font size, in points at printed size.
MIN_FONT_PT = 7.0
#: The font size of tick labels, legends and annotations.
SMALL = 7.5
#: matplotlib settings of every figure (vector text as paths, a fixed SVG hash salt so that the
#: same figure gives the same bytes).
RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "mval-report",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.edgecolor": "#555555",
    "axes.linewidth": 0.6,
    "axes.labelcolor": INK,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "legend.frameon": False,
}


def finite(value: Any) -> TypeGuard[float]:
    """Whether ``value`` is a finite number (None, NaN, infinities and text are not)."""
    return math.isfinite(as_float(value))


def finite_values(*values: Any) -> list[float]:
    """The finite numbers among ``values``, as floats."""
    return [as_float(v) for v in values if finite(v)]


def signed(value: float, digits: int = 2) -> str:
    """A number with its sign and a typographic minus: ``+0.41``, ``−1.20``."""
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def fixed(value: float, digits: int = 2) -> str:
    """A number with a typographic minus: ``0.41``, ``−1.20``."""
    return f"{value:.{digits}f}".replace("-", "\u2212")


def vendor_styles(vendors: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Colour and marker of each vendor, in the order given."""
    return {
        v: (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, v in enumerate(vendors)
    }


def bottom_legend(
    fig: Any, handles: Sequence[Any], *, ncol: int, handlelength: float | None = None
) -> None:
    """A figure legend centred below the axes, in the small font (``handlelength`` None: the
    matplotlib default)."""
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=ncol,
        fontsize=SMALL,
        bbox_to_anchor=(0.5, 0.0),
        handlelength=handlelength,
    )
