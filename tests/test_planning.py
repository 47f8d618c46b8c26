"""validation.planning: the plans ``mval plan`` prints, as a program reads them."""

from __future__ import annotations

import dataclasses

import pytest

from validation.planning import REFERENCES, accuracy_plan, agreement_plan
from validation.stats.sample_size import sample_size_bland_altman, sample_size_proportion


def test_goal_design_is_sized_exactly_and_by_the_normal_approximation():
    plan = accuracy_plan(0.9, metric="sensitivity", lower_bound=0.75, prevalence=0.3)
    exact, normal = plan.record["results"]
    expected = sample_size_proportion(
        0.9, lower_bound=0.75, power=0.8, prevalence=0.3, method="exact"
    )
    assert exact == {**dataclasses.asdict(expected), "reference": REFERENCES["exact"]}
    assert (normal["method"], normal["n_cases"], normal["n_total"]) == ("normal", 54, 180)
    assert plan.table.startswith("Sample size: sensitivity against a performance goal")


def test_precision_design_without_prevalence_samples_one_group_only():
    """Buderer (1996): specificity 0.85, W = 0.10 -> 49 subjects without the condition."""
    plan = accuracy_plan(0.85, metric="specificity", half_width=0.1)
    (result,) = plan.record["results"]
    assert result["prevalence"] == 0.0 and result["n_cases"] == result["n_total"] == 49
    assert "not given: a sample of subjects without the condition only" in plan.table


def test_agreement_plan_is_lu_2016():
    plan = agreement_plan(0.0, 3.3, 8.0, power=0.8)
    (result,) = plan.record["results"]
    assert result["n"] == sample_size_bland_altman(0.0, 3.3, 8.0).n == 145
    assert result["method"] == "lu-2016" and plan.record["plan"] == "agreement"
    assert "pairs needed" in plan.table and REFERENCES["lu"] in plan.table


def test_bad_values_raise_naming_the_argument():
    with pytest.raises(ValueError, match="lower_bound"):
        accuracy_plan(0.7, metric="sensitivity", lower_bound=0.75)
    with pytest.raises(ValueError, match="delta"):
        agreement_plan(0.3, 1.0, 2.0)
