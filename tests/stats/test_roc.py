"""Tests for validation.stats.roc (AUC, DeLong SE and interval, DeLong test) against pROC.

Data: ``aSAH`` of the R package pROC (113 patients with aneurysmal subarachnoid haemorrhage;
Turck et al., Intensive Care Med 2010;36:107-115): outcome ``Poor`` (41 cases) vs ``Good``
(72 controls) and the markers ``wfns``, ``s100b`` and ``ndka``, read from the copy of pROC's
data set in ``tests/stats/reference/asah.csv`` (see the README beside it; Robin et al., BMC
Bioinformatics 2011;12:77), whose SHA-256 is checked. In aSAH all three markers are higher in
the cases, so pROC's automatic direction ("controls < cases") equals ours (higher score =
positive class).

Sources (pROC repository, github.com/xrobin/pROC, ``tests/testthat``; ``r.wfns``,
``r.s100b`` and ``r.ndka`` are ``roc(aSAH$outcome, aSAH$<marker>, quiet = TRUE)`` as defined in
``helper-rocs.R``):

* ``test-auc.R``, "full auc works": ``auc(r.wfns)`` = 0.823678861788618 and ``auc(r.ndka)`` =
  0.611957994579946.
* ``print_output/r.s100b`` and ``print_output/r.wfns`` (the printed ROC objects): "72 controls
  (aSAH$outcome Good) < 41 cases (aSAH$outcome Poor). Area under the curve: 0.7314" and
  "... 0.8237".
* ``test-var.R``, "var with delong works": ``var(r.wfns)`` = 0.00146991470882363,
  ``var(r.ndka)`` = 0.0031908105493913, ``var(r.s100b)`` = 0.00266868245717244 (DeLong).
* ``test-cov.R``, "cov with delong works": ``cov(r.wfns, r.ndka)`` = -0.000532967856762438,
  ``cov(r.ndka, r.s100b)`` = -0.000756164938056579, ``cov(r.s100b, r.wfns)`` =
  0.00119615567376754.
* ``test-ci.auc.R``, "ci.auc with delong works": ``ci.auc(r.ndka)`` = (0.501244999271703,
  0.611957994579946, 0.722670989888189).
* ``test-roc.test.R``, "roc.test statistic and p are as expected with defaults" (paired DeLong,
  two-sided, 95%): ``roc.test(r.wfns, r.s100b)``: Z = 2.20898359144091,
  p = 0.0271757822291882, CI 0.0104061769564846 to 0.174214419249478 (printed by R as
  "Z = 2.209, p-value = 0.02718"); ``roc.test(r.wfns, r.ndka)``: Z = 2.79777591868904,
  p = 0.00514557970691098, CI 0.0634011709339876 to 0.3600405634833566;
  ``roc.test(r.ndka, r.s100b)``: Z = -1.39077002573558, p = 0.164295175223054, CI
  -0.2876917446341914 to 0.0488706064228094. Also "DeLong roc.test works when curves are
  identical": Z = 0, p = 1.
* ``R/delong.R`` (``ci_auc_delong``): the DeLong interval is ``qnorm(c(a/2, 1 - a/2), auc,
  sqrt(var))`` with limits clipped to [0, 1] ("ci[ci > 1] <- 1; ci[ci < 0] <- 0"); the paired
  test's interval (``ci_delong_paired``) is not clipped.
* s100b printed interval "95% CI: 0.6301-0.8326 (DeLong)" for ``ci.auc(roc(aSAH$outcome,
  aSAH$s100b))``: pROC's output as reproduced in a third-party tutorial (blog.csdn.net,
  weixin_39624980, article 111645790), which also prints "95% CI: 0.5012-0.7227 (DeLong)" for
  ndka, in agreement with ``test-ci.auc.R``.

Not found published: the wfns DeLong interval (0.7485-0.8988 is what ``auc(r.wfns)`` and
``var(r.wfns)`` above give through pROC's formula; no printed pROC output of it was found), and
an ndka interval of "0.5023-0.7217": pROC's own test gives 0.5012-0.7227, which is asserted here.
The wfns AUC of pROC's test suite is 0.8236789 (not 0.8236961).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from validation.stats import DelongTest, Interval, RocAuc, delong_test, roc_auc
from validation.stats.roc import weighted_auc

# ------------------------------------------------------------------------------- aSAH (pROC)

# pROC's aSAH, in its row order; outcome Poor = case (1), Good = control (0).
ASAH_CSV = Path(__file__).resolve().parent / "reference" / "asah.csv"
ASAH_SHA256 = "612fbea5b61306f0c6936b0d5dbdedaf14d109fd66e90ef35271b2686d9bcc34"
ASAH = pd.read_csv(ASAH_CSV)
POOR = ASAH["outcome"].eq("Poor").to_numpy()
WFNS = ASAH["wfns"].to_numpy()
S100B = ASAH["s100b"].to_numpy()
NDKA = ASAH["ndka"].to_numpy()
MARKERS = {"wfns": WFNS, "s100b": S100B, "ndka": NDKA}

# pROC tests/testthat/test-var.R
PROC_VAR = {"wfns": 0.00146991470882363, "ndka": 0.0031908105493913, "s100b": 0.00266868245717244}
# pROC tests/testthat/test-cov.R
PROC_COV = {
    ("wfns", "ndka"): -0.000532967856762438,
    ("ndka", "s100b"): -0.000756164938056579,
    ("s100b", "wfns"): 0.00119615567376754,
}
# pROC tests/testthat/test-roc.test.R: (a, b) -> (Z, p, ci_low, ci_high)
PROC_ROC_TEST = {
    ("wfns", "s100b"): (
        2.20898359144091,
        0.0271757822291882,
        0.0104061769564846,
        0.174214419249478,
    ),
    ("wfns", "ndka"): (
        2.79777591868904,
        0.00514557970691098,
        0.0634011709339876,
        0.3600405634833566,
    ),
    ("ndka", "s100b"): (
        -1.39077002573558,
        0.164295175223054,
        -0.2876917446341914,
        0.0488706064228094,
    ),
}


def test_the_asah_file_is_procs_data_set():
    """The in-repository copy of pROC's aSAH: its digest, size, columns and a few values."""
    assert hashlib.sha256(ASAH_CSV.read_bytes()).hexdigest() == ASAH_SHA256
    assert ASAH.shape == (113, 7)
    assert list(ASAH.columns) == ["gos6", "outcome", "gender", "age", "wfns", "s100b", "ndka"]
    assert set(ASAH["outcome"]) == {"Good", "Poor"} and int(POOR.sum()) == 41
    assert WFNS.dtype.kind == "i" and S100B.dtype.kind == NDKA.dtype.kind == "f"
    assert (WFNS[:4].tolist(), S100B[:4].tolist(), NDKA[:4].tolist()) == (
        [1, 1, 1, 1],
        [0.13, 0.14, 0.1, 0.04],
        [3.01, 8.54, 8.09, 10.42],
    )


