"""Ingestion accounts for every file, with a reason for each exclusion."""

from __future__ import annotations

import shutil

import pandas as pd
import pydicom
import pytest

from validation.exceptions import IngestError
from validation.ingest.checks import REASONS
from validation.ingest.scan import ingest_partition, scan_partition
from validation.sites import Partition, load_sites, site_files


@pytest.fixture(scope="module")
def partitions(tiny_demo):
    sites = load_sites(site_files(tiny_demo / "sites"), root=tiny_demo)
    return [p for s in sites for p in s.partitions]


def test_every_planted_bad_file_is_excluded_with_its_reason(partitions):
    rows = [row for p in partitions for row in scan_partition(p)]
    excluded = [r for r in rows if r.status == "excluded"]
    reasons = {r.reason for r in excluded}
    assert reasons == {
        "truncated",
        "not_dicom",
        "wrong_sop_class",
        "wrong_vendor",
        "identifying_headers",
        "no_spacing",
        "duplicate_sop_instance",
    }
    assert len(excluded) == 7 * 4  # seven kinds at each of four sites
    # planted files carry their kind in the file name
    for row in excluded:
        name = row.path.rsplit("/", 1)[-1]
        assert name.startswith(row.reason) or (row.reason == "not_dicom" and name.endswith(".txt"))
        assert row.detail


def test_counts_add_up_and_files_are_all_listed(partitions, tmp_path):
    partition = partitions[0]
    summary = ingest_partition(partition, tmp_path)
    table = pd.read_csv(tmp_path / "accounting.csv", dtype=str, keep_default_na=False)
    n_files = sum(1 for f in partition.source_path.rglob("*") if f.is_file())
    assert summary["received"] == n_files == len(table)
    assert summary["included"] + summary["excluded"] == summary["received"]
    assert sum(summary["excluded_by_reason"].values()) == summary["excluded"]
    assert set(table["status"]) == {"included", "excluded"}
    assert set(summary["excluded_by_reason"]) <= set(REASONS)


def test_identifying_headers_detail_lists_attributes(partitions):
    rows = [row for p in partitions for row in scan_partition(p)]
    row = next(r for r in rows if r.reason == "identifying_headers")
    assert "PatientBirthDate" in row.detail and "PatientAddress" in row.detail
    assert "PatientIdentityRemoved is NO" in row.detail


def test_included_rows_carry_header_facts(partitions):
    row = next(r for r in scan_partition(partitions[0]) if r.status == "included")
    assert row.sop_instance_uid.startswith("2.25.")
    assert row.manufacturer == "GE Healthcare"
    assert row.spacing_mm == "0.4200x0.4200"
    assert row.patient_sex in {"M", "F"} and int(row.patient_age) >= 18


def test_byte_flip_in_header_and_zero_byte_file(tmp_path, partitions):
    folder = tmp_path / "part"
    source = next(partitions[0].source_path.rglob("IM_0001.dcm"))
    folder.mkdir()
    shutil.copy(source, folder / "good.dcm")
    (folder / "empty.dcm").write_bytes(b"")
    data = bytearray(source.read_bytes())
    data[128:132] = b"XXXX"  # destroy the DICM magic
    (folder / "nomagic.dcm").write_bytes(bytes(data[:400]))
    rows = scan_partition(Partition("s01", "GE", "folder", folder))
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in rows}
    assert by_name["good.dcm"].status == "included"
    assert by_name["empty.dcm"].status == "excluded"
    assert by_name["empty.dcm"].reason in {"not_dicom", "unreadable"}
    assert by_name["nomagic.dcm"].status == "excluded"


def test_missing_folder_is_an_ingest_error(tmp_path):
    with pytest.raises(IngestError, match="does not exist"):
        scan_partition(Partition("s01", "GE", "folder", tmp_path / "absent"))


def test_demo_dicom_is_a_valid_us_multiframe(partitions):
    source = next(partitions[0].source_path.rglob("IM_0001.dcm"))
    ds = pydicom.dcmread(source)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.3.1"
    assert ds.Modality == "US" and ds.PatientIdentityRemoved == "YES"
    assert ds.pixel_array.shape == (int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    region = ds.SequenceOfUltrasoundRegions[0]
    assert region.PhysicalUnitsXDirection == 3 and float(region.PhysicalDeltaX) == pytest.approx(
        0.042
    )
