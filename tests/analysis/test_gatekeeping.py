"""Serial gatekeeping: the one multiplicity rule of the goals and of the version comparison.

Sources:

* R ``p.adjust(p, method = "holm")`` and ``p.adjust(p, method = "bonferroni")`` (as
  multtest's ``mt.rawp2adjp``), the tables of tests/stats/test_multiplicity.py
  (statsmodels' ``res_multtest1``, ``res_multtest2`` and ``res_multtest3``).
* Fixed sequence: Maurer, Hothorn & Lehmacher (1995); FDA, "Multiple Endpoints in Clinical
  Trials" (2022): tested in the pre-specified order at the full level until the first
  failure; adjusted p-value ``max_{j <= i} p_j`` (Westfall & Krishen 2001).
* Intersection-union: Berger (1982): each hypothesis at the full level, the family succeeds
  only if every one does.
* Serial gatekeeping: Dmitrienko & Tamhane (2007): the secondary family is tested only when
  every primary hypothesis is rejected.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from tests.stats.test_multiplicity import MULTTEST1_SORTED, MULTTEST2, MULTTEST3, PVAL0
from validation.analysis.acceptance import interval_p_value, judge_goals
from validation.analysis.comparison import (
    _candidate_verdict,
    compare_versions,
    judge_comparisons,
)
from validation.analysis.endpoints import assess, endpoint_rows
from validation.analysis.gatekeeping import Hypothesis, serial_gatekeeping
from validation.analysis.results import _acceptance
from validation.protocol import Goal, MultiplicityPlan, Protocol, build_protocol, load_protocol

from .test_comparison import _studies, _with_shift

PROCEDURES = ("intersection-union", "holm", "bonferroni", "fixed-sequence")


def _plan(
    procedure: str, secondary: str = "holm", alpha: float = 0.1, order=()
) -> MultiplicityPlan:
    return MultiplicityPlan(procedure, secondary, alpha, tuple(order), "")


def _primary(p_values, met=None) -> list[Hypothesis]:
    met = met or [None] * len(p_values)
    return [
        Hypothesis(f"e{i}", True, p, m) for i, (p, m) in enumerate(zip(p_values, met, strict=True))
    ]


# ------------------------------------------------------------------------ each procedure vs R


@pytest.mark.parametrize("table", [MULTTEST2, MULTTEST3], ids=["multtest2", "multtest3"])
@pytest.mark.parametrize("procedure", ["holm", "bonferroni"])
def test_holm_and_bonferroni_families_match_r_p_adjust(table, procedure):
    # alpha = 0.1 two-sided: each hypothesis one-sided at 0.05, R's level in these tables
    result = serial_gatekeeping(_primary(table["raw"]), _plan(procedure))
    adjusted = [d.adjusted_p for d in result.decisions]
    np.testing.assert_allclose(adjusted, table[procedure], rtol=0, atol=1e-15)
    assert [d.rejected for d in result.decisions] == [a <= 0.05 for a in table[procedure]]
    assert result.gate_open is all(a <= 0.05 for a in table[procedure])
    assert result.primary is not None and result.primary.alpha == 0.05


def test_holm_family_in_a_given_order_matches_r_on_unsorted_p_values():
    """pval0 of statsmodels' test_multi.py, in input order (R sorts internally)."""
    expected = {raw: (bonf, hol) for raw, bonf, hol in MULTTEST1_SORTED}
    ids = [f"e{i}" for i in range(len(PVAL0))]
    order = list(reversed(ids))  # the plan's order is the testing order, not Holm's
    result = serial_gatekeeping(_primary(PVAL0), _plan("holm", order=order))
    assert [d.id for d in result.decisions] == order
    for i, p in enumerate(PVAL0):
        _, hol = expected[min(expected, key=lambda raw, p=p: abs(raw - p))]
        assert result.decision(f"e{i}").adjusted_p == pytest.approx(hol, abs=1e-15)
    assert {d.id for d in result.decisions if d.rejected} == {"e6", "e8"}  # the two smallest


def test_fixed_sequence_stops_at_the_first_failure():
    p = {"a": 0.01, "b": 0.04, "c": 0.06, "d": 0.001}
    hypotheses = [Hypothesis(i, True, p[i], None) for i in ("d", "c", "b", "a")]  # any order
    result = serial_gatekeeping(hypotheses, _plan("fixed-sequence", order="abcd"))
    assert [d.id for d in result.decisions] == ["a", "b", "c", "d"]
    assert [d.rejected for d in result.decisions] == [True, True, False, False]
    assert [d.tested for d in result.decisions] == [True, True, True, False]
    # Westfall & Krishen (2001): adjusted p-value max_{j <= i} p_j
    assert [d.adjusted_p for d in result.decisions] == [0.01, 0.04, 0.06, 0.06]
    assert result.gate_open is False


