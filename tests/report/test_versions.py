"""The model version comparison section (modification protocol): present only with a comparison,
its tables are the results' rows and verdicts, its limits follow the margins' directions.

The comparison in the fixture is made by the real analysis (``compare_versions``) on a synthetic
study whose candidate version removes the Canon over-read: like the demo, it improves the Canon
bias but widens the Canon lower limit of agreement beyond the margin, and fails.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest

from validation.report import build_context, load_results, render_evidence_html
from validation.report.evidence import evidence_sections
from validation.report.evidence.versions import limit, status, versions_context
from validation.report.filters import diff, diff_ci, utc


@pytest.fixture(scope="module")
def results(versions_results: Path) -> dict[str, Any]:
    return json.loads(versions_results.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def context(versions_results: Path) -> dict[str, Any]:
    data, table = load_results(versions_results)
    return build_context(data, table, kind="510k")


@pytest.fixture(scope="module")
def page(context: dict[str, Any]) -> str:
    return render_evidence_html(context)


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


def _section(markup: str, section: str) -> str:
    start = markup.index(f'<section id="sec-{section}"')
    return markup[start : markup.index("</section>", start)]


def _rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    return results["comparison"]["results"][0]["rows"]


# ---------------------------------------------------------------------------------------------
# Presence
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["510k", "de-novo"])
def test_section_only_with_a_comparison(draft_results: Path, versions_results: Path, kind: str):
    single, single_table = load_results(draft_results)
    assert "comparison" not in single
    assert versions_context(single) == {"versions": None}
    assert evidence_sections(kind, single) == evidence_sections(kind)
    markup = render_evidence_html(build_context(single, single_table, kind=kind))
    plain = markup[markup.index("<body") :]  # the stylesheet names every section
    assert 'id="sec-versions"' not in plain and "Model version comparison" not in plain
    assert "Locked model versions" not in plain and "Candidate 1.1.0" not in plain

    data, table = load_results(versions_results)
    ids = [s["id"] for s in evidence_sections(kind, data)]
    assert ids.index("versions") == ids.index("quality-gate") + 1
    assert ids.index("benefit-risk") == ids.index("versions") + 1
    markup = render_evidence_html(build_context(data, table, kind=kind))
    section = _section(markup, "versions")
    assert '<h2 class="numbered">Model version comparison (modification protocol)</h2>' in section


# ---------------------------------------------------------------------------------------------
# Tables and verdicts
# ---------------------------------------------------------------------------------------------


def test_versions_table_lists_every_locked_version(context, results, page):
    text = _text(_section(page, "versions"))
    shown = context["versions"]["models"]
    assert [m["version"] for m in shown] == ["1.0.0", "1.1.0"]
    for model in results["versions"]["models"]:
        assert model["sha256"] in text and model["state_sha256"] in text
        assert utc(model["locked_utc"]) in text
    assert "development cohort extended with Canon studies" in text
    control = _text(_section(page, "control"))
    for model in results["versions"]["models"]:
        assert f"{model['version']} ({model['role']}), locked {utc(model['locked_utc'])}" in control
        assert model["sha256"] in control
    assert results["versions"]["models"][1]["sha256"] in _text(_section(page, "traceability"))


def test_pooled_rows_are_the_results(context, results):
    candidate = context["versions"]["candidates"][0]
    pooled = [r for r in _rows(results) if r["dimension"] == "all"]
    assert [r["endpoint"] for r in candidate["pooled"]] == [r["endpoint"] for r in pooled]
    for shown, row in zip(candidate["pooled"], pooled, strict=True):
        assert shown["difference"] == row["difference"]
        assert (shown["ci_low"], shown["ci_high"]) == (row["ci_low"], row["ci_high"])
        assert (shown["released"], shown["candidate"]) == (
            row["released"],
            row["candidate_estimate"],
        )
        assert shown["verdict"]["text"] == row["verdict"]
        assert shown["adjusted_p"] == row["adjusted_p"]


def test_impact_table_shows_each_endpoint_with_its_verdict(context, results, page):
    section = _section(page, "versions")
    table = section[section.index("Impact assessment, all studies") :]
    table = table[: table.index("</table>")]
    body = table[table.index("<tbody>") :]
    units = {r["endpoint"]: r["unit"] for r in context["versions"]["candidates"][0]["pooled"]}
    rows = body.split("<tr")[1:]
    pooled = [r for r in _rows(results) if r["dimension"] == "all"]
    assert len(rows) == len(pooled)
    for markup, row in zip(rows, pooled, strict=True):
        text = _text("<tr" + markup)
        unit = units[row["endpoint"]]
        assert text.startswith(row["label"])
        assert diff(row["difference"], unit) in text
        assert diff_ci(row["ci_low"], row["ci_high"], unit) in text
        assert diff(row["margin"], unit, sign=False) in text
        assert text.endswith(row["verdict"]), (row["endpoint"], text)
        css = {"NON-INFERIOR": "pass", "NOT NON-INFERIOR": "fail", "NOT TESTED": "not-tested"}
        assert f'class="verdict {css[row["verdict"]]}"' in markup
    sens = next(r for r in pooled if r["endpoint"] == "lvh-sensitivity")
    assert sens["verdict"] == "NOT NON-INFERIOR"  # the fixture's honest failure, as in the demo
    failing = [r for r in rows if 'class="row-fail"' in r]
    assert len(failing) == 1 and "LVH sensitivity" in failing[0]


def test_judged_strata_table_and_failures(context, results, page):
    candidate = context["versions"]["candidates"][0]
    judged = [r for r in _rows(results) if r["dimension"] != "all" and r["judged"]]
    assert [(r["endpoint"], r["stratum"]) for r in candidate["judged"]] == [
        (r["endpoint"], r["stratum"]) for r in judged
    ]
    section = _section(page, "versions")
    table = section[section.index("Comparisons the protocol judges stratum by stratum") :]
    table = table[: table.index("</table>")]
    assert table.count('class="verdict fail"') == sum(r["noninferior"] is False for r in judged)
    assert table.count('class="verdict pass"') == sum(r["noninferior"] is True for r in judged)
    expected = [
        f"IVSd lower 95% limit of agreement (ultrasound vendor {r['stratum']})"
        for r in judged
        if r["noninferior"] is False
    ]
    assert expected and set(expected) <= set(candidate["failing"])
    assert "LVH sensitivity" in candidate["failing"]
    assert "LVH sensitivity (ultrasound vendor Canon)" in candidate["worse_not_judged"]


def test_limit_follows_the_direction_of_the_margin(context, results):
    assert limit("higher", 0.05) == -0.05
    assert limit("lower", 0.2) == 0.2
    assert limit("closer to zero", 0.3) == 0.3
    assert limit("higher", None) is None
    for shown in context["versions"]["candidates"][0]["pooled"]:
        row = next(
            r
            for r in _rows(results)
            if r["endpoint"] == shown["endpoint"] and r["stratum"] == "all"
        )
        expected = -row["margin"] if row["better"] == "higher" else row["margin"]
        assert shown["limit"] == expected
        assert shown["side"] == ("lower" if row["better"] == "higher" else "upper")
        # the bound the analysis judged on names the same side and limit
        assert row["bound"].startswith(shown["side"])


def test_status_of_each_row() -> None:
    base = {"difference": 0.1, "judged": True, "noninferior": True, "verdict": "NON-INFERIOR"}
    assert status(base) == "pass"
    assert status({**base, "noninferior": False, "verdict": "NOT NON-INFERIOR"}) == "fail"
    assert status({**base, "verdict": "NOT TESTED"}) == "untested"
    assert status({**base, "judged": False}) == "descriptive"
    assert status({**base, "judged": False, "noninferior": False}) == "descriptive-fail"
    assert status({**base, "difference": None, "verdict": "NOT EVALUABLE"}) == "na"


def test_goals_table_shows_both_versions(context, results, page):
    goals = context["versions"]["candidates"][0]["goals"]
    analysis = results["versions"]["analyses"]["1.1.0"]
    assert [r["label"] for r in goals["rows"]] == [e["label"] for e in results["endpoints"]]
    for row, ep in zip(goals["rows"], analysis["endpoints"], strict=True):
        assert row["candidate"]["estimate"] == ep["estimate"]
        assert row["candidate"]["verdict"]["text"] == ep["verdict"]
    assert goals["candidate_verdict"]["text"] == analysis["acceptance"]["verdict"]
    released = (results.get("acceptance") or {}).get("verdict", results["overall_verdict"])
    assert goals["released_verdict"]["text"] == released
    assert "Each version against the pre-specified performance goals" in page


def test_conclusion_is_the_results_text_and_summary_mentions_the_verdict(results, page):
    conclusion = results["comparison"]["results"][0]["conclusion"]
    assert results["comparison"]["results"][0]["verdict"] == "FAIL"
    assert html.escape(conclusion, quote=False) in _section(page, "versions")
    summary = _text(_section(page, "summary"))
    assert (
        "Modification protocol: candidate version 1.1.0 FAIL against the released version 1.0.0"
        in (summary)
    )
    assert "must not replace the released version" in summary
    submission = _text(_section(page, "submission-summary"))
    assert "candidate version 1.1.0 FAIL was not shown non-inferior" in submission
    assert "Candidate 1.1.0 FAIL against 1.0.0" in _text(page[: page.index("</header>")])


def test_a_passing_candidate_reads_as_such(results, versions_results):
    data, table = load_results(versions_results)
    comparison = dict(data["comparison"])
    passed = {**comparison["results"][0], "verdict": "PASS", "failing": []}
    data = {**data, "comparison": {**comparison, "results": [passed]}}
    summary = _text(_section(render_evidence_html(build_context(data, table)), "summary"))
    assert "candidate version 1.1.0 PASS against the released version 1.0.0, non-inferior" in (
        summary
    )
    assert "must not replace" not in summary


def test_figures_are_drawn(context):
    figs = context["versions"]["candidates"][0]["figures"]
    assert [f["id"] for f in figs] == ["versions-1.1.0-measurement", "versions-1.1.0-accuracy"]
    for fig in figs:
        assert fig["src"].startswith("data:image/svg+xml;base64,")
        assert "non-inferiority limit" in fig["caption"]


# ---------------------------------------------------------------------------------------------
# The PDF
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["510k", "de-novo"])
def test_pdf_has_the_section(
    evidence_report: Callable[[str, str], dict[str, Path]], kind: str
) -> None:
    out = evidence_report("versions", kind)
    reader = pypdf.PdfReader(str(out["pdf"]))
    pages = [re.sub(r"\s+", " ", p.extract_text() or "") for p in reader.pages]
    start = next(
        i
        for i, p in enumerate(pages)
        if "Model version comparison (modification protocol)" in p and "Contents" not in p
    )
    number = re.search(r"(\d+) Model version comparison \(modification protocol\)", pages[start])
    quality = next(i for i, p in enumerate(pages) if re.search(r"\d+ Quality-gate analysis", p))
    assert number and start > quality
    quality_no = re.search(r"(\d+) Quality-gate analysis", pages[quality])
    assert quality_no and int(number.group(1)) == int(quality_no.group(1)) + 1
    text = " ".join(pages[start:])
    assert "Impact assessment of version 1.1.0" in text
    assert "NOT NON-INFERIOR" in text
