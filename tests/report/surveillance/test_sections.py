"""The surveillance report's sections show what ``surveillance.json`` says: the status and the
stated false-alarm rate, every alert row, the census, the audited performance and the drift.

The HTML tables are read from the rendered HTML (no PDF); the checks that the same rows and
statements reach the PDF use the session's rendered PDF (slow tier).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.report.surveillance.conftest import squash, table_rows
from tests.surveillance.fake_surveillance import MONTHS
from validation.report.filters import num, pct
from validation.report.segments import segment_label


def _alert_rows(data: dict[str, Any]) -> list[list[str]]:
    """The alert table's rows as the JSON says them."""
    names = {
        "header": "DICOM header change",
        "output_mean": "Output drift: mean IVSd (CUSUM)",
        "performance": "Performance on the audited subset",
    }
    digits = {"header": 0}
    return [
        [
            str(i + 1),
            segment_label(a["site"], a["vendor"]),
            names[a["signal"]],
            a["onset"],
            num(a["statistic"], digits.get(a["signal"], 2)),
            num(a["threshold"], digits.get(a["signal"], 2)),
            a["evidence"],
        ]
        for i, a in enumerate(data["alerts"])
    ]


def test_alert_rows_equal_the_json(html: str, data: dict) -> None:
    assert table_rows(html, "sv-alerts") == _alert_rows(data)


@pytest.mark.slow
def test_alert_rows_are_in_the_pdf(text: str, data: dict) -> None:
    flat = squash(text)
    for row in _alert_rows(data):
        assert squash("".join(row[1:])) in flat, row  # the same row, in order, in the PDF


@pytest.mark.slow
def test_status_and_stated_false_alarm_rate(text: str, data: dict) -> None:
    fa = data["false_alarm"]
    assert "ALARM" in text
    flat = squash(text)
    assert squash(f"at most {pct(fa['familywise_alpha'], 1)}") in flat
    assert (
        squash(
            f"Every month {fa['streams']} streams of weight 1 and {fa['bias_streams']} "
            "audited-bias streams are checked"
        )
        in flat
    )
    assert squash(f"h = {num(fa['charts']['cusum']['h'], 3)}") in flat
    assert squash(f"L = {num(fa['charts']['ewma']['L'], 3)}") in flat
    assert squash(fa["statement"]) in flat


def test_census_counts_and_new_software_version(html: str, data: dict) -> None:
    ge = next(r for r in table_rows(html, "sv-matrix") if r[0] == "s02 \u00b7 GE")
    assert ge[1:13] == ["10"] * 12 and ge[13] == "120"
    philips = next(r for r in table_rows(html, "sv-matrix") if r[0] == "s01 \u00b7 Philips")
    assert philips[1 + MONTHS.index("2026-11")] == "\u2013"  # the missing batch
    versions = table_rows(html, "sv-versions")
    upgrade = next(r for r in versions if r[1].startswith("GE v1.0 upgrade"))
    assert upgrade[0] == "s02 \u00b7 GE" and upgrade[1].endswith("new")


def test_performance_shows_goal_missed(html: str, data: dict) -> None:
    flagged = table_rows(html, "sv-perf")
    alarmed = [r for r in flagged if r[0] == "s02 \u00b7 GE" and "alarm" in r[-1]]
    assert alarmed and all("\u2717" in r[3] for r in alarmed)  # the bias cell marks the goal missed
    assert {r[1] for r in alarmed} >= {"2027-01", "2027-02", "2027-03"}


@pytest.mark.slow
def test_performance_shows_pending_months(text: str) -> None:
    assert "Months still awaiting labels: 2027-04, 2027-05, 2027-06" in " ".join(text.split())


def test_drift_separates_rejection_from_material_change(html: str) -> None:
    rows = table_rows(html, "sv-drift")
    # the pooled age test rejects on a trivial effect (large sample): listed, not material, no alarm
    assert [r[:2] for r in rows] == [["2027-02", "All sites and vendors"]]
    trivial = rows[0]
    assert trivial[5].startswith("< 0.001*") and trivial[8] == "no"
    assert trivial[7] == "no (KS D \u2265 0.20 and PSI \u2265 0.25)"
    # s01 / GE's BMI in 2027-05 is a material change whose test does not reject: counted only
    summary = {r[0]: r for r in table_rows(html, "sv-drift-summary")}
    assert summary["BMI"][2] == "KS D \u2265 0.20 and PSI \u2265 0.25"
    assert summary["BMI"][4:7] == ["0", "1", "0"]  # rejected, material, alarms
    assert summary["Age"][4:7] == ["1", "0", "0"]
    assert summary["Sex"][2] == "Cram\u00e9r's V \u2265 0.20"
