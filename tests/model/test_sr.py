"""The model's outputs as a TID 1500 Measurement Report SR: content, validity, export, STOW-RS."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import pandas as pd
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient

from tests.orthanc import OrthancServer, require
from tests.outputs import sr_items
from validation.exceptions import IngestError, ModelIntegrityError
from validation.ingest.scan import scan_partition, write_accounting
from validation.model.infer import PREDICTION_COLUMNS
from validation.model.sr import (
    PRIVATE_SCHEME,
    build_measurement_sr,
    coded,
    derived_uid,
    sr_uids,
)
from validation.model.sr_export import export_partition_srs
from validation.protocol import Concept, Finding, Measurement, load_protocol
from validation.sites import load_sites, site_files

SHA = "0123456789abcdef" * 4
CREATED = dt.datetime(2026, 11, 25, 12, 30, 0)
DEMO = load_protocol(Path(__file__).parents[2] / "protocols" / "demo.yaml")
QUANTITY, FINDING = DEMO.measurement, DEMO.finding
OUTPUTS = {"quantity": QUANTITY, "finding": FINDING}
KWARGS = {
    "measurement": 12.345,
    "probability": 0.73,
    **OUTPUTS,
    "algorithm_name": "ivsd-cnn",
    "algorithm_version": "1.0.0",
    "model_sha256": SHA,
    "created": CREATED,
}


@pytest.fixture(scope="module")
def partitions(tiny_demo):
    sites = load_sites(site_files(tiny_demo / "sites"), root=tiny_demo)
    return {p.key: p for s in sites for p in s.partitions}


@pytest.fixture(scope="module")
def source_path(partitions) -> Path:
    return next(partitions["s01/GE"].source_path.glob("S01-GE*/IM_0001.dcm"))


@pytest.fixture(scope="module")
def header(source_path) -> pydicom.Dataset:
    return pydicom.dcmread(source_path, stop_before_pixels=True)


def _named(ds: pydicom.Dataset, code: str) -> list[pydicom.Dataset]:
    return [
        item
        for item in sr_items(ds)
        if "ConceptNameCodeSequence" in item and item.ConceptNameCodeSequence[0].CodeValue == code
    ]


def _written(tmp_path: Path, header: pydicom.Dataset, **overrides) -> Path:
    sr = build_measurement_sr(header, **{**KWARGS, **overrides})
    path = tmp_path / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    return path


def test_sr_round_trips_through_pydicom(tmp_path, header):
    ds = pydicom.dcmread(_written(tmp_path, header))
    assert ds.SOPClassUID == pydicom.uid.Comprehensive3DSRStorage and ds.Modality == "SR"
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    for keyword in ("PatientID", "PatientName", "PatientSex", "StudyInstanceUID", "StudyDate"):
        assert ds[keyword].value == header[keyword].value, keyword
    assert ds.SeriesInstanceUID != header.SeriesInstanceUID
    assert (ds.CompletionFlag, ds.VerificationFlag) == ("COMPLETE", "UNVERIFIED")

    (ivsd,) = _named(ds, "79969-2")
    assert ivsd.ValueType == "NUM"
    assert ivsd.ConceptNameCodeSequence[0].CodingSchemeDesignator == "LN"
    value = ivsd.MeasuredValueSequence[0]
    assert float(value.NumericValue) == pytest.approx(12.345)
    units = value.MeasurementUnitsCodeSequence[0]
    assert (units.CodeValue, units.CodingSchemeDesignator) == ("mm", "UCUM")

    (probability,) = _named(ds, "122157")
    assert float(probability.MeasuredValueSequence[0].NumericValue) == pytest.approx(0.73)
    assert probability.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "1"

    evaluation = next(i for i in _named(ds, "55827005") if i.ValueType == "CODE")
    assert evaluation.ConceptCodeSequence[0].CodeValue == "52101004"  # Present

    assert {i.TextValue for i in _named(ds, "111001")} == {"ivsd-cnn"}  # Algorithm Name
    assert {i.TextValue for i in _named(ds, "111003")} == {"1.0.0"}  # Algorithm Version
    parameters = {i.TextValue for i in _named(ds, "111002")}
    assert parameters == {f"model_sha256={SHA}", "threshold=0.5"}

    sources = _named(ds, "121112")  # Source of Measurement
    assert sources and all(
        s.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == header.SOPInstanceUID
        for s in sources
    )
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    referenced = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert referenced.ReferencedSOPInstanceUID == header.SOPInstanceUID


def test_sr_parses_as_a_highdicom_measurement_report(tmp_path, header):
    sr = hd.sr.srread(_written(tmp_path, header, probability=0.2))
    groups = sr.content.get_image_measurement_groups()
    assert [g.tracking_identifier for g in groups] == ["IVSd", "LVH"]
    (ivsd,) = groups[0].get_measurements(name=coded(QUANTITY.concept, name="", meaning=""))
    assert ivsd.value == pytest.approx(12.345) and ivsd.unit.value == "mm"
    lvh = coded(FINDING.concept, name="", meaning="")
    assert groups[1].finding_type == lvh
    (evaluation,) = groups[1].get_qualitative_evaluations(name=lvh)
    assert evaluation.value.value == "272519000"  # Absent: 0.2 < 0.5


def test_a_measurement_of_another_study_names_its_own_concept_and_unit(tmp_path, header):
    """An LVEF in %, declared with a LOINC concept and no finding: the SR holds that one
    measurement, in UCUM %, and nothing of the demo's IVSd or LVH."""
    lvef = Measurement(
        name="lvef",
        label="LVEF",
        unit="%",
        precision=1,
        description="LV ejection fraction",
        concept=Concept("10230-1", "LN", "Left ventricular Ejection fraction"),
    )
    sr = hd.sr.srread(
        _written(tmp_path, header, measurement=62.98, quantity=lvef, probability=None, finding=None)
    )
    (group,) = sr.content.get_image_measurement_groups()
    assert group.tracking_identifier == "LVEF"
    (value,) = group.get_measurements()
    assert (value.name.value, value.name.scheme_designator) == ("10230-1", "LN")
    assert value.value == pytest.approx(62.98)
    assert (value.unit.value, value.unit.scheme_designator, value.unit.meaning) == (
        "%",
        "UCUM",
        "%",
    )
    codes = {
        i.ConceptNameCodeSequence[0].CodeValue
        for i in sr_items(pydicom.dcmread(tmp_path / "sr.dcm"))
        if "ConceptNameCodeSequence" in i
    }
    assert not codes & {"79969-2", "55827005"}


