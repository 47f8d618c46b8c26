"""Surveillance report figures: control charts and drift maps drawn to SVG (vector).

The figures only draw what the surveillance run computed and wrote to ``surveillance.json``: the
CUSUM and EWMA statistics, their limits and alarm flags, the monthly means, the audited bias with
its interval, the audited bias's change since validation (T) against its limit, and the drift
effect sizes. Nothing is estimated here. As in
:mod:`validation.report.figures` (whose palette, rc settings and page width are reused), the
object-oriented matplotlib API is used (no pyplot), figures are drawn at the size they print with
no text under :data:`~validation.report.figures.MIN_FONT_PT`, in the Okabe-Ito colour-blind-safe
palette, and colour is never the only cue: an alarmed segment's panel has a thick frame, a
"\u2717 ALARM from <month>" title and cross markers; the onset month is a labelled vertical line.

Each figure function returns ``{"id", "src", "alt", "caption"}`` (``src`` an SVG data URI); the
``*_figure`` functions return the matplotlib :class:`~matplotlib.figure.Figure`, for tests.

Small multiples share one layout (:func:`panel_grid`): one row per site with its vendors side by
side, and the pooled segment (site and vendor ``"*"``) in the last row, all on the same axes.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from validation.report.figures import FAIL, GUIDE, INK, LINE, PAGE_WIDTH_IN, POINT, RC, SMALL

#: Site / vendor value of a pooled segment.
POOLED = "*"
#: Second series colour (Okabe-Ito bluish green): the lower CUSUM.
SECOND = "#009E73"
#: Background of months without data, and of months whose labels are still arriving.
NO_DATA = "#eeeeee"
#: Panel height (inches) of the audited-bias change chart: lower than the others' 1.45, so that
#: it fits on the page under the section's tables.
BIAS_PANEL_H = 1.1
#: Off-scale values are drawn at this multiple of the largest limit, marked with an arrow head.
CAP = 2.5

Key = tuple[str, str]


def segment_label(site: Any, vendor: Any) -> str:
    """A segment's name in plain words.

    Examples
    --------
    >>> segment_label("s02", "GE")
    's02 · GE'
    >>> segment_label("*", "*")
    'All sites and vendors'
    """
    site, vendor = str(site), str(vendor)
    if site == POOLED and vendor == POOLED:
        return "All sites and vendors"
    if vendor == POOLED:
        return f"{site}, all vendors"
    if site == POOLED:
        return f"All sites, {vendor}"
    return f"{site} \u00b7 {vendor}"


def panel_grid(
    keys: Sequence[Key], *, max_cols: int = 4
) -> tuple[list[tuple[Key, int, int]], int, int]:
    """Place segments on a grid: a row per site (its vendors in name order), pooled ones last.

    Returns ``([(key, row, col), ...], nrows, ncols)``.

    Examples
    --------
    >>> pos, nrows, ncols = panel_grid([("s01", "GE"), ("*", "*"), ("s01", "Canon"), ("s02", "GE")])
    >>> [(k[0], k[1], r, c) for k, r, c in pos]
    [('s01', 'Canon', 0, 0), ('s01', 'GE', 0, 1), ('s02', 'GE', 1, 0), ('*', '*', 2, 0)]
    >>> nrows, ncols
    (3, 2)
    """
    plain = [k for k in keys if POOLED not in k]
    pooled = [k for k in keys if POOLED in k]
    sites: dict[str, list[str]] = {}
    for site, vendor in sorted(plain):
        sites.setdefault(site, []).append(vendor)
    widest = max([len(v) for v in sites.values()] + [len(pooled) and 1, 1])
    ncols = max(1, min(max_cols, widest))
    rows: list[list[Key]] = []
    for site, vendors in sites.items():
        for i in range(0, len(vendors), ncols):
            rows.append([(site, v) for v in vendors[i : i + ncols]])
    for i in range(0, len(pooled), ncols):
        rows.append(pooled[i : i + ncols])
    positions = [(key, r, c) for r, row in enumerate(rows) for c, key in enumerate(row)]
    return positions, max(1, len(rows)), ncols


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


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


def _figure(fig: Figure, fig_id: str, alt: str, caption: str) -> dict[str, str]:
    return {"id": fig_id, "src": _to_uri(fig), "alt": alt, "caption": caption}


def _num(value: Any) -> float:
    """A float, or NaN for None / non-numeric values."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _by_month(rows: Sequence[Mapping[str, Any]], months: Sequence[str], key: str) -> np.ndarray:
    """``rows[key]`` aligned on ``months`` (NaN where a month has no row or no value)."""
    where = {str(r.get("month")): r for r in rows}
    return np.array([_num(where.get(m, {}).get(key)) for m in months], dtype=float)


def _flags(
    rows: Sequence[Mapping[str, Any]], months: Sequence[str], key: str = "alarm"
) -> np.ndarray:
    where = {str(r.get("month")): r for r in rows}
    return np.array([bool(where.get(m, {}).get(key)) for m in months], dtype=bool)


def _pm(value: float, digits: int = 2) -> str:
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}".replace("-", "\u2212")


def _month_axis(ax: Any, months: Sequence[str], *, labels: bool) -> None:
    n = len(months)
    step = max(1, math.ceil(n / 4))
    ax.set_xticks(range(n), minor=True)
    major = list(range(0, n, step))
    ax.set_xticks(major)
    ax.set_xticklabels([months[i] for i in major] if labels else [], fontsize=SMALL)
    ax.tick_params(axis="x", which="minor", length=1.5)
    ax.set_xlim(-0.6, n - 0.4)