def test_intersection_union_decides_on_the_confidence_bound():
    """Every hypothesis at the full level, unadjusted; the decision is the goal met on the
    interval the protocol judges on (the p-value is its inversion, reported beside it)."""
    p = [0.001, 0.02, 0.024]
    result = serial_gatekeeping(_primary(p, [True, True, True]), _plan("intersection-union"))
    assert [d.adjusted_p for d in result.decisions] == p
    assert all(d.tested and d.rejected for d in result.decisions) and result.gate_open
    failed = serial_gatekeeping(_primary(p, [True, False, None]), _plan("intersection-union"))
    assert [d.rejected for d in failed.decisions] == [True, False, False]
    assert all(d.tested for d in failed.decisions) and not failed.gate_open


# ------------------------------------------------------------------------ the gate


def _two_families(primary_p, secondary_p, met=True):
    return [
        *(Hypothesis(f"p{i}", True, p, met) for i, p in enumerate(primary_p)),
        *(Hypothesis(f"s{i}", False, p, met) for i, p in enumerate(secondary_p)),
    ]


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_secondary_family_waits_for_every_primary_hypothesis(procedure):
    opened = serial_gatekeeping(_two_families([0.001, 0.002], [0.01, 0.02]), _plan(procedure))
    assert opened.gate_open and opened.secondary is not None
    assert [d.rejected for d in opened.decisions] == [True] * 4
    # one primary failure (p above every level, goal missed) closes the gate
    closed = serial_gatekeeping(
        [*_two_families([0.001], [0.01, 0.02]), Hypothesis("p9", True, 0.4, False)],
        _plan(procedure),
    )
    assert not closed.gate_open and closed.secondary is None
    secondary = [d for d in closed.decisions if not d.primary]
    assert all(not d.tested and not d.rejected and math.isnan(d.adjusted_p) for d in secondary)
    assert [d.p_value for d in secondary] == [0.01, 0.02]  # still reported


def test_a_failed_judged_stratum_closes_the_gate():
    result = serial_gatekeeping(
        _two_families([0.001], [0.01]), _plan("intersection-union"), strata_met=False
    )
    assert result.decision("p0").rejected and not result.gate_open
    assert not result.decision("s0").tested and result.strata_met is False


def test_an_undefined_p_value_is_never_rejected():
    result = serial_gatekeeping(_primary([math.nan, 0.001]), _plan("holm"))
    assert [d.rejected for d in result.decisions] == [False, True]
    assert math.isnan(result.decisions[0].p_value) and result.decisions[0].adjusted_p == 1.0


def test_endpoints_the_order_leaves_out_follow_in_their_own_order():
    hypotheses = _primary([0.01, 0.02, 0.03, 0.04])
    result = serial_gatekeeping(hypotheses, _plan("fixed-sequence", order=["e2"]))
    assert [d.id for d in result.decisions] == ["e2", "e0", "e1", "e3"]


def test_repeated_ids_are_refused():
    with pytest.raises(ValueError, match=r"unique ids; repeated: \['e0'\]"):
        serial_gatekeeping([*_primary([0.01]), *_primary([0.02])], _plan("holm"))


def test_record_has_one_shape():
    result = serial_gatekeeping(_two_families([0.001], [0.01]), _plan("holm", alpha=0.05))
    record = result.record("text")
    assert list(record) == [
        "procedure",
        "secondary",
        "alpha",
        "one_sided_alpha",
        "gate_open",
        "strata_met",
        "rationale",
        "statement",
    ]
    assert record["alpha"] == 0.05 and record["one_sided_alpha"] == 0.025
    statement = result.statement(noun="endpoint", bound="goal bound", judged=True)
    assert statement == (
        "Family-wise error rate 0.05 (two-sided; each goal bound one-sided at 0.025). Primary "
        "endpoints (1): Holm's step-down procedure. Secondary endpoints (1): tested only if "
        "every primary endpoint and every judged stratum succeeds, by Holm's step-down "
        "procedure."
    )


# ------------------------------------------------------------------------ p-value resolution


def test_a_bootstrap_p_value_is_resolved_to_one_over_b_plus_one():
    def far(confidence):  # every interval far above the goal: the inverted p is ~5e-13
        return 5.0, 6.0

    goal = Goal(lower=0.0)
    exact = interval_p_value(far, 5.5, goal, method="t interval", n_resamples=2000)
    boot = interval_p_value(
        far, 5.5, goal, method="patient cluster bootstrap, BCa", n_resamples=2000
    )
    assert exact < 1e-9 and boot == pytest.approx(1 / 2001)
    undefined = interval_p_value(
        lambda c: (math.nan, math.nan), 5.5, goal, method="bootstrap", n_resamples=2000
    )
    assert math.isnan(undefined)