def test_an_undeclared_concept_gets_a_private_code(tmp_path, header):
    flag = Finding(name="reduced_ef", label="Reduced EF", threshold=0.5, description="Reduced EF")
    sr = hd.sr.srread(
        _written(tmp_path, header, measurement=None, quantity=None, probability=0.9, finding=flag)
    )
    (group,) = sr.content.get_image_measurement_groups()
    assert (group.finding_type.value, group.finding_type.scheme_designator) == (
        "reduced_ef",
        PRIVATE_SCHEME,
    )
    assert group.finding_type.meaning == "Reduced EF"


def test_probability_at_the_threshold_is_present(tmp_path, header):
    at = Finding(name="lvh", label="LVH", threshold=0.5, concept=FINDING.concept)
    ds = pydicom.dcmread(_written(tmp_path, header, probability=0.5, finding=at))
    evaluation = next(i for i in _named(ds, "55827005") if i.ValueType == "CODE")
    assert evaluation.ConceptCodeSequence[0].CodeValue == "52101004"


def test_uids_are_deterministic_and_the_file_reproducible(tmp_path, header):
    first = build_measurement_sr(header, **KWARGS)
    again = build_measurement_sr(header, **KWARGS)
    other_model = build_measurement_sr(header, **{**KWARGS, "model_sha256": "f" * 64})
    uids = sr_uids(header.StudyInstanceUID, header.SOPInstanceUID, SHA)
    assert first.SOPInstanceUID == again.SOPInstanceUID == uids.sop_instance_uid
    assert first.SeriesInstanceUID == uids.series_instance_uid
    assert other_model.SOPInstanceUID != first.SOPInstanceUID
    assert first.SOPInstanceUID.startswith("2.25.") and len(first.SOPInstanceUID) <= 64
    first.save_as(tmp_path / "a.dcm", enforce_file_format=True)
    again.save_as(tmp_path / "b.dcm", enforce_file_format=True)
    assert (tmp_path / "a.dcm").read_bytes() == (tmp_path / "b.dcm").read_bytes()
    assert derived_uid("x", 1) == derived_uid("x", "1")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"measurement": float("nan")}, "measurement must be a finite number, got nan"),
        ({"measurement": None}, "quantity was given without measurement"),
        ({"probability": 1.5}, r"probability must be a number in \[0, 1\], got 1.5"),
        ({"finding": None}, "probability was given without finding"),
        (
            {"quantity": None, "finding": None, "measurement": None, "probability": None},
            "quantity or finding must be given",
        ),
        ({"model_sha256": "ABC"}, "model_sha256 must be 64 lower-case hex digits, got 'ABC'"),
        ({"series_number": 0}, "series_number must be a positive whole number, got 0"),
        ({"algorithm_name": " "}, "algorithm_name must be a non-empty string, got ' '"),
    ],
)
def test_bad_arguments_are_named(header, overrides, message):
    with pytest.raises(ValueError, match=message):
        build_measurement_sr(header, **{**KWARGS, **overrides})


