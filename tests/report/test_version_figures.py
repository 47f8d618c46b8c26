"""The forest plot of a model version comparison: the non-inferiority limit on the right side,
failing comparisons marked by shape and colour, and legible at its printed size.

No published reference applies to a plot; what is drawn is checked on the matplotlib figure.
"""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.colors import to_hex
from matplotlib.text import Text

from validation.report.figures import style
from validation.report.figures import versions as version_figures


def _rows(fail_on: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"kind": "pooled", "label": "All studies (pooled)", "difference": -0.01, "status": "pass"},
        {"kind": "header", "label": "Ultrasound vendor"},
    ]
    for vendor in ("Canon", "GE"):
        rows.append(
            {
                "kind": "stratum",
                "label": vendor,
                "difference": -1.5 if vendor == fail_on else 0.02,
                "status": "fail" if vendor == fail_on else "descriptive",
            }
        )
    for row in rows:
        if "difference" in row:
            row["ci_low"], row["ci_high"] = row["difference"] - 0.05, row["difference"] + 0.05
    return rows


def _panel(title: str, unit: str, margin_limit: float, fail_on: str | None = None) -> dict:
    return {
        "title": title,
        "unit": unit,
        "xlabel": "Difference",
        "limit": margin_limit,
        "rows": _rows(fail_on),
    }


PANELS = [
    _panel("IVSd lower 95% limit of agreement", "mm", -0.5, fail_on="Canon"),
    _panel("IVSd mean bias", "mm", 0.3),
    _panel("LVH sensitivity", "", -0.05),
    _panel("LVH area under the ROC curve", "index", -0.03),
]


def _dashed(ax: Any) -> list[float]:
    return [float(line.get_xdata()[0]) for line in ax.get_lines() if line.get_linestyle() == "--"]


@pytest.fixture(scope="module")
def fig() -> Any:
    return version_figures.comparison_forest_figure(PANELS)


def test_limit_line_at_the_signed_margin(fig) -> None:
    axes = fig.axes
    assert len(axes) == len(PANELS)
    # proportions are drawn in percentage points
    assert [_dashed(ax) for ax in axes] == [[-0.5], [0.3], [pytest.approx(-5.0)], [-0.03]]
    for ax, panel in zip(axes, PANELS, strict=True):
        lo, hi = ax.get_xlim()
        bound = panel["limit"] * (100 if panel["unit"] == "" else 1)
        assert lo < bound < hi and lo < 0 < hi
        solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-" and len(ln.get_xdata())]
        assert any(list(ln.get_xdata()) == [0.0, 0.0] for ln in solid)  # the line of no difference


def test_failing_comparison_is_a_vermillion_diamond(fig) -> None:
    markers = [
        (ln.get_marker(), to_hex(ln.get_markerfacecolor()), float(ln.get_xdata()[0]))
        for ln in fig.axes[0].get_lines()
        if ln.get_marker() not in (None, "None", "")
    ]
    assert ("D", style.FAIL.lower(), -1.5) in markers
    assert all(ln.get_marker() != "D" for ax in fig.axes[1:] for ln in ax.get_lines())


def test_text_is_legible_and_the_figure_fits_the_page(fig) -> None:
    texts = [t for t in fig.findobj(Text) if t.get_text().strip()]
    assert min(t.get_fontsize() for t in texts) >= style.MIN_FONT_PT
    assert fig.get_figwidth() <= style.PAGE_WIDTH_IN
    labels = {t.get_text() for t in texts}
    assert {"All studies (pooled)", "Ultrasound vendor", "Canon", "GE"} <= labels
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert "Judged: NOT non-inferior" in legend and "Non-inferiority limit (margin)" in legend


def test_undefined_difference_is_written_not_drawn() -> None:
    panel = _panel("Bias", "mm", 0.3)
    panel["rows"][2] = {
        "kind": "stratum",
        "label": "Canon",
        "difference": None,
        "ci_low": None,
        "ci_high": None,
        "status": "na",
    }
    fig = version_figures.comparison_forest_figure([panel])
    assert "n/a" in {t.get_text() for t in fig.findobj(Text)}


def test_public_function_returns_an_svg_figure() -> None:
    made = version_figures.comparison_forest(PANELS[:2], fig_id="f", alt="a", caption="c")
    assert set(made) == {"id", "src", "alt", "caption"}
    assert made["src"].startswith("data:image/svg+xml;base64,")
    with pytest.raises(ValueError, match="panels"):
        version_figures.comparison_forest_figure([])