def _shade_months(ax: Any, mask: np.ndarray) -> None:
    for i in np.flatnonzero(mask):
        ax.axvspan(i - 0.5, i + 0.5, color=NO_DATA, lw=0, zorder=0)


def _hatch_months(ax: Any, mask: np.ndarray) -> None:
    """Hatch the months whose labels are still arriving (their values may still change)."""
    for i in np.flatnonzero(mask):
        ax.axvspan(
            i - 0.5, i + 0.5, facecolor=NO_DATA, hatch="///", edgecolor="#d0d0d0", lw=0, zorder=0
        )


def _pending_handle() -> Patch:
    return Patch(facecolor=NO_DATA, hatch="///", edgecolor="#d0d0d0", label="Labels still arriving")


def _mark_alarm_panel(ax: Any, title: str, onset: str | None, months: Sequence[str]) -> None:
    """Thick vermillion frame, an ALARM title and the onset line: the alarmed segment."""
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(FAIL)
        spine.set_linewidth(1.6)
    suffix = f"\n\u2717 ALARM from {onset}" if onset else "\n\u2717 ALARM"
    ax.set_title(title + suffix, fontsize=8, loc="left", color=FAIL, fontweight="bold")
    if onset in months:
        i = list(months).index(onset)
        ax.axvline(i, color=FAIL, lw=1.0, ls=(0, (3, 2)), zorder=2)
        ax.annotate(
            "onset",
            xy=(i, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-2, -2),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=SMALL,
            color=FAIL,
            fontweight="bold",
        )


def _plain_title(ax: Any, title: str) -> None:
    ax.set_title(title, fontsize=8, loc="left", color=INK, fontweight="bold")
    ax.spines[["top", "right"]].set_visible(False)


