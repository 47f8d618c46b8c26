"""Tests for validation.stats.paired (comparing two model versions on the same studies).

Orientation: version a is the released version, b the candidate; every difference is b - a.
A published paired table ``e, f, g, h`` (Newcombe) or ``x = c(a, b, c, d)`` (R ratesci) or
``n = [[n11, n12], [n21, n22]]`` (R contingencytables), each with difference
``(f - g) / n`` = ``(b - c) / n`` = ``(n12 - n21) / n``, is entered as
``both=e, b_only=f, a_only=g, neither=h``.

Sources of every reference number:

* Newcombe RG. Improved confidence intervals for the difference between binomial proportions
  based on paired data. Stat Med 1998;17(22):2635-2650, Table III, method 10 (the hybrid score
  interval with the continuity-corrected phi), 95%, 4 decimals, 18 tables ``(e, f, g, h)``.
  (The task brief cited Stat Med 17:873-890; that is Newcombe's companion paper on
  *independent* proportions. The paired paper is 17:2635.) The row (20, 12, 2, 16) ->
  (0.0562, 0.3292) is also asserted as "Newcombe's method 10 result" by the R package
  ratesci (Laud), ``tests/testthat/test3.R``, ``pairbinci(x = c(20, 12, 2, 16), contrast =
  "RD", method_RD = "MOVER_newc", moverbase = "wilson")``.
* Fagerland MW, Lydersen S, Laake P. Statistical Analysis of Contingency Tables. CRC Press
  2017, chapter 8, through its R companion package contingencytables (``tests/testthat/
  test-ch8.R``) on the Cavo et al. (2012) table ``cavo_2012 = [[59, 6], [16, 80]]``:
  ``Newcombe_square_and_add_CI_paired_2x2``: estimate -0.0621, 95% CI -0.1186 to -0.0046;
  ``Tango_asymptotic_score_CI_paired_2x2``: -0.1240 to -0.0054;
  ``McNemar_exact_cond_test_paired_2x2``: P = 0.052479; ``McNemar_midP_test_paired_2x2``:
  P = 0.034690; ``McNemar_asymptotic_test_paired_2x2``: P = 0.033006, Z = -2.132;
  ``McNemar_asymptotic_test_CC_paired_2x2``: P = 0.055009, Z = 1.919.
* Fagerland MW, Lydersen S, Laake P. Recommended tests and confidence intervals for paired
  binomial proportions. Stat Med 2014;33(16):2850-2875, the Bentur et al. (2009) table
  ``x = c(1, 1, 7, 12)``, as asserted by ratesci ``tests/testthat/test3.R`` ("paired methods
  examples from Fagerland et al 2014"): Tango -0.517 to -0.026; Newcombe's method 10
  ("Fagerland use Newcombe's correlation-corrected 'method 10'") -0.507 to -0.026.
* ratesci ``tests/testthat/test3.R``, "legacy & new methods match published examples",
  Tango score interval for the difference (the package's ``pairbinci(..., contrast = "RD")``
  with its then-default Tango method): ``x = c(4, 9, 3, 16)`` -> -0.027 to 0.390;
  ``x = c(43, 0, 1, 0)``, ``level = 0.90`` -> -0.096 to 0.037; and Agresti & Min (2005,
  Stat Med 24:729) ``x = c(53, 16, 8, 9)`` -> -0.020 to 0.207.
* R ``stats::mcnemar.test`` documentation example (Agresti 1990, Categorical Data Analysis,
  p. 350, presidential approval): ``Performance <- matrix(c(794, 86, 150, 570), nrow = 2)``;
  ``mcnemar.test(Performance)`` prints "McNemar's chi-squared = 16.818, df = 1, p-value =
  4.115e-05" and ``mcnemar.test(Performance, correct = FALSE)`` "McNemar's chi-squared =
  17.356, df = 1, p-value = 3.099e-05" (R output as reproduced in public R scripts and
  course notes; the uncorrected value is (150 - 86)^2 / 236, Agresti's z^2 = 17.36).

Independent implementations (no published value needed): statsmodels'
``statsmodels.stats.contingency_tables.mcnemar``; ``scipy.stats.bootstrap(..., paired=True)``
and a direct numpy loop for the bootstrap with one study per cluster; a bisection
implementation of Tango's score inversion written here. Coverage: exact (enumerated) coverage
of both proportion intervals, and seeded Monte-Carlo coverage of the cluster bootstrap judged
by an exact binomial test.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from validation.stats import (
    DelongTest,
    Interval,
    McNemarTest,
    PairedBootstrapDifference,
    PairedProportionDifference,
    bland_altman,
    delong_test,
    mcnemar_test,
    mean_absolute_error,
    noninferior,
    paired_bootstrap_difference,
    paired_outcomes_from_counts,
    paired_proportion_difference,
)

HALF_LAST_DIGIT_4 = 5e-5 + 1e-12  # a value printed to 4 decimals
HALF_LAST_DIGIT_3 = 5e-4 + 1e-12  # a value printed to 3 decimals


def outcomes(both: int, a_only: int, b_only: int, neither: int):
    return paired_outcomes_from_counts(both=both, a_only=a_only, b_only=b_only, neither=neither)


def newcombe_table(e: int, f: int, g: int, h: int):
    """Newcombe's (e, f, g, h), difference (f - g) / n, as (a_correct, b_correct)."""
    return outcomes(both=e, a_only=g, b_only=f, neither=h)


