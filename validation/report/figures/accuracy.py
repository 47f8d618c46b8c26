"""Classification figures of the evidence report: the ROC curve and the calibration plot.

Both are drawn from the per-study scores of ``analysed.csv`` (columns ``label`` and
``probability``): they are plots, not reported statistics. The AUC, its interval and the
operating point printed on the ROC curve are the analysis's (``results.classification``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from validation.report.figures.record import FigureRecord, empty_message, figure_record
from validation.report.figures.style import (
    FAIL,
    GUIDE,
    LINE,
    MIN_FONT_PT,
    POINT,
    RC,
    SMALL,
    finite,
)


def _empirical_roc(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive fractions at every distinct score (ties moved together)."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last]
    fps = last + 1 - tps
    return np.r_[0.0, fps / max(1, y.size - y.sum())], np.r_[0.0, tps / max(1, y.sum())]


def _scores(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    cols = [c for c in ("label", "probability") if c in table.columns]
    if len(cols) < 2:
        return np.empty(0), np.empty(0)
    data = table[cols].dropna()
    return data["label"].to_numpy(dtype=float), data["probability"].to_numpy(dtype=float)


def roc_figure(
    table: pd.DataFrame,
    *,
    auc: Mapping[str, Any] | None = None,
    operating_point: Mapping[str, Any] | None = None,
    threshold: float | None = None,
    confidence: float = 0.95,
) -> Figure:
    """Draw the empirical ROC curve (see :func:`roc_curve`)."""
    labels, scores = _scores(table)
    both = labels.size and 0 < labels.sum() < labels.size
    conf = f"{100 * confidence:g}%"
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(3.15, 3.35))
        ax = fig.add_subplot()
        if not both:
            empty_message(
                ax,
                "ROC curve not defined:\nthe analysed studies do not\ninclude "
                "both reference classes",
            )
        else:
            fpr, tpr = _empirical_roc(labels, scores)
            name = "Empirical ROC curve"
            if auc and finite(auc.get("estimate")):
                name += f"\nAUC {auc['estimate']:.3f}"
                if finite(auc.get("ci_low")) and finite(auc.get("ci_high")):
                    name += f" ({conf} CI {auc['ci_low']:.3f} to {auc['ci_high']:.3f})"
            ax.plot(fpr, tpr, color=POINT, lw=1.4, drawstyle="default", label=name, zorder=3)
            ax.plot((0, 1), (0, 1), color=GUIDE, lw=0.8, ls=":", label="Chance", zorder=1)
            op = operating_point or {}
            sens, spec = op.get("sensitivity"), op.get("specificity")
            if finite(sens) and finite(spec):
                at = f" {threshold:g}" if finite(threshold) else ""
                ax.plot(
                    1 - float(spec),
                    float(sens),
                    marker="D",
                    ms=5.5,
                    color=FAIL,
                    markeredgecolor=LINE,
                    lw=0,
                    zorder=4,
                    label=f"Operating point at threshold{at}",
                )
            ax.set_xlim(-0.01, 1.01)
            ax.set_ylim(-0.01, 1.01)
            ax.set_aspect("equal")
            ax.set_xlabel("1 \u2212 specificity (false-positive fraction)", fontsize=SMALL)
            ax.set_ylabel("Sensitivity (true-positive fraction)", fontsize=SMALL)
            ax.tick_params(labelsize=SMALL)
            ax.grid(True, color="#ececec", lw=0.5, zorder=0)
            ax.spines[["top", "right"]].set_visible(False)
            ax.legend(loc="lower right", fontsize=SMALL, handlelength=1.6, borderaxespad=0.2)
    return fig


def roc_curve(
    table: pd.DataFrame,
    *,
    auc: Mapping[str, Any] | None = None,
    operating_point: Mapping[str, Any] | None = None,
    threshold: float | None = None,
    confidence: float = 0.95,
    finding: str = "finding",
) -> FigureRecord:
    """The empirical ROC curve of the finding's probability against the reference label.

    The curve is drawn from the per-study scores of ``analysed.csv`` (columns ``label`` and
    ``probability``); the AUC and its interval in the legend, and the operating point, are
    the analysis's (``results.classification``).

    Parameters
    ----------
    table : DataFrame
        ``analysed.csv``.
    auc : mapping, optional
        ``results.classification.auc`` (estimate, ci_low, ci_high).
    operating_point : mapping, optional
        ``{"sensitivity": float, "specificity": float}`` at the device's threshold.
    threshold : float, optional
        The device's probability threshold (for the legend).
    confidence : float
        Confidence level of the AUC interval.
    finding : str
        The finding's label (the protocol's ``outputs.finding.label``), for the caption.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = roc_figure(
        table, auc=auc, operating_point=operating_point, threshold=threshold, confidence=confidence
    )
    return figure_record(
        fig,
        "roc",
        f"ROC curve of the device's {finding} probability against the reference label",
        "Receiver operating characteristic (ROC) curve: for every possible threshold on the "
        f"device's {finding} probability, the share of reference-positive studies it flags "
        "(sensitivity) against the share of reference-negative studies it flags "
        "(1 \u2212 specificity). The dotted diagonal is a device no better than chance; the "
        "diamond is the device's fixed threshold. The area under the curve (AUC) and its "
        "interval are the analysis's (DeLong method).",
    )


