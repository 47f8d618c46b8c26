"""Report figures: matplotlib drawn to SVG (vector) and embedded as data URIs.

Figures only draw what the analysis computed (bias, limits of agreement and their intervals come
from results.json); the per-study points come from analysed.csv. The object-oriented matplotlib API
is used (no pyplot), so drawing holds no global state. Each function returns
``{"id", "src", "alt", "caption"}``; the performance figures also have a ``*_figure`` function
returning the matplotlib :class:`~matplotlib.figure.Figure`, for tests.

The performance figures (per-vendor Bland-Altman, scatter, ROC, calibration, forest plots) are
drawn at the size they print (at most :data:`PAGE_WIDTH_IN` wide, shown unscaled by
``reports/css/performance.css``) with no text under :data:`MIN_FONT_PT`; they use the Okabe-Ito
colour-blind-safe palette and never rely on colour alone (markers, line styles and text tags
carry the same information). The ROC curve and the calibration groups are drawn from the
per-study scores of analysed.csv: they are plots, not reported statistics; every estimate printed
on a figure comes from results.json.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch, Polygon
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter
from matplotlib.transforms import blended_transform_factory

#: Okabe-Ito colour-blind-safe palette and distinct markers, assigned to vendors in sorted order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
INK = "#1f2a36"
RC = {
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


def _finite(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _to_uri(fig: Figure) -> str:
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


def _pm(value: float) -> str:
    return f"{value:+.2f}".replace("-", "\u2212")


def _vendor_styles(vendors: Sequence[str]) -> dict[str, tuple[str, str]]:
    return {
        v: (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, v in enumerate(vendors)
    }


def _points(table: pd.DataFrame) -> pd.DataFrame:
    cols = ["vendor", "ivsd_mm", "reference_ivsd_mm", "difference"]
    return table[cols].dropna()


def bland_altman(
    table: pd.DataFrame, agreement: Mapping[str, Any], *, confidence: float = 0.95
) -> dict[str, str]:
    """Bland-Altman plot: difference against mean, by vendor, with bias and limits of agreement."""
    pts = _points(table)
    vendors = sorted(pts["vendor"].astype(str).unique())
    styles = _vendor_styles(vendors)
    conf = f"{100 * confidence:g}%"
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(6.4, 3.7))
        ax = fig.add_subplot()
        mean = (pts["ivsd_mm"] + pts["reference_ivsd_mm"]) / 2.0
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
            if not _finite(level):
                continue
            band = agreement.get(ci_key) or [None, None]
            if len(band) == 2 and _finite(band[0]) and _finite(band[1]):
                ax.axhspan(band[0], band[1], color="#c62828", alpha=0.10, lw=0, zorder=0)
            ax.axhline(level, color="#c62828", lw=1.0, ls=style, zorder=2)
            ax.annotate(
                f"{name} {_pm(level)} mm",
                xy=(1.0, level),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                ha="left",
                fontsize=7.5,
                color="#c62828",
            )
        ax.set_xlabel("Mean of model and reference IVSd (mm)")
        ax.set_ylabel("Difference, model \u2212 reference (mm)")
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
        src = _to_uri(fig)
    n = int(agreement.get("n") or len(pts))
    return {
        "id": "bland-altman",
        "src": src,
        "alt": "Bland-Altman plot of model minus reference IVSd against their mean, by vendor",
        "caption": (
            f"Bland-Altman plot of the {n} analysed studies: the difference between the "
            "model's and the reference IVSd against their mean, coloured by vendor. The solid "
            "line is the mean bias and the dashed lines are the 95% limits of agreement (LoA), "
            "as estimated by the analysis; the shaded bands are their two-sided "
            f"{conf} confidence intervals. The grey line marks zero difference."
        ),
    }


def scatter_figure(
    table: pd.DataFrame, *, deming: Mapping[str, Any] | None = None
) -> tuple[Figure, bool]:
    """Draw the scatter plot (see :func:`scatter`); also return whether a fit line is drawn."""
    pts = _points(table)
    vendors = sorted(pts["vendor"].astype(str).unique())
    styles = _vendor_styles(vendors)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.2, 3.6))
        ax = fig.add_subplot()
        for v in vendors:
            sel = pts["vendor"].astype(str) == v
            colour, marker = styles[v]
            ax.scatter(
                pts.loc[sel, "reference_ivsd_mm"],
                pts.loc[sel, "ivsd_mm"],
                s=8,
                marker=marker,
                facecolor=colour,
                edgecolor="none",
                alpha=0.7,
                label=v,
                zorder=3,
            )
        values = np.concatenate([pts["reference_ivsd_mm"].to_numpy(), pts["ivsd_mm"].to_numpy()])
        lo, hi = (float(np.min(values)), float(np.max(values))) if values.size else (0.0, 1.0)
        pad = 0.05 * (hi - lo or 1.0)
        lims = (lo - pad, hi + pad)
        ax.plot(lims, lims, color="#555555", lw=0.8, ls="-", label="Identity", zorder=2)
        fit = deming or {}
        has_fit = _finite(fit.get("intercept")) and _finite(fit.get("slope"))
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
        ax.set_xlabel("Reference IVSd (mm)")
        ax.set_ylabel("Model IVSd (mm)")
        ax.grid(True, color="#e6e6e6", lw=0.5, zorder=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7.5, markerscale=1.6)
    return fig, has_fit


def scatter(table: pd.DataFrame, *, deming: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Model against reference IVSd, by vendor, with the line of identity.

    Parameters
    ----------
    table : DataFrame
        ``analysed.csv``.
    deming : mapping, optional
        ``results.method_comparison.deming`` (``intercept``, ``slope``): when given, the
        Deming regression line (model = intercept + slope x reference) is drawn too.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig, has_fit = scatter_figure(table, deming=deming)
    src = _to_uri(fig)
    return {
        "id": "scatter",
        "src": src,
        "alt": "Scatter plot of model IVSd against reference IVSd, by vendor",
        "caption": (
            "Model IVSd against the reference-standard IVSd for every analysed study, coloured by "
            "vendor. Points on the line of identity agree exactly; points above it are "
            "overestimated by the model."
            + (
                " The dashed line is the Deming regression estimated by the analysis (y, the "
                "model's IVSd, against x, the reference IVSd); a line parallel to the identity "
                "line but above it means a constant overestimate, a different slope a "
                "proportional one."
                if has_fit
                else ""
            )
        ),
    }


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


def flow_diagram(flow: Mapping[str, Any]) -> dict[str, str]:
    """STARD-style flow: received, excluded at ingest, quality gate, no reference, analysed."""
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
        src = _to_uri(fig)
    return {
        "id": "flow",
        "src": src,
        "alt": "Flow diagram of studies from receipt to analysis",
        "caption": (
            "Flow of studies (STARD 2015): every file received from the sites is accounted for, "
            "from receipt through exclusion at ingest (with its reason), rejection by the device's "
            "image-quality gate and a missing reference standard, to the analysed set."
        ),
    }


# ---------------------------------------------------------------------------------------------
# Performance figures (measurement, classification, subgroups)
# ---------------------------------------------------------------------------------------------

#: Printable width of an A4 page between the report's margins, in inches (174 mm).
PAGE_WIDTH_IN = 174 / 25.4
#: Smallest font size used in the performance figures, in points at printed size (the figures
#: are drawn at the size they print, see ``reports/css/performance.css``).
MIN_FONT_PT = 7.0
SMALL = 7.5
#: Estimates, limits and failing strata: Okabe-Ito blue, vermillion and a dark ink.
POINT = "#0072B2"
FAIL = "#D55E00"
LINE = "#1f2a36"
GUIDE = "#7a7a7a"


def _figure(fig: Figure, fig_id: str, alt: str, caption: str) -> dict[str, str]:
    return {"id": fig_id, "src": _to_uri(fig), "alt": alt, "caption": caption}


def _pct_text(value: float) -> str:
    return f"{100 * value:.1f}%"


def _finite_values(*values: Any) -> list[float]:
    return [float(v) for v in values if _finite(v) and math.isfinite(float(v))]


def _strata_lookup(
    strata: Sequence[Mapping[str, Any]], dimension: str
) -> dict[str, dict[str, Mapping[str, Any]]]:
    """``{stratum: {metric: row}}`` for one dimension of the tidy strata rows."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in strata:
        if str(row.get("dimension")) == dimension:
            out.setdefault(str(row["stratum"]), {})[str(row["metric"])] = row
    return out


