"""Model version comparison: paired differences, non-inferiority on the bound, verdicts.

The paired statistics themselves are tested against published worked examples in
tests/stats/test_paired.py (Newcombe 1998, Fagerland et al. 2017) and tests/stats/test_roc.py
(DeLong 1988); here they are checked to be wired to the right columns, directions and margins.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from validation.analysis.comparison import (
    compare_versions,
    comparison_dimensions,
    difference,
    margin_goal,
    pair_versions,
)
from validation.protocol import load_protocol
from validation.stats import delong_test, mcnemar_test, paired_proportion_difference


@pytest.fixture(scope="module")
def protocol(repo_root):
    return load_protocol(repo_root / "protocols" / "demo.yaml")


def _studies(seed: int = 3, n: int = 480) -> pd.DataFrame:
    """A synthetic analysed table: four vendors, two sites, one study per patient."""
    rng = np.random.default_rng(seed)
    reference = rng.normal(10.0, 1.8, n)
    ivsd = reference + rng.normal(0.0, 0.8, n)
    probability = 1.0 / (1.0 + np.exp(-(ivsd - 11.0) * 2.0))
    return pd.DataFrame(
        {
            "study_instance_uid": [f"1.2.3.{i}" for i in range(n)],
            "patient_id": [f"P{i:04d}" for i in range(n)],
            "site": np.where(np.arange(n) % 2 == 0, "s01", "s02"),
            "vendor": np.array(["Canon", "GE", "Philips", "Siemens"])[np.arange(n) % 4],
            "measurement": ivsd,
            "reference": reference,
            "label": (reference >= 11.0).astype(int),
            "probability": probability,
            "predicted": (probability >= 0.5).astype(int),
        }
    )


def _with_shift(studies: pd.DataFrame, shift: float, vendor: str | None = None) -> pd.DataFrame:
    """The same studies read by a version whose IVSd moves by ``shift`` mm (on ``vendor``)."""
    out = studies.copy()
    rows = out["vendor"] == vendor if vendor else np.ones(len(out), dtype=bool)
    out.loc[rows, "measurement"] += shift
    out["probability"] = 1.0 / (1.0 + np.exp(-(out["measurement"] - 11.0) * 2.0))
    out["predicted"] = (out["probability"] >= 0.5).astype(int)
    return out


def _pooled(result, endpoint):
    return next(r for r in result["rows"] if r["endpoint"] == endpoint and r["dimension"] == "all")


def test_pairing_counts_every_study(protocol):
    released = _studies()
    candidate = released.iloc[5:].copy()
    paired, counts = pair_versions(released, candidate)
    assert counts == {
        "released": 480,
        "candidate": 475,
        "paired": 475,
        "released_only": 5,
        "candidate_only": 0,
    }
    assert len(paired) == 475 and {"measurement_a", "measurement_b"} <= set(paired.columns)


def test_identical_versions_are_non_inferior_everywhere(protocol):
    released = _studies()
    result = compare_versions(released, released.copy(), protocol, version="1.1.0")
    assert result["verdict"] == "PASS" and result["failing"] == []
    pooled = [r for r in result["rows"] if r["dimension"] == "all"]
    assert all(r["difference"] == 0 for r in pooled)
    assert all(r["verdict"] == "NON-INFERIOR" for r in pooled)  # secondary tested: gate open
    assert result["multiplicity"]["gate_open"] is True
    assert result["improved"] == [] and result["worsened"] == []
    assert "may replace the released version" in result["conclusion"]
    # strata: pooled, then every site and vendor, each endpoint
    assert comparison_dimensions(protocol) == ["site", "vendor"]
    assert len(result["rows"]) == 7 * (1 + 2 + 4)


def test_a_bias_on_one_vendor_fails_there_and_only_there(protocol):
    released = _studies()
    candidate = _with_shift(released, 1.0, vendor="GE")
    result = compare_versions(released, candidate, protocol, version="1.1.0")
    assert result["verdict"] == "FAIL"
    failing = {(f["endpoint"], f["dimension"], f["stratum"]) for f in result["failing"]}
    assert ("ivsd-bias", "vendor", "GE") in failing
    assert ("ivsd-loa-upper", "vendor", "GE") in failing
    assert not any(f[2] in ("Canon", "Philips", "Siemens") for f in failing)
    ge = next(
        r
        for r in result["rows"]
        if r["endpoint"] == "ivsd-bias" and r["stratum"] == "GE" and r["dimension"] == "vendor"
    )
    # the difference of the absolute bias: about +1 mm, judged on its upper bound vs 0.3 mm
    assert ge["difference"] == pytest.approx(1.0, abs=0.15)
    assert ge["ci_low"] > 0.3 and ge["noninferior"] is False and ge["worsened"] is True
    assert ge["released"] == pytest.approx(
        (released.measurement - released.reference)[released.vendor == "GE"].mean()
    )
    assert "could not be shown to be non-inferior" in result["conclusion"]
    assert "vendor GE" in result["conclusion"]
    # the primary family failed: the secondary comparisons are not tested
    assert _pooled(result, "ivsd-mae")["verdict"] == "NOT TESTED"
    assert result["multiplicity"]["gate_open"] is False


def test_removing_a_bias_is_an_improvement(protocol):
    released = _with_shift(_studies(), 1.2, vendor="Canon")
    candidate = _studies()
    result = compare_versions(released, candidate, protocol, version="1.1.0")
    improved = {(i["endpoint"], i["stratum"]) for i in result["improved"]}
    assert ("ivsd-bias", "Canon") in improved and ("ivsd-mae", "Canon") in improved
    canon = next(
        r for r in result["rows"] if r["endpoint"] == "ivsd-bias" and r["stratum"] == "Canon"
    )
    assert canon["difference"] == pytest.approx(-1.2, abs=0.1) and canon["ci_high"] < 0


def test_sensitivity_difference_is_newcombes_with_mcnemars_test(protocol):
    released = _studies()
    candidate = _with_shift(released, -0.3)
    paired, _ = pair_versions(released, candidate)
    value = difference(paired, "sensitivity", protocol)
    positive = paired["label"] == 1
    a = paired.loc[positive, "predicted_a"].to_numpy() == 1
    b = paired.loc[positive, "predicted_b"].to_numpy() == 1
    expected = paired_proportion_difference(a, b, confidence=0.95, method="newcombe")
    assert (value.difference, value.ci_low, value.ci_high) == pytest.approx(
        (expected.estimate, expected.ci_low, expected.ci_high)
    )
    assert value.tests["mcnemar"]["p_value"] == pytest.approx(mcnemar_test(a, b).p_value)
    assert value.released == pytest.approx(a.mean()) and value.candidate == pytest.approx(b.mean())
    assert value.difference < 0  # a lower reading flags fewer LVH cases
    # the interval at any level, used for the p-value, reproduces the reported one
    assert value.interval_at(0.95) == pytest.approx((value.ci_low, value.ci_high))


def test_auc_difference_is_the_paired_delong_test(protocol):
    released = _studies()
    candidate = released.copy()
    noise = np.random.default_rng(9).normal(0.0, 0.3, len(candidate))
    candidate["probability"] = 1.0 / (
        1.0 + np.exp(-(candidate["measurement"] + noise - 11.0) * 2.0)
    )
    paired, _ = pair_versions(released, candidate)
    value = difference(paired, "auc", protocol)
    expected = delong_test(
        paired["label"].to_numpy(),
        paired["probability_b"].to_numpy(),
        paired["probability_a"].to_numpy(),
    )
    assert value.difference == pytest.approx(expected.auc_a - expected.auc_b)
    assert (value.ci_low, value.ci_high) == pytest.approx((expected.ci.low, expected.ci.high))
    assert value.candidate == pytest.approx(expected.auc_a)


def test_repeat_patients_use_the_patient_level_bootstrap(protocol):
    released = _studies()
    released["patient_id"] = [f"P{i // 2:04d}" for i in range(len(released))]
    candidate = _with_shift(released, -0.2)
    paired, _ = pair_versions(released, candidate)
    value = difference(paired, "specificity", protocol)
    assert "patient cluster bootstrap" in value.method and "240 patients" in value.method
    assert "newcombe" in value.tests and "study_level" in value.tests
    assert value.interval_at(0.95) == pytest.approx((value.ci_low, value.ci_high), abs=1e-12)


def test_bootstrap_interval_at_reproduces_the_reported_interval(protocol):
    released = _studies()
    candidate = _with_shift(released, 0.2)
    paired, _ = pair_versions(released, candidate)
    for metric in ("bias", "loa_low", "loa_high", "mae"):
        value = difference(paired, metric, protocol)
        assert value.interval_at(0.95) == pytest.approx((value.ci_low, value.ci_high))
        low90, high90 = value.interval_at(0.90)
        assert value.ci_low <= low90 <= high90 <= value.ci_high


@pytest.mark.parametrize(
    ("metric", "margin", "lower", "upper"),
    [
        ("sensitivity", 0.05, -0.05, None),
        ("auc", 0.03, -0.03, None),
        ("loa_low", 0.5, -0.5, None),
        ("loa_high", 0.5, None, 0.5),
        ("mae", 0.2, None, 0.2),
        ("bias", 0.3, None, 0.3),
    ],
)
def test_margin_direction(metric, margin, lower, upper):
    goal = margin_goal(metric, margin)
    assert (goal.lower, goal.upper) == (lower, upper)


def test_p_values_agree_with_the_bound(protocol):
    released = _studies()
    candidate = _with_shift(released, 0.1)
    result = compare_versions(released, candidate, protocol, version="1.1.0")
    for row in (r for r in result["rows"] if r["dimension"] == "all"):
        if not math.isfinite(row["p_value"]):
            continue
        # non-inferior on the 95% bound <=> one-sided p <= 0.025 (up to the bootstrap's 1/(B+1))
        assert (row["p_value"] <= 0.025 + 1e-9) == bool(row["noninferior"]), row["endpoint"]


def test_analysis_needs_every_candidates_predictions_and_no_others(protocol, tmp_path):
    from validation.analysis.results import _check_candidates
    from validation.exceptions import AnalysisError

    with pytest.raises(AnalysisError, match=r"candidate version\(s\) \['1\.1\.0'\] but no"):
        _check_candidates(protocol, {})
    with pytest.raises(AnalysisError, match=r"\['2\.0\.0'\] are not candidate versions"):
        _check_candidates(protocol, {"1.1.0": [tmp_path / "a.csv"], "2.0.0": []})
    assert _check_candidates(protocol, {"1.1.0": ["a.csv"]}) == {"1.1.0": [Path("a.csv")]}
