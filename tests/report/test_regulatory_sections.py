"""The regulatory sections: quality gate, benefit-risk, risks, limitations, submission summary
and the STARD 2015 / CLAIM checklist.

The inputs are built with the real analysis functions (assess, endpoint_rows, strata_rows,
site_heterogeneity, quality_gate, benefit_risk) on a small synthetic study with a weak vendor
(Canon, +1.5 mm bias), never from results/demo. The partials are rendered with the report's
Jinja environment (StrictUndefined, the number filters) so that a missing field or an
unformatted number fails here; one test lays the sections out with WeasyPrint and checks that
the page references print the page on which each section starts.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pandas as pd
import pypdf
import pytest

from validation.analysis.benefit_risk import benefit_risk
from validation.analysis.endpoints import assess, endpoint_rows, strata_rows
from validation.analysis.heterogeneity import site_heterogeneity
from validation.analysis.quality_gate import quality_gate
from validation.analysis.results import _acceptance, _agreement, _classification
from validation.exceptions import ReportError
from validation.numbers import json_ready as _clean
from validation.protocol import load_protocol
from validation.report.document import make_environment, stylesheet, write_pdf
from validation.report.evidence import evidence_sections
from validation.report.evidence.regulatory import regulatory_context
from validation.report.filters import num, pct
from validation.report.outputs import finding_context, measure_context
from validation.report.text import load_text

PARTIALS = (
    "quality_gate",
    "benefit_risk",
    "risks",
    "limitations",
    "submission_summary",
    "checklist",
)
SITES = (("s01", "Riverside"), ("s02", "Lakeshore"), ("s03", "Northgate"))


@pytest.fixture(scope="module")
def protocol(repo_root):
    return load_protocol(repo_root / "protocols" / "demo.yaml")


def _studies(n: int = 360, seed: int = 5) -> pd.DataFrame:
    """Analysed studies: three sites, three vendors, Canon reads 1.5 mm high."""
    rng = np.random.default_rng(seed)
    vendor = rng.choice(["GE", "Philips", "Canon"], n)
    site = rng.choice([s for s, _ in SITES], n)
    reference = rng.normal(10.0, 1.8, n)
    shift = np.where(vendor == "Canon", 1.5, 0.0) + np.where(site == "s03", 0.4, 0.0)
    model = reference + rng.normal(0.0, 0.6, n) + shift
    age = rng.integers(20, 90, n)
    bmi = rng.normal(27, 4, n)
    frame = pd.DataFrame(
        {
            "site": site,
            "vendor": vendor,
            "scanner_model": np.where(vendor == "Canon", "Aplio i900", "Vivid E95"),
            "sex": rng.choice(["F", "M"], n),
            "age": age,
            "bmi": bmi,
            "age_band": pd.cut(age, [18, 40, 60, 75, 120], right=False).astype(str),
            "bmi_band": pd.cut(bmi, [0, 25, 30, 35, 100], right=False).astype(str),
            "image_quality": rng.choice(["good", "adequate", "poor"], n, p=(0.6, 0.3, 0.1)),
            "patient_id": [f"P{i:04d}" for i in range(n)],
            "measurement": model,
            "reference": reference,
            "label": (reference >= 11).astype(int),
            "probability": 1.0 / (1.0 + np.exp(-(model - 11.0) * 2.0)),
        }
    )
    frame["predicted"] = (frame["probability"] >= 0.5).astype(int)
    frame["difference"] = frame["measurement"] - frame["reference"]
    return frame


def _gated(studies: pd.DataFrame, rejected: int) -> pd.DataFrame:
    """The gated table: the analysed studies plus ``rejected`` declined ones."""
    cols = ["site", "vendor", "scanner_model", "sex", "age", "bmi", "image_quality"]
    base = studies[[*cols, "patient_id", "measurement", "probability"]].copy()
    base["reference"] = studies["reference"]
    base["label"] = studies["label"].astype(float)
    base["status"], base["detail"] = "predicted", ""
    extra = studies.iloc[:rejected][cols].copy()
    extra["patient_id"] = [f"R{i:04d}" for i in range(rejected)]
    extra["measurement"] = extra["probability"] = np.nan
    extra["reference"] = studies.iloc[:rejected]["reference"].to_numpy()
    extra["label"] = studies.iloc[:rejected]["label"].astype(float).to_numpy()
    extra["status"], extra["detail"] = "quality_rejected", "QualityError: septum not visible"
    unreferenced = studies.iloc[:7][[*cols, "measurement", "probability"]].copy()
    unreferenced["patient_id"] = [f"U{i:04d}" for i in range(7)]
    unreferenced["reference"] = unreferenced["label"] = np.nan
    unreferenced["status"], unreferenced["detail"] = "predicted", ""
    return pd.concat([base, extra, unreferenced], ignore_index=True)


def _results(protocol, *, rejected: int = 0, synthetic: bool = True) -> dict[str, Any]:
    studies = _studies()
    pooled = assess(studies, protocol)
    endpoints = endpoint_rows(pooled, protocol)
    for row in endpoints:
        row["verdict"] = row["verdict"] if row["primary"] else "NOT TESTED"
    strata = strata_rows(studies, protocol)
    acceptance = _acceptance(endpoints, strata, protocol)
    classification = _classification(pooled, protocol)
    agreement = _agreement(pooled, protocol)
    results = {
        "protocol": {
            "id": "demo",
            "title": "Synthetic test study",
            "version": "1.1",
            "registered": "2026-01-02",
            "sponsor": "Test sponsor (synthetic demonstration)" if synthetic else "Test sponsor",
            "device": {
                "name": "EchoTest",
                "intended_use": "Measurement of IVSd to assist a qualified reader.",
                "predicate": "Manual caliper measurement by a sonographer",
            },
            "reference_standard": {"description": "Mean of three blinded readers."},
            "outputs": protocol.record("outputs"),
        },
        "model": {
            "name": "ivsd-cnn",
            "version": "1.0.0",
            "sha256": "ab" * 32,
            "card": {
                "description": "Test CNN measuring IVSd.",
                "inputs": {"view": "parasternal long axis"},
                "outputs": [
                    {
                        "name": "ivsd_mm",
                        "role": "measurement",
                        "unit": "mm",
                        "shape": ["batch"],
                        "description": "IVSd in mm",
                    },
                    {
                        "name": "lvh_probability",
                        "role": "probability",
                        "shape": ["batch"],
                        "description": "probability of LVH",
                    },
                ],
                "training_data": {
                    "sites": ["d01", "d02"],
                    "vendors": ["GE", "Philips"],
                    "studies_fit": 1000,
                },
                "limitations": ["Single parasternal long-axis view."],
            },
        },
        "analysis": {**protocol.record("analysis"), "threshold": 0.5},
        "data": {"sites": [{"id": s, "name": name} for s, name in SITES]},
        "flow": {
            "received": len(studies) + rejected + 12,
            "excluded_at_ingest": 5,
            "included": len(studies) + rejected + 7,
            "quality_rejected": rejected,
            "no_reference": 7,
            "analysed": len(studies),
        },
        "endpoints": endpoints,
        "acceptance": acceptance,
        "overall_verdict": acceptance["verdict"],
        "strata": strata,
        "heterogeneity": site_heterogeneity(studies, protocol),
        "classification": classification,
        "agreement": agreement,
        "quality_gate": quality_gate(_gated(studies, rejected), protocol),
        "benefit_risk": benefit_risk(classification, agreement),
    }
    return _clean(results)


@pytest.fixture(scope="module")
def results(protocol) -> dict[str, Any]:
    return _results(protocol)


@pytest.fixture(scope="module")
def results_rejected(protocol) -> dict[str, Any]:
    return _results(protocol, rejected=12)


def _context(results: dict[str, Any], kind: str) -> dict[str, Any]:
    table = pd.DataFrame({"vendor": ["Canon", "GE", "Philips"]})
    verdict = str(results["overall_verdict"])
    return {
        "confidence": results["analysis"]["confidence"],
        "analysis": results["analysis"],
        "kind": load_text("evidence")["kinds"][kind],
        "protocol": results["protocol"],
        "model": results["model"],
        "flow": results["flow"],
        "overall_verdict": {"text": verdict, "css": verdict.lower()},
        "measure": measure_context(results["protocol"]["outputs"]),
        "finding": finding_context(results["protocol"]["outputs"]),
        **regulatory_context(results, table, kind=kind),
    }


def _render(results: dict[str, Any], partial: str, kind: str = "510k") -> str:
    env = make_environment()
    return env.get_template(f"partials/{partial}.html").render(**_context(results, kind))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_context_keys_and_kind(results):
    ctx = regulatory_context(results, pd.DataFrame({"vendor": ["GE"]}), kind="de-novo")
    assert set(ctx) == {
        "quality_gate",
        "benefit_risk",
        "risks",
        "limitations",
        "submission_summary",
        "checklist",
    }
    with pytest.raises(ReportError, match="kind: expected one of 510k, de-novo, got 'pma'"):
        regulatory_context(results, pd.DataFrame({"vendor": ["GE"]}), kind="pma")


def test_zero_rejections_read_sensibly(results):
    text = _text(_render(results, "quality_gate"))
    assert "The device declined none of the 367 included studies" in text
    assert "The worst case therefore equals the primary analysis" in text
    assert "As the device declined no study, the worst case is the primary analysis itself" in text
    assert "Even in the worst case" in text or "not every goal is met" in text
    upper = results["quality_gate"]["overall"]["ci_high"]
    assert f"at most {pct(upper)}" in text


def test_rejections_show_rates_reasons_and_worst_case(results_rejected):
    qg = results_rejected["quality_gate"]
    text = _text(_render(results_rejected, "quality_gate"))
    assert f"The device declined 12 of the {qg['overall']['n']} included studies" in text
    assert "QualityError" in text and "septum not visible" in text
    wc = qg["worst_case"]
    pos, neg = wc["rejected_reference_positive"], wc["rejected_reference_negative"]
    assert pos + neg == 12
    assert f"This adds {pos} false negative(s) and {neg} false positive(s)." in text
    for ep in wc["endpoints"]:
        assert pct(ep["worst_estimate"]) in text and pct(ep["primary_estimate"]) in text
    assert qg["measurement"]["with_reference"] == 372  # the 7 without a reference are left out
    assert f"{qg['measurement']['without_measurement']} ({pct(qg['measurement']['share'])};" in text


def test_absent_blocks_render_notices(results):
    bare = {k: v for k, v in results.items() if k not in ("quality_gate", "benefit_risk")}
    text = _text(_render(bare, "quality_gate"))
    assert "Quality-gate analysis not in the results" in text
    assert "declined 0 of the 367 included studies" in text
    text = _text(_render(bare, "benefit_risk"))
    assert "Benefit-risk block not in the results" in text
    _render(bare, "submission_summary", "de-novo")  # renders without the blocks


def test_benefit_risk_counts_and_weak_vendor_caveat(results):
    text = _text(_render(results, "benefit_risk"))
    c = results["benefit_risk"]["classification"]
    assert f"about {num(c['with_condition'], 0)} have LVH" in text
    missed = c["false_negative"]
    assert f"LVH missed {num(missed['estimate'], 0)} {num(missed['low'], 0)} to" in text
    ms = results["benefit_risk"]["measurement"]
    assert f"For {num(ms['within'], 0)} of every 100 patients" in text
    assert "Vendor Canon" in text.replace("Ultrasound vendor", "Vendor")
    assert "On images from Canon" in text
    assert "Canon is not among the vendors whose images the model was trained on" in text
    assert "(GE, Philips)" in text  # the vendors that met their goals


def test_no_caveat_when_every_judged_stratum_passes(results):
    passing = {**results, "acceptance": {**results["acceptance"], "strata_failing": []}}
    text = _text(_render(passing, "benefit_risk"))
    assert "Every subgroup the protocol judges met its goals" in text
    assert "On images from" not in text


@pytest.mark.parametrize("kind", ["510k", "de-novo"])
def test_every_cross_reference_targets_a_section_of_the_report(results, kind):
    ids = {s["id"] for s in evidence_sections(kind)}
    for partial in PARTIALS:
        html = _render(results, partial, kind)
        targets = set(re.findall(r'href="#sec-([a-z-]+)"', html))
        assert targets <= ids, (partial, targets - ids)
    assert ("risks" in ids) is (kind == "de-novo")


def test_risks_and_special_controls_each_point_to_evidence(results):
    ctx = _context(results, "de-novo")
    assert len(ctx["risks"]["rows"]) >= 5 and len(ctx["risks"]["special_controls"]) >= 4
    for row in ctx["risks"]["rows"] + ctx["risks"]["special_controls"]:
        assert row["evidence"], row
    html = _render(results, "risks", "de-novo")
    text = _text(html)
    missed = results["benefit_risk"]["classification"]["false_negative"]
    assert f"about {num(missed['estimate'], 0)} per 1,000 patients" in text
    assert "goals not met on Canon images" in text
    assert html.count('class="pageref"') >= 20
    assert results["overall_verdict"] in text  # the clinical performance control's status


def test_limitations_come_from_the_data(protocol, results):
    text = _text(_render(results, "limitations"))
    assert "Synthetic data." in text
    assert "Subgroups that missed their goals." in text and "Canon" in text
    assert "7 of the 367 included studies had no reference result" in text
    assert "Quality gate not exercised." in text
    assert "Single parasternal long-axis view." in text
    assert "Judged pooled only." in text and "LVH sensitivity" in text
    bias = results["heterogeneity"]["metrics"]["bias"]
    assert ("Sites differ." in text) is (bias["poolable"] is False)
    real = _results(protocol, synthetic=False)
    assert "Synthetic data." not in _text(_render(real, "limitations"))


def test_checklist_lists_every_stard_item_and_key_claim_items(results):
    numbers = [item["number"] for item in load_text("evidence")["stard_2015"]]
    expected = [str(i) for i in range(1, 31)]
    for split in ("10", "12", "13", "21"):
        at = expected.index(split)
        expected[at : at + 1] = [f"{split}a", f"{split}b"]
    assert numbers == expected
    claim = [item["number"] for item in load_text("evidence")["claim"]]
    assert {"1", "9", "16", "18", "21", "22", "23", "30", "31", "32", "37"} <= set(claim)
    ctx = _context(results, "510k")
    for row in ctx["checklist"]["stard"] + ctx["checklist"]["claim"]:
        assert row["links"] or row["na"], row
        assert not (row["links"] and row["na"]), row
    text = _text(_render(results, "checklist"))
    assert "Not applicable." in text and "no time elapsed" in text


def test_submission_summary_per_kind(results):
    text = _text(_render(results, "submission_summary", "510k"))
    assert "510(k) Summary: EchoTest" in text
    assert "Predicate device Manual caliper measurement by a sonographer" in text
    for ep in results["endpoints"]:
        if ep["primary"] and ep["unit"] == "mm":
            assert num(ep["estimate"]) + " mm" in text
    assert "ultrasound vendor Canon" in text
    assert "Outputs: IVSd in mm; probability of LVH." in text  # the card's list, in order
    text = _text(_render(results, "submission_summary", "de-novo"))
    assert "De Novo Summary: EchoTest" in text and "Class II" in text
    assert "Predicate device" not in text and "Benefit-risk determination" in text
    verdict = results["overall_verdict"]
    conclusion = "Every pre-specified acceptance criterion was met"
    assert (conclusion in text) is (verdict == "PASS")


@pytest.mark.parametrize("kind", ["510k", "de-novo"])
def test_numbers_are_formatted_and_tables_captioned(results_rejected, kind):
    for partial in PARTIALS:
        if partial == "risks" and kind == "510k":
            continue
        html = _render(results_rejected, partial, kind)
        assert not re.search(r"\d\.\d{4,}", _text(html)), partial
        assert "nan" not in _text(html).lower().split(), partial
        assert html.count("<table") == html.count("<caption>"), partial


def _pdf_pages(results: dict[str, Any], kind: str, tmp_path) -> list[str]:
    """Lay the report's sections out (placeholders for the sections of other partials)."""
    body = []
    for section in evidence_sections(kind):
        partial = section["template"].removeprefix("partials/").removesuffix(".html")
        inner = _render(results, partial, kind) if partial in PARTIALS else "<p>Placeholder.</p>"
        body.append(
            f'<section id="sec-{section["id"]}" class="sec main">'
            f'<h2 class="numbered">{section["title"]}</h2>{inner}</section>'
        )
    html = f"<html><head><style>{stylesheet()}</style></head><body>{''.join(body)}</body></html>"
    pdf = write_pdf(html, tmp_path / f"{kind}.pdf")
    reader = pypdf.PdfReader(io.BytesIO(pdf.read_bytes()))
    return [re.sub(r"\s+", " ", page.extract_text() or "") for page in reader.pages]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["510k", "de-novo"])
def test_page_references_print_the_page_of_each_section(results, kind, tmp_path):
    pages = _pdf_pages(results, kind, tmp_path)
    starts = {}
    for section in evidence_sections(kind):  # each section starts a page with its numbered heading
        heading = re.compile(r"^\s*\d+\s*" + re.escape(section["title"]))
        starts[section["title"]] = next(
            number for number, text in enumerate(pages, start=1) if heading.match(text)
        )
    checklist = " ".join(
        p for p in pages if "STARD 2015 items and where they are addressed" in p or "CLAIM" in p
    )
    checked = 0
    for title in ("Quality-gate analysis", "Limitations", "Benefit-risk"):
        found = re.findall(re.escape(title) + r" p\. (\d+)", checklist)
        assert found, title
        assert {int(f) for f in found} == {starts[title]}, (title, found, starts[title])
        checked += 1
    assert checked == 3