def _empty_message(ax: Any, text: str) -> None:
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


_LOA_NAMES = {"bias": "bias", "loa_low": "lower LoA", "loa_high": "upper LoA"}


def bland_altman_by_vendor_figure(
    table: pd.DataFrame,
    strata: Sequence[Mapping[str, Any]],
    *,
    pooled_bias: float | None = None,
    loa_goals: Sequence[float] = (),
    confidence: float = 0.95,
) -> Figure:
    """Draw the per-vendor Bland-Altman small multiples (see :func:`bland_altman_by_vendor`)."""
    pts = _points(table)
    rows = _strata_lookup(strata, "vendor")
    vendors = sorted(set(pts["vendor"].astype(str)) | set(rows))
    styles = _vendor_styles(vendors)
    mean = (pts["ivsd_mm"] + pts["reference_ivsd_mm"]) / 2.0
    ncols = 1 if len(vendors) <= 1 else 2 if len(vendors) <= 4 else 3
    nrows = max(1, math.ceil(len(vendors) / ncols))
    levels = _finite_values(
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
            if _finite(pooled_bias):
                ax.axhline(float(pooled_bias), color=GUIDE, lw=0.9, ls=":", zorder=2)
            for goal in loa_goals:
                ax.axhline(goal, color=LINE, lw=0.8, ls="-.", zorder=2)
            failed = []
            for key, style in (("bias", "-"), ("loa_low", "--"), ("loa_high", "--")):
                row = vrows.get(key)
                if row is None or not _finite(row.get("estimate")):
                    continue
                if _finite(row.get("ci_low")) and _finite(row.get("ci_high")):
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
            if "bias" in vrows and _finite(vrows["bias"].get("estimate")):
                stats.append(f"bias {_pm(vrows['bias']['estimate'])} mm")
            lows, highs = vrows.get("loa_low"), vrows.get("loa_high")
            if lows and highs and _finite(lows.get("estimate")) and _finite(highs.get("estimate")):
                stats.append(f"LoA {_pm(lows['estimate'])} to {_pm(highs['estimate'])} mm")
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
                ax.set_ylabel("Model \u2212 reference (mm)", fontsize=SMALL)
            if i // ncols == nrows - 1 or i + ncols >= len(vendors):
                ax.set_xlabel("Mean of model and reference (mm)", fontsize=SMALL)
                ax.xaxis.set_tick_params(labelbottom=True)
        conf = f"{100 * confidence:g}%"
        handles = [
            Line2D([], [], color=LINE, lw=1.1, ls="-", label="Vendor bias"),
            Line2D([], [], color=LINE, lw=1.1, ls="--", label="Vendor limits of agreement"),
            Patch(facecolor=GUIDE, alpha=0.22, label=f"{conf} CI of bias and limits"),
        ]
        if _finite(pooled_bias):
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
    pooled_bias: float | None = None,
    loa_goals: Sequence[float] = (),
    confidence: float = 0.95,
) -> dict[str, str]:
    """Bland-Altman small multiples, one panel per vendor, on the same axes.

    Parameters
    ----------
    table : DataFrame
        ``analysed.csv`` (columns vendor, ivsd_mm, reference_ivsd_mm, difference): the points.
    strata : sequence of mapping
        The tidy ``results.json`` strata rows; those of dimension ``"vendor"`` and metrics
        bias, loa_low and loa_high give each panel's lines, shaded intervals and goal marks.
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
        table, strata, pooled_bias=pooled_bias, loa_goals=loa_goals, confidence=confidence
    )
    conf = f"{100 * confidence:g}%"
    caption = (
        "Bland-Altman plots by ultrasound vendor, drawn on the same axes so that the vendors "
        "can be compared: each point is one study, the difference between the model's and the "
        "reference IVSd against their mean. In each panel the solid line is that vendor's mean "
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
    return _figure(
        fig,
        "bland-altman-vendor",
        "Bland-Altman plots, one panel per vendor, with each vendor's bias and limits of agreement",
        caption,
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
    cols = [c for c in ("lvh_ref", "lvh_probability") if c in table.columns]
    if len(cols) < 2:
        return np.empty(0), np.empty(0)
    data = table[cols].dropna()
    return data["lvh_ref"].to_numpy(dtype=float), data["lvh_probability"].to_numpy(dtype=float)


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
            _empty_message(
                ax,
                "ROC curve not defined:\nthe analysed studies do not\ninclude "
                "both reference classes",
            )
        else:
            fpr, tpr = _empirical_roc(labels, scores)
            name = "Empirical ROC curve"
            if auc and _finite(auc.get("estimate")):
                name += f"\nAUC {auc['estimate']:.3f}"
                if _finite(auc.get("ci_low")) and _finite(auc.get("ci_high")):
                    name += f" ({conf} CI {auc['ci_low']:.3f} to {auc['ci_high']:.3f})"
            ax.plot(fpr, tpr, color=POINT, lw=1.4, drawstyle="default", label=name, zorder=3)
            ax.plot((0, 1), (0, 1), color=GUIDE, lw=0.8, ls=":", label="Chance", zorder=1)
            op = operating_point or {}
            sens, spec = op.get("sensitivity"), op.get("specificity")
            if _finite(sens) and _finite(spec):
                at = f" {threshold:g}" if _finite(threshold) else ""
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
) -> dict[str, str]:
    """The empirical ROC curve of the LVH probability against the reference label.

    The curve is drawn from the per-study scores of ``analysed.csv`` (columns ``lvh_ref`` and
    ``lvh_probability``); the AUC and its interval in the legend, and the operating point, are
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
        The device's LVH probability threshold (for the legend).
    confidence : float
        Confidence level of the AUC interval.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = roc_figure(
        table, auc=auc, operating_point=operating_point, threshold=threshold, confidence=confidence
    )
    return _figure(
        fig,
        "roc",
        "ROC curve of the device's LVH probability against the reference label",
        "Receiver operating characteristic (ROC) curve: for every possible threshold on the "
        "device's LVH probability, the share of reference-positive studies it flags "
        "(sensitivity) against the share of reference-negative studies it flags "
        "(1 \u2212 specificity). The dotted diagonal is a device no better than chance; the "
        "diamond is the device's fixed threshold. The area under the curve (AUC) and its "
        "interval are the analysis's (DeLong method).",
    )


