"""Data independence: development vs test sites, vendors and patients.

Sources
-------
No published reference applies (these are set comparisons, not statistics). Each check is
tested on hand-built frames whose answer is known by construction: an overlapping site, a
test patient carrying a development site's prefix, identifiers that do not follow the
site-prefix convention, and a card without development sites.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from validation.analysis.independence import MAX_EXAMPLES, data_independence

CARD = {
    "training_data": {
        "cohort": "development",
        "sites": ["d01", "d02"],
        "vendors": ["GE", "Philips", "Siemens"],
        "studies_fit": 2550,
        "studies_holdout": 450,
        "independence": "development sites and patients are disjoint from every test site",
    }
}


def _studies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site": ["s01", "s01", "s01", "s02", "s02"],
            "vendor": ["GE", "Canon", "Canon", "Siemens", "Philips"],
            "patient_id": ["S01-GE001", "S01-CA002", "S01-CA002", "S02-SI003", "S02-PH004"],
        }
    )


def _check(out: dict, start: str) -> dict:
    rows = [c for c in out["checks"] if c["check"].startswith(start)]
    assert len(rows) == 1
    return rows[0]


def test_independent_test_data_pass_every_verified_check():
    out = data_independence(_studies(), CARD, ["s01", "s02"])
    assert out["independent"] is True
    assert out["site_overlap"] == []
    assert out["vendors_not_in_development"] == ["Canon"]
    assert out["test"]["n_studies"] == 5 and out["test"]["n_patients"] == 4
    assert out["test"]["vendors"] == ["Canon", "GE", "Philips", "Siemens"]
    patients = out["patients"]
    assert patients["prefixes"] == ["D01-", "D02-"]
    assert patients["n_with_development_prefix"] == 0
    assert patients["n_with_own_site_prefix"] == 4
    assert _check(out, "No test site")["passed"] is True
    assert _check(out, "No test patient")["passed"] is True
    declared = _check(out, "Development patients")
    assert declared["basis"] == "declared" and declared["passed"] is None
    assert out["development"]["studies_fit"] == 2550
    assert "Verified on the analysed data" in out["statement"]
    assert "Relies on the model card's declaration" in out["statement"]
    json.dumps(out, allow_nan=False)


def test_a_development_site_among_the_test_sites_is_found_case_insensitively():
    studies = _studies()
    studies.loc[4, "site"] = "D02"
    out = data_independence(studies, CARD, ["s01", "s02", "D02"])
    assert out["independent"] is False
    assert out["site_overlap"] == ["D02"]
    assert _check(out, "No test site")["passed"] is False
    assert "include development site(s) D02" in out["statement"]


def test_a_test_patient_with_a_development_prefix_is_found_and_counted():
    studies = _studies()
    studies.loc[3, "patient_id"] = "d01-GE0099"  # case-insensitive prefix
    out = data_independence(studies, CARD, ["s01", "s02"])
    assert out["independent"] is False
    assert out["patients"]["n_with_development_prefix"] == 1
    assert out["patients"]["examples"] == ["d01-GE0099"]
    assert _check(out, "No test patient")["passed"] is False
    # that patient does not carry its own site's prefix either
    assert out["patients"]["n_with_own_site_prefix"] == 3


def test_examples_are_capped_but_the_count_is_complete():
    n = MAX_EXAMPLES + 3
    studies = pd.DataFrame(
        {"site": "s01", "vendor": "GE", "patient_id": [f"D01-{i:03d}" for i in range(n)]}
    )
    out = data_independence(studies, CARD, ["s01"])
    assert out["patients"]["n_with_development_prefix"] == n
    assert len(out["patients"]["examples"]) == MAX_EXAMPLES


def test_identifiers_without_the_site_convention_make_the_check_weak_and_say_so():
    studies = _studies()
    studies["patient_id"] = ["1001", "1002", "1002", "2003", "2004"]
    out = data_independence(studies, CARD, ["s01", "s02"])
    assert out["independent"] is True  # nothing found ...
    assert out["patients"]["n_with_own_site_prefix"] == 0  # ... but the convention is absent
    assert "the patient check is weak" in out["statement"]


def test_missing_ids_and_patients_at_several_sites_are_counted():
    studies = _studies()
    studies.loc[4, "patient_id"] = None
    studies.loc[3, "patient_id"] = "S01-GE001"  # the same identifier at s02
    out = data_independence(studies, CARD, ["s01", "s02"])
    assert out["patients"]["n_missing_id"] == 1
    assert out["patients"]["n_at_several_sites"] == 1
    assert out["test"]["n_patients"] == 2
    assert "1 analysed study has no patient identifier" in out["statement"]


def test_a_card_without_development_sites_cannot_be_verified():
    out = data_independence(_studies(), {"training_data": {"vendors": ["GE"]}}, ["s01", "s02"])
    assert out["independent"] is None
    assert _check(out, "No test site")["passed"] is None
    assert "could not be checked" in out["statement"]
    assert "makes no declaration" in out["statement"]
    assert out["vendors_not_in_development"] == ["Canon", "Philips", "Siemens"]


def test_analysed_sites_not_declared_as_test_sites_are_listed():
    out = data_independence(_studies(), CARD, ["s01"])
    assert out["test"]["sites_not_declared"] == ["s02"]


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="studies must be a pandas DataFrame"):
        data_independence({"site": []}, CARD, ["s01"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lacks required column.*patient_id"):
        data_independence(_studies().drop(columns="patient_id"), CARD, ["s01"])
    with pytest.raises(TypeError, match="card must be a mapping"):
        data_independence(_studies(), ["d01"], ["s01"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sites must be a list of strings; got str"):
        data_independence(_studies(), CARD, "s01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sites must name at least one test site"):
        data_independence(_studies(), CARD, [])
    with pytest.raises(ValueError, match="must not hold empty identifiers"):
        data_independence(_studies(), CARD, ["s01", " "])
    with pytest.raises(TypeError, match=r"card\['training_data'\]\['sites'\] must be a list"):
        data_independence(_studies(), {"training_data": {"sites": "d01"}}, ["s01"])
