"""The quality-gate analysis: rejection rates by subgroup and the worst case.

Sources. No published table covers this analysis; it is checked by independent computation:

- the rejection-rate and worst-case intervals against the Wilson score interval written out
  here from its textbook formula (Wilson 1927; Newcombe 1998, Stat Med 17:857-872, method 3),
  independently of :mod:`validation.stats`;
- the worst-case counts against a hand-built 2x2 table (counts chosen so that every cell is
  known in advance);
- with no rejection, the worst case against the primary endpoint machinery
  (:func:`validation.analysis.endpoints.assess`), which it must reproduce exactly, including
  the patient-level cluster bootstrap when patients have several studies.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from validation.analysis.endpoints import assess
from validation.analysis.quality_gate import quality_gate
from validation.protocol import load_protocol


@pytest.fixture(scope="module")
def protocol(repo_root):
    return load_protocol(repo_root / "protocols" / "demo.yaml")


def _wilson(k: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Wilson score interval from its textbook formula (independent of validation.stats)."""
    z = stats.norm.ppf(0.5 + conf / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _row(status: str, ref: float, pred: int, **extra) -> dict:
    """One included study; ``ref`` NaN means no reference, ``pred`` the device flag."""
    predicted = status == "predicted"
    row = {
        "site": "s01",
        "vendor": "GE",
        "scanner_model": "Vivid E95",
        "status": status,
        "detail": "" if predicted else "QualityError: septum not visible",
        "measurement": (12.5 if pred else 9.0) if predicted else np.nan,
        "probability": (0.9 if pred else 0.1) if predicted else np.nan,
        "reference": np.nan if np.isnan(ref) else (12.0 if ref == 1 else 9.5),
        "label": ref,
        "image_quality": "good",
        "sex": "F",
        "age": 55,
        "bmi": 27.0,
    }
    row.update(extra)
    return row


def _table(rejected_pos: int = 2, rejected_neg: int = 3, rejected_noref: int = 1) -> pd.DataFrame:
    """16 TP, 4 FN, 27 TN, 3 FP predicted; then the rejected studies."""
    rows = (
        [_row("predicted", 1, 1)] * 16
        + [_row("predicted", 1, 0)] * 4
        + [_row("predicted", 0, 0)] * 27
        + [_row("predicted", 0, 1)] * 3
        + [_row("quality_rejected", 1, 0, vendor="Canon")] * rejected_pos
        + [_row("quality_rejected", 0, 0, vendor="Canon")] * rejected_neg
        + [_row("quality_rejected", np.nan, 0, vendor="Canon")] * rejected_noref
    )
    frame = pd.DataFrame(rows)
    frame["patient_id"] = [f"P{i:03d}" for i in range(len(frame))]
    return frame


def _endpoint(result: dict, metric: str) -> dict:
    return next(e for e in result["worst_case"]["endpoints"] if e["metric"] == metric)


def test_rejection_rate_overall_and_by_vendor(protocol):
    result = quality_gate(_table(), protocol)
    overall = result["overall"]
    assert (overall["n"], overall["rejected"]) == (56, 6)
    assert overall["rate"] == pytest.approx(6 / 56)
    assert (overall["ci_low"], overall["ci_high"]) == pytest.approx(_wilson(6, 56))
    assert result["method"] == "wilson" and result["confidence"] == 0.95
    vendors = {r["stratum"]: r for r in result["subgroups"] if r["dimension"] == "vendor"}
    assert (vendors["Canon"]["n"], vendors["Canon"]["rejected"]) == (6, 6)
    assert vendors["Canon"]["rate"] == 1.0 and vendors["Canon"]["small"] is True
    assert (vendors["GE"]["n"], vendors["GE"]["rejected"]) == (50, 0)
    assert vendors["GE"]["ci_high"] == pytest.approx(_wilson(0, 50)[1])
    assert vendors["GE"]["small"] is False


def test_every_dimension_of_the_protocol_is_tabulated_and_adds_up(protocol):
    result = quality_gate(_table(), protocol)
    dims = {r["dimension"] for r in result["subgroups"]}
    assert dims == set(protocol.analysis.strata)
    for dim in dims:
        rows = [r for r in result["subgroups"] if r["dimension"] == dim]
        assert sum(r["n"] for r in rows) == 56
        assert sum(r["rejected"] for r in rows) == 6


def test_worst_case_counts_rejects_as_failures(protocol):
    result = quality_gate(_table(), protocol)
    worst = result["worst_case"]
    assert worst["rejected_reference_positive"] == 2
    assert worst["rejected_reference_negative"] == 3
    assert worst["rejected_without_reference"] == 1
    assert worst["equals_primary"] is False
    sens, spec = _endpoint(result, "sensitivity"), _endpoint(result, "specificity")
    # primary: 16/20 and 27/30; worst: the 2 rejected positives are missed, 3 negatives flagged
    assert sens["primary_estimate"] == pytest.approx(16 / 20)
    assert sens["worst_estimate"] == pytest.approx(16 / 22)
    assert (sens["worst_n"], sens["added_failures"]) == (22, 2)
    assert (sens["worst_ci_low"], sens["worst_ci_high"]) == pytest.approx(_wilson(16, 22))
    assert spec["primary_estimate"] == pytest.approx(27 / 30)
    assert spec["worst_estimate"] == pytest.approx(27 / 33)
    assert (spec["worst_ci_low"], spec["worst_ci_high"]) == pytest.approx(_wilson(27, 33))
    assert spec["worst_n"] == 33 and spec["added_failures"] == 3


def test_worst_case_is_judged_against_the_goal_on_the_bound(protocol):
    result = quality_gate(_table(), protocol)
    sens = _endpoint(result, "sensitivity")
    goal = sens["goal"]["lower"]  # 0.75 in the demo protocol
    assert sens["goal_text"].startswith("lower CI bound")
    assert sens["worst_goal_met"] is (sens["worst_ci_low"] >= goal)
    assert sens["primary_goal_met"] is (sens["primary_ci_low"] >= goal)
    # 16/22 has a Wilson lower bound far below 0.75: the worst case fails
    assert sens["worst_goal_met"] is False


def test_no_rejection_worst_case_equals_primary_exactly(protocol):
    result = quality_gate(_table(0, 0, 0), protocol)
    assert result["overall"]["rejected"] == 0 and result["overall"]["rate"] == 0.0
    assert result["overall"]["ci_high"] == pytest.approx(_wilson(0, 50)[1])
    assert result["reasons"] == []
    worst = result["worst_case"]
    assert worst["equals_primary"] is True
    for ep in worst["endpoints"]:
        for field in ("n", "estimate", "ci_low", "ci_high", "goal_met"):
            assert ep[f"worst_{field}"] == ep[f"primary_{field}"]
        assert ep["added_failures"] == 0
    assert result["measurement"]["without_measurement"] == 0


def test_clustered_patients_use_the_primary_endpoint_machinery(protocol):
    frame = _table(0, 0, 0)
    frame["patient_id"] = [f"P{i // 2:03d}" for i in range(len(frame))]  # two studies each
    frame = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    result = quality_gate(frame, protocol)
    studies = frame.assign(
        label=frame["label"].astype(int),
        predicted=(frame["probability"] >= 0.5).astype(int),
    )
    expected = assess(studies, protocol, groups=("classification",)).metrics()
    sens = _endpoint(result, "sensitivity")
    assert "cluster bootstrap" in sens["method"]
    assert sens["worst_ci_low"] == pytest.approx(expected["sensitivity"].ci_low)
    assert sens["worst_ci_high"] == pytest.approx(expected["sensitivity"].ci_high)


def test_measurement_share_counts_studies_with_reference_but_no_device_value(protocol):
    result = quality_gate(_table(), protocol)
    ms = result["measurement"]
    assert (ms["with_reference"], ms["without_measurement"]) == (55, 5)
    assert ms["share"] == pytest.approx(5 / 55)
    assert (ms["ci_low"], ms["ci_high"]) == pytest.approx(_wilson(5, 55))
    assert ms["endpoints"] == ["ivsd-bias", "ivsd-loa-lower", "ivsd-loa-upper", "ivsd-mae"]


def test_reasons_are_grouped_by_kind_of_failure(protocol):
    frame = _table()
    rejected = frame.index[frame["status"] == "quality_rejected"]
    frame.loc[rejected[:2], "detail"] = "ValueError: no physical spacing"
    frame.loc[rejected[2], "detail"] = np.nan
    result = quality_gate(frame, protocol)
    reasons = {r["reason"]: r["n"] for r in result["reasons"]}
    assert reasons == {"QualityError": 3, "ValueError": 2, "unspecified": 1}
    assert result["reasons"][0]["reason"] == "QualityError"


def test_age_and_bmi_bands_follow_the_protocol_in_numeric_order(protocol):
    frame = _table()
    frame["age"] = [25, 45, 65, 80] * 14
    frame["bmi"] = [22.0, 27.0, 32.0, np.nan] * 14
    result = quality_gate(frame, protocol)
    ages = [r["stratum"] for r in result["subgroups"] if r["dimension"] == "age_band"]
    bmis = [r["stratum"] for r in result["subgroups"] if r["dimension"] == "bmi_band"]
    assert ages == ["18–39", "40–59", "60–74", "≥75"]
    assert bmis == ["<25", "25–29", "30–34", "unknown"]


def test_empty_table_gives_undefined_rates(protocol):
    result = quality_gate(_table().iloc[:0], protocol)
    assert result["overall"]["n"] == 0 and math.isnan(result["overall"]["rate"])
    assert all(math.isnan(e["worst_estimate"]) for e in result["worst_case"]["endpoints"])


def test_bad_input_is_refused_with_a_clear_message(protocol):
    with pytest.raises(TypeError, match="gated must be a pandas DataFrame; got list"):
        quality_gate([], protocol)
    with pytest.raises(ValueError, match=r"gated lacks required column\(s\) status;"):
        quality_gate(_table().drop(columns="status"), protocol)
    bad = _table()
    bad.loc[0, "status"] = "excluded"
    with pytest.raises(ValueError, match=r"gated.status must be one of .*got \['excluded'\]"):
        quality_gate(bad, protocol)
    bad = _table()
    bad.loc[0, "label"] = 2
    with pytest.raises(ValueError, match=r"gated.label must be 0, 1 or NaN"):
        quality_gate(bad, protocol)
