"""Sample size for a validation study: sensitivity or specificity, and Bland-Altman agreement.

Two questions a study plan must answer before any data is collected:

* :func:`sample_size_proportion`: how many subjects with (or without) the condition, and how
  many in all at the expected prevalence, to estimate a sensitivity or specificity to a given
  precision (Buderer 1996) or to show that it clears a performance goal with a given power
  (normal approximation, Obuchowski 1998 / Li & Fine 2004; exact binomial, Flahault et al.
  2005 and Chu & Cole 2007).
* :func:`sample_size_bland_altman`: how many paired measurements so that the confidence
  intervals of both limits of agreement fall within a clinical margin with a given power
  (Lu et al. 2016); :func:`bland_altman_power` is its power function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from validation.stats._checks import (
    check_choice,
    check_confidence,
    check_finite,
    check_open_unit,
    check_positive_finite,
    check_real,
)

__all__ = [
    "BlandAltmanSampleSize",
    "ProportionSampleSize",
    "bland_altman_power",
    "sample_size_bland_altman",
    "sample_size_proportion",
]

ProportionMetric = Literal["sensitivity", "specificity"]
ProportionSizeMethod = Literal["normal", "exact"]
_METRICS: tuple[ProportionMetric, ...] = get_args(ProportionMetric)
_METHODS: tuple[ProportionSizeMethod, ...] = get_args(ProportionSizeMethod)

# Searches stop here: a plan needing more subjects than this is not a plan. The exact binomial
# search evaluates every n up to its bound (about 30 µs each), hence its lower limit.
_N_LIMIT = 10_000_000
_EXACT_LIMIT = 1_000_000


@dataclass(frozen=True)
class ProportionSampleSize:
    """Result of :func:`sample_size_proportion`.

    Attributes
    ----------
    n_cases : int
        Subjects needed in the group the proportion is measured in: with the condition for
        sensitivity, without it for specificity. For ``method="exact"`` every larger number
        also reaches the requested power (Chu & Cole 2007).
    n_total : int
        Subjects to enrol so that, at the expected prevalence, the expected size of that group
        is ``n_cases``: ``ceil(n_cases_unrounded / prevalence)`` for sensitivity and
        ``ceil(n_cases_unrounded / (1 - prevalence))`` for specificity.
    n_cases_unrounded : float
        The formula's value before rounding up (Buderer's convention for the total); equal to
        ``n_cases`` for ``method="exact"``.
    n_cases_first : int
        For ``method="exact"``, the smallest number of cases that reaches the power (Flahault
        et al. 2005); because exact binomial power is saw-toothed in n, a few larger numbers
        may fall short again. Equal to ``n_cases`` for ``method="normal"``.
    achieved_power : float or None
        Power at ``n_cases`` (normal approximation or exact binomial); None for a precision
        design.
    alpha : float or None
        One-sided level of the test of ``H0: proportion <= lower_bound``,
        ``(1 - confidence) / 2``; None for a precision design.
    attained_alpha : float or None
        For ``method="exact"``, the actual size of the exact test at ``n_cases`` (at most
        ``alpha``); otherwise None.
    metric : str
        ``"sensitivity"`` or ``"specificity"``.
    design : str
        ``"precision"`` (a confidence-interval half-width) or ``"goal"`` (a test against a
        performance goal).
    method : str
        ``"normal"`` or ``"exact"``.
    expected : float
        The expected (assumed true) sensitivity or specificity.
    lower_bound : float or None
        The performance goal for a ``"goal"`` design.
    half_width : float or None
        The half-width for a ``"precision"`` design.
    confidence : float
        Two-sided confidence level of the interval the study will report.
    power : float or None
        Requested power for a ``"goal"`` design.
    prevalence : float
        Expected prevalence of the condition among enrolled subjects.
    """

    n_cases: int
    n_total: int
    n_cases_unrounded: float
    n_cases_first: int
    achieved_power: float | None
    alpha: float | None
    attained_alpha: float | None
    metric: str
    design: str
    method: str
    expected: float
    lower_bound: float | None
    half_width: float | None
    confidence: float
    power: float | None
    prevalence: float


@dataclass(frozen=True)
class BlandAltmanSampleSize:
    """Result of :func:`sample_size_bland_altman`.

    Attributes
    ----------
    n : int
        Number of paired measurements (subjects measured by both methods).
    achieved_power : float
        Lu et al.'s power at ``n``.
    mean_diff, sd_diff : float
        Assumed mean and standard deviation of the differences between the methods.
    delta : float
        Clinical agreement margin: both limits of agreement must lie within ``[-delta,
        delta]``.
    confidence : float
        Two-sided confidence level of the intervals of the limits.
    power : float
        Requested power.
    loa_multiplier : float
        The limits are ``mean_diff -/+ loa_multiplier * sd_diff``.
    """

    n: int
    achieved_power: float
    mean_diff: float
    sd_diff: float
    delta: float
    confidence: float
    power: float
    loa_multiplier: float


# --------------------------------------------------------------------------- input checks


def _check_prevalence(value: Any, metric: str) -> float:
    prevalence = check_real(value, "prevalence", "a real number in [0, 1]")
    if not (0.0 <= prevalence <= 1.0):
        raise ValueError(f"prevalence must be in [0, 1], e.g. 0.3; got {value!r}.")
    if metric == "sensitivity" and prevalence == 0.0:
        raise ValueError(
            "prevalence must be above 0 to estimate sensitivity: with prevalence=0 no enrolled "
            "subject has the condition."
        )
    if metric == "specificity" and prevalence == 1.0:
        raise ValueError(
            "prevalence must be below 1 to estimate specificity: with prevalence=1.0 (the "
            "default) every enrolled subject has the condition. Give the expected prevalence "
            "of the condition, e.g. prevalence=0.3 (0 for a sample of negatives only)."
        )
    return prevalence


# --------------------------------------------------------------------------- proportions


def _z(probability: float) -> float:
    return float(stats.norm.ppf(probability))


def _normal_goal_n(expected: float, goal: float, power: float, alpha: float) -> float:
    """Cases for a one-sided z test of H0: p <= goal at level alpha (Li & Fine's method 0)."""
    root = _z(1.0 - alpha) * math.sqrt(goal * (1.0 - goal)) + _z(power) * math.sqrt(
        expected * (1.0 - expected)
    )
    return root * root / (expected - goal) ** 2


def _normal_goal_power(n: int, expected: float, goal: float, alpha: float) -> float:
    shift = math.sqrt(n) * (expected - goal) - _z(1.0 - alpha) * math.sqrt(goal * (1.0 - goal))
    return float(stats.norm.cdf(shift / math.sqrt(expected * (1.0 - expected))))


def _exact_power_curve(
    sizes: NDArray[np.int64], expected: float, goal: float, alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact one-sided binomial test of H0: p <= goal, for every n in ``sizes`` at once.

    The critical count k(n) is the smallest k with P(X >= k | goal) <= alpha, i.e. the
    smallest count whose one-sided Clopper-Pearson lower limit at level 1 - alpha is at
    least the goal. Returns the power P(X >= k | expected) and the attained size
    P(X >= k | goal).
    """
    k = stats.binom.isf(alpha, sizes, goal) + 1.0
    # isf of a discrete law is computed by root finding: nudge k by one where it is off.
    k = np.where(stats.binom.sf(k - 1.0, sizes, goal) > alpha, k + 1.0, k)
    k = np.where((k > 0) & (stats.binom.sf(k - 2.0, sizes, goal) <= alpha), k - 1.0, k)
    power = np.asarray(stats.binom.sf(k - 1.0, sizes, expected), dtype=np.float64)
    size = np.asarray(stats.binom.sf(k - 1.0, sizes, goal), dtype=np.float64)
    return power, size


def _exact_goal_n(
    expected: float, goal: float, power: float, alpha: float, approximate: float
) -> tuple[int, int, float, float]:
    """(stable n, first n, power at stable n, attained size at stable n)."""
    n_max = max(200, 4 * math.ceil(approximate) + 200)
    while True:
        if n_max > _EXACT_LIMIT:
            raise ValueError(
                f"method='exact' searches up to {_EXACT_LIMIT:,} cases, and this design needs "
                f"about {math.ceil(approximate):,} (normal approximation) for power={power} "
                f"with expected={expected} against lower_bound={goal}; use method='normal'."
            )
        sizes = np.arange(1, n_max + 1, dtype=np.int64)
        curve, size = _exact_power_curve(sizes, expected, goal, alpha)
        reached = curve >= power
        # the last quarter of the range must reach the power throughout, so that the power
        # curve has settled above the target before the search stops
        if reached[-(n_max // 4) :].all():
            break
        n_max *= 2
    first = int(np.argmax(reached))
    failing = np.flatnonzero(~reached)
    stable = int(failing[-1]) + 1 if failing.size else 0
    return int(sizes[stable]), int(sizes[first]), float(curve[stable]), float(size[stable])


def sample_size_proportion(
    expected: float,
    *,
    lower_bound: float | None = None,
    half_width: float | None = None,
    confidence: float = 0.95,
    power: float | None = None,
    prevalence: float = 1.0,
    metric: ProportionMetric = "sensitivity",
    method: ProportionSizeMethod = "normal",
) -> ProportionSampleSize:
    """Sample size to estimate a sensitivity or specificity, or to show it clears a goal.

    Parameters
    ----------
    expected : float
        The sensitivity (or specificity) the device is expected to have, in (0, 1).
    lower_bound : float, optional
        Performance goal for a hypothesis-test design: the study succeeds when the lower limit
        of the two-sided ``confidence`` interval is above it (``H0: proportion <= lower_bound``
        rejected at one-sided level ``(1 - confidence) / 2``). In (0, ``expected``). Give
        exactly one of ``lower_bound`` and ``half_width``.
    half_width : float, optional
        Precision design: the largest acceptable half-width of the ``confidence`` interval
        (Buderer's W; 0.05 for +/- 5 percentage points), in (0, 1).
    confidence : float, default 0.95
        Two-sided confidence level of the interval the study will report, in (0, 1).
    power : float, optional
        Probability that the lower confidence limit clears ``lower_bound`` when the true value
        is ``expected``, in (0, 1); required with ``lower_bound``, not allowed with
        ``half_width``.
    prevalence : float, default 1.0
        Expected prevalence of the condition among enrolled subjects, in [0, 1]. The default
        1.0 means a sample of cases only (then ``n_total = n_cases`` for sensitivity).
    metric : {"sensitivity", "specificity"}, default "sensitivity"
        Which proportion: sensitivity is measured in subjects with the condition (total
        ``n_cases / prevalence``), specificity in those without (``n_cases / (1 -
        prevalence)``).
    method : {"normal", "exact"}, default "normal"
        ``"normal"``: Buderer's (precision) or the one-sample z-test (goal) formula.
        ``"exact"``: exact binomial power of the goal design (Flahault et al. 2005); only for
        a goal design.

    Returns
    -------
    ProportionSampleSize
        Cases needed, total to enrol at the prevalence, and the design's assumptions.

    Raises
    ------
    ValueError
        When neither or both of ``lower_bound`` and ``half_width`` are given, when ``power``
        is missing for (or given to) the design, when ``lower_bound`` is not below
        ``expected``, when a probability is outside (0, 1), when the prevalence leaves no
        subject of the needed kind, for ``method="exact"`` with ``half_width``, or when the
        exact search would pass 1,000,000 cases.
    TypeError
        On non-numeric arguments.

    Notes
    -----
    **Precision design** (Buderer 1996). With :math:`z = z_{1-(1-c)/2}` and half-width
    :math:`d`, the Wald interval of a proportion :math:`p` estimated from :math:`n` cases has
    half-width :math:`z\\sqrt{p(1-p)/n}`, so

    .. math:: n_{cases} = \\frac{z^2\\, p(1-p)}{d^2}, \\qquad
              N = \\frac{n_{cases}}{\\pi} \\text{ (sensitivity)}, \\quad
              N = \\frac{n_{cases}}{1-\\pi} \\text{ (specificity)},

    both rounded up, :math:`N` from the unrounded :math:`n_{cases}` as Buderer does. The
    interval the study reports (Wilson, say) will be about this wide if :math:`p` is as
    expected; it is not a guarantee (half the time the estimate's own interval is wider).

    **Goal design, normal approximation** (Obuchowski 1998; Li & Fine 2004, "method 0").
    To reject :math:`H_0: p \\le p_0` at one-sided level :math:`\\alpha = (1-c)/2` with power
    :math:`1-\\beta` when :math:`p = p_1`:

    .. math:: n_{cases} = \\frac{\\left[z_{1-\\alpha}\\sqrt{p_0(1-p_0)} +
              z_{1-\\beta}\\sqrt{p_1(1-p_1)}\\right]^2}{(p_1-p_0)^2}.

    It can be too small when :math:`p_1` is near 1 or the sample small; prefer ``"exact"``
    when the acceptance criterion is judged on an exact (Clopper-Pearson) lower limit.

    **Goal design, exact** (Flahault et al. 2005). For each :math:`n` the exact one-sided
    binomial test rejects when the count of successes is at least :math:`k(n)`, the smallest
    :math:`k` with :math:`P(X \\ge k \\mid p_0) \\le \\alpha` (equivalently, the one-sided
    Clopper-Pearson lower limit clears :math:`p_0`); its power is
    :math:`P(X \\ge k(n) \\mid p_1)`. Because the counts are discrete this power is
    saw-toothed in :math:`n`: ``n_cases_first`` is the smallest :math:`n` that reaches the
    power (Flahault et al.'s tables), ``n_cases`` the smallest beyond which every :math:`n`
    reaches it (Chu & Cole 2007; R ``MKpower::power.diagnostic.test``), which is the safe
    number to plan on since recruitment rarely stops at an exact count. Flahault et al.'s and
    Chu & Cole's tables use a one-sided 95% limit: pass ``confidence=0.90`` to reproduce them.

    References
    ----------
    .. [1] Buderer NMF. Statistical methodology: I. Incorporating the prevalence of disease
       into the sample size calculation for sensitivity and specificity. Acad Emerg Med.
       1996;3(9):895-900.
    .. [2] Obuchowski NA. Sample size calculations in studies of test accuracy. Stat Methods
       Med Res. 1998;7(4):371-392.
    .. [3] Li J, Fine J. On sample size for sensitivity and specificity in prospective
       diagnostic accuracy studies. Stat Med. 2004;23(16):2537-2550.
    .. [4] Flahault A, Cadilhac M, Thomas G. Sample size calculation should be performed for
       design accuracy in diagnostic test studies. J Clin Epidemiol. 2005;58(8):859-862.
    .. [5] Chu H, Cole SR. Sample size calculation using exact methods in diagnostic test
       studies. J Clin Epidemiol. 2007;60(11):1201-1202.

    Examples
    --------
    Buderer's (1996) example: sensitivity 0.90, prevalence 0.20, +/- 0.10:

    >>> res = sample_size_proportion(0.90, half_width=0.10, prevalence=0.20)
    >>> res.n_cases, res.n_total
    (35, 173)
    >>> sample_size_proportion(
    ...     0.85, half_width=0.10, prevalence=0.20, metric="specificity"
    ... ).n_total
    62

    Sensitivity 0.90 against a goal of 0.75 at 80% power, exact, prevalence 0.3:

    >>> res = sample_size_proportion(
    ...     0.90, lower_bound=0.75, power=0.8, prevalence=0.3, method="exact"
    ... )
    >>> res.n_cases, res.n_total, res.n_cases_first
    (59, 197, 54)
    """
    chosen_metric = check_choice(metric, "metric", _METRICS)
    chosen_method = check_choice(method, "method", _METHODS)
    p1 = check_open_unit(expected, "expected", "0.9")
    level = check_confidence(confidence)
    share = _check_prevalence(prevalence, chosen_metric)
    fraction = share if chosen_metric == "sensitivity" else 1.0 - share
    if (lower_bound is None) == (half_width is None):
        raise ValueError(
            "give exactly one of lower_bound (a performance goal to clear) and half_width (a "
            f"precision to reach); got lower_bound={lower_bound!r} and half_width={half_width!r}."
        )

    alpha: float | None = None
    p0: float | None = None
    target: float | None = None
    width: float | None = None
    achieved: float | None = None
    attained: float | None = None
    if half_width is not None:
        width = check_open_unit(half_width, "half_width", "0.05")
        if power is not None:
            raise ValueError(
                f"power applies only to a performance-goal design (lower_bound=...); a "
                f"precision design (half_width=...) has none; got power={power!r}."
            )
        if chosen_method == "exact":
            raise ValueError(
                "method='exact' is available only for a performance-goal design "
                "(lower_bound=...); Buderer's precision design uses method='normal'."
            )
        z = _z(0.5 + level / 2.0)
        raw = z * z * p1 * (1.0 - p1) / (width * width)
        n_cases = n_first = math.ceil(raw)
    else:
        p0 = check_open_unit(lower_bound, "lower_bound", "0.75")
        if p0 >= p1:
            raise ValueError(
                f"lower_bound must be below expected (the goal the device is expected to "
                f"clear); got lower_bound={p0} and expected={p1}."
            )
        if power is None:
            raise ValueError("power is required with lower_bound, e.g. power=0.8.")
        target = check_open_unit(power, "power", "0.8")
        alpha = (1.0 - level) / 2.0
        raw = _normal_goal_n(p1, p0, target, alpha)
        if chosen_method == "normal":
            n_cases = n_first = math.ceil(raw)
            achieved = _normal_goal_power(n_cases, p1, p0, alpha)
        else:
            n_cases, n_first, achieved, attained = _exact_goal_n(p1, p0, target, alpha, raw)
            raw = float(n_cases)
    return ProportionSampleSize(
        n_cases=n_cases,
        n_total=math.ceil(raw / fraction),
        n_cases_unrounded=raw,
        n_cases_first=n_first,
        achieved_power=achieved,
        alpha=alpha,
        attained_alpha=attained,
        metric=chosen_metric,
        design="precision" if half_width is not None else "goal",
        method=chosen_method,
        expected=p1,
        lower_bound=p0,
        half_width=width,
        confidence=level,
        power=target,
        prevalence=share,
    )


# --------------------------------------------------------------------------- Bland-Altman


def _lu_power(
    n: NDArray[np.float64],
    mean_diff: float,
    sd_diff: float,
    delta: float,
    confidence: float,
    multiplier: float,
) -> NDArray[np.float64]:
    df = n - 1.0
    se = sd_diff * np.sqrt(1.0 / n + multiplier * multiplier / (2.0 * df))
    t_crit = stats.t.ppf(0.5 + confidence / 2.0, df)
    tau_upper = (delta - mean_diff - multiplier * sd_diff) / se
    tau_lower = (delta + mean_diff - multiplier * sd_diff) / se
    beta_upper = stats.nct.cdf(t_crit, df, tau_upper)
    beta_lower = stats.nct.cdf(t_crit, df, tau_lower)
    return np.clip(1.0 - beta_upper - beta_lower, 0.0, 1.0)


def _check_agreement_inputs(
    mean_diff: Any, sd_diff: Any, delta: Any, confidence: Any, loa_multiplier: Any
) -> tuple[float, float, float, float, float]:
    mu = check_finite(mean_diff, "mean_diff")
    sd = check_positive_finite(sd_diff, "sd_diff")
    margin = check_positive_finite(delta, "delta")
    level = check_confidence(confidence)
    multiplier = check_positive_finite(loa_multiplier, "loa_multiplier")
    reach = abs(mu) + multiplier * sd
    if margin <= reach:
        raise ValueError(
            f"delta must exceed |mean_diff| + loa_multiplier * sd_diff = {reach:.6g}: the "
            f"expected limits of agreement already reach the margin, so no sample size can "
            f"show agreement; got delta={margin:.6g}."
        )
    return mu, sd, margin, level, multiplier


def bland_altman_power(
    n: ArrayLike,
    mean_diff: float,
    sd_diff: float,
    delta: float,
    *,
    confidence: float = 0.95,
    loa_multiplier: float = 1.96,
) -> NDArray[np.float64]:
    """Power of a Bland-Altman agreement study with ``n`` pairs (Lu et al. 2016).

    Parameters
    ----------
    n : int or array-like of int
        Number(s) of paired measurements, each at least 2.
    mean_diff : float
        Expected mean difference between the methods.
    sd_diff : float
        Expected standard deviation of the differences, > 0.
    delta : float
        Clinical agreement margin, > ``|mean_diff| + loa_multiplier * sd_diff``.
    confidence : float, default 0.95
        Two-sided confidence level of the intervals of the limits, in (0, 1).
    loa_multiplier : float, default 1.96
        The limits are ``mean_diff -/+ loa_multiplier * sd_diff``.

    Returns
    -------
    numpy.ndarray
        The power for each ``n`` (a 0-d array for a scalar ``n``), clipped to [0, 1].

    Raises
    ------
    ValueError
        On ``n`` below 2 or not whole, a non-positive SD or margin, a margin the expected
        limits already reach, or ``confidence`` outside (0, 1).
    TypeError
        On non-numeric arguments.

    Notes
    -----
    See :func:`sample_size_bland_altman` for the formula.

    References
    ----------
    .. [1] Lu MJ, Zhong WH, Liu YX, Miao HZ, Li YC, Ji MH. Sample size for assessing
       agreement between two methods of measurement by Bland-Altman method. Int J Biostat.
       2016;12(2):20150039. doi:10.1515/ijb-2015-0039.

    Examples
    --------
    >>> float(bland_altman_power(79, 0.001167, 0.001129, 0.004, loa_multiplier=1.959964))
    ... # doctest: +ELLIPSIS
    0.8022...
    """
    mu, sd, margin, level, multiplier = _check_agreement_inputs(
        mean_diff, sd_diff, delta, confidence, loa_multiplier
    )
    try:
        sizes = np.asarray(n, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"n must be an integer or an array of integers; {exc}") from exc
    if sizes.size == 0 or not np.all(np.isfinite(sizes)) or np.any(sizes != np.round(sizes)):
        raise ValueError(f"n must hold whole numbers of pairs; got {n!r}.")
    if np.any(sizes < 2):
        raise ValueError(f"n must be at least 2 pairs (n - 1 degrees of freedom); got {n!r}.")
    return _lu_power(sizes, mu, sd, margin, level, multiplier)


def sample_size_bland_altman(
    mean_diff: float,
    sd_diff: float,
    delta: float,
    *,
    confidence: float = 0.95,
    power: float = 0.8,
    loa_multiplier: float = 1.96,
) -> BlandAltmanSampleSize:
    """Pairs needed so that both limits of agreement are shown within a clinical margin.

    Parameters
    ----------
    mean_diff : float
        Expected mean difference between the methods (e.g. from a pilot study).
    sd_diff : float
        Expected standard deviation of the differences, > 0.
    delta : float
        Clinical agreement margin: agreement is claimed when the upper confidence limit of
        the upper limit of agreement is below ``delta`` and the lower confidence limit of the
        lower limit is above ``-delta``. Must exceed ``|mean_diff| + loa_multiplier *
        sd_diff``.
    confidence : float, default 0.95
        Two-sided confidence level of the intervals of the limits, in (0, 1).
    power : float, default 0.8
        Required probability of claiming agreement, in (0, 1).
    loa_multiplier : float, default 1.96
        The limits are ``mean_diff -/+ loa_multiplier * sd_diff`` (1.96: 95% limits).

    Returns
    -------
    BlandAltmanSampleSize
        The smallest number of pairs reaching ``power``, its power and the assumptions.

    Raises
    ------
    ValueError
        On a non-positive SD or margin, a margin the expected limits already reach, a
        ``confidence`` or ``power`` outside (0, 1), or when more than 10,000,000 pairs would
        be needed.
    TypeError
        On non-numeric arguments.

    Notes
    -----
    Lu et al. (2016) judge agreement on the approximate Bland-Altman intervals of the limits
    (Bland & Altman 1999), :math:`\\bar d \\pm z s \\pm t_{1-\\alpha/2,\\,n-1}\\,
    \\mathrm{SE}`, with :math:`\\mathrm{SE} = \\sigma\\sqrt{1/n + z^2/(2(n-1))}`. Each limit's
    interval misses the margin with probability

    .. math:: \\beta_1 = T_{n-1}\\!\\left(t_{1-\\alpha/2,\\,n-1};\\; \\tau_1\\right),\\quad
              \\tau_1 = \\frac{\\delta - \\mu - z\\sigma}{\\mathrm{SE}},\\qquad
              \\beta_2 \\text{ likewise with } \\tau_2 = \\frac{\\delta + \\mu - z\\sigma}
              {\\mathrm{SE}},

    :math:`T_{\\nu}(\\cdot;\\tau)` the noncentral t distribution function, and the power is
    :math:`1 - \\beta_1 - \\beta_2` (their equation 5). The search evaluates this power over
    a whole range of :math:`n` at once and returns the smallest :math:`n` reaching the
    target.

    Lu et al.'s worked example (their Section 5; also MedCalc's manual) reports 83 pairs for
    a mean 0.001167, SD 0.001129 and margin 0.004; equation 5 gives 79, as do PASS and R
    ``SimplyAgree::blandPowerCurve`` (SimplyAgree issue #44): the published 83 seems to come
    from an approximation, and this function follows equation 5. The intervals are the
    approximate ones; :func:`validation.stats.agreement.bland_altman` reports exact ones by
    default, which are slightly wider for small n, so plan with some margin.

    References
    ----------
    .. [1] Lu MJ, Zhong WH, Liu YX, Miao HZ, Li YC, Ji MH. Sample size for assessing
       agreement between two methods of measurement by Bland-Altman method. Int J Biostat.
       2016;12(2):20150039. doi:10.1515/ijb-2015-0039.
    .. [2] Bland JM, Altman DG. Measuring agreement in method comparison studies. Stat
       Methods Med Res. 1999;8(2):135-160.

    Examples
    --------
    R SimplyAgree's documented example (mean 0, SD 3.3, margin 8):

    >>> sample_size_bland_altman(0.0, 3.3, 8.0).n
    145
    >>> res = sample_size_bland_altman(0.001167, 0.001129, 0.004, loa_multiplier=1.959964)
    >>> res.n, round(res.achieved_power, 4)
    (79, 0.8023)
    """
    mu, sd, margin, level, multiplier = _check_agreement_inputs(
        mean_diff, sd_diff, delta, confidence, loa_multiplier
    )
    target = check_open_unit(power, "power", "0.8")

    def curve(sizes: NDArray[np.float64]) -> NDArray[np.float64]:
        return _lu_power(sizes, mu, sd, margin, level, multiplier)

    # Double an upper bound until it reaches the power, then search every n below it at once.
    high = 64
    while float(curve(np.array([float(high)]))[0]) < target:
        if high > _N_LIMIT:
            raise ValueError(
                f"more than {_N_LIMIT:,} pairs would be needed for power={target} with "
                f"delta={margin:.6g} against limits at {abs(mu) + multiplier * sd:.6g}."
            )
        high *= 2
    low = 2 if high <= 65_536 else high // 2
    sizes = np.arange(low, high + 1, dtype=np.float64)
    powers = curve(sizes)
    index = int(np.argmax(powers >= target))
    return BlandAltmanSampleSize(
        n=int(sizes[index]),
        achieved_power=float(powers[index]),
        mean_diff=mu,
        sd_diff=sd,
        delta=margin,
        confidence=level,
        power=target,
        loa_multiplier=multiplier,
    )