# --------------------------------------------------------------------------- Newcombe

# Newcombe (1998) Stat Med 17:2635, Table III, method 10, 95%: (e, f, g, h) -> (lower, upper).
NEWCOMBE_TABLE_III_METHOD_10 = [
    ((36, 12, 2, 0), (0.0569, 0.3404)),
    ((20, 12, 2, 16), (0.0562, 0.3292)),
    ((18, 12, 2, 18), (0.0562, 0.3290)),
    ((36, 14, 0, 0), (0.1528, 0.4167)),
    ((35, 14, 0, 1), (0.1461, 0.4175)),
    ((18, 14, 0, 18), (0.1441, 0.3963)),
    ((2, 97, 1, 0), (0.8721, 0.9854)),
    ((1, 97, 1, 1), (0.8736, 0.9850)),
    ((0, 29, 1, 0), (0.6666, 0.9882)),
    ((2, 98, 0, 0), (0.9178, 0.9945)),
    ((1, 98, 0, 1), (0.9171, 0.9916)),
    ((0, 30, 0, 0), (0.8395, 1.0)),
    ((54, 0, 0, 0), (-0.0664, 0.0664)),
    ((53, 0, 0, 1), (-0.0729, 0.0729)),
    ((30, 0, 0, 24), (-0.0358, 0.0358)),
    ((29, 0, 0, 25), (-0.0354, 0.0354)),
    ((28, 0, 0, 26), (-0.0352, 0.0352)),
    ((27, 0, 0, 27), (-0.0351, 0.0351)),
]


@pytest.mark.parametrize(("cells", "published"), NEWCOMBE_TABLE_III_METHOD_10)
def test_newcombe_matches_newcombe_1998_table_iii_method_10(cells, published):
    """Newcombe (1998) Stat Med 17:2635, Table III, method 10 (95%, 4 decimals)."""
    e, f, g, h = cells
    res = paired_proportion_difference(*newcombe_table(e, f, g, h))
    assert res.estimate == pytest.approx((f - g) / (e + f + g + h), abs=1e-15)
    # One printed limit is not the rounding of the method-10 formula: for (1, 97, 1, 1) the
    # lower limit is 0.873670 (0.873672 with z = 1.959964), printed 0.8736 (truncated).
    tolerance = 1e-4 if cells == (1, 97, 1, 1) else HALF_LAST_DIGIT_4
    assert res.ci_low == pytest.approx(published[0], abs=tolerance)
    assert res.ci_high == pytest.approx(published[1], abs=HALF_LAST_DIGIT_4)
    assert (res.method, res.confidence) == ("newcombe", 0.95)


def test_newcombe_and_tango_match_fagerland_2017_cavo():
    """Fagerland, Lydersen & Laake (2017) ch. 8, Cavo et al. 2012 [[59, 6], [16, 80]]
    (contingencytables test-ch8.R): estimate -0.0621; Newcombe square-and-add
    -0.1186 to -0.0046; Tango asymptotic score -0.1240 to -0.0054."""
    a, b = outcomes(both=59, a_only=16, b_only=6, neither=80)
    newcombe = paired_proportion_difference(a, b, method="newcombe")
    tango = paired_proportion_difference(a, b, method="tango")
    for res in (newcombe, tango):
        assert res.estimate == pytest.approx(-0.0621, abs=HALF_LAST_DIGIT_4)
        assert (res.n, res.both, res.a_only, res.b_only, res.neither) == (161, 59, 16, 6, 80)
    assert (newcombe.ci_low, newcombe.ci_high) == pytest.approx(
        (-0.1186, -0.0046), abs=HALF_LAST_DIGIT_4
    )
    assert (tango.ci_low, tango.ci_high) == pytest.approx((-0.1240, -0.0054), abs=HALF_LAST_DIGIT_4)