def calibration_figure(
    table: pd.DataFrame, *, bins: int = 10, finding: str = "finding"
) -> tuple[Figure, int]:
    """Draw the calibration plot (see :func:`calibration`); also return the number of groups."""
    labels, scores = _scores(table)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(3.15, 3.9))
        grid = fig.add_gridspec(2, 1, height_ratios=(3.0, 1.0), hspace=0.3)
        ax = fig.add_subplot(grid[0])
        hist = fig.add_subplot(grid[1], sharex=ax)
        groups = 0
        if labels.size < 2:
            empty_message(ax, "Calibration not shown:\ntoo few analysed studies")
            hist.set_visible(False)
        else:
            codes = pd.qcut(scores, q=min(bins, labels.size), labels=False, duplicates="drop")
            frame = pd.DataFrame({"bin": codes, "p": scores, "y": labels})
            agg = frame.groupby("bin").agg(p=("p", "mean"), y=("y", "mean"), n=("y", "size"))
            groups = len(agg)
            ax.plot((0, 1), (0, 1), color=GUIDE, lw=0.8, ls=":", label="Perfect calibration")
            ax.plot(
                agg["p"],
                agg["y"],
                color=POINT,
                lw=1.0,
                marker="o",
                ms=4.5,
                markeredgecolor=LINE,
                markeredgewidth=0.5,
                label="Observed, by group",
            )
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel(f"Observed share with {finding}", fontsize=SMALL)
            ax.tick_params(labelsize=SMALL, labelbottom=False)
            ax.grid(True, color="#ececec", lw=0.5, zorder=0)
            ax.spines[["top", "right"]].set_visible(False)
            ax.legend(loc="upper left", fontsize=SMALL, handlelength=1.6)
            edges = np.linspace(0.0, 1.0, 21)
            hist.hist(
                [scores[labels == 0], scores[labels == 1]],
                bins=list(edges),
                stacked=True,
                color=("#c9d6e3", POINT),
                edgecolor=LINE,
                linewidth=0.3,
                label=("reference negative", "reference positive"),
            )
            hist.set_xlabel(f"Predicted {finding} probability", fontsize=SMALL)
            hist.set_ylabel("Studies", fontsize=SMALL)
            hist.tick_params(labelsize=SMALL)
            hist.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
            hist.spines[["top", "right"]].set_visible(False)
            hist.legend(
                loc="lower center",
                fontsize=MIN_FONT_PT,
                ncol=2,
                handlelength=1.0,
                columnspacing=0.8,
                borderaxespad=0.0,
                bbox_to_anchor=(0.5, 1.0),
            )
    return fig, groups


def calibration(table: pd.DataFrame, *, bins: int = 10, finding: str = "finding") -> FigureRecord:
    """Calibration plot: observed share with the finding against mean predicted probability, by
    group (``finding`` is its label, for the axes and caption).

    The studies of ``analysed.csv`` are split into ``bins`` groups of equal size by their
    predicted probability (quantile groups; fewer when probabilities tie); a histogram of the
    probabilities by reference class sits underneath. This is a descriptive plot of the study
    table, not a reported statistic.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig, groups = calibration_figure(table, bins=bins, finding=finding)
    labels, _ = _scores(table)
    size = f"about {labels.size // groups:,} studies each" if groups else "no studies"
    return figure_record(
        fig,
        "calibration",
        f"Calibration plot of the device's {finding} probability",
        f"Calibration of the {finding} probability: the studies are split into {groups} groups of "
        f"equal size by predicted probability ({size}); each point is a group's mean predicted "
        f"probability against the share of its studies with {finding} by the reference standard. "
        "Points on the dotted diagonal are well calibrated; points below it mean the device "
        "overstates the risk. The histogram underneath shows how the predicted probabilities "
        "are spread, stacked by reference class.",
    )
