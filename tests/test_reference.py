"""Reading a site's sealed reference file with the protocol's column names (the site's mapping)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from validation.exceptions import AnalysisError, ConfigError
from validation.protocol import ReferenceStandard
from validation.reference import inspect_reference, read_reference
from validation.sites import STUDY_KEY, load_site

STANDARD = ReferenceStandard(
    "three readers", measurement="consensus_ivsd_mm", label="lvh", readers=("reader_1_ivsd_mm",)
)


def _site(tmp_path: Path, reference: str, csv: str) -> Path:
    (tmp_path / "ref.csv").write_text(csv)
    path = tmp_path / "s01.yaml"
    path.write_text(
        "id: s01\nname: X\npartitions:\n  - vendor: GE\n    source: {kind: folder, path: d}\n"
        f"reference:\n  path: ref.csv\n{reference}"
    )
    return path


def test_a_mapped_site_is_read_with_the_protocols_names(tmp_path):
    path = _site(
        tmp_path,
        "  key: StudyUID\n  columns: {consensus_ivsd_mm: IVSd_cons, lvh: LVH_flag, "
        "reader_1_ivsd_mm: R1}\n",
        "StudyUID,R1,IVSd_cons,LVH_flag,image_quality\n"
        "1.2.3.1,10.5,10.25,0,good\n"
        " 1.2.3.2 ,12,12.5,1,\n"
        "1.2.3.3,,,,poor\n",
    )
    site = load_site(path, root=tmp_path)
    table = read_reference(site, STANDARD)
    assert list(table.columns) == [
        STUDY_KEY,
        "reader_1_ivsd_mm",
        STANDARD.measurement,
        "lvh",
        "image_quality",
    ]
    assert table[STUDY_KEY].tolist() == ["1.2.3.1", "1.2.3.2", "1.2.3.3"]  # stripped
    assert table[STANDARD.measurement].tolist()[:2] == [10.25, 12.5]
    assert table["lvh"].tolist()[:2] == [0, 1]
    # no reading: NaN (the analysis counts such a study as without reference)
    assert math.isnan(table["lvh"].iloc[2]) and math.isnan(table["reader_1_ivsd_mm"].iloc[2])
    assert table["image_quality"].isna().tolist() == [False, True, False]


def test_an_unmapped_site_reads_the_protocols_columns_as_they_are(tmp_path):
    path = _site(
        tmp_path,
        "",
        "study_instance_uid,consensus_ivsd_mm,lvh,reader_1_ivsd_mm\n1.2.3,9.5,0,9\n",
    )
    table = read_reference(load_site(path, root=tmp_path), STANDARD)
    assert table.loc[0, "consensus_ivsd_mm"] == 9.5


def test_a_mapping_to_a_column_the_file_lacks_names_file_and_columns(tmp_path):
    path = _site(
        tmp_path,
        "  columns: {consensus_ivsd_mm: IVSd_consensus}\n",
        "study_instance_uid,IVSd_cons,lvh,reader_1_ivsd_mm\n1.2.3,9.5,0,9\n",
    )
    with pytest.raises(AnalysisError) as raised:
        read_reference(load_site(path, root=tmp_path), STANDARD, error=AnalysisError)
    message = str(raised.value)
    assert f"{tmp_path / 'ref.csv'}:1: consensus_ivsd_mm (site column 'IVSd_consensus')" in message
    assert "reference.columns maps it to a column the file lacks" in message


def test_a_missing_column_and_a_missing_key_are_both_named(tmp_path):
    path = _site(tmp_path, "  key: StudyUID\n", "uid,consensus_ivsd_mm,reader_1_ivsd_mm\n1.2,9,9\n")
    read = inspect_reference(load_site(path, root=tmp_path), STANDARD)
    assert read.table is None
    assert [(p.line, p.column) for p in read.problems] == [
        (1, "study_instance_uid (site column 'StudyUID')"),
        (1, "lvh"),
    ]


def test_every_bad_row_is_reported_with_its_line_and_no_value(tmp_path):
    path = _site(
        tmp_path,
        "",
        "study_instance_uid,consensus_ivsd_mm,lvh,reader_1_ivsd_mm\n"
        "1.2.3.1,10,0,10\n"  # line 2
        "1.2.3.1,11,1,11\n"  # line 3: repeated key
        ",12,1,12\n"  # line 4: empty key
        "1.2.3.4,twelve,1,12\n"  # line 5: not a number
        "1.2.3.5,inf,2,12\n",  # line 6: not finite, label not 0/1
    )
    read = inspect_reference(load_site(path, root=tmp_path), STANDARD)
    found = {(p.line, p.column, p.message) for p in read.problems}
    assert found == {
        (3, STUDY_KEY, "repeats the study key of line 2"),
        (4, STUDY_KEY, "empty study key"),
        (5, "consensus_ivsd_mm", "not a number"),
        (6, "consensus_ivsd_mm", "not a finite number"),
        (6, "lvh", "a label must be 0 or 1"),
    }
    with pytest.raises(ConfigError) as raised:
        read_reference(load_site(path, root=tmp_path), STANDARD)
    assert "has 5 problems" in str(raised.value)
    for value in ("twelve", "inf", "1.2.3.1"):  # blinding: no value of the file is shown
        assert value not in str(raised.value)


def test_a_missing_file_and_a_column_named_twice(tmp_path):
    path = _site(tmp_path, "", "")
    (tmp_path / "ref.csv").unlink()
    read = inspect_reference(load_site(path, root=tmp_path), STANDARD)
    assert [p.message for p in read.problems] == ["reference file of site s01 not found"]
    (tmp_path / "ref.csv").write_text(
        "study_instance_uid,lvh,lvh,consensus_ivsd_mm,reader_1_ivsd_mm\n1.2,0,0,9,9\n"
    )
    read = inspect_reference(load_site(path, root=tmp_path), STANDARD)
    assert [(p.line, p.column) for p in read.problems] == [(1, "lvh")]
    assert "more than once" in read.problems[0].message
