"""What a site bundle may carry: allow-listed columns only, no pixels, no identifying headers.

The bundle is built from the site's own workflow outputs. Each table goes through
:func:`release_table`: columns not on its allow-list are withheld (with the reason recorded in the
bundle manifest), file paths are replaced by neutral placeholders (folder and file names at a
site often carry patient names or record numbers), and the patient key must already be a study
pseudonym. :func:`check_released` then refuses any content that looks like pixel data or an
identifying DICOM header; the coordinating centre runs the same checks again on receipt.

What stays, and why: the study and SOP Instance UIDs (pseudonymous DICOM keys: they join the
predictions to the reference readings and count each file once), the patient pseudonym (the
analysis clusters studies by patient and checks test/development independence by its site
prefix), and the patient's age, sex, BMI and study date (pre-specified strata, baseline table and
study period of the evidence report). Dates and ages make the bundle a *limited data set* in
HIPAA terms, to be shared under the study's data-use agreement.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import pandas as pd

from validation.ingest.checks import IDENTIFYING_ATTRIBUTES
from validation.model.infer import PREDICTION_COLUMNS as _INFER_COLUMNS

#: Columns of ``ingest/<site>/<vendor>/accounting.csv`` a bundle may carry (``path`` rewritten).
ACCOUNTING_COLUMNS: tuple[str, ...] = (
    "site",
    "vendor",
    "path",
    "sop_instance_uid",
    "study_instance_uid",
    "patient_id",
    "status",
    "reason",
    "detail",
    "manufacturer",
    "scanner_model",
    "software_versions",
    "study_date",
    "patient_age",
    "patient_sex",
    "patient_bmi",
    "spacing_mm",
    "frames",
    "file_bytes",
    "transfer_syntax",
    "photometric",
    "region",
)

#: Columns of ``predictions/<version>/<site>/<vendor>.csv`` a bundle may carry: all of them.
PREDICTION_COLUMNS: tuple[str, ...] = tuple(_INFER_COLUMNS)

#: Reference-file columns besides the protocol's measurement, label and readers.
REFERENCE_COLUMNS: tuple[str, ...] = ("study_instance_uid", "image_quality")

#: Column names that are identifying whatever the allow-list says (the DICOM PS3.15 Basic
#: Profile's attributes, in snake_case, and the usual direct identifiers).
IDENTIFYING_COLUMNS: frozenset[str] = frozenset(
    {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() for name in IDENTIFYING_ATTRIBUTES}
    | {
        "patient_name",
        "patients_name",
        "patient_birth_date",
        "birth_date",
        "date_of_birth",
        "dob",
        "mrn",
        "medical_record_number",
        "accession_number",
        "institution_name",
        "referring_physician_name",
        "ssn",
        "address",
        "phone",
        "email",
    }
)

#: Longest cell a released table may hold: a longer one could smuggle encoded pixels.
MAX_CELL = 1024


@dataclass
class Release:
    """A table as released, and what was withheld or rewritten on the way."""

    table: pd.DataFrame
    withheld: list[dict[str, str]] = field(default_factory=list)
    rewritten: list[dict[str, str]] = field(default_factory=list)


def placeholder(site: str, vendor: str, number: int) -> str:
    """The neutral stand-in for a received file's path: ``withheld/<site>/<vendor>/<number>``.

    Examples
    --------
    >>> placeholder("s01", "GE", 7)
    'withheld/s01/GE/0007'
    """
    return f"withheld/{site}/{vendor}/{number:04d}"


def release_table(
    table: pd.DataFrame,
    *,
    name: str,
    allowed: tuple[str, ...],
    site: str,
    paths: dict[str, str] | None = None,
    hide: tuple[str, ...] = (),
) -> Release:
    """Keep the allow-listed columns of ``table``; scrub file paths and hidden folders from text.

    Parameters
    ----------
    table : DataFrame
        Read with ``dtype=str, keep_default_na=False`` (values are written back unchanged).
    name : str
        The table's name inside the bundle (for the record of withheld columns).
    allowed : tuple of str
        The columns the bundle may carry (kept in the table's own order).
    site : str
        The exporting site: ``patient_id`` values must be its pseudonyms, ``<SITE>-<key>``.
    paths : dict, optional
        ``{original path: placeholder}``: the ``path`` column becomes the placeholder, and
        every occurrence of an original path inside ``detail`` too.
    hide : tuple of str
        Further text (source folders) replaced by ``withheld`` inside ``detail``.

    Returns
    -------
    Release
        The released table and the record of withheld columns and rewritten fields.

    Raises
    ------
    ValueError
        ``patient_id`` holds a value that is not a pseudonym of ``site`` (the message gives the
        row, never the value).
    """
    withheld, rewritten = [], []
    for column in table.columns:
        if column not in allowed:
            reason = (
                "identifying"
                if _normalise(column) in IDENTIFYING_COLUMNS
                else "not on the export allow-list"
            )
            withheld.append({"file": name, "column": column, "reason": reason})
    released = table[[c for c in table.columns if c in allowed]].copy()  # original order
    if "patient_id" in released.columns:
        _check_pseudonyms(released["patient_id"], site, name)
    if paths and "path" in released.columns:
        released["path"] = released["path"].map(lambda p: paths.get(p, p))
        rewritten.append(
            {"file": name, "column": "path", "reason": "file paths may carry names: placeholders"}
        )
    if "detail" in released.columns and (paths or hide):
        scrubbed = released["detail"].map(lambda text: _scrub(text, paths or {}, hide))
        if not scrubbed.equals(released["detail"]):
            rewritten.append(
                {"file": name, "column": "detail", "reason": "file paths in messages replaced"}
            )
        released["detail"] = scrubbed
    return Release(released, withheld, rewritten)


def _normalise(column: str) -> str:
    """``PatientBirthDate``, ``patient birth-date`` -> ``patient_birth_date``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column.strip())
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def _scrub(text: str, paths: dict[str, str], hide: tuple[str, ...]) -> str:
    for original in sorted(paths, key=len, reverse=True):  # longest first: no partial overlaps
        if original and original in text:
            text = text.replace(original, paths[original])
    for folder in hide:
        if folder and folder in text:
            text = text.replace(folder, "withheld")
    return text


