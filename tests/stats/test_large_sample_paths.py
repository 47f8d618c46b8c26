"""The large-sample shortcuts give the very numbers of the direct computations.

Three shortcuts keep the analysis of 50,000 studies in bounded time and memory (issue 8,
``benchmarks/bench_workflow_scale.py``): Passing-Bablok's slopes streamed instead of held, the
AUC's leave-one-cluster-out jackknife in O(n log n), and bootstrap replicates reused across
confidence levels. Each is checked here for exact (bit-for-bit) equality with the direct way.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import validation.stats.regression as regression
from validation.stats import cluster_bootstrap, cluster_bootstrap_ratio, passing_bablok
from validation.stats.roc import auc_leave_one_cluster_out, weighted_auc


def _fit_values(fit) -> tuple[float, ...]:
    return (
        fit.slope,
        fit.intercept,
        fit.slope_ci.low,
        fit.slope_ci.high,
        fit.intercept_ci.low,
        fit.intercept_ci.high,
    )


@pytest.mark.parametrize("rule", ["paper", "mcr"])
@pytest.mark.parametrize("trial", range(8))
def test_streamed_passing_bablok_equals_the_held_slopes(monkeypatch, rule, trial):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(8, 250))
    x = np.round(rng.normal(10, 2, n), int(rng.integers(0, 3)))
    sign = -1.0 if trial % 3 == 0 else 1.0
    y = np.round(sign * x + rng.normal(0, rng.uniform(0.2, 3), n), int(rng.integers(0, 4)))
    if trial % 4 == 0:
        x[: n // 3] = x[0]  # vertical pairs and heavy ties
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        held = _fit_values(passing_bablok(x, y, ci_method=rule))
        monkeypatch.setattr(regression, "_PB_MAX_SLOPES", 0)
        monkeypatch.setattr(regression, "_PB_EDGES", int(rng.integers(2, 40)))
        monkeypatch.setattr(regression, "_PB_SAMPLE_PAIRS", int(rng.integers(10, 2000)))
        streamed = _fit_values(passing_bablok(x, y, ci_method=rule))
    for a, b in zip(held, streamed, strict=True):
        assert a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("trial", range(10))
def test_auc_leave_one_cluster_out_equals_reweighting(trial):
    rng = np.random.default_rng(100 + trial)
    n = int(rng.integers(5, 300))
    n_clusters = int(rng.integers(2, n + 1))
    row_cluster = rng.integers(0, n_clusters, n)
    y = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(float)
    score = np.round(rng.random(n), int(rng.integers(1, 4)))  # ties
    fast = auc_leave_one_cluster_out(y, score, row_cluster=row_cluster, n_clusters=n_clusters)
    weights = (row_cluster[None, :] != np.arange(n_clusters)[:, None]).astype(float)
    with np.errstate(all="ignore"):
        slow = weighted_auc(y, score, weights=weights)
    assert fast is not None
    np.testing.assert_array_equal(fast, slow)


def test_bootstrap_at_another_level_reuses_the_replicates_and_matches():
    rng = np.random.default_rng(3)
    patients = np.repeat(np.arange(150), 2)
    y = rng.random(300) < 0.4
    score = rng.random(300) + 0.3 * y

    def auc(label, s, weights):
        return weighted_auc(label, s, weights=weights)

    first = cluster_bootstrap((y.astype(float), score), auc, clusters=patients, seed=5)
    other = cluster_bootstrap(
        (y.astype(float), score), auc, clusters=patients, seed=5, confidence=0.8
    )
    again = cluster_bootstrap((y.astype(float), score), auc, clusters=patients, seed=5)
    assert (again.ci_low, again.ci_high) == (first.ci_low, first.ci_high)
    np.testing.assert_array_equal(again.replicates, first.replicates)
    assert other.ci_high - other.ci_low < first.ci_high - first.ci_low
    again.replicates[:] = 0.0  # a caller's change does not reach the next call
    fresh = cluster_bootstrap((y.astype(float), score), auc, clusters=patients, seed=5)
    np.testing.assert_array_equal(fresh.replicates, first.replicates)

    ratio = cluster_bootstrap_ratio(y & (score > 0.6), y, clusters=patients, seed=5)
    ratio_again = cluster_bootstrap_ratio(y & (score > 0.6), y, clusters=patients, seed=5)
    assert (ratio.ci_low, ratio.ci_high) == (ratio_again.ci_low, ratio_again.ci_high)
