"""The study sections of the evidence report: device, design, independence, baseline, reference.

The inputs are the report fixture (``make_study`` in conftest) with the blocks the analysis adds,
computed by the real analysis functions (:func:`baseline_characteristics`, :func:`study_period`,
:func:`data_independence`, :func:`reference_quality`) on its synthetic study table, so that the
tests check that the report shows what the analysis produced, formatted by the filters, and
computes nothing itself.
"""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from validation.analysis.baseline import baseline_characteristics, study_period
from validation.analysis.independence import data_independence
from validation.analysis.method_comparison import reference_quality
from validation.protocol import load_protocol
from validation.report import build_context
from validation.report.document import make_environment
from validation.report.evidence.study import icc_band, study_context
from validation.report.filters import ci, measure, num
from validation.report.outputs import finding_context, measure_context, outputs_of


def mm(x, digits=2, *, sign=False, unit=False):
    """A value of the demo protocol's measurement (in mm) as the reports print it."""
    return measure(x, "mm", digits, sign=sign, symbol=unit)


PARTIALS = ("device", "design", "independence", "baseline", "reference_quality")


def _add_columns(table: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """Patient ids (site-prefixed, some follow-ups), study dates and three readers."""
    rng = np.random.default_rng(seed)
    table = table.copy()
    ids = [f"{site.upper()}-{i:05d}" for i, site in enumerate(table["site"])]
    for i in range(1, len(ids), 15):  # every 15th study is a follow-up of the one before
        if table["site"].iat[i] == table["site"].iat[i - 1]:
            ids[i] = ids[i - 1]
    table["patient_id"] = ids
    days = rng.integers(0, 150, len(table))
    table["study_date"] = [
        (pd.Timestamp("2026-03-05") + pd.Timedelta(days=int(d))).strftime("%Y%m%d") for d in days
    ]
    ref = table["reference"].to_numpy()
    for k, shift in ((1, 0.3), (2, 0.0), (3, -0.2)):
        table[f"reader_{k}_ivsd_mm"] = (ref + shift + rng.normal(0, 0.9, len(ref))).round(1)
    return table


@pytest.fixture(scope="module")
def inputs(locked_results: Path, repo_root: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    results = json.loads(locked_results.read_text(encoding="utf-8"))
    table = _add_columns(pd.read_csv(locked_results.parent / "analysed.csv"))
    protocol = load_protocol(repo_root / "protocols" / "demo.yaml")
    # the model was developed on GE and Philips only: Canon is new to it
    results["model"]["card"]["training_data"]["vendors"] = ["GE", "Philips"]
    results["lock"]["unblinded_utc"] = "2026-03-01T09:30:00Z"
    results["baseline"] = baseline_characteristics(table)
    results["study_period"] = study_period(table)
    results["independence"] = data_independence(
        table, results["model"]["card"], [s["id"] for s in results["data"]["sites"]]
    )
    results["reference_standard_quality"] = reference_quality(table, protocol)
    return json.loads(json.dumps(results)), table  # as read back from results.json


def _context(results: dict[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """What the study partials read: the study context plus the shared analysis fields."""
    return {
        **study_context(results, table),
        "measure": measure_context(outputs_of(results)),
        "finding": finding_context(outputs_of(results)),
        "confidence": results["analysis"]["confidence"],
        "analysis": results["analysis"],
    }


def _render(results: dict[str, Any], table: pd.DataFrame, partial: str) -> str:
    env = make_environment()
    return env.get_template(f"partials/{partial}.html").render(**_context(results, table))


def _text(markup: str) -> str:
    """Visible text with whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


@pytest.fixture(scope="module")
def texts(inputs: tuple[dict[str, Any], pd.DataFrame]) -> dict[str, str]:
    results, table = inputs
    return {p: _text(_render(results, table, p)) for p in PARTIALS}


# --------------------------------------------------------------------------------------------
# Context and wiring
# --------------------------------------------------------------------------------------------


def test_build_context_carries_the_study_keys(inputs):
    results, table = inputs
    context = build_context(results, table)
    for key in (
        "device_description",
        "study_design",
        "data_independence",
        "baseline",
        "reference_quality",
    ):
        assert key in context, key
    assert context["baseline"]["available"] and context["reference_quality"]["available"]


def test_every_partial_has_captioned_tables_and_no_unformatted_numbers(inputs):
    results, table = inputs
    for partial in PARTIALS:
        markup = _render(results, table, partial)
        n_tables = len(re.findall(r"<table class=\"(?:data|kv)", markup))
        assert n_tables >= 1, partial
        assert len(re.findall(r"<caption>", markup)) == n_tables, partial
        text = _text(markup)
        raw = re.findall(r"(?<![\d.])\d+\.\d{4,}(?![\d.])", text)
        assert not raw, f"{partial}: unformatted numbers {raw[:5]}"
        assert "None" not in text and "nan" not in text.split(), partial


# --------------------------------------------------------------------------------------------
# 3. Device
# --------------------------------------------------------------------------------------------


def test_device_flags_the_vendor_outside_the_development_data(inputs, texts):
    results, table = inputs
    device = study_context(results, table)["device_description"]
    assert device["untrained_vendors"] == ["Canon"]
    rows = {r["vendor"]: r for r in device["vendors"]}
    assert rows["Canon"]["trained"] is False and rows["GE"]["trained"] is True
    text = texts["device"]
    assert "Vendor outside the development data: Canon" in text
    assert "Canon not in training" in text
    assert "This study includes images from Canon, a vendor outside the development data." in text


def test_device_shows_card_fields_formatted(texts):
    text = texts["device"]
    assert "Pixel spacing after resampling 0.25 mm" in text
    assert "128 px" in text and "16 frames" in text
    assert "Trainable parameters 184,321" in text
    assert "Architecture not described in the model card" in text
    assert "Studies used for fitting 1,800" in text
    assert "Not trained on vendors outside the training list." in text
    assert "probability that IVSd is 12 mm or more" in text
    assert "at least 0.50 (the pre-specified decision threshold)" in text


# --------------------------------------------------------------------------------------------
# 4. Design
# --------------------------------------------------------------------------------------------


def test_design_sites_dates_lock_and_reference(inputs, texts):
    results, _ = inputs
    text = texts["design"]
    period = results["study_period"]
    assert f"{period['first']} to {period['last']}" in text
    for site in period["sites"]:
        assert f"{site['first']} {site['last']}" in text
    assert "Riverside University Hospital s01" in text
    assert "registered before the first analysed study" in text
    assert "2026-03-01 09:00:00 UTC" in text
    assert "The lock precedes unblinding" in text
    assert "3: Reader 1 (reader_1_ivsd_mm)" in text
    assert results["protocol"]["sample_size"] in text


def test_design_states_each_hypothesis_from_its_goal(texts):
    text = texts["design"]
    # interval goal (bias within ±1 mm)
    assert "is at most −1.00 mm or at least 1.00 mm. It lies between −1.00 mm and 1.00 mm." in text
    # lower-bound goal on a proportion (the demo protocol's sensitivity goal)
    assert (
        "share of reference-positive LVH studies the device flags) is at most 75.0%. "
        "It is above 75.0%." in text
    )
    # upper-bound goal in mm
    assert "is at least 1.50 mm. It is below 1.50 mm." in text


def test_design_multiplicity_statement_and_rationale(inputs, texts):
    results, _ = inputs
    text = texts["design"]
    assert results["multiplicity"]["statement"] in text
    assert "Holm's step-down procedure" in text
    assert "Family-wise error rate" in text


def test_design_warns_when_the_lock_follows_unblinding_or_registration_follows_data(inputs):
    results, table = copy.deepcopy(inputs[0]), inputs[1]
    results["lock"]["unblinded_utc"] = "2026-02-01T00:00:00Z"
    results["protocol"]["registered"] = "2026-04-01"
    text = _text(_render(results, table, "design"))
    assert "The lock is after unblinding" in text
    assert "registration date is after the first analysed study" in text


# --------------------------------------------------------------------------------------------
# 5. Independence
# --------------------------------------------------------------------------------------------


def test_independence_passes_and_separates_verified_from_declared(inputs, texts):
    results, _ = inputs
    text = texts["independence"]
    n = results["independence"]["test"]["n_patients"]
    assert "Test data independent of development data YES" in text
    assert f"0 of the {n:,} test patients" in text
    assert "No test site is a development site no overlap verified on the data PASS" in text
    assert "declared in the model card" in text
    assert "Canon, GE, Philips" in text and "not in development Canon" in text


def test_independence_fails_on_a_development_patient(inputs):
    results, table = copy.deepcopy(inputs[0]), inputs[1].copy()
    table.loc[0, "patient_id"] = "D01-00042"
    results["independence"] = data_independence(
        table, results["model"]["card"], [s["id"] for s in results["data"]["sites"]]
    )
    text = _text(_render(results, table, "independence"))
    assert "Test data independent of development data NO" in text
    assert "FAIL" in text and "e.g. D01-00042" in text


# --------------------------------------------------------------------------------------------
# 7. Baseline
# --------------------------------------------------------------------------------------------


def test_baseline_shows_the_analysis_values_by_site_and_vendor(inputs, texts):
    results, _ = inputs
    text = texts["baseline"]
    rows = {(r["dimension"], r["group"]): r for r in results["baseline"]["rows"]}
    overall = rows[("overall", "all")]
    assert (
        f"All studies {overall['n_studies']} {overall['n_patients']} "
        f"{num(overall['age_mean'], 1)} ({num(overall['age_sd'], 1)})"
    ) in text
    s01 = rows[("site", "s01")]
    assert f"Riverside University Hospital (s01) {s01['n_studies']} {s01['n_patients']}" in text
    canon = rows[("vendor", "Canon")]
    assert (
        f"Canon not in training {mm(canon['reference_mean'], 1)} "
        f"({mm(canon['reference_sd'], 1)}) {canon['positive_n']}"
    ) in text
    assert ci(canon["prevalence_ci_low"], canon["prevalence_ci_high"], "") in text
    assert "By site" in text and "By vendor" in text
    assert f"{overall['n_patients_repeat']} patients contributed more than one study" in text


# --------------------------------------------------------------------------------------------
# 8. Reference-standard quality
# --------------------------------------------------------------------------------------------


def test_reference_quality_table_and_interpretation(inputs, texts):
    results, table = inputs
    block = results["reference_standard_quality"]
    text = texts["reference_quality"]
    for row in block["icc"]:
        assert f"{row['form']}" in text
        assert (
            f"{num(row['estimate'], 3)} {num(row['ci_low'], 3)} to {num(row['ci_high'], 3)}" in text
        )
    assert text.count("key") >= 2
    consensus = next(r for r in block["icc"] if r["form"] == "ICC(2,k)")
    context = study_context(results, table)["reference_quality"]
    assert context["reliable"] is (consensus["ci_low"] >= 0.75)
    verdict = "YES" if context["reliable"] else "NO"
    assert f"Consensus reference reliable {verdict}" in text
    assert f"ICC(2,k) = {num(consensus['estimate'], 3)}" in text
    for pair in block["pairs"]:
        assert mm(pair["loa_low"], sign=True) in text
    assert mm(block["reader_sd"], unit=True) in text
    assert "Reader 1 vs Reader 2" in text


def test_reference_quality_not_reliable_when_the_consensus_bound_is_low(inputs):
    results, table = copy.deepcopy(inputs[0]), inputs[1]
    for row in results["reference_standard_quality"]["icc"]:
        if row["form"] == "ICC(2,k)":
            row.update(estimate=0.72, ci_low=0.62, ci_high=0.80)
    context = study_context(results, table)["reference_quality"]
    assert context["reliable"] is False
    assert context["consensus"]["ci_band"] == "moderate to good"
    text = _text(_render(results, table, "reference_quality"))
    assert "Consensus reference reliable NO" in text
    assert "moderate to good" in text and "may be too noisy" in text


def test_icc_bands_follow_koo_and_li():
    assert [icc_band(x) for x in (0.2, 0.5, 0.749, 0.75, 0.899, 0.9, 1.0)] == [
        "poor",
        "moderate",
        "moderate",
        "good",
        "good",
        "excellent",
        "excellent",
    ]
    assert icc_band(None) is None and icc_band(float("nan")) is None


# --------------------------------------------------------------------------------------------
# Missing blocks: shown as such, never a crash
# --------------------------------------------------------------------------------------------


def test_sections_render_a_notice_when_the_analysis_blocks_are_absent(inputs):
    results, table = copy.deepcopy(inputs[0]), inputs[1]
    for key in ("baseline", "study_period", "independence", "reference_standard_quality"):
        results.pop(key)
    context = study_context(results, table)
    assert not context["baseline"]["available"]
    assert not context["data_independence"]["available"]
    assert not context["reference_quality"]["available"]
    texts = {p: _text(_render(results, table, p)) for p in PARTIALS}
    assert "Baseline characteristics not recorded" in texts["baseline"]
    assert "Independence check not recorded" in texts["independence"]
    assert "Reader agreement not available" in texts["reference_quality"]
    assert "not recorded in the analysis results" in texts["design"]
    assert "Riverside University Hospital s01" in texts["design"]


def test_reference_quality_with_a_single_reader(inputs):
    results, table = copy.deepcopy(inputs[0]), inputs[1]
    results["reference_standard_quality"] = {"readers": ["reader_1_ivsd_mm"]}
    text = _text(_render(results, table, "reference_quality"))
    assert "fewer than two reference readers" in text
