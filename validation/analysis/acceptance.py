"""Judging the pre-specified endpoints: p-values against goals and multiplicity control.

Every endpoint's goal is a one-sided hypothesis per bound (``H0: metric <= lower`` or
``H0: metric >= upper``; a two-sided goal is an equivalence test, both must be rejected). Its
p-value is found by inverting the same confidence interval the protocol judges on: the
one-sided p-value is ``(1 - c) / 2`` for the two-sided level ``c`` at which the interval's bound
touches the goal. Judging the goal on the two-sided ``1 - alpha`` interval's bound and
rejecting when ``p <= alpha / 2`` are therefore the same decision, and a multiplicity procedure
(Holm, fixed-sequence, Bonferroni) can act on these p-values at the family-wise level: the
rule is :func:`validation.analysis.gatekeeping.serial_gatekeeping`, shared with the version
comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from scipy import optimize

from validation.analysis.endpoints import MetricValue, assess_metric
from validation.analysis.gatekeeping import Hypothesis, serial_gatekeeping
from validation.protocol import Endpoint, Goal, Protocol

IntervalAt = Callable[[float], tuple[float, float]]
_LEVELS = (1e-9, 1.0 - 1e-12)


def _solve(bound: Callable[[float], float], goal: float) -> float:
    """The two-sided level c at which ``bound(c) == goal`` (bounds widen with c)."""
    low, high = _LEVELS
    f_low, f_high = bound(low) - goal, bound(high) - goal
    if not (math.isfinite(f_low) and math.isfinite(f_high)):
        return math.nan
    if f_low * f_high > 0:  # the goal lies beyond even the widest interval
        return high
    return float(optimize.brentq(lambda c: bound(c) - goal, low, high, xtol=1e-12))


def goal_p_value(interval_at: IntervalAt, estimate: float, goal: Goal) -> float:
    """One-sided p-value of the goal by inverting the interval ``interval_at(confidence)``.

    Parameters
    ----------
    interval_at : callable
        ``confidence -> (low, high)``: the endpoint's own interval at any two-sided level.
    estimate : float
        The point estimate (the limit of the interval as the level goes to 0).
    goal : Goal
        ``lower`` (the metric must exceed it), ``upper`` (must stay below it) or both; with
        both, the larger of the two p-values (two one-sided tests).

    Returns
    -------
    float
        In (0, 1); below 0.5 when the estimate meets the goal. NaN when undefined.
    """
    if not math.isfinite(estimate):
        return math.nan
    p_values = []
    if goal.lower is not None:
        if estimate > goal.lower:
            c = _solve(lambda c: interval_at(c)[0], goal.lower)
            p_values.append((1.0 - c) / 2.0)
        else:
            c = _solve(lambda c: interval_at(c)[1], goal.lower)
            p_values.append((1.0 + c) / 2.0 if estimate < goal.lower else 0.5)
    if goal.upper is not None:
        if estimate < goal.upper:
            c = _solve(lambda c: interval_at(c)[1], goal.upper)
            p_values.append((1.0 - c) / 2.0)
        else:
            c = _solve(lambda c: interval_at(c)[0], goal.upper)
            p_values.append((1.0 + c) / 2.0 if estimate > goal.upper else 0.5)
    return max(p_values)


def interval_p_value(
    interval_at: IntervalAt, estimate: float, goal: Goal, *, method: str, n_resamples: int
) -> float:
    """:func:`goal_p_value`, resolved to ``1 / (B + 1)`` when the interval is a bootstrap's.

    A p-value found from ``B`` bootstrap replicates is a Monte Carlo estimate that cannot
    resolve probabilities below ``1 / (B + 1)`` (Davison & Hinkley 1997, section 4.2.1; North,
    Curtis & Sham 2002): inverting a bootstrap interval beyond its most extreme replicate
    would otherwise report a spuriously small p-value. NaN stays NaN.

    Parameters
    ----------
    interval_at, estimate, goal
        As :func:`goal_p_value`.
    method : str
        The interval's method as recorded (a bootstrap's names "bootstrap").
    n_resamples : int
        The number of bootstrap replicates ``B`` (the protocol's ``analysis.bootstrap``).

    Returns
    -------
    float

    References
    ----------
    .. [1] Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge
       University Press; 1997.
    .. [2] North BV, Curtis D, Sham PC. A note on the calculation of empirical P values from
       Monte Carlo procedures. Am J Hum Genet. 2002;71(2):439-441.
    """
    p_value = goal_p_value(interval_at, estimate, goal)
    if "bootstrap" in method and not math.isnan(p_value):
        return max(p_value, 1.0 / (n_resamples + 1))
    return p_value


def endpoint_p_value(studies: pd.DataFrame, protocol: Protocol, endpoint: Endpoint) -> float:
    """The one-sided p-value of ``endpoint``'s goal on ``studies`` (:func:`interval_p_value`)."""

    def interval_at(confidence: float) -> tuple[float, float]:
        value: MetricValue = assess_metric(studies, protocol, endpoint.metric, confidence)
        return value.ci_low, value.ci_high

    judged = assess_metric(studies, protocol, endpoint.metric, protocol.confidence)
    return interval_p_value(
        interval_at,
        judged.estimate,
        endpoint.goal,
        method=judged.method,
        n_resamples=protocol.bootstrap.n_resamples,
    )


def apply_multiplicity(
    endpoints: list[dict[str, Any]],
    studies: pd.DataFrame,
    protocol: Protocol,
    *,
    strata_met: bool = True,
) -> dict[str, Any]:
    """Add ``p_value``, ``adjusted_p``, ``tested`` and the final verdict to each endpoint row.

    The rows' goals are decided by :func:`validation.analysis.gatekeeping.serial_gatekeeping`
    (primary family under the protocol's procedure; secondary endpoints only when every
    primary endpoint and every stratum the protocol judges, ``strata_met``, succeed).

    Parameters
    ----------
    endpoints, protocol, strata_met
        As :func:`judge_goals`, which this calls with the p-values found on ``studies``.
    studies : DataFrame
        The analysed studies the rows were computed on (the p-values invert their intervals).

    Returns
    -------
    dict
        The ``multiplicity`` record of ``results.json``
        (:meth:`validation.analysis.gatekeeping.Gatekeeping.record`).
    """
    by_id = {e.id: e for e in protocol.endpoints}
    p_values = {
        row["id"]: endpoint_p_value(studies, protocol, by_id[row["id"]]) for row in endpoints
    }
    return judge_goals(endpoints, p_values, protocol, strata_met=strata_met)


def judge_goals(
    endpoints: list[dict[str, Any]],
    p_values: Mapping[str, float],
    protocol: Protocol,
    *,
    strata_met: bool = True,
) -> dict[str, Any]:
    """The decision step of :func:`apply_multiplicity`, on given p-values.

    Parameters
    ----------
    endpoints : list of dict
        The rows of :func:`validation.analysis.endpoints.endpoint_rows` (``id``,
        ``primary``, ``ci_low``, ``ci_high``, ``verdict``); changed in place.
    p_values : mapping
        Endpoint id -> one-sided p-value of its goal.
    protocol : Protocol
        The goals and the multiplicity plan.
    strata_met : bool, default True
        Every stratum the protocol judges met its goals.

    Returns
    -------
    dict
        The ``multiplicity`` record of ``results.json``.
    """
    by_id = {e.id: e for e in protocol.endpoints}
    hypotheses = [
        Hypothesis(
            id=row["id"],
            primary=row["primary"],
            p_value=p_values[row["id"]],
            met=by_id[row["id"]].goal.met(row["ci_low"], row["ci_high"]),
        )
        for row in endpoints
    ]
    result = serial_gatekeeping(hypotheses, protocol.multiplicity, strata_met=strata_met)
    result.annotate(endpoints, key="id", passed="PASS", failed="FAIL")
    statement = result.statement(
        noun="endpoint", bound="goal bound", judged=bool(protocol.analysis.acceptance_by)
    )
    return result.record(statement)
