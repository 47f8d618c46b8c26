"""Tests of mean_interval and mean_absolute_error against published worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from validation.stats import mean_absolute_error, mean_interval

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
