"""Tests for validation.stats.drift (PSI, Kolmogorov-Smirnov, chi-square) against published values.

Sources:

* R ``stats::ks.test`` output, R 4.5.2, as documented in the test suite of the Python package
  pystatistics (sgcx-org/pystatistics, tests/hypothesis/test_ks_test.py):
  ``ks.test(c(1,2,3), c(4,5,6))``: D = 1, p-value = 0.1;
  ``ks.test(c(1,2,3,4,5), c(3,4,5,6,7))``: D = 0.4, p-value = 0.8730158730158730.
* R ``stats::chisq.test`` help-page example, from Agresti A. An Introduction to Categorical
  Data Analysis, 2nd ed., Wiley 2007, p. 39 (party identification by gender: F 762, 327, 468;
  M 484, 239, 477): ``chisq.test(M)`` prints X-squared = 30.07, df = 2, p-value = 2.954e-07
  (the printed output is reproduced in several tutorials and test suites found with the
  search tools; one quotes the full-precision value 30.070149095754672).
* Yurdakul B. Statistical Properties of Population Stability Index. PhD dissertation, Western
  Michigan University 2018: with B fixed bins and no change, PSI / (1/n + 1/m) is approximately
  chi-square with B - 1 df, so E[PSI] ~ (B - 1)(1/n + 1/m). The same critical value,
  ``qchisq(1 - alpha, B - 1) * (1/n + 1/m)``, is the ``cv.chisq`` of R package PDtoolkit,
  ``psi()`` (R/15_PSI.R). Checked by simulation.

Not found: a published PSI worked example that states its raw data and bin boundaries (credit
risk texts give percentage tables without the cut points; Yurdakul's examples were not
retrievable). The PSI is therefore checked against an independent hand computation on data
whose deciles are known exactly (1..100), with the expected table written out below. No
published Cramer's V for the Agresti table was found either; it is checked against its
definition V = sqrt(X^2 / (n (min(r, c) - 1))) with R's X^2 and against scipy's
``contingency.association``. The exact KS p-value is also checked by full enumeration.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from scipy.stats import contingency

from validation.stats.drift import Chi2Drift, KsDrift, PsiResult, chi2_drift, ks_drift, psi

BASELINE_1_100 = np.arange(1.0, 101.0)  # deciles: cut points 11, 21, ..., 91; 10 per bin


def _current(counts: list[int]) -> np.ndarray:
    """Values placed in the middle of each decile bin of 1..100 (5, 15, ..., 95)."""
    return np.repeat(np.arange(5.0, 100.0, 10.0), counts)


# --------------------------------------------------------------------------- PSI


def test_psi_matches_a_hand_computation():
    """Hand table (baseline 10% per decile; current 50 observations):

    bin   base  cur    (cur - base) ln(cur / base)
    1     0.10  0.04   (-0.06) ln 0.4 = 0.0549775
    2     0.10  0.06   (-0.04) ln 0.6 = 0.0204330
    3-8   0.10  0.10   0
    9     0.10  0.14   ( 0.04) ln 1.4 = 0.0134589
    10    0.10  0.16   ( 0.06) ln 1.6 = 0.0282002
    PSI = 0.1170696
    """
    res = psi(BASELINE_1_100, _current([2, 3, 5, 5, 5, 5, 5, 5, 7, 8]))
    assert isinstance(res, PsiResult)
    assert res.cut_points.tolist() == [11, 21, 31, 41, 51, 61, 71, 81, 91]
    np.testing.assert_allclose(res.baseline_fraction, 0.1)
    np.testing.assert_allclose(
        res.current_fraction, [0.04, 0.06, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.14, 0.16]
    )
    assert res.psi == pytest.approx(0.1170696, abs=5e-8)
    assert (res.n_baseline, res.n_current, res.n_bins, res.dof) == (100, 50, 10, 9)
    # Yurdakul: PSI / (1/n + 1/m) ~ chi-square(B - 1).
    assert res.statistic == pytest.approx(0.1170696 / (1 / 100 + 1 / 50), rel=1e-6)
    assert res.p_value == pytest.approx(stats.chi2.sf(res.statistic, 9))
    assert res.min_expected == pytest.approx(5.0)


def test_psi_floors_an_empty_bin():
    """Empty first bin: (1e-4 - 0.1) ln(1e-4 / 0.1) + (0.2 - 0.1) ln 2 = 0.7593995."""
    res = psi(BASELINE_1_100, _current([0, 5, 5, 5, 5, 5, 5, 5, 5, 10]))
    expected = (1e-4 - 0.1) * math.log(1e-4 / 0.1) + 0.1 * math.log(2.0)
    assert res.psi == pytest.approx(expected, rel=1e-12)
    assert res.psi == pytest.approx(0.7593995, abs=5e-8)
    assert res.current_fraction[0] == 0.0 and res.floor == 1e-4
    coarser = psi(BASELINE_1_100, _current([0, 5, 5, 5, 5, 5, 5, 5, 5, 10]), floor=1e-3)
    assert coarser.psi == pytest.approx((1e-3 - 0.1) * math.log(1e-3 / 0.1) + 0.1 * math.log(2))


def test_psi_counts_values_outside_the_baseline_range_and_is_zero_without_change():
    res = psi(BASELINE_1_100, [-50.0, 5.0, 1000.0, 95.0])
    assert res.current_fraction[0] == 0.5 and res.current_fraction[-1] == 0.5
    same = psi(BASELINE_1_100, BASELINE_1_100)
    assert same.psi == 0.0 and same.p_value == 1.0


def test_psi_merges_tied_quantiles_of_a_discrete_variable():
    """Ages 40 (50%), 50 (30%), 60 (20%): deciles tie, leaving one bin per value."""
    baseline = np.repeat([40.0, 50.0, 60.0], [50, 30, 20])
    res = psi(baseline, np.repeat([40.0, 50.0, 60.0], [10, 10, 10]))
    assert res.n_bins == 3 and res.dof == 2
    assert res.cut_points.tolist() == [50.0, 60.0]
    np.testing.assert_allclose(res.baseline_fraction, [0.5, 0.3, 0.2])
    expected = sum(
        (c - b) * math.log(c / b) for b, c in zip((0.5, 0.3, 0.2), (1 / 3,) * 3, strict=True)
    )
    assert res.psi == pytest.approx(expected)


def test_psi_p_value_is_calibrated_when_nothing_changes():
    """Yurdakul (2018): E[PSI] ~ (B-1)(1/n + 1/m) and a 5% test rejecting ~5% under H0.

    1,000 seeded replicates, n = m = 1000 (every bin expects 100 current observations); the
    rejection rate must lie within 3 binomial SEs of 0.05. Equivalently PSI exceeds
    PDtoolkit's cv.chisq = qchisq(0.95, 9) (1/n + 1/m) in about 5% of replicates.
    """
    rng = np.random.default_rng(31)
    scale = 1 / 1000 + 1 / 1000
    cv_chisq = stats.chi2.ppf(0.95, 9) * scale
    values, rejected, above_cv = [], 0, 0
    for _ in range(1000):
        res = psi(rng.normal(size=1000), rng.normal(size=1000))
        values.append(res.psi)
        rejected += res.p_value < 0.05
        above_cv += res.psi > cv_chisq
    assert np.mean(values) == pytest.approx(9 * scale, rel=0.05)
    assert rejected == above_cv
    assert abs(rejected / 1000 - 0.05) <= 3 * math.sqrt(0.05 * 0.95 / 1000)


def test_psi_detects_a_shift():
    rng = np.random.default_rng(32)
    res = psi(rng.normal(size=2000), rng.normal(0.8, 1.0, size=500))
    assert res.psi > 0.25 and res.p_value < 1e-10


def test_psi_input_errors():
    with pytest.raises(ValueError, match="baseline must contain at least 10 observations"):
        psi(np.arange(9.0), [1.0])
    with pytest.raises(ValueError, match="current must contain at least one observation"):
        psi(BASELINE_1_100, [])
    with pytest.raises(ValueError, match="baseline must contain only finite values"):
        psi(np.r_[BASELINE_1_100, np.nan], [1.0])
    with pytest.raises(ValueError, match="bins must be at least 2"):
        psi(BASELINE_1_100, [1.0], bins=1)
    with pytest.raises(TypeError, match="bins must be a non-negative integer"):
        psi(BASELINE_1_100, [1.0], bins=True)
    with pytest.raises(ValueError, match="floor must be in"):
        psi(BASELINE_1_100, [1.0], floor=0.0)
    with pytest.raises(ValueError, match="baseline is constant"):
        psi(np.full(20, 3.0), [3.0])
    with pytest.raises(TypeError, match="current must hold real numbers"):
        psi(BASELINE_1_100, ["a"])


# --------------------------------------------------------------------------- KS


def test_ks_matches_r_ks_test():
    """R 4.5.2: ks.test(c(1,2,3), c(4,5,6)) D = 1, p = 0.1; with ties D = 0.4, p = 0.873..."""
    res = ks_drift([1, 2, 3], [4, 5, 6])
    assert isinstance(res, KsDrift)
    assert res.statistic == 1.0 and res.p_value == pytest.approx(0.1, rel=1e-10)
    assert not res.ties
    tied = ks_drift([1, 2, 3, 4, 5], [3, 4, 5, 6, 7])
    assert tied.statistic == pytest.approx(0.4)
    assert tied.p_value == pytest.approx(0.8730158730158730, rel=1e-10)
    assert tied.ties and (tied.n_baseline, tied.n_current) == (5, 5)


def test_ks_exact_p_value_by_enumeration():
    """Untied samples (5 and 6 values): p = share of all 462 splits with D >= observed."""
    x = [0.1, 0.4, 0.7, 1.3, 1.9]
    y = [0.5, 1.0, 1.5, 2.2, 2.6, 3.1]
    pooled = np.array(x + y)
    grid = np.sort(pooled)

    def d_stat(a: np.ndarray, b: np.ndarray) -> float:
        fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
        fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
        return float(np.max(np.abs(fa - fb)))

    observed = d_stat(np.array(x), np.array(y))
    splits = list(itertools.combinations(range(pooled.size), len(x)))
    assert len(splits) == 462
    count = 0
    for idx in splits:
        mask = np.zeros(pooled.size, dtype=bool)
        mask[list(idx)] = True
        count += d_stat(pooled[mask], pooled[~mask]) >= observed - 1e-12
    res = ks_drift(x, y, method="exact")
    assert res.statistic == pytest.approx(observed)
    assert res.p_value == pytest.approx(count / len(splits), rel=1e-9)
    assert res.method == "exact"


def test_ks_large_samples_detect_a_shift_and_not_noise():
    rng = np.random.default_rng(33)
    base = rng.normal(size=3000)
    shifted = ks_drift(base, rng.normal(0.5, 1.0, size=300))
    assert shifted.statistic > 0.15 and shifted.p_value < 1e-6
    same = ks_drift(base, rng.normal(size=300))
    assert same.statistic < 0.1 and same.p_value > 0.01


def test_ks_input_errors():
    with pytest.raises(ValueError, match="current must contain at least one observation"):
        ks_drift([1.0, 2.0], [])
    with pytest.raises(ValueError, match="baseline must contain only finite values"):
        ks_drift([1.0, np.inf], [1.0])
    with pytest.raises(ValueError, match="method must be one of"):
        ks_drift([1.0, 2.0], [1.0], method="permutation")


# --------------------------------------------------------------------------- chi-square


def test_chi2_matches_r_chisq_test_on_agresti_table():
    """R chisq.test (Agresti 2007 p. 39): X-squared = 30.07, df = 2, p-value = 2.954e-07."""
    res = chi2_drift([762, 327, 468], [484, 239, 477])
    assert isinstance(res, Chi2Drift)
    assert res.statistic == pytest.approx(30.070149095754672, rel=1e-10)
    assert round(res.statistic, 2) == 30.07 and res.dof == 2
    assert res.p_value == pytest.approx(2.954e-07, rel=5e-4)
    assert (res.n_baseline, res.n_current, res.n_categories) == (1557, 1200, 3)
    # Cramer's V = sqrt(X^2 / (n (min(r, c) - 1))), n = 2757, min(2, 3) - 1 = 1.
    assert res.cramers_v == pytest.approx(math.sqrt(30.070149095754672 / 2757), rel=1e-10)
    table = np.array([[762, 327, 468], [484, 239, 477]])
    assert res.cramers_v == pytest.approx(contingency.association(table, method="cramer"))
    assert res.min_expected == pytest.approx(1200 * 566 / 2757)


def test_chi2_two_by_two_has_no_continuity_correction():
    """2 x 2: X^2 = n (ad - bc)^2 / (r1 r2 c1 c2), Pearson's formula without Yates."""
    a, b, c, d = 30, 10, 20, 25
    n = a + b + c + d
    expected = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    res = chi2_drift([a, b], [c, d])
    assert res.statistic == pytest.approx(expected, rel=1e-12)
    assert res.cramers_v == pytest.approx(
        abs(a * d - b * c) / math.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    )  # |phi|


