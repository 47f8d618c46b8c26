"""Tests for validation.stats.agreement (Bland-Altman) against published values.

Sources:

* Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of
  clinical measurement. Lancet 1986;1(8476):307-310. Table 1: peak expiratory flow rate
  (l/min) of 17 subjects; first reading with the Wright and with the mini Wright meter
  (transcribed identically in R packages blandr, ``bland.altman.PEFR.1986``, BlandAltmanLeh,
  ``bland.altman.PEFR``, and qwraps2, ``pefr``). The text gives: mean difference (Wright -
  mini) -2.1, SD 38.8, limits at 2 SD -79.7 and 75.5, SE of the mean difference 9.4 and its
  95% interval -22.0 to 17.8; SE of a limit sqrt(3 s^2/n) = 16.3, t(16) = 2.12, and intervals
  -114.3 to -45.1 (lower limit) and 40.9 to 110.1 (upper limit). These paper values are the
  assertions of blandr's test ``tests/testthat`` "Check blandr results are equal to original
  paper".
* Analyse-it tutorial "Estimating the average bias and the limits of agreement" (same data):
  95% limits (1.96 SD) 73.9 and 78.1 l/min either side with bias 2.1 (mini - Wright); i.e.
  -78.1 to 73.9 for Wright - mini.
* Montgomery DC, Runger GC. Applied Statistics and Probability for Engineers, 7th ed., Wiley
  2018, Appendix Table XII: one-sided normal tolerance factors k(n, P, gamma), as transcribed
  in the test suite of the Python package toleranceinterval (cjekel/tolerance_interval_py,
  tests/test_oneside_normal.py). Carkeet's (2015) exact interval for a single limit of
  agreement is bias + sd * k with k this one-sided tolerance factor, so the table checks the
  exact method through the public API.
* Anscombe FJ. Graphs in statistical analysis. Am Stat 1973;27(1):17-21, data set I (also R
  ``datasets::anscombe``): regression of y on x has intercept 3.0, slope 0.5 and estimated
  SE of the slope 0.118 (n = 11). Used for the proportional-bias regression.

Not found: a published worked example of Carkeet's exact intervals on real data (the paper's
own numerical examples could not be retrieved). The exact method is therefore checked (a)
against the published one-sided tolerance-factor table above and (b) against an independent
computation of Carkeet's tolerance factor by numerical integration (no noncentral t).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from validation.stats import BlandAltman, Interval, bland_altman

WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


# --------------------------------------------------------------------------- Bland & Altman 1986


def test_bias_sd_and_limits_match_the_lancet_paper():
    """Bland & Altman (1986): bias -2.1, SD 38.8, limits (2 SD) -79.7 to 75.5 l/min."""
    res = bland_altman(WRIGHT, MINI, loa_multiplier=2.0)
    assert res.n == 17
    assert round(res.bias, 1) == -2.1
    assert round(res.sd, 1) == 38.8
    # The paper forms its limits from the rounded mean and SD: -2.1 -/+ 2 * 38.8.
    assert res.loa_low == pytest.approx(-79.7, abs=0.06)
    assert res.loa_high == pytest.approx(75.5, abs=0.1)


def test_limits_at_1_96_sd_match_analyse_it():
    """Analyse-it tutorial on the same data: limits -78.1 to 73.9 (Wright - mini)."""
    res = bland_altman(WRIGHT, MINI)
    assert (round(res.loa_low, 1), round(res.loa_high, 1)) == (-78.1, 73.9)


def test_bias_interval_matches_the_lancet_paper():
    """Bland & Altman (1986): SE 9.4 and 95% CI -22.0 to 17.8 l/min for the bias."""
    res = bland_altman(WRIGHT, MINI)
    assert round(res.sd / math.sqrt(res.n), 1) == 9.4
    assert (round(res.bias_ci.low, 1), round(res.bias_ci.high, 1)) == (-22.0, 17.8)
    assert res.bias_ci.method == "t"


def test_approximate_limit_intervals_match_the_lancet_paper():
    """Bland & Altman (1986): lower limit -114.3 to -45.1, upper 40.9 to 110.1 l/min.

    The paper computes by hand from rounded inputs (bias -2.1, SD 38.8, SE 16.3, t 2.12);
    the unrounded computation differs by at most 0.17 l/min, hence the 0.2 tolerance.
    """
    res = bland_altman(WRIGHT, MINI, loa_multiplier=2.0, ci_method="approximate")
    assert math.sqrt(3 * res.sd**2 / res.n) == pytest.approx(16.3, abs=0.05)
    assert (res.loa_low_ci.low, res.loa_low_ci.high) == pytest.approx((-114.3, -45.1), abs=0.2)
    assert (res.loa_high_ci.low, res.loa_high_ci.high) == pytest.approx((40.9, 110.1), abs=0.2)
    assert res.loa_low_ci.method == res.loa_high_ci.method == "approximate"


def test_differences_are_method_minus_reference():
    forward = bland_altman(WRIGHT, MINI)
    backward = bland_altman(MINI, WRIGHT)
    assert backward.bias == pytest.approx(-forward.bias)
    assert backward.loa_high == pytest.approx(-forward.loa_low)
    assert backward.loa_high_ci.low == pytest.approx(-forward.loa_low_ci.high)
    assert backward.sd == pytest.approx(forward.sd)


# ------------------------------------------------------------------- Carkeet (2015) exact method

# (n, P, gamma, k) from Montgomery & Runger (2018), Table XII (one-sided tolerance factors).
MONTGOMERY_RUNGER_TABLE_XII = [
    (10, 0.90, 0.95, 2.355),
    (10, 0.95, 0.95, 2.911),
    (10, 0.99, 0.99, 5.074),
    (17, 0.95, 0.95, 2.486),
    (17, 0.99, 0.90, 3.137),
    (20, 0.95, 0.99, 2.808),
    (30, 0.95, 0.95, 2.220),
    (100, 0.95, 0.95, 1.927),
]


def _sample(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.normal(10.0, 2.0, n)
    method = reference + rng.normal(0.3, 0.8, n)
    return method, reference


@pytest.mark.parametrize(("n", "p", "gamma", "k"), MONTGOMERY_RUNGER_TABLE_XII)
def test_exact_outer_limits_equal_published_one_sided_tolerance_factors(n, p, gamma, k):
    """Montgomery & Runger (2018) Table XII, via bland_altman(ci_method="exact").

    With loa_multiplier = z_P and confidence = 2*gamma - 1, the outer end of each limit's
    two-sided interval is the one-sided (P, gamma) tolerance limit bias +/- k * sd.
    The table prints 3 decimals.
    """
    method, reference = _sample(n)
    res = bland_altman(
        method,
        reference,
        loa_multiplier=float(stats.norm.ppf(p)),
        confidence=2 * gamma - 1,
        ci_method="exact",
    )
    assert (res.loa_high_ci.high - res.bias) / res.sd == pytest.approx(k, abs=5e-4 + 1e-9)
    assert (res.bias - res.loa_low_ci.low) / res.sd == pytest.approx(k, abs=5e-4 + 1e-9)


def _carkeet_factor_by_integration(n: int, z: float, gamma: float) -> float:
    """Independent computation of Carkeet's one-sided tolerance factor k.

    k solves P(dbar + k*s >= mu + z*sigma) = gamma for normal differences. With
    dbar = mu + sigma*Z/sqrt(n) and s = sigma*sqrt(W/nu), W ~ chi2(nu), this probability is
    E_W[Phi(sqrt(n) * (k*sqrt(W/nu) - z))], integrated numerically over the chi-square
    density (Carkeet 2015, eq. for limits considered individually). No noncentral t is used.
    """
    nu = n - 1

    def coverage(k: float) -> float:
        def integrand(w: float) -> float:
            return stats.norm.cdf(math.sqrt(n) * (k * math.sqrt(w / nu) - z)) * stats.chi2.pdf(
                w, nu
            )

        value, _ = integrate.quad(integrand, 0.0, np.inf, epsabs=1e-12, epsrel=1e-10, limit=200)
        return value - gamma

    return optimize.brentq(coverage, -50.0, 50.0, xtol=1e-12)


@pytest.mark.parametrize(("n", "confidence"), [(5, 0.95), (17, 0.95), (60, 0.90)])
def test_exact_intervals_match_independent_integration(n, confidence):
    """Both ends of both limits against the integral definition of the tolerance factor."""
    z = 1.96
    method, reference = _sample(n, seed=n)
    res = bland_altman(method, reference, confidence=confidence, loa_multiplier=z)
    alpha = 1 - confidence
    k_outer = _carkeet_factor_by_integration(n, z, 1 - alpha / 2)
    k_inner = _carkeet_factor_by_integration(n, z, alpha / 2)
    b, s = res.bias, res.sd
    assert res.loa_high_ci.low == pytest.approx(b + k_inner * s, rel=1e-6)
    assert res.loa_high_ci.high == pytest.approx(b + k_outer * s, rel=1e-6)
    assert res.loa_low_ci.low == pytest.approx(b - k_outer * s, rel=1e-6)
    assert res.loa_low_ci.high == pytest.approx(b - k_inner * s, rel=1e-6)


def test_exact_interval_is_wider_outwards_and_contains_the_limit():
    res = bland_altman(WRIGHT, MINI)
    for limit, ci in ((res.loa_low, res.loa_low_ci), (res.loa_high, res.loa_high_ci)):
        assert ci.low < limit < ci.high
    assert res.loa_high_ci.high - res.loa_high > res.loa_high - res.loa_high_ci.low
    assert res.loa_low - res.loa_low_ci.low > res.loa_low_ci.high - res.loa_low
    assert res.loa_high_ci.method == "exact" and res.loa_high_ci.confidence == 0.95


# --------------------------------------------------------------------------- proportional bias


def test_proportional_bias_regression_matches_anscombe_1973():
    """Anscombe (1973) set I: y = 3.0 + 0.5 x, SE(slope) = 0.118, n = 11.

    method and reference are built so that method - reference = y and their mean = x.
    """
    x = np.array([10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5], dtype=float)
    y = np.array([8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68])
    res = bland_altman(x + y / 2, x - y / 2)
    assert res.proportional_intercept == pytest.approx(3.0, abs=5e-4)
    assert res.proportional_slope == pytest.approx(0.5, abs=5e-4)
    t9 = stats.t.ppf(0.975, 9)
    half_width = (res.proportional_slope_ci.high - res.proportional_slope_ci.low) / 2
    assert half_width / t9 == pytest.approx(0.118, abs=5e-4)
    # p for slope = 0 from the published slope and SE: t = 0.5 / 0.118 on 9 df.
    assert res.proportional_p == pytest.approx(2 * stats.t.sf(0.5 / 0.118, 9), rel=0.02)
    assert res.proportional_slope_ci.method == "t"


def test_no_proportional_bias_when_differences_are_constant_shift():
    reference = np.linspace(1.0, 20.0, 12)
    method = reference + 2.0 + np.tile([0.1, -0.1], 6)
    res = bland_altman(method, reference)
    assert abs(res.proportional_slope) < 0.01
    assert res.proportional_p > 0.5


def test_constant_means_make_the_regression_nan_with_warning():
    method = np.array([1.0, 2.0, 3.0])
    reference = np.array([3.0, 2.0, 1.0])  # every pair mean is 2
    with pytest.warns(RuntimeWarning, match="same mean"):
        res = bland_altman(method, reference)
    assert math.isnan(res.proportional_slope) and math.isnan(res.proportional_p)
    assert res.bias == 0.0


def test_two_pairs_give_limits_but_nan_slope_inference():
    with pytest.warns(RuntimeWarning, match="n=2"):
        res = bland_altman([1.0, 2.5], [1.2, 2.0])
    assert res.n == 2 and math.isfinite(res.loa_high_ci.high)
    assert math.isnan(res.proportional_p)


# ------------------------------------------------------------------------------ API and errors


def test_result_types_are_frozen():
    res = bland_altman(WRIGHT, MINI)
    assert isinstance(res, BlandAltman)
    assert all(
        isinstance(ci, Interval)
        for ci in (res.bias_ci, res.loa_low_ci, res.loa_high_ci, res.proportional_slope_ci)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.bias = 0.0  # type: ignore[misc]


def test_approximate_method_warns_for_a_multiplier_far_from_two():
    with pytest.warns(RuntimeWarning, match="ci_method='exact'"):
        bland_altman(WRIGHT, MINI, loa_multiplier=3.0, ci_method="approximate")


@pytest.mark.parametrize(
    ("method", "reference", "kwargs", "exc", "match"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0], {}, ValueError, "same length; got 3 and 2"),
        ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0], {}, ValueError, "method must contain only finite"),
        ([1.0, 2.0, 3.0], [1.0, np.inf, 3.0], {}, ValueError, "reference must contain only"),
        ([1.0], [2.0], {}, ValueError, "at least 2 pairs"),
        ([], [], {}, ValueError, "at least one observation"),
        (["a", "b"], [1.0, 2.0], {}, TypeError, "method must hold real numbers"),
        ([1.0, 2.0], [1.0, 2.0], {"confidence": 0.0}, ValueError, "open interval"),
        ([1.0, 2.0], [1.0, 2.0], {"loa_multiplier": -1.96}, ValueError, "loa_multiplier"),
        ([1.0, 2.0], [1.0, 2.0], {"ci_method": "mover"}, ValueError, "ci_method must be one"),
    ],
)
def test_invalid_input_raises(method, reference, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        bland_altman(method, reference, **kwargs)
