"""Agreement figures of the evidence report: Bland-Altman plots (all studies, and one panel per
vendor) and the scatter of the device's against the reference measurement.

Every estimate drawn (bias, limits of agreement, their intervals, the Deming line) comes from
``results.json``; the per-study points come from ``analysed.csv``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from validation.report.figures.record import FigureRecord, figure_record
from validation.report.figures.style import (
    FAIL,
    GUIDE,
    INK,
    LINE,
    PAGE_WIDTH_IN,
    RC,
    SMALL,
    finite,
    finite_values,
    signed,
    vendor_styles,
)


def _points(table: pd.DataFrame) -> pd.DataFrame:
    cols = ["vendor", "measurement", "reference", "difference"]
    return table[cols].dropna()


def _parenthesised(symbol: str) -> str:
    return f" ({symbol})" if symbol else ""


def _with(text: str, symbol: str) -> str:
    """``text`` and a unit symbol after a space (nothing for a unitless measurement)."""
    return f"{text} {symbol}" if symbol else text


def bland_altman_figure(
    table: pd.DataFrame, agreement: Mapping[str, Any], measure: Mapping[str, Any]
) -> Figure:
    """Draw the Bland-Altman plot of all studies (see :func:`bland_altman`)."""
    pts = _points(table)
    delta, digits = str(measure["difference_symbol"]), int(measure["digits"])
    vendors = sorted(pts["vendor"].astype(str).unique())
    styles = vendor_styles(vendors)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(6.4, 3.7))
        ax = fig.add_subplot()
        mean = (pts["measurement"] + pts["reference"]) / 2.0
        for v in vendors:
            sel = pts["vendor"].astype(str) == v
            colour, marker = styles[v]
            ax.scatter(
                mean[sel],
                pts.loc[sel, "difference"],
                s=9,
                marker=marker,
                facecolor=colour,
                edgecolor="none",
                alpha=0.7,
                label=f"{v} (n = {int(sel.sum())})",
                zorder=3,
            )
        ax.axhline(0.0, color="#999999", lw=0.6, zorder=1)
        lines = (
            ("bias", "bias_ci", "-", "Bias"),
            ("loa_low", "loa_low_ci", "--", "Lower LoA"),
            ("loa_high", "loa_high_ci", "--", "Upper LoA"),
        )
        for key, ci_key, style, name in lines:
            level = agreement.get(key)
            if not finite(level):
                continue
            band = agreement.get(ci_key) or [None, None]
            if len(band) == 2 and finite(band[0]) and finite(band[1]):
                ax.axhspan(band[0], band[1], color="#c62828", alpha=0.10, lw=0, zorder=0)
            ax.axhline(level, color="#c62828", lw=1.0, ls=style, zorder=2)
            ax.annotate(
                _with(f"{name} {signed(level, digits)}", delta),
                xy=(1.0, level),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                ha="left",
                fontsize=7.5,
                color="#c62828",
            )
        ax.set_xlabel(f"Mean of model and reference {measure['axis']}")
        ax.set_ylabel(f"Difference, model \u2212 reference{measure['difference_axis']}")
        ax.grid(True, color="#e6e6e6", lw=0.5, zorder=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(
            title="Vendor",
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncol=max(1, len(vendors)),
            fontsize=7.5,
            title_fontsize=7.5,
            markerscale=1.6,
            handletextpad=0.3,
            columnspacing=1.4,
        )
    return fig


def bland_altman(
    table: pd.DataFrame,
    agreement: Mapping[str, Any],
    measure: Mapping[str, Any],
    *,
    confidence: float = 0.95,
) -> FigureRecord:
    """Bland-Altman plot: difference against mean, by vendor, with bias and limits of agreement.

    Parameters
    ----------
    table : DataFrame
        ``analysed.csv`` (columns vendor, measurement, reference, difference): the points.
    agreement : mapping
        ``results.agreement``: ``bias``, ``loa_low``, ``loa_high`` and their ``*_ci`` pairs.
    measure : mapping
        The measurement's names and unit (:func:`validation.report.outputs.measure_context`).
    confidence : float
        Confidence level of the shaded intervals (for the caption).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    n = int(agreement.get("n") or len(_points(table)))
    label = measure["label"]
    return figure_record(
        bland_altman_figure(table, agreement, measure),
        "bland-altman",
        f"Bland-Altman plot of model minus reference {label} against their mean, by vendor",
        f"Bland-Altman plot of the {n} analysed studies: the difference between the "
        f"model's and the reference {label} against their mean, coloured by vendor. The solid "
        "line is the mean bias and the dashed lines are the 95% limits of agreement (LoA), "
        "as estimated by the analysis; the shaded bands are their two-sided "
        f"{100 * confidence:g}% confidence intervals. The grey line marks zero difference.",
    )


