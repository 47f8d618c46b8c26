"""Bland-Altman limits of agreement when a subject contributes several paired measurements."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from validation.stats._checks import (
    check_confidence,
    check_paired,
    check_positive_finite,
)
from validation.stats.proportions import Interval

__all__ = ["RepeatedBlandAltman", "bland_altman_repeated"]


@dataclass(frozen=True)
class RepeatedBlandAltman:
    """Limits of agreement from paired measurements repeated within subjects.

    Attributes
    ----------
    n_subjects, n_pairs : int
        Number of subjects and of paired measurements (``n_pairs >= n_subjects``).
    bias : float
        Mean of all differences ``method - reference``.
    sd : float
        Standard deviation of the difference of a single pair on a new subject,
        ``sqrt(var_between + var_within)``.
    var_between, var_within : float
        Between-subject and within-subject variance components of the differences
        (method of moments; ``var_between`` truncated at 0).
    loa_low, loa_high : float
        ``bias -/+ loa_multiplier * sd``.
    bias_ci, loa_low_ci, loa_high_ci : Interval
        Intervals of the bias (t on ``n_subjects - 1`` df) and of the limits (MOVER,
        Zou 2013).
    confidence, loa_multiplier : float
        As requested.
    """

    n_subjects: int
    n_pairs: int
    bias: float
    sd: float
    var_between: float
    var_within: float
    loa_low: float
    loa_high: float
    bias_ci: Interval
    loa_low_ci: Interval
    loa_high_ci: Interval
    confidence: float
    loa_multiplier: float


def _anova(codes: np.ndarray, diffs: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Replicate counts per subject and the one-way ANOVA mean squares (between, within)."""
    counts = np.bincount(codes).astype(np.float64)
    sums = np.bincount(codes, weights=diffs)
    subject_means = sums / counts
    grand = diffs.mean()
    n_subjects, n_pairs = counts.shape[0], diffs.shape[0]
    ss_between = float((counts * (subject_means - grand) ** 2).sum())
    ss_within = float(((diffs - subject_means[codes]) ** 2).sum())
    ms_between = ss_between / (n_subjects - 1)
    ms_within = ss_within / (n_pairs - n_subjects) if n_pairs > n_subjects else 0.0
    return counts, ms_between, ms_within


def _mover_variance(terms: list[tuple[float, int]], level: float) -> tuple[float, float, float]:
    """Total ``sum(c * ms)`` with MOVER limits; ``terms`` holds ``(c * ms, df)`` pairs."""
    alpha = 1.0 - level
    total = sum(value for value, _ in terms)
    down = up = 0.0
    for value, df in terms:
        if df <= 0 or value == 0.0:
            continue
        down += (value * (1.0 - df / stats.chi2.ppf(1.0 - alpha / 2.0, df))) ** 2
        up += (value * (df / stats.chi2.ppf(alpha / 2.0, df) - 1.0)) ** 2
    return total, total - math.sqrt(down), total + math.sqrt(up)


