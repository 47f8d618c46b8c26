"""Judging the pre-specified endpoints: p-values against goals and multiplicity control.

Every endpoint's goal is a one-sided hypothesis per bound (``H0: metric <= lower`` or
``H0: metric >= upper``; a two-sided goal is an equivalence test, both must be rejected). Its
p-value is found by inverting the same confidence interval the protocol judges on: the
one-sided p-value is ``(1 - c) / 2`` for the two-sided level ``c`` at which the interval's bound
touches the goal. Judging the goal on the two-sided ``1 - alpha`` interval's bound and
rejecting when ``p <= alpha / 2`` are therefore the same decision, and a multiplicity procedure
(Holm, fixed-sequence, Bonferroni) can act on these p-values at the family-wise level.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
from scipy import optimize

from validation.analysis.endpoints import MetricValue, assess_metric
from validation.protocol import Endpoint, Goal, Protocol
from validation.stats.multiplicity import MultiplicityResult, multiplicity_adjust

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


def endpoint_p_value(studies: pd.DataFrame, protocol: Protocol, endpoint: Endpoint) -> float:
    """The one-sided p-value of ``endpoint``'s goal on ``studies``."""

    def interval_at(confidence: float) -> tuple[float, float]:
        value: MetricValue = assess_metric(studies, protocol, endpoint.metric, confidence)
        return value.ci_low, value.ci_high

    estimate = assess_metric(studies, protocol, endpoint.metric, protocol.confidence).estimate
    return goal_p_value(interval_at, estimate, endpoint.goal)


def _family(
    rows: list[dict[str, Any]], p_values: dict[str, float], procedure: str, alpha: float
) -> MultiplicityResult | None:
    if not rows:
        return None
    ids = [r["id"] for r in rows]
    p = [1.0 if math.isnan(p_values[i]) else p_values[i] for i in ids]
    # goals are one-sided tests at alpha / 2 each: a two-sided (1 - alpha) interval's bound
    return multiplicity_adjust(
        p,
        procedure=("none" if procedure == "intersection-union" else procedure),
        alpha=alpha / 2.0,
        labels=ids,
    )


def apply_multiplicity(
    endpoints: list[dict[str, Any]],
    studies: pd.DataFrame,
    protocol: Protocol,
    *,
    strata_met: bool = True,
) -> dict[str, Any]:
    """Add ``p_value``, ``adjusted_p``, ``tested`` and the final verdict to each endpoint row.

    Primary endpoints form one family under the protocol's procedure; secondary endpoints
    are tested (with their own procedure) only when every primary endpoint succeeds, and
    every stratum the protocol judges (``strata_met``), so the family-wise error rate over
    both families is ``alpha`` (serial gatekeeping). Returns the ``multiplicity`` record of
    ``results.json``.
    """
    plan = protocol.multiplicity
    alpha = plan["alpha"]
    by_id = {e.id: e for e in protocol.endpoints}
    p_values = {r["id"]: endpoint_p_value(studies, protocol, by_id[r["id"]]) for r in endpoints}
    primary = _ordered([r for r in endpoints if r["primary"]], plan.get("order"))
    secondary = _ordered([r for r in endpoints if not r["primary"]], plan.get("order"))
    first = _family(primary, p_values, plan["procedure"], alpha)
    gate_open = strata_met and (first is None or first.all_rejected)
    second = _family(secondary, p_values, plan["secondary"], alpha) if gate_open else None
    for family, rows in ((first, primary), (second, secondary)):
        for i, row in enumerate(rows):
            row["p_value"] = p_values[row["id"]]
            if family is None:
                row.update(adjusted_p=math.nan, tested=False, verdict="NOT TESTED")
                continue
            row["adjusted_p"] = family.adjusted_p[i]
            row["tested"] = family.tested[i]
            if row["verdict"] == "NOT EVALUABLE":
                continue
            if not family.tested[i]:
                row["verdict"] = "NOT TESTED"
            elif plan["procedure" if row["primary"] else "secondary"] != "intersection-union":
                row["verdict"] = "PASS" if family.rejected[i] else "FAIL"
    return {
        "procedure": plan["procedure"],
        "secondary": plan["secondary"],
        "alpha": alpha,
        "one_sided_alpha": alpha / 2.0,
        "familywise_alpha": alpha,
        "gate_open": gate_open,
        "rationale": plan.get("rationale", ""),
        "statement": _statement(plan, alpha, len(primary), len(secondary)),
    }


def _ordered(rows: list[dict[str, Any]], order: list[str] | None) -> list[dict[str, Any]]:
    if not order:
        return rows
    rank = {endpoint_id: i for i, endpoint_id in enumerate(order)}
    return sorted(rows, key=lambda r: rank.get(r["id"], len(rank)))


_DESCRIBE = {
    "intersection-union": "every endpoint must succeed (intersection-union test), so each is "
    "tested at the full level without adjustment",
    "holm": "Holm's step-down procedure",
    "bonferroni": "Bonferroni's procedure",
    "fixed-sequence": "a fixed sequence (each endpoint tested at the full level, in the "
    "pre-specified order, only if every earlier one succeeded)",
}


def _statement(plan: dict[str, Any], alpha: float, n_primary: int, n_secondary: int) -> str:
    text = (
        f"Family-wise error rate {alpha:g} (two-sided; each goal bound one-sided at "
        f"{alpha / 2:g}). Primary endpoints ({n_primary}): {_DESCRIBE[plan['procedure']]}."
    )
    if n_secondary:
        text += (
            f" Secondary endpoints ({n_secondary}): tested only if every primary endpoint "
            f"succeeds, by {_DESCRIBE[plan['secondary']]}."
        )
    return text
