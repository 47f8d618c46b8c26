"""What may leave a site: allow-listed columns, neutral paths, pseudonyms, no pixels."""

from __future__ import annotations

import pandas as pd
import pytest

from validation.federated.disclosure import (
    ACCOUNTING_COLUMNS,
    MAX_CELL,
    check_released,
    placeholder,
    release_table,
)


def _accounting() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site": ["s01", "s01"],
            "vendor": ["GE", "GE"],
            "path": ["/pacs/SMITH^JOHN/IM_1.dcm", "/pacs/incoming/dup.dcm"],
            "patient_id": ["S01-0001", "S01-0001"],
            "status": ["included", "excluded"],
            "detail": ["", "same SOP Instance UID as /pacs/SMITH^JOHN/IM_1.dcm under /pacs"],
            "PatientBirthDate": ["19700101", "19700101"],
            "extra": ["x", "y"],
        }
    )


def test_columns_off_the_allow_list_are_withheld_with_their_reason():
    paths = {p: placeholder("s01", "GE", n) for n, p in enumerate(_accounting()["path"], 1)}
    released = release_table(
        _accounting(),
        name="accounting.csv",
        allowed=ACCOUNTING_COLUMNS,
        site="s01",
        paths=paths,
        hide=("/pacs",),
    )
    assert list(released.table.columns) == [
        "site",
        "vendor",
        "path",
        "patient_id",
        "status",
        "detail",
    ]
    reasons = {w["column"]: w["reason"] for w in released.withheld}
    assert reasons == {"PatientBirthDate": "identifying", "extra": "not on the export allow-list"}
    assert released.table["path"].tolist() == ["withheld/s01/GE/0001", "withheld/s01/GE/0002"]
    text = released.table.to_csv()
    assert "SMITH" not in text and "/pacs" not in text
    assert released.table["detail"].iloc[1] == (
        "same SOP Instance UID as withheld/s01/GE/0001 under withheld"
    )
    assert {r["column"] for r in released.rewritten} == {"path", "detail"}


def test_patient_identifiers_that_are_not_pseudonyms_are_refused_without_echoing_them():
    table = _accounting().assign(patient_id=["S01-0001", "MRN-123456"])
    with pytest.raises(ValueError, match=r"patient_id must hold study pseudonyms 'S01-<key>'") as e:
        release_table(table, name="accounting.csv", allowed=ACCOUNTING_COLUMNS, site="s01")
    assert "line 3" in str(e.value) and "MRN-123456" not in str(e.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\0" * 128 + b"DICM" + b"\x02\x00", "holds a DICOM file"),
        (b"DICM\x02\x00", "holds a DICOM file"),
        (b"site\n\x00\x01\x02\n", "binary data"),
        (b"site\n\xff\xfe\n", "not UTF-8"),
        (b"site,patient_name\ns01,DOE^JANE\n", "identifying column 'patient_name'"),
        (b"site,pixels\ns01,x\n", "column 'pixels', which is not on the export allow-list"),
        (b"site\n" + b"A" * (MAX_CELL + 1) + b"\n", "encoded image data"),
    ],
)
def test_pixels_headers_and_identifying_columns_are_refused(data, message):
    with pytest.raises(ValueError, match=message):
        check_released("member.csv", data, ("site",))


def test_a_plain_table_passes():
    check_released("member.csv", b"site\ns01\n", ("site",))