def test_newcombe_and_tango_match_fagerland_2014_bentur():
    """Fagerland, Lydersen & Laake (2014) Stat Med 33:2850, Bentur et al. 2009
    x = c(1, 1, 7, 12) (ratesci test3.R): Tango -0.517 to -0.026, Newcombe method 10
    -0.507 to -0.026."""
    a, b = outcomes(both=1, a_only=7, b_only=1, neither=12)
    tango = paired_proportion_difference(a, b, method="tango")
    newcombe = paired_proportion_difference(a, b, method="newcombe")
    assert (tango.ci_low, tango.ci_high) == pytest.approx((-0.517, -0.026), abs=HALF_LAST_DIGIT_3)
    assert (newcombe.ci_low, newcombe.ci_high) == pytest.approx(
        (-0.507, -0.026), abs=HALF_LAST_DIGIT_3
    )


@pytest.mark.parametrize(
    ("x", "confidence", "published"),
    [
        ((4, 9, 3, 16), 0.95, (-0.027, 0.390)),  # ratesci test3.R, "#Tango"
        ((43, 0, 1, 0), 0.90, (-0.096, 0.037)),  # ratesci test3.R, "#Tango", level = 0.90
        ((53, 16, 8, 9), 0.95, (-0.020, 0.207)),  # Agresti & Min 2005, ratesci test3.R
    ],
)
def test_tango_matches_published_examples(x, confidence, published):
    """ratesci tests/testthat/test3.R, Tango score interval, x = c(a, b, c, d), 3 decimals."""
    both, b_only, a_only, neither = x
    res = paired_proportion_difference(
        *outcomes(both, a_only, b_only, neither), method="tango", confidence=confidence
    )
    assert (res.ci_low, res.ci_high) == pytest.approx(published, abs=HALF_LAST_DIGIT_3)
    assert (res.method, res.confidence) == ("tango", confidence)


def _tango_by_bisection(both, a_only, b_only, neither, confidence):
    """Independent Tango (1998) interval: bisection on the score statistic, no special cases.

    Written for this test from Tango's equations (score statistic of H0: delta = d with the
    constrained MLE of P(only a succeeds) from its quadratic), evaluating only strictly
    interior points, so the degenerate tables need no closed form.
    """
    n = both + a_only + b_only + neither
    b, c = b_only, a_only
    z = stats.norm.ppf(0.5 + confidence / 2.0)

    def score(d):
        w = -b - c + (2 * n - b + c) * d
        q = (math.sqrt(max(w * w + 8 * n * c * d * (1 - d), 0.0)) - w) / (4 * n)
        return (b - c - n * d) / math.sqrt(n * (2 * q + d * (1 - d)))

    def solve(lo, hi, target):  # score is decreasing in d; score(lo) > target > score(hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if score(mid) > target:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    estimate = (b - c) / n
    low = -1.0 if c == n else solve(-1.0, estimate, z)
    high = 1.0 if b == n else solve(estimate, 1.0, -z)
    return low, high


TANGO_TABLES = [
    (59, 16, 6, 80),
    (1, 7, 1, 12),
    (0, 0, 0, 10),
    (10, 0, 0, 0),
    (5, 0, 0, 5),
    (0, 0, 7, 0),
    (0, 7, 0, 0),
    (0, 1, 0, 0),
    (3, 0, 4, 0),
    (0, 5, 1, 0),
    (100, 3, 12, 85),
    (2, 1, 0, 1),
]


@pytest.mark.parametrize("cells", TANGO_TABLES)
@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_tango_equals_independent_bisection(cells, confidence):
    """Against the independent implementation above, including the degenerate tables where
    the module uses closed forms (no discordant pair; every pair discordant one way)."""
    res = paired_proportion_difference(*outcomes(*cells), method="tango", confidence=confidence)
    expected = _tango_by_bisection(*cells, confidence)
    assert (res.ci_low, res.ci_high) == pytest.approx(expected, abs=1e-9)
    assert res.ci_low <= res.estimate <= res.ci_high


@pytest.mark.parametrize("method", ["newcombe", "tango"])
def test_exchanging_the_versions_mirrors_the_interval(method):
    """b - a becomes a - b: the estimate and the limits change sign and swap."""
    a, b = outcomes(both=30, a_only=4, b_only=11, neither=15)
    forward = paired_proportion_difference(a, b, method=method)
    backward = paired_proportion_difference(b, a, method=method)
    assert forward.estimate == pytest.approx(-backward.estimate, abs=1e-15)
    assert forward.ci_low == pytest.approx(-backward.ci_high, abs=1e-12)
    assert forward.ci_high == pytest.approx(-backward.ci_low, abs=1e-12)
    assert forward.proportion_b - forward.proportion_a == pytest.approx(forward.estimate)
    assert (forward.proportion_a, forward.proportion_b) == (34 / 60, 41 / 60)