def calibration_figure(table: pd.DataFrame, *, bins: int = 10) -> tuple[Figure, int]:
    """Draw the calibration plot (see :func:`calibration`); also return the number of groups."""
    labels, scores = _scores(table)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(3.15, 3.9))
        grid = fig.add_gridspec(2, 1, height_ratios=(3.0, 1.0), hspace=0.3)
        ax = fig.add_subplot(grid[0])
        hist = fig.add_subplot(grid[1], sharex=ax)
        groups = 0
        if labels.size < 2:
            _empty_message(ax, "Calibration not shown:\ntoo few analysed studies")
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
            ax.set_ylabel("Observed share with LVH", fontsize=SMALL)
            ax.tick_params(labelsize=SMALL, labelbottom=False)
            ax.grid(True, color="#ececec", lw=0.5, zorder=0)
            ax.spines[["top", "right"]].set_visible(False)
            ax.legend(loc="upper left", fontsize=SMALL, handlelength=1.6)
            edges = np.linspace(0.0, 1.0, 21)
            hist.hist(
                [scores[labels == 0], scores[labels == 1]],
                bins=edges,
                stacked=True,
                color=("#c9d6e3", POINT),
                edgecolor=LINE,
                linewidth=0.3,
                label=("reference negative", "reference positive"),
            )
            hist.set_xlabel("Predicted LVH probability", fontsize=SMALL)
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