def scatter_figure(
    table: pd.DataFrame, measure: Mapping[str, Any], *, deming: Mapping[str, Any] | None = None
) -> tuple[Figure, bool]:
    """Draw the scatter plot (see :func:`scatter`); also return whether a fit line is drawn."""
    pts = _points(table)
    vendors = sorted(pts["vendor"].astype(str).unique())
    styles = vendor_styles(vendors)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.2, 3.6))
        ax = fig.add_subplot()
        for v in vendors:
            sel = pts["vendor"].astype(str) == v
            colour, marker = styles[v]
            ax.scatter(
                pts.loc[sel, "reference"],
                pts.loc[sel, "measurement"],
                s=8,
                marker=marker,
                facecolor=colour,
                edgecolor="none",
                alpha=0.7,
                label=v,
                zorder=3,
            )
        values = np.concatenate([pts["reference"].to_numpy(), pts["measurement"].to_numpy()])
        lo, hi = (float(np.min(values)), float(np.max(values))) if values.size else (0.0, 1.0)
        pad = 0.05 * (hi - lo or 1.0)
        lims = (lo - pad, hi + pad)
        ax.plot(lims, lims, color="#555555", lw=0.8, ls="-", label="Identity", zorder=2)
        fit = deming or {}
        has_fit = finite(fit.get("intercept")) and finite(fit.get("slope"))
        if has_fit:
            a, b = float(fit["intercept"]), float(fit["slope"])
            ax.plot(
                lims,
                (a + b * lims[0], a + b * lims[1]),
                color=LINE,
                lw=1.2,
                ls="--",
                label=f"Deming fit\ny = {a:.2f} + {b:.3f}x".replace("-", "\u2212"),
                zorder=4,
            )
        ticks = [
            t
            for t in MaxNLocator(nbins=7, integer=True).tick_values(*lims)
            if lims[0] <= t <= lims[1]
        ]
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xlim(lims)
        ax.set_ylim(lims)
        ax.set_aspect("equal")
        ax.set_xlabel(f"Reference {measure['axis']}")
        ax.set_ylabel(f"Model {measure['axis']}")
        ax.grid(True, color="#e6e6e6", lw=0.5, zorder=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7.5, markerscale=1.6)
    return fig, has_fit


def scatter(
    table: pd.DataFrame, measure: Mapping[str, Any], *, deming: Mapping[str, Any] | None = None
) -> FigureRecord:
    """Model against reference measurement, by vendor, with the line of identity.

    Parameters
    ----------
    table : DataFrame
        ``analysed.csv``.
    measure : mapping
        The measurement's names and unit (:func:`validation.report.outputs.measure_context`).
    deming : mapping, optional
        ``results.method_comparison.deming`` (``intercept``, ``slope``): when given, the
        Deming regression line (model = intercept + slope x reference) is drawn too.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig, has_fit = scatter_figure(table, measure, deming=deming)
    label = measure["label"]
    return figure_record(
        fig,
        "scatter",
        f"Scatter plot of model {label} against reference {label}, by vendor",
        (
            f"Model {label} against the reference-standard {label} for every analysed study, "
            "coloured by vendor. Points on the line of identity agree exactly; points above it "
            "are overestimated by the model."
            + (
                " The dashed line is the Deming regression estimated by the analysis (y, the "
                f"model's {label}, against x, the reference {label}); a line parallel to the "
                "identity "
                "line but above it means a constant overestimate, a different slope a "
                "proportional one."
                if has_fit
                else ""
            )
        ),
    )


def _strata_lookup(
    strata: Sequence[Mapping[str, Any]], dimension: str
) -> dict[str, dict[str, Mapping[str, Any]]]:
    """``{stratum: {metric: row}}`` for one dimension of the tidy strata rows."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in strata:
        if str(row.get("dimension")) == dimension:
            out.setdefault(str(row["stratum"]), {})[str(row["metric"])] = row
    return out