@pytest.mark.parametrize("method", ["newcombe", "tango"])
def test_limits_stay_in_range_and_hold_the_estimate(method):
    for cells in [(0, 0, 1, 0), (0, 1, 0, 0), (0, 0, 0, 1), (1, 0, 0, 0), (0, 3, 5, 0)]:
        res = paired_proportion_difference(*outcomes(*cells), method=method)
        assert -1.0 <= res.ci_low <= res.estimate <= res.ci_high <= 1.0
        assert res.ci_high > res.ci_low


@pytest.mark.parametrize("method", ["newcombe", "tango"])
def test_exact_coverage_is_near_nominal(method):
    """Computed exactly by enumerating every table of n = 25 pairs (no Monte-Carlo noise):
    the coverage is the sum of the multinomial probabilities of the tables whose interval
    holds the true difference p(b only) - p(a only), at four parameter points (balanced and
    unbalanced discordance, a sensitivity near 0.9). A sanity check, not a published value:
    both methods were designed for coverage near 95% (Newcombe 1998; Tango 1998; Fagerland et
    al. 2014), and the limits 0.93 and 0.995 fail an interval that is clearly too narrow or
    uselessly wide. Computed: Newcombe 0.975, 0.962, 0.992, 0.951 (conservative with few
    discordant pairs); Tango 0.952, 0.958, 0.978, 0.954."""
    n = 25
    tables, lows, highs = [], [], []
    for both in range(n + 1):
        for a_only in range(n + 1 - both):
            for b_only in range(n + 1 - both - a_only):
                cells = (both, a_only, b_only, n - both - a_only - b_only)
                res = paired_proportion_difference(*outcomes(*cells), method=method)
                tables.append(cells)
                lows.append(res.ci_low)
                highs.append(res.ci_high)
    tables_array, low, high = np.array(tables), np.array(lows), np.array(highs)
    for probabilities in [
        (0.7, 0.1, 0.1, 0.1),
        (0.6, 0.05, 0.15, 0.2),
        (0.8, 0.03, 0.07, 0.1),
        (0.4, 0.2, 0.1, 0.3),
    ]:
        truth = probabilities[2] - probabilities[1]
        weights = stats.multinomial.pmf(tables_array, n, probabilities)
        coverage = weights[(low <= truth) & (truth <= high)].sum()
        assert weights.sum() == pytest.approx(1.0)
        assert 0.93 <= coverage <= 0.995, (probabilities, coverage)


def test_difference_result_is_frozen_and_exposes_an_interval():
    res = paired_proportion_difference(*newcombe_table(20, 12, 2, 16))
    assert isinstance(res, PairedProportionDifference)
    assert res.ci == Interval(res.ci_low, res.ci_high, 0.95, "newcombe")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.estimate = 0.0  # type: ignore[misc]


