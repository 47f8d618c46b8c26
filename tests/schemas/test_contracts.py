"""The output contracts: the schemas are valid, agree with the code, and name what is wrong.

The schemas of ``validation/schemas`` are the public interface of the documents and tables the
toolkit writes. These tests check that every schema is a valid Draft 2020-12 schema whose
references resolve, that the enumerations and column lists a schema repeats are the code's own
(reason codes, signals, metrics, procedures, table columns), that the test fakes of the reports
follow the contracts, and that a broken document or table fails with a message naming the file,
the JSON path (or row and column) and what was expected.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pytest
from referencing.exceptions import Unresolvable

from tests.surveillance.conftest import _validation_results
from tests.surveillance.fake_surveillance import build_surveillance
from validation.analysis.endpoints import STRATUM_METRICS
from validation.exceptions import AnalysisError, IngestError, ReportError
from validation.ingest.checks import REASONS
from validation.ingest.scan import ACCOUNTING_COLUMNS, AccountingRow, write_accounting
from validation.model.infer import PREDICTION_COLUMNS
from validation.schemas import (
    DOCUMENTS,
    TABLES,
    _registry,
    load_document,
    load_table,
    schema,
    table_columns,
    validate_document,
    validate_table,
)
from validation.surveillance.alerts import SIGNAL_ORDER

SCHEMAS = Path(__file__).resolve().parents[2] / "validation" / "schemas"
SHA = "ab" * 32


# ------------------------------------------------------------------------------- the schemas


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.schema.json")), ids=lambda p: p.name)
def test_every_schema_is_valid_draft_2020_12(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(document)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


@pytest.mark.parametrize("name", [*DOCUMENTS, *TABLES])
def test_every_reference_resolves(name: str) -> None:
    refs = _refs(schema(name))
    resolver = _registry().resolver(base_uri=f"{name}.schema.json")
    for ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable as exc:  # pragma: no cover - the assertion names it
            pytest.fail(f"{name}: {ref} does not resolve ({exc})")
    if name in ("results", "surveillance"):
        assert any(not r.startswith("#") for r in refs), "a cross-file reference is checked"


def test_output_schemas_are_closed_where_the_shape_is_fixed() -> None:
    """Every object with declared properties refuses unknown fields (the model card and the
    protocol's sections are checked by their own schemas, which the output schemas reference)."""
    open_objects = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("properties") and "additionalProperties" not in node:
                open_objects.append(where)
            for key, value in node.items():
                if key not in ("if", "then", "else", "not"):  # conditions, not shapes
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    for name in (*DOCUMENTS, *TABLES):
        walk(schema(name), name)
    assert open_objects == []


def test_results_copy_the_protocols_analysis_section_whole() -> None:
    """results.json ``analysis`` is the protocol's analysis section plus the threshold: the same
    fields, each checked by the protocol's own definition."""
    analysis = schema("results")["properties"]["analysis"]
    protocol = schema("protocol")["properties"]["analysis"]
    assert list(analysis["properties"]) == [*protocol["properties"], "threshold"]
    assert analysis["required"] == [*protocol["required"], "threshold"]
    for key in protocol["properties"]:
        assert analysis["properties"][key] == {
            "$ref": f"protocol.schema.json#/properties/analysis/properties/{key}"
        }


def test_table_columns_are_the_writers_columns() -> None:
    assert table_columns("accounting") == ACCOUNTING_COLUMNS
    assert table_columns("predictions") == PREDICTION_COLUMNS
    for name in TABLES:
        row = schema(name)["items"]
        assert list(row["properties"]) == table_columns(name) == row["required"]


def test_enumerations_are_the_codes_own() -> None:
    codes = list(REASONS)
    assert schema("accounting")["items"]["properties"]["reason"]["enum"] == [None, *codes]
    files = schema("manifest")["properties"]["files"]["items"]["properties"]
    assert files["reason"]["enum"] == ["", *codes]
    flow = schema("results")["$defs"]["flow"]["properties"]
    assert flow["excluded_by_reason"]["propertyNames"]["enum"] == codes
    assert flow["reason_labels"]["propertyNames"]["enum"] == codes
    partition = schema("results")["properties"]["data"]["properties"]["partitions"]["items"]
    assert partition["properties"]["excluded_by_reason"]["propertyNames"]["enum"] == codes
    assert schema("alerts")["$defs"]["alert"]["properties"]["signal"]["enum"] == list(SIGNAL_ORDER)
    assert sorted(schema("results")["$defs"]["metric"]["enum"]) == sorted(STRATUM_METRICS)
    protocol = schema("protocol")
    procedures = protocol["properties"]["multiplicity"]["properties"]["procedure"]["enum"]
    multiplicity = schema("results")["$defs"]["multiplicity"]["properties"]
    assert multiplicity["procedure"]["enum"] == multiplicity["secondary"]["enum"] == procedures
    metrics = protocol["properties"]["endpoints"]["items"]["properties"]["metric"]["enum"]
    assert schema("results")["$defs"]["metric"]["enum"] == metrics


def test_unknown_schema_name_is_refused() -> None:
    with pytest.raises(ValueError, match="no schema named 'result'"):
        schema("result")
    with pytest.raises(ValueError, match="not a table schema"):
        validate_table(pd.DataFrame(), "results", source="x.csv")


# ------------------------------------------------------------------------------- the fakes


def test_report_fake_results_follow_the_contract() -> None:
    """``make_study`` (tests/report/conftest.py) validates what it writes; the copy the
    surveillance tests use passes too."""
    results = _validation_results()
    validate_document(results, "results", source="make_study")
    assert results["lock"]["valid"] is False and "versions" not in results


@pytest.mark.parametrize(
    "options", [{}, {"shift": None}, {"bias_change": False}], ids=["alarm", "quiet", "legacy"]
)
def test_surveillance_fake_follows_the_contract(options: dict[str, Any], tmp_path: Path) -> None:
    from tests.surveillance.fake_surveillance import write_run

    data = build_surveillance(**options)
    source = write_run(tmp_path, data)
    assert load_document(source, "surveillance", error=ReportError) == data
    assert load_document(tmp_path / "alerts.json", "alerts", error=ReportError) == data["alerts"]


# ------------------------------------------------------------------------------- documents


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return copy.deepcopy(_validation_results())


def _problems(data: Any, name: str, tmp_path: Path, **dump: Any) -> str:
    """The message of reading ``data`` back from a file as a report would."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data, **dump), encoding="utf-8")
    with pytest.raises(ReportError) as err:
        load_document(path, name, error=ReportError)
    message = str(err.value)
    assert message.startswith(f"{path} does not match the {name} schema") or "JSON" in message
    return message


def test_a_missing_field_is_named_with_its_path(results: dict, tmp_path: Path) -> None:
    broken = copy.deepcopy(results)
    del broken["protocol"]["sha256"]
    del broken["endpoints"][1]["verdict"]
    message = _problems(broken, "results", tmp_path)
    assert f"{tmp_path / 'results.json'}: protocol.sha256 is missing (required)" in message
    assert "endpoints[1].verdict is missing (required)" in message


def test_a_wrong_type_names_what_was_expected(results: dict, tmp_path: Path) -> None:
    broken = copy.deepcopy(results)
    broken["endpoints"][0]["estimate"] = "0.53"
    broken["flow"]["received"] = 12.5
    message = _problems(broken, "results", tmp_path)
    assert "endpoints[0].estimate expected number or null, got '0.53'" in message
    assert "flow.received expected integer, got 12.5" in message


def test_nan_written_as_text_or_as_a_bare_token_fails(results: dict, tmp_path: Path) -> None:
    broken = copy.deepcopy(results)
    broken["agreement"]["bias"] = "NaN"
    assert "agreement.bias expected number or null, got 'NaN'" in _problems(
        broken, "results", tmp_path
    )
    broken["agreement"]["bias"] = float("nan")  # json.dumps writes the bare token NaN
    message = _problems(broken, "results", tmp_path)
    assert "is not valid JSON" in message and "NaN is not a JSON number" in message
    with pytest.raises(AnalysisError, match=r"agreement\.bias expected a finite number or null"):
        validate_document(broken, "results", source="results.json")


def test_an_unknown_verdict_lists_the_verdicts(results: dict, tmp_path: Path) -> None:
    broken = copy.deepcopy(results)
    broken["endpoints"][2]["verdict"] = "MAYBE"
    broken["overall_verdict"] = "NOT EVALUABLE"
    message = _problems(broken, "results", tmp_path)
    assert (
        "endpoints[2].verdict expected one of PASS, FAIL, NOT EVALUABLE, NOT TESTED, got 'MAYBE'"
        in message
    )
    assert "overall_verdict expected one of PASS, FAIL, got 'NOT EVALUABLE'" in message


def test_an_unknown_field_is_refused(results: dict, tmp_path: Path) -> None:
    broken = copy.deepcopy(results)
    broken["strata"][3]["p_value"] = 0.2
    broken["comparison_extra"] = {}
    message = _problems(broken, "results", tmp_path)
    assert "strata[3].p_value is not a field of the schema" in message
    assert "comparison_extra is not a field of the schema" in message


def test_the_not_estimable_form_is_accepted_and_a_partial_block_is_not(
    results: dict, tmp_path: Path
) -> None:
    ok = copy.deepcopy(results)
    ok["agreement"], ok["classification"] = {"n": 2}, {"n": 0}
    validate_document(ok, "results", source="results.json")
    broken = copy.deepcopy(results)
    del broken["agreement"]["sd"]
    broken["lock"] = {**broken["lock"], "status": "valid", "valid": True}
    message = _problems(broken, "results", tmp_path)
    assert "agreement matches none of its 2 allowed forms; closest: agreement.sd is missing" in (
        message
    )
    # the lock's status names its form: the valid lock lacks its file and record
    assert "lock matches none of its 2 allowed forms; closest: lock.file is missing" in message
    assert "lock.record is missing (required)" in message


def test_a_map_key_outside_the_codes_is_named(results: dict, tmp_path: Path) -> None:
    broken = copy.deepcopy(results)
    broken["flow"]["excluded_by_reason"]["phi_burned_in"] = 1
    message = _problems(broken, "results", tmp_path)
    assert "flow.excluded_by_reason has the key 'phi_burned_in', which is not allowed" in message


def test_surveillance_problems_are_named_as_the_reports_expect(tmp_path: Path) -> None:
    data = build_surveillance()
    broken = copy.deepcopy(data)
    broken["false_alarm"].pop("statement")
    broken["alerts"][1].pop("onset")
    broken.update(schema_version=2, status="OK")
    broken["performance"][0]["bias_ci"] = [0.1]
    message = _problems(broken, "surveillance", tmp_path)
    source = tmp_path / "surveillance.json"
    for line in (
        "false_alarm.statement is missing (required)",
        "alerts[1].onset is missing (required)",
        "schema_version expected one of 1, got 2",
        "status expected one of ALARM, NO ALARM, got 'OK'",
        "performance[0].bias_ci: [0.1] is too short",
    ):
        assert f"{source}: {line}" in message


def test_a_version_key_is_quoted_in_the_path(results: dict) -> None:
    analyses = {"1.1.0": {"role": "released"}}
    with pytest.raises(AnalysisError) as err:
        validate_document(
            {**results, "versions": {"released": "1.0.0", "models": [], "analyses": analyses}},
            "results",
            source="results.json",
        )
    assert "results.json: comparison is missing (required with versions)" in str(err.value)
    assert 'versions.analyses["1.1.0"].flow is missing (required)' in str(err.value)


def test_missing_and_unreadable_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"surveillance file .*nothing\.json does not exist"):
        load_document(tmp_path / "nothing.json", "surveillance", error=ReportError)
    bad = tmp_path / "alerts.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match=r"alerts file .*alerts\.json is not valid JSON"):
        load_document(bad, "alerts", error=ReportError)


def test_the_message_lists_at_most_a_dozen_problems(results: dict) -> None:
    broken = copy.deepcopy(results)
    for row in broken["strata"]:
        row.pop("n")
    with pytest.raises(AnalysisError) as err:
        validate_document(broken, "results", source="results.json")
    lines = str(err.value).splitlines()
    assert len(lines) == 1 + 12 + 1
    assert lines[-1] == f"(and {len(broken['strata']) - 12} more)"


# ------------------------------------------------------------------------------- tables


def _predictions(n: int = 4) -> pd.DataFrame:
    """A predictions table as ``mval infer`` writes it (read back as text)."""
    rows = []
    for i in range(n):
        rejected = i == n - 1
        rows.append(
            {
                "site": "s01",
                "vendor": "GE",
                "sop_instance_uid": f"1.2.3.{i}",
                "study_instance_uid": f"1.2.4.{i}",
                "file_sha256": "" if rejected else SHA,
                "status": "quality_rejected" if rejected else "predicted",
                "detail": "ValueError: no frames" if rejected else "",
                "measurement": "" if rejected else f"{10 + i:.4f}",
                "probability": "" if rejected else "0.250000",
                "model_name": "ivsd-cnn",
                "model_version": "1.0.0",
                "model_sha256": SHA,
            }
        )
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def _table_problems(frame: pd.DataFrame, name: str, tmp_path: Path) -> str:
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ReportError) as err:
        load_table(path, name, error=ReportError)
    message = str(err.value)
    assert message.startswith(f"{path} does not match the {name} schema")
    return message


def test_a_valid_table_passes_read_back_or_in_memory(tmp_path: Path) -> None:
    frame = _predictions()
    frame.to_csv(tmp_path / "p.csv", index=False)
    assert load_table(tmp_path / "p.csv", "predictions").equals(frame.fillna(""))
    typed = frame.assign(
        measurement=pd.to_numeric(frame["measurement"]), probability=[0.25, 0.25, 0.25, None]
    )
    validate_table(typed, "predictions", source="in memory")


def test_a_missing_or_unexpected_column_is_named(tmp_path: Path) -> None:
    frame = _predictions().drop(columns=["model_sha256"]).assign(extra="x")
    message = _table_problems(frame, "predictions", tmp_path)
    assert "missing column(s) model_sha256" in message
    assert "unexpected column(s) extra (not in the schema)" in message


def test_columns_out_of_order_are_refused(tmp_path: Path) -> None:
    columns = PREDICTION_COLUMNS[1:] + PREDICTION_COLUMNS[:1]
    message = _table_problems(_predictions()[columns], "predictions", tmp_path)
    assert "columns out of order: expected site, vendor, sop_instance_uid" in message


def test_a_bad_value_is_named_with_row_and_column(tmp_path: Path) -> None:
    frame = _predictions(6)
    frame.loc[2, "status"] = "maybe"
    frame.loc[4, "status"] = "unsure"
    frame.loc[1, "probability"] = "1.5"
    frame.loc[0, "measurement"] = "nan"
    frame.loc[3, "model_sha256"] = "not-a-hash"
    message = _table_problems(frame, "predictions", tmp_path)
    source = tmp_path / "predictions.csv"
    expected = (
        "column 'status', row 3 (line 4): expected one of predicted, quality_rejected, got "
        "'maybe' (1 more row(s))",
        "column 'probability', row 2 (line 3): expected maximum 1, got '1.5'",
        "column 'measurement', row 1 (line 2): expected number or null, got 'nan'",
        "column 'model_sha256', row 4 (line 5): expected text matching ^[0-9a-f]{64}$, got "
        "'not-a-hash'",
    )
    for line in expected:
        assert f"{source}: {line}" in message


def test_rules_between_columns_are_checked(tmp_path: Path) -> None:
    frame = _predictions()
    frame.loc[1, ["measurement", "probability"]] = ""  # a predicted study without outputs
    frame.loc[2, "measurement"] = ""  # one output is enough (a probability-only model)
    frame.loc[3, "probability"] = "0.4"  # a rejected study with a score
    message = _table_problems(frame, "predictions", tmp_path)
    assert (
        "column 'measurement', row 2 (line 3): expected a value in one of measurement, "
        "probability, got an empty cell (rows with status = predicted)" in message
    )
    assert "row 3 (line 4)" not in message
    assert (
        "column 'probability', row 4 (line 5): expected null, got '0.4' "
        "(rows with status = quality_rejected)" in message
    )


def _json_rows(frame: pd.DataFrame, name: str) -> list[dict[str, Any]]:
    """The rows as the table schema describes them: empty cells null, values typed."""
    properties = schema(name)["items"]["properties"]
    rows = []
    for record in frame.to_dict(orient="records"):
        row = {}
        for column, text in record.items():
            kinds = properties.get(column, {}).get("type", "string")
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if text == "":
                row[column] = None
            elif "integer" in kinds and re.fullmatch(r"-?\d+", text):
                row[column] = int(text)
            elif "number" in kinds and re.fullmatch(r"-?[\d.]+(e[+-]?\d+)?", text):
                row[column] = float(text)
            else:
                row[column] = text
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("column", "row", "value", "refused"),
    [
        (None, None, None, False),
        ("status", 0, "maybe", True),
        ("measurement", 0, "", False),  # a probability is output: one output is enough
        ("measurement", 0, "x", True),
        ("detail", 3, "", True),
        ("probability", 1, "-0.1", True),
        ("file_sha256", 2, "ABC", True),
        ("site", 1, "", True),
    ],
)
def test_the_vectorised_check_agrees_with_jsonschema(
    column: str | None, row: int | None, value: str | None, refused: bool
) -> None:
    """The table schemas are JSON Schemas of the parsed rows: jsonschema on the rows and the
    vectorised check accept and refuse the same tables."""
    frame = _predictions()
    if column is not None:
        frame.loc[row, column] = value
    refused_by_jsonschema = not jsonschema.Draft202012Validator(schema("predictions")).is_valid(
        _json_rows(frame, "predictions")
    )
    try:
        validate_table(frame, "predictions", source="p.csv")
        refused_by_us = False
    except AnalysisError:
        refused_by_us = True
    assert refused_by_us is refused_by_jsonschema is refused


def test_accounting_rules_follow_the_status(tmp_path: Path) -> None:
    rows = [
        AccountingRow(site="s01", vendor="GE", path="a.dcm", sop_instance_uid="1.2", status="x"),
        AccountingRow(site="s01", vendor="GE", path="b.dcm", status="excluded", reason=""),
        AccountingRow(site="s01", vendor="GE", path="c.dcm", status="excluded", reason="nope"),
    ]
    target = tmp_path / "ingest" / "accounting.csv"
    with pytest.raises(IngestError) as err:
        write_accounting(rows, target)
    message = str(err.value)
    assert "column 'status', row 1 (line 2): expected one of included, excluded, got 'x'" in (
        message
    )
    assert "column 'reason', row 3 (line 4): expected one of null, unreadable" in message
    assert (
        "column 'reason', row 2 (line 3): expected string, got an empty cell "
        "(rows with status = excluded)" in message
    )
    assert not target.exists()  # an invalid table is never written


def test_a_written_accounting_table_reads_back_valid(tmp_path: Path) -> None:
    rows = [
        AccountingRow(
            site="s01",
            vendor="GE",
            path="a.dcm",
            sop_instance_uid="1.2.1",
            study_instance_uid="1.2",
            status="included",
            patient_age="61",
            patient_bmi="27.4",
            spacing_mm="0.2500x0.2500",
            frames="16",
            file_bytes=1024,
        ),
        AccountingRow(
            site="s01", vendor="GE", path="b.txt", reason="not_dicom", detail="no preamble"
        ),
    ]
    write_accounting(rows, tmp_path / "accounting.csv")
    table = load_table(tmp_path / "accounting.csv", "accounting")
    assert table["status"].tolist() == ["included", "excluded"]


def test_a_large_table_is_checked_in_one_pass() -> None:
    """50,000 predictions, one bad row at the end: found and counted."""
    frame = pd.concat([_predictions(2)] * 25_000, ignore_index=True)
    frame.loc[49_999, "model_version"] = ""
    with pytest.raises(AnalysisError) as err:
        validate_table(frame, "predictions", source="big.csv")
    assert (
        "column 'model_version', row 50000 (line 50001): expected string, got an empty cell"
        in str(err.value)
    )
