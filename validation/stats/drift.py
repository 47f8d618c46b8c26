"""Distribution drift between a baseline sample and a current sample.

Each function returns an effect size together with a test of "no change": the population
stability index (PSI) with Yurdakul's chi-square approximation, the two-sample
Kolmogorov-Smirnov D with its p-value, and the chi-square test of homogeneity with Cramer's V.
A monitor should alarm only when the test rejects *and* the effect size is material, so that
large samples do not alarm on trivial differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from validation.stats._checks import check_choice, check_count, check_numeric_array, check_real

__all__ = ["Chi2Drift", "KsDrift", "PsiResult", "chi2_drift", "ks_drift", "psi"]

KsMethod = Literal["auto", "exact", "asymp"]
_KS_METHODS: tuple[KsMethod, ...] = get_args(KsMethod)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class PsiResult:
    """Result of :func:`psi`.

    Attributes
    ----------
    psi : float
        Population stability index (the effect size; >= 0).
    statistic : float
        ``psi / (1/n_baseline + 1/n_current)``, approximately chi-square with ``dof`` degrees
        of freedom when nothing changed (Yurdakul 2018).
    dof : int
        Number of bins minus 1.
    p_value : float
        Upper-tail chi-square probability of ``statistic``.
    n_baseline, n_current : int
        Sample sizes.
    n_bins : int
        Number of bins used (fewer than requested when baseline quantiles tie).
    cut_points : ndarray of float
        Interior bin boundaries (baseline quantiles); bins are ``(-inf, c1)``, ``[c1, c2)``,
        ..., ``[c_last, inf)``.
    baseline_fraction, current_fraction : ndarray of float
        Fraction of each sample per bin, before the floor.
    floor : float
        Fraction substituted for an empty bin in the logarithm.
    min_expected : float
        Smallest expected count of current observations in a bin if nothing changed,
        ``n_current * min(baseline_fraction)``; below about 5 the p-value is unreliable and
        empty bins (each adding about 0.69 at the default floor) inflate the PSI.
    """

    psi: float
    statistic: float
    dof: int
    p_value: float
    n_baseline: int
    n_current: int
    n_bins: int
    cut_points: NDArray[np.float64]
    baseline_fraction: NDArray[np.float64]
    current_fraction: NDArray[np.float64]
    floor: float
    min_expected: float


@dataclass(frozen=True)
class KsDrift:
    """Result of :func:`ks_drift`.

    Attributes
    ----------
    statistic : float
        Kolmogorov-Smirnov D: the largest vertical distance between the two empirical CDFs
        (the effect size, in [0, 1]).
    p_value : float
        Two-sided p-value.
    n_baseline, n_current : int
        Sample sizes.
    method : str
        ``"auto"``, ``"exact"`` or ``"asymp"``, as passed to :func:`scipy.stats.ks_2samp`.
    ties : bool
        Whether the pooled sample has ties (the p-value is then conservative).
    """

    statistic: float
    p_value: float
    n_baseline: int
    n_current: int
    method: str
    ties: bool


@dataclass(frozen=True)
class Chi2Drift:
    """Result of :func:`chi2_drift`.

    Attributes
    ----------
    statistic : float
        Pearson chi-square statistic of the 2 x K table (no continuity correction).
    dof : int
        Degrees of freedom, ``K - 1`` over the categories used.
    p_value : float
        Upper-tail chi-square probability.
    cramers_v : float
        Cramer's V, ``sqrt(statistic / n)`` for a 2 x K table (the effect size, in [0, 1]).
    n_baseline, n_current : int
        Row totals.
    n_categories : int
        Categories used (those observed in at least one sample).
    min_expected : float
        Smallest expected count; below about 5 the chi-square approximation is rough.
    """

    statistic: float
    dof: int
    p_value: float
    cramers_v: float
    n_baseline: int
    n_current: int
    n_categories: int
    min_expected: float


# --------------------------------------------------------------------------- helpers


def _check_min_size(values: NDArray[Any], name: str, minimum: int) -> None:
    if values.size < minimum:
        raise ValueError(f"{name} must contain at least {minimum} observations; got {values.size}.")


def _check_counts(values: ArrayLike, name: str) -> NDArray[np.int64]:
    array = check_numeric_array(values, name)
    bad = (array < 0) | (array != np.round(array))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must hold non-negative integer counts; found {array[first]!r} at index "
            f"{first}."
        )
    return array.astype(np.int64)


# --------------------------------------------------------------------------- PSI


def psi(
    baseline: ArrayLike, current: ArrayLike, *, bins: int = 10, floor: float = 1e-4
) -> PsiResult:
    """Population stability index of a numeric variable, with quantile bins of the baseline.

    Parameters
    ----------
    baseline : array_like
        Reference sample (e.g. the validation study); at least ``bins`` observations.
    current : array_like
        Sample to compare (e.g. one month of production); at least 1 observation.
    bins : int, default 10
        Number of bins, cut at the baseline's ``1/bins, 2/bins, ...`` quantiles (deciles by
        default); at least 2.
    floor : float, default 1e-4
        Fraction used in place of 0 for an empty bin (in either sample), so the logarithm is
        finite; in (0, 0.01].

    Returns
    -------
    PsiResult
        The index, Yurdakul's chi-square statistic and p-value, and the bin table.

    Raises
    ------
    TypeError
        If a sample is not numeric or ``bins`` is not an integer.
    ValueError
        If a sample holds NaN/inf, ``baseline`` has fewer than ``bins`` observations,
        ``current`` is empty, ``bins < 2``, ``floor`` is outside (0, 0.01], or the baseline
        is constant (a single bin).

    Notes
    -----
    With :math:`b_i` and :math:`c_i` the baseline and current fractions in bin :math:`i`,

    .. math::

        PSI = \\sum_i (c_i - b_i)\\,\\ln(c_i / b_i),

    the symmetrised Kullback-Leibler (Jeffreys) divergence of the binned distributions.
    The customary reading is < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 major shift
    (Siddiqi 2006).

    Bins are half-open ``[c_j, c_{j+1})``; the cut points are baseline order statistics
    (numpy quantiles with ``method="higher"``), so every bin holds baseline observations
    (deciles of 1..100 give exactly 10 per bin), and the outer bins are unbounded so current
    values outside the baseline range are counted. Tied quantiles are merged, so a discrete
    variable (age in years) may get fewer bins (``n_bins``). A zero current fraction is
    replaced by ``floor`` (not renormalised), the usual practical fix: the term of an empty
    bin is then finite but large, e.g. 0.1 * ln(0.1 / 1e-4) = 0.69 for a bin holding 10% of
    the baseline - on its own above the 0.25 "major shift" mark.

    The PSI grows with sampling noise alone: with fixed bins and no change,
    :math:`PSI / (1/n + 1/m)` is approximately :math:`\\chi^2_{B-1}` (Yurdakul 2018; ``n``,
    ``m`` the sample sizes, ``B`` the bins), so E[PSI] is about :math:`(B-1)(1/n + 1/m)` -
    0.9 for 10 bins and 10 current observations. That is why a fixed PSI threshold alone
    over-alarms on small monthly samples; the p-value gives a size-aware test. With bins
    from baseline quantiles it is calibrated when every bin expects at least about 5 current
    observations (``min_expected``; a simulation in the tests checks n = m = 1000). With
    fewer, empty bins hit the floor and the test rejects far too often (about 37% at the 5%
    level for 10 bins and 30 current observations): then use fewer bins, or test with
    :func:`ks_drift` and keep the PSI as the effect size only.

    References
    ----------
    .. [1] Yurdakul B. Statistical properties of population stability index [dissertation].
       Kalamazoo (MI): Western Michigan University; 2018. Dissertations 3208.
    .. [2] Siddiqi N. Credit Risk Scorecards: Developing and Implementing Intelligent Credit
       Scoring. Hoboken (NJ): Wiley; 2006.

    Examples
    --------
    >>> res = psi([1, 2, 3, 4, 5, 6, 7, 8], [5, 6, 7, 8, 9, 9, 9, 9], bins=2)
    >>> res.baseline_fraction.tolist(), res.current_fraction.tolist()
    ([0.5, 0.5], [0.0, 1.0])
    >>> round(res.psi, 4)
    4.6043
    """
    reference = check_numeric_array(baseline, "baseline")
    sample = check_numeric_array(current, "current")
    n_bins_requested = check_count(bins, "bins")
    if n_bins_requested < 2:
        raise ValueError(f"bins must be at least 2; got {n_bins_requested}.")
    floor_value = check_real(floor, "floor", "a number in (0, 0.01]")
    if not (0.0 < floor_value <= 0.01):
        raise ValueError(f"floor must be in (0, 0.01], e.g. 1e-4; got {floor!r}.")
    _check_min_size(reference, "baseline", n_bins_requested)
    _check_min_size(sample, "current", 1)

    probs = np.arange(1, n_bins_requested) / n_bins_requested
    cuts = np.unique(np.quantile(reference, probs, method="higher"))
    cuts = cuts[cuts > reference.min()]  # a cut at the minimum leaves the first bin empty
    if cuts.size == 0:
        raise ValueError(
            "baseline is constant (or nearly so): its quantiles give a single bin, so the "
            "PSI is undefined. Compare such a variable with chi2_drift instead."
        )
    n_bins = cuts.size + 1
    base_counts = np.bincount(np.searchsorted(cuts, reference, side="right"), minlength=n_bins)
    curr_counts = np.bincount(np.searchsorted(cuts, sample, side="right"), minlength=n_bins)
    base_frac = base_counts / reference.size
    curr_frac = curr_counts / sample.size
    b = np.where(base_frac > 0, base_frac, floor_value)
    c = np.where(curr_frac > 0, curr_frac, floor_value)
    value = float(np.sum((c - b) * np.log(c / b)))
    scale = 1.0 / reference.size + 1.0 / sample.size
    statistic = value / scale
    dof = n_bins - 1
    return PsiResult(
        psi=value,
        statistic=statistic,
        dof=dof,
        p_value=float(stats.chi2.sf(statistic, dof)),
        n_baseline=int(reference.size),
        n_current=int(sample.size),
        n_bins=n_bins,
        cut_points=cuts,
        baseline_fraction=base_frac,
        current_fraction=curr_frac,
        floor=floor_value,
        min_expected=float(sample.size * base_frac.min()),
    )


# --------------------------------------------------------------------------- KS


def ks_drift(baseline: ArrayLike, current: ArrayLike, *, method: KsMethod = "auto") -> KsDrift:
    """Two-sample Kolmogorov-Smirnov test: D and its two-sided p-value.

    Parameters
    ----------
    baseline : array_like
        Reference sample; at least 1 observation.
    current : array_like
        Sample to compare; at least 1 observation.
    method : {"auto", "exact", "asymp"}, default "auto"
        How :func:`scipy.stats.ks_2samp` computes the p-value: ``"auto"`` uses the exact
        null distribution for moderate samples and the asymptotic one for large samples.

    Returns
    -------
    KsDrift
        D, the p-value, sample sizes, the method and whether there are ties.

    Raises
    ------
    TypeError
        If a sample is not numeric.
    ValueError
        If a sample is empty or holds NaN/inf, or ``method`` is unknown.

    Notes
    -----
    :math:`D = \\sup_x |F_{base}(x) - F_{cur}(x)|` (Smirnov 1939), computed by
    :func:`scipy.stats.ks_2samp` with ``alternative="two-sided"``. D is itself the effect
    size: the largest difference in the proportion of cases below any value, sensitive to
    shifts in location and shape near the centre of the distribution and insensitive in
    the tails. The null distribution assumes continuous data; with ties (ages in whole
    years, rounded measurements) the test is conservative (Conover 1999). Combine the
    p-value with a minimum D (e.g. 0.2) so that large samples do not alarm on trivia.

    References
    ----------
    .. [1] Smirnov NV. On the estimation of the discrepancy between empirical curves of
       distribution for two independent samples. Bull Math Univ Moscou. 1939;2(2):3-14.
    .. [2] Conover WJ. Practical Nonparametric Statistics. 3rd ed. New York: Wiley; 1999.
       Section 6.3.

    Examples
    --------
    R 4.5.2, ``ks.test(c(1, 2, 3), c(4, 5, 6))``: D = 1, p-value = 0.1.

    >>> res = ks_drift([1, 2, 3], [4, 5, 6])
    >>> res.statistic, round(res.p_value, 4)
    (1.0, 0.1)
    """
    reference = check_numeric_array(baseline, "baseline")
    sample = check_numeric_array(current, "current")
    how = check_choice(method, "method", _KS_METHODS)
    result = stats.ks_2samp(reference, sample, alternative="two-sided", method=how)
    pooled = np.concatenate([reference, sample])
    return KsDrift(
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        n_baseline=int(reference.size),
        n_current=int(sample.size),
        method=how,
        ties=bool(np.unique(pooled).size < pooled.size),
    )


# --------------------------------------------------------------------------- chi-square


def chi2_drift(baseline_counts: ArrayLike, current_counts: ArrayLike) -> Chi2Drift:
    """Chi-square test of homogeneity of a categorical variable, with Cramer's V.

    Parameters
    ----------
    baseline_counts : array_like of int
        Counts per category in the reference sample.
    current_counts : array_like of int
        Counts per category in the sample to compare, same categories in the same order.

    Returns
    -------
    Chi2Drift
        Pearson's statistic, degrees of freedom, p-value, Cramer's V and the table sizes.

    Raises
    ------
    TypeError
        If the counts are not numeric.
    ValueError
        If the counts are negative, fractional, NaN, of different lengths, if a sample has
        no observations, or if fewer than 2 categories are observed (a single category).

    Notes
    -----
    The 2 x K table (rows: baseline, current) is tested for homogeneity with Pearson's
    statistic :math:`X^2 = \\sum (O - E)^2 / E`, :math:`E` = row total x column total / n,
    on ``K - 1`` degrees of freedom, without continuity correction (as R's
    ``chisq.test(..., correct = FALSE)``; for K > 2 R applies none anyway). Categories
    empty in both samples carry no information and are dropped. Cramer's V,
    :math:`\\sqrt{X^2 / (n\\,(\\min(2, K) - 1))} = \\sqrt{X^2/n}`, is the effect size on
    [0, 1] (Cramer 1946); about 0.1 is small, 0.3 medium, 0.5 large (Cohen 1988, for one
    degree of freedom). The chi-square approximation needs expected counts of about 5 or
    more (Cochran 1954); ``min_expected`` reports the smallest so the caller can judge.

    References
    ----------
    .. [1] Agresti A. An Introduction to Categorical Data Analysis. 2nd ed. Hoboken (NJ):
       Wiley; 2007. Section 2.4.
    .. [2] Cramer H. Mathematical Methods of Statistics. Princeton: Princeton University
       Press; 1946. p. 282.
    .. [3] Cochran WG. Some methods for strengthening the common chi-square tests.
       Biometrics. 1954;10(4):417-451.
    .. [4] Cohen J. Statistical Power Analysis for the Behavioral Sciences. 2nd ed.
       Hillsdale (NJ): Lawrence Erlbaum; 1988. Chapter 7.

    Examples
    --------
    Agresti (2007), party identification by gender (also R's ``?chisq.test`` example:
    X-squared = 30.07, df = 2, p-value = 2.954e-07):

    >>> res = chi2_drift([762, 327, 468], [484, 239, 477])
    >>> round(res.statistic, 2), res.dof, f"{res.p_value:.3e}", round(res.cramers_v, 4)
    (30.07, 2, '2.954e-07', 0.1044)
    """
    base = _check_counts(baseline_counts, "baseline_counts")
    curr = _check_counts(current_counts, "current_counts")
    if base.size != curr.size:
        raise ValueError(
            "baseline_counts and current_counts must list the same categories; got "
            f"{base.size} and {curr.size} categories."
        )
    for name, row in (("baseline_counts", base), ("current_counts", curr)):
        if row.sum() == 0:
            raise ValueError(f"{name} must contain at least one observation; all are 0.")
    used = (base + curr) > 0
    if used.sum() < 2:
        raise ValueError(
            "the counts must cover at least 2 observed categories; only a single category "
            "has observations, so there is no distribution to compare."
        )
    table = np.vstack([base[used], curr[used]])
    statistic, p_value, dof, expected = stats.chi2_contingency(table, correction=False)
    n = int(table.sum())
    return Chi2Drift(
        statistic=float(statistic),
        dof=int(dof),
        p_value=float(p_value),
        cramers_v=float(math.sqrt(statistic / n)),
        n_baseline=int(base.sum()),
        n_current=int(curr.sum()),
        n_categories=int(used.sum()),
        min_expected=float(np.min(expected)),
    )