def test_difference_rejects_bad_input():
    a, b = newcombe_table(20, 12, 2, 16)
    with pytest.raises(ValueError, match="same length"):
        paired_proportion_difference(a, b[:-1])
    with pytest.raises(ValueError, match="binary"):
        paired_proportion_difference([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="method must be one of"):
        paired_proportion_difference(a, b, method="wald")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confidence"):
        paired_proportion_difference(a, b, confidence=95)
    with pytest.raises(ValueError, match="at least one"):
        paired_proportion_difference([], [])


def test_outcomes_from_counts():
    a, b = paired_outcomes_from_counts(both=2, a_only=1, b_only=3, neither=1)
    assert a.tolist() == [True, True, True, False, False, False, False]
    assert b.tolist() == [True, True, False, True, True, True, False]
    with pytest.raises(ValueError, match="at least one pair"):
        paired_outcomes_from_counts(both=0, a_only=0, b_only=0, neither=0)
    with pytest.raises(ValueError, match="a_only must be a non-negative integer"):
        paired_outcomes_from_counts(both=1, a_only=-1, b_only=0, neither=0)
    with pytest.raises(TypeError):
        paired_outcomes_from_counts(1, 2, 3, 4)  # type: ignore[misc]  # keyword-only


# --------------------------------------------------------------------------- McNemar

PERFORMANCE = {"both": 794, "a_only": 150, "b_only": 86, "neither": 570}  # Agresti 1990, p. 350


def test_mcnemar_matches_r_documentation_example():
    """R mcnemar.test(Performance): 16.818, p = 4.115e-05; correct = FALSE: 17.356,
    p = 3.099e-05 (Agresti 1990, p. 350)."""
    a, b = paired_outcomes_from_counts(**PERFORMANCE)
    corrected = mcnemar_test(a, b, method="asymptotic", correction=True)
    assert corrected.statistic == pytest.approx(16.818, abs=5e-4)
    assert corrected.p_value == pytest.approx(4.115e-05, abs=5e-9)
    plain = mcnemar_test(a, b, method="asymptotic")
    assert plain.statistic == pytest.approx(17.356, abs=5e-4)
    assert plain.p_value == pytest.approx(3.099e-05, abs=5e-9)
    assert (plain.n, plain.a_only, plain.b_only, plain.correction) == (1600, 150, 86, False)


def test_mcnemar_matches_fagerland_2017_cavo():
    """Fagerland et al. (2017) ch. 8, Cavo et al. 2012 (contingencytables test-ch8.R):
    exact conditional P = 0.052479, mid-P = 0.034690, asymptotic P = 0.033006 (Z = -2.132),
    with continuity correction P = 0.055009 (Z = 1.919)."""
    a, b = outcomes(both=59, a_only=16, b_only=6, neither=80)
    exact = mcnemar_test(a, b)
    assert exact.method == "exact" and exact.statistic == 6.0
    assert exact.p_value == pytest.approx(0.052479, abs=5e-7)
    assert mcnemar_test(a, b, method="mid-p").p_value == pytest.approx(0.034690, abs=5e-7)
    plain = mcnemar_test(a, b, method="asymptotic")
    assert plain.p_value == pytest.approx(0.033006, abs=5e-7)
    assert math.sqrt(plain.statistic) == pytest.approx(2.132, abs=5e-4)
    corrected = mcnemar_test(a, b, method="asymptotic", correction=True)
    assert corrected.p_value == pytest.approx(0.055009, abs=5e-7)
    assert math.sqrt(corrected.statistic) == pytest.approx(1.919, abs=5e-4)


@pytest.mark.parametrize("seed", range(5))
def test_mcnemar_equals_statsmodels(seed):
    """statsmodels' mcnemar (independent implementation) on random tables."""
    rng = np.random.default_rng(seed)
    both, a_only, neither = (int(v) for v in rng.integers(0, 40, 3))
    b_only = a_only + int(rng.integers(1, 15))  # discordant pairs present, b != c
    if seed % 2:
        a_only, b_only = b_only, a_only
    a, b = outcomes(both, a_only, b_only, neither)
    table = [[both, a_only], [b_only, neither]]
    exact = sm_mcnemar(table, exact=True)
    assert mcnemar_test(a, b).p_value == pytest.approx(exact.pvalue, rel=1e-12)
    for correction in (False, True):
        ref = sm_mcnemar(table, exact=False, correction=correction)
        res = mcnemar_test(a, b, method="asymptotic", correction=correction)
        assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
        assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_mcnemar_edge_cases():
    # No discordant pair: the versions agree everywhere, p = 1 (Fagerland et al. 2017).
    a, b = outcomes(both=10, a_only=0, b_only=0, neither=5)
    for method in ("exact", "mid-p", "asymptotic"):
        assert mcnemar_test(a, b, method=method).p_value == 1.0
    assert mcnemar_test(a, b, method="asymptotic").statistic == 0.0
    # b == c: the corrected statistic is clipped at 0 (R would give (0 - 1)^2 / (b + c)).
    a, b = outcomes(both=10, a_only=4, b_only=4, neither=5)
    assert mcnemar_test(a, b, method="asymptotic", correction=True).p_value == 1.0
    assert mcnemar_test(a, b).p_value == 1.0
    assert mcnemar_test(a, b, method="mid-p").p_value == pytest.approx(1.0)
    # Symmetric in the versions; concordant pairs do not matter.
    a, b = outcomes(both=3, a_only=2, b_only=9, neither=4)
    c, d = outcomes(both=300, a_only=2, b_only=9, neither=40)
    assert mcnemar_test(a, b).p_value == mcnemar_test(b, a).p_value == mcnemar_test(c, d).p_value
    # Exact: 2 * P(X <= 2 | 11, 1/2) = 2 * 67 / 2048.
    assert mcnemar_test(a, b).p_value == pytest.approx(134 / 2048, rel=1e-12)


def test_mcnemar_rejects_bad_options():
    a, b = outcomes(both=3, a_only=2, b_only=9, neither=4)
    with pytest.raises(ValueError, match="only to method='asymptotic'"):
        mcnemar_test(a, b, method="exact", correction=True)
    with pytest.raises(TypeError, match="correction must be True or False"):
        mcnemar_test(a, b, method="asymptotic", correction=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method must be one of"):
        mcnemar_test(a, b, method="chi2")  # type: ignore[arg-type]
    res = mcnemar_test(a, b)
    assert isinstance(res, McNemarTest)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.p_value = 0.0  # type: ignore[misc]


# --------------------------------------------------------------------------- bootstrap


def _measurements(seed: int, patients: int = 30, per_patient: int = 2):
    """Synthetic IVSd-like measurements: reference, released and candidate outputs."""
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(patients), per_patient)
    n = patients * per_patient
    reference = rng.normal(11.0, 2.0, n)
    err_a = rng.normal(0.0, 0.6, patients)[patient] + rng.normal(0.0, 0.8, n)
    err_b = 0.7 * err_a + rng.normal(0.0, 0.5, n)
    return reference + err_a, reference + err_b, reference, patient


def _mae_difference(a, b, reference, axis=-1):
    return np.mean(np.abs(b - reference), axis=axis) - np.mean(np.abs(a - reference), axis=axis)


@pytest.mark.parametrize(("method", "scipy_method"), [("percentile", "percentile"), ("bca", "BCa")])
def test_bootstrap_with_singleton_clusters_equals_scipy_paired_bootstrap(method, scipy_method):
    """One study per cluster = the ordinary paired bootstrap: scipy.stats.bootstrap with
    paired=True and the same generator draws the same resamples, so the replicates and the
    limits (percentile and BCa) must be equal."""
    a, b, reference, _ = _measurements(3)
    res = paired_bootstrap_difference(
        a, b, reference, statistic="mae", seed=2024, method=method, n_resamples=2000
    )
    ref = stats.bootstrap(
        (a, b, reference),
        _mae_difference,
        paired=True,
        vectorized=True,
        n_resamples=2000,
        method=scipy_method,
        rng=np.random.default_rng(2024),
    )
    np.testing.assert_allclose(res.bootstrap.replicates, ref.bootstrap_distribution, atol=1e-12)
    assert res.ci_low == pytest.approx(ref.confidence_interval.low, abs=1e-12)
    assert res.ci_high == pytest.approx(ref.confidence_interval.high, abs=1e-12)
    assert res.se == pytest.approx(ref.standard_error, rel=1e-12)


def test_bootstrap_with_singleton_clusters_equals_a_direct_computation():
    """The same resamples computed directly: indices rng.integers(0, n, (B, n)) from
    numpy.random.default_rng(seed), the MAE difference on each, percentile limits by
    numpy.quantile; and the estimate is the difference of the two MAEs of location.py."""
    a, b, reference, _ = _measurements(4)
    n, resamples, seed = a.shape[0], 1000, 99
    res = paired_bootstrap_difference(
        a, b, reference, statistic="mae", seed=seed, method="percentile", n_resamples=resamples
    )
    index = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    direct = np.array([_mae_difference(a[i], b[i], reference[i]) for i in index])
    np.testing.assert_allclose(res.bootstrap.replicates, direct, atol=1e-12)
    low, high = np.quantile(direct, [0.025, 0.975])
    assert (res.ci_low, res.ci_high) == pytest.approx((low, high), abs=1e-12)
    mae_a = mean_absolute_error(a, reference).estimate
    mae_b = mean_absolute_error(b, reference).estimate
    assert (res.estimate_a, res.estimate_b) == pytest.approx((mae_a, mae_b), rel=1e-12)
    assert res.estimate == pytest.approx(mae_b - mae_a, abs=1e-12)
    # Labelling each study as its own patient changes nothing.
    labelled = paired_bootstrap_difference(
        a, b, reference, statistic="mae", seed=seed, method="percentile", n_resamples=resamples,
        clusters=np.arange(n),
    )  # fmt: skip
    np.testing.assert_array_equal(labelled.bootstrap.replicates, res.bootstrap.replicates)


def test_named_statistics_equal_direct_computations():
    """rmse, bias and limits of agreement on the full data equal numpy and bland_altman."""
    a, b, reference, patient = _measurements(5)
    for version, output in (("a", a), ("b", b)):
        d = output - reference
        ba = bland_altman(output, reference)
        expected = {
            "rmse": math.sqrt(np.mean(d**2)),
            "bias": ba.bias,
            "loa_low": ba.loa_low,
            "loa_high": ba.loa_high,
        }
        for name, value in expected.items():
            res = paired_bootstrap_difference(
                a, b, reference, statistic=name, seed=1, clusters=patient, method="percentile"
            )
            assert getattr(res, f"estimate_{version}") == pytest.approx(value, rel=1e-12)
            assert res.statistic == name


def test_patient_resampling_keeps_pairs_and_clusters_together():
    """A patient-level statistic cannot change when every study is duplicated within its
    patient: doubling every patient's studies leaves each replicate's MAE difference
    unchanged (both versions and both copies move together)."""
    a, b, reference, patient = _measurements(6)
    once = paired_bootstrap_difference(
        a, b, reference, statistic="mae", clusters=patient, seed=8, method="percentile"
    )
    twice = paired_bootstrap_difference(
        np.repeat(a, 2),
        np.repeat(b, 2),
        np.repeat(reference, 2),
        statistic="mae",
        clusters=np.repeat(patient, 2),
        seed=8,
        method="percentile",
    )
    np.testing.assert_allclose(twice.bootstrap.replicates, once.bootstrap.replicates, atol=1e-12)
    assert (twice.n, twice.n_clusters, once.n_clusters) == (120, 30, 30)


def test_callable_statistic_vectorised_and_plain_agree():
    a, b, reference, patient = _measurements(7)

    def median_abs_error(output, ref):
        return np.median(np.abs(output - ref))

    def mae(output, ref, weights):
        return weights @ np.abs(output - ref) / weights.sum(axis=1)

    plain = paired_bootstrap_difference(
        a, b, reference, statistic=median_abs_error, vectorized=False, clusters=patient, seed=3,
        n_resamples=1000, method="percentile",
    )  # fmt: skip
    assert plain.statistic == "median_abs_error"
    assert plain.estimate == pytest.approx(
        np.median(np.abs(b - reference)) - np.median(np.abs(a - reference))
    )
    vectorised = paired_bootstrap_difference(
        a, b, reference, statistic=mae, clusters=patient, seed=3, method="bca"
    )
    named = paired_bootstrap_difference(
        a, b, reference, statistic="mae", clusters=patient, seed=3, method="bca"
    )
    assert (vectorised.ci_low, vectorised.ci_high) == pytest.approx(
        (named.ci_low, named.ci_high), abs=1e-12
    )
    # Without a reference the statistic gets the outputs only (e.g. a mean of scores).
    means = paired_bootstrap_difference(
        a, b, statistic=lambda x, weights: weights @ x / weights.sum(axis=1), seed=3
    )
    assert means.estimate == pytest.approx(b.mean() - a.mean())


def _coverage_run(seed, patients, per_patient, patient_sd, clustered, method, runs):
    """MAE difference of two versions with patient-correlated errors (normal errors, so the
    true MAE is s * sqrt(2 / pi)); the count of intervals holding the true difference."""
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(patients), per_patient)
    n = patients * per_patient
    within = math.sqrt(1.0 - patient_sd**2)  # error of version a: SD 1
    s_b = math.sqrt(0.49 + 0.25)  # version b: 0.7 * error a + noise of SD 0.5
    truth = math.sqrt(2.0 / math.pi) * (s_b - 1.0)
    hits = 0
    for run in range(runs):
        err_a = rng.normal(0.0, patient_sd, patients)[patient] + rng.normal(0.0, within, n)
        noise = rng.normal(0.0, 0.5 * patient_sd, patients)[patient] + rng.normal(
            0.0, 0.5 * within, n
        )
        err_b = 0.7 * err_a + noise
        reference = rng.normal(11.0, 2.0, n)
        res = paired_bootstrap_difference(
            reference + err_a,
            reference + err_b,
            reference,
            statistic="mae",
            clusters=patient if clustered else None,
            seed=run,
            n_resamples=1000,
            method=method,
        )
        hits += res.ci_low <= truth <= res.ci_high
    return hits


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_bootstrap_mae_difference_covers_at_nominal_level(method):
    """Seeded Monte Carlo: 1000 data sets of 60 patients x 2 studies (patient effect 36% of
    the error variance, correlated versions). The number of 95% intervals holding the true
    MAE difference must be consistent with Binomial(1000, 0.95): an exact two-sided binomial
    test at level 0.01 (a correct interval fails it with probability 1%; the seeds are fixed,
    so the outcome is deterministic). Observed: 951 (percentile), 945 (BCa)."""
    hits = _coverage_run(20240607, 60, 2, 0.6, True, method, 1000)
    assert stats.binomtest(hits, 1000, 0.95).pvalue > 0.01, hits


