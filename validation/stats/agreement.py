"""Agreement between two methods of measurement: Bland-Altman limits of agreement."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from validation.stats._checks import (
    check_choice,
    check_confidence,
    check_paired,
    check_positive_finite,
)
from validation.stats.proportions import Interval

__all__ = ["BlandAltman", "bland_altman"]

LoACIMethod = Literal["exact", "approximate"]
_CI_METHODS: tuple[LoACIMethod, ...] = get_args(LoACIMethod)


@dataclass(frozen=True)
class BlandAltman:
    """Result of :func:`bland_altman`.

    Attributes
    ----------
    n : int
        Number of paired measurements.
    bias : float
        Mean difference, method - reference.
    sd : float
        Standard deviation of the differences (``ddof=1``).
    loa_low, loa_high : float
        Limits of agreement, ``bias -/+ loa_multiplier * sd``.
    bias_ci : Interval
        t interval for the bias.
    loa_low_ci, loa_high_ci : Interval
        Intervals for the lower and upper limit, each considered individually.
    proportional_intercept, proportional_slope : float
        Ordinary least-squares regression of the differences on the pair means.
    proportional_slope_ci : Interval
        t interval for the slope (``n - 2`` degrees of freedom).
    proportional_p : float
        Two-sided p-value for slope = 0 (no proportional bias).
    confidence : float
        Two-sided confidence level of every interval.
    loa_multiplier : float
        Multiple of the SD defining the limits (1.96 for 95% limits).
    ci_method : str
        ``"exact"`` or ``"approximate"``: how the limit intervals were computed.
    """

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float
    bias_ci: Interval
    loa_low_ci: Interval
    loa_high_ci: Interval
    proportional_intercept: float
    proportional_slope: float
    proportional_slope_ci: Interval
    proportional_p: float
    confidence: float
    loa_multiplier: float
    ci_method: str


def _loa_intervals_exact(
    bias: float, sd: float, n: int, multiplier: float, confidence: float
) -> tuple[Interval, Interval]:
    """Carkeet (2015) exact intervals for each limit, via noncentral t quantiles.

    ``k_q = t'_q(n - 1, multiplier * sqrt(n)) / sqrt(n)`` is the one-sided normal tolerance
    factor; the upper limit's interval is ``bias + sd * [k_{a/2}, k_{1-a/2}]`` and the lower
    limit's is its mirror image.
    """
    alpha = 1.0 - confidence
    root_n = math.sqrt(n)
    dist = stats.nct(df=n - 1, nc=multiplier * root_n)
    k_inner = float(dist.ppf(alpha / 2.0)) / root_n
    k_outer = float(dist.ppf(1.0 - alpha / 2.0)) / root_n
    method = "exact"
    high = Interval(bias + sd * k_inner, bias + sd * k_outer, confidence, method)
    low = Interval(bias - sd * k_outer, bias - sd * k_inner, confidence, method)
    return low, high


def _loa_intervals_approximate(
    bias: float, sd: float, n: int, multiplier: float, confidence: float
) -> tuple[Interval, Interval]:
    """Bland & Altman (1986): SE(limit) ~ sqrt(3 s^2 / n), t quantile on n - 1 df."""
    if not 1.9 <= multiplier <= 2.1:
        warnings.warn(
            f"ci_method='approximate' uses SE = sqrt(3 s^2 / n), derived for limits at about "
            f"2 SD; with loa_multiplier={multiplier} it is inaccurate. Use ci_method='exact'.",
            RuntimeWarning,
            stacklevel=3,
        )
    se = math.sqrt(3.0 * sd * sd / n)
    t = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1))
    centre_low, centre_high = bias - multiplier * sd, bias + multiplier * sd
    method = "approximate"
    low = Interval(centre_low - t * se, centre_low + t * se, confidence, method)
    high = Interval(centre_high - t * se, centre_high + t * se, confidence, method)
    return low, high


def _proportional_bias(
    means: np.ndarray, diffs: np.ndarray, confidence: float
) -> tuple[float, float, Interval, float]:
    """OLS of differences on means: intercept, slope, slope interval, p-value."""
    n = means.shape[0]
    nan_ci = Interval(math.nan, math.nan, confidence, "t")
    centred = means - means.mean()
    sxx = float(centred @ centred)
    if sxx == 0.0:
        warnings.warn(
            "The proportional-bias regression is undefined because every pair has the same "
            "mean; returning NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
        return math.nan, math.nan, nan_ci, math.nan
    slope = float(centred @ (diffs - diffs.mean())) / sxx
    intercept = float(diffs.mean() - slope * means.mean())
    df = n - 2
    if df < 1:
        warnings.warn(
            "The proportional-bias slope has no residual degrees of freedom with n=2; its "
            "interval and p-value are NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
        return intercept, slope, nan_ci, math.nan
    residuals = diffs - (intercept + slope * means)
    se = math.sqrt(float(residuals @ residuals) / df / sxx)
    t_crit = float(stats.t.ppf(0.5 + confidence / 2.0, df))
    ci = Interval(slope - t_crit * se, slope + t_crit * se, confidence, "t")
    if se == 0.0:
        p_value = 1.0 if slope == 0.0 else 0.0
    else:
        p_value = float(2.0 * stats.t.sf(abs(slope / se), df))
    return intercept, slope, ci, p_value


def bland_altman(
    method: ArrayLike,
    reference: ArrayLike,
    *,
    confidence: float = 0.95,
    loa_multiplier: float = 1.96,
    ci_method: LoACIMethod = "exact",
) -> BlandAltman:
    """Bland-Altman bias and limits of agreement, with intervals and proportional bias.

    Parameters
    ----------
    method : array-like of shape (n,)
        Measurements by the method under evaluation (e.g. the AI model).
    reference : array-like of shape (n,)
        Measurements of the same subjects by the reference method. Differences are
        ``method - reference``.
    confidence : float, default 0.95
        Two-sided confidence level of every interval, in (0, 1).
    loa_multiplier : float, default 1.96
        The limits are ``bias -/+ loa_multiplier * sd``; 1.96 gives 95% limits of agreement.
    ci_method : {"exact", "approximate"}, default "exact"
        How to compute the intervals of the limits: ``"exact"`` (Carkeet 2015, noncentral t)
        or ``"approximate"`` (Bland & Altman 1986).

    Returns
    -------
    BlandAltman
        Bias, SD, limits and their intervals, and the proportional-bias regression.

    Raises
    ------
    ValueError
        On fewer than 2 pairs, unequal lengths, NaN or infinite values, a ``confidence``
        outside (0, 1) or a non-positive ``loa_multiplier``.
    TypeError
        On non-numeric data.

    Warns
    -----
    RuntimeWarning
        When the proportional-bias regression is undefined (all pair means equal, or n=2), or
        when ``ci_method="approximate"`` is used with a multiplier far from 2.

    Notes
    -----
    Use for two methods measuring the same continuous quantity on the same subjects, when
    the differences are roughly normal and their spread does not depend on magnitude (check
    the proportional-bias slope and the plot). The limits estimate where the middle
    ``Phi(m) - Phi(-m)`` of differences lie (95% for ``m = 1.96``).

    *Bias interval*: ``bias +/- t(1 - a/2; n - 1) * sd / sqrt(n)``; exact under normality.

    *Exact limit intervals* (Carkeet 2015, limits considered individually): for the upper
    limit ``bias + m * sd`` the interval is
    ``bias + sd * t'(q; n - 1, m * sqrt(n)) / sqrt(n)`` for ``q = a/2`` and ``1 - a/2``, where
    ``t'(q; df, nc)`` is the noncentral t quantile (the one-sided normal tolerance factor);
    the lower limit's is its mirror image. Under normal differences its coverage is exact
    for each limit. It is asymmetric about the limit (wider outwards).

    *Approximate limit intervals* (Bland & Altman 1986): ``limit +/- t(1 - a/2; n - 1) * SE``
    with ``SE = sqrt(3 * sd**2 / n)``, derived for limits at about 2 SD. Carkeet & Goh (2018)
    show its outer limits are too narrow for n below about 76 and its inner limits for
    n below about 490; use it only to reproduce published analyses.

    *Proportional bias*: ordinary least-squares regression of the differences on the pair
    means ``(method + reference) / 2`` (Bland & Altman 1999, section 3), with a t interval
    for the slope on ``n - 2`` df. A slope away from 0 means the bias changes with magnitude
    and a single pair of limits misdescribes the agreement.

    References
    ----------
    .. [1] Bland JM, Altman DG. Statistical methods for assessing agreement between two
       methods of clinical measurement. Lancet. 1986;1(8476):307-310.
    .. [2] Bland JM, Altman DG. Measuring agreement in method comparison studies. Stat
       Methods Med Res. 1999;8(2):135-160.
    .. [3] Carkeet A. Exact parametric confidence intervals for Bland-Altman limits of
       agreement. Optom Vis Sci. 2015;92(3):e71-e80.
    .. [4] Carkeet A, Goh YT. Confidence and coverage for Bland-Altman limits of agreement
       and their approximate confidence intervals. Stat Methods Med Res.
       2018;27(5):1559-1574.

    Examples
    --------
    Peak flow (l/min), Wright vs mini Wright meter, Bland & Altman (1986), Table 1:

    >>> wright = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478,
    ...           178, 423, 427]
    >>> mini = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477,
    ...         259, 350, 451]
    >>> res = bland_altman(wright, mini)
    >>> round(res.bias, 1), round(res.sd, 1)
    (-2.1, 38.8)
    >>> round(res.loa_low, 1), round(res.loa_high, 1)
    (-78.1, 73.9)
    >>> res.loa_high_ci.method
    'exact'
    """
    x, y = check_paired(method, reference, "method", "reference")
    level = check_confidence(confidence)
    multiplier = check_positive_finite(loa_multiplier, "loa_multiplier")
    chosen = check_choice(ci_method, "ci_method", _CI_METHODS)
    n = int(x.shape[0])
    if n < 2:
        raise ValueError(
            f"method and reference must hold at least 2 pairs to estimate an SD; got n={n}."
        )

    diffs = x - y
    means = (x + y) / 2.0
    bias = float(diffs.mean())
    sd = float(diffs.std(ddof=1))

    t_crit = float(stats.t.ppf(0.5 + level / 2.0, n - 1))
    half = t_crit * sd / math.sqrt(n)
    bias_ci = Interval(bias - half, bias + half, level, "t")

    if chosen == "exact":
        low_ci, high_ci = _loa_intervals_exact(bias, sd, n, multiplier, level)
    else:
        low_ci, high_ci = _loa_intervals_approximate(bias, sd, n, multiplier, level)

    intercept, slope, slope_ci, p_value = _proportional_bias(means, diffs, level)

    return BlandAltman(
        n=n,
        bias=bias,
        sd=sd,
        loa_low=bias - multiplier * sd,
        loa_high=bias + multiplier * sd,
        bias_ci=bias_ci,
        loa_low_ci=low_ci,
        loa_high_ci=high_ci,
        proportional_intercept=intercept,
        proportional_slope=slope,
        proportional_slope_ci=slope_ci,
        proportional_p=p_value,
        confidence=level,
        loa_multiplier=multiplier,
        ci_method=chosen,
    )