# ------------------------------------------------------------------------ both paths, one rule


@pytest.fixture(scope="module")
def demo(repo_root) -> Protocol:
    return load_protocol(repo_root / "protocols" / "demo.yaml")


@pytest.fixture(scope="module")
def rows(demo):
    """Real endpoint rows of the goals and real comparison rows of a candidate."""
    released = _studies()
    goals = endpoint_rows(assess(released, demo), demo)
    comparison = compare_versions(released, _with_shift(released, 0.1), demo, version="1.1.0")
    return goals, comparison["rows"]


def _interval(goal: Goal, met: bool | None) -> tuple[float, float]:
    """An interval on which ``goal`` is met (True), missed (False) or undefined (None)."""
    if met is None:
        return math.nan, math.nan
    eps = 1e-3
    if met:
        if goal.lower is not None and goal.upper is not None:
            centre = (goal.lower + goal.upper) / 2
            return centre - eps, centre + eps
        if goal.lower is not None:
            return goal.lower + eps, goal.lower + 2 * eps
        return goal.upper - 2 * eps, goal.upper - eps
    if goal.lower is not None:
        return goal.lower - 2 * eps, goal.lower - eps
    return goal.upper + eps, goal.upper + 2 * eps


def _draw(rng, ids):
    """p-values (some undefined) with the matching decisions on the interval (c = 1 - alpha)."""
    p = {}
    for i in ids:
        p[i] = math.nan if rng.random() < 0.1 else float(rng.uniform(0, 0.06) ** rng.uniform(1, 3))
    met = {i: None if math.isnan(p[i]) else p[i] <= 0.025 for i in ids}
    return p, met


@pytest.mark.parametrize("secondary", PROCEDURES)
@pytest.mark.parametrize("procedure", PROCEDURES)
def test_acceptance_and_comparison_give_the_same_verdicts(demo, rows, procedure, secondary):
    """Same p-values, same decisions on the bound, same plan and strata -> the goals and the
    version comparison reject the same hypotheses and reach the same family verdicts."""
    data = copy.deepcopy(demo.data)
    data["multiplicity"] = {"procedure": procedure, "secondary": secondary, "alpha": 0.05}
    protocol = build_protocol(data, path=demo.path, sha256=demo.sha256)
    goals_by_id = {e.id: e.goal for e in protocol.endpoints}
    rng = np.random.default_rng(PROCEDURES.index(procedure) * 4 + PROCEDURES.index(secondary))
    for _ in range(25):
        p, met = _draw(rng, list(goals_by_id))
        strata_met = bool(rng.random() < 0.8)

        goals = copy.deepcopy(rows[0])
        for row in goals:
            row["ci_low"], row["ci_high"] = _interval(goals_by_id[row["id"]], met[row["id"]])
            m = met[row["id"]]
            row["verdict"] = "NOT EVALUABLE" if m is None else ("PASS" if m else "FAIL")
        strata = [{"dimension": "vendor", "stratum": "GE", "metric": "bias", "judged": True,
                   "goal_met": strata_met}]  # fmt: skip
        goal_record = judge_goals(goals, p, protocol, strata_met=strata_met)
        goal_verdict = _acceptance(goals, strata, protocol)["verdict"]

        comparisons = copy.deepcopy(rows[1])
        for row in comparisons:
            if row["dimension"] == "all":
                m = met[row["endpoint"]]
                row["noninferior"] = m
                row["verdict"] = (
                    "NOT EVALUABLE" if m is None else "NON-INFERIOR" if m else "NOT NON-INFERIOR"
                )
            elif row["judged"]:
                row["noninferior"] = True
        if not strata_met:
            next(r for r in comparisons if r["dimension"] != "all" and r["judged"])[
                "noninferior"
            ] = False
        comparison_record = judge_comparisons(comparisons, p, protocol)
        comparison_verdict = _candidate_verdict(comparisons, protocol, "1.1.0", comparison_record)[
            "verdict"
        ]

        pooled = {r["endpoint"]: r for r in comparisons if r["dimension"] == "all"}
        words = {"PASS": "NON-INFERIOR", "FAIL": "NOT NON-INFERIOR"}
        for row in goals:
            other = pooled[row["id"]]
            assert words.get(row["verdict"], row["verdict"]) == other["verdict"], row["id"]
            assert row["tested"] == other["tested"], row["id"]
            assert row["adjusted_p"] == pytest.approx(other["adjusted_p"], nan_ok=True)
        assert set(goal_record) == set(comparison_record)
        for key in ("procedure", "secondary", "alpha", "gate_open", "strata_met"):
            assert goal_record[key] == comparison_record[key], key
        assert goal_verdict == comparison_verdict
        assert goal_verdict == ("PASS" if goal_record["gate_open"] else "FAIL")