def test_resampling_patients_is_what_keeps_coverage():
    """Strong patient effect (4 studies per patient, 81% of the error variance between
    patients): the patient-level bootstrap still covers (exact binomial test at 0.01;
    observed 566 of 600), while treating studies as independent clearly under-covers
    (observed 460 of 600, 77%)."""
    clustered = _coverage_run(11, 40, 4, 0.9, True, "percentile", 600)
    naive = _coverage_run(11, 40, 4, 0.9, False, "percentile", 600)
    assert stats.binomtest(clustered, 600, 0.95).pvalue > 0.01, clustered
    assert naive / 600 < 0.85 and stats.binomtest(naive, 600, 0.95).pvalue < 1e-6, naive


def test_bootstrap_result_records_its_settings():
    a, b, reference, patient = _measurements(9)
    site = np.where(patient < 15, "A", "B")
    res = paired_bootstrap_difference(
        a, b, reference, statistic="mae", clusters=patient, strata=site, seed=42,
        n_resamples=1500, confidence=0.90, method="percentile",
    )  # fmt: skip
    assert isinstance(res, PairedBootstrapDifference)
    assert (res.seed, res.n_resamples, res.confidence, res.method) == (42, 1500, 0.90, "percentile")
    assert (res.n, res.n_clusters, res.n_strata) == (60, 30, 2)
    assert res.ci == Interval(res.ci_low, res.ci_high, 0.90, "cluster bootstrap percentile")
    assert res.ci_low < res.estimate < res.ci_high
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.estimate = 0.0  # type: ignore[misc]


