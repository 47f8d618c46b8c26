"""Report figures: matplotlib drawn to SVG (vector) and embedded as data URIs.

Figures only draw what the analysis computed (bias, limits of agreement and their intervals come
from results.json); the per-study points come from analysed.csv. The object-oriented matplotlib API
is used (no pyplot), so drawing holds no global state. Each function returns
``{"id", "src", "alt", "caption"}``.
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
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import MaxNLocator

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


def scatter(table: pd.DataFrame) -> dict[str, str]:
    """Model against reference IVSd, by vendor, with the line of identity."""
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
        src = _to_uri(fig)
    return {
        "id": "scatter",
        "src": src,
        "alt": "Scatter plot of model IVSd against reference IVSd, by vendor",
        "caption": (
            "Model IVSd against the reference-standard IVSd for every analysed study, coloured by "
            "vendor. Points on the line of identity agree exactly; points above it are "
            "overestimated by the model."
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