def test_source_without_uids_is_refused(header):
    broken = pydicom.Dataset()
    broken.SOPClassUID = header.SOPClassUID
    with pytest.raises(ValueError, match="it lacks SOPInstanceUID, StudyInstanceUID"):
        build_measurement_sr(broken, **KWARGS)
    with pytest.raises(TypeError, match="source must be a pydicom Dataset, got str"):
        build_measurement_sr("IM_0001.dcm", **KWARGS)


def test_dciodvfy_reports_no_errors(tmp_path, header):
    dciodvfy = require(shutil.which("dciodvfy"), "dciodvfy (dicom3tools)")
    path = _written(tmp_path, header)
    result = subprocess.run(
        [dciodvfy, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    output = (result.stdout + result.stderr).strip()
    errors = [line for line in output.splitlines() if "Error" in line]
    assert not errors, f"dciodvfy {path} reported errors:\n{output}"
    assert "Comprehensive3DSR" in output, output


@pytest.fixture()
def partition_tables(tmp_path, partitions):
    """accounting.csv of s01/GE and a predictions CSV for it, without running the model."""
    partition = partitions["s01/GE"]
    rows = scan_partition(partition)
    accounting = tmp_path / "accounting.csv"
    write_accounting(rows, accounting)
    included = [r for r in rows if r.status == "included"]
    records = []
    for k, row in enumerate(included):
        rejected = k == len(included) - 1
        records.append(
            {
                "site": row.site,
                "vendor": row.vendor,
                "sop_instance_uid": row.sop_instance_uid,
                "study_instance_uid": row.study_instance_uid,
                "file_sha256": "",
                "status": "quality_rejected" if rejected else "predicted",
                "detail": "decode failed" if rejected else "",
                "measurement": "" if rejected else f"{9.5 + k:.4f}",
                "probability": "" if rejected else f"{0.3 * k:.6f}",
                "model_name": "ivsd-cnn",
                "model_version": "1.0.0",
                "model_sha256": SHA,
            }
        )
    predictions = tmp_path / "predictions.csv"
    pd.DataFrame(records, columns=PREDICTION_COLUMNS).to_csv(predictions, index=False)
    return predictions, accounting, records


def test_export_writes_one_sr_per_predicted_image(tmp_path, partition_tables):
    predictions, accounting, records = partition_tables
    out = tmp_path / "sr"
    counts = export_partition_srs(predictions, accounting, out, **OUTPUTS, created=CREATED)
    predicted = [r for r in records if r["status"] == "predicted"]
    assert counts == {"written": len(predicted), "quality_rejected": 1, "removed": 0}
    index = pd.read_csv(out / "index.csv", dtype=str)
    assert list(index["source_sop_instance_uid"]) == [r["sop_instance_uid"] for r in predicted]
    assert index["study_instance_uid"].nunique() == len(predicted)  # one SR per study
    for row, record in zip(index.itertuples(), predicted, strict=True):
        ds = pydicom.dcmread(row.path)
        assert ds.SOPInstanceUID == row.sr_sop_instance_uid
        assert Path(row.path).parent.name == ds.StudyInstanceUID == row.study_instance_uid
        assert row.finding_present == str(float(record["probability"]) >= 0.5).lower()
    assert set(index["finding_present"]) == {"true", "false"}
    before = {p: p.read_bytes() for p in out.rglob("*.dcm")}
    export_partition_srs(predictions, accounting, out, **OUTPUTS, created=CREATED)
    assert {p: p.read_bytes() for p in out.rglob("*.dcm")} == before  # idempotent
    table = pd.read_csv(predictions, dtype=str, keep_default_na=False)
    table["model_sha256"] = "f" * 64  # another model: new UIDs, the old SRs go
    table.to_csv(predictions, index=False)
    counts = export_partition_srs(predictions, accounting, out, **OUTPUTS)
    assert counts["removed"] == len(predicted) == counts["written"]
    assert not set(out.rglob("*.dcm")) & set(before)


def test_export_refuses_predictions_of_another_model(tmp_path, partition_tables):
    predictions, accounting, _ = partition_tables
    with pytest.raises(ModelIntegrityError, match=f"carry model sha256 .*expected {'e' * 64}"):
        export_partition_srs(
            predictions, accounting, tmp_path / "sr", **OUTPUTS, expected_sha256="e" * 64
        )


def test_export_needs_the_accounting(tmp_path, partition_tables):
    predictions, _, _ = partition_tables
    with pytest.raises(IngestError, match=r"accounting file .*absent\.csv not found: run `mval"):
        export_partition_srs(predictions, tmp_path / "absent.csv", tmp_path / "sr", **OUTPUTS)


def test_sr_stored_by_stow_rs_is_found_by_qido(orthanc: OrthancServer, partitions):
    source = next(partitions["s02/GE"].source_path.glob("S02-GE*/IM_0001.dcm"))
    header = pydicom.dcmread(source, stop_before_pixels=True)
    sr = build_measurement_sr(header, **KWARGS)
    client = DICOMwebClient(orthanc.dicomweb_url)
    response = client.store_instances([sr])
    assert not response.get("FailedSOPSequence"), response
    stored_uids = [item.ReferencedSOPInstanceUID for item in response.ReferencedSOPSequence]
    assert stored_uids == [sr.SOPInstanceUID]
    studies = client.search_for_studies(search_filters={"ModalitiesInStudy": "SR"})
    assert header.StudyInstanceUID in {s["0020000D"]["Value"][0] for s in studies}
    found = client.search_for_instances(
        study_instance_uid=header.StudyInstanceUID,
        search_filters={"SOPInstanceUID": sr.SOPInstanceUID},
    )
    assert [f["00080018"]["Value"][0] for f in found] == [sr.SOPInstanceUID]
    assert found[0]["00080016"]["Value"][0] == pydicom.uid.Comprehensive3DSRStorage
    stored = client.retrieve_instance(
        header.StudyInstanceUID, sr.SeriesInstanceUID, sr.SOPInstanceUID
    )
    (ivsd,) = _named(stored, "79969-2")
    assert float(ivsd.MeasuredValueSequence[0].NumericValue) == pytest.approx(12.345)


def test_export_names_the_row_with_a_value_out_of_range(tmp_path, partition_tables):
    predictions, accounting, records = partition_tables
    table = pd.read_csv(predictions, dtype=str, keep_default_na=False)
    table.loc[1, "probability"] = "1.7"
    table.to_csv(predictions, index=False)
    sop = records[1]["sop_instance_uid"]
    with pytest.raises(IngestError, match=rf"SOP Instance {sop}: probability must be"):
        export_partition_srs(predictions, accounting, tmp_path / "sr", **OUTPUTS)
    with pytest.raises(ValueError, match="quantity or finding must be given"):
        export_partition_srs(predictions, accounting, tmp_path / "sr")
