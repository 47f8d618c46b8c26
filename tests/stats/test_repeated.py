"""Tests for validation.stats.repeated (Bland-Altman with several pairs per subject).

Sources:

* Bland JM, Altman DG. Agreement between methods of measurement with multiple observations
  per individual. J Biopharm Stat 2007;17(4):571-582. Table 1: cardiac output (l/min) by
  radionuclide ventriculography (RV) and impedance cardiography (IC), 12 subjects, 60 pairs
  (data of Bowling et al. 1993, also in Bland & Altman 1999, Table 4, and the R package
  BAtrending as ``CO``). Section 3 ("true value varies") gives: mean difference 0.6021667,
  SD of differences 0.99062408, 95% limits of agreement -1.3394565 to 2.5437899. These
  printed values are the assertions of the MATLAB Bland-Altman toolbox by E. Huizinga
  (``bademo.m``, section 5.3, "[BA2007]" comments).

Not found: a published worked example of Zou's (2013) MOVER intervals on data we could
transcribe. The MOVER limits are therefore checked (a) against the classical chi-square
interval of a variance in the one-pair-per-subject case, where they must coincide, and (b) by a
Monte-Carlo coverage check under the random-effects model the method assumes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from validation.stats.repeated import bland_altman_repeated

_CO = """
1,7.83,6.57 1,7.42,5.62 1,7.89,6.9 1,7.12,6.57 1,7.88,6.35 2,6.16,4.06 2,7.26,4.29 2,6.71,4.26
2,6.54,4.09 3,4.75,4.71 3,5.24,5.5 3,4.86,5.08 3,4.78,5.02 3,6.05,6.01 3,5.42,5.67 4,4.21,4.14
4,3.61,4.2 4,3.72,4.61 4,3.87,4.68 4,3.92,5.04 5,3.13,3.03 5,2.98,2.86 5,2.85,2.77 5,3.17,2.46
5,3.09,2.32 5,3.12,2.43 6,5.92,5.9 6,6.42,5.81 6,5.92,5.7 6,6.27,5.76 7,7.13,5.09 7,6.62,4.63
7,6.58,4.61 7,6.93,5.09 8,4.54,4.72 8,4.81,4.61 8,5.11,4.36 8,5.29,4.2 8,5.39,4.36 8,5.57,4.2
9,4.48,3.17 9,4.92,3.12 9,3.97,2.96 10,4.22,4.35 10,4.65,4.62 10,4.74,3.16 10,4.44,3.53
10,4.5,3.53 11,6.78,7.2 11,6.07,6.09 11,6.52,7.0 11,6.42,7.1 11,6.41,7.4 11,5.76,6.8 12,5.06,4.5
12,4.72,4.2 12,4.9,3.8 12,4.8,3.8 12,4.9,4.2 12,5.1,4.5
"""
_ROWS = [row.split(",") for row in _CO.split()]
SUBJECT = [int(r[0]) for r in _ROWS]
RV = [float(r[1]) for r in _ROWS]
IC = [float(r[2]) for r in _ROWS]


def test_cardiac_output_matches_bland_altman_2007():
    """Bland & Altman (2007), section 3: bias 0.6021667, SD 0.99062408, LoA -1.3395 to 2.5438."""
    res = bland_altman_repeated(SUBJECT, RV, IC)
    assert (res.n_subjects, res.n_pairs) == (12, 60)
    assert res.bias == pytest.approx(0.6021667, abs=5e-8)
    assert res.sd == pytest.approx(0.99062408, abs=5e-8)
    assert res.loa_low == pytest.approx(-1.3394565, abs=5e-7)
    assert res.loa_high == pytest.approx(2.5437899, abs=5e-7)
    assert res.loa_low_ci.low < res.loa_low < res.loa_low_ci.high
    assert res.loa_high_ci.low < res.loa_high < res.loa_high_ci.high
    assert res.bias_ci.low < res.bias < res.bias_ci.high


def test_ignoring_the_subjects_would_understate_the_bias_interval():
    """60 pairs from 12 subjects carry about 12 subjects' worth of information on the bias."""
    res = bland_altman_repeated(SUBJECT, RV, IC)
    diffs = np.subtract(RV, IC)
    naive_half = stats.t.ppf(0.975, 59) * diffs.std(ddof=1) / math.sqrt(60)
    assert (res.bias_ci.high - res.bias_ci.low) / 2 > 1.5 * naive_half