def _clip(values: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Values clipped to ``[-cap, cap]`` and the mask of those that were off scale."""
    off = np.abs(np.nan_to_num(values)) > cap
    return np.clip(values, -cap, cap), off


def _off_scale(ax: Any, x: np.ndarray, clipped: np.ndarray, off: np.ndarray, colour: str) -> None:
    if off.any():
        ax.scatter(
            x[off],
            clipped[off],
            marker="^",
            s=22,
            facecolor="white",
            edgecolor=colour,
            lw=0.9,
            zorder=6,
        )


def _onset_of(rows: Sequence[Mapping[str, Any]], months: Sequence[str]) -> str | None:
    flags = _flags(rows, months)
    return months[int(np.flatnonzero(flags)[0])] if flags.any() else None


def _grid_axes(
    keys: Sequence[Key], *, panel_h: float = 1.45, legend_h: float = 0.55
) -> tuple[Figure, list[tuple[Key, Any, bool, bool]]]:
    """A figure with one axes per segment; returns ``(fig, [(key, ax, left_col, bottom), ...])``."""
    positions, nrows, ncols = panel_grid(keys)
    fig = Figure(figsize=(PAGE_WIDTH_IN - 0.1, legend_h + panel_h * nrows))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    used = {(r, c) for _, r, c in positions}
    for r in range(nrows):
        for c in range(ncols):
            if (r, c) not in used:
                axes[r][c].set_visible(False)
    out = []
    for key, r, c in positions:
        below_empty = r + 1 < nrows and (r + 1, c) not in used
        out.append((key, axes[r][c], c == 0, r == nrows - 1 or below_empty))
    return fig, out


def _legend(fig: Figure, handles: Sequence[Any], *, rows: int, panel_h: float = 1.45) -> None:
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=min(len(handles), 4),
        fontsize=SMALL,
        bbox_to_anchor=(0.5, 0.0),
        handlelength=2.4,
    )
    fig.tight_layout(rect=(0, 0.55 / (0.55 + panel_h * rows) + 0.01, 1, 1), h_pad=0.9, w_pad=0.8)


def _alarm_handles(alarmed: bool) -> list[Any]:
    """Legend entries of the alarm marks (only when a panel is alarmed) and of empty months."""
    marks = [
        Line2D([], [], color=FAIL, marker="X", lw=0, ms=5, label="Alarm in that month"),
        Line2D([], [], color=FAIL, lw=1.0, ls=(0, (3, 2)), label="Onset of the alarm"),
        Patch(facecolor="white", edgecolor=FAIL, lw=1.6, label="Alarmed segment (\u2717 in title)"),
    ]
    empty = Patch(facecolor=NO_DATA, edgecolor="none", label="No studies that month")
    return [*marks, empty] if alarmed else [empty]


# ---------------------------------------------------------------------------------------------
# Output drift: CUSUM of the monthly mean and EWMA of the positive rate, per segment
# ---------------------------------------------------------------------------------------------


def _cusum_arrays(
    rows: Sequence[Mapping[str, Any]], months: Sequence[str], h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    upper = _by_month(rows, months, "upper")
    lower = -np.abs(_by_month(rows, months, "lower"))  # drawn below zero, whatever its sign
    limit = _by_month(rows, months, "limit")
    limit = np.where(np.isfinite(limit), limit, h)
    return upper, lower, limit


def _cusum_panel(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    h: float,
    cap: float,
    marker_size: float = 9,
) -> None:
    x = np.arange(len(months), dtype=float)
    upper, lower, limit = _cusum_arrays(rows, months, h)
    _shade_months(ax, _by_month(rows, months, "n") == 0)
    ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
    ax.plot(x, limit, color=LINE, lw=0.9, ls="--", drawstyle="steps-mid", zorder=2)
    ax.plot(x, -limit, color=LINE, lw=0.9, ls="--", drawstyle="steps-mid", zorder=2)
    for values, colour, marker in ((upper, POINT, "o"), (lower, SECOND, "s")):
        shown, off = _clip(values, cap)
        ax.plot(x, shown, color=colour, lw=1.0, marker=marker, ms=2.6, zorder=3)
        _off_scale(ax, x, shown, off, colour)
    alarm = _flags(rows, months)
    if alarm.any():
        worst = np.where(np.nan_to_num(upper) >= np.abs(np.nan_to_num(lower)), upper, lower)
        shown, _ = _clip(worst, cap)
        ax.scatter(x[alarm], shown[alarm], marker="X", s=marker_size * 3, color=FAIL, zorder=5)
    ax.set_ylim(-cap * 1.05, cap * 1.05)
    ax.grid(True, axis="y", color="#ececec", lw=0.5, zorder=0)


def _ewma_panel(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    cap: float,
    marker_size: float = 9,
) -> None:
    x = np.arange(len(months), dtype=float)
    z = _by_month(rows, months, "z")
    stat = _by_month(rows, months, "ewma")
    limit = _by_month(rows, months, "limit")
    _shade_months(ax, _by_month(rows, months, "n") == 0)
    ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
    ax.plot(x, limit, color=LINE, lw=0.9, ls="--", zorder=2)
    ax.plot(x, -limit, color=LINE, lw=0.9, ls="--", zorder=2)
    zs, _ = _clip(z, cap)
    ax.scatter(x, zs, s=6, marker=".", color=GUIDE, zorder=2)
    shown, off = _clip(stat, cap)
    ax.plot(x, shown, color=POINT, lw=1.0, marker="o", ms=2.6, zorder=3)
    _off_scale(ax, x, shown, off, POINT)
    alarm = _flags(rows, months)
    if alarm.any():
        ax.scatter(x[alarm], shown[alarm], marker="X", s=marker_size * 3, color=FAIL, zorder=5)
    ax.set_ylim(-cap * 1.05, cap * 1.05)
    ax.grid(True, axis="y", color="#ececec", lw=0.5, zorder=0)


def _cap(values: Sequence[float], limits: Sequence[float]) -> float:
    """The shared y range: the data, at most :data:`CAP` times the largest limit."""
    lim = max([v for v in limits if math.isfinite(v)] + [1.0])
    data = max([abs(v) for v in values if math.isfinite(v)] + [0.0])
    return max(1.3 * lim, min(1.1 * data, CAP * lim))


def _series(segment: Mapping[str, Any], signal: str) -> list[Mapping[str, Any]]:
    return list((segment.get("series") or {}).get(signal) or [])


def _key(row: Mapping[str, Any]) -> Key:
    return (str(row["site"]), str(row["vendor"]))


def control_chart_figure(
    segments: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    signal: str,
    onsets: Mapping[Key, str] | None = None,
    h: float = math.nan,
) -> Figure:
    """Draw the per-segment small multiples of one chart (see :func:`cusum_charts`)."""
    onsets = dict(onsets or {})
    keys = [_key(s) for s in segments]
    by_key = {_key(s): _series(s, signal) for s in segments}
    values: list[float] = []
    limits: list[float] = [h]
    for rows in by_key.values():
        if signal == "output_mean":
            up, lo, lim = _cusum_arrays(rows, months, h)
            values += [*up, *lo]
            limits += list(lim)
        else:
            values += [*_by_month(rows, months, "ewma"), *_by_month(rows, months, "z")]
            limits += list(_by_month(rows, months, "limit"))
    cap = _cap(values, limits)
    with matplotlib.rc_context(RC):
        fig, panels = _grid_axes(keys)
        any_alarm = False
        for key, ax, left, bottom in panels:
            rows = by_key[key]
            if signal == "output_mean":
                _cusum_panel(ax, rows, months, h=h, cap=cap)
            else:
                _ewma_panel(ax, rows, months, cap=cap)
            title = segment_label(*key)
            onset = onsets.get(key) or _onset_of(rows, months)
            if key in onsets or _flags(rows, months).any():
                _mark_alarm_panel(ax, title, onset, months)
                any_alarm = True
            else:
                _plain_title(ax, title)
            _month_axis(ax, months, labels=bottom)
            if bottom:
                ax.xaxis.set_tick_params(labelbottom=True)
            ax.tick_params(labelsize=SMALL)
            if left:
                ax.set_ylabel("CUSUM" if signal == "output_mean" else "EWMA", fontsize=SMALL)
        if signal == "output_mean":
            handles = [
                Line2D([], [], color=POINT, marker="o", ms=3, lw=1, label="Upper CUSUM (rise)"),
                Line2D([], [], color=SECOND, marker="s", ms=3, lw=1, label="Lower CUSUM (fall)"),
                Line2D([], [], color=LINE, lw=0.9, ls="--", label="Control limit \u00b1h"),
            ]
        else:
            handles = [
                Line2D([], [], color=POINT, marker="o", ms=3, lw=1, label="EWMA"),
                Line2D([], [], color=GUIDE, marker=".", lw=0, ms=5, label="Monthly value (z)"),
                Line2D([], [], color=LINE, lw=0.9, ls="--", label="Control limits"),
            ]
        _legend(
            fig,
            handles + _alarm_handles(any_alarm),
            rows=len({r for _, r, _ in panel_grid(keys)[0]}),
        )
    return fig


def _alarmed_names(onsets: Mapping[Key, str]) -> str:
    if not onsets:
        return ""
    names = [f"{segment_label(*k)} (from {m})" for k, m in sorted(onsets.items())]
    return " Alarmed: " + "; ".join(names) + "."


def cusum_charts(
    segments: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    onsets: Mapping[Key, str] | None = None,
    k: float = math.nan,
    h: float = math.nan,
    arl0: float = math.nan,
) -> dict[str, str]:
    """CUSUM charts of the monthly mean predicted IVSd, one panel per segment.

    Parameters
    ----------
    segments : sequence of mapping
        ``surveillance.json`` ``segments`` (``site``, ``vendor``, ``series.output_mean`` rows with
        ``month, n, mean, z, upper, lower, limit, alarm``); ``lower`` is drawn below zero.
    months : sequence of str
        The monitored months (``YYYY-MM``), the x axis.
    onsets : mapping, optional
        ``{(site, vendor): onset month}`` of the ``output_mean`` alerts: those panels are framed
        and titled as alarmed, and the onset is marked.
    k, h, arl0 : float
        The chart's reference value, decision limit and in-control ARL (for the caption).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = control_chart_figure(segments, months, signal="output_mean", onsets=onsets, h=h)
    caption = (
        "Cumulative-sum (CUSUM) control charts of the model's monthly mean IVSd measurement, one "
        "panel per site and vendor, and all sites pooled, on the same axes. Each month's mean is "
        "compared with that segment's frozen validation baseline and standardised for the "
        "number of studies; the upper line (circles) accumulates evidence that the measurements "
        "have risen, the lower line (squares, drawn below zero) that they have fallen, and both "
        "restart at zero when the evidence fades. A segment alarms when a line crosses the "
        f"dashed limit (h = {_fmt(h)}, reference value k = {_fmt(k)}), chosen so that a segment "
        f"whose measurements have not changed raises a false alarm on average only once in "
        f"{_fmt(arl0, 0)} months. Grey months had no studies; values beyond the shown range are "
        "drawn at its edge as open triangles." + _alarmed_names(onsets or {})
    )
    return _figure(
        fig,
        "cusum-mean",
        "CUSUM control charts of the monthly mean predicted IVSd, one panel per segment",
        caption,
    )


def ewma_charts(
    segments: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    onsets: Mapping[Key, str] | None = None,
    lam: float = math.nan,
    L: float = math.nan,
    arl0: float = math.nan,
    threshold: float = math.nan,
) -> dict[str, str]:
    """EWMA charts of the standardised monthly LVH-positive rate, one panel per segment.

    Parameters
    ----------
    segments : sequence of mapping
        ``surveillance.json`` ``segments`` (``series.output_positive_rate`` rows with
        ``month, n, rate, z, ewma, limit, alarm``; ``limit`` is the month's half-width).
    months : sequence of str
        The monitored months.
    onsets : mapping, optional
        ``{(site, vendor): onset month}`` of the ``output_positive_rate`` alerts.
    lam, L, arl0 : float
        Smoothing constant, limit multiplier and in-control ARL (for the caption).
    threshold : float
        The protocol's LVH probability threshold (for the caption).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = control_chart_figure(segments, months, signal="output_positive_rate", onsets=onsets)
    at = f" (LVH probability of at least {_fmt(threshold)})" if math.isfinite(threshold) else ""
    caption = (
        "Exponentially weighted moving-average (EWMA) control charts of the share of studies "
        f"the model flags as LVH-positive{at}, one panel per site and vendor, and all sites "
        "pooled. Each month's positive rate is compared with the segment's frozen validation "
        "baseline and standardised (grey dots); the EWMA line (circles) averages them, giving "
        f"the latest month the weight \u03bb = {_fmt(lam)}. A segment alarms when the EWMA "
        f"leaves the dashed limits (L = {_fmt(L, 3)} standard errors of the EWMA, narrower in "
        f"the first months), set so that a segment whose output has not changed raises a false "
        f"alarm on average only once in {_fmt(arl0, 0)} months. Grey months had no studies."
        + _alarmed_names(onsets or {})
    )
    return _figure(
        fig,
        "ewma-positive-rate",
        "EWMA control charts of the monthly positive rate, one panel per segment",
        caption,
    )


def alert_chart_figure(
    segment: Mapping[str, Any],
    months: Sequence[str],
    *,
    signal: str,
    baseline: Mapping[str, Any] | None = None,
    onset: str | None = None,
    h: float = math.nan,
) -> Figure:
    """Draw one alarmed output stream at full width (see :func:`alert_chart`)."""
    rows = _series(segment, signal)
    x = np.arange(len(months), dtype=float)
    n = _by_month(rows, months, "n")
    base = baseline or {}
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(PAGE_WIDTH_IN - 0.1, 2.45))
        left, right = fig.subplots(1, 2)
        if signal == "output_mean":
            level = _by_month(rows, months, "mean")
            ref = _num(base.get("mean_ivsd"))
            left.set_ylabel("Mean predicted IVSd (mm)", fontsize=SMALL)
            ref_name = "Baseline mean"
        else:
            level = _by_month(rows, months, "rate") * 100.0
            ref = _num(base.get("positive_rate")) * 100.0
            left.set_ylabel("LVH-positive studies (%)", fontsize=SMALL)
            ref_name = "Baseline rate"
        _shade_months(left, n == 0)
        left.plot(x, level, color=POINT, lw=1.0, marker="o", ms=3, zorder=3, label="Monthly value")
        if math.isfinite(ref):
            left.axhline(ref, color=LINE, lw=0.9, ls=":", zorder=2, label=ref_name)
        alarm = _flags(rows, months)
        if alarm.any():
            left.scatter(x[alarm], level[alarm], marker="X", s=30, color=FAIL, zorder=5)
        for i, count in enumerate(n):
            if math.isfinite(count):
                left.annotate(
                    f"{int(count)}",
                    xy=(i, 0.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=SMALL - 0.5 if SMALL > 7.0 else SMALL,
                    color=GUIDE,
                )
        lo, hi = np.nanmin(np.r_[level, ref]), np.nanmax(np.r_[level, ref])
        pad = 0.12 * ((hi - lo) or 1.0)
        left.set_ylim(lo - 2.2 * pad, hi + pad)
        left.grid(True, axis="y", color="#ececec", lw=0.5, zorder=0)
        left.legend(loc="upper left", fontsize=SMALL, handlelength=1.8)
        if signal == "output_mean":
            up, lo_, lim = _cusum_arrays(rows, months, h)
            cap = _cap([*up, *lo_], list(lim))
            _cusum_panel(right, rows, months, h=h, cap=cap, marker_size=10)
            right.set_ylabel("CUSUM", fontsize=SMALL)
        else:
            stat, lim = _by_month(rows, months, "ewma"), _by_month(rows, months, "limit")
            cap = _cap([*stat, *_by_month(rows, months, "z")], list(lim))
            _ewma_panel(right, rows, months, cap=cap, marker_size=10)
            right.set_ylabel("EWMA", fontsize=SMALL)
        for ax in (left, right):
            _month_axis(ax, months, labels=True)
            ax.tick_params(labelsize=SMALL)
            ax.spines[["top", "right"]].set_visible(False)
            if onset in months:
                i = list(months).index(onset)
                ax.axvline(i, color=FAIL, lw=1.0, ls=(0, (3, 2)), zorder=2)
        title = segment_label(segment["site"], segment["vendor"])
        left.set_title(f"{title}: monthly value", fontsize=8, loc="left", fontweight="bold")
        right.set_title(
            f"{title}: control chart  \u2717 ALARM from {onset}" if onset else f"{title}: chart",
            fontsize=8,
            loc="left",
            color=FAIL if onset else INK,
            fontweight="bold",
        )
        fig.tight_layout(w_pad=2.0)
    return fig


def alert_chart(
    segment: Mapping[str, Any],
    months: Sequence[str],
    *,
    signal: str,
    baseline: Mapping[str, Any] | None = None,
    onset: str | None = None,
    h: float = math.nan,
    fig_id: str = "alert",
) -> dict[str, str]:
    """One alarmed output stream: the monthly value against the baseline, and its chart.

    Parameters
    ----------
    segment : mapping
        One ``surveillance.json`` ``segments`` entry.
    months : sequence of str
        The monitored months.
    signal : {"output_mean", "output_positive_rate"}
        The alarmed stream.
    baseline : mapping, optional
        The segment's ``baseline.segments`` entry (``mean_ivsd``, ``positive_rate``).
    onset : str, optional
        The alert's onset month, marked on both panels.
    h : float
        The CUSUM limit, where the series rows carry none.
    fig_id : str
        The figure's id (unique in the report).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = alert_chart_figure(segment, months, signal=signal, baseline=baseline, onset=onset, h=h)
    name = segment_label(segment["site"], segment["vendor"])
    if signal == "output_mean":
        what = "mean IVSd measured by the model"
        ref = "the dotted line is the segment's validation baseline mean"
        chart = "its CUSUM chart, with the decision limits dashed"
    else:
        what = "share of studies flagged LVH-positive"
        ref = "the dotted line is the segment's validation baseline rate"
        chart = "its EWMA chart, with the control limits dashed"
    caption = (
        f"{name}: the monthly {what} (left; {ref}; the small grey numbers are the studies per "
        f"month) and {chart} (right). Crosses mark the months in alarm"
        + (f"; the vertical dashed line marks the onset, {onset}." if onset else ".")
    )
    return _figure(fig, fig_id, f"{name}: monthly {what} and its control chart", caption)


# ---------------------------------------------------------------------------------------------
# Performance on the audited subset: bias by month of acquisition, per segment
# ---------------------------------------------------------------------------------------------


def performance_figure(
    performance: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    keys: Sequence[Key],
    goal: Mapping[str, Any] | None = None,
    pending: Sequence[str] = (),
    onsets: Mapping[Key, str] | None = None,
) -> Figure:
    """Draw the audited bias by month, per segment (see :func:`performance_chart`)."""
    goal = goal or {}
    onsets = dict(onsets or {})
    rows_by: dict[Key, list[Mapping[str, Any]]] = {k: [] for k in keys}
    for row in performance:
        rows_by.setdefault(_key(row), []).append(row)
    levels = [_num(goal.get("lower")), _num(goal.get("upper")), 0.0]
    for row in performance:
        ci = row.get("bias_ci") or [None, None]
        levels += [_num(row.get("bias")), *(_num(c) for c in ci[:2])]
    finite = [v for v in levels if math.isfinite(v)]
    lo, hi = min(finite), max(finite)
    lim_lo, lim_hi = max(lo, -8.0), min(hi, 8.0)
    pad = 0.1 * ((lim_hi - lim_lo) or 1.0)
    ylim = (lim_lo - pad, lim_hi + pad)
    pending_mask = np.array([m in set(pending) for m in months], dtype=bool)
    x = np.arange(len(months), dtype=float)
    with matplotlib.rc_context(RC):
        fig, panels = _grid_axes(list(rows_by))
        for key, ax, left, bottom in panels:
            rows = rows_by[key]
            _hatch_months(ax, pending_mask)
            ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
            for bound in ("lower", "upper"):
                if math.isfinite(_num(goal.get(bound))):
                    ax.axhline(_num(goal[bound]), color=LINE, lw=0.8, ls="-.", zorder=2)
            bias = _by_month(rows, months, "bias")
            where = {str(r.get("month")): r for r in rows}
            cis = [where.get(m, {}).get("bias_ci") or [None, None] for m in months]
            low = np.array([_num(c[0]) for c in cis])
            high = np.array([_num(c[1]) for c in cis])
            ok = np.isfinite(bias)
            err = np.vstack([bias - low, high - bias])
            err = np.where(np.isfinite(err), err, 0.0)
            if ok.any():
                ax.errorbar(
                    x[ok],
                    np.clip(bias[ok], *ylim),
                    yerr=err[:, ok],
                    fmt="o",
                    ms=2.8,
                    color=POINT,
                    ecolor=POINT,
                    elinewidth=0.8,
                    capsize=1.5,
                    zorder=3,
                )
            alarm = _flags(rows, months)
            if alarm.any():
                ax.scatter(
                    x[alarm], np.clip(bias[alarm], *ylim), marker="X", s=27, color=FAIL, zorder=5
                )
            n = _by_month(rows, months, "labelled")
            for i, count in enumerate(n):
                if math.isfinite(count):
                    ax.annotate(
                        f"{int(count)}",
                        xy=(i, 0.0),
                        xycoords=("data", "axes fraction"),
                        xytext=(0, 1.5),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=SMALL - 0.5 if SMALL > 7.0 else SMALL,
                        color=GUIDE,
                    )
            title = segment_label(*key)
            if key in onsets or alarm.any():
                _mark_alarm_panel(ax, title, onsets.get(key) or _onset_of(rows, months), months)
            else:
                _plain_title(ax, title)
            ax.set_ylim(ylim[0] - 0.12 * (ylim[1] - ylim[0]), ylim[1])
            ax.grid(True, axis="y", color="#ececec", lw=0.5, zorder=0)
            _month_axis(ax, months, labels=bottom)
            if bottom:
                ax.xaxis.set_tick_params(labelbottom=True)
            ax.tick_params(labelsize=SMALL)
            if left:
                ax.set_ylabel("Bias (mm)", fontsize=SMALL)
        handles = [
            Line2D([], [], color=POINT, marker="o", ms=3, lw=0.8, label="Bias with its CI"),
            Line2D([], [], color=LINE, lw=0.8, ls="-.", label="Premarket goal for the bias"),
            _pending_handle(),
            Line2D([], [], color=FAIL, marker="X", lw=0, ms=5, label="Goal missed (alarm)"),
        ]
        _legend(fig, handles, rows=len({r for _, r, _ in panel_grid(list(rows_by))[0]}))
    return fig


def performance_chart(
    performance: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    keys: Sequence[Key],
    goal: Mapping[str, Any] | None = None,
    pending: Sequence[str] = (),
    onsets: Mapping[Key, str] | None = None,
    confidence: float = 0.95,
) -> dict[str, str]:
    """The audited bias (model minus reference IVSd) by month of acquisition, per segment.

    Parameters
    ----------
    performance : sequence of mapping
        ``surveillance.json`` ``performance`` rows (``month, site, vendor, labelled, bias,
        bias_ci, alarm``).
    months : sequence of str
        The monitored months.
    keys : sequence of (site, vendor)
        The segments to draw (a panel each, even without labels).
    goal : mapping, optional
        The premarket bias goal (``lower`` / ``upper``), drawn dash-dot.
    pending : sequence of str
        Months whose labels are still arriving (hatched).
    onsets : mapping, optional
        ``{(site, vendor): onset}`` of the ``performance`` alerts.
    confidence : float
        Level of the intervals (for the caption).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = performance_figure(
        performance, months, keys=keys, goal=goal, pending=pending, onsets=onsets
    )
    caption = (
        "Bias of the model's IVSd against the reference reading on the audited studies, by "
        "month of acquisition, one panel per site and vendor and all sites pooled: each point "
        f"is the month's mean difference (model minus reference) with its {100 * confidence:g}% "
        "confidence interval, and the small grey numbers are the labelled studies behind it. "
        "The dash-dot lines are the premarket goal for the bias. Hatched months are still "
        "awaiting labels (reference readings arrive one to three months after acquisition), "
        "so their points may change in later reports." + _alarmed_names(onsets or {})
    )
    return _figure(
        fig,
        "performance-bias",
        "Audited bias by month of acquisition, one panel per segment, with the premarket goal",
        caption,
    )


# ---------------------------------------------------------------------------------------------
# Change of the audited bias since validation: signed T by month of acquisition, per segment
# ---------------------------------------------------------------------------------------------


def bias_change_figure(
    records: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    keys: Sequence[Key],
    limits: Mapping[Key, float],
    pending: Sequence[str] = (),
    onsets: Mapping[Key, str] | None = None,
) -> Figure:
    """Draw the signed audited-bias T by month, per segment (see :func:`bias_change_chart`)."""
    onsets = dict(onsets or {})
    rows_by: dict[Key, list[Mapping[str, Any]]] = {k: [] for k in keys}
    for row in records:
        rows_by.setdefault(_key(row), []).append(row)
    limit_of = {k: _num(limits.get(k)) for k in rows_by}
    values = [_num(r.get("t")) for r in records]
    cap = _cap(values, list(limit_of.values()))
    pending_mask = np.array([m in set(pending) for m in months], dtype=bool)
    x = np.arange(len(months), dtype=float)
    any_alarm = False
    with matplotlib.rc_context(RC):
        fig, panels = _grid_axes(list(rows_by), panel_h=BIAS_PANEL_H)
        for key, ax, left, bottom in panels:
            rows = rows_by[key]
            t = _by_month(rows, months, "t")
            _hatch_months(ax, pending_mask)
            _shade_months(ax, ~np.isfinite(t) & ~pending_mask)
            ax.axhline(0.0, color="#b0b0b0", lw=0.6, zorder=1)
            limit = limit_of[key]
            if math.isfinite(limit):
                for level in (limit, -limit):
                    ax.axhline(level, color=LINE, lw=0.9, ls="--", zorder=2)
            shown, off = _clip(t, cap)
            ax.plot(x, shown, color=POINT, lw=1.0, marker="o", ms=2.6, zorder=3)
            _off_scale(ax, x, shown, off, POINT)
            alarm = _flags(rows, months)
            if alarm.any():
                ax.scatter(x[alarm], shown[alarm], marker="X", s=27, color=FAIL, zorder=5)
            title = segment_label(*key)
            if key in onsets or alarm.any():
                _mark_alarm_panel(ax, title, onsets.get(key) or _onset_of(rows, months), months)
                any_alarm = True
            else:
                _plain_title(ax, title)
            if not math.isfinite(limit) and not np.isfinite(t).any():
                ax.text(
                    0.5,
                    0.5,
                    "not assessed",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    fontsize=SMALL,
                    color=GUIDE,
                )
            ax.set_ylim(-cap * 1.05, cap * 1.05)
            ax.grid(True, axis="y", color="#ececec", lw=0.5, zorder=0)
            _month_axis(ax, months, labels=bottom)
            if bottom:
                ax.xaxis.set_tick_params(labelbottom=True)
            ax.tick_params(labelsize=SMALL)
            if left:
                ax.set_ylabel("T", fontsize=SMALL)
        handles = [
            Line2D([], [], color=POINT, marker="o", ms=3, lw=1, label="T of the month"),
            Line2D([], [], color=LINE, lw=0.9, ls="--", label="Segment's limit \u00b1c"),
            _pending_handle(),
            Patch(facecolor=NO_DATA, edgecolor="none", label="No audited label in the window"),
        ]
        if any_alarm:
            handles += _alarm_handles(True)[:3]
        _legend(
            fig,
            handles,
            rows=len({r for _, r, _ in panel_grid(list(rows_by))[0]}),
            panel_h=BIAS_PANEL_H,
        )
    return fig


def bias_change_chart(
    records: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    *,
    keys: Sequence[Key],
    limits: Mapping[Key, float],
    pending: Sequence[str] = (),
    onsets: Mapping[Key, str] | None = None,
    min_shift_mm: float = math.nan,
) -> dict[str, str]:
    """The change of the audited bias since validation: signed T by month of acquisition.

    Parameters
    ----------
    records : sequence of mapping
        ``surveillance.json`` ``bias_change.months`` rows (``month, site, vendor, t, limit,
        alarm``; the statistic of the month's window of largest ``|T|``).
    months : sequence of str
        The monitored months.
    keys : sequence of (site, vendor)
        The segments to draw (a panel each, even when not assessed).
    limits : mapping
        ``{(site, vendor): limit}``, the calibrated limit of each assessed segment (dashed at
        plus and minus).
    pending : sequence of str
        Months whose labels are still arriving (hatched).
    onsets : mapping, optional
        ``{(site, vendor): first alarmed month}`` (framed panels with the onset line).
    min_shift_mm : float
        The materiality gate of an alarm (for the caption).

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = bias_change_figure(
        records, months, keys=keys, limits=limits, pending=pending, onsets=onsets
    )
    finite = sorted(v for v in (_num(v) for v in limits.values()) if math.isfinite(v))
    if not finite:
        span = ""
    elif finite[0] == finite[-1] or round(finite[0], 2) == round(finite[-1], 2):
        span = f" (c = {_fmt(finite[0])})"
    else:
        span = f" (c from {_fmt(finite[0])} to {_fmt(finite[-1])})"
    gate = (
        f" and a change of at least {_fmt(min_shift_mm, 1)} mm"
        if math.isfinite(min_shift_mm)
        else ""
    )
    caption = (
        "Change of the audited bias (model minus reference IVSd) since the validation study, by "
        "month of acquisition, one panel per site and vendor and all sites pooled, on the same "
        "axes: each point is the month's T, the audited bias of the window of one to three "
        "months ending that month minus the validation bias, in standard errors that include "
        "the validation study's own sampling error (above zero the model now reads higher "
        "against the reference than in validation). The dashed lines are the segment's limit "
        f"\u00b1c{span}. A cross marks a month in alarm (|T| at the limit{gate}). Hatched "
        "months are still awaiting labels, so their T may change in later reports; grey months "
        "have no audited label in their window yet. Values beyond the shown range are drawn at "
        "its edge as open triangles." + _alarmed_names(onsets or {})
    )
    return _figure(
        fig,
        "bias-change",
        "Change of the audited bias since validation (T) by month of acquisition, one panel per "
        "segment, with the limits",
        caption,
    )


# ---------------------------------------------------------------------------------------------
# Input and population drift: effect size relative to its threshold, segment x month
# ---------------------------------------------------------------------------------------------

_HEAT = LinearSegmentedColormap.from_list("drift", ["#ffffff", "#cfe3f2", "#56B4E9", "#0072B2"])


def drift_figure(
    panels: Sequence[Mapping[str, Any]], months: Sequence[str], *, keys: Sequence[Key]
) -> Figure:
    """Draw the drift maps (see :func:`drift_map`)."""
    labels = [segment_label(*k) for k in keys]
    ncols = 2 if len(panels) > 1 else 1
    nrows = max(1, math.ceil(len(panels) / ncols))
    panel_h = 0.55 + 0.16 * len(keys)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(PAGE_WIDTH_IN - 0.1, 0.5 + panel_h * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        image = None
        for i, ax in enumerate(axes.flat):
            if i >= len(panels):
                ax.set_visible(False)
                continue
            panel = panels[i]
            grid = np.full((len(keys), len(months)), np.nan)
            passed = np.zeros_like(grid, dtype=bool)
            alarm = np.zeros_like(grid, dtype=bool)
            index = {k: j for j, k in enumerate(keys)}
            col = {m: j for j, m in enumerate(months)}
            for row in panel["rows"]:
                r, c = index.get(_key(row)), col.get(str(row.get("month")))
                if r is None or c is None:
                    continue
                grid[r, c] = _num(row.get("ratio"))
                passed[r, c] = bool(row.get("passed"))
                alarm[r, c] = bool(row.get("alarm"))
            image = ax.imshow(
                np.clip(grid, 0, 2),
                cmap=_HEAT,
                vmin=0,
                vmax=2,
                aspect="auto",
                interpolation="nearest",
            )
            dots = np.nonzero(passed & ~alarm)
            if dots[0].size:
                ax.scatter(
                    dots[1],
                    dots[0],
                    s=9,
                    marker="o",
                    facecolor="white",
                    edgecolor=INK,
                    lw=0.7,
                    zorder=3,
                )
            for r, c in zip(*np.nonzero(alarm), strict=True):
                ax.add_patch(
                    Rectangle(
                        (c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=FAIL, lw=1.4, zorder=4
                    )
                )
                ax.text(
                    c,
                    r,
                    "\u2717",
                    ha="center",
                    va="center",
                    fontsize=SMALL,
                    color=FAIL,
                    fontweight="bold",
                )
            for r, c in zip(*np.nonzero(np.isnan(grid)), strict=True):
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=NO_DATA, lw=0, zorder=1))
            ax.set_title(panel["title"], fontsize=8, loc="left", fontweight="bold", color=INK)
            ax.set_yticks(range(len(keys)))
            ax.set_yticklabels(labels if i % ncols == 0 else [], fontsize=SMALL)
            step = max(1, math.ceil(len(months) / 4))
            ax.set_xticks(range(0, len(months), step))
            ax.set_xticklabels([months[j] for j in range(0, len(months), step)], fontsize=SMALL)
            ax.set_xticks(np.arange(-0.5, len(months)), minor=True)
            ax.set_yticks(np.arange(-0.5, len(keys)), minor=True)
            ax.grid(True, which="minor", color="white", lw=0.6)
            ax.tick_params(which="minor", length=0)
            ax.tick_params(labelsize=SMALL)
        handles = [
            Line2D(
                [],
                [],
                color=INK,
                marker="o",
                markerfacecolor="white",
                markeredgewidth=0.7,
                lw=0,
                ms=4,
                label="Material change (effect sizes at or above thresholds)",
            ),
            Patch(
                facecolor="white",
                edgecolor=FAIL,
                lw=1.4,
                label="\u2717 Alarm (test rejects and effect large)",
            ),
            Patch(facecolor=NO_DATA, edgecolor="none", label="Not tested (no studies)"),
        ]
        fig.legend(
            handles=handles, loc="lower center", ncol=3, fontsize=SMALL, bbox_to_anchor=(0.5, 0.0)
        )
        fig.tight_layout(
            rect=(0, 0.35 / (0.5 + panel_h * nrows) + 0.02, 0.9, 1), h_pad=1.0, w_pad=1.0
        )
        if image is not None:
            cax = fig.add_axes((0.915, 0.3, 0.015, 0.5))
            bar = fig.colorbar(image, cax=cax, ticks=[0, 0.5, 1, 1.5, 2])
            bar.ax.set_yticklabels(
                ["0", "\u00bd", "1 (threshold)", "1\u00bd", "\u2265 2"], fontsize=SMALL
            )
            bar.set_label("Effect size / its threshold (smallest)", fontsize=SMALL)
    return fig


def drift_map(
    panels: Sequence[Mapping[str, Any]], months: Sequence[str], *, keys: Sequence[Key]
) -> dict[str, str]:
    """Drift effect sizes against their thresholds, a map of segment x month per variable.

    Parameters
    ----------
    panels : sequence of mapping
        One per variable and effect measure: ``{"title", "rows"}``, each row a ``drift`` row of
        ``surveillance.json`` with ``ratio`` (effect size divided by its threshold), ``passed``
        (effect size at or above its threshold) and ``alarm`` added by the report context.
    months : sequence of str
        The monitored months (columns).
    keys : sequence of (site, vendor)
        The segments (rows), in order.

    Returns
    -------
    dict
        ``{"id", "src", "alt", "caption"}``.
    """
    fig = drift_figure(panels, months, keys=keys)
    caption = (
        "Input and population drift against the frozen validation baseline, one map per "
        "variable: each cell is a segment (row) in a month (column), shaded by the size of its "
        "difference from the baseline divided by the threshold that counts as a material "
        "change (for a continuous variable the smaller of KS D and PSI, each relative to its "
        "threshold; darker is larger, 1 is the threshold). A dot marks a material change; a "
        "cross in a red frame marks an alarm, raised only when the test also "
        "rejects at the family-wise adjusted level, so that large samples do not alarm on "
        "trivial differences. Grey cells had no studies to test."
    )
    return _figure(
        fig,
        "drift-map",
        "Maps of drift effect size by segment and month, one per monitored variable",
        caption,
    )