def test_asah_class_sizes_match_proc():
    """pROC print_output/r.s100b: "72 controls (aSAH$outcome Good) < 41 cases (... Poor)"."""
    res = roc_auc(POOR, S100B)
    assert (res.n_positive, res.n_negative) == (41, 72)


def test_auc_matches_proc_test_auc():
    """pROC tests/testthat/test-auc.R: auc(r.wfns) and auc(r.ndka) to 1e-12."""
    assert roc_auc(POOR, WFNS).auc == pytest.approx(0.823678861788618, abs=1e-12)
    assert roc_auc(POOR, NDKA).auc == pytest.approx(0.611957994579946, abs=1e-12)


def test_auc_matches_proc_printed_roc_objects():
    """pROC tests/testthat/print_output/r.s100b and r.wfns: "Area under the curve: ..."."""
    assert round(roc_auc(POOR, S100B).auc, 4) == 0.7314
    assert round(roc_auc(POOR, WFNS).auc, 4) == 0.8237


@pytest.mark.parametrize("marker", sorted(PROC_VAR))
def test_delong_variance_matches_proc_test_var(marker):
    """pROC tests/testthat/test-var.R: var(r.<marker>) (DeLong)."""
    res = roc_auc(POOR, MARKERS[marker])
    assert res.se**2 == pytest.approx(PROC_VAR[marker], rel=1e-10)