def _check_pseudonyms(ids: pd.Series, site: str, name: str) -> None:
    pattern = re.compile(rf"^{re.escape(site.upper())}-[A-Za-z0-9._-]+$")
    bad = [
        number for number, value in enumerate(ids, start=2) if value and not pattern.match(value)
    ]
    if bad:
        raise ValueError(
            f"{name}: patient_id must hold study pseudonyms '{site.upper()}-<key>' (the "
            f"convention the independence check relies on); {len(bad)} row(s) do not, first on "
            f"line {bad[0]}: pseudonymise patient identifiers at ingestion before exporting"
        )


def check_released(name: str, data: bytes, allowed: tuple[str, ...] | None = None) -> None:
    """Refuse bundle content that could carry pixels or identifying headers.

    Parameters
    ----------
    name : str
        The member's name inside the bundle.
    data : bytes
        Its bytes.
    allowed : tuple of str, optional
        For a CSV table: the columns it may have.

    Raises
    ------
    ValueError
        Naming the member and what was found: a DICOM preamble, binary bytes, a column that is
        not allowed or identifying, or a cell long enough to hold encoded pixel data.

    Examples
    --------
    >>> check_released("x.csv", b"site,vendor\\ns01,GE\\n", ("site", "vendor"))
    >>> check_released("x.csv", b"\\0" * 128 + b"DICM")
    Traceback (most recent call last):
    ...
    ValueError: x.csv: holds a DICOM file (DICM preamble): no pixels or headers may leave a site
    """
    if data[128:132] == b"DICM" or data[:4] == b"DICM":
        raise ValueError(
            f"{name}: holds a DICOM file (DICM preamble): no pixels or headers may leave a site"
        )
    if b"\0" in data:
        raise ValueError(f"{name}: holds binary data (NUL bytes): only text tables may be sent")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text ({exc}): only text tables may be sent") from None
    if allowed is None:
        return
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for column in table.columns:
        if _normalise(column) in IDENTIFYING_COLUMNS:
            raise ValueError(f"{name}: has identifying column {column!r}")
        if column not in allowed:
            raise ValueError(
                f"{name}: has column {column!r}, which is not on the export allow-list "
                f"({', '.join(allowed)})"
            )
    longest = table.map(len).to_numpy().max() if table.size else 0
    if longest > MAX_CELL:
        raise ValueError(
            f"{name}: a cell holds {longest} characters (at most {MAX_CELL}): encoded image "
            "data may not be sent"
        )