def test_one_pair_per_subject_reduces_to_the_classical_analysis():
    """With m_i = 1 the SD is the ordinary SD and the variance limits the chi-square ones."""
    rng = np.random.default_rng(3)
    x = rng.normal(10, 2, 40)
    y = x + rng.normal(0.4, 1.0, 40)
    res = bland_altman_repeated(np.arange(40), x, y)
    d = x - y
    s2 = d.var(ddof=1)
    assert res.sd == pytest.approx(math.sqrt(s2), rel=1e-12)
    assert res.var_within == 0.0
    t = stats.t.ppf(0.975, 39)
    assert res.bias_ci.high == pytest.approx(d.mean() + t * math.sqrt(s2 / 40), rel=1e-12)
    # Upper limit's upper bound: theta + sqrt(t^2 s^2/n + z^2 (sqrt(U) - s)^2),
    # with U = 39 s^2 / chi2(0.025; 39).
    upper_var = 39 * s2 / stats.chi2.ppf(0.025, 39)
    outer = math.sqrt(t**2 * s2 / 40 + 1.96**2 * (math.sqrt(upper_var) - math.sqrt(s2)) ** 2)
    assert res.loa_high_ci.high == pytest.approx(res.loa_high + outer, rel=1e-12)


def test_mover_limits_cover_near_nominal_level():
    """Monte-Carlo: 400 studies of 40 patients with 1-4 studies each under d = mu + b + e."""
    rng = np.random.default_rng(20261125)
    mu, sb, sw = 0.3, 0.8, 0.6
    true_high = mu + 1.96 * math.sqrt(sb**2 + sw**2)
    hits_high = hits_bias = 0
    runs = 400
    for _ in range(runs):
        m = rng.integers(1, 5, 40)
        subject = np.repeat(np.arange(40), m)
        d = mu + rng.normal(0, sb, 40)[subject] + rng.normal(0, sw, subject.size)
        res = bland_altman_repeated(subject, d, np.zeros_like(d))
        hits_high += res.loa_high_ci.low <= true_high <= res.loa_high_ci.high
        hits_bias += res.bias_ci.low <= mu <= res.bias_ci.high
    # Binomial SE at 95% over 400 runs is 1.1 points; allow about 3 SE.
    assert abs(hits_high / runs - 0.95) < 0.035
    assert abs(hits_bias / runs - 0.95) < 0.035


def test_negative_between_variance_is_truncated_with_a_warning():
    subject = [1, 1, 2, 2, 3, 3]
    diffs = [0.0, 2.0, 0.0, 2.0, 0.0, 2.0]
    with pytest.warns(RuntimeWarning, match="between-subject variance"):
        res = bland_altman_repeated(subject, diffs, [0.0] * 6)
    assert res.var_between == 0.0
    assert res.sd == pytest.approx(math.sqrt(res.var_within))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subject": [1, 1, 2], "method": [1.0, 2.0], "reference": [1.0, 2.0]}, "same length"),
        ({"subject": [1, 1], "method": [1.0, 2.0], "reference": [1.0, 2.0]}, "at least 2 distinct"),
        ({"subject": [1, None], "method": [1.0, 2.0], "reference": [1.0, 2.0]}, "missing label"),
        ({"subject": [1, 2], "method": [1.0, np.nan], "reference": [1.0, 2.0]}, "finite"),
        ({"subject": [1, 2], "method": [1.0, 2.0], "reference": [1.0]}, "same length"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bland_altman_repeated(kwargs["subject"], kwargs["method"], kwargs["reference"])


def test_bad_confidence_is_rejected():
    with pytest.raises(ValueError, match="confidence"):
        bland_altman_repeated([1, 2, 3], [1.0, 2.0, 3.0], [1.0, 2.5, 3.0], confidence=1.5)