def test_delong_interval_matches_proc_test_ci_auc():
    """pROC tests/testthat/test-ci.auc.R: ci.auc(r.ndka) = 0.501244999271703-0.722670989888189."""
    res = roc_auc(POOR, NDKA)
    assert res.ci.low == pytest.approx(0.501244999271703, abs=1e-12)
    assert res.ci.high == pytest.approx(0.722670989888189, abs=1e-12)
    assert (res.ci.confidence, res.ci.method) == (0.95, "delong")


def test_s100b_interval_matches_proc_printed_output():
    """ci.auc(roc(aSAH$outcome, aSAH$s100b)) prints "95% CI: 0.6301-0.8326 (DeLong)".

    Printed pROC output as reproduced in a third-party tutorial (see module docstring); the
    limits also follow from test-var.R's var(r.s100b) through R/delong.R's formula.
    """
    res = roc_auc(POOR, S100B)
    assert (round(res.ci.low, 4), round(res.ci.high, 4)) == (0.6301, 0.8326)
    z = stats.norm.ppf(0.975)
    half = z * math.sqrt(PROC_VAR["s100b"])
    assert (res.ci.low, res.ci.high) == pytest.approx((res.auc - half, res.auc + half), abs=1e-12)


def test_wfns_interval_from_proc_auc_and_variance():
    """Not found printed by pROC; derived from test-auc.R's AUC and test-var.R's variance."""
    res = roc_auc(POOR, WFNS)
    half = stats.norm.ppf(0.975) * math.sqrt(PROC_VAR["wfns"])
    expected = (0.823678861788618 - half, 0.823678861788618 + half)
    assert (res.ci.low, res.ci.high) == pytest.approx(expected, abs=1e-12)
    assert (round(res.ci.low, 4), round(res.ci.high, 4)) == (0.7485, 0.8988)


@pytest.mark.parametrize(("a", "b"), sorted(PROC_ROC_TEST))
def test_delong_test_matches_proc_roc_test(a, b):
    """pROC tests/testthat/test-roc.test.R: roc.test(r.<a>, r.<b>) (paired DeLong)."""
    z, p, low, high = PROC_ROC_TEST[(a, b)]
    res = delong_test(POOR, MARKERS[a], MARKERS[b])
    assert res.z == pytest.approx(z, rel=1e-10)
    assert res.p_value == pytest.approx(p, rel=1e-9)
    assert (res.ci.low, res.ci.high) == pytest.approx((low, high), abs=1e-12)
    assert (res.ci.confidence, res.ci.method) == (0.95, "delong")
    assert res.difference == pytest.approx(res.auc_a - res.auc_b, abs=0)


def test_wfns_vs_s100b_matches_proc_printed_roc_test():
    """roc.test(r.wfns, r.s100b) printed: Z = 2.209, p-value = 0.02718 (test-roc.test.R)."""
    res = delong_test(POOR, WFNS, S100B)
    assert (round(res.z, 3), round(res.p_value, 5)) == (2.209, 0.02718)
    assert (round(res.auc_a, 7), round(res.auc_b, 7)) == (0.8236789, 0.7313686)


@pytest.mark.parametrize(("a", "b"), sorted(PROC_COV))
def test_delong_test_variance_uses_proc_covariance(a, b):
    """pROC test-var.R and test-cov.R: se(diff)^2 = var(a) + var(b) - 2 cov(a, b)."""
    res = delong_test(POOR, MARKERS[a], MARKERS[b])
    expected = PROC_VAR[a] + PROC_VAR[b] - 2 * PROC_COV[(a, b)]
    assert (res.difference / res.z) ** 2 == pytest.approx(expected, rel=1e-10)


def test_reversed_curves_give_the_same_p_and_opposite_z():
    """pROC test-roc.test.R: reversed curves produce identical p values and -Z."""
    forward = delong_test(POOR, WFNS, S100B)
    backward = delong_test(POOR, S100B, WFNS)
    assert backward.z == pytest.approx(-forward.z)
    assert backward.p_value == pytest.approx(forward.p_value)
    assert (backward.ci.low, backward.ci.high) == pytest.approx((-forward.ci.high, -forward.ci.low))