def test_chi2_drops_categories_empty_in_both_samples():
    with_empty = chi2_drift([10, 0, 5, 7], [8, 0, 9, 3])
    without = chi2_drift([10, 5, 7], [8, 9, 3])
    assert with_empty.n_categories == 3 and with_empty.dof == 2
    assert with_empty.statistic == pytest.approx(without.statistic)
    identical = chi2_drift([10, 20, 30], [10, 20, 30])
    assert identical.statistic == 0.0 and identical.p_value == 1.0 and identical.cramers_v == 0


def test_chi2_input_errors():
    with pytest.raises(ValueError, match="same categories"):
        chi2_drift([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="non-negative integer counts"):
        chi2_drift([1, -2], [1, 2])
    with pytest.raises(ValueError, match="non-negative integer counts"):
        chi2_drift([1, 2.5], [1, 2])
    with pytest.raises(ValueError, match="current_counts must contain only finite values"):
        chi2_drift([1, 2], [1, np.nan])
    with pytest.raises(ValueError, match="single category"):
        chi2_drift([5, 0], [3, 0])
    with pytest.raises(ValueError, match="baseline_counts must contain at least one observation"):
        chi2_drift([0, 0], [3, 4])
    with pytest.raises(TypeError, match="baseline_counts must hold real numbers"):
        chi2_drift(["a", "b"], [3, 4])
