"""Tests for validation.stats.control (CUSUM, EWMA, run lengths, limits) against published values.

Sources:

* Montgomery DC. Introduction to Statistical Quality Control, 6th ed., Wiley 2009, Example 9.1
  and Table 9.2 (7th ed. p. 416): 30 observations with mu0 = 10, sigma = 1, charted by a
  tabular CUSUM with k = 0.5, h = 5; the upper sum C+ for periods 1-29 ends with 4.47, 5.28
  (first signal at period 29) and keeps accumulating to 5.30 at period 30. Data and C+ as
  transcribed in the test suite of the Python package process-improve (kgdunn/process-improve,
  tests/test_control_chart_cusum.py).
* Lucas JM, Crosier RB. Technometrics 1982;24:199-205, Table 1: two-sided CUSUM, k = 0.5,
  h = 4, zero start: ARL 168, 74.2, 26.6, 13.3, 8.38, 4.75, 3.34, 2.62, 2.19, 1.71, 1.31 at
  shifts 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5 SD. Transcribed in the examples of R
  package spc (Knoth), man/xcusum.arl.Rd. The same column is Montgomery (2009) Table 9.3, h = 4.
* Montgomery (2009) Table 9.3, h = 5, k = 0.5: ARL0 465, ARL 10.4 at a 1 SD shift (also 8.38
  for h = 4), as quoted in kgdunn/process-improve tests/test_control_chart_cusum.py. The
  table itself could not be retrieved with the search tools; its other h = 5 entries are not
  used.
* SAS/QC CUSUMARL function documentation (SAS/QC manual 1999, transcribed in spc's
  man/xcusum.arl.Rd): cusumarl('twosided', 2.5, 8, 0.25) = 4.1500826715.
* Lucas JM, Saccucci MS. Technometrics 1990;32:1-12, Table 3: two-sided EWMA with fixed
  (asymptotic) limits, lam = 0.5, L = 3.071 and lam = 0.03, L = 2.437, shifts 0 to 5 SD
  (transcribed in spc, man/xewma.arl.Rd).
* Crowder SV. Technometrics 1987;29:401-407, Table 1: EWMA with fixed limits at c = 2
  asymptotic SDs, lam = 0.5 and 0.05 (spc, man/xewma.arl.Rd).
* Waldmann K-H. Appl Statist 1986;35:151-158, Table 1: two-sided EWMA, limits +/-2 on the EWMA
  scale, lam = 0.75: ARL0 104.0; lam = 0.5: 1952 (spc, man/xewma.arl.Rd).
* SAS/QC EWMAARL function documentation: ewmaarl(1.00, 0.25, 3.0) = 11.154267016.
* lam = 0.1, L = 2.814 gives ARL0 about 500 (Montgomery 2009, Table 9.11, after Lucas &
  Saccucci 1990), as quoted in the project brief; the table itself was not retrieved.

Not found: published ARLs for the EWMA with exact (time-varying) limits that agree with
simulation. Steiner (1999, J Qual Technol 31:75-86) Table 2 and Chandrasekaran, English &
Disney (1995) Table 2 differ from a seeded simulation by up to 3% (R package spc itself flags
the latter as inaccurate), so the exact-limit chain is checked against Monte-Carlo simulation
instead, as are the run-length distributions (no published tables for P(RL <= t) over a
12-period horizon were found) and the family-wise false-alarm rate of limit_for.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from validation.stats.control import (
    ControlLimit,
    CusumResult,
    EwmaResult,
    cusum,
    cusum_arl,
    ewma,
    ewma_arl,
    limit_for,
    run_length_cdf,
)

MONTGOMERY_X = [
    9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
    9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
    10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
]  # fmt: skip
MONTGOMERY_UPPER = [
    0.0, 0.0, 0.0, 1.16, 2.82, 2.50, 0.04, 1.00, 0.0, 0.0, 0.0, 0.97, 0.98, 0.0, 0.0,
    0.0, 0.12, 0.0, 0.0, 0.34, 0.74, 0.0, 1.79, 2.79, 2.89, 3.47, 3.35, 4.47, 5.28,
]  # fmt: skip

# (shift, ARL, decimals printed) from Lucas & Crosier (1982), Table 1, k = 0.5, h = 4.
LUCAS_CROSIER_H4 = [
    (0.0, 168.0, 0), (0.25, 74.2, 1), (0.5, 26.6, 1), (0.75, 13.3, 1), (1.0, 8.38, 2),
    (1.5, 4.75, 2), (2.0, 3.34, 2), (2.5, 2.62, 2), (3.0, 2.19, 2), (4.0, 1.71, 2),
    (5.0, 1.31, 2),
]  # fmt: skip

LS_SHIFTS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0]
# Lucas & Saccucci (1990), Table 3 (fixed limits): (lam, L, ARLs at LS_SHIFTS).
LUCAS_SACCUCCI = [
    (0.5, 3.071, [500, 255, 88.8, 35.9, 17.5, 6.53, 3.63, 2.50, 1.93, 1.58, 1.34, 1.07]),
    (0.03, 2.437, [500, 76.7, 29.3, 17.6, 12.6, 8.07, 5.99, 4.80, 4.03, 3.49, 3.11, 2.55]),
]
# Crowder (1987), Table 1, c = 2: (shift, ARL lam = 0.5, ARL lam = 0.05).
CROWDER = [
    (0.0, 26.45, 127.53), (0.5, 11.89, 18.97), (1.0, 4.91, 8.38), (1.5, 2.80, 5.41),
    (2.0, 1.94, 4.04), (3.0, 1.26, 2.76), (4.0, 1.05, 2.15),
]  # fmt: skip


def _half_unit(value: float, decimals: int) -> float:
    """Rounding tolerance of a value published with ``decimals`` decimals."""
    return 0.5 * 10.0**-decimals + 1e-9


def _significant_tolerance(value: float) -> float:
    """Half a unit in the last of three significant digits (the tables' precision)."""
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - 2)


