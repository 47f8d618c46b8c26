"""Confidence intervals for a single binomial proportion.

Also defines the two result types shared by the whole :mod:`validation.stats` package:
:class:`Interval` (a confidence interval) and :class:`Estimate` (a point estimate with its
interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from scipy import stats

from validation.stats._checks import check_choice, check_confidence, check_successes_n

__all__ = [
    "Estimate",
    "Interval",
    "ProportionMethod",
    "clopper_pearson_interval",
    "proportion_interval",
    "wilson_interval",
]

ProportionMethod = Literal["wilson", "clopper-pearson"]
_PROPORTION_METHODS: tuple[ProportionMethod, ...] = get_args(ProportionMethod)


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval.

    Attributes
    ----------
    low, high : float
        Lower and upper confidence limits. Either may be NaN (undefined) or infinite.
    confidence : float
        Nominal two-sided confidence level, in (0, 1).
    method : str
        Name of the method that produced the interval (e.g. ``"wilson"``).
    """

    low: float
    high: float
    confidence: float
    method: str


@dataclass(frozen=True)
class Estimate:
    """A point estimate together with its confidence interval.

    Attributes
    ----------
    estimate : float
        The point estimate; NaN when the quantity is undefined for the data.
    ci : Interval
        Its confidence interval.
    """

    estimate: float
    ci: Interval


def _z(confidence: float) -> float:
    """Two-sided standard normal critical value, e.g. 1.95996... for 0.95."""
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion (no continuity correction).

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= n``.
    n : int
        Number of trials, at least 1.
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).

    Returns
    -------
    Interval
        The interval, with ``method="wilson"``.

    Notes
    -----
    The interval inverts the score test of :math:`H_0: p = p_0` (Wilson 1927):

    .. math::

        \\frac{\\hat p + z^2/(2n) \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/(4n^2)}}{1 + z^2/n}

    with :math:`z` the :math:`1-\\alpha/2` standard normal quantile. It is Newcombe's (1998)
    method 3. Use it as the default interval for sensitivity, specificity and other
    proportions: its coverage is close to nominal *on average* over :math:`p`, with
    occasional dips below nominal at some :math:`p` (notably very near 0 or 1), and its
    limits never leave [0, 1] nor collapse to zero width at 0/n or n/n. When coverage must
    be at least nominal for every :math:`p` (e.g. a regulatory acceptance criterion judged
    on the lower limit), use :func:`clopper_pearson_interval` instead.

    References
    ----------
    .. [1] Wilson EB. Probable inference, the law of succession, and statistical inference.
       J Am Stat Assoc. 1927;22(158):209-212.
    .. [2] Newcombe RG. Two-sided confidence intervals for the single proportion:
       comparison of seven methods. Stat Med. 1998;17(8):857-872.

    Examples
    --------
    Newcombe (1998), Table I, 81 successes out of 263:

    >>> ci = wilson_interval(81, 263)
    >>> round(ci.low, 4), round(ci.high, 4)
    (0.2553, 0.3662)
    >>> wilson_interval(0, 20).low
    0.0
    """
    x, size = check_successes_n(successes, n)
    level = check_confidence(confidence)
    z = _z(level)
    p = x / size
    z2 = z * z
    denominator = 1.0 + z2 / size
    centre = (p + z2 / (2.0 * size)) / denominator
    half_width = z * math.sqrt(p * (1.0 - p) / size + z2 / (4.0 * size * size)) / denominator
    low = 0.0 if x == 0 else max(0.0, centre - half_width)
    high = 1.0 if x == size else min(1.0, centre + half_width)
    return Interval(low=low, high=high, confidence=level, method="wilson")


def clopper_pearson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    """Clopper-Pearson "exact" interval for a binomial proportion.

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= n``.
    n : int
        Number of trials, at least 1.
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).

    Returns
    -------
    Interval
        The interval, with ``method="clopper-pearson"``.

    Notes
    -----
    The limits invert two one-sided binomial tests, each at level :math:`\\alpha/2`, and are
    computed from beta quantiles:
    :math:`p_L = B^{-1}(\\alpha/2;\\, x, n-x+1)` and
    :math:`p_U = B^{-1}(1-\\alpha/2;\\, x+1, n-x)`, with :math:`p_L = 0` when :math:`x = 0`
    and :math:`p_U = 1` when :math:`x = n` (Newcombe's 1998 method 5). Its coverage is at
    least the nominal level for every true :math:`p`, at the price of being conservative
    (wider than Wilson on average). Prefer it when a guaranteed minimum coverage matters
    more than width.

    References
    ----------
    .. [1] Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in
       the case of the binomial. Biometrika. 1934;26(4):404-413.
    .. [2] Newcombe RG. Two-sided confidence intervals for the single proportion:
       comparison of seven methods. Stat Med. 1998;17(8):857-872.

    Examples
    --------
    Newcombe (1998), Table I, 1 success out of 29:

    >>> ci = clopper_pearson_interval(1, 29)
    >>> round(ci.low, 4), round(ci.high, 4)
    (0.0009, 0.1776)
    >>> clopper_pearson_interval(20, 20).high
    1.0
    """
    x, size = check_successes_n(successes, n)
    level = check_confidence(confidence)
    alpha = 1.0 - level
    low = 0.0 if x == 0 else float(stats.beta.ppf(alpha / 2.0, x, size - x + 1))
    high = 1.0 if x == size else float(stats.beta.ppf(1.0 - alpha / 2.0, x + 1, size - x))
    return Interval(low=low, high=high, confidence=level, method="clopper-pearson")


def proportion_interval(
    successes: int,
    n: int,
    *,
    confidence: float = 0.95,
    method: ProportionMethod = "wilson",
) -> Interval:
    """Confidence interval for a binomial proportion by a named method.

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= n``.
    n : int
        Number of trials, at least 1.
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).
    method : {"wilson", "clopper-pearson"}, default "wilson"
        ``"wilson"`` calls :func:`wilson_interval`; ``"clopper-pearson"`` calls
        :func:`clopper_pearson_interval`.

    Returns
    -------
    Interval
        The interval; its ``method`` attribute records the method used.

    Notes
    -----
    A dispatcher so that the method can come from a pre-registered analysis plan. See the two
    functions it calls for when to use each and their coverage behaviour.

    References
    ----------
    .. [1] Newcombe RG. Two-sided confidence intervals for the single proportion:
       comparison of seven methods. Stat Med. 1998;17(8):857-872.

    Examples
    --------
    >>> proportion_interval(15, 148, method="clopper-pearson").method
    'clopper-pearson'
    >>> ci = proportion_interval(15, 148)
    >>> round(ci.low, 4), round(ci.high, 4)
    (0.0624, 0.1605)
    """
    chosen = check_choice(method, "method", _PROPORTION_METHODS)
    if chosen == "wilson":
        return wilson_interval(successes, n, confidence=confidence)
    return clopper_pearson_interval(successes, n, confidence=confidence)
