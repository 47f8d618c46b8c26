"""The evidence report names what the protocol's outputs declare: the measurement (its label,
unit and decimals) and the finding; a report of a protocol without one of them has no section
about it.

The studies are the session's synthetic IVSd study (``tests/report/conftest.py``) restated as
another protocol: as an LVEF study (a measurement in %, a "Reduced EF" finding) and as a
measurement-only study (the blocks of the finding null, as the analysis writes them).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from validation.report.evidence.context import build_context, render_evidence_html
from validation.report.outputs import (
    difference_symbol,
    finding_context,
    measure_context,
    present,
    text_words,
)
from validation.report.sections import sections_for
from validation.report.text import fill, for_outputs, load_text

LVEF = {
    "measurement": {
        "name": "lvef",
        "label": "LVEF",
        "description": "Left-ventricular ejection fraction",
        "unit": "%",
        "precision": 0,
    },
    "finding": {
        "name": "reduced_ef",
        "label": "Reduced EF",
        "description": "Reduced ejection fraction",
        "positive": "consensus LVEF below 40 %",
        "threshold": 0.5,
    },
}
#: What the synthetic IVSd study names, and what the LVEF study names instead.
RENAMES = (
    ("left-ventricular hypertrophy", "reduced ejection fraction"),
    ("Left-ventricular hypertrophy", "Reduced ejection fraction"),
    ("IVSd", "LVEF"),
    ("ivsd", "lvef"),
    ("LVH", "Reduced EF"),
    ("lvh", "reduced_ef"),
    (" mm", " %"),
)


def _renamed(value: Any) -> Any:
    if isinstance(value, str):
        for old, new in RENAMES:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def _text(html: str) -> str:
    """The visible text of a report (figures' data URIs and tags removed)."""
    html = re.sub(r'src="data:[^"]*"', "", re.sub(r"<style.*?</style>", "", html, flags=re.S))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def study(locked_results: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    results = json.loads(locked_results.read_text(encoding="utf-8"))
    return results, pd.read_csv(locked_results.parent / "analysed.csv")


@pytest.fixture(scope="module")
def lvef(study: tuple[dict[str, Any], pd.DataFrame]) -> dict[str, Any]:
    """The study as an LVEF study: outputs, words and the measurement endpoints' unit."""
    results = _renamed(copy.deepcopy(study[0]))
    results["protocol"]["outputs"] = copy.deepcopy(LVEF)
    for ep in results["endpoints"]:
        if ep["unit"] == "mm":
            ep["unit"] = "%"
    return results


def _measurement_only(results: dict[str, Any]) -> dict[str, Any]:
    """The study as a protocol without a finding writes it: the finding's blocks null and its
    endpoints and strata absent."""
    out = copy.deepcopy(results)
    del out["protocol"]["outputs"]["finding"]
    finding_metrics = {"sensitivity", "specificity", "ppv", "npv", "auc"}
    out["classification"] = None
    out["benefit_risk"]["classification"] = None
    out["endpoints"] = [e for e in out["endpoints"] if e["metric"] not in finding_metrics]
    out["strata"] = [r for r in out["strata"] if r["metric"] not in finding_metrics]
    return out


def test_measure_and_finding_contexts() -> None:
    m, f = measure_context(LVEF), finding_context(LVEF)
    assert m is not None and f is not None
    assert (m["symbol"], m["difference_symbol"], m["digits"]) == ("%", "pp", 1)
    assert (m["axis"], m["heading"], m["difference_heading"]) == ("LVEF (%)", ", %", ", pp")
    assert m["description_lower"] == "left-ventricular ejection fraction"
    assert f["description_lower"] == "reduced ejection fraction" and f["threshold"] == 0.5
    unitless = measure_context({"measurement": {"name": "s", "label": "Score", "unit": "1"}})
    assert unitless is not None
    assert (unitless["axis"], unitless["heading"], unitless["digits"]) == ("Score", "", 2)
    assert measure_context({"finding": LVEF["finding"]}) is None
    assert finding_context({"measurement": LVEF["measurement"]}) is None
    assert present({"finding": LVEF["finding"]}) == ("finding",)
    assert difference_symbol("ms") == "ms" and difference_symbol("%") == "pp"


def test_text_placeholders_are_filled_and_entries_kept_by_output() -> None:
    words = text_words(LVEF)
    text = load_text("evidence", words=words)
    risks = {r["id"]: r for r in text["risks"]}
    assert risks["missed-finding"]["risk"] == "Missed Reduced EF (false reassurance)"
    assert risks["measurement-error"]["risk"].startswith("LVEF measurement error")
    assert not re.search(r"\{[a-z_]+\}", json.dumps(text, ensure_ascii=False))
    kept = for_outputs(text["risks"], ["measurement"])
    assert {"missed-finding", "false-flag"}.isdisjoint(r["id"] for r in kept)
    assert "measurement-error" in {r["id"] for r in kept}
    with pytest.raises(Exception, match="placeholder"):
        fill({"x": "{nothing}"}, words)


def test_sections_leave_out_an_absent_output() -> None:
    listed = load_text("evidence")["sections"]
    ids = [s["id"] for s in sections_for(listed, "510k", {}, ("measurement",))]
    assert "agreement" in ids and "reference-quality" in ids and "classification" not in ids
    ids = [s["id"] for s in sections_for(listed, "510k", {}, ("finding",))]
    assert "classification" in ids
    assert "agreement" not in ids and "reference-quality" not in ids


def test_an_lvef_study_names_lvef_in_percent(
    lvef: dict[str, Any], study: tuple[dict[str, Any], pd.DataFrame]
) -> None:
    context = build_context(lvef, study[1], kind="de-novo")
    assert context["measure"]["label"] == "LVEF" and context["finding"]["label"] == "Reduced EF"
    text = _text(render_evidence_html(context))
    assert "LVEF" in text and "Reduced EF" in text
    for name in ("IVSd", "LVH", "hypertrophy", "septum", "septal"):
        assert name not in text, name
    # the measurement's statistics in percentage points with one decimal (precision 0 + 1)
    bias = lvef["agreement"]["bias"]
    signed = f"{bias:+.1f}".replace("-", "\u2212")
    assert f"{signed} pp" in text
    assert "Bias, pp" in text and "Bias, mm" not in text
    assert "Reference LVEF, %" in text
    # no mm beside a number but the images' pixel spacing (a property of the images)
    mm = [m.group(0) for m in re.finditer(r"[\d)]\s?mm\b", text)]
    assert len(mm) <= 1, [
        text[m.start() - 60 : m.end()] for m in re.finditer(r"[\d)]\s?mm\b", text)
    ][:5]
    # a % measurement is never multiplied as a proportion
    assert not re.search(r"(?<![\d.])(?:[2-9]\d{2}|\d{4,})(?:\.\d+)?\s?%", text)
    # the figures are labelled with the protocol's measurement and finding
    figures = (
        context["figures"]["bland-altman"]["alt"]
        + context["measurement"]["figures"]["scatter"]["alt"]
    )
    assert "LVEF" in figures and "IVSd" not in figures
    assert "Reduced EF" in context["diagnostic"]["figures"]["roc"]["alt"]
    risks = " ".join(r["risk"] for r in context["risks"]["rows"])
    assert "Missed Reduced EF" in risks and "LVEF measurement error" in risks


def test_a_measurement_only_study_has_no_classification_sections(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results = _measurement_only(study[0])
    context = build_context(results, study[1], kind="de-novo")
    ids = [s["id"] for s in context["sections"]]
    assert "agreement" in ids and "reference-quality" in ids
    assert "classification" not in ids
    assert context["finding"] is None and context["diagnostic"] is None
    assert context["subgroup"]["figures"]["accuracy"] is None
    risks = {r["id"] for r in context["risks"]["rows"]}
    assert "measurement-error" in risks and "missed-finding" not in risks
    html = render_evidence_html(context)
    text = _text(html)
    assert 'id="sec-classification"' not in html and 'href="#sec-classification"' not in html
    for absent in ("Sensitivity", "ROC", "2×2", "LVH probability", "LVH flag", "false alarm"):
        assert absent not in text, (
            absent,
            text[text.index(absent) - 200 : text.index(absent) + 50],
        )
    assert "Measurement results" in text and "Bias, mm" in text


def test_a_finding_only_study_has_no_measurement_sections(
    study: tuple[dict[str, Any], pd.DataFrame],
) -> None:
    results = copy.deepcopy(study[0])
    del results["protocol"]["outputs"]["measurement"]
    measurement_metrics = {"bias", "loa_low", "loa_high", "mae", "rmse"}
    results["agreement"] = None
    results["benefit_risk"]["measurement"] = None
    results["endpoints"] = [
        e for e in results["endpoints"] if e["metric"] not in measurement_metrics
    ]
    results["strata"] = [r for r in results["strata"] if r["metric"] not in measurement_metrics]
    context = build_context(results, study[1], kind="510k")
    ids = [s["id"] for s in context["sections"]]
    assert "classification" in ids
    assert "agreement" not in ids and "reference-quality" not in ids
    assert context["measure"] is None and context["measurement"] is None
    assert context["figures"]["bland-altman"] is None
    html = render_evidence_html(context)
    assert 'id="sec-agreement"' not in html and 'href="#sec-agreement"' not in html
    text = _text(html)
    for absent in ("Bland-Altman", "Bias, mm", "limits of agreement", "Reference IVSd"):
        assert absent not in text, absent
