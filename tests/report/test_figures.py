"""The performance figures: what they draw, and that they print legibly.

No published reference applies to a plot; the empirical ROC curve and the calibration groups are
checked against brute-force computations written here (the share of positives and negatives at or
above every threshold; the mean label in each tenth of the sorted scores). Legibility is checked
on the drawn matplotlib figures (no text under 7 pt) and on the SVG (no wider than the printable
page, so that the report never scales a figure, and its text, down).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.text import Text

from validation.report.figures import accuracy, record, style
from validation.report.figures import agreement as agreement_figs
from validation.report.figures import forest as forest_plot
from validation.report.figures.flow import flow_diagram
from validation.report.outputs import measure_context

PAGE_PT = style.PAGE_WIDTH_IN * 72


def _table(n: int = 240, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vendor = rng.choice(["Canon", "GE", "Philips"], n)
    reference = rng.normal(10.5, 2.0, n)
    model = reference + rng.normal(0.0, 0.7, n) + np.where(vendor == "Canon", 1.5, 0.0)
    prob = 1.0 / (1.0 + np.exp(-(model - 12.0) * 1.5))
    return pd.DataFrame(
        {
            "site": rng.choice(["s01", "s02"], n),
            "vendor": vendor,
            "measurement": model,
            "reference": reference,
            "difference": model - reference,
            "probability": np.round(prob, 2),  # rounded: many ties
            "label": (reference >= 12.0).astype(int),
        }
    )


def _row(dim: str, stratum: str, metric: str, est: float, **extra: Any) -> dict[str, Any]:
    return {
        "dimension": dim,
        "stratum": stratum,
        "metric": metric,
        "n": extra.pop("n", 80),
        "estimate": est,
        "ci_low": est - 0.2,
        "ci_high": est + 0.2,
        "small": False,
        "judged": False,
        "goal_met": None,
        **extra,
    }


def _vendor_strata() -> list[dict[str, Any]]:
    rows = []
    for vendor, bias, ok in (("Canon", 1.5, False), ("GE", 0.0, True), ("Philips", 0.1, True)):
        rows.append(_row("vendor", vendor, "bias", bias, judged=True, goal_met=ok))
        rows.append(_row("vendor", vendor, "loa_low", bias - 1.4, judged=True, goal_met=True))
        rows.append(_row("vendor", vendor, "loa_high", bias + 1.4, judged=True, goal_met=ok))
    return rows


def _groups() -> list[dict[str, Any]]:
    def cell(est: float, **kw: Any) -> dict[str, Any]:
        base = {"n": 60, "estimate": est, "ci_low": est - 0.2, "ci_high": est + 0.2}
        return {**base, "small": False, "judged": False, "goal_met": None, **kw}

    return [
        {
            "title": "Site",
            "rows": [
                {"label": "s01", "cells": {"bias": cell(0.4)}},
                {"label": "s02", "cells": {"bias": cell(0.0)}},
            ],
            "pooled": {
                "bias": {
                    "estimate": 0.2,
                    "ci_low": -0.1,
                    "ci_high": 0.5,
                    "prediction_low": -0.9,
                    "prediction_high": 1.3,
                    "k": 2,
                    "poolable": False,
                }
            },
        },
        {
            "title": "Vendor",
            "rows": [
                {"label": "Canon", "cells": {"bias": cell(1.5, judged=True, goal_met=False)}},
                {"label": "GE", "cells": {"bias": cell(0.0, judged=True, goal_met=True)}},
            ],
            "pooled": None,
        },
        {
            "title": "Age band",
            "rows": [
                {"label": "18-39", "cells": {"bias": cell(0.3, n=9, small=True)}},
                {"label": "40-59", "cells": {"bias": cell(math.nan)}},
                {"label": "60+", "cells": {"bias": None}},
            ],
            "pooled": None,
        },
    ]


#: The demo protocol's measurement, as the report names it.
MEASURE = measure_context(
    {"measurement": {"name": "ivsd", "label": "IVSd", "unit": "mm", "precision": 1}}
)

BIAS_PANEL = {
    "metric": "bias",
    "title": "Bias (mm)",
    "xlabel": "Bias (mm)",
    "scale": "measurement",
    "goal": {"lower": -1.0, "upper": 1.0},
    "reference": 0.3,
}


def _texts(fig: Figure) -> list[Text]:
    with matplotlib.rc_context(style.RC):
        fig.draw_without_rendering()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _svg_size(uri: str) -> tuple[float, float]:
    svg = base64.b64decode(uri.split(",", 1)[1]).decode("utf-8")
    head = svg[: svg.index(">", svg.index("<svg"))]
    width = float(re.search(r'width="([\d.]+)pt"', head).group(1))
    height = float(re.search(r'height="([\d.]+)pt"', head).group(1))
    return width, height


# ---------------------------------------------------------------------------------------------
# What the figures draw
# ---------------------------------------------------------------------------------------------


def test_empirical_roc_matches_brute_force() -> None:
    table = _table()
    labels = table["label"].to_numpy(dtype=float)
    scores = table["probability"].to_numpy(dtype=float)
    fpr, tpr = accuracy._empirical_roc(labels, scores)
    thresholds = np.unique(scores)[::-1]
    pos, neg = scores[labels == 1], scores[labels == 0]
    expected_tpr = [0.0] + [float(np.mean(pos >= t)) for t in thresholds]
    expected_fpr = [0.0] + [float(np.mean(neg >= t)) for t in thresholds]
    np.testing.assert_allclose(tpr, expected_tpr)
    np.testing.assert_allclose(fpr, expected_fpr)
    assert tpr[-1] == fpr[-1] == 1.0


def test_roc_draws_the_operating_point_and_a_notice_without_both_classes() -> None:
    fig = accuracy.roc_figure(
        _table(),
        auc={"estimate": 0.91, "ci_low": 0.87, "ci_high": 0.95},
        operating_point={"sensitivity": 0.8, "specificity": 0.9},
        threshold=0.5,
    )
    point = [
        line
        for line in fig.axes[0].get_lines()
        if line.get_marker() == "D" and line.get_color() == style.FAIL
    ]
    assert len(point) == 1
    np.testing.assert_allclose(point[0].get_xydata(), [[0.1, 0.8]])
    assert any("AUC 0.910 (95% CI 0.870 to 0.950)" in t.get_text() for t in _texts(fig))
    one_class = _table().assign(label=0)
    texts = [t.get_text() for t in _texts(accuracy.roc_figure(one_class))]
    assert any("ROC curve not defined" in t for t in texts)


def test_calibration_groups_are_tenths_of_the_sorted_scores() -> None:
    rng = np.random.default_rng(5)
    n = 200
    scores = rng.uniform(0, 1, n)
    labels = (rng.uniform(0, 1, n) < scores).astype(int)
    table = pd.DataFrame({"probability": scores, "label": labels})
    fig, groups = accuracy.calibration_figure(table, bins=10)
    assert groups == 10
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "o")
    order = np.argsort(scores)
    expected_x = [scores[order][i * 20 : (i + 1) * 20].mean() for i in range(10)]
    expected_y = [labels[order][i * 20 : (i + 1) * 20].mean() for i in range(10)]
    np.testing.assert_allclose(line.get_xdata(), expected_x)
    np.testing.assert_allclose(line.get_ydata(), expected_y)
    caption = accuracy.calibration(table)["caption"]
    assert "10 groups" in caption and "about 20 studies each" in caption


def test_forest_marks_failing_small_undefined_and_pooled_rows() -> None:
    fig = forest_plot.forest_figure(_groups(), [BIAS_PANEL], min_n=20)
    ax = fig.axes[0]
    lines = ax.get_lines()
    failing = [ln for ln in lines if ln.get_marker() == "D"]
    assert len(failing) == 1 and failing[0].get_markerfacecolor() == style.FAIL
    hollow = [
        ln
        for ln in lines
        if ln.get_marker() == "o" and matplotlib.colors.same_color(ln.get_markerfacecolor(), "w")
    ]
    assert len(hollow) == 1 and hollow[0].get_xdata()[0] == pytest.approx(0.3)
    texts = [t.get_text() for t in _texts(fig)]
    assert any("\u2717 fails" in t for t in texts)
    assert any("\u2713 meets" in t for t in texts)
    assert any("small" in t and "n = 9" in t for t in texts)
    assert "n/a (undefined)" in texts and "not reported" in texts
    assert any("not poolable" in t for t in texts)
    # Goal lines span only the judged group (vendor: the rows after the site group).
    rows, _ = forest_plot._forest_rows(_groups())
    vendor_y = [r["y"] for r in rows if r.get("label") in ("Canon", "GE")]
    goal = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = [s for c in goal for s in c.get_segments()]
    assert sorted({float(s[0][0]) for s in segments}) == [-1.0, 1.0]
    for seg in segments:
        assert min(seg[:, 1]) == pytest.approx(min(vendor_y) - 0.5)
        assert max(seg[:, 1]) == pytest.approx(max(vendor_y) + 0.5)


def test_bland_altman_by_vendor_shares_axes_and_frames_the_failing_vendor() -> None:
    fig = agreement_figs.bland_altman_by_vendor_figure(
        _table(), _vendor_strata(), pooled_bias=0.5, loa_goals=(-3.0, 3.0), measure=MEASURE
    )
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left").split(" (")[0] for ax in panels] == ["Canon", "GE", "Philips"]
    assert len({ax.get_ylim() for ax in panels}) == 1 and len({ax.get_xlim() for ax in panels}) == 1
    canon, ge = panels[0], panels[1]
    assert matplotlib.colors.same_color(canon.spines["left"].get_edgecolor(), style.FAIL)
    assert not matplotlib.colors.same_color(ge.spines["left"].get_edgecolor(), style.FAIL)
    assert any("goal not met: bias, upper LoA" in t.get_text() for t in canon.texts)
    levels = {round(float(ln.get_ydata()[0]), 6) for ln in canon.get_lines()}
    assert {1.5, 0.1, 2.9, 0.5, -3.0, 3.0} <= levels  # bias, limits, all-vendor bias, goals


def test_scatter_draws_the_deming_line() -> None:
    fig, has_fit = agreement_figs.scatter_figure(
        _table(), MEASURE, deming={"intercept": 0.4, "slope": 0.98}
    )
    assert has_fit
    fit = next(ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--")
    x, y = fit.get_xdata(), fit.get_ydata()
    np.testing.assert_allclose(y, 0.4 + 0.98 * np.asarray(x))
    _, has_fit = agreement_figs.scatter_figure(
        _table(), MEASURE, deming={"intercept": None, "slope": 1.0}
    )
    assert not has_fit


# ---------------------------------------------------------------------------------------------
# Legibility in print
# ---------------------------------------------------------------------------------------------


FIGURES: dict[str, tuple[Callable[[pd.DataFrame], Figure], float]] = {
    "bland-altman-vendor": (
        lambda t: agreement_figs.bland_altman_by_vendor_figure(
            t, _vendor_strata(), loa_goals=(3.0,), measure=MEASURE
        ),
        1.0,
    ),
    "scatter": (
        lambda t: agreement_figs.scatter_figure(t, MEASURE, deming={"intercept": 0, "slope": 1})[0],
        1.0,
    ),
    "roc": (lambda t: accuracy.roc_figure(t, auc={"estimate": 0.9}), 0.485),
    "calibration": (lambda t: accuracy.calibration_figure(t)[0], 0.485),
    "forest-one-panel": (lambda t: forest_plot.forest_figure(_groups(), [BIAS_PANEL]), 1.0),
    "forest-two-panels": (
        lambda t: forest_plot.forest_figure(
            _groups(), [BIAS_PANEL, {**BIAS_PANEL, "goal": None}], min_n=20
        ),
        1.0,
    ),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figures_print_at_size_with_readable_text(name: str) -> None:
    draw, share = FIGURES[name]
    fig = draw(_table())
    sizes = [t.get_fontsize() for t in _texts(fig)]
    assert sizes and min(sizes) >= style.MIN_FONT_PT
    width, _ = _svg_size(record.to_uri(fig))
    assert width <= share * PAGE_PT, f"{name}: {width:.0f} pt wide, page share {share}"


def test_public_figures_are_svg_with_captions() -> None:
    table = _table()
    made = [
        agreement_figs.bland_altman_by_vendor(
            table, _vendor_strata(), pooled_bias=0.5, measure=MEASURE
        ),
        agreement_figs.scatter(table, MEASURE, deming={"intercept": 0.4, "slope": 0.98}),
        accuracy.roc_curve(table, auc={"estimate": 0.9, "ci_low": 0.85, "ci_high": 0.94}),
        accuracy.calibration(table),
        forest_plot.forest(_groups(), [BIAS_PANEL], fig_id="f", alt="a", caption="c"),
    ]
    for fig in made:
        assert set(fig) == {"id", "src", "alt", "caption"}
        assert fig["src"].startswith("data:image/svg+xml;base64,")
        assert _svg_size(fig["src"])[0] > 0
    assert "Deming regression" in made[1]["caption"]
    assert "dash-dot" not in made[0]["caption"]  # no goal lines without loa_goals
    with_goals = agreement_figs.bland_altman_by_vendor(
        table, _vendor_strata(), loa_goals=(3.0,), measure=MEASURE
    )
    assert "dash-dot lines are the goals" in with_goals["caption"]


def test_existing_signatures_still_work() -> None:
    """validation.report.evidence.context calls these three as written here."""
    table = _table()
    agreement = {"n": len(table), "bias": 0.5, "loa_low": -1.0, "loa_high": 2.0}
    assert (
        agreement_figs.bland_altman(table, agreement, MEASURE, confidence=0.95)["id"]
        == "bland-altman"
    )
    scatter = agreement_figs.scatter(table, MEASURE)
    assert scatter["id"] == "scatter" and "Deming" not in scatter["caption"]
    flow = {
        "received": 10,
        "included": 9,
        "analysed": 8,
        "excluded_at_ingest": 1,
        "quality_rejected": 1,
        "no_reference": 0,
        "exclusions": [{"label": "not a DICOM file", "n": 1}],
    }
    assert flow_diagram(flow)["id"] == "flow"


def test_figures_survive_empty_tables() -> None:
    empty = _table().head(0)
    assert accuracy.roc_curve(empty)["src"]
    assert accuracy.calibration(empty)["src"]
    assert agreement_figs.scatter(empty, MEASURE)["src"]
    assert agreement_figs.bland_altman_by_vendor(empty, _vendor_strata(), measure=MEASURE)["src"]