_LOA_NAMES = {"bias": "bias", "loa_low": "lower LoA", "loa_high": "upper LoA"}


def bland_altman_by_vendor_figure(
    table: pd.DataFrame,
    strata: Sequence[Mapping[str, Any]],
    *,
    measure: Mapping[str, Any],
    pooled_bias: float | None = None,
    loa_goals: Sequence[float] = (),
    confidence: float = 0.95,
) -> Figure:
    """Draw the per-vendor Bland-Altman small multiples (see :func:`bland_altman_by_vendor`)."""
    pts = _points(table)
    delta, digits = str(measure["difference_symbol"]), int(measure["digits"])
    rows = _strata_lookup(strata, "vendor")
    vendors = sorted(set(pts["vendor"].astype(str)) | set(rows))
    styles = vendor_styles(vendors)
    mean = (pts["measurement"] + pts["reference"]) / 2.0
    ncols = 1 if len(vendors) <= 1 else 2 if len(vendors) <= 4 else 3
    nrows = max(1, math.ceil(len(vendors) / ncols))
    levels = finite_values(
        *pts["difference"],
        *(r.get(k) for v in rows.values() for r in v.values() for k in ("ci_low", "ci_high")),
        *loa_goals,
        pooled_bias,
        0.0,
    )
    lo, hi = min(levels), max(levels)
    pad = 0.08 * (hi - lo or 1.0)
    ylim = (lo - pad, hi + 3.2 * pad)
    xs = mean.to_numpy(dtype=float)
    xlim = (float(xs.min()) - 0.5, float(xs.max()) + 0.5) if xs.size else (0.0, 1.0)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(PAGE_WIDTH_IN - 0.1, 0.55 + 2.25 * nrows))
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i >= len(vendors):
                ax.set_visible(False)
                continue
            vendor = vendors[i]
            colour, marker = styles[vendor]
            sel = (pts["vendor"].astype(str) == vendor).to_numpy()
            vrows = rows.get(vendor, {})
            n = int(vrows["bias"]["n"]) if "bias" in vrows else int(sel.sum())
            ax.scatter(
                xs[sel],
                pts["difference"].to_numpy()[sel],
                s=8,
                marker=marker,
                facecolor=colour,
                edgecolor="none",
                alpha=0.6,
                zorder=3,
            )
            ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
            if finite(pooled_bias):
                ax.axhline(float(pooled_bias), color=GUIDE, lw=0.9, ls=":", zorder=2)
            for goal in loa_goals:
                ax.axhline(goal, color=LINE, lw=0.8, ls="-.", zorder=2)
            failed = []
            for key, style in (("bias", "-"), ("loa_low", "--"), ("loa_high", "--")):
                row = vrows.get(key)
                if row is None or not finite(row.get("estimate")):
                    continue
                if finite(row.get("ci_low")) and finite(row.get("ci_high")):
                    ax.axhspan(
                        row["ci_low"], row["ci_high"], color=GUIDE, alpha=0.22, lw=0, zorder=0
                    )
                ax.axhline(row["estimate"], color=LINE, lw=1.1, ls=style, zorder=4)
                if row.get("goal_met") is False:
                    failed.append(_LOA_NAMES[key])
            small = any(bool(r.get("small")) for r in vrows.values())
            title = f"{vendor} (n = {n}){'  [small]' if small else ''}"
            ax.set_title(title, fontsize=8.5, loc="left", color=INK, fontweight="bold")
            stats = []
            if "bias" in vrows and finite(vrows["bias"].get("estimate")):
                stats.append(_with(f"bias {signed(vrows['bias']['estimate'], digits)}", delta))
            lows, highs = vrows.get("loa_low"), vrows.get("loa_high")
            if lows and highs and finite(lows.get("estimate")) and finite(highs.get("estimate")):
                loa = f"{signed(lows['estimate'], digits)} to {signed(highs['estimate'], digits)}"
                stats.append(_with(f"LoA {loa}", delta))
            ax.text(
                0.02,
                0.97,
                "; ".join(stats),
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=SMALL,
                color=INK,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.2},
            )
            if failed:
                ax.text(
                    0.98,
                    0.03,
                    "\u2717 goal not met: " + ", ".join(failed),
                    transform=ax.transAxes,
                    ha="right",
                    va="bottom",
                    fontsize=SMALL,
                    color=FAIL,
                    fontweight="bold",
                    bbox={"facecolor": "white", "edgecolor": FAIL, "lw": 0.8, "pad": 1.5},
                )
                for spine in ax.spines.values():
                    spine.set_edgecolor(FAIL)
                    spine.set_linewidth(1.4)
            ax.grid(True, color="#ececec", lw=0.5, zorder=0)
            ax.set_xlim(xlim)
            ax.set_ylim(ylim)
            ax.tick_params(labelsize=SMALL)
            if i % ncols == 0:
                ax.set_ylabel(f"Model \u2212 reference{measure['difference_axis']}", fontsize=SMALL)
            if i // ncols == nrows - 1 or i + ncols >= len(vendors):
                ax.set_xlabel(
                    f"Mean of model and reference{_parenthesised(measure['symbol'])}",
                    fontsize=SMALL,
                )
                ax.xaxis.set_tick_params(labelbottom=True)
        conf = f"{100 * confidence:g}%"
        handles = [
            Line2D([], [], color=LINE, lw=1.1, ls="-", label="Vendor bias"),
            Line2D([], [], color=LINE, lw=1.1, ls="--", label="Vendor limits of agreement"),
            Patch(facecolor=GUIDE, alpha=0.22, label=f"{conf} CI of bias and limits"),
        ]
        if finite(pooled_bias):
            handles.append(Line2D([], [], color=GUIDE, lw=0.9, ls=":", label="Bias, all vendors"))
        if loa_goals:
            handles.append(Line2D([], [], color=LINE, lw=0.8, ls="-.", label="Goal for the limits"))
        fig.legend(
            handles=handles,
            loc="lower center",
            ncol=min(len(handles), 3),
            fontsize=SMALL,
            bbox_to_anchor=(0.5, 0.0),
            handlelength=2.6,
        )
        fig.tight_layout(rect=(0, 0.1 if nrows == 1 else 0.07, 1, 1), h_pad=1.2, w_pad=1.0)
    return fig


