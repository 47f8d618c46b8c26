"""The surveillance report's figures draw what ``surveillance.json`` says: the alarmed segment
framed and titled with its onset, the limits of the JSON on shared axes, SVG with readable
text."""

from __future__ import annotations

import matplotlib.colors
import numpy as np

from tests.surveillance.fake_surveillance import MONTHS, H
from validation.report.figures.style import FAIL
from validation.report.figures.surveillance.charts import control_chart_figure


def test_control_chart_marks_the_alarmed_segment_and_its_onset(data: dict) -> None:
    onset = data["alerts"][1]["onset"]
    fig = control_chart_figure(
        data["segments"], MONTHS, signal="output_mean", onsets={("s02", "GE"): onset}, h=H
    )
    panels = {ax.get_title(loc="left").split("\n")[0]: ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {
        "s01 \u00b7 GE",
        "s01 \u00b7 Philips",
        "s02 \u00b7 GE",
        "s02 \u00b7 Siemens",
        "All sites and vendors",
    }
    alarmed = panels["s02 \u00b7 GE"]
    assert alarmed.get_title(loc="left").endswith(f"ALARM from {onset}")
    assert matplotlib.colors.same_color(alarmed.spines["left"].get_edgecolor(), FAIL)
    onset_x = MONTHS.index(onset)
    verticals = [ln for ln in alarmed.get_lines() if len(ln.get_xdata()) == 2]
    assert any(np.allclose(ln.get_xdata(), onset_x) for ln in verticals)  # the onset line
    for name, ax in panels.items():
        if name != "s02 \u00b7 GE":
            assert "ALARM" not in ax.get_title(loc="left")
            assert not matplotlib.colors.same_color(ax.spines["left"].get_edgecolor(), FAIL)
    # the limits drawn are the JSON's limits, on the same axes in every panel
    assert len({ax.get_ylim() for ax in panels.values()}) == 1
    limits = [
        ln for ln in alarmed.get_lines() if ln.get_linestyle() == "--" and len(ln.get_xdata()) == 12
    ]
    levels = {round(float(y), 6) for ln in limits for y in ln.get_ydata()}
    assert levels == {H, -H}


def test_figures_are_svg_with_readable_text(context: dict, data: dict) -> None:
    made = [
        context["output"]["cusum_figure"],
        context["output"]["ewma_figure"],
        context["performance"]["figure"],
        context["drift"]["figure"],
        context["bias_change"]["figure"],
        *[a["figure"] for a in context["alerts"] if a["figure"]],
    ]
    assert len(made) == 6
    for fig in made:
        assert set(fig) == {"id", "src", "alt", "caption"} and len(fig["caption"]) > 80
        assert fig["src"].startswith("data:image/svg+xml;base64,")
    fig = control_chart_figure(data["segments"], MONTHS, signal="output_positive_rate")
    sizes = [
        t.get_fontsize()
        for ax in fig.axes
        for t in [*ax.texts, ax.title, ax._left_title, *ax.get_xticklabels()]
    ]
    assert min(sizes) >= 7.0
