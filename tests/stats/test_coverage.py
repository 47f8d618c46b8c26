"""Monte-Carlo coverage of the package's intervals at their nominal level.

Each check simulates data from the model the interval assumes, with a fixed seed, and counts how
often the interval holds the true value. The tolerance is about three binomial standard errors
of the empirical coverage (SE = sqrt(0.95 * 0.05 / runs)), so a correct interval passes and an
interval off by a few points fails. Wilson's interval has its own check in test_proportions.py;
RMSE and the repeated-measures limits theirs beside their tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from validation.stats import bland_altman, clopper_pearson_interval, diagnostic_accuracy, roc_auc


def _tolerance(runs: int) -> float:
    return 3.0 * math.sqrt(0.95 * 0.05 / runs)


def test_clopper_pearson_coverage_is_at_least_nominal():
    """Exact (Clopper & Pearson 1934): coverage >= 95% at every p; computed exactly, no noise."""
    n = 60
    counts = np.arange(n + 1)
    limits = [clopper_pearson_interval(int(k), n) for k in counts]
    low = np.array([ci.low for ci in limits])
    high = np.array([ci.high for ci in limits])
    for p in np.linspace(0.02, 0.98, 49):
        covered = (low <= p) & (p <= high)
        assert stats.binom.pmf(counts, n, p)[covered].sum() >= 0.95 - 1e-12


@pytest.mark.parametrize("n", [20, 60])
def test_bland_altman_exact_limits_and_bias_cover_at_nominal_level(n):
    """Carkeet (2015) exact intervals are exact under normal differences, at any n."""
    rng = np.random.default_rng(n)
    runs, mu, sd = 1500, 0.4, 1.2
    true_low, true_high = mu - 1.96 * sd, mu + 1.96 * sd
    hits = np.zeros(3)
    for _ in range(runs):
        d = rng.normal(mu, sd, n)
        res = bland_altman(d, np.zeros(n))
        hits += [
            res.bias_ci.low <= mu <= res.bias_ci.high,
            res.loa_low_ci.low <= true_low <= res.loa_low_ci.high,
            res.loa_high_ci.low <= true_high <= res.loa_high_ci.high,
        ]
    assert np.all(np.abs(hits / runs - 0.95) < _tolerance(runs))


def test_sensitivity_and_specificity_intervals_cover_at_nominal_level():
    """Wilson intervals for sensitivity (p = 0.85, ~90 cases) and specificity (p = 0.9)."""
    rng = np.random.default_rng(11)
    runs, n, prevalence = 2000, 300, 0.3
    hits = np.zeros(2)
    for _ in range(runs):
        y = rng.random(n) < prevalence
        pred = np.where(y, rng.random(n) < 0.85, rng.random(n) >= 0.90)
        res = diagnostic_accuracy(y, pred)
        hits += [
            res.sensitivity.ci.low <= 0.85 <= res.sensitivity.ci.high,
            res.specificity.ci.low <= 0.90 <= res.specificity.ci.high,
        ]
    # Intervals of a discrete proportion oscillate around nominal; allow one more point.
    assert np.all(np.abs(hits / runs - 0.95) < _tolerance(runs) + 0.01)


def test_delong_auc_interval_covers_near_nominal_level():
    """Binormal scores, AUC = Phi(1 / sqrt(2)) = 0.7602; 100 cases and 200 controls."""
    rng = np.random.default_rng(5)
    runs = 1000
    truth = stats.norm.cdf(1.0 / math.sqrt(2.0))
    y = np.r_[np.ones(100), np.zeros(200)]
    hits = 0
    for _ in range(runs):
        score = np.r_[rng.normal(1.0, 1.0, 100), rng.normal(0.0, 1.0, 200)]
        ci = roc_auc(y, score).ci
        hits += ci.low <= truth <= ci.high
    assert abs(hits / runs - 0.95) < _tolerance(runs)