def bland_altman_by_vendor(
    table: pd.DataFrame,
    strata: Sequence[Mapping[str, Any]],
    *,
    measure: Mapping[str, Any],
    pooled_bias: float | None = None,
    loa_goals: Sequence[float] = (),
    confidence: float = 0.95,
) -> FigureRecord:
    """Bland-Altman small multiples, one panel per vendor, on the same axes.

    Parameters
    ----------
    table : DataFrame
        ``analysed.csv`` (columns vendor, measurement, reference, difference): the points.
    strata : sequence of mapping
        The tidy ``results.json`` strata rows; those of dimension ``"vendor"`` and metrics
        bias, loa_low and loa_high give each panel's lines, shaded intervals and goal marks.
    measure : mapping
        The measurement's names and unit (:func:`validation.report.outputs.measure_context`).
    pooled_bias : float, optional
        The bias over all vendors (``results.agreement.bias``), drawn dotted in every panel.
    loa_goals : sequence of float
        Goal bounds of the limits of agreement, drawn when the vendor strata are judged on them.
    confidence : float
        Confidence level of the shaded intervals (for the legend).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = bland_altman_by_vendor_figure(
        table,
        strata,
        measure=measure,
        pooled_bias=pooled_bias,
        loa_goals=loa_goals,
        confidence=confidence,
    )
    conf = f"{100 * confidence:g}%"
    caption = (
        "Bland-Altman plots by ultrasound vendor, drawn on the same axes so that the vendors "
        "can be compared: each point is one study, the difference between the model's and the "
        f"reference {measure['label']} against their mean. In each panel the solid line is "
        "that vendor's mean "
        "bias and the dashed lines its 95% limits of agreement, as estimated by the analysis, "
        f"with their {conf} confidence intervals shaded; the dotted line is the bias over all "
        "vendors."
    )
    if loa_goals:
        caption += " The dash-dot lines are the goals for the limits of agreement."
    caption += (
        " A panel with a thick orange frame and a \u2717 note is a vendor that does not meet "
        "the protocol's goal for the named quantity."
    )
    return figure_record(
        fig,
        "bland-altman-vendor",
        "Bland-Altman plots, one panel per vendor, with each vendor's bias and limits of agreement",
        caption,
    )
