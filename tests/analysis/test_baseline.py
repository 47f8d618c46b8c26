"""Baseline characteristics by site and vendor, and the study period.

Sources
-------
- LVH prevalence interval: Wilson score interval, checked against Newcombe RG, Stat Med
  1998;17:857-872, Table I, method 3 (81 of 263: 0.2553 to 0.3662) by building a group with
  81 LVH-positive studies out of 263.
- Means, SDs, counts and percentages have no published reference: they are checked against
  an independent computation with Python's :mod:`statistics` module on hand-built frames.
"""

from __future__ import annotations

import json
import statistics

import numpy as np
import pandas as pd
import pytest

from validation.analysis.baseline import baseline_characteristics, study_period


def _studies(n: int = 60, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    patients = [f"S0{1 + i % 2}-P{i // 2:03d}" for i in range(n)]
    patients[1] = patients[0]  # a follow-up visit of the first patient
    reference = rng.normal(10.0, 2.0, n).round(1)
    return pd.DataFrame(
        {
            "site": np.where(np.arange(n) % 2 == 0, "s01", "s02"),
            "vendor": rng.choice(["GE", "Philips", "Canon"], n),
            "sex": rng.choice(["F", "M"], n),
            "age": rng.integers(20, 90, n).astype(float),
            "bmi": rng.normal(27.0, 4.0, n).round(1),
            "image_quality": rng.choice(["good", "adequate", "poor"], n),
            "patient_id": patients,
            "reference": reference,
            "label": (reference >= 11).astype(int),
        }
    )


def _row(out: dict, dimension: str, group: str) -> dict:
    rows = [r for r in out["rows"] if r["dimension"] == dimension and r["group"] == group]
    assert len(rows) == 1
    return rows[0]


def test_overall_row_matches_an_independent_computation():
    studies = _studies()
    row = _row(baseline_characteristics(studies), "overall", "all")
    assert row["n_studies"] == 60
    assert row["n_patients"] == 59 and row["n_patients_repeat"] == 1
    assert row["age_mean"] == pytest.approx(statistics.fmean(studies["age"]))
    assert row["age_sd"] == pytest.approx(statistics.stdev(studies["age"]))  # n - 1
    assert (row["age_min"], row["age_max"]) == (studies["age"].min(), studies["age"].max())
    assert row["bmi_sd"] == pytest.approx(statistics.stdev(studies["bmi"]))
    assert row["reference_mean"] == pytest.approx(statistics.fmean(studies["reference"]))
    assert row["female_n"] == int((studies["sex"] == "F").sum())
    assert row["female_fraction"] == pytest.approx(row["female_n"] / 60)
    assert row["positive_n"] == int(studies["label"].sum())
    assert row["prevalence"] == pytest.approx(row["positive_n"] / 60)
    assert row["prevalence_ci_low"] < row["prevalence"] < row["prevalence_ci_high"]


def test_groups_by_site_then_vendor_in_sorted_order_and_counts_add_up():
    studies = _studies()
    out = baseline_characteristics(studies)
    keys = [(r["dimension"], r["group"]) for r in out["rows"]]
    assert keys == [
        ("overall", "all"),
        ("site", "s01"),
        ("site", "s02"),
        ("vendor", "Canon"),
        ("vendor", "GE"),
        ("vendor", "Philips"),
    ]
    for dim in ("site", "vendor"):
        rows = [r for r in out["rows"] if r["dimension"] == dim]
        assert sum(r["n_studies"] for r in rows) == 60
        assert sum(r["positive_n"] for r in rows) == int(studies["label"].sum())
    ge = _row(out, "vendor", "GE")
    sub = studies[studies["vendor"] == "GE"]
    assert ge["age_mean"] == pytest.approx(statistics.fmean(sub["age"]))
    assert ge["n_patients"] == sub["patient_id"].nunique()


def test_lvh_prevalence_interval_is_wilson_newcombe_table_1():
    """Newcombe (1998) Table I: 81/263, Wilson (method 3) 0.2553 to 0.3662."""
    n = 263
    studies = pd.DataFrame(
        {
            "site": "s01",
            "vendor": "GE",
            "sex": "F",
            "age": 50.0,
            "bmi": 25.0,
            "image_quality": "good",
            "patient_id": [f"P{i}" for i in range(n)],
            "reference": 10.0,
            "label": [1] * 81 + [0] * (n - 81),
        }
    )
    row = _row(baseline_characteristics(studies), "overall", "all")
    assert row["prevalence_ci_low"] == pytest.approx(0.2553, abs=5e-5)
    assert row["prevalence_ci_high"] == pytest.approx(0.3662, abs=5e-5)
    narrower = _row(baseline_characteristics(studies, confidence=0.90), "overall", "all")
    assert narrower["prevalence_ci_low"] > row["prevalence_ci_low"]


def test_image_quality_counts_in_fixed_order_with_fractions():
    studies = _studies()
    studies.loc[:2, "image_quality"] = "unreadable"
    out = baseline_characteristics(studies)
    assert out["image_quality_grades"] == ["good", "adequate", "poor", "unreadable"]
    row = _row(out, "overall", "all")
    counts = {q["grade"]: q["n"] for q in row["image_quality"]}
    assert counts == studies["image_quality"].value_counts().to_dict()
    assert sum(q["fraction"] for q in row["image_quality"]) == pytest.approx(1.0)
    # every group lists every grade, zero where absent, so the table columns line up
    for r in out["rows"]:
        assert [q["grade"] for q in r["image_quality"]] == out["image_quality_grades"]


def test_missing_values_and_unknown_sex_are_left_out_of_their_summaries():
    studies = _studies()
    studies.loc[:9, "age"] = np.nan
    studies.loc[:4, "sex"] = "unknown"
    row = _row(baseline_characteristics(studies), "overall", "all")
    assert row["age_n"] == 50
    assert row["age_mean"] == pytest.approx(statistics.fmean(studies["age"].dropna()))
    assert row["sex_known"] == 55
    assert row["female_fraction"] == pytest.approx(int((studies["sex"] == "F").sum()) / 55)


def test_undefined_values_are_null_and_the_record_is_strict_json():
    studies = _studies().iloc[:3].copy()
    studies["site"] = ["s01", "s01", "s02"]
    studies["age"] = [40.0, np.nan, np.nan]
    out = baseline_characteristics(studies)
    s02 = _row(out, "site", "s02")
    assert s02["n_studies"] == 1
    assert s02["age_mean"] is None and s02["age_sd"] is None
    assert s02["bmi_sd"] is None  # one study: no SD
    s01 = _row(out, "site", "s01")
    assert s01["age_mean"] == 40.0 and s01["age_sd"] is None
    json.dumps(out, allow_nan=False)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="studies must be a pandas DataFrame"):
        baseline_characteristics([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lacks required column.*bmi"):
        baseline_characteristics(_studies().drop(columns="bmi"))
    with pytest.raises(ValueError, match=r"lacks required column.*scanner_model"):
        baseline_characteristics(_studies(), by=("site", "scanner_model"))
    with pytest.raises(ValueError, match="confidence"):
        baseline_characteristics(_studies(), confidence=1.5)


# --------------------------------------------------------------------------------------------
# study_period
# --------------------------------------------------------------------------------------------


def test_period_from_the_study_table_dates():
    studies = pd.DataFrame(
        {
            "site": ["s01", "s01", "s02", "s02"],
            "study_instance_uid": ["1", "2", "3", "4"],
            "study_date": ["20260110", "2026-03-02", "20260201", ""],
        }
    )
    out = study_period(studies)
    assert (out["first"], out["last"]) == ("2026-01-10", "2026-03-02")
    assert (out["n_studies"], out["n_dated"]) == (4, 3)
    s02 = out["sites"][1]
    assert s02 == {
        "site": "s02",
        "n_studies": 2,
        "n_dated": 1,
        "first": "2026-02-01",
        "last": "2026-02-01",
    }
    json.dumps(out, allow_nan=False)


def test_period_from_the_accounting_uses_only_included_files_of_analysed_studies():
    studies = pd.DataFrame({"site": ["s01", "s02"], "study_instance_uid": ["1", "2"]})
    accounting = pd.DataFrame(
        {
            "study_instance_uid": ["1", "1", "2", "9", "8"],
            "status": ["included", "included", "included", "included", "excluded"],
            # study 9 is included but not analysed (no reference); 8 was excluded at ingest
            "study_date": ["20260105", "20260105", "20260420", "20251201", "20270101"],
        }
    )
    out = study_period(studies, accounting)
    assert (out["first"], out["last"]) == ("2026-01-05", "2026-04-20")
    assert [s["site"] for s in out["sites"]] == ["s01", "s02"]
    assert "accounting" in out["source"]


def test_period_without_any_date_is_null_not_an_error():
    studies = pd.DataFrame({"site": ["s01"], "study_instance_uid": ["1"], "study_date": [""]})
    out = study_period(studies)
    assert out["first"] is None and out["last"] is None and out["n_dated"] == 0


def test_period_needs_dates_from_somewhere():
    studies = pd.DataFrame({"site": ["s01"], "study_instance_uid": ["1"]})
    with pytest.raises(ValueError, match="no study_date column; pass the ingest accounting"):
        study_period(studies)
    with pytest.raises(ValueError, match=r"accounting lacks required column.*study_date"):
        study_period(studies, pd.DataFrame({"study_instance_uid": ["1"], "status": ["included"]}))
    with pytest.raises(ValueError, match=r"studies lacks required column.*study_instance_uid"):
        study_period(pd.DataFrame({"site": ["s01"]}))
