"""The surveillance report reads ``surveillance.json`` through its written contract
(``validation/schemas/surveillance.schema.json``): a broken file is refused with the field
named, the status must agree with the alerts, and the optional records the engine writes are
shown when present."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.surveillance.fake_surveillance import build_surveillance
from validation.exceptions import ReportError
from validation.report.surveillance import (
    build_surveillance_context,
    check_surveillance,
    render_surveillance_html,
)
from validation.schemas import schema


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["false_alarm"].pop("statement"), "false_alarm.statement"),
        (lambda d: d["alerts"][1].pop("onset"), r"alerts\[1\]\.onset"),
        (
            lambda d: d["segments"][0]["series"].pop("output_mean"),
            r"segments\[0\]\.series\.output_mean",
        ),
        (lambda d: d.update(schema_version=2), "schema_version expected one of"),
        (lambda d: d.update(status="OK"), "status expected one of ALARM, NO ALARM, got .*'OK'"),
        (lambda d: d.update(status="NO ALARM"), "contradicts its 3 alert"),
        (lambda d: d["bias_change"]["months"][0].pop("t"), r"bias_change\.months\[0\]\.t"),
        (lambda d: d["bias_change"]["segments"][1].pop("limit"), r"bias_change\.segments\[1\]"),
    ],
)
def test_bad_input_is_named(data: dict, edit: Any, message: str) -> None:
    broken = copy.deepcopy(data)
    edit(broken)
    with pytest.raises(ReportError, match=message):
        check_surveillance(broken)
    with pytest.raises(ReportError, match=message):
        build_surveillance_context(broken)


def test_the_schema_covers_the_contract(data: dict) -> None:
    contract = schema("surveillance")
    assert set(contract["properties"]) == set(data)  # every top-level key of the contract
    assert set(contract["required"]) == set(build_surveillance(bias_change=False))  # optional


def test_engine_extras_are_used_when_present(data: dict) -> None:
    """Records the engine writes that the report shows when they differ from the defaults:
    the CI level, the alarm level, an unnamed model whose hash does not match the baseline's."""
    extended = copy.deepcopy(data)
    for row in extended["performance"]:
        row.update(confidence=0.9, alarm_confidence=0.9994)
    extended["model"].update(name=None, matches_baseline=False)
    markup = render_surveillance_html(build_surveillance_context(extended))
    assert "(90% CI)" in markup and "(95% CI)" not in markup
    assert "99.940% interval" in " ".join(markup.split())
    assert "does not match the validated model" in markup and "unknown model" in markup
    for row in extended["performance"][:1]:
        row["confidence"] = 0.95
    with pytest.raises(ReportError, match="mix confidence levels"):
        build_surveillance_context(extended)
