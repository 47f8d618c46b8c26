"""Tests for validation.stats.meta (random-effects pooling) against R metafor's output.

Data: the BCG vaccine trials, R ``metafor::dat.bcg`` (Colditz et al. 1994, JAMA
271(9):698-702), 13 trials; counts tpos/tneg (vaccinated, TB+/TB-) and cpos/cneg (control),
transcribed from the listing in the metafor README (github.com/wviechtb/metafor, README.md).
Log risk ratios and variances are computed as ``escalc(measure="RR", ai=tpos, bi=tneg,
ci=cpos, di=cneg)``: yi = log(a/(a+b)) - log(c/(c+d)), vi = 1/a - 1/(a+b) + 1/c - 1/(c+d);
the README prints the resulting yi and vi to 4 decimals, which the tests check first.

Sources of the reference numbers (all R metafor on the data above):

* metafor README.md, ``res <- rma(yi, vi, data=dat, test="knha")`` (REML): tau^2 0.3132,
  tau 0.5597, I^2 92.22%, H^2 12.86, Q(df = 12) = 152.2330; estimate -0.7145, se 0.1808,
  tval -3.9522, df 12, pval 0.0019, CI -1.1084 to -0.3206; and
  ``predict(res, transf=exp, digits=2)``: pred 0.49, CI 0.33-0.73, PI 0.14-1.76 (metafor's
  default PI with knha uses t on k - 1 df).
* ``rma(yi, vi, data=dat)`` (REML, test="z") as printed by metafor: estimate -0.7145, se
  0.1798, zval -3.9744, CI -1.0669 to -0.3622 (same tau^2, I^2, H^2, Q); printout reproduced
  in the RoBMA package vignette (F. Bartos, "fit1_metafor <- metafor::rma(yi, vi, data = dat,
  method = 'REML')"). ``predict(res, transf=exp)`` for this model: 0.4894 (0.3441, 0.6962),
  PI 0.1546 to 1.5490, from a knitted R Markdown tutorial run with metafor 4.2-0.
* metafor test suite (github.com/wviechtb/metafor, tests/testthat/):
  - test_misc_metan_vs_rma.uni_with_dat.bcg.r, checked against Stata ``metan``:
    FE: estimate -0.4303, CI -0.5097 to -0.3509, zval -10.6247, QE 152.2330;
    DL: estimate -0.7141, CI -1.0644 to -0.3638, zval -3.9952, tau^2 0.3088, I^2 92.1173;
    ``predict(res, transf=exp)`` 0.4896 (0.3449, 0.6950).
  - test_misc_confint.r, ``confint(rma(..., method="DL"))`` (Q-profile): tau^2 0.3088
    (0.1197, 1.1115), I^2 92.1173 (81.9177, 97.6781), H^2 12.6861 (5.5303, 43.0680).
  - test_misc_influence.r: REML tau2 = 0.313243325980895, QE = 152.233008082373; and
    ``leave1out(res)`` first row (trial 1 omitted): estimate -0.707083788031436,
    se 0.189961024702717, ci -1.07940055491509 to -0.334767021147788, Q 151.582572747109,
    Qp 7.0778599767807e-27, tau2 0.336156745300306, I2 93.2259349111223,
    H2 14.762184698253.

Not found: a published value of the Higgins et al. (2009) t(k-2) prediction interval
(metafor ``pi.type="Riley"``) on these data; it is checked by an independent computation of
the formula. The other leave-one-out rows are checked by refitting on each subset, and the
REML estimate additionally by direct numerical maximisation of the restricted likelihood.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from validation.stats import meta
from validation.stats.meta import RandomEffectsPool, leave_one_out, random_effects
from validation.stats.proportions import Interval

# dat.bcg (metafor README listing): tpos, tneg, cpos, cneg for trials 1..13.
TPOS = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27], dtype=float)
TNEG = np.array(
    [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886], dtype=float
)
CPOS = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29], dtype=float)
CNEG = np.array(
    [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825], dtype=float
)
YI = np.log(TPOS / (TPOS + TNEG)) - np.log(CPOS / (CPOS + CNEG))
VI = 1 / TPOS - 1 / (TPOS + TNEG) + 1 / CPOS - 1 / (CPOS + CNEG)

# escalc output printed in the README (4 decimals).
README_YI = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120, -0.4694,
             -1.3713, -0.3394, 0.4459, -0.0173]  # fmt: skip
README_VI = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564, 0.0730,
             0.0124, 0.5325, 0.0714]  # fmt: skip

P4 = 5e-5 + 1e-12  # half a unit in the 4th decimal: values printed to 4 decimals


def test_escalc_log_risk_ratios_match_the_readme():
    np.testing.assert_allclose(YI, README_YI, atol=P4)
    np.testing.assert_allclose(VI, README_VI, atol=P4)


# --------------------------------------------------------------------------- REML (default)


def test_reml_matches_metafor_rma_default():
    """rma(yi, vi) default REML, test="z": metafor printout and test_misc_influence.r."""
    res = random_effects(YI, VI)
    assert isinstance(res, RandomEffectsPool)
    assert res.method == "REML" and res.test == "z" and res.k == 13
    # metafor's stored tau2 comes from Fisher scoring stopped at its default threshold
    # (1e-5); ours stops at 1e-10, so agreement is to ~1e-7 (the REML score is -2e-6 at
    # metafor's value and ~1e-11 at ours; see the next test).
    assert res.tau2 == pytest.approx(0.313243325980895, abs=1e-6)
    assert res.q == pytest.approx(152.233008082373, abs=1e-8)
    assert res.q_df == 12
    assert res.q_p < 1e-4  # printed "p-val < .0001"
    assert res.estimate == pytest.approx(-0.7145, abs=P4)
    assert res.se == pytest.approx(0.1798, abs=P4)
    assert res.statistic == pytest.approx(-3.9744, abs=P4)
    assert res.p_value < 1e-4
    assert math.isnan(res.df)
    assert (res.ci.low, res.ci.high) == pytest.approx((-1.0669, -0.3622), abs=P4)
    assert res.ci.method == "z" and res.ci.confidence == 0.95
    assert res.tau == pytest.approx(0.5597, abs=P4)
    assert 100 * res.i2 == pytest.approx(92.22, abs=0.005)
    assert res.h2 == pytest.approx(12.86, abs=0.005)


def test_reml_tau2_maximises_the_restricted_likelihood():
    """Independent check: bounded numerical maximisation of the REML log-likelihood."""

    def negative_reml(t: float) -> float:
        w = 1 / (VI + t)
        mu = np.sum(w * YI) / np.sum(w)
        return 0.5 * (np.sum(np.log(VI + t)) + np.log(np.sum(w)) + np.sum(w * (YI - mu) ** 2))

    best = optimize.minimize_scalar(
        negative_reml, bounds=(0, 5), method="bounded", options={"xatol": 1e-12}
    )
    assert random_effects(YI, VI).tau2 == pytest.approx(best.x, abs=1e-7)


def test_reml_normal_prediction_matches_metafor_predict():
    """predict(rma(yi, vi), transf=exp): 0.4894 (0.3441, 0.6962), PI 0.1546 to 1.5490."""
    res = random_effects(YI, VI, prediction="normal")
    assert math.exp(res.estimate) == pytest.approx(0.4894, abs=P4)
    assert (math.exp(res.ci.low), math.exp(res.ci.high)) == pytest.approx((0.3441, 0.6962), abs=P4)
    pi = res.prediction_interval
    assert (math.exp(pi.low), math.exp(pi.high)) == pytest.approx((0.1546, 1.5490), abs=P4)
    assert pi.method == "normal" and pi.confidence == 0.95


def test_knha_matches_the_metafor_readme():
    """rma(yi, vi, test="knha"): se 0.1808, t -3.9522 (df 12), p 0.0019, CI -1.1084, -0.3206."""
    res = random_effects(YI, VI, test="knha", prediction="normal")
    assert res.estimate == pytest.approx(-0.7145, abs=P4)
    assert res.se == pytest.approx(0.1808, abs=P4)
    assert res.statistic == pytest.approx(-3.9522, abs=P4)
    assert res.df == 12
    assert res.p_value == pytest.approx(0.0019, abs=P4)
    assert (res.ci.low, res.ci.high) == pytest.approx((-1.1084, -0.3206), abs=P4)
    assert res.ci.method == "knha"
    # predict(res, transf=exp, digits=2): 0.49 (0.33, 0.73), PI 0.14 to 1.76.
    rounded = [
        round(math.exp(x), 2)
        for x in (
            res.estimate,
            res.ci.low,
            res.ci.high,
            res.prediction_interval.low,
            res.prediction_interval.high,
        )
    ]
    assert rounded == [0.49, 0.33, 0.73, 0.14, 1.76]


def test_higgins_prediction_interval_uses_t_on_k_minus_2_df():
    """Independent computation of Higgins et al. (2009): mu -/+ t(k-2) sqrt(SE^2 + tau^2)."""
    for test in ("z", "knha"):
        res = random_effects(YI, VI, test=test)
        half = stats.t.ppf(0.975, 11) * math.sqrt(res.se**2 + res.tau2)
        pi = res.prediction_interval
        assert pi.method == "higgins"
        assert pi.low == pytest.approx(res.estimate - half, rel=1e-12)
        assert pi.high == pytest.approx(res.estimate + half, rel=1e-12)
        # Wider than metafor's default, which ignores the uncertainty in tau^2.
        normal = random_effects(YI, VI, test=test, prediction="normal").prediction_interval
        assert pi.low < normal.low and pi.high > normal.high


# --------------------------------------------------------------------------- DL and FE


def test_dersimonian_laird_matches_metafor_and_stata_metan():
    """test_misc_metan_vs_rma.uni_with_dat.bcg.r, RE model with DL estimator, measure RR."""
    res = random_effects(YI, VI, method="DL")
    assert res.estimate == pytest.approx(-0.7141, abs=P4)
    assert (res.ci.low, res.ci.high) == pytest.approx((-1.0644, -0.3638), abs=P4)
    assert res.statistic == pytest.approx(-3.9952, abs=P4)
    assert res.tau2 == pytest.approx(0.3088, abs=P4)
    assert 100 * res.i2 == pytest.approx(92.1173, abs=P4)
    exp_values = (math.exp(res.estimate), math.exp(res.ci.low), math.exp(res.ci.high))
    assert exp_values == pytest.approx((0.4896, 0.3449, 0.6950), abs=P4)


def test_dersimonian_laird_equals_the_moment_formula():
    """Independent: tau^2 = (Q - df) / (sum w - sum w^2 / sum w); I^2 = (Q - df) / Q."""
    w = 1 / VI
    mu0 = np.sum(w * YI) / np.sum(w)
    q = np.sum(w * (YI - mu0) ** 2)
    tau2 = (q - 12) / (np.sum(w) - np.sum(w**2) / np.sum(w))
    res = random_effects(YI, VI, method="DL")
    assert res.tau2 == pytest.approx(tau2, rel=1e-12)
    assert res.i2 == pytest.approx((q - 12) / q, rel=1e-12)
    assert res.h2 == pytest.approx(q / 12, rel=1e-12)


def test_fixed_effect_matches_metafor_and_stata_metan():
    """test_misc_metan_vs_rma.uni_with_dat.bcg.r, FE model, measure RR."""
    res = random_effects(YI, VI, method="FE")
    assert res.estimate == pytest.approx(-0.4303, abs=P4)
    assert (res.ci.low, res.ci.high) == pytest.approx((-0.5097, -0.3509), abs=P4)
    assert res.statistic == pytest.approx(-10.6247, abs=P4)
    assert res.q == pytest.approx(152.2330, abs=P4)
    assert res.tau2 == 0.0
    assert math.isnan(res.prediction_interval.low) and math.isnan(res.tau2_ci.high)
    assert res.i2 == pytest.approx((res.q - 12) / res.q)


def test_q_profile_intervals_match_metafor_confint():
    """test_misc_confint.r: confint(rma(..., method="DL")).

    metafor finds the limits with uniroot(tol = .Machine$double.eps^0.25 ~ 1.2e-4), which
    moves the lower I^2 limit by up to ~0.01 percentage points; its H^2 limits likewise.
    """
    res = random_effects(YI, VI, method="DL")
    assert (res.tau2_ci.low, res.tau2_ci.high) == pytest.approx((0.1197, 1.1115), abs=P4)
    assert res.tau2_ci.method == "q-profile" and res.tau2_ci.confidence == 0.95
    assert 100 * res.i2_ci.low == pytest.approx(81.9177, abs=0.01)
    assert 100 * res.i2_ci.high == pytest.approx(97.6781, abs=0.001)
    assert res.h2_ci.low == pytest.approx(5.5303, abs=0.002)
    assert res.h2_ci.high == pytest.approx(43.0680, abs=0.002)
    # The Q-profile interval does not depend on the tau^2 estimator.
    reml = random_effects(YI, VI)
    assert reml.tau2_ci.low == pytest.approx(res.tau2_ci.low, rel=1e-10)
    assert reml.tau2_ci.low < reml.tau2 < reml.tau2_ci.high


def test_q_profile_limits_solve_the_generalised_q_equation():
    """Independent: Q(t) = sum (y - mu_t)^2 / (v + t) equals the chi-square quantiles."""

    def gen_q(t: float) -> float:
        w = 1 / (VI + t)
        mu = np.sum(w * YI) / np.sum(w)
        return float(np.sum(w * (YI - mu) ** 2))

    ci = random_effects(YI, VI, confidence=0.90).tau2_ci
    assert gen_q(ci.low) == pytest.approx(stats.chi2.ppf(0.95, 12), rel=1e-9)
    assert gen_q(ci.high) == pytest.approx(stats.chi2.ppf(0.05, 12), rel=1e-9)


# --------------------------------------------------------------------------- poolability


def test_bcg_sites_are_not_poolable_and_the_reason_says_why():
    res = random_effects(YI, VI)
    assert res.poolable is False
    assert "not poolable" in res.poolability_reason
    assert "Cochran's Q" in res.poolability_reason and "I^2 = 92.2%" in res.poolability_reason
    assert (res.q_alpha, res.i2_threshold) == (0.10, 0.50)


def test_homogeneous_sites_are_poolable_with_tau2_zero():
    y = [0.50, 0.52, 0.49, 0.51, 0.50]
    v = [0.01, 0.02, 0.015, 0.01, 0.03]
    for method in ("REML", "DL"):
        res = random_effects(y, v, method=method)
        assert res.tau2 == 0.0 and res.i2 == 0.0 and res.h2 == 1.0
        assert res.tau2_ci.low == 0.0 and res.tau2_ci.high == 0.0
        assert res.poolable is True and res.poolability_reason.startswith("poolable")
        # With tau^2 = 0 the random-effects estimate is the fixed-effect one.
        fe = random_effects(y, v, method="FE")
        assert res.estimate == pytest.approx(fe.estimate, rel=1e-12)


def test_poolability_thresholds_are_options():
    """Q test and I^2 criteria act separately; both thresholds are keyword options."""
    # Ten equally precise sites: Q = 15.4 on 9 df (p = 0.080) and I^2 = 0.416.
    y = [-0.2775, -0.222, -0.148, -0.074, -0.0185, 0.0185, 0.074, 0.148, 0.222, 0.2775]
    v = [0.02] * 10
    res = random_effects(y, v)
    assert 0.05 < res.q_p < 0.10 and 0.40 < res.i2 < 0.50
    assert res.poolable is False
    assert res.poolability_reason == "not poolable: Cochran's Q test p = 0.0805 < 0.1."
    relaxed = random_effects(y, v, q_alpha=0.05)
    assert relaxed.poolable is True and relaxed.q_alpha == 0.05
    strict_i2 = random_effects(y, v, q_alpha=0.05, i2_threshold=0.30)
    assert strict_i2.poolable is False
    assert strict_i2.poolability_reason == "not poolable: I^2 = 41.6% > 30%."


# --------------------------------------------------------------------------- small k, misc


def test_two_sites_work_with_dl_and_reml():
    y, v = [0.2, 0.8], [0.01, 0.02]
    for method in ("DL", "REML"):
        with pytest.warns(RuntimeWarning, match="k >= 3"):
            res = random_effects(y, v, method=method)
        assert res.k == 2 and res.q_df == 1
        assert math.isnan(res.prediction_interval.low)
        normal = random_effects(y, v, method=method, prediction="normal")
        assert math.isfinite(normal.prediction_interval.low)
    w = 1 / np.array(v)
    q = float(np.sum(w * (np.array(y) - np.sum(w * y) / np.sum(w)) ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dl = random_effects(y, v, method="DL")
    assert dl.tau2 == pytest.approx((q - 1) / (w.sum() - (w**2).sum() / w.sum()), rel=1e-12)


def test_weights_labels_and_result_are_frozen():
    res = random_effects(YI, VI, labels=[f"trial {i}" for i in range(1, 14)])
    assert sum(res.weights) == pytest.approx(1.0)
    w = 1 / (VI + res.tau2)
    np.testing.assert_allclose(res.weights, w / w.sum(), rtol=1e-12)
    assert res.labels[0] == "trial 1" and len(res.labels) == 13
    assert random_effects(YI, VI).labels[:2] == ("1", "2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.estimate = 0.0  # type: ignore[misc]
    assert all(isinstance(x, Interval) for x in (res.ci, res.tau2_ci, res.prediction_interval))


def test_sign_flip_and_confidence_level():
    res = random_effects(YI, VI)
    flipped = random_effects(-YI, VI)
    assert flipped.estimate == pytest.approx(-res.estimate, rel=1e-12)
    assert flipped.tau2 == pytest.approx(res.tau2, rel=1e-9)
    narrow = random_effects(YI, VI, confidence=0.80)
    assert narrow.ci.confidence == 0.80
    assert res.ci.low < narrow.ci.low < narrow.ci.high < res.ci.high


def test_reml_falls_back_to_numerical_maximisation_when_scoring_does_not_converge(monkeypatch):
    monkeypatch.setattr(meta, "_REML_MAXITER", 1)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        res = random_effects(YI, VI)
    assert res.tau2 == pytest.approx(0.313243325980895, abs=1e-6)


# --------------------------------------------------------------------------- leave-one-out


def test_leave_one_out_first_row_matches_metafor_leave1out():
    """test_misc_influence.r: leave1out(rma(yi, vi)), trial 1 omitted.

    Tolerance 1e-6: metafor's REML iterations stop at its default threshold 1e-5, ours at
    1e-10 (see test_reml_matches_metafor_rma_default).
    """
    table = leave_one_out(YI, VI)
    row = table.iloc[0]
    assert row["omitted"] == "1" and row["k"] == 12
    assert row["estimate"] == pytest.approx(-0.707083788031436, abs=1e-6)
    assert row["se"] == pytest.approx(0.189961024702717, abs=1e-6)
    assert row["ci_low"] == pytest.approx(-1.07940055491509, abs=1e-6)
    assert row["ci_high"] == pytest.approx(-0.334767021147788, abs=1e-6)
    assert row["q"] == pytest.approx(151.582572747109, abs=1e-7)
    assert row["q_p"] == pytest.approx(7.0778599767807e-27, rel=1e-6)
    assert row["tau2"] == pytest.approx(0.336156745300306, abs=1e-6)
    assert 100 * row["i2"] == pytest.approx(93.2259349111223, abs=1e-4)
    assert row["h2"] == pytest.approx(14.762184698253, abs=1e-4)


@pytest.mark.parametrize(("method", "test"), [("REML", "z"), ("DL", "knha"), ("FE", "z")])
def test_leave_one_out_rows_equal_refits_on_subsets(method, test):
    labels = [f"site-{c}" for c in "ABCDEFGHIJKLM"]
    table = leave_one_out(YI, VI, labels=labels, method=method, test=test, confidence=0.9)
    assert list(table.columns) == [
        "omitted", "k", "estimate", "se", "ci_low", "ci_high", "tau2", "i2", "h2", "q",
        "q_df", "q_p", "confidence", "method", "test",
    ]  # fmt: skip
    assert list(table["omitted"]) == labels
    for i in range(13):
        keep = np.arange(13) != i
        ref = random_effects(
            YI[keep], VI[keep], method=method, test=test, confidence=0.9, prediction="normal"
        )
        row = table.iloc[i]
        assert row["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ref.ci.low, ref.ci.high))
        assert row["tau2"] == pytest.approx(ref.tau2, abs=1e-12)
        assert row["i2"] == pytest.approx(ref.i2, abs=1e-12)
        assert row["q_p"] == pytest.approx(ref.q_p, rel=1e-9)
        assert row["method"] == method and row["test"] == test and row["confidence"] == 0.9


def test_leave_one_out_needs_three_sites():
    with pytest.raises(ValueError, match="at least 3 sites"):
        leave_one_out([0.1, 0.2], [0.01, 0.01])
    table = leave_one_out([0.1, 0.2, 0.4], [0.01, 0.01, 0.02])
    assert isinstance(table, pd.DataFrame) and len(table) == 3 and set(table["k"]) == {2}


# --------------------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"estimates": [0.1], "variances": [0.01]},
            ValueError,
            "at least 2 sites to pool; got k=1",
        ),
        ({"estimates": [0.1, 0.2], "variances": [0.01]}, ValueError, "same length"),
        ({"estimates": [0.1, np.nan], "variances": [0.1, 0.1]}, ValueError, "NaN"),
        ({"estimates": [0.1, 0.2], "variances": [0.1, np.inf]}, ValueError, "finite"),
        ({"estimates": [0.1, 0.2], "variances": [0.1, 0.0]}, ValueError, "positive"),
        ({"estimates": [0.1, 0.2], "variances": [0.1, -1.0]}, ValueError, "positive"),
        ({"estimates": ["a", "b"], "variances": [0.1, 0.1]}, TypeError, "real numbers"),
        ({"confidence": 1.0}, ValueError, "confidence"),
        ({"confidence": "95%"}, TypeError, "confidence"),
        ({"method": "ML"}, ValueError, "method must be one of"),
        ({"test": "t"}, ValueError, "test must be one of"),
        ({"prediction": "riley"}, ValueError, "prediction must be one of"),
        ({"q_alpha": 0.0}, ValueError, "q_alpha"),
        ({"i2_threshold": 1.5}, ValueError, "i2_threshold"),
        ({"i2_threshold": True}, TypeError, "i2_threshold"),
        ({"labels": ["a", "a", "b"]}, ValueError, "unique"),
        ({"labels": ["a", "b"]}, ValueError, "labels and estimates"),
        ({"labels": "abc"}, TypeError, "labels"),
    ],
)
def test_bad_input_raises_with_a_clear_message(kwargs, error, match):
    args = {"estimates": [0.1, 0.2, 0.3], "variances": [0.01, 0.02, 0.03]}
    args.update(kwargs)
    estimates, variances = args.pop("estimates"), args.pop("variances")
    with pytest.raises(error, match=match):
        random_effects(estimates, variances, **args)