def calibration(table: pd.DataFrame, *, bins: int = 10) -> dict[str, str]:
    """Calibration plot: observed share with LVH against mean predicted probability, by group.

    The studies of ``analysed.csv`` are split into ``bins`` groups of equal size by their
    predicted probability (quantile groups; fewer when probabilities tie); a histogram of the
    probabilities by reference class sits underneath. This is a descriptive plot of the study
    table, not a reported statistic.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig, groups = calibration_figure(table, bins=bins)
    labels, _ = _scores(table)
    size = f"about {labels.size // groups:,} studies each" if groups else "no studies"
    return _figure(
        fig,
        "calibration",
        "Calibration plot of the device's LVH probability",
        f"Calibration of the LVH probability: the studies are split into {groups} groups of "
        f"equal size by predicted probability ({size}); each point is a group's mean predicted "
        "probability against the share of its studies with LVH by the reference standard. "
        "Points on the dotted diagonal are well calibrated; points below it mean the device "
        "overstates the risk. The histogram underneath shows how the predicted probabilities "
        "are spread, stacked by reference class.",
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
            values += _finite_values(cell.get("ci_low"), cell.get("ci_high"), cell.get("estimate"))
        pooled = (row.get("pooled") or {}).get(metric) if row["kind"] == "pooled" else None
        if pooled:
            values += _finite_values(
                *(pooled.get(k) for k in ("ci_low", "ci_high", "prediction_low", "prediction_high"))
            )
    goal = panel.get("goal") or {}
    values += _finite_values(goal.get("lower"), goal.get("upper"), panel.get("reference"))
    proportion = panel.get("scale") != "mm"
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
    if scale == "mm":
        return FuncFormatter(lambda x, _: f"{x:g}".replace("-", "\u2212"))
    return PercentFormatter(xmax=1.0, decimals=0)


def forest_figure(
    groups: Sequence[Mapping[str, Any]],
    panels: Sequence[Mapping[str, Any]],
    *,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> Figure:
    """Draw a subgroup forest plot (see :func:`forest`)."""
    rows, height = _forest_rows(groups)
    row_in = 0.158
    label_in = 1.35 if len(panels) > 1 else 1.6
    text_in = 0.95 if len(panels) > 1 else 1.25
    gap_in = 0.12
    width_in = PAGE_WIDTH_IN - 0.45
    plot_in = (width_in - label_in - len(panels) * (text_in + gap_in)) / len(panels)
    top_in, bottom_in, legend_in = 0.42, 0.42, 0.62
    fig_h = top_in + max(height, 1.0) * row_in + bottom_in + legend_in
    conf = f"{100 * confidence:g}%"
    used = {
        "small": False,
        "fail": False,
        "met": False,
        "goal": False,
        "pooled": False,
        "reference": False,
    }
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width_in, fig_h))
        axes = []
        for pi, panel in enumerate(panels):
            left = label_in + pi * (plot_in + text_in + gap_in)
            ax = fig.add_axes(
                (
                    left / width_in,
                    (bottom_in + legend_in) / fig_h,
                    plot_in / width_in,
                    max(height, 1.0) * row_in / fig_h,
                )
            )
            axes.append(ax)
            metric = str(panel["metric"])
            lo, hi = _forest_limits(rows, panel)
            ax.set_xlim(lo, hi)
            ax.set_ylim(height - 0.4, -0.6)
            ax.set_yticks([])
            ax.xaxis.set_major_formatter(_fmt_tick(str(panel.get("scale"))))
            scale = str(panel.get("scale"))
            ticks = MaxNLocator(nbins=5).tick_values(lo, hi)
            ticks = [t for t in ticks if lo <= t <= hi and (scale == "mm" or t <= 1.0)]
            ax.set_xticks(ticks)
            ax.tick_params(axis="x", labelsize=SMALL)
            ax.spines[["top", "right", "left"]].set_visible(False)
            ax.set_title(
                str(panel["title"]), fontsize=8.5, color=INK, fontweight="bold", loc="center", pad=6
            )
            ax.grid(True, axis="x", color="#ececec", lw=0.5, zorder=0)
            if panel.get("scale") == "mm" and lo < 0 < hi:
                ax.axvline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
            if _finite(panel.get("reference")):
                ax.axvline(float(panel["reference"]), color=GUIDE, lw=0.9, ls=":", zorder=1)
                used["reference"] = True
            side = blended_transform_factory(ax.transAxes, ax.transData)
            goal = panel.get("goal") or {}
            bounds = _finite_values(goal.get("lower"), goal.get("upper"))
            for gi in range(len(groups)):
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
                        b,
                        y0 - 0.05,
                        "goal",
                        ha="center",
                        va="bottom",
                        fontsize=MIN_FONT_PT,
                        color=LINE,
                    )
                used["goal"] = True
            for r in rows:
                y = r["y"]
                if r["kind"] == "header":
                    if pi == 0:
                        ax.text(
                            -label_in / plot_in,
                            y,
                            r["label"],
                            transform=side,
                            ha="left",
                            va="center",
                            fontsize=SMALL,
                            fontweight="bold",
                            color="#17385a",
                        )
                    continue
                if r["kind"] == "pooled":
                    pooled = (r["pooled"] or {}).get(metric)
                    if pi == 0:
                        ax.text(
                            -label_in / plot_in + 0.06,
                            y,
                            r["label"],
                            transform=side,
                            ha="left",
                            va="center",
                            fontsize=SMALL,
                            fontstyle="italic",
                            color=INK,
                        )
                    if not pooled or not _finite(pooled.get("estimate")):
                        ax.text(
                            1.03,
                            y,
                            "not estimable",
                            transform=side,
                            ha="left",
                            va="center",
                            fontsize=SMALL,
                            color=GUIDE,
                        )
                        continue
                    used["pooled"] = True
                    plo, phi = pooled.get("prediction_low"), pooled.get("prediction_high")
                    if _finite(plo) and _finite(phi):
                        ax.plot((plo, phi), (y, y), color=LINE, lw=0.7, zorder=3, marker="|", ms=5)
                    est = float(pooled["estimate"])
                    clo = pooled.get("ci_low") if _finite(pooled.get("ci_low")) else est
                    chi = pooled.get("ci_high") if _finite(pooled.get("ci_high")) else est
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
                    ax.text(
                        1.03,
                        y,
                        tag,
                        transform=side,
                        ha="left",
                        va="center",
                        fontsize=SMALL,
                        color=INK,
                        fontweight="bold" if pooled.get("poolable") is False else "normal",
                    )
                    continue
                if pi == 0:
                    ax.text(
                        -label_in / plot_in + 0.06,
                        y,
                        str(r["label"]),
                        transform=side,
                        ha="left",
                        va="center",
                        fontsize=SMALL,
                        color=INK,
                    )
                cell = (r.get("cells") or {}).get(metric)
                if cell is None:
                    ax.text(
                        1.03,
                        y,
                        "not reported",
                        transform=side,
                        ha="left",
                        va="center",
                        fontsize=SMALL,
                        color=GUIDE,
                        fontstyle="italic",
                    )
                    continue
                n_text = f"n = {int(cell['n']):,}" if _finite(cell.get("n")) else "n = n/a"
                est = cell.get("estimate")
                small = bool(cell.get("small"))
                failed = cell.get("goal_met") is False
                met = cell.get("goal_met") is True
                tags = [n_text]
                if small:
                    tags.append("small")
                    used["small"] = True
                if failed:
                    tags.append("\u2717 fails")
                    used["fail"] = True
                elif met:
                    tags.append("\u2713 meets")
                    used["met"] = True
                ax.text(
                    1.03,
                    y,
                    "  ".join(tags),
                    transform=side,
                    ha="left",
                    va="center",
                    fontsize=SMALL,
                    color=FAIL if failed else INK,
                    fontweight="bold" if failed else "normal",
                    fontstyle="italic" if small and not failed else "normal",
                )
                if not _finite(est):
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
                    continue
                colour = FAIL if failed else POINT
                if _finite(cell.get("ci_low")) and _finite(cell.get("ci_high")):
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
            ax.set_xlabel(str(panel.get("xlabel") or ""), fontsize=SMALL)
        handles = [
            Line2D(
                [],
                [],
                color=POINT,
                lw=1.1,
                marker="o",
                ms=4.6,
                label=f"Estimate with its {conf} CI",
            )
        ]
        if used["small"]:
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
        if used["fail"]:
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
        if used["goal"]:
            handles.append(
                Line2D(
                    [], [], color=LINE, lw=0.9, ls="--", label="Goal, where the stratum is judged"
                )
            )
        if used["reference"]:
            handles.append(
                Line2D([], [], color=GUIDE, lw=0.9, ls=":", label="Estimate over all studies")
            )
        if used["pooled"]:
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
) -> dict[str, str]:
    """A subgroup forest plot: one row per stratum, grouped by dimension, one panel per metric.

    Parameters
    ----------
    groups : sequence of mapping
        One per dimension: ``{"title": str, "rows": [{"label": str, "cells": {metric: cell}}],
        "pooled": {metric: pooled} or None}``. A cell holds ``n, estimate, ci_low, ci_high,
        small, judged, goal_met`` (the tidy strata row); ``pooled`` holds the random-effects
        ``estimate, ci_low, ci_high, prediction_low, prediction_high, k, poolable``.
    panels : sequence of mapping
        One per metric: ``{"metric", "title", "xlabel", "scale" ("mm" or "proportion"),
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
    return _figure(fig, fig_id, alt, caption)
