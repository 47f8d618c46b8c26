"""Paired comparison of two model versions on the same studies (e.g. a PCCP change).

A Predetermined Change Control Plan compares a *candidate* model version with the *released*
one on the same test studies; every study is read by both versions, so the two versions'
results are correlated and must be compared as pairs. This module gives:

* :func:`paired_proportion_difference` - the difference of two correlated proportions
  (e.g. sensitivity of the candidate minus that of the released version on the same diseased
  cases), with Newcombe's (1998) hybrid score interval or Tango's (1998) score interval.
* :func:`mcnemar_test` - McNemar's test of equal proportions: exact (binomial), mid-p, and
  asymptotic with or without continuity correction.
* :func:`paired_bootstrap_difference` - a patient-level (cluster) bootstrap of the difference
  of any statistic of the two versions' outputs (MAE, RMSE, bias, limits of agreement, ...),
  resampling patients so that both versions are always resampled together.
* :func:`noninferior` - the non-inferiority verdict, judged on a confidence bound.
* :func:`paired_outcomes_from_counts` - the two outcome arrays of a published paired 2x2
  table, to reproduce a published example.

Sign convention, used throughout: **version a is the released (reference) version, version b
the candidate, and every difference is b - a** (candidate minus released). A candidate is
non-inferior when the confidence bound on the unfavourable side stays inside the margin:
for a quantity where higher is better (sensitivity, specificity) the lower bound must exceed
``-margin``; for one where lower is better (MAE, RMSE) the upper bound must stay below
``+margin``.

See Also
--------
validation.stats.roc.delong_test : DeLong's paired test of two AUCs on the same subjects
    (call it as ``delong_test(y, candidate_score, released_score)`` so that its difference is
    candidate - released; :func:`noninferior` accepts its result).
validation.stats.bootstrap.cluster_bootstrap : the cluster bootstrap that
    :func:`paired_bootstrap_difference` runs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from validation.stats._checks import (
    check_choice,
    check_confidence,
    check_count,
    check_numeric_array,
    check_paired,
    check_positive_finite,
)
from validation.stats.bootstrap import (
    DEFAULT_RESAMPLES,
    BootstrapMethod,
    BootstrapResult,
    cluster_bootstrap,
)
from validation.stats.proportions import Interval, _z, wilson_interval

__all__ = [
    "McNemarMethod",
    "McNemarTest",
    "PairedBootstrapDifference",
    "PairedDifferenceMethod",
    "PairedProportionDifference",
    "mcnemar_test",
    "noninferior",
    "paired_bootstrap_difference",
    "paired_outcomes_from_counts",
    "paired_proportion_difference",
]

PairedDifferenceMethod = Literal["newcombe", "tango"]
_DIFFERENCE_METHODS: tuple[PairedDifferenceMethod, ...] = get_args(PairedDifferenceMethod)
McNemarMethod = Literal["exact", "mid-p", "asymptotic"]
_MCNEMAR_METHODS: tuple[McNemarMethod, ...] = get_args(McNemarMethod)
_LOA_MULTIPLIER = 1.96  # 95% limits of agreement (Bland & Altman 1986), as bland_altman


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PairedProportionDifference:
    """Result of :func:`paired_proportion_difference`.

    Attributes
    ----------
    estimate : float
        ``proportion_b - proportion_a`` = ``(b_only - a_only) / n``.
    ci_low, ci_high : float
        Confidence limits of the difference, within [-1, 1].
    confidence : float
        Two-sided confidence level.
    method : str
        ``"newcombe"`` or ``"tango"``.
    proportion_a, proportion_b : float
        Proportion of successes (e.g. correct results) of version a (released) and b
        (candidate).
    n : int
        Number of pairs (studies read by both versions).
    both, a_only, b_only, neither : int
        The paired 2x2 table: pairs where both versions succeed, only a, only b, neither.
    """

    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    proportion_a: float
    proportion_b: float
    n: int
    both: int
    a_only: int
    b_only: int
    neither: int

    @property
    def ci(self) -> Interval:
        """The interval of the difference as an :class:`Interval`."""
        return Interval(self.ci_low, self.ci_high, self.confidence, self.method)


@dataclass(frozen=True)
class McNemarTest:
    """Result of :func:`mcnemar_test`.

    Attributes
    ----------
    statistic : float
        For ``"asymptotic"``, McNemar's chi-square statistic on 1 degree of freedom; for
        ``"exact"`` and ``"mid-p"``, the binomial count ``b_only`` (under the null,
        Binomial(``a_only + b_only``, 1/2)).
    p_value : float
        Two-sided p-value of the null hypothesis that both versions have the same success
        proportion.
    method : str
        ``"exact"``, ``"mid-p"`` or ``"asymptotic"``.
    correction : bool
        Whether the continuity correction was applied (asymptotic test only).
    n : int
        Number of pairs.
    a_only, b_only : int
        Discordant pairs: only version a succeeds, only version b succeeds.
    """

    statistic: float
    p_value: float
    method: str
    correction: bool
    n: int
    a_only: int
    b_only: int


@dataclass(frozen=True)
class PairedBootstrapDifference:
    """Result of :func:`paired_bootstrap_difference`.

    Attributes
    ----------
    estimate : float
        ``estimate_b - estimate_a``: the statistic of version b (candidate) minus that of
        version a (released), on the full data.
    ci_low, ci_high : float
        Bootstrap confidence limits of the difference (NaN where undefined; see the
        warnings of :func:`~validation.stats.bootstrap.cluster_bootstrap`).
    confidence : float
        Two-sided confidence level.
    method : str
        ``"bca"`` or ``"percentile"``.
    statistic : str
        Name of the statistic (``"mae"``, ... or the callable's ``__name__``).
    estimate_a, estimate_b : float
        The statistic of each version on the full data.
    se : float
        Bootstrap standard error of the difference.
    n : int
        Number of studies.
    n_clusters : int
        Number of clusters (patients) resampled.
    n_strata : int
        Number of strata clusters were resampled within (1 when unstratified).
    n_resamples : int
        Number of bootstrap resamples.
    seed : int
        Seed of the random generator, as given.
    bootstrap : BootstrapResult
        The full cluster-bootstrap result (replicates, z0, acceleration, ...).
    """

    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    statistic: str
    estimate_a: float
    estimate_b: float
    se: float
    n: int
    n_clusters: int
    n_strata: int
    n_resamples: int
    seed: int
    bootstrap: BootstrapResult = field(repr=False, compare=False)

    @property
    def ci(self) -> Interval:
        """The interval of the difference as an :class:`Interval`."""
        return cast(Interval, self.bootstrap.ci)  # a scalar statistic (checked on entry)


# --------------------------------------------------------------------------- paired table


def _paired_table(a_correct: ArrayLike, b_correct: ArrayLike) -> tuple[int, int, int, int]:
    """``(both, a_only, b_only, neither)`` of two paired binary outcome arrays."""
    a, b = check_paired(a_correct, b_correct, "a_correct", "b_correct", binary=True)
    both = int(np.count_nonzero(a & b))
    a_only = int(np.count_nonzero(a & ~b))
    b_only = int(np.count_nonzero(~a & b))
    return both, a_only, b_only, int(a.shape[0]) - both - a_only - b_only


def paired_outcomes_from_counts(
    *, both: int, a_only: int, b_only: int, neither: int
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The two paired outcome arrays of a paired 2x2 table given by its counts.

    Parameters
    ----------
    both, a_only, b_only, neither : int
        Pairs in which both versions succeed, only version a, only version b, neither.
        Keyword-only, so that the orientation of a published table is stated at the call.

    Returns
    -------
    a_correct, b_correct : ndarray of bool, shape (n,)
        Outcomes of versions a and b, pairs in the order both, a only, b only, neither;
        ready for :func:`paired_proportion_difference` and :func:`mcnemar_test`.

    Raises
    ------
    TypeError, ValueError
        A count that is not a non-negative integer, or all four counts 0.

    Notes
    -----
    In Newcombe's (1998) notation the table of pairs is ``e, f, g, h`` with difference
    ``(f - g) / n``; with the sign convention of this module (b - a) that is ``both=e,
    b_only=f, a_only=g, neither=h``.

    References
    ----------
    .. [1] Newcombe RG. Improved confidence intervals for the difference between binomial
       proportions based on paired data. Stat Med. 1998;17(22):2635-2650.

    Examples
    --------
    >>> a, b = paired_outcomes_from_counts(both=2, a_only=1, b_only=0, neither=1)
    >>> a.astype(int).tolist(), b.astype(int).tolist()
    ([1, 1, 1, 0], [1, 1, 0, 0])
    """
    counts = [
        check_count(both, "both"),
        check_count(a_only, "a_only"),
        check_count(b_only, "b_only"),
        check_count(neither, "neither"),
    ]
    if sum(counts) == 0:
        raise ValueError(
            "the paired table must hold at least one pair; got both=0, a_only=0, b_only=0, "
            "neither=0."
        )
    a = np.repeat([True, True, False, False], counts)
    b = np.repeat([True, False, True, False], counts)
    return a, b


# --------------------------------------------------------------------------- difference


def _newcombe(
    both: int, a_only: int, b_only: int, neither: int, confidence: float
) -> tuple[float, float]:
    """Newcombe (1998b) method 10 in his notation e, f, g, h = both, b_only, a_only, neither."""
    e, f, g, h = both, b_only, a_only, neither
    n = e + f + g + h
    p1, p2 = (e + f) / n, (e + g) / n
    ci1 = wilson_interval(e + f, n, confidence=confidence)
    ci2 = wilson_interval(e + g, n, confidence=confidence)
    margins = (e + f) * (g + h) * (e + g) * (f + h)
    phi = 0.0
    if margins > 0:
        cross = e * h - f * g
        if cross > n / 2.0:
            corrected = cross - n / 2.0
        elif cross >= 0:
            corrected = 0.0
        else:
            corrected = float(cross)
        phi = corrected / math.sqrt(margins)
    d_low1, d_up1 = p1 - ci1.low, ci1.high - p1
    d_low2, d_up2 = p2 - ci2.low, ci2.high - p2
    theta = p1 - p2
    low = theta - math.sqrt(max(d_low1**2 - 2.0 * phi * d_low1 * d_up2 + d_up2**2, 0.0))
    high = theta + math.sqrt(max(d_low2**2 - 2.0 * phi * d_low2 * d_up1 + d_up1**2, 0.0))
    return max(-1.0, low), min(1.0, high)


def _tango(
    both: int, a_only: int, b_only: int, neither: int, confidence: float
) -> tuple[float, float]:
    """Tango (1998) score interval for ``(b - c) / n`` with ``b = b_only``, ``c = a_only``."""
    n = both + a_only + b_only + neither
    b, c = b_only, a_only
    z = _z(confidence)
    z2 = z * z
    # Where the score variance at the estimate is 0 the limits have closed forms.
    if b + c == 0:
        half = z2 / (n + z2)
        return -half, half
    if b == n:
        return (n - z2) / (n + z2), 1.0
    if c == n:
        return -1.0, -(n - z2) / (n + z2)

    def gap(delta: float, side: float) -> float:
        # Numerator minus side * z * SD of the score statistic under H0: difference = delta;
        # q is the constrained maximum-likelihood estimate of P(only a succeeds).
        w = -b - c + (2.0 * n - b + c) * delta
        q = (math.sqrt(max(w * w + 8.0 * n * c * delta * (1.0 - delta), 0.0)) - w) / (4.0 * n)
        variance = n * (2.0 * q + delta * (1.0 - delta))
        return (b - c - n * delta) - side * z * math.sqrt(max(variance, 0.0))

    estimate = (b - c) / n
    low = optimize.brentq(gap, -1.0, estimate, args=(1.0,), xtol=1e-14)
    high = optimize.brentq(gap, estimate, 1.0, args=(-1.0,), xtol=1e-14)
    return float(low), float(high)


def paired_proportion_difference(
    a_correct: ArrayLike,
    b_correct: ArrayLike,
    *,
    confidence: float = 0.95,
    method: PairedDifferenceMethod = "newcombe",
) -> PairedProportionDifference:
    """Difference of two paired proportions, version b minus version a, with its interval.

    Parameters
    ----------
    a_correct : array-like of shape (n,)
        Outcome of version a (the released version) on each study, 0/1 or bool; e.g. whether
        it detected the disease on each diseased case (for a sensitivity).
    b_correct : array-like of shape (n,)
        Outcome of version b (the candidate) on the same studies, in the same order.
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).
    method : {"newcombe", "tango"}, default "newcombe"
        ``"newcombe"``: Newcombe's (1998) hybrid score interval (his method 10);
        ``"tango"``: Tango's (1998) asymptotic score interval.

    Returns
    -------
    PairedProportionDifference
        The difference ``p_b - p_a``, its interval, both proportions and the paired table.

    Raises
    ------
    TypeError, ValueError
        Non-binary outcomes, arrays of different lengths or empty, ``confidence`` outside
        (0, 1), an unknown ``method``.

    Notes
    -----
    With ``both``, ``a_only``, ``b_only`` and ``neither`` the counts of the paired table
    and ``n`` pairs, the difference is :math:`\\hat\\theta = (b_{only} - a_{only}) / n`; only
    the discordant pairs carry information about it, but the interval depends on ``n``.

    *Newcombe (method 10)* combines the Wilson intervals :math:`(l_1, u_1)` of
    :math:`\\hat p_b` and :math:`(l_2, u_2)` of :math:`\\hat p_a` ("square and add"),
    corrected for the correlation of the two proportions:

    .. math::

        L = \\hat\\theta - \\sqrt{(\\hat p_b - l_1)^2 - 2\\hat\\phi(\\hat p_b - l_1)
            (u_2 - \\hat p_a) + (u_2 - \\hat p_a)^2}

    and symmetrically for the upper limit, where :math:`\\hat\\phi` is the phi coefficient
    of the paired table with its numerator :math:`A = both \\cdot neither - a_{only} b_{only}`
    replaced by :math:`A - n/2` when :math:`A > n/2`, by 0 when :math:`0 \\le A \\le n/2`,
    and kept when negative (0 when a margin is empty). It is closed-form, never leaves
    [-1, 1], and its coverage is close to nominal, on the conservative side when discordant
    pairs are few (Newcombe 1998; Fagerland, Lydersen & Laake 2014 recommend it).

    *Tango* inverts the score test of :math:`H_0: \\theta = \\theta_0`,
    :math:`Z(\\theta_0) = (b_{only} - a_{only} - n\\theta_0) /
    \\sqrt{n(2\\tilde q + \\theta_0(1-\\theta_0))}` with :math:`\\tilde q` the constrained
    maximum-likelihood estimate of P(only a succeeds); the limits solve
    :math:`Z = \\pm z_{1-\\alpha/2}` (root finding). At :math:`\\theta_0 = 0` it is the
    uncorrected McNemar statistic. Its coverage is close to nominal even with few discordant
    pairs (Tango 1998; Fagerland et al. 2014).

    Both assume independent pairs. When a patient contributes several studies, use
    :func:`paired_bootstrap_difference`, which resamples patients.

    References
    ----------
    .. [1] Newcombe RG. Improved confidence intervals for the difference between binomial
       proportions based on paired data. Stat Med. 1998;17(22):2635-2650.
    .. [2] Tango T. Equivalence test and confidence interval for the difference in
       proportions for the paired-sample design. Stat Med. 1998;17(8):891-908.
    .. [3] Fagerland MW, Lydersen S, Laake P. Recommended tests and confidence intervals for
       paired binomial proportions. Stat Med. 2014;33(16):2850-2875.

    Examples
    --------
    Newcombe (1998), Table III: the table e, f, g, h = 20, 12, 2, 16, difference
    (f - g) / n = 0.2, method 10 interval 0.0562 to 0.3292:

    >>> a, b = paired_outcomes_from_counts(both=20, a_only=2, b_only=12, neither=16)
    >>> res = paired_proportion_difference(a, b)
    >>> round(res.estimate, 4), round(res.ci_low, 4), round(res.ci_high, 4)
    (0.2, 0.0562, 0.3292)
    >>> res = paired_proportion_difference(a, b, method="tango")
    >>> res.method, round(res.proportion_a, 2), round(res.proportion_b, 2)
    ('tango', 0.44, 0.64)
    """
    chosen = check_choice(method, "method", _DIFFERENCE_METHODS)
    level = check_confidence(confidence)
    both, a_only, b_only, neither = _paired_table(a_correct, b_correct)
    n = both + a_only + b_only + neither
    interval = _newcombe if chosen == "newcombe" else _tango
    low, high = interval(both, a_only, b_only, neither, level)
    return PairedProportionDifference(
        estimate=(b_only - a_only) / n,
        ci_low=low,
        ci_high=high,
        confidence=level,
        method=chosen,
        proportion_a=(both + a_only) / n,
        proportion_b=(both + b_only) / n,
        n=n,
        both=both,
        a_only=a_only,
        b_only=b_only,
        neither=neither,
    )


# --------------------------------------------------------------------------- McNemar


def mcnemar_test(
    a_correct: ArrayLike,
    b_correct: ArrayLike,
    *,
    method: McNemarMethod = "exact",
    correction: bool = False,
) -> McNemarTest:
    """McNemar's test that two versions have the same success proportion on paired studies.

    Parameters
    ----------
    a_correct, b_correct : array-like of shape (n,)
        Outcomes (0/1 or bool) of version a (released) and version b (candidate) on the same
        studies, in the same order.
    method : {"exact", "mid-p", "asymptotic"}, default "exact"
        ``"exact"``: the conditional binomial test on the discordant pairs; ``"mid-p"``: its
        mid-p version; ``"asymptotic"``: the chi-square test.
    correction : bool, default False
        Apply the continuity correction (``|b - c| - 1``) to the asymptotic statistic. Only
        valid with ``method="asymptotic"``.

    Returns
    -------
    McNemarTest
        Statistic, two-sided p-value, method and the discordant counts.

    Raises
    ------
    TypeError, ValueError
        Non-binary outcomes, arrays of different lengths or empty, an unknown ``method``, a
        non-boolean ``correction``, or ``correction=True`` with a method other than
        ``"asymptotic"``.

    Notes
    -----
    Only the discordant pairs, ``b = b_only`` and ``c = a_only``, inform the test: under the
    null hypothesis each discordant pair favours b with probability 1/2, so
    :math:`b \\sim \\mathrm{Binomial}(b + c, 1/2)`.

    * ``"exact"``: :math:`p = \\min(1, 2 P(X \\le \\min(b, c)))`. Its size never exceeds the
      nominal level (conservative); the default, valid at any sample size.
    * ``"mid-p"``: the same with half the probability of the observed count,
      :math:`p = 2 P(X < \\min(b, c)) + P(X = \\min(b, c))`; closer to nominal size, as
      recommended by Fagerland, Lydersen & Laake (2013).
    * ``"asymptotic"``: :math:`\\chi^2 = (b - c)^2 / (b + c)` on 1 degree of freedom
      (McNemar 1947), with ``correction``
      :math:`\\chi^2 = \\max(|b - c| - 1, 0)^2 / (b + c)` (Edwards 1948). The uncorrected
      test is close to nominal size once :math:`b + c \\ge 10` or so; the corrected one is
      conservative. R's ``mcnemar.test`` applies the correction by default and does not
      clip at 0 (it differs from this function only when ``b == c``).

    With no discordant pair the versions agree on every study and ``p = 1`` for every
    method (statistic 0 for the asymptotic test), as in Fagerland et al. (2017). The test
    assumes independent pairs; with several studies per patient it is anti-conservative
    (use :func:`paired_bootstrap_difference`).

    References
    ----------
    .. [1] McNemar Q. Note on the sampling error of the difference between correlated
       proportions or percentages. Psychometrika. 1947;12(2):153-157.
    .. [2] Edwards AL. Note on the "correction for continuity" in testing the significance
       of the difference between correlated proportions. Psychometrika. 1948;13(3):185-187.
    .. [3] Agresti A. Categorical Data Analysis. New York: Wiley; 1990. Pages 350-354.
    .. [4] Fagerland MW, Lydersen S, Laake P. The McNemar test for binary matched-pairs
       data: mid-p and asymptotic are better than exact conditional. BMC Med Res Methodol.
       2013;13:91.
    .. [5] Fagerland MW, Lydersen S, Laake P. Statistical Analysis of Contingency Tables.
       Boca Raton: CRC Press; 2017. Chapter 8.

    Examples
    --------
    Presidential approval ratings (Agresti 1990, p. 350; R's ``mcnemar.test`` example):
    794 approve both times, 150 approve then disapprove, 86 disapprove then approve, 570
    disapprove both times:

    >>> first, second = paired_outcomes_from_counts(
    ...     both=794, a_only=150, b_only=86, neither=570)
    >>> res = mcnemar_test(first, second, method="asymptotic", correction=True)
    >>> round(res.statistic, 3), f"{res.p_value:.4g}"
    (16.818, '4.115e-05')
    >>> round(mcnemar_test(first, second, method="asymptotic").statistic, 3)
    17.356
    """
    chosen = check_choice(method, "method", _MCNEMAR_METHODS)
    if not isinstance(correction, bool):
        raise TypeError(f"correction must be True or False; got {correction!r}.")
    if correction and chosen != "asymptotic":
        raise ValueError(
            "correction=True applies only to method='asymptotic' (the continuity correction "
            f"of the chi-square statistic); got method={chosen!r}."
        )
    both, a_only, b_only, neither = _paired_table(a_correct, b_correct)
    n = both + a_only + b_only + neither
    discordant = a_only + b_only
    if chosen == "asymptotic":
        if discordant == 0:
            statistic, p_value = 0.0, 1.0
        else:
            excess = abs(b_only - a_only)
            if correction:
                excess = max(excess - 1, 0)
            statistic = excess * excess / discordant
            p_value = float(stats.chi2.sf(statistic, 1))
    else:
        statistic = float(b_only)
        smaller = min(a_only, b_only)
        tail = float(stats.binom.cdf(smaller, discordant, 0.5))
        if chosen == "mid-p":
            tail -= 0.5 * float(stats.binom.pmf(smaller, discordant, 0.5))
        p_value = min(1.0, 2.0 * tail)
    return McNemarTest(
        statistic=float(statistic),
        p_value=p_value,
        method=chosen,
        correction=correction,
        n=n,
        a_only=a_only,
        b_only=b_only,
    )


# --------------------------------------------------------------------------- bootstrap


def _weighted_mean(
    values: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    return np.asarray(weights @ values / weights.sum(axis=1), dtype=np.float64)


def _mae(
    output: NDArray[np.float64], reference: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    return _weighted_mean(np.abs(output - reference), weights)


def _rmse(
    output: NDArray[np.float64], reference: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    return np.sqrt(_weighted_mean((output - reference) ** 2, weights))


def _bias(
    output: NDArray[np.float64], reference: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    return _weighted_mean(output - reference, weights)


def _bias_and_sd(
    output: NDArray[np.float64], reference: NDArray[np.float64], weights: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and SD (``ddof=1``) of the differences in each weighted resample."""
    diff = output - reference
    total = weights.sum(axis=1)
    mean = weights @ diff / total
    squares = np.einsum("bn,bn->b", weights, (diff[None, :] - mean[:, None]) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return mean, np.sqrt(squares / (total - 1.0))


def _loa_low(
    output: NDArray[np.float64], reference: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    mean, sd = _bias_and_sd(output, reference, weights)
    return mean - _LOA_MULTIPLIER * sd


def _loa_high(
    output: NDArray[np.float64], reference: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    mean, sd = _bias_and_sd(output, reference, weights)
    return mean + _LOA_MULTIPLIER * sd


_NAMED_STATISTICS: dict[str, Callable[..., NDArray[np.float64]]] = {
    "mae": _mae,
    "rmse": _rmse,
    "bias": _bias,
    "loa_low": _loa_low,
    "loa_high": _loa_high,
}


def _scalar(value: Any, version: str) -> float:
    out = np.asarray(value, dtype=np.float64)
    if out.size != 1:
        raise ValueError(
            "statistic must return a single value per resample (one statistic); got shape "
            f"{out.shape} for version {version}. For several statistics (e.g. both limits of "
            "agreement) call paired_bootstrap_difference once per statistic."
        )
    number = float(out.reshape(-1)[0])
    if not math.isfinite(number):
        raise ValueError(
            f"statistic is undefined (NaN or infinite) for version {version} on the full "
            f"data: {number}."
        )
    return number


class _VersionDifference:
    """``statistic(b) - statistic(a)``, called as :func:`cluster_bootstrap` calls a statistic.

    Called with the two versions' outputs first and then the other arrays (the reference),
    with or without ``weights=`` as the statistic is vectorised or not. Its
    ``leave_one_cluster_out`` uses the statistic's own shortcut when it has one (e.g. the
    AUC's), and otherwise returns None so that the jackknife re-weights.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function

    def __call__(
        self, x: NDArray[np.float64], y: NDArray[np.float64], *other: Any, **weights: Any
    ) -> NDArray[np.float64]:
        return np.asarray(self.function(y, *other, **weights), dtype=np.float64) - np.asarray(
            self.function(x, *other, **weights), dtype=np.float64
        )

    def leave_one_cluster_out(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        *other: NDArray[np.float64],
        row_cluster: NDArray[np.intp],
        n_clusters: int,
    ) -> NDArray[np.float64] | None:
        """The difference with each cluster left out, from the statistic's own shortcut."""
        direct = getattr(self.function, "leave_one_cluster_out", None)
        if direct is None:
            return None
        a = direct(x, *other, row_cluster=row_cluster, n_clusters=n_clusters)
        b = direct(y, *other, row_cluster=row_cluster, n_clusters=n_clusters)
        if a is None or b is None:
            return None
        return np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)


def paired_bootstrap_difference(
    a: ArrayLike,
    b: ArrayLike,
    reference: ArrayLike | None = None,
    *,
    statistic: str | Callable[..., Any],
    seed: int,
    clusters: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    method: BootstrapMethod = "bca",
    vectorized: bool = True,
    max_invalid: float = 0.01,
) -> PairedBootstrapDifference:
    """Cluster bootstrap interval of a statistic's difference between two versions.

    Parameters
    ----------
    a : array-like of shape (n,) or (n, k)
        Output of version a (the released version) on each study, e.g. its
        measurement.
    b : array-like, same shape as ``a``
        Output of version b (the candidate) on the same studies, in the same order.
    reference : array-like of shape (n,), optional
        Reference standard of each study; required by the named statistics.
    statistic : {"mae", "rmse", "bias", "loa_low", "loa_high"} or callable
        The statistic compared, computed on each version's output. Named statistics use the
        per-study error ``output - reference``: mean absolute error, root mean square error,
        mean error (Bland-Altman bias), and the lower and upper 95% limits of agreement
        ``bias -/+ 1.96 SD`` (SD with ``ddof=1``). A callable is called like
        :func:`~validation.stats.bootstrap.cluster_bootstrap`'s statistic, once per version:
        if ``vectorized``, ``statistic(output, reference, weights=w)`` (without
        ``reference`` when it is None) with ``w`` the ``(b, n)`` resampling weights,
        returning shape ``(b,)``; otherwise ``statistic(output, reference)`` on the
        resampled rows, returning a scalar.
    seed : int
        Seed of ``numpy.random.default_rng``; required and recorded in the result.
    clusters : array-like of shape (n,), optional
        Patient of every study: patients are resampled, with all their studies and both
        versions' outputs. Omitted, every study is its own cluster.
    strata : array-like of shape (n,), optional
        Stratum (e.g. site) of every study; patients are resampled within strata.
    n_resamples : int, default DEFAULT_RESAMPLES
        Number of resamples: at least 1000, and 10 replicates beyond each limit.
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).
    method : {"bca", "percentile"}, default "bca"
        Interval method.
    vectorized : bool, default True
        How a callable ``statistic`` is called (named statistics are always vectorised).
    max_invalid : float, default 0.01
        Largest fraction of undefined replicates dropped before an error.

    Returns
    -------
    PairedBootstrapDifference
        The difference ``statistic(b) - statistic(a)``, its interval, both versions'
        statistics and the bootstrap bookkeeping (seed, resamples, clusters).

    Raises
    ------
    TypeError, ValueError
        ``a`` and ``b`` of different shapes; a named statistic without ``reference`` or
        with ``vectorized=False``; an unknown statistic name; a statistic returning more
        than one value or undefined on the full data; and everything
        :func:`~validation.stats.bootstrap.cluster_bootstrap` rejects (seed, resamples,
        clusters, strata, NaN values, ...).

    Warns
    -----
    RuntimeWarning
        As :func:`~validation.stats.bootstrap.cluster_bootstrap` (undefined replicates
        dropped, degenerate or edge BCa intervals).

    Notes
    -----
    Both versions read the same studies, so their errors are correlated (a hard case is
    hard for both); the interval of the difference must keep the pairs together. Here one
    resample draws patients with replacement and evaluates the statistic of *both* versions
    on the same drawn studies; each replicate is the difference. The estimand is the
    study-level statistic (a patient with more studies weighs more), and resampling
    patients makes the interval honest about the correlation of a patient's studies.

    This is :func:`~validation.stats.bootstrap.cluster_bootstrap` with the statistic
    ``statistic(b) - statistic(a)``: percentile and BCa intervals (BCa's acceleration from
    the leave-one-patient-out jackknife) and their coverage properties are described there.
    With every study its own cluster it is the ordinary paired bootstrap and gives the
    resamples and limits of ``scipy.stats.bootstrap(..., paired=True)`` with the same
    generator. In simulations with normal, patient-correlated errors (60 patients with 2
    studies each), the 95% intervals of an MAE difference covered 94.5-95% of the time
    (percentile and BCa; see the tests); those of RMSE and limit-of-agreement differences
    covered only 92-93% at that size, as bootstrap intervals of spread statistics do at
    moderate samples, and approach nominal with a few hundred patients.

    For non-inferiority (:func:`noninferior`), MAE and RMSE are lower-is-better, so the
    candidate is non-inferior when the upper bound is below the margin. For the limits of
    agreement, a lower limit that drops (more negative) and an upper limit that rises both
    widen the agreement interval: judge ``"loa_low"`` with ``higher_is_better=True`` and
    ``"loa_high"`` with ``higher_is_better=False``.

    References
    ----------
    .. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993;
       chapters 13-14.
    .. [2] Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge
       University Press, 1997; chapter 3 (hierarchical data).
    .. [3] Bland JM, Altman DG. Statistical methods for assessing agreement between two
       methods of clinical measurement. Lancet. 1986;1(8476):307-310.
    .. [4] U.S. Food and Drug Administration. Marketing Submission Recommendations for a
       Predetermined Change Control Plan for Artificial Intelligence-Enabled Device
       Software Functions. Guidance, December 2024.

    Examples
    --------
    Two studies per patient; the candidate halves the released version's error:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> patient = np.repeat(np.arange(40), 2)
    >>> truth = rng.normal(10.0, 1.5, 80)
    >>> released = truth + rng.normal(0.0, 1.0, 80)
    >>> candidate = truth + 0.5 * (released - truth)
    >>> res = paired_bootstrap_difference(released, candidate, truth, statistic="mae",
    ...                                   clusters=patient, seed=1)
    >>> res.estimate == res.estimate_b - res.estimate_a, res.n_clusters
    (True, 40)
    >>> res.ci_high < 0
    True
    >>> noninferior(res, 0.5, higher_is_better=False)
    True
    """
    if isinstance(statistic, str):
        name = check_choice(statistic, "statistic", tuple(_NAMED_STATISTICS))
        if reference is None:
            raise ValueError(
                f"statistic={name!r} compares each version with the reference standard: "
                "reference is required; got None."
            )
        if vectorized is not True:
            raise ValueError(
                f"vectorized applies only to a callable statistic; the named statistic "
                f"{name!r} is always vectorised, got vectorized={vectorized!r}."
            )
        function: Callable[..., Any] = _NAMED_STATISTICS[name]
    elif callable(statistic):
        function = statistic
        name = str(getattr(statistic, "__name__", type(statistic).__name__))
    else:
        raise TypeError(
            "statistic must be one of 'mae', 'rmse', 'bias', 'loa_low', 'loa_high' or a "
            f"callable; got {type(statistic).__name__}."
        )
    if not isinstance(vectorized, bool):
        raise TypeError(f"vectorized must be True or False; got {vectorized!r}.")
    out_a = check_numeric_array(a, "a", ndim=(1, 2), booleans=True)
    out_b = check_numeric_array(b, "b", ndim=(1, 2), booleans=True)
    if out_a.shape != out_b.shape:
        raise ValueError(
            "a and b must hold the outputs of both versions on the same studies, with the "
            f"same shape; got {out_a.shape} and {out_b.shape}."
        )
    rest: tuple[NDArray[np.float64], ...] = ()
    if reference is not None:
        ref = check_numeric_array(reference, "reference", ndim=(1, 2), booleans=True)
        if ref.shape[0] != out_a.shape[0]:
            raise ValueError(
                f"reference must hold one row per study: expected {out_a.shape[0]}, got "
                f"{ref.shape[0]}."
            )
        rest = (ref,)

    weights = {"weights": np.ones((1, out_a.shape[0]))} if vectorized else {}
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate_a = _scalar(function(out_a, *rest, **weights), "a")
        estimate_b = _scalar(function(out_b, *rest, **weights), "b")

    result = cluster_bootstrap(
        (out_a, out_b, *rest),
        _VersionDifference(function),
        seed=seed,
        clusters=clusters,
        strata=strata,
        n_resamples=n_resamples,
        confidence=confidence,
        method=method,
        vectorized=vectorized,
        max_invalid=max_invalid,
    )
    return PairedBootstrapDifference(
        estimate=float(result.estimate),
        ci_low=float(result.ci_low),
        ci_high=float(result.ci_high),
        confidence=result.confidence,
        method=result.method,
        statistic=name,
        estimate_a=estimate_a,
        estimate_b=estimate_b,
        se=float(result.se),
        n=result.n,
        n_clusters=result.n_clusters,
        n_strata=result.n_strata,
        n_resamples=result.n_resamples,
        seed=result.seed,
        bootstrap=result,
    )


# --------------------------------------------------------------------------- verdict


def noninferior(result: Any, margin: float, *, higher_is_better: bool = True) -> bool:
    """Whether version b (candidate) is non-inferior to version a (released).

    Parameters
    ----------
    result : Interval or a result with a ``ci`` :class:`Interval`
        The interval of the difference **b - a** (candidate minus released):
        :class:`PairedProportionDifference`, :class:`PairedBootstrapDifference`, a
        :class:`~validation.stats.roc.DelongTest` of ``delong_test(y, candidate,
        released)``, or an :class:`Interval`.
    margin : float
        Non-inferiority margin, a positive number on the scale of the difference (e.g.
        0.05 for five percentage points of sensitivity, 0.5 for 0.5 mm of MAE).
    higher_is_better : bool, default True
        True for quantities where higher is better (sensitivity, specificity, AUC); False
        for errors where lower is better (MAE, RMSE).

    Returns
    -------
    bool
        True when the confidence bound on the unfavourable side lies inside the margin:
        ``ci.low > -margin`` if ``higher_is_better``, else ``ci.high < margin``. False
        otherwise, and when that bound is undefined (NaN, with a warning).

    Raises
    ------
    TypeError, ValueError
        ``result`` without an interval, a margin that is not a positive finite number, a
        non-boolean ``higher_is_better``.

    Warns
    -----
    RuntimeWarning
        When the bound is NaN: non-inferiority cannot be shown.

    Notes
    -----
    The verdict is judged on the confidence bound, never on the point estimate. The lower
    limit of a two-sided 95% interval is a one-sided 97.5% bound, i.e. a one-sided test at
    level 0.025, the usual convention of FDA non-inferiority comparisons; the confidence
    level is that of ``result`` and must be pre-specified in the protocol, as must the
    margin. A candidate can be non-inferior and worse in point estimate; the margin states
    how much worse is acceptable.

    References
    ----------
    .. [1] U.S. Food and Drug Administration. Non-Inferiority Clinical Trials to Establish
       Effectiveness. Guidance for Industry, November 2016.
    .. [2] U.S. Food and Drug Administration. Marketing Submission Recommendations for a
       Predetermined Change Control Plan for Artificial Intelligence-Enabled Device
       Software Functions. Guidance, December 2024.

    Examples
    --------
    >>> ci = Interval(low=-0.031, high=0.012, confidence=0.95, method="newcombe")
    >>> noninferior(ci, 0.05), noninferior(ci, 0.03)
    (True, False)
    >>> noninferior(Interval(-0.2, 0.4, 0.95, "bca"), 0.5, higher_is_better=False)
    True
    """
    interval = result if isinstance(result, Interval) else getattr(result, "ci", None)
    if not isinstance(interval, Interval):
        raise TypeError(
            "result must be an Interval or a result with a `ci` Interval (e.g. "
            "PairedProportionDifference, PairedBootstrapDifference, DelongTest); got "
            f"{type(result).__name__}."
        )
    limit = check_positive_finite(margin, "margin")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better must be True or False; got {higher_is_better!r}.")
    bound = interval.low if higher_is_better else interval.high
    if math.isnan(bound):
        side = "lower" if higher_is_better else "upper"
        warnings.warn(
            f"the {side} confidence bound is undefined (NaN): non-inferiority cannot be "
            "shown; returning False.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return bool(bound > -limit) if higher_is_better else bool(bound < limit)