def test_identical_curves_give_z_0_and_p_1():
    """pROC test-roc.test.R, "DeLong roc.test works when curves are identical"."""
    res = delong_test(POOR, WFNS, WFNS)
    assert (res.z, res.p_value, res.difference) == (0.0, 1.0, 0.0)
    assert (res.ci.low, res.ci.high) == (0.0, 0.0)


# ----------------------------------------------------------------------- independent checks


def _pairwise_delong(y: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) written from the definition: the m x n kernel matrix per score.

    Returns the AUCs and the covariance matrix S10/m + S01/n.
    """
    positives = y.astype(bool)
    v10, v01, aucs = [], [], []
    for score in scores:
        x, w = score[positives], score[~positives]
        psi = (x[:, None] > w[None, :]) + 0.5 * (x[:, None] == w[None, :])
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    m, n = int(positives.sum()), int((~positives).sum())
    cov = np.atleast_2d(np.cov(v10, ddof=1)) / m + np.atleast_2d(np.cov(v01, ddof=1)) / n
    return np.array(aucs), cov


def _random_data(seed: int, n: int, levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two correlated scores with many ties (scores rounded to ``levels`` values)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2], y[2:4] = 0, 1  # both classes, at least 2 of each
    latent = rng.normal(size=n) + 0.8 * y
    a = np.round(latent * levels / 4) / levels
    b = np.round((latent + rng.normal(scale=1.0, size=n)) * levels / 4) / levels
    return y, a, b


@pytest.mark.parametrize(("seed", "n", "levels"), [(1, 50, 3), (2, 200, 5), (3, 1000, 20)])
def test_auc_equals_sklearn_roc_auc_score_with_ties(seed, n, levels):
    y, a, b = _random_data(seed, n, levels)
    assert len(np.unique(a)) < n / 2  # plenty of ties
    assert roc_auc(y, a).auc == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    res = delong_test(y, a, b)
    assert res.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert res.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)


@pytest.mark.parametrize(("seed", "n", "levels"), [(4, 12, 2), (5, 60, 4), (6, 300, 50)])
def test_fast_delong_equals_the_pairwise_definition(seed, n, levels):
    y, a, b = _random_data(seed, n, levels)
    aucs, cov = _pairwise_delong(y, a, b)
    single = roc_auc(y, a)
    assert single.auc == pytest.approx(aucs[0], abs=1e-12)
    assert single.se == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-10)
    res = delong_test(y, a, b)
    sigma = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert res.z == pytest.approx((aucs[0] - aucs[1]) / sigma, rel=1e-10)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(abs(res.z)), rel=1e-10)


def _sun_xu_with_rankdata(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Sun & Xu (2014) as printed: three ``scipy.stats.rankdata`` midrank vectors."""
    x, w = score[y.astype(bool)], score[~y.astype(bool)]
    m, n = x.size, w.size
    tz = stats.rankdata(np.concatenate((x, w)))
    v10 = (tz[:m] - stats.rankdata(x)) / n
    v01 = 1.0 - (tz[m:] - stats.rankdata(w)) / m
    return float(v10.mean()), math.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)


@pytest.mark.parametrize(("seed", "n", "levels"), [(7, 40, 2), (8, 5000, 10), (9, 100_000, 400)])
def test_single_sort_midranks_equal_sun_xu_with_scipy_rankdata(seed, n, levels):
    y, a, _ = _random_data(seed, n, levels)
    auc, se = _sun_xu_with_rankdata(y, a)
    res = roc_auc(y, a)
    assert res.auc == pytest.approx(auc, abs=1e-12)
    assert res.se == pytest.approx(se, rel=1e-10)


def test_fast_delong_equals_the_pairwise_definition_on_asah():
    aucs, cov = _pairwise_delong(POOR, WFNS, S100B)
    res = delong_test(POOR, WFNS, S100B)
    assert (res.auc_a, res.auc_b) == pytest.approx(tuple(aucs), abs=1e-12)
    assert (res.difference / res.z) ** 2 == pytest.approx(
        cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], rel=1e-10
    )


# ----------------------------------------------------------------- symmetry and degenerate cases


