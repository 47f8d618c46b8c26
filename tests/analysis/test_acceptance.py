"""Goal p-values by interval inversion, and the protocol's multiplicity plan.

The p-value of a goal is found by inverting the interval the protocol judges on, so it must
equal the classical one-sided test that interval inverts:

* a t interval of the mean inverts the one-sided one-sample t test (R ``t.test(x, mu = goal,
  alternative = "less")``; here ``scipy.stats.ttest_1samp``, which reproduces it);
* Wilson's interval inverts the one-sided score test of a proportion,
  ``z = (p_hat - p0) / sqrt(p0 (1 - p0) / n)`` (Wilson 1927; Newcombe 1998, method 3; R
  ``prop.test(x, n, p0, alternative = "greater", correct = FALSE)``).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from validation.analysis.acceptance import apply_multiplicity, endpoint_p_value, goal_p_value
from validation.analysis.endpoints import assess, endpoint_rows
from validation.protocol import Goal, Protocol, build_protocol, load_protocol
from validation.stats import mean_interval, wilson_interval

from .test_endpoints import _studies


@pytest.fixture(scope="module")
def protocol(repo_root):
    return load_protocol(repo_root / "protocols" / "demo.yaml")


def _with(protocol: Protocol, **multiplicity) -> Protocol:
    data = copy.deepcopy(protocol.data)
    data["multiplicity"] = {**data["multiplicity"], **multiplicity}
    return build_protocol(data, path=protocol.path, sha256=protocol.sha256)


def test_t_interval_inversion_is_the_one_sided_t_test():
    x = np.random.default_rng(1).normal(0.4, 1.0, 40)
    p = goal_p_value(
        lambda c: (lambda e: (e.ci.low, e.ci.high))(mean_interval(x, confidence=c)),
        float(x.mean()),
        Goal(upper=1.0),
    )
    assert p == pytest.approx(stats.ttest_1samp(x, 1.0, alternative="less").pvalue, rel=1e-8)


@pytest.mark.parametrize(("successes", "n", "goal"), [(131, 154, 0.75), (60, 80, 0.8)])
def test_wilson_inversion_is_the_one_sided_score_test(successes, n, goal):
    p_hat = successes / n
    p = goal_p_value(
        lambda c: (lambda i: (i.low, i.high))(wilson_interval(successes, n, confidence=c)),
        p_hat,
        Goal(lower=goal),
    )
    z = (p_hat - goal) / math.sqrt(goal * (1 - goal) / n)
    assert p == pytest.approx(stats.norm.sf(z), rel=1e-7)


def test_two_sided_goal_takes_the_larger_one_sided_p():
    x = np.random.default_rng(2).normal(0.3, 1.0, 50)

    def interval(c):
        e = mean_interval(x, confidence=c)
        return e.ci.low, e.ci.high

    both = goal_p_value(interval, float(x.mean()), Goal(lower=-1.0, upper=1.0))
    lower = goal_p_value(interval, float(x.mean()), Goal(lower=-1.0))
    upper = goal_p_value(interval, float(x.mean()), Goal(upper=1.0))
    assert both == max(lower, upper)


def test_p_value_agrees_with_the_verdict_on_the_interval(protocol):
    studies = _studies(seed=4, canon_bias=0.0)
    rows = endpoint_rows(assess(studies, protocol), protocol)
    for endpoint, row in zip(protocol.endpoints, rows, strict=True):
        p = endpoint_p_value(studies, protocol, endpoint)
        assert (p <= 0.025) == (row["verdict"] == "PASS"), endpoint.id


def test_estimate_missing_the_goal_has_p_above_one_half():
    interval = lambda c: wilson_interval(50, 100, confidence=c)  # noqa: E731
    p = goal_p_value(lambda c: (interval(c).low, interval(c).high), 0.5, Goal(lower=0.6))
    assert 0.5 < p < 1.0
    assert p == pytest.approx(stats.norm.sf((0.5 - 0.6) / math.sqrt(0.6 * 0.4 / 100)), rel=1e-7)


def test_secondary_endpoints_wait_for_the_primary_family(protocol):
    studies = _studies(seed=4, canon_bias=0.0)
    rows = endpoint_rows(assess(studies, protocol), protocol)
    closed = apply_multiplicity(copy.deepcopy(rows), studies, protocol, strata_met=False)
    assert closed["gate_open"] is False
    opened_rows = copy.deepcopy(rows)
    opened = apply_multiplicity(opened_rows, studies, protocol, strata_met=True)
    primary_pass = all(r["verdict"] == "PASS" for r in rows if r["primary"])
    assert opened["gate_open"] is primary_pass
    secondary = [r for r in opened_rows if not r["primary"]]
    assert secondary and all(r["tested"] is primary_pass for r in secondary)
    assert "Holm" in opened["statement"] and opened["alpha"] == 0.05


def test_holm_on_the_primary_family_adjusts_the_verdicts(protocol):
    studies = _studies(seed=4, canon_bias=0.0)
    holm = _with(protocol, procedure="holm")
    rows = endpoint_rows(assess(studies, holm), holm)
    apply_multiplicity(rows, studies, holm)
    primary = [r for r in rows if r["primary"]]
    p = np.array([r["p_value"] for r in primary])
    m = len(p)
    order = np.argsort(p)
    # Holm (1979): step-down at one-sided alpha/2 = 0.025
    passed = np.zeros(m, bool)
    for rank, i in enumerate(order):
        if p[i] > 0.025 / (m - rank):
            break
        passed[i] = True
    assert [r["verdict"] == "PASS" for r in primary] == passed.tolist()


def test_fixed_sequence_stops_at_the_first_failure(protocol):
    studies = _studies(seed=4, canon_bias=3.0)  # the bias endpoint fails
    order = ["lvh-sensitivity", "ivsd-bias", "lvh-specificity", "ivsd-loa-lower", "ivsd-loa-upper"]
    plan = _with(protocol, procedure="fixed-sequence", order=order)
    rows = endpoint_rows(assess(studies, plan), plan)
    apply_multiplicity(rows, studies, plan)
    verdict = {r["id"]: r["verdict"] for r in rows}
    assert verdict["ivsd-bias"] == "FAIL"
    if verdict["lvh-sensitivity"] == "PASS":
        assert all(verdict[i] == "NOT TESTED" for i in order[2:])


def test_unknown_endpoint_in_the_order_is_refused(tmp_path, repo_root):
    from validation.exceptions import ProtocolError

    text = (repo_root / "protocols" / "demo.yaml").read_text()
    text = text.replace("  secondary: holm\n", "  secondary: holm\n  order: [ivsd-bias, nope]\n")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ProtocolError, match=r"multiplicity\.order names unknown endpoint"):
        load_protocol(path)


def test_results_frame_is_unchanged(protocol):
    studies = _studies(seed=4)
    before = studies.copy()
    rows = endpoint_rows(assess(studies, protocol), protocol)
    apply_multiplicity(rows, studies, protocol)
    pd.testing.assert_frame_equal(studies, before)