def bland_altman_repeated(
    subject: ArrayLike,
    method: ArrayLike,
    reference: ArrayLike,
    *,
    confidence: float = 0.95,
    loa_multiplier: float = 1.96,
) -> RepeatedBlandAltman:
    """Limits of agreement when subjects contribute different numbers of paired measurements.

    Parameters
    ----------
    subject : array-like of shape (n,)
        Subject (patient) identifier of each pair; any hashable labels.
    method, reference : array-like of shape (n,)
        Paired measurements made at the same time by the two methods. Differences are
        ``method - reference``.
    confidence : float, default 0.95
        Two-sided confidence level of every interval, in (0, 1).
    loa_multiplier : float, default 1.96
        The limits are ``bias -/+ loa_multiplier * sd``.

    Returns
    -------
    RepeatedBlandAltman

    Raises
    ------
    ValueError
        On unequal lengths, NaN or infinite measurements, missing subject labels, fewer than
        2 subjects, a ``confidence`` outside (0, 1) or a non-positive ``loa_multiplier``.

    Warns
    -----
    RuntimeWarning
        When the between-subject variance estimate is negative and is set to 0.

    Notes
    -----
    Use when a patient contributes several studies (the true value may differ between
    them), each measured by both methods. Treating the pairs as independent understates the
    uncertainty of the bias and can misstate the SD of the differences.

    Bland & Altman (2007, section 3, "true value varies"): a one-way analysis of variance
    of the differences by subject gives the mean squares ``MSB`` (``n_s - 1`` df) and
    ``MSW`` (``N - n_s`` df). With replicate counts ``m_i`` and ``N = sum(m_i)``,
    ``lambda = (N**2 - sum(m_i**2)) / ((n_s - 1) * N)``, the within-subject variance is
    ``MSW``, the between-subject variance ``(MSB - MSW) / lambda`` and the SD of a single
    difference ``sqrt(var_between + var_within)``. The bias is the mean of all differences.

    Intervals: the bias's variance is ``(var_between * sum(m_i**2) / N + var_within) / N``
    with a t quantile on ``n_s - 1`` df (exact for balanced data, where it equals
    ``MSB / N``). The limits use the method of variance estimates recovery (MOVER) of
    Zou (2013): the total variance ``MSB / lambda + (1 - 1 / lambda) * MSW`` is a sum of
    two scaled chi-square mean squares, whose limits ``L, U`` are recovered from their
    separate chi-square intervals, and the upper limit's interval is
    ``theta -/+ sqrt(t**2 * var(bias) + m**2 * (sqrt(S) - sqrt(L or U))**2)``. With one
    pair per subject it reduces to the usual Bland-Altman analysis with a chi-square
    interval for the variance.

    References
    ----------
    .. [1] Bland JM, Altman DG. Measuring agreement in method comparison studies. Stat
       Methods Med Res. 1999;8(2):135-160.
    .. [2] Bland JM, Altman DG. Agreement between methods of measurement with multiple
       observations per individual. J Biopharm Stat. 2007;17(4):571-582.
    .. [3] Zou GY. Confidence interval estimation for the Bland-Altman limits of agreement
       with multiple observations per individual. Stat Methods Med Res.
       2013;22(6):630-642.

    Examples
    --------
    Three patients, two or three studies each:

    >>> res = bland_altman_repeated(
    ...     ["a", "a", "b", "b", "b", "c", "c"],
    ...     [10.2, 11.0, 9.1, 9.5, 8.8, 12.4, 12.0],
    ...     [10.0, 10.1, 9.4, 9.0, 9.0, 11.9, 11.2],
    ... )
    >>> res.n_subjects, res.n_pairs, round(res.bias, 3)
    (3, 7, 0.343)
    """
    x, y = check_paired(method, reference, "method", "reference")
    labels = pd.Series(np.asarray(subject, dtype=object).ravel())
    if labels.shape[0] != x.shape[0]:
        raise ValueError(
            f"subject, method and reference must have the same length; got {labels.shape[0]} "
            f"subject labels and {x.shape[0]} pairs."
        )
    if labels.isna().any():
        raise ValueError(
            f"subject must label every pair; found {int(labels.isna().sum())} missing label(s)."
        )
    level = check_confidence(confidence)
    multiplier = check_positive_finite(loa_multiplier, "loa_multiplier")
    codes, uniques = pd.factorize(labels)
    n_subjects, n_pairs = len(uniques), int(x.shape[0])
    if n_subjects < 2:
        raise ValueError(
            f"subject must hold at least 2 distinct subjects to estimate the between-subject "
            f"variance; got {n_subjects}."
        )

    diffs = x - y
    counts, ms_between, ms_within = _anova(codes, diffs)
    lam = (n_pairs**2 - float((counts**2).sum())) / ((n_subjects - 1) * n_pairs)
    var_between = (ms_between - ms_within) / lam
    if var_between < 0.0:
        warnings.warn(
            "bland_altman_repeated: the between-subject variance estimate is negative "
            f"({var_between:.4g}); it is set to 0.",
            RuntimeWarning,
            stacklevel=2,
        )
        var_between = 0.0
    total = var_between + ms_within
    sd = math.sqrt(total)
    bias = float(diffs.mean())

    var_bias = (var_between * float((counts**2).sum()) / n_pairs + ms_within) / n_pairs
    t_crit = float(stats.t.ppf(0.5 + level / 2.0, n_subjects - 1))
    half = t_crit * math.sqrt(var_bias)
    bias_ci = Interval(bias - half, bias + half, level, "t (subject-level df)")

    _, low_var, high_var = _mover_variance(
        [(ms_between / lam, n_subjects - 1), ((1.0 - 1.0 / lam) * ms_within, n_pairs - n_subjects)],
        level,
    )
    low_sd = math.sqrt(max(low_var, 0.0))
    inner = math.sqrt(t_crit**2 * var_bias + multiplier**2 * (sd - low_sd) ** 2)
    outer = math.sqrt(t_crit**2 * var_bias + multiplier**2 * (math.sqrt(high_var) - sd) ** 2)
    loa_low, loa_high = bias - multiplier * sd, bias + multiplier * sd
    return RepeatedBlandAltman(
        n_subjects=n_subjects,
        n_pairs=n_pairs,
        bias=bias,
        sd=sd,
        var_between=var_between,
        var_within=ms_within,
        loa_low=loa_low,
        loa_high=loa_high,
        bias_ci=bias_ci,
        loa_low_ci=Interval(loa_low - outer, loa_low + inner, level, "MOVER (Zou 2013)"),
        loa_high_ci=Interval(loa_high - inner, loa_high + outer, level, "MOVER (Zou 2013)"),
        confidence=level,
        loa_multiplier=multiplier,
    )
