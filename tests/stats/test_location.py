"""Tests of mean_interval, mean_absolute_error and root_mean_square_error.

Sources: R's ``t.test`` documentation example on the ``sleep`` data (mean interval); the
scikit-learn documentation example of ``mean_squared_error`` (``y_true = [3, -0.5, 2, 7]``,
``y_pred = [2.5, 0.0, 2, 8]``: MSE 0.375, so RMSE 0.6124). No published worked example of an
RMSE interval was found; its coverage is checked by simulation below.
"""

from __future__ import annotations

import numpy as np
import pytest

from validation.stats.location import mean_absolute_error, mean_interval, root_mean_square_error

# R's `sleep` data set (Cushny & Peebles 1905; Student 1908): extra hours of sleep, drug 1 and 2.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_mean_interval_matches_r_t_test_on_sleep():
    """R: t.test(extra ~ group, data = sleep, paired = TRUE) (documented example of t.test):
    mean difference -1.58, 95 percent CI -2.4598858 -0.7001142."""
    res = mean_interval(np.subtract(SLEEP_1, SLEEP_2))
    assert res.estimate == pytest.approx(-1.58)
    assert res.ci.low == pytest.approx(-2.4598858, abs=1e-7)
    assert res.ci.high == pytest.approx(-0.7001142, abs=1e-7)
    assert res.ci.confidence == 0.95


def test_mean_absolute_error_is_mean_of_absolute_differences():
    """MAE interval = t interval of |d| (same R call on abs(differences))."""
    res = mean_absolute_error(SLEEP_1, SLEEP_2)
    expected = mean_interval(np.abs(np.subtract(SLEEP_1, SLEEP_2)))
    assert res == expected
    assert res.estimate == pytest.approx(1.58)  # every sleep difference is <= 0 but one 0


@pytest.mark.parametrize(
    ("x", "message"),
    [([1.0], "at least 2"), ([1.0, float("nan")], "finite")],
)
def test_mean_interval_rejects_bad_input(x, message):
    with pytest.raises(ValueError, match=message):
        mean_interval(x)


def test_mean_absolute_error_length_mismatch():
    with pytest.raises(ValueError, match="method"):
        mean_absolute_error([1.0, 2.0], [1.0])


def test_rmse_matches_the_scikit_learn_documentation_example():
    """sklearn.metrics.mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) == 0.375."""
    res = root_mean_square_error([2.5, 0.0, 2, 8], [3, -0.5, 2, 7])
    assert res.estimate == pytest.approx(np.sqrt(0.375))
    assert res.ci.low < res.estimate < res.ci.high


def test_rmse_interval_coverage_is_near_nominal():
    """Monte-Carlo: 2,000 data sets of 100 normal differences (bias 0.3, SD 1)."""
    rng = np.random.default_rng(7)
    truth = np.sqrt(0.3**2 + 1.0)
    hits = 0
    for _ in range(2000):
        d = rng.normal(0.3, 1.0, 100)
        ci = root_mean_square_error(d, np.zeros(100)).ci
        hits += ci.low <= truth <= ci.high
    # The interval is approximate (documented: about 93-94% at n = 100); binomial SE 0.5 points.
    assert 0.925 <= hits / 2000 <= 0.965


def test_rmse_of_identical_measurements_is_zero():
    res = root_mean_square_error([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (res.estimate, res.ci.low, res.ci.high) == (0.0, 0.0, 0.0)


def test_rmse_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 pairs"):
        root_mean_square_error([1.0], [2.0])
    with pytest.raises(ValueError, match="same length"):
        root_mean_square_error([1.0, 2.0], [2.0])
    with pytest.raises(ValueError, match="finite"):
        root_mean_square_error([1.0, np.inf], [2.0, 1.0])
