"""Pooling per-site estimates: random-effects meta-analysis and leave-one-site-out.

A multi-site validation gives one estimate per site (a log odds ratio, a logit sensitivity, a
mean difference...) with its sampling variance. :func:`random_effects` pools them with the
inverse-variance random-effects model (DerSimonian-Laird or REML between-site variance, as in
R ``metafor::rma.uni``), reports heterogeneity (Cochran's Q, I², H², tau² with its Q-profile
interval), a prediction interval for the effect at a new site, and a pre-declared
poolability flag. :func:`leave_one_out` refits the model with each site omitted in turn (as
``metafor::leave1out``) to show how much each site drives the pooled result.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from validation.stats._checks import (
    check_choice,
    check_confidence,
    check_labels,
    check_open_unit,
    check_paired,
)
from validation.stats.proportions import Interval

__all__ = [
    "PoolMethod",
    "PoolTest",
    "PredictionMethod",
    "RandomEffectsPool",
    "leave_one_out",
    "random_effects",
]

PoolMethod = Literal["REML", "DL", "FE"]
PoolTest = Literal["z", "knha"]
PredictionMethod = Literal["higgins", "normal"]
_METHODS: tuple[PoolMethod, ...] = get_args(PoolMethod)
_TESTS: tuple[PoolTest, ...] = get_args(PoolTest)
_PREDICTIONS: tuple[PredictionMethod, ...] = get_args(PredictionMethod)

_REML_TOL = 1e-10  # Fisher-scoring stopping threshold (metafor's default is 1e-5)
_REML_MAXITER = 100  # metafor's default maximum number of iterations

_LOO_COLUMNS: tuple[str, ...] = (
    "omitted",
    "k",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "tau2",
    "i2",
    "h2",
    "q",
    "q_df",
    "q_p",
    "confidence",
    "method",
    "test",
)


@dataclass(frozen=True)
class RandomEffectsPool:
    """Result of :func:`random_effects`.

    Attributes
    ----------
    estimate : float
        Pooled estimate (the mean of the distribution of true site effects; for
        ``method="FE"`` the common effect).
    se : float
        Its standard error (Hartung-Knapp SE when ``test="knha"``).
    ci : Interval
        Confidence interval of ``estimate``; ``method`` is ``"z"`` or ``"knha"``.
    statistic : float
        Test statistic for ``estimate = 0`` (z, or t with ``df`` degrees of freedom).
    p_value : float
        Two-sided p-value of that test.
    df : float
        Degrees of freedom of the t test (``k - 1``) for ``test="knha"``; NaN for ``"z"``.
    tau2, tau : float
        Estimated between-site variance and its square root (0 for ``method="FE"``).
    tau2_ci : Interval
        Q-profile interval for tau² (Viechtbauer 2007); NaN limits for ``method="FE"``.
    i2 : float
        I² as a **proportion** in [0, 1] (metafor prints it as a percent): the share of the
        total variability that is between-site heterogeneity.
    i2_ci, h2_ci : Interval
        I² and H² at the limits of ``tau2_ci``; NaN limits for ``method="FE"``.
    h2 : float
        H², total variability over sampling variability (>= 1 for random-effects methods).
    q : float
        Cochran's Q (inverse-variance weighted sum of squares about the fixed-effect mean).
    q_df : int
        Its degrees of freedom, ``k - 1``.
    q_p : float
        p-value of Cochran's Q test of homogeneity (chi-square on ``q_df`` df).
    prediction_interval : Interval
        Interval expected to contain the true effect at a new site; NaN limits for
        ``method="FE"`` or when undefined (``prediction="higgins"`` with k = 2).
    k : int
        Number of sites.
    weights : tuple of float
        Each site's share of the total weight (sums to 1), in input order.
    labels : tuple of str
        Site labels, in input order.
    method, test, prediction : str
        Estimator of tau², test for the pooled estimate, prediction-interval method.
    confidence : float
        Two-sided level of every interval.
    poolable : bool
        False when Cochran's Q test gives ``q_p < q_alpha`` or when ``i2 > i2_threshold``.
    poolability_reason : str
        Human-readable statement of the rule's outcome.
    q_alpha, i2_threshold : float
        The thresholds the poolability rule used.
    """

    estimate: float
    se: float
    ci: Interval
    statistic: float
    p_value: float
    df: float
    tau2: float
    tau: float
    tau2_ci: Interval
    i2: float
    i2_ci: Interval
    h2: float
    h2_ci: Interval
    q: float
    q_df: int
    q_p: float
    prediction_interval: Interval
    k: int
    weights: tuple[float, ...]
    labels: tuple[str, ...]
    method: str
    test: str
    prediction: str
    confidence: float
    poolable: bool
    poolability_reason: str
    q_alpha: float
    i2_threshold: float


# --------------------------------------------------------------------------- input checks


def _check_inputs(
    estimates: ArrayLike, variances: ArrayLike, labels: Sequence[Any] | None, min_k: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[str, ...]]:
    y, v = check_paired(estimates, variances, "estimates", "variances")
    k = int(y.shape[0])
    if k < min_k:
        raise ValueError(
            f"estimates must hold at least {min_k} sites to pool"
            f"{' and leave one out' if min_k > 2 else ''}; got k={k}."
        )
    if (v <= 0.0).any():
        first = int(np.flatnonzero(v <= 0.0)[0])
        raise ValueError(
            f"variances must all be positive (sampling variances of the site estimates); "
            f"found {int((v <= 0.0).sum())} value(s) <= 0, the first at index {first} "
            f"({v[first]})."
        )
    if labels is None:
        names = tuple(str(i) for i in range(1, k + 1))
    else:
        names = check_labels(labels, k, "site names", "estimates")
    return y, v, names


# --------------------------------------------------------------------------- estimators


def _weighted_mean(y: NDArray[np.float64], w: NDArray[np.float64]) -> float:
    return float(w @ y / w.sum())


def _cochran_q(y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    w = 1.0 / v
    return float(w @ (y - _weighted_mean(y, w)) ** 2)


def _tau2_dl(y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """DerSimonian & Laird (1986) moment estimator, truncated at 0."""
    w = 1.0 / v
    c = float(w.sum() - (w @ w) / w.sum())
    return max(0.0, (_cochran_q(y, v) - (len(y) - 1)) / c)


def _reml_loglik(tau2: float, y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """Restricted log-likelihood of the intercept-only random-effects model (no constant)."""
    w = 1.0 / (v + tau2)
    mu = _weighted_mean(y, w)
    return float(-0.5 * (np.log(v + tau2).sum() + math.log(w.sum()) + w @ (y - mu) ** 2))


def _tau2_reml(y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """REML estimate of tau² by Fisher scoring with step halving, as ``metafor::rma.uni``.

    The update is ``tau2 += (y'PPy - tr P) / tr(PP)`` (Viechtbauer 2005) with
    ``P = W - w w' / sum(w)``; for the intercept-only model ``Py = w * (y - mu)`` so no
    k x k matrix is formed. Steps that would cross 0 are halved; iteration stops when the
    change is below 1e-10. As in metafor, tau² = 0 is returned when the restricted
    likelihood is higher there (metafor's default threshold is 1e-5, looser than the
    1e-10 used here). If scoring fails to converge (rare), the restricted likelihood is
    maximised numerically instead, with a warning.
    """
    tau2 = max(0.0, float(np.var(y, ddof=1) - v.mean()))  # Hedges-type starting value
    converged = False
    for _ in range(_REML_MAXITER):
        w = 1.0 / (v + tau2)
        sw = w.sum()
        resid = y - _weighted_mean(y, w)
        trace_p = sw - (w @ w) / sw
        trace_pp = (w @ w) - 2.0 * (w**2 @ w) / sw + ((w @ w) / sw) ** 2
        adj = float((w**2 @ resid**2 - trace_p) / trace_pp)
        if tau2 == 0.0 and adj <= 0.0:
            converged = True  # the maximum is on the boundary
            break
        while tau2 + adj < 0.0:
            adj /= 2.0
        tau2 += adj
        if abs(adj) < _REML_TOL:
            converged = True
            break
    if not converged:
        warnings.warn(
            f"Fisher scoring for the REML estimate of tau^2 did not converge in "
            f"{_REML_MAXITER} iterations; maximising the restricted likelihood numerically.",
            RuntimeWarning,
            stacklevel=4,
        )
        upper = 10.0 * max(float(np.var(y, ddof=1)), float(v.max()), 1e-12)
        fit = optimize.minimize_scalar(
            lambda t: -_reml_loglik(t, y, v),
            bounds=(0.0, upper),
            method="bounded",
            options={"xatol": _REML_TOL},
        )
        tau2 = float(fit.x)
    if tau2 > 0.0 and _reml_loglik(0.0, y, v) > _reml_loglik(tau2, y, v):
        tau2 = 0.0
    return tau2


def _generalized_q(tau2: float, y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    w = 1.0 / (v + tau2)
    return float(w @ (y - _weighted_mean(y, w)) ** 2)


def _q_profile(y: NDArray[np.float64], v: NDArray[np.float64], confidence: float) -> Interval:
    """Q-profile interval for tau² (Viechtbauer 2007), as ``metafor::confint.rma.uni``.

    The generalised Q statistic ``Q(t) = sum (y - mu_t)^2 / (v + t)`` decreases in t and is
    chi-square on k - 1 df at the true tau². The limits solve ``Q(t) = chi2(1 - a/2)``
    (lower) and ``Q(t) = chi2(a/2)`` (upper); a limit is 0 when ``Q(0)`` is already below
    its target.
    """
    df = y.shape[0] - 1
    alpha = 1.0 - confidence
    limits: list[float] = []
    for target in (stats.chi2.ppf(1.0 - alpha / 2.0, df), stats.chi2.ppf(alpha / 2.0, df)):
        if _generalized_q(0.0, y, v) <= target:
            limits.append(0.0)
            continue
        upper = max(1.0, float(np.var(y, ddof=1)))
        while _generalized_q(upper, y, v) > target:
            upper *= 2.0
        limits.append(
            float(
                optimize.brentq(
                    lambda t, c=target: _generalized_q(t, y, v) - c,
                    0.0,
                    upper,
                    xtol=1e-14,
                    rtol=1e-12,
                )
            )
        )
    return Interval(limits[0], limits[1], confidence, "q-profile")


# --------------------------------------------------------------------------- the model


def _fit(
    y: NDArray[np.float64],
    v: NDArray[np.float64],
    method: str,
    test: str,
    prediction: str,
    level: float,
) -> dict[str, Any]:
    """Fit the intercept-only model; returns the fields shared by both public functions."""
    k = int(y.shape[0])
    q = _cochran_q(y, v)
    q_df = k - 1
    q_p = float(stats.chi2.sf(q, q_df))

    if method == "REML":
        tau2 = float(_tau2_reml(y, v))
    elif method == "DL":
        tau2 = float(_tau2_dl(y, v))
    else:
        tau2 = 0.0

    w = 1.0 / (v + tau2)
    mu = _weighted_mean(y, w)
    se = math.sqrt(1.0 / w.sum())
    df = math.nan
    if test == "knha":
        # Hartung & Knapp (2001): scale the variance by the weighted residual mean square.
        se *= math.sqrt(float(w @ (y - mu) ** 2) / (k - 1))
        df = float(k - 1)
        crit = float(stats.t.ppf(0.5 + level / 2.0, df))
    else:
        crit = float(stats.norm.ppf(0.5 + level / 2.0))
    if se > 0.0:
        statistic = mu / se
        dist = stats.t(df) if test == "knha" else stats.norm()
        p_value = float(2.0 * dist.sf(abs(statistic)))
    else:  # all estimates identical with test="knha"
        statistic = math.nan
        p_value = math.nan
    ci = Interval(mu - crit * se, mu + crit * se, level, test)

    w_fixed = 1.0 / v
    if method == "FE":
        i2 = 0.0 if q <= 0.0 else max(0.0, (q - q_df) / q)
        h2 = q / q_df
        nan_ci = Interval(math.nan, math.nan, level, "q-profile")
        tau2_ci = i2_ci = h2_ci = nan_ci
        pi = Interval(math.nan, math.nan, level, "none")
    else:
        # "Typical" within-site variance (Higgins & Thompson 2002), as metafor.
        s2 = float(q_df * w_fixed.sum() / (w_fixed.sum() ** 2 - (w_fixed @ w_fixed)))
        i2 = tau2 / (tau2 + s2)
        h2 = (tau2 + s2) / s2
        tau2_ci = _q_profile(y, v, level)
        i2_ci = Interval(
            tau2_ci.low / (tau2_ci.low + s2), tau2_ci.high / (tau2_ci.high + s2), level, "q-profile"
        )
        h2_ci = Interval((tau2_ci.low + s2) / s2, (tau2_ci.high + s2) / s2, level, "q-profile")
        pi = _prediction_interval(mu, se, tau2, k, crit, prediction, level)

    return {
        "estimate": mu,
        "se": se,
        "ci": ci,
        "statistic": statistic,
        "p_value": p_value,
        "df": df,
        "tau2": tau2,
        "tau": math.sqrt(tau2),
        "tau2_ci": tau2_ci,
        "i2": i2,
        "i2_ci": i2_ci,
        "h2": h2,
        "h2_ci": h2_ci,
        "q": q,
        "q_df": q_df,
        "q_p": q_p,
        "prediction_interval": pi,
        "weights": tuple(float(x) for x in w / w.sum()),
    }


def _prediction_interval(
    mu: float, se: float, tau2: float, k: int, crit: float, prediction: str, level: float
) -> Interval:
    half_se = math.sqrt(se * se + tau2)
    if prediction == "normal":
        # metafor's default: the critical value of the test (z, or t(k-1) with knha).
        return Interval(mu - crit * half_se, mu + crit * half_se, level, "normal")
    if k < 3:
        warnings.warn(
            f"The Higgins et al. (2009) prediction interval needs k >= 3 sites (t on k - 2 df); "
            f"got k={k}, so it is NaN.",
            RuntimeWarning,
            stacklevel=4,
        )
        return Interval(math.nan, math.nan, level, "higgins")
    t_crit = float(stats.t.ppf(0.5 + level / 2.0, k - 2))
    return Interval(mu - t_crit * half_se, mu + t_crit * half_se, level, "higgins")


def _poolability(q_p: float, i2: float, q_alpha: float, i2_threshold: float) -> tuple[bool, str]:
    q_text = f"Cochran's Q test p = {q_p:.3g}"
    i2_text = f"I^2 = {100.0 * i2:.1f}%"
    problems = []
    if q_p < q_alpha:
        problems.append(f"{q_text} < {q_alpha:g}")
    if i2 > i2_threshold:
        problems.append(f"{i2_text} > {100.0 * i2_threshold:g}%")
    if problems:
        return False, "not poolable: " + "; ".join(problems) + "."
    return True, (f"poolable: {q_text} >= {q_alpha:g} and {i2_text} <= {100.0 * i2_threshold:g}%.")


def random_effects(
    estimates: ArrayLike,
    variances: ArrayLike,
    *,
    method: PoolMethod = "REML",
    test: PoolTest = "z",
    prediction: PredictionMethod = "higgins",
    confidence: float = 0.95,
    labels: Sequence[Any] | None = None,
    q_alpha: float = 0.10,
    i2_threshold: float = 0.50,
) -> RandomEffectsPool:
    """Inverse-variance random-effects pooling of per-site estimates.

    Parameters
    ----------
    estimates : array-like of shape (k,)
        One estimate per site, on a scale where it is roughly normal (log odds ratio, logit
        of a proportion, mean difference...).
    variances : array-like of shape (k,)
        Their sampling variances (squared standard errors), all > 0.
    method : {"REML", "DL", "FE"}, default "REML"
        Estimator of the between-site variance tau²: restricted maximum likelihood
        (Viechtbauer 2005), DerSimonian & Laird (1986), or ``"FE"`` for a fixed (common)
        effect model with tau² = 0.
    test : {"z", "knha"}, default "z"
        Interval and test for the pooled estimate: normal (metafor's default) or
        Hartung-Knapp (t on k - 1 df with a rescaled SE; metafor ``test="knha"``).
    prediction : {"higgins", "normal"}, default "higgins"
        Prediction interval: ``"higgins"`` uses t on k - 2 df (Higgins, Thompson &
        Spiegelhalter 2009; metafor ``predict(..., pi.type="Riley")``); ``"normal"`` uses the
        critical value of ``test`` (z, or t on k - 1 df with ``"knha"``), metafor's default.
    confidence : float, default 0.95
        Two-sided level of the confidence, Q-profile and prediction intervals.
    labels : sequence, optional
        Unique site names (default "1", "2", ...).
    q_alpha : float, default 0.10
        Sites are flagged not poolable when Cochran's Q test gives p < ``q_alpha``. 0.10 is
        the conventional level for this low-powered test (Cochran 1954; Deeks et al. 2022).
    i2_threshold : float, default 0.50
        Sites are flagged not poolable when I² (a proportion) exceeds this value; 0.50 is
        the conventional boundary of "substantial" heterogeneity (Higgins et al. 2003).

    Returns
    -------
    RandomEffectsPool
        Pooled estimate with interval and test, heterogeneity statistics, prediction
        interval, site weights and the poolability flag.

    Raises
    ------
    ValueError
        On fewer than 2 sites, unequal lengths, NaN or infinite values, a variance <= 0,
        duplicated labels, or a ``confidence``, ``q_alpha`` or ``i2_threshold`` outside
        (0, 1); on an unknown ``method``, ``test`` or ``prediction``.
    TypeError
        On non-numeric data.

    Warns
    -----
    RuntimeWarning
        When the Higgins prediction interval is undefined (k = 2), or when REML Fisher
        scoring does not converge (the likelihood is then maximised numerically).

    Notes
    -----
    Use it to summarise site-level performance when sites are a sample of the sites where
    the device will be used: the pooled estimate is then the mean of the site effects, and
    the **prediction interval** (where a new site's true effect is expected to fall) is
    the quantity that speaks to transportability. With few sites every between-site
    quantity is imprecise: report ``tau2_ci``, prefer ``test="knha"`` (the z interval is
    too narrow when k is small and heterogeneity is present; IntHout et al. 2014), and
    read ``poolable`` as a pre-declared screen, not a proof of homogeneity (Cochran's Q has
    little power with few sites, which is why its conventional level is 0.10).

    Model: ``y_i ~ N(mu, v_i + tau²)``. With weights ``w_i = 1 / (v_i + tau²)`` the pooled
    estimate is ``mu = sum(w y) / sum(w)`` with ``SE = 1 / sqrt(sum w)``.

    *DL*: ``tau² = max(0, (Q - (k - 1)) / (sum w0 - sum w0² / sum w0))`` with
    ``w0 = 1 / v`` and ``Q = sum w0 (y - mu0)²`` (Cochran's Q about the fixed-effect mean).

    *REML*: Fisher scoring ``tau² += (y'PPy - tr P) / tr(PP)``, ``P = W - W 1 1'W / sum w``,
    with step halving at the 0 boundary (Viechtbauer 2005; the algorithm of
    ``metafor::rma.uni``), stopped when the step is < 1e-10 (metafor's default threshold
    is 1e-5, so its tau² may differ from this one by ~1e-7).

    *Hartung-Knapp*: ``SE_HK = SE * sqrt(sum w (y - mu)² / (k - 1))`` and t quantiles on
    k - 1 df (Hartung & Knapp 2001), without the ad hoc truncation at 1.

    *Heterogeneity*: I² and H² follow metafor: ``I² = tau² / (tau² + s²)`` and
    ``H² = (tau² + s²) / s²`` with the typical within-site variance
    ``s² = (k - 1) sum w0 / ((sum w0)² - sum w0²)`` (Higgins & Thompson 2002). For DL this
    equals ``(Q - (k - 1)) / Q``; for ``method="FE"`` I² is ``max(0, (Q - df) / Q)`` and
    H² is ``Q / df``. The tau² interval is the Q-profile interval (Viechtbauer 2007); the
    I² and H² intervals are their values at its limits.

    *Prediction interval*: ``mu -/+ c * sqrt(SE² + tau²)``, with c the t quantile on k - 2
    df (``"higgins"``, the default, as Deeks et al. 2022 recommend) or the test's
    critical value (``"normal"``). The normal version ignores the uncertainty in tau² and
    undercovers with few sites (Partlett & Riley 2017).

    References
    ----------
    .. [1] DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials.
       1986;7(3):177-188.
    .. [2] Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in the
       random-effects model. J Educ Behav Stat. 2005;30(3):261-293.
    .. [3] Viechtbauer W. Confidence intervals for the amount of heterogeneity in
       meta-analysis. Stat Med. 2007;26(1):37-52.
    .. [4] Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat
       Softw. 2010;36(3):1-48.
    .. [5] Hartung J, Knapp G. On tests of the overall treatment effect in meta-analysis
       with normally distributed responses. Stat Med. 2001;20(12):1771-1782.
    .. [6] Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med.
       2002;21(11):1539-1558.
    .. [7] Higgins JPT, Thompson SG, Deeks JJ, Altman DG. Measuring inconsistency in
       meta-analyses. BMJ. 2003;327(7414):557-560.
    .. [8] Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects
       meta-analysis. J R Stat Soc Ser A. 2009;172(1):137-159.
    .. [9] Cochran WG. The combination of estimates from different experiments. Biometrics.
       1954;10(1):101-129.
    .. [10] IntHout J, Ioannidis JPA, Borm GF. The Hartung-Knapp-Sidik-Jonkman method for
       random effects meta-analysis is straightforward and considerably outperforms the
       standard DerSimonian-Laird method. BMC Med Res Methodol. 2014;14:25.
    .. [11] Partlett C, Riley RD. Random effects meta-analysis: coverage performance of 95%
       confidence and prediction intervals following REML estimation. Stat Med.
       2017;36(2):301-317.
    .. [12] Deeks JJ, Higgins JPT, Altman DG. Chapter 10: Analysing data and undertaking
       meta-analyses. In: Higgins JPT et al., eds. Cochrane Handbook for Systematic Reviews
       of Interventions, version 6.3. Cochrane; 2022.

    Examples
    --------
    BCG vaccine trials (R ``metafor::dat.bcg``), log risk ratios and variances as printed
    by ``escalc(measure="RR", ...)`` in the metafor README:

    >>> yi = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120,
    ...       -0.4694, -1.3713, -0.3394, 0.4459, -0.0173]
    >>> vi = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564,
    ...       0.0730, 0.0124, 0.5325, 0.0714]
    >>> res = random_effects(yi, vi)
    >>> round(res.estimate, 2), round(res.tau2, 2), round(res.i2, 2), res.q_df
    (-0.71, 0.31, 0.92, 12)
    >>> res.poolable
    False
    >>> res.prediction_interval.method
    'higgins'
    """
    chosen_method = check_choice(method, "method", _METHODS)
    chosen_test = check_choice(test, "test", _TESTS)
    chosen_prediction = check_choice(prediction, "prediction", _PREDICTIONS)
    level = check_confidence(confidence)
    q_level = check_open_unit(q_alpha, "q_alpha")
    i2_level = check_open_unit(i2_threshold, "i2_threshold")
    y, v, names = _check_inputs(estimates, variances, labels, min_k=2)

    fit = _fit(y, v, chosen_method, chosen_test, chosen_prediction, level)
    poolable, reason = _poolability(fit["q_p"], fit["i2"], q_level, i2_level)
    return RandomEffectsPool(
        **fit,
        k=int(y.shape[0]),
        labels=names,
        method=chosen_method,
        test=chosen_test,
        prediction=chosen_prediction,
        confidence=level,
        poolable=poolable,
        poolability_reason=reason,
        q_alpha=q_level,
        i2_threshold=i2_level,
    )


def leave_one_out(
    estimates: ArrayLike,
    variances: ArrayLike,
    *,
    labels: Sequence[Any] | None = None,
    method: PoolMethod = "REML",
    test: PoolTest = "z",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Refit the pooled model with each site left out in turn (``metafor::leave1out``).

    Parameters
    ----------
    estimates, variances : array-like of shape (k,)
        Site estimates and their sampling variances (> 0), as for :func:`random_effects`.
    labels : sequence, optional
        Unique site names, used in the ``omitted`` column (default "1", "2", ...).
    method : {"REML", "DL", "FE"}, default "REML"
        Estimator of tau² for each refit.
    test : {"z", "knha"}, default "z"
        Interval for each refitted pooled estimate.
    confidence : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per omitted site, in input order, with columns ``omitted, k, estimate, se,
        ci_low, ci_high, tau2, i2, h2, q, q_df, q_p, confidence, method, test``; ``k`` is
        the number of sites in the refit (k - 1) and ``i2`` is a proportion.

    Raises
    ------
    ValueError
        On fewer than 3 sites (each refit needs 2), and on the input errors of
        :func:`random_effects`.
    TypeError
        On non-numeric data.

    Notes
    -----
    A sensitivity analysis: a site whose omission moves the pooled estimate outside the
    full-data interval, or removes most of the heterogeneity, deserves a look (data
    problem, different population or acquisition protocol). It is descriptive; the rows are
    not independent and no multiplicity control is implied.

    References
    ----------
    .. [1] Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis.
       Res Synth Methods. 2010;1(2):112-125.

    Examples
    --------
    >>> table = leave_one_out([0.1, 0.3, 0.2, 0.9], [0.01, 0.02, 0.015, 0.02],
    ...                       labels=["A", "B", "C", "D"])
    >>> list(table["omitted"])
    ['A', 'B', 'C', 'D']
    >>> bool(table.loc[table["omitted"] == "D", "tau2"].iloc[0] < 0.01)
    True
    """
    chosen_method = check_choice(method, "method", _METHODS)
    chosen_test = check_choice(test, "test", _TESTS)
    level = check_confidence(confidence)
    y, v, names = _check_inputs(estimates, variances, labels, min_k=3)

    keep = ~np.eye(y.shape[0], dtype=bool)
    rows = []
    for index, name in enumerate(names):
        fit = _fit(y[keep[index]], v[keep[index]], chosen_method, chosen_test, "normal", level)
        rows.append(
            {
                "omitted": name,
                "k": y.shape[0] - 1,
                "estimate": fit["estimate"],
                "se": fit["se"],
                "ci_low": fit["ci"].low,
                "ci_high": fit["ci"].high,
                "tau2": fit["tau2"],
                "i2": fit["i2"],
                "h2": fit["h2"],
                "q": fit["q"],
                "q_df": fit["q_df"],
                "q_p": fit["q_p"],
                "confidence": level,
                "method": chosen_method,
                "test": chosen_test,
            }
        )
    return pd.DataFrame(rows, columns=list(_LOO_COLUMNS))
