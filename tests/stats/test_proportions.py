"""Tests for validation.stats.proportions against published values.

Source of every reference number in this file:

Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven
methods. Stat Med 1998;17(8):857-872, Table I (95% intervals, 4 decimals): method 3 (Wilson
score, no continuity correction) and method 5 (Clopper-Pearson "exact"). The same values are
the published-example tests of the R package ratesci (Laud), tests/testthat, calls
``wilsonci(x = c(15, 0, 1), n = c(148, 20, 29), cc = FALSE)`` and
``exactci(x = c(15, 0, 1), n = c(148, 20, 29), midp = FALSE)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from validation.stats import (
    Interval,
    clopper_pearson_interval,
    proportion_interval,
    wilson_interval,
)

# (successes, n, Wilson (method 3), Clopper-Pearson (method 5)) -- Newcombe 1998, Table I.
NEWCOMBE_TABLE_I = [
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0000, 0.1611), (0.0000, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]
# The table prints 4 decimals: a correct value is within half a unit of the last digit.
HALF_LAST_DIGIT = 5e-5 + 1e-12


@pytest.mark.parametrize(("x", "n", "wilson", "exact"), NEWCOMBE_TABLE_I)
def test_wilson_matches_newcombe_1998_table_1(x, n, wilson, exact):
    """Newcombe (1998) Stat Med 17:857, Table I, method 3."""
    ci = wilson_interval(x, n)
    assert ci.low == pytest.approx(wilson[0], abs=HALF_LAST_DIGIT)
    assert ci.high == pytest.approx(wilson[1], abs=HALF_LAST_DIGIT)
    assert (ci.confidence, ci.method) == (0.95, "wilson")


@pytest.mark.parametrize(("x", "n", "wilson", "exact"), NEWCOMBE_TABLE_I)
def test_clopper_pearson_matches_newcombe_1998_table_1(x, n, wilson, exact):
    """Newcombe (1998) Stat Med 17:857, Table I, method 5."""
    ci = clopper_pearson_interval(x, n)
    assert ci.low == pytest.approx(exact[0], abs=HALF_LAST_DIGIT)
    assert ci.high == pytest.approx(exact[1], abs=HALF_LAST_DIGIT)
    assert (ci.confidence, ci.method) == (0.95, "clopper-pearson")


@pytest.mark.parametrize(("x", "n", "wilson", "exact"), NEWCOMBE_TABLE_I)
def test_dispatcher_routes_to_both_methods(x, n, wilson, exact):
    """Newcombe (1998), Table I, through proportion_interval."""
    w = proportion_interval(x, n, method="wilson")
    e = proportion_interval(x, n, method="clopper-pearson")
    assert (w.low, w.high) == pytest.approx(wilson, abs=HALF_LAST_DIGIT)
    assert (e.low, e.high) == pytest.approx(exact, abs=HALF_LAST_DIGIT)


def test_edge_cases_zero_and_all_successes():
    # 0/n and n/n: limits exactly at the boundary, never zero width (Newcombe 1998, sec. 2).
    for func in (wilson_interval, clopper_pearson_interval):
        lo = func(0, 20)
        hi = func(20, 20)
        assert lo.low == 0.0 and 0.0 < lo.high < 1.0
        assert hi.high == 1.0 and 0.0 < hi.low < 1.0
        # Symmetry: the interval for n - x is the mirror image of that for x.
        assert hi.low == pytest.approx(1.0 - lo.high, abs=1e-12)
    # Clopper-Pearson has a closed form at 0/n: upper = 1 - (alpha/2)**(1/n).
    assert clopper_pearson_interval(0, 20).high == pytest.approx(1 - 0.025 ** (1 / 20))
    assert clopper_pearson_interval(20, 20).low == pytest.approx(0.025 ** (1 / 20))


def test_single_trial_is_allowed():
    assert wilson_interval(1, 1).high == 1.0
    assert clopper_pearson_interval(0, 1).high == pytest.approx(0.975)


def test_higher_confidence_gives_wider_interval():
    narrow = wilson_interval(81, 263, confidence=0.90)
    wide = wilson_interval(81, 263, confidence=0.99)
    assert wide.low < narrow.low and wide.high > narrow.high
    assert wide.confidence == 0.99


def test_interval_is_frozen():
    ci = wilson_interval(5, 10)
    assert isinstance(ci, Interval)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ci.low = 0.0  # type: ignore[misc]


def test_numpy_and_integral_float_counts_are_accepted():
    ref = wilson_interval(81, 263)
    assert wilson_interval(np.int64(81), np.int64(263)) == ref
    assert wilson_interval(81.0, 263.0) == ref


@pytest.mark.parametrize("func", [wilson_interval, clopper_pearson_interval])
@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((11, 10), {}, ValueError, "successes must not exceed n"),
        ((-1, 10), {}, ValueError, "successes must be a non-negative integer"),
        ((1, -10), {}, ValueError, "n must be a non-negative integer"),
        ((0, 0), {}, ValueError, "n must be at least 1"),
        ((1.5, 10), {}, ValueError, "successes must be a non-negative integer"),
        (("3", 10), {}, TypeError, "successes must be a non-negative integer"),
        ((True, 10), {}, TypeError, "successes must be a non-negative integer"),
        ((3, 10), {"confidence": 1.0}, ValueError, r"confidence must be in the open interval"),
        ((3, 10), {"confidence": 0.0}, ValueError, r"confidence must be in the open interval"),
        ((3, 10), {"confidence": 95}, ValueError, r"confidence must be in the open interval"),
        ((3, 10), {"confidence": float("nan")}, ValueError, r"open interval"),
        ((3, 10), {"confidence": "0.95"}, TypeError, "confidence must be a real number"),
    ],
)
def test_invalid_input_raises(func, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        func(*args, **kwargs)


def test_dispatcher_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be one of 'wilson', 'clopper-pearson'"):
        proportion_interval(3, 10, method="wald")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="method must be one of"):
        proportion_interval(3, 10, method=None)  # type: ignore[arg-type]


def test_wilson_monte_carlo_coverage_is_near_nominal():
    """Seeded simulation: p = 0.3, n = 100, 95% Wilson interval.

    Newcombe (1998) reports a mean coverage of about 0.95 for method 3; at a single p the
    coverage of a discrete-data interval oscillates around the nominal level, so we accept
    0.93 to 0.97 (the Monte-Carlo SE with 20 000 draws is about 0.0015).
    """
    p, n, draws = 0.3, 100, 20_000
    rng = np.random.default_rng(20240501)
    counts = rng.binomial(n, p, size=draws)
    # Each possible count has one interval: compute the 101 of them once, then look up.
    covers = np.array(
        [(ci := wilson_interval(x, n)).low <= p <= ci.high for x in range(n + 1)], dtype=bool
    )
    coverage = covers[counts].mean()
    assert 0.93 <= coverage <= 0.97
