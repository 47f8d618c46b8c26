"""The evidence report renders from results.json and shows what a reviewer must find."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pypdf
import pytest

from validation.exceptions import ReportError
from validation.report import build_context, load_results, render_evidence_html, render_report

SECTION_TITLES = (
    "Document control",
    "Signatures",
    "Executive summary",
    "Device and model description",
    "Study design",
    "Data independence",
    "Subject accountability",
    "Baseline characteristics",
    "Reference-standard quality",
    "Measurement results",
    "Classification results",
    "Subgroups and heterogeneity across sites",
    "Quality-gate analysis",
    "Benefit-risk",
    "Limitations",
    "Model card",
    "Summary text for the submission",
    "STARD 2015 and CLAIM checklist",
    "Dataset manifest and traceability",
    "Environment record",
)


def _pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(str(path))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def draft_pdf(evidence_report: Callable[[str, str], dict[str, Path]]) -> dict[str, Path]:
    return evidence_report("draft", "510k")


@pytest.fixture(scope="module")
def draft_text(draft_pdf: dict[str, Path]) -> str:
    return _pdf_text(draft_pdf["pdf"])


@pytest.fixture(scope="module")
def results(draft_results: Path) -> dict:
    return json.loads(draft_results.read_text(encoding="utf-8"))


def test_writes_pdf_and_html_beside_it(draft_pdf: dict[str, Path]) -> None:
    pdf, html = draft_pdf["pdf"], draft_pdf["html"]
    assert pdf.is_file() and pdf.stat().st_size > 10_000
    assert pdf.read_bytes().startswith(b"%PDF")
    assert html == pdf.with_suffix(".html") and html.is_file()
    assert "data:image/svg+xml;base64," in html.read_text(encoding="utf-8")


def test_pages_are_a4_with_page_x_of_y(draft_pdf: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(str(draft_pdf["pdf"]))
    n = len(reader.pages)
    assert n > 5
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(595.3, abs=1) and float(box.height) == pytest.approx(
        841.9, abs=1
    )
    assert f"Page 1 of {n}" in reader.pages[0].extract_text()
    assert f"Page {n} of {n}" in reader.pages[-1].extract_text()
    assert "MVAL-demo-1a2b3c4d" in reader.pages[-1].extract_text()  # running header


def test_section_titles_present(draft_text: str) -> None:
    for title in SECTION_TITLES:
        assert title in draft_text, title


def test_endpoints_and_verdicts_shown(draft_text: str, results: dict) -> None:
    flat = _squash(draft_text)
    for ep in results["endpoints"]:
        assert _squash(ep["label"]) in flat, ep["label"]
    verdicts = {ep["verdict"] for ep in results["endpoints"]}
    assert verdicts >= {"PASS", "FAIL"}  # the fixture has both
    for verdict in verdicts:
        assert verdict in draft_text
    assert "Overall verdict" in draft_text
    assert "never on the point estimate" in draft_text


def test_hashes_shown_in_full(draft_text: str, results: dict) -> None:
    flat = _squash(draft_text)
    assert results["protocol"]["sha256"] in flat
    assert results["model"]["sha256"] in flat
    for part in results["data"]["partitions"]:
        assert part["accounting_sha256"] in flat
    for ref in results["data"]["reference_files"]:
        assert ref["sha256"] in flat


def test_flow_counts_by_site(draft_text: str, results: dict) -> None:
    assert "Subject accountability by site" in draft_text
    for site in results["data"]["sites"]:
        assert site["name"] in draft_text
    assert "All sites" in draft_text
    total = f"{results['flow']['received']:,} {results['flow']['excluded_at_ingest']:,}"
    assert total in draft_text


def _watermarked_pages(path: Path) -> list[bool]:
    """For each page, whether it carries the watermark: a line reading exactly "DRAFT"."""
    reader = pypdf.PdfReader(str(path))
    return [
        any(line.strip() == "DRAFT" for line in (page.extract_text() or "").splitlines())
        for page in reader.pages
    ]


def test_draft_watermark_on_every_page_when_lock_invalid(
    draft_pdf: dict[str, Path], draft_text: str
) -> None:
    assert all(_watermarked_pages(draft_pdf["pdf"]))
    assert "not valid as submission evidence" in draft_text
    assert "No lock record was found" in draft_text  # the reason, from lock.detail


def test_no_watermark_when_lock_valid(
    evidence_report: Callable[[str, str], dict[str, Path]],
) -> None:
    out = evidence_report("locked", "510k")
    text = _pdf_text(out["pdf"])
    assert not any(_watermarked_pages(out["pdf"]))
    assert "not valid as submission evidence" not in text
    assert "no valid lock" not in text
    assert "Document control" in text
    assert 'class="watermark"' not in out["html"].read_text(encoding="utf-8")


def test_de_novo_title(evidence_report: Callable[[str, str], dict[str, Path]]) -> None:
    out = evidence_report("locked", "de-novo")
    assert out["html"].name == "de-novo.html"
    assert "De Novo Classification Request" in _pdf_text(out["pdf"])


def test_unknown_kind_is_rejected(locked_results: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="kind"):
        render_report(locked_results, tmp_path / "x.pdf", kind="pma")


def test_missing_required_field_names_it(draft_results: Path, tmp_path: Path) -> None:
    data = json.loads(draft_results.read_text(encoding="utf-8"))
    del data["protocol"]["sha256"]
    del data["endpoints"][1]["verdict"]
    folder = tmp_path / "analysis"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "analysed.csv").write_text((draft_results.parent / "analysed.csv").read_text())
    with pytest.raises(ReportError) as err:
        render_report(folder / "results.json", tmp_path / "out.pdf")
    assert "protocol.sha256" in str(err.value)
    assert "endpoints[1].verdict" in str(err.value)
    assert not (tmp_path / "out.pdf").exists()


def test_strict_undefined_catches_missing_context_key(draft_results: Path) -> None:
    results, table = load_results(draft_results)
    context = build_context(results, table)
    del context["agreement"]["mae"]
    with pytest.raises(ReportError, match="mae"):
        render_evidence_html(context)


def test_missing_results_file_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="does not exist"):
        render_report(tmp_path / "results.json", tmp_path / "out.pdf")


def test_missing_study_table_is_a_report_error(draft_results: Path, tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(draft_results.read_text(encoding="utf-8"))
    with pytest.raises(ReportError, match=r"analysed\.csv"):
        render_report(tmp_path / "results.json", tmp_path / "out.pdf")


def test_undefined_estimates_render_as_na(draft_results: Path) -> None:
    results, table = load_results(draft_results)
    results["endpoints"][4].update(
        estimate=None, ci_low=None, ci_high=None, verdict="NOT EVALUABLE"
    )
    results["agreement"]["proportional_p"] = None
    html = render_evidence_html(build_context(results, table))
    assert "NOT EVALUABLE" in html
    assert "n/a" in html


def test_text_is_escaped(draft_results: Path) -> None:
    results, table = load_results(draft_results)
    results["protocol"]["sponsor"] = "<script>alert(1)</script> & Co"
    html = render_evidence_html(build_context(results, table))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_not_estimable_blocks_render_as_na(draft_results: Path) -> None:
    """The analysis writes agreement/classification as {"n": k} when too few studies exist."""
    results, table = load_results(draft_results)
    results["agreement"] = {"n": 2}
    results["classification"] = {"n": 0}
    html = render_evidence_html(build_context(results, table.head(2)))
    assert "Agreement not estimable" in html
    assert "Classification not estimable" in html


def test_partly_missing_block_is_still_an_error(draft_results: Path) -> None:
    results, table = load_results(draft_results)
    del results["agreement"]["sd"]
    with pytest.raises(ReportError, match=r"agreement\.sd"):
        build_context(results, table)


def test_acceptance_rule_and_rationale_shown_when_present(draft_results: Path) -> None:
    results, table = load_results(draft_results)
    results["acceptance"].update(
        {
            "verdict": "FAIL",
            "rule": "every primary endpoint's goal met pooled and in every stratum of vendor",
            "strata_failing": [{"dimension": "vendor", "stratum": "Canon", "metric": "bias"}],
        }
    )
    results["endpoints"][0]["rationale"] = "Within inter-reader variability."
    html = render_evidence_html(build_context(results, table))
    assert "in every stratum of vendor" in html
    assert "Ultrasound vendor Canon (bias)" in html
    assert "Within inter-reader variability." in html


# --------------------------------------------------------------------------- archival PDF


def test_pdf_declares_pdf_a_3b(draft_pdf: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(str(draft_pdf["pdf"]))
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "/OutputIntents" in reader.trailer["/Root"]  # the colour profile PDF/A requires


def test_results_and_manifest_are_embedded(draft_pdf: dict[str, Path], draft_results: Path) -> None:
    reader = pypdf.PdfReader(str(draft_pdf["pdf"]))
    attached = {name: data[0] for name, data in reader.attachments.items()}
    assert attached["results.json"] == draft_results.read_bytes()
    assert attached["manifest.json"] == (draft_results.parent / "manifest.json").read_bytes()
    # PDF/A-3 associated files, declared on the document
    associated = {ref.idnum for ref in reader.trailer["/Root"]["/AF"]}
    assert len(associated) == 2


def test_outline_lists_every_section(draft_pdf: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(str(draft_pdf["pdf"]))

    def titles(items: list) -> list[str]:
        out = []
        for item in items:
            out.extend(titles(item) if isinstance(item, list) else [item.title])
        return out

    bookmarks = titles(reader.outline)
    for title in SECTION_TITLES:
        assert any(title in b for b in bookmarks), title


def test_endpoint_table_numbers_are_the_results(draft_text: str, results: dict) -> None:
    from validation.report.filters import ci, value

    flat = _squash(draft_text)
    for ep in results["endpoints"]:
        unit = ep["unit"]
        assert _squash(value(ep["estimate"], unit)) in flat, ep["id"]
        assert _squash(ci(ep["ci_low"], ep["ci_high"], unit)) in flat, ep["id"]


def test_same_results_give_the_same_pdf(
    draft_pdf: dict[str, Path], draft_results: Path, tmp_path: Path
) -> None:
    again = render_report(draft_results, tmp_path / "again.pdf")  # a second, separate render
    assert again["pdf"].read_bytes() == draft_pdf["pdf"].read_bytes()


def test_de_novo_report_has_risks_and_510k_does_not(
    draft_text: str, evidence_report: Callable[[str, str], dict[str, Path]]
) -> None:
    de_novo = _pdf_text(evidence_report("draft", "de-novo")["pdf"])
    title = "Risks to health, mitigations and special controls"
    assert title in de_novo
    assert title not in draft_text
    for section in SECTION_TITLES:
        assert section in de_novo, section


def test_missing_manifest_is_a_report_error(draft_results: Path, tmp_path: Path) -> None:
    folder = tmp_path / "analysis"
    folder.mkdir()
    for name in ("results.json", "analysed.csv"):
        (folder / name).write_bytes((draft_results.parent / name).read_bytes())
    with pytest.raises(ReportError, match="manifest"):
        render_report(folder / "results.json", tmp_path / "x.pdf")