def test_swapping_classes_or_negating_the_score_mirrors_the_auc():
    res = roc_auc(POOR, S100B)
    for mirrored in (roc_auc(~POOR, S100B), roc_auc(POOR, -S100B)):
        assert mirrored.auc == pytest.approx(1 - res.auc, abs=1e-12)
        assert mirrored.se == pytest.approx(res.se, rel=1e-12)
        assert (mirrored.ci.low, mirrored.ci.high) == pytest.approx(
            (1 - res.ci.high, 1 - res.ci.low), abs=1e-12
        )


def test_auc_is_invariant_to_monotone_transformations_and_order():
    res = roc_auc(POOR, NDKA)
    assert roc_auc(POOR, np.log(NDKA)) == res
    order = np.random.default_rng(0).permutation(POOR.size)
    shuffled = roc_auc(POOR[order], NDKA[order])
    assert shuffled.auc == pytest.approx(res.auc, abs=1e-15)
    assert shuffled.se == pytest.approx(res.se, rel=1e-12)


def test_labels_may_be_bool_or_0_1_and_scores_int_or_float():
    as_int = roc_auc(POOR.astype(int), WFNS)
    as_bool = roc_auc(POOR, WFNS.astype(float))
    assert as_int == as_bool


def test_perfect_separation_gives_auc_1_and_se_0_with_warning():
    with pytest.warns(RuntimeWarning, match="standard error is 0"):
        res = roc_auc([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9])
    assert (res.auc, res.se) == (1.0, 0.0)
    assert (res.ci.low, res.ci.high) == (1.0, 1.0)


def test_perfectly_wrong_score_gives_auc_0_and_se_0():
    with pytest.warns(RuntimeWarning, match="standard error is 0"):
        res = roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])
    assert (res.auc, res.se, res.ci.low, res.ci.high) == (0.0, 0.0, 0.0, 0.0)


def test_constant_score_gives_auc_one_half():
    with pytest.warns(RuntimeWarning, match="standard error is 0"):
        res = roc_auc([0, 1, 0, 1, 1], [3, 3, 3, 3, 3])
    assert (res.auc, res.se) == (0.5, 0.0)


def test_upper_limit_is_clipped_to_1_as_in_proc():
    """pROC R/delong.R, ci_auc_delong: "ci[ci > 1] <- 1"."""
    res = roc_auc([0, 0, 1, 1, 1], [0.1, 0.4, 0.35, 0.8, 0.4])
    assert res.auc + stats.norm.ppf(0.975) * res.se > 1.0
    assert res.ci.high == 1.0


def test_difference_interval_is_not_clipped():
    """pROC R/delong.R, ci_delong_paired: d -/+ z * sigma, no clipping."""
    y = [0, 0, 0, 1, 1, 1]
    res = delong_test(y, [0.1, 0.2, 0.5, 0.4, 0.6, 0.7], [0.7, 0.6, 0.2, 0.5, 0.1, 0.3])
    assert res.difference == pytest.approx(2 / 3)
    assert res.ci.high > 1.0
    assert res.ci.high - res.difference == pytest.approx(res.difference - res.ci.low)


def test_single_subject_in_a_class_gives_nan_se_with_warning():
    with pytest.warns(RuntimeWarning, match="single subject"):
        res = roc_auc([0, 0, 0, 1], [0.1, 0.5, 0.3, 0.4])
    assert res.auc == pytest.approx(2 / 3)
    assert math.isnan(res.se) and math.isnan(res.ci.low) and math.isnan(res.ci.high)
    with pytest.warns(RuntimeWarning, match="single subject"):
        test = delong_test([0, 1, 1], [0.1, 0.5, 0.3], [0.3, 0.2, 0.4])
    assert math.isnan(test.z) and math.isnan(test.p_value)


def test_confidence_level_is_a_parameter():
    wide = roc_auc(POOR, S100B, confidence=0.99)
    narrow = roc_auc(POOR, S100B, confidence=0.90)
    assert wide.ci.low < narrow.ci.low < narrow.ci.high < wide.ci.high
    assert (wide.ci.confidence, narrow.ci.confidence) == (0.99, 0.90)
    assert delong_test(POOR, WFNS, S100B, confidence=0.9).ci.confidence == 0.9