def _simulate_run_lengths(
    chart: str, limit: float, n_runs: int, max_t: int, seed: int, *, shift: float = 0.0
) -> np.ndarray:
    """First-alarm period (1-based) of independent charts on N(shift, 1); max_t + 1 if none."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_runs, max_t)) + shift
    res = cusum(z, h=limit) if chart == "cusum" else ewma(z, lam=0.2, L=limit)
    first = res.first_alarm
    return np.where(first >= 0, first + 1, max_t + 1)


# --------------------------------------------------------------------------- CUSUM chart


def test_cusum_reproduces_montgomery_example_9_1():
    """Montgomery (2009) Table 9.2: C+ to period 29, first signal at period 29, 5.30 at 30."""
    res = cusum(np.array(MONTGOMERY_X) - 10.0, k=0.5, h=5.0)
    assert isinstance(res, CusumResult)
    assert res.upper[:29].round(2).tolist() == MONTGOMERY_UPPER
    assert res.first_alarm == 28  # period 29
    assert res.alarm.nonzero()[0].tolist() == [28, 29]
    assert res.upper[29] == pytest.approx(5.30, abs=0.005)  # no reset after the signal
    assert (res.lower <= 5.0).all()


def test_cusum_lower_side_mirrors_the_upper_side():
    z = np.array(MONTGOMERY_X) - 10.0
    up, down = cusum(z, h=5.0), cusum(-z, h=5.0)
    np.testing.assert_array_equal(up.upper, down.lower)
    np.testing.assert_array_equal(up.lower, down.upper)


def test_cusum_many_streams_match_a_plain_recursion():
    """2-D input (streams x periods) equals a scalar loop over every stream."""
    rng = np.random.default_rng(11)
    z = rng.standard_normal((100, 12)) + rng.choice([0.0, 1.5], size=(100, 1))
    res = cusum(z, k=0.5, h=3.0)
    assert res.upper.shape == res.lower.shape == res.alarm.shape == (100, 12)
    for s in range(100):
        c_plus = c_minus = 0.0
        first = -1
        for t in range(12):
            c_plus = max(0.0, z[s, t] - 0.5 + c_plus)
            c_minus = max(0.0, -z[s, t] - 0.5 + c_minus)
            assert res.upper[s, t] == pytest.approx(c_plus)
            assert res.lower[s, t] == pytest.approx(c_minus)
            if first < 0 and (c_plus > 3.0 or c_minus > 3.0):
                first = t
        assert res.first_alarm[s] == first


def test_cusum_carries_missing_periods_forward():
    res = cusum([0.0, 3.0, np.nan, 3.0, 3.0], h=5.0, missing="carry")
    assert res.upper.tolist() == [0.0, 2.5, 2.5, 5.0, 7.5]
    assert res.first_alarm == 4
    rows = cusum([[np.nan, 1.0], [1.0, np.nan]], h=5.0, missing="carry")
    assert rows.upper.tolist() == [[0.0, 0.5], [0.5, 0.5]]


# --------------------------------------------------------------------------- EWMA chart


def test_ewma_statistic_and_exact_limits_follow_the_textbook_formulas():
    """w_t = lam z_t + (1 - lam) w_(t-1) from 0; limits L sqrt(lam/(2-lam) (1-(1-lam)^(2t)))."""
    z = np.array(MONTGOMERY_X) - 10.0
    res = ewma(z, lam=0.1, L=2.7)
    assert isinstance(res, EwmaResult)
    expected = np.empty_like(z)
    w = 0.0
    for t, value in enumerate(z):
        w = 0.1 * value + 0.9 * w
        expected[t] = w
    np.testing.assert_allclose(res.statistic, expected, rtol=1e-12)
    t = np.arange(1, 31)
    np.testing.assert_allclose(res.limit, 2.7 * np.sqrt(0.1 / 1.9 * (1 - 0.9 ** (2 * t))))
    np.testing.assert_array_equal(res.alarm, np.abs(expected) > res.limit)
    fixed = ewma(z, lam=0.1, L=2.7, limits="asymptotic")
    np.testing.assert_allclose(fixed.limit, 2.7 * math.sqrt(0.1 / 1.9))


def test_ewma_with_lam_one_is_a_shewhart_chart():
    z = np.array([0.5, -3.2, 2.9, 3.1])
    res = ewma(z, lam=1.0, L=3.0)
    np.testing.assert_allclose(res.statistic, z)
    np.testing.assert_allclose(res.limit, 3.0)
    assert res.first_alarm == 1


def test_ewma_many_streams_and_missing_periods():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((50, 12))
    both = ewma(z, lam=0.2, L=2.5)
    for s in (0, 17, 49):
        single = ewma(z[s], lam=0.2, L=2.5)
        np.testing.assert_allclose(both.statistic[s], single.statistic)
        np.testing.assert_allclose(both.limit[s], single.limit)
        assert both.first_alarm[s] == single.first_alarm
    gap = ewma([0.0, 0.0, 10.0, np.nan, 0.0], lam=0.5, L=3.0, missing="carry")
    assert gap.statistic.tolist() == pytest.approx([0.0, 0.0, 5.0, 5.0, 2.5])
    assert gap.limit[3] == gap.limit[2]  # a missing period is not an observation
    assert gap.limit[4] == pytest.approx(3.0 * math.sqrt(0.5 / 1.5 * (1 - 0.25**4)))
    lead = ewma([np.nan, 1.0], lam=0.5, L=3.0, missing="carry")
    assert lead.limit[0] == 0.0 and not lead.alarm[0]


# --------------------------------------------------------------------------- CUSUM ARL


@pytest.mark.parametrize(("shift", "published", "decimals"), LUCAS_CROSIER_H4)
def test_cusum_arl_matches_lucas_crosier_table_1(shift, published, decimals):
    arl = cusum_arl(0.5, 4.0, shift=shift)
    assert arl == pytest.approx(published, abs=_half_unit(published, decimals))
    # The run length is symmetric in the direction of the shift.
    assert cusum_arl(0.5, 4.0, shift=-shift) == pytest.approx(arl, rel=1e-12)


def test_cusum_arl_matches_montgomery_table_9_3_for_h5():
    """Montgomery (2009) Table 9.3, h = 5: ARL0 465 and 10.4 at a 1 SD shift."""
    assert cusum_arl(0.5, 5.0) == pytest.approx(465, abs=0.5)
    assert cusum_arl(0.5, 5.0, shift=1.0) == pytest.approx(10.4, abs=0.05)


def test_cusum_arl_matches_sas_cusumarl():
    """SAS/QC: cusumarl('twosided', 2.5, 8, 0.25) = 4.1500826715."""
    assert cusum_arl(0.25, 8.0, shift=2.5) == pytest.approx(4.1500826715, rel=1e-5)


@pytest.mark.parametrize(
    ("k", "h", "shift"), [(0.5, 4.0, 0.0), (0.5, 4.0, 1.0), (0.1, 4.0, 0.3), (0.5, 6.5, 0.0)]
)
def test_bivariate_chain_agrees_with_the_one_sided_combination(k, h, shift):
    """Kemp's 1/ARL = 1/ARL+ + 1/ARL- against Woodall's chain on (C+, C-)."""
    combined = cusum_arl(k, h, shift=shift)
    bivariate = cusum_arl(k, h, shift=shift, method="bivariate")
    assert bivariate == pytest.approx(combined, rel=5e-3)
    if shift == 0.0:
        assert bivariate <= combined  # in control the coarser chain errs low (conservative)


def test_cusum_arl_against_simulation():
    """Seeded simulation of the two-sided CUSUM, k = 0.5, h = 3, shift 0.5."""
    runs = _simulate_run_lengths("cusum", 3.0, 20_000, 400, seed=20, shift=0.5)
    assert (runs <= 400).all()
    se = runs.std(ddof=1) / math.sqrt(runs.size)
    assert cusum_arl(0.5, 3.0, shift=0.5) == pytest.approx(runs.mean(), abs=4 * se)


# --------------------------------------------------------------------------- EWMA ARL


@pytest.mark.parametrize(("lam", "L", "arls"), LUCAS_SACCUCCI)
def test_ewma_arl_matches_lucas_saccucci_table_3(lam, L, arls):
    for shift, published in zip(LS_SHIFTS, arls, strict=True):
        arl = ewma_arl(lam, L, shift=shift, limits="asymptotic")
        # ARL0 = 500 fixes L, which is printed to 3 decimals only: allow 0.2% there.
        tolerance = 1.0 if shift == 0.0 else _significant_tolerance(published)
        assert arl == pytest.approx(published, abs=tolerance), (lam, shift)


@pytest.mark.parametrize(("shift", "arl_05", "arl_005"), CROWDER)
def test_ewma_arl_matches_crowder_table_1(shift, arl_05, arl_005):
    assert ewma_arl(0.5, 2.0, shift=shift, limits="asymptotic") == pytest.approx(arl_05, rel=5e-3)
    assert ewma_arl(0.05, 2.0, shift=shift, limits="asymptotic") == pytest.approx(arl_005, rel=5e-3)


def test_ewma_arl_matches_waldmann_and_sas():
    """Waldmann (1986) Table 1: 104.0 and 1952; SAS/QC ewmaarl(1, 0.25, 3) = 11.154267016."""
    for lam, published in ((0.75, 104.0), (0.5, 1952.0)):
        L = 2.0 * math.sqrt((2.0 - lam) / lam)  # limits at +/-2 on the EWMA scale
        assert ewma_arl(lam, L, limits="asymptotic") == pytest.approx(published, rel=1e-3)
    assert ewma_arl(0.25, 3.0, shift=1.0, limits="asymptotic") == pytest.approx(
        11.154267016, rel=2e-5
    )


def test_ewma_arl_montgomery_design_is_about_500():
    assert ewma_arl(0.1, 2.814, limits="asymptotic") == pytest.approx(500, rel=5e-3)


@pytest.mark.slow
def test_exact_limits_against_simulation():
    """Time-varying limits: the non-homogeneous chain against a seeded simulation."""
    for shift, n_runs, max_t in ((0.0, 4000, 3000), (1.0, 20_000, 200)):
        runs = _simulate_run_lengths("ewma", 2.5, n_runs, max_t, seed=21, shift=shift)
        assert (runs <= max_t).all()
        se = runs.std(ddof=1) / math.sqrt(runs.size)
        assert ewma_arl(0.2, 2.5, shift=shift) == pytest.approx(runs.mean(), abs=4 * se)
    # Narrower early limits mean earlier (false) alarms than fixed limits with the same L.
    assert ewma_arl(0.2, 2.5) < ewma_arl(0.2, 2.5, limits="asymptotic")


# --------------------------------------------------------------------------- distribution


def test_first_period_alarm_probability_is_exact():
    """Period 1 is a Shewhart test: P(|z| > h + k) for the CUSUM, P(|z| > L) for the EWMA."""
    cusum_cdf = run_length_cdf("cusum", 4.0, horizon=3, k=0.5)
    assert cusum_cdf[0] == pytest.approx(2 * stats.norm.sf(4.5), rel=1e-9)
    ewma_cdf = run_length_cdf("ewma", 3.0, horizon=3, lam=0.2)
    assert ewma_cdf[0] == pytest.approx(2 * stats.norm.sf(3.0), rel=1e-9)
    fixed = run_length_cdf("ewma", 3.0, horizon=1, lam=0.2, limits="asymptotic")
    assert fixed[0] == pytest.approx(2 * stats.norm.sf(3.0 * math.sqrt(0.2 / 1.8) / 0.2))


@pytest.mark.parametrize(
    ("chart", "limit", "shift"),
    [("cusum", 4.0, 0.0), ("cusum", 4.0, 0.75), ("ewma", 2.6, 0.0), ("ewma", 2.6, 0.75)],
)
def test_run_length_cdf_against_simulation(chart, limit, shift):
    """P(RL <= t), t = 1..12, against 200,000 seeded simulated charts."""
    runs = _simulate_run_lengths(chart, limit, 200_000, 12, seed=22, shift=shift)
    empirical = np.array([(runs <= t).mean() for t in range(1, 13)])
    chain = run_length_cdf(chart, limit, horizon=12, shift=shift)
    se = np.sqrt(chain * (1 - chain) / runs.size)
    assert np.all(np.abs(chain - empirical) <= 4 * se + 0.003 * chain)
    assert np.all(np.diff(chain) >= 0)


@pytest.mark.parametrize(
    ("chart", "limit", "kwargs", "arl"),
    [
        ("cusum", 2.0, {"k": 0.5}, lambda: cusum_arl(0.5, 2.0, method="bivariate")),
        ("ewma", 2.0, {"lam": 0.5}, lambda: ewma_arl(0.5, 2.0)),
        ("ewma", 2.0, {"lam": 0.5, "limits": "asymptotic"}, lambda: 26.45),  # Crowder
    ],
)
def test_run_length_cdf_sums_to_the_arl(chart, limit, kwargs, arl):
    """ARL = sum over t >= 0 of P(RL > t): the distribution and the ARL solve agree."""
    cdf = run_length_cdf(chart, limit, horizon=1000, **kwargs)
    assert 1.0 + np.sum(1.0 - cdf[:-1]) == pytest.approx(arl(), rel=1e-4)


# --------------------------------------------------------------------------- limit_for


@pytest.mark.parametrize("chart", ["cusum", "ewma"])
def test_limit_for_false_alarm_requirement_binding(chart):
    alpha_m = 0.05 / 26
    lim = limit_for(chart, arl0_min=100, horizon=12, false_alarm_prob=alpha_m)
    assert isinstance(lim, ControlLimit)
    assert lim.chart == chart and lim.binding == "false_alarm_prob"
    assert lim.p_false_alarm_within_horizon <= alpha_m
    assert lim.arl0 >= 100
    assert lim.horizon == 12 and lim.false_alarm_prob == alpha_m
    assert lim.h_or_L == round(lim.h_or_L, 4)
    # Smallest: one step (1e-4) lower breaks the requirement.
    lower = run_length_cdf(chart, lim.h_or_L - 1e-4, horizon=12)[-1]
    assert lower > alpha_m
    assert lim.p_false_alarm_within_horizon == pytest.approx(
        run_length_cdf(chart, lim.h_or_L, horizon=12)[-1]
    )


@pytest.mark.slow
def test_limit_for_arl_requirement_binding():
    lim = limit_for("cusum", arl0_min=5000, horizon=12, false_alarm_prob=0.05, k=0.5)
    assert lim.binding == "arl0"
    assert lim.arl0 >= 5000 > cusum_arl(0.5, lim.h_or_L - 1e-4)
    assert lim.arl0 == pytest.approx(cusum_arl(0.5, lim.h_or_L))
    ewma_lim = limit_for("ewma", arl0_min=370, horizon=12, false_alarm_prob=0.5, lam=0.1)
    assert ewma_lim.binding == "arl0" and ewma_lim.lam == 0.1 and math.isnan(ewma_lim.k)
    assert ewma_lim.arl0 >= 370 > ewma_arl(0.1, ewma_lim.h_or_L - 1e-4)


@pytest.mark.parametrize("chart", ["cusum", "ewma"])
def test_family_wise_false_alarm_rate_is_controlled(chart):
    """m = 20 in-control streams x 12 periods with limits for alpha/m: family-wise rate <= alpha.

    40,000 simulated families; the empirical rate must not exceed alpha by more than 3
    binomial SEs, and (streams independent, so the Bonferroni bound is nearly attained)
    should be close to 1 - (1 - alpha/m)^m = 0.0488.
    """
    alpha, m, horizon, n_families = 0.05, 20, 12, 40_000
    lim = limit_for(chart, arl0_min=100, horizon=horizon, false_alarm_prob=alpha / m)
    rng = np.random.default_rng(23 if chart == "cusum" else 24)
    z = rng.standard_normal((n_families * m, horizon))
    res = cusum(z, h=lim.h_or_L) if chart == "cusum" else ewma(z, L=lim.h_or_L)
    any_alarm = (res.first_alarm >= 0).reshape(n_families, m).any(axis=1)
    rate = any_alarm.mean()
    se = math.sqrt(alpha * (1 - alpha) / n_families)
    assert rate <= alpha + 3 * se
    assert rate >= 0.04


# --------------------------------------------------------------------------- input checks


def test_chart_input_errors():
    with pytest.raises(ValueError, match="NaN"):
        cusum([0.1, np.nan], h=4.0)
    with pytest.raises(ValueError, match="infinite"):
        ewma([0.1, np.inf], L=3.0, missing="carry")
    with pytest.raises(ValueError, match=r"1-D .* or 2-D"):
        cusum(np.zeros((2, 2, 2)), h=4.0)
    with pytest.raises(ValueError, match="at least one period"):
        cusum([], h=4.0)
    with pytest.raises(TypeError, match="real numbers"):
        ewma(["a", "b"], L=3.0)
    with pytest.raises(ValueError, match="k must be >= 0"):
        cusum([0.0], k=-0.1, h=4.0)
    with pytest.raises(ValueError, match="h must be a positive finite number"):
        cusum([0.0], h=0.0)
    with pytest.raises(TypeError, match="h must be a positive finite number"):
        cusum([0.0], h=True)
    with pytest.raises(ValueError, match="lam must be in the interval"):
        ewma([0.0], lam=0.0, L=3.0)
    with pytest.raises(ValueError, match="lam must be in the interval"):
        ewma([0.0], lam=1.5, L=3.0)
    with pytest.raises(ValueError, match="L must be a positive finite number"):
        ewma([0.0], L=-1.0)
    with pytest.raises(ValueError, match="limits must be one of"):
        ewma([0.0], L=3.0, limits="vacl")
    with pytest.raises(ValueError, match="missing must be one of"):
        cusum([0.0], h=4.0, missing="drop")


def test_design_input_errors():
    with pytest.raises(ValueError, match="method must be one of"):
        cusum_arl(0.5, 4.0, method="integral")
    with pytest.raises(ValueError, match="shift must be a finite real number"):
        ewma_arl(0.2, 3.0, shift=math.inf)
    with pytest.raises(ValueError, match="chart must be one of"):
        run_length_cdf("shewhart", 3.0, horizon=12)
    with pytest.raises(ValueError, match="horizon must be at least 1"):
        run_length_cdf("cusum", 4.0, horizon=0)
    with pytest.raises(ValueError, match="false_alarm_prob must be in the open interval"):
        limit_for("cusum", arl0_min=100, horizon=12, false_alarm_prob=1.0)
    with pytest.raises(ValueError, match="arl0_min must be >= 1"):
        limit_for("ewma", arl0_min=0.5, horizon=12, false_alarm_prob=0.01)
    with pytest.raises(ValueError, match="horizon must be a non-negative integer"):
        limit_for("ewma", arl0_min=100, horizon=12.5, false_alarm_prob=0.01)