def test_bootstrap_rejects_bad_input():
    a, b, reference, _ = _measurements(10)
    with pytest.raises(ValueError, match="reference is required"):
        paired_bootstrap_difference(a, b, statistic="mae", seed=1)
    with pytest.raises(ValueError, match="statistic must be one of"):
        paired_bootstrap_difference(a, b, reference, statistic="mse", seed=1)
    with pytest.raises(TypeError, match="statistic must be one of"):
        paired_bootstrap_difference(a, b, reference, statistic=3, seed=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        paired_bootstrap_difference(a, b[:-1], reference, statistic="mae", seed=1)
    with pytest.raises(ValueError, match="always vectorised"):
        paired_bootstrap_difference(a, b, reference, statistic="mae", seed=1, vectorized=False)
    with pytest.raises(TypeError, match="seed"):
        paired_bootstrap_difference(a, b, reference, statistic="mae", seed=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="single value per resample"):
        paired_bootstrap_difference(
            a,
            b,
            reference,
            statistic=lambda x, r, weights: np.column_stack([weights @ x, weights @ r]),
            seed=1,
        )
    with pytest.raises(ValueError, match="one row per study"):
        paired_bootstrap_difference(a, b, reference[:-1], statistic="mae", seed=1)
    bad = a.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap_difference(bad, b, reference, statistic="mae", seed=1)


# --------------------------------------------------------------------------- non-inferiority


def test_noninferior_judges_the_bound_on_the_unfavourable_side():
    ci = Interval(-0.031, 0.012, 0.95, "newcombe")
    assert noninferior(ci, 0.05) is True  # -0.031 > -0.05
    assert noninferior(ci, 0.03) is False  # -0.031 < -0.03
    assert noninferior(ci, 0.031) is False  # strict: the bound must be inside the margin
    errors = Interval(-0.2, 0.4, 0.95, "bca")
    assert noninferior(errors, 0.5, higher_is_better=False) is True  # 0.4 < 0.5
    assert noninferior(errors, 0.4, higher_is_better=False) is False
    # The point estimate is never used: a worse candidate can be non-inferior.
    a, b = newcombe_table(40, 2, 5, 13)
    res = paired_proportion_difference(a, b)
    assert res.estimate < 0 and noninferior(res, 0.25) is (res.ci_low > -0.25)


def test_noninferior_accepts_results_with_an_interval():
    a, b, reference, patient = _measurements(12)
    boot = paired_bootstrap_difference(
        a, b, reference, statistic="mae", clusters=patient, seed=5, method="percentile"
    )
    assert noninferior(boot, 1.0, higher_is_better=False) is (boot.ci_high < 1.0)
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    candidate = [0.1, 0.2, 0.3, 0.6, 0.5, 0.7, 0.8, 0.9]
    released = [0.2, 0.5, 0.1, 0.7, 0.6, 0.4, 0.3, 0.8]
    delong = delong_test(y, candidate, released)  # difference = candidate - released
    assert isinstance(delong, DelongTest)
    assert noninferior(delong, 0.1) is (delong.ci.low > -0.1)


def test_noninferior_with_an_undefined_bound_is_false_with_a_warning():
    with pytest.warns(RuntimeWarning, match="undefined"):
        assert noninferior(Interval(math.nan, 0.1, 0.95, "bca"), 0.05) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the other side's NaN does not matter
        assert noninferior(Interval(-0.01, math.nan, 0.95, "bca"), 0.05) is True


def test_noninferior_rejects_bad_arguments():
    ci = Interval(-0.01, 0.02, 0.95, "newcombe")
    with pytest.raises(TypeError, match="result must be an Interval"):
        noninferior((-0.01, 0.02), 0.05)
    with pytest.raises(ValueError, match="margin must be a positive finite number"):
        noninferior(ci, 0.0)
    with pytest.raises(ValueError, match="margin must be a positive finite number"):
        noninferior(ci, -0.05)
    with pytest.raises(TypeError, match="margin"):
        noninferior(ci, "0.05")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="higher_is_better"):
        noninferior(ci, 0.05, higher_is_better="yes")  # type: ignore[arg-type]
