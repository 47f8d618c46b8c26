"""Endpoints are judged on the CI bound; small strata are flagged, never dropped."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from validation.analysis.endpoints import assess, endpoint_rows, strata_rows
from validation.analysis.results import _acceptance
from validation.protocol import load_protocol
from validation.stats import bland_altman, diagnostic_accuracy


@pytest.fixture(scope="module")
def protocol(repo_root):
    return load_protocol(repo_root / "protocols" / "demo.yaml")


def _studies(n=400, seed=0, canon_bias=1.5):
    rng = np.random.default_rng(seed)
    vendor = rng.choice(["GE", "Philips", "Canon"], n)
    reference = rng.normal(10.0, 2.0, n)
    model = reference + rng.normal(0.0, 0.6, n) + np.where(vendor == "Canon", canon_bias, 0.0)
    return pd.DataFrame(
        {
            "site": rng.choice(["s01", "s02"], n),
            "vendor": vendor,
            "scanner_model": "X",
            "sex": rng.choice(["M", "F"], n),
            "age_band": "40–59",
            "bmi_band": "<25",
            "image_quality": np.where(np.arange(n) < 5, "poor", "good"),
            "measurement": model,
            "reference": reference,
            "label": (reference >= 11).astype(int),
            "predicted": (model >= 11).astype(int),
            "probability": 1.0 / (1.0 + np.exp(-(model - 11.0) * 2.0)),
            "patient_id": [f"P{i:04d}" for i in range(n)],
        }
    )


def test_endpoint_values_are_the_stats_functions(protocol):
    studies = _studies()
    rows = {r["metric"]: r for r in endpoint_rows(assess(studies, protocol), protocol)}
    ba = bland_altman(studies["measurement"], studies["reference"], ci_method="exact")
    acc = diagnostic_accuracy(studies["label"], studies["predicted"])
    assert rows["bias"]["estimate"] == pytest.approx(ba.bias)
    assert rows["loa_high"]["ci_high"] == pytest.approx(ba.loa_high_ci.high)
    assert rows["sensitivity"]["ci_low"] == pytest.approx(acc.sensitivity.ci.low)
    for row in rows.values():
        expected = protocol_goal_met(row)
        assert row["verdict"] == ("PASS" if expected else "FAIL")


def protocol_goal_met(row):
    goal = row["goal"]
    return (goal.get("lower", -math.inf) <= row["ci_low"]) and (
        row["ci_high"] <= goal.get("upper", math.inf)
    )


def test_small_strata_are_flagged_and_kept(protocol):
    rows = strata_rows(_studies(), protocol)
    poor = [r for r in rows if r["dimension"] == "image_quality" and r["stratum"] == "poor"]
    assert poor and all(r["small"] for r in poor)
    assert {r["metric"] for r in poor} == {
        "bias",
        "loa_low",
        "loa_high",
        "mae",
        "rmse",
        "auc",
        "sensitivity",
        "specificity",
    }


def test_single_class_stratum_gives_nan_not_a_crash(protocol):
    studies = _studies()
    studies.loc[studies["vendor"] == "GE", "label"] = 0
    rows = strata_rows(studies, protocol)
    sens = next(r for r in rows if r["stratum"] == "GE" and r["metric"] == "sensitivity")
    assert sens["n"] == 0 and math.isnan(sens["estimate"])
    assert sens["goal_met"] is None


def test_failing_vendor_fails_the_study(protocol):
    studies = _studies(canon_bias=2.0)
    endpoints = endpoint_rows(assess(studies, protocol), protocol)
    strata = strata_rows(studies, protocol)
    acceptance = _acceptance(endpoints, strata, protocol)
    failing = {(f["stratum"], f["metric"]) for f in acceptance["strata_failing"]}
    assert ("Canon", "bias") in failing
    assert not any(stratum == "GE" and metric == "bias" for stratum, metric in failing)
    assert acceptance["verdict"] == "FAIL"
    clean = _acceptance(
        endpoint_rows(assess(_studies(canon_bias=0.0), protocol), protocol),
        strata_rows(_studies(canon_bias=0.0), protocol),
        protocol,
    )
    assert ("Canon", "bias") not in {(f["stratum"], f["metric"]) for f in clean["strata_failing"]}


# ------------------------------------------------------ degenerate models: results, not crashes


def test_a_constant_model_is_judged_and_its_regression_is_not_evaluable(protocol):
    """A model that reads every study the same and calls every study negative: the analysis
    completes, the endpoints are judged (a constant reading is far from the reference: FAIL),
    sensitivity is 0, the AUC is 0.5, and the regression lines say why they are missing."""
    from validation.analysis.method_comparison import method_comparison

    studies = _studies().assign(measurement=9.0, probability=0.1, predicted=0)
    rows = {r["metric"]: r for r in endpoint_rows(assess(studies, protocol), protocol)}
    assert rows["sensitivity"]["estimate"] == 0.0 and rows["sensitivity"]["verdict"] == "FAIL"
    assert rows["auc"]["estimate"] == pytest.approx(0.5)
    assert rows["loa_low"]["verdict"] == "FAIL"
    assert _acceptance(list(rows.values()), [], protocol)["verdict"] == "FAIL"
    record = method_comparison(studies, protocol)
    for fit in ("deming", "passing_bablok"):
        assert math.isnan(record[fit]["slope"]) and record[fit]["ci_method"] == "not evaluable"
        assert "y must not be constant" in record[fit]["reason"]
    assert record["kappa"]["estimate"] == 0.0


def test_too_few_studies_are_not_evaluable_with_the_reason_and_fail_the_study(protocol):
    studies = _studies(n=2)
    rows = endpoint_rows(assess(studies, protocol), protocol)
    undefined = [r for r in rows if r["verdict"] == "NOT EVALUABLE"]
    assert {r["metric"] for r in undefined} >= {"bias", "loa_low", "loa_high", "mae"}
    assert all(r["reason"] == "undefined (n < 3)" for r in undefined if r["kind"] == "measurement")
    assert all("reason" not in r for r in rows if r["verdict"] != "NOT EVALUABLE")
    assert _acceptance(rows, [], protocol)["verdict"] == "FAIL"