def test_results_are_frozen_dataclasses():
    res = roc_auc(POOR, S100B)
    test = delong_test(POOR, WFNS, S100B)
    assert isinstance(res, RocAuc) and isinstance(test, DelongTest)
    assert isinstance(res.ci, Interval) and isinstance(test.ci, Interval)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.auc = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        test.z = 0.0  # type: ignore[misc]


# ------------------------------------------------------------------------------ input checks


@pytest.mark.parametrize(
    ("y_true", "score", "kwargs", "exc", "match"),
    [
        ([0, 1, 1], [0.1, 0.2], {}, ValueError, "y_true and score must have the same length"),
        ([0, 1, 1], [0.1, np.nan, 0.3], {}, ValueError, "score must contain only finite"),
        ([0, 1, 1], [0.1, np.inf, 0.3], {}, ValueError, "score must contain only finite"),
        ([0, 1, 2], [0.1, 0.2, 0.3], {}, ValueError, r"y_true must hold binary labels.*\[2\]"),
        ([0, 1, np.nan], [0.1, 0.2, 0.3], {}, ValueError, "y_true must hold binary labels"),
        (["a", "b"], [0.1, 0.2], {}, TypeError, "y_true must hold binary labels"),
        ([1, 1, 1], [0.1, 0.2, 0.3], {}, ValueError, r"both classes.*all positive"),
        ([0, 0], [0.1, 0.2], {}, ValueError, r"both classes.*all negative"),
        ([0, 1], ["x", "y"], {}, TypeError, "score must hold real numbers"),
        ([], [], {}, ValueError, "at least one observation"),
        ([0, 1], [0.1, 0.2], {"confidence": 1.0}, ValueError, r"confidence must be in .*got 1.0"),
        ([0, 1], [0.1, 0.2], {"confidence": 0}, ValueError, "confidence must be in"),
        ([0, 1], [0.1, 0.2], {"confidence": "95%"}, TypeError, "confidence must be a real"),
    ],
)
def test_invalid_input_raises(y_true, score, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        roc_auc(y_true, score, **kwargs)


def test_delong_test_names_the_offending_score():
    with pytest.raises(ValueError, match="y_true and score_b must have the same length"):
        delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="score_a must contain only finite"):
        delong_test([0, 1, 1], [0.1, np.nan, 0.3], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both classes"):
        delong_test([1, 1], [0.1, 0.2], [0.3, 0.4])
    with pytest.raises(ValueError, match="confidence"):
        delong_test([0, 1], [0.1, 0.2], [0.3, 0.4], confidence=1.5)
    with pytest.raises(TypeError):
        delong_test([0, 1], [0.1, 0.2], [0.3, 0.4], 0.95)  # type: ignore[misc]


# --------------------------------------------------------------------------- weighted AUC


@pytest.mark.parametrize("marker", ["wfns", "s100b", "ndka"])
def test_weighted_auc_with_unit_weights_is_the_proc_auc(marker):
    """pROC's auc() on aSAH, as in test_auc_matches_proc_test_auc, through the weighted path."""
    ones = np.ones(POOR.size)
    assert float(weighted_auc(POOR, MARKERS[marker], weights=ones)) == pytest.approx(
        roc_auc(POOR, MARKERS[marker]).auc, abs=1e-12
    )


def test_integer_weights_equal_repeating_the_studies():
    rng = np.random.default_rng(0)
    w = rng.integers(0, 4, size=(5, POOR.size))
    got = weighted_auc(POOR, S100B, weights=w)
    for row, value in zip(w, got, strict=True):
        expanded = np.repeat(np.arange(POOR.size), row)
        assert value == pytest.approx(roc_auc_score(POOR[expanded], S100B[expanded]), abs=1e-12)


def test_weighted_auc_without_one_class_is_nan_and_bad_weights_are_refused():
    w = np.where(POOR, 0.0, 1.0)
    assert math.isnan(float(weighted_auc(POOR, S100B, weights=w)))
    with pytest.raises(ValueError, match="non-negative"):
        weighted_auc(POOR, S100B, weights=-np.ones(POOR.size))
    with pytest.raises(ValueError, match="shape"):
        weighted_auc(POOR, S100B, weights=np.ones(3))
