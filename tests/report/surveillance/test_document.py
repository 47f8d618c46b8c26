"""The surveillance report as a document: the PDF/A-3b with the HTML beside it, its sections,
running header and attachments, its templates and stylesheet, and the variants that render a
report of their own (in control without alerts.json; a run without the audited-bias change).

No published reference values are involved: the tests check that what the JSON says is what
the PDF shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pypdf
import pytest

from tests.report.surveillance.conftest import outline_titles, pdf_text, squash, table_rows
from tests.surveillance.fake_surveillance import build_surveillance, write_run
from validation.exceptions import ReportError
from validation.report.surveillance import (
    build_surveillance_context,
    render_surveillance_html,
    render_surveillance_report,
    surveillance_sections,
)

PROJECT = Path(__file__).resolve().parents[3]

SECTION_TITLES = tuple(s["title"] for s in surveillance_sections())


@pytest.mark.slow
def test_writes_pdf_and_html_beside_it(run: dict[str, Path], html: str) -> None:
    pdf, page = run["pdf"], run["html"]
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    assert page == pdf.with_suffix(".html") and page.is_file()
    markup = page.read_text(encoding="utf-8")
    assert markup == html  # the HTML beside the PDF is the rendered HTML
    assert '<body class="surveillance status-alarm">' in markup
    assert markup.count("data:image/svg+xml;base64,") >= 6  # CUSUM, EWMA, drift, bias, T, alert


@pytest.mark.slow
def test_every_section_is_in_the_pdf_and_its_outline(run: dict[str, Path], text: str) -> None:
    for title in SECTION_TITLES:
        assert title in text, title
    bookmarks = outline_titles(run["pdf"])
    for title in SECTION_TITLES:
        assert any(title in b for b in bookmarks), title


@pytest.mark.slow
def test_pages_have_running_header_status_and_page_x_of_y(run: dict[str, Path], data: dict) -> None:
    reader = pypdf.PdfReader(str(run["pdf"]))
    n = len(reader.pages)
    assert n > 8
    first, last = reader.pages[0].extract_text(), reader.pages[-1].extract_text()
    assert f"Page 1 of {n}" in first and f"Page {n} of {n}" in last
    assert data["run_id"] in last  # report id in the running header
    assert "Status: ALARM" in last  # the status in the running footer


@pytest.mark.slow
def test_pdf_declares_pdf_a_3b(run: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(str(run["pdf"]))
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "/OutputIntents" in reader.trailer["/Root"]


@pytest.mark.slow
def test_surveillance_and_alerts_json_are_embedded(run: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(str(run["pdf"]))
    attached = {name: content[0] for name, content in reader.attachments.items()}
    assert attached == {
        "surveillance.json": run["json"].read_bytes(),
        "alerts.json": run["alerts"].read_bytes(),
    }
    assert len({ref.idnum for ref in reader.trailer["/Root"]["/AF"]}) == 2


@pytest.mark.slow
def test_control_block_shows_hashes_in_full(text: str, data: dict) -> None:
    flat = squash(text)
    for digest in (data["protocol"]["sha256"], data["model"]["sha256"], data["baseline"]["sha256"]):
        assert digest in flat
    for source in data["baseline"]["sources"]:
        assert source["sha256"] in flat
    assert "Data as of 2027-06" in text and "2026-07 to 2027-06" in text
    assert "mval " in text


def test_css_is_scoped_to_the_surveillance_body() -> None:
    css = (PROJECT / "reports" / "css" / "surveillance.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    selectors = [
        s.strip() for block in re.findall(r"([^{}]+)\{[^{}]*\}", css) for s in block.split(",")
    ]
    assert selectors
    assert all(s.startswith("body.surveillance") for s in selectors), [
        s for s in selectors if not s.startswith("body.surveillance")
    ]


def test_templates_format_every_number(html: str) -> None:
    body = re.sub(r"<(style|script)>.*?</\1>", "", html, flags=re.S)
    body = re.sub(r'src="data:[^"]+"', "", body)
    visible = re.sub(r"<[^>]+>", " ", body)
    # per-stream levels such as 0.00064 need 5 decimals; an unformatted float shows many more
    raw = re.findall(r"(?<![\d.])\d+\.\d{6,}(?![\d.])", visible)
    assert not raw, raw[:5]
    assert "None" not in visible.split() and "nan" not in visible.split()
    tables = len(re.findall(r"<table class=\"(?:data|kv|signatures)", html))
    assert tables == len(re.findall(r"<caption>", html))


# ---------------------------------------------------------------------------------------------
# variants: each needs a report built from other data
# ---------------------------------------------------------------------------------------------


def test_report_without_bias_change_says_it_was_not_run() -> None:
    """Its own report (HTML only: nothing here depends on the PDF's layout): a run without the
    audited-bias change (an older surveillance.json)."""
    data = build_surveillance(bias_change=False)
    assert "bias_change" not in data and "bias_streams" not in data["false_alarm"]
    markup = render_surveillance_html(build_surveillance_context(data))
    flat = " ".join(re.sub(r"<[^>]+>", " ", markup).split())
    assert "Change of the audited bias since validation" in flat
    assert "The change of the audited bias since validation was not run" in flat
    assert f"Every month {data['false_alarm']['streams']} monitoring streams are checked" in flat
    assert "audited-bias streams" not in flat and "Audited-bias limits" not in flat
    assert "sv-bias-change" not in markup and "fig-bias-change" not in markup
    # an alert without recorded variables keeps its audited performance as evidence
    assert table_rows(markup, "sv-perf") and not table_rows(markup, "sv-bias-evidence")


@pytest.mark.slow
def test_no_alarm_report_without_alerts_file(tmp_path: Path) -> None:
    """Its own PDF: an in-control history, and a folder without alerts.json to attach."""
    data = build_surveillance(shift=None)
    source = write_run(tmp_path, data, with_alerts=False)
    out = render_surveillance_report(source, tmp_path / "surveillance-report.pdf")
    text = pdf_text(out["pdf"])
    assert "NO ALARM" in text and "No alerts were raised" in text
    assert "Status: NO ALARM" in pypdf.PdfReader(str(out["pdf"])).pages[-1].extract_text()
    reader = pypdf.PdfReader(str(out["pdf"]))
    assert set(reader.attachments) == {"surveillance.json"}


def test_missing_file_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="not found"):
        render_surveillance_report(tmp_path / "surveillance.json", tmp_path / "r.pdf")
    bad = tmp_path / "surveillance.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match="not valid JSON"):
        render_surveillance_report(bad, tmp_path / "r.pdf")
