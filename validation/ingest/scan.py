"""Scan one site × vendor partition folder and account for every file in it.

Each file is read header-only (pixel data deferred, never loaded) and either included or excluded
with a reason code from :data:`validation.ingest.checks.REASONS`. Included + excluded always equals
the number of files received.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pandas as pd
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import DeflatedExplicitVRLittleEndian

from validation.exceptions import DecoderMissingError, IngestError
from validation.hashing import sha256_file
from validation.ingest.checks import IDENTIFYING_ATTRIBUTES, REASONS, check_header
from validation.ingest.decoders import plugin_for
from validation.ingest.dicomweb import materialize
from validation.ingest.header import Header, read_header
from validation.ingest.rules import ImageRules
from validation.schemas import validate_table
from validation.sites import Partition, Site
from validation.vendors import manufacturer_matches

_PIXEL_DATA = 0x7FE00010
_DEFER = 4096  # bytes: larger values (pixel data) are skipped, not read
_HEAD = 16384  # bytes read at once for the header; longer headers are read from the file


@dataclass
class AccountingRow:
    """One row of ``accounting.csv``: one file received by a partition."""

    site: str
    vendor: str
    path: str
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    patient_id: str = ""
    status: str = "excluded"
    reason: str = ""
    detail: str = ""
    manufacturer: str = ""
    scanner_model: str = ""
    software_versions: str = ""
    study_date: str = ""
    patient_age: str = ""
    patient_sex: str = ""
    patient_bmi: str = ""
    spacing_mm: str = ""
    frames: str = ""
    file_bytes: int = 0
    transfer_syntax: str = ""
    photometric: str = ""
    region: str = ""


ACCOUNTING_COLUMNS = [f.name for f in fields(AccountingRow)]


def iter_files(folder: Path) -> Iterator[Path]:
    """Every regular file below ``folder``, in a stable (sorted) order; hidden files included."""
    for path, _ in _walk(folder):
        yield path


def _walk(folder: Path) -> Iterator[tuple[Path, int]]:
    """(path, size in bytes) of every regular file below ``folder``, sorted by name per folder.

    ``os.scandir`` gives each entry's type and size from one directory read, so the scan costs
    no separate ``stat`` per file; symbolic links are not followed.
    """
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            yield Path(entry.path), entry.stat(follow_symlinks=False).st_size


def scan_partition(
    partition: Partition,
    rules: ImageRules | None = None,
    shared: Sequence[Partition] = (),
) -> list[AccountingRow]:
    """Account for every file of a folder partition, read by ``rules`` (the models' rules,
    :func:`validation.ingest.rules.combine`; default :class:`~validation.ingest.rules.ImageRules`).

    ``shared`` are the site's partitions (this one among them, in the site file's order) whose
    files arrive in the same folder, as a PACS export of several vendors' studies does: each
    file is accounted for by the partition whose vendor made it (its Manufacturer), and a file
    of no listed vendor (or not an image, or unreadable) by the first of them, so no file is
    counted twice and none is a false ``wrong_vendor`` (:func:`sharing_partitions`).

    Raises
    ------
    IngestError
        When the folder does not exist.
    DecoderMissingError
        When a file's transfer syntax needs a decoder this environment lacks.
    """
    rules = rules or ImageRules()
    folder = partition.source_path
    if folder is None or not folder.is_dir():
        raise IngestError(
            f"partition {partition.key}: source folder {folder} does not exist or is not a folder"
        )
    others = [p for p in shared if p.vendor != partition.vendor]
    owner = not others or shared[0].vendor == partition.vendor
    rows: list[AccountingRow] = []
    seen: dict[str, str] = {}
    for path, size in _walk(folder):
        row = _account_file(path, size, partition, rules)
        if others and not _routed_here(row, partition, others, owner):
            continue
        if row.status == "included":
            first = seen.setdefault(row.sop_instance_uid, row.path)
            if first != row.path:
                row.status, row.reason = "excluded", "duplicate_sop_instance"
                row.detail = f"same SOP Instance UID as {first}"
        rows.append(row)
    return rows


def _routed_here(
    row: AccountingRow, partition: Partition, others: list[Partition], owner: bool
) -> bool:
    """Whether a file of a shared folder belongs to ``partition`` (see :func:`scan_partition`)."""
    made = row.manufacturer
    if made and manufacturer_matches(partition.vendor, made, partition.manufacturer_pattern):
        return True
    if made and any(manufacturer_matches(p.vendor, made, p.manufacturer_pattern) for p in others):
        return False
    return owner


def sharing_partitions(site: Site, partition: Partition) -> tuple[Partition, ...]:
    """The site's folder partitions whose files arrive in ``partition``'s folder (itself among
    them, in the site file's order); empty when it has its folder to itself."""
    if partition.source_kind != "folder" or partition.source_path is None:
        return ()
    folder = partition.source_path.resolve()
    shared = tuple(
        p
        for p in site.partitions
        if p.source_kind == "folder"
        and p.source_path is not None
        and p.source_path.resolve() == folder
    )
    return shared if len(shared) > 1 else ()


def _account_file(path: Path, size: int, partition: Partition, rules: ImageRules) -> AccountingRow:
    row = AccountingRow(
        site=partition.site, vendor=partition.vendor, path=str(path), file_bytes=size
    )
    try:
        ds = _read_header_only(path, size)
    except InvalidDicomError:
        row.reason, row.detail = "not_dicom", "no DICM preamble and no readable DICOM elements"
        return row
    except Exception as exc:
        row.reason, row.detail = "unreadable", f"{type(exc).__name__}: {exc}"[:300]
        return row
    header = read_header(ds, IDENTIFYING_ATTRIBUTES, rules)
    _describe(row, header)
    failure = check_header(
        header,
        vendor=partition.vendor,
        manufacturer_pattern=partition.manufacturer_pattern,
        rules=rules,
    )
    if failure is None:
        failure = _check_pixel_data(ds, header, row.file_bytes)
    if failure is not None:
        row.reason, row.detail = failure
        return row
    try:
        if header.transfer_syntax:  # without file meta pydicom reads it natively
            plugin_for(header.transfer_syntax)
    except DecoderMissingError as exc:
        raise DecoderMissingError(f"{path}: {exc}") from None
    row.status = "included"
    return row


def _read_header_only(path: Path, size: int) -> Dataset:
    """Parse a file's header (pixel data deferred: its offset and length, never its bytes).

    The first ``_HEAD`` bytes are read in one call and parsed from memory, which is faster than
    pydicom's many small reads; a header that does not fit (the pixel data element not reached)
    is parsed from the file itself.
    """
    with open(path, "rb") as handle:
        head = handle.read(_HEAD)
    if size <= _HEAD:
        return pydicom.dcmread(io.BytesIO(head), defer_size=_DEFER)
    try:
        ds = pydicom.dcmread(io.BytesIO(head), defer_size=_DEFER)
    except Exception:  # cut mid-element by the chunk: parse the whole file
        ds = None
    if ds is None or _PIXEL_DATA not in ds:
        ds = pydicom.dcmread(path, defer_size=_DEFER)
    return ds


def _describe(row: AccountingRow, header: Header) -> None:
    """Copy the header facts the analysis needs (no pixels)."""
    row.sop_instance_uid = header.sop_instance_uid
    row.study_instance_uid = header.study_instance_uid
    row.patient_id = header.patient_id
    row.manufacturer = header.manufacturer
    row.scanner_model = header.scanner_model
    row.software_versions = header.software_versions
    row.study_date = header.study_date
    row.patient_age = _age_years(header.patient_age)
    row.patient_sex = header.patient_sex
    row.patient_bmi = _bmi(header.patient_size, header.patient_weight)
    row.frames = str(header.frames)
    row.transfer_syntax = header.transfer_syntax
    row.photometric = header.photometric
    if header.region is not None:
        row.spacing_mm = f"{header.region.spacing_mm[0]:.4f}x{header.region.spacing_mm[1]:.4f}"
        row.region = header.region.describe()


#: Stored bytes per pixel and sample of 8-bit data, by photometric interpretation, where the
#: chroma is subsampled (DICOM PS3.3 C.7.6.3.1.2): 4:2:2 keeps two of every four chroma samples.
_SUBSAMPLED = {"YBR_FULL_422": 2 / 3, "YBR_PARTIAL_422": 2 / 3, "YBR_PARTIAL_420": 1 / 2}


def _check_pixel_data(ds: Dataset, header: Header, file_bytes: int) -> tuple[str, str] | None:
    """Native pixel data must be present and as long as Rows x Columns x frames x samples x
    bytes says (with subsampled chroma counted as stored); encapsulated (compressed) and
    deflated pixel data are checked when they are decoded."""
    element = ds.get_item(_PIXEL_DATA, keep_deferred=True) if _PIXEL_DATA in ds else None
    if element is None:
        return "truncated", "no pixel data element"
    if header.transfer_syntax == DeflatedExplicitVRLittleEndian:
        return None  # offsets are those of the inflated stream: decoded, and checked, later
    length = getattr(element, "length", None)
    tell = getattr(element, "value_tell", None)
    if length is None or tell is None or length == 0xFFFFFFFF:
        return None  # encapsulated (compressed) pixel data: decoded, and checked, at inference
    stored = _SUBSAMPLED.get(header.photometric, 1.0)
    expected = math.ceil(
        header.rows
        * header.columns
        * header.frames
        * header.samples_per_pixel
        * (header.bits_allocated // 8)
        * stored
    )
    available = file_bytes - tell
    if length < expected or available < expected:
        return (
            "truncated",
            f"pixel data needs {expected} bytes; element declares {length}, "
            f"file holds {max(available, 0)}",
        )
    return None


def _age_years(age: str) -> str:
    """DICOM AS ('058Y', '006M') to whole years as text; empty when absent."""
    if len(age) == 4 and age[:3].isdigit():
        value, unit = int(age[:3]), age[3].upper()
        years = {"Y": value, "M": value // 12, "W": value // 52, "D": value // 365}.get(unit)
        return "" if years is None else str(years)
    return ""


def _bmi(size: str, weight: str) -> str:
    """Body-mass index from PatientSize (m) and PatientWeight (kg); empty when either is absent."""
    try:
        height, mass = float(size or 0), float(weight or 0)
    except ValueError:
        return ""
    return f"{mass / height**2:.1f}" if height > 0.5 and mass > 0 else ""


def write_accounting(rows: list[AccountingRow], path: str | Path) -> None:
    """Write rows to ``accounting.csv`` (creating the folder), checked against its schema."""
    path = Path(path)
    records = [{name: getattr(row, name) for name in ACCOUNTING_COLUMNS} for row in rows]
    table = pd.DataFrame(records, columns=ACCOUNTING_COLUMNS)
    validate_table(table, "accounting", source=path, error=IngestError)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ACCOUNTING_COLUMNS)
        writer.writeheader()
        writer.writerows(records)


def partition_summary(
    rows: list[AccountingRow], partition: Partition, accounting_path: Path
) -> dict:
    """Counts by status and reason, which always add up to the files received."""
    reasons = Counter(r.reason for r in rows if r.status == "excluded")
    included = sum(r.status == "included" for r in rows)
    by_reason = {code: reasons[code] for code in REASONS if reasons[code]}
    if sum(by_reason.values()) != len(rows) - included:  # pragma: no cover (a bug, not data)
        raise IngestError(
            f"partition {partition.key}: {len(rows) - included} excluded files but the known "
            f"reasons count {sum(by_reason.values())}: {dict(reasons)}"
        )
    return {
        "site": partition.site,
        "vendor": partition.vendor,
        "source": partition.source,
        "received": len(rows),
        "included": included,
        "excluded": len(rows) - included,
        "excluded_by_reason": by_reason,
        "accounting_sha256": sha256_file(accounting_path),
    }


def ingest_partition(
    partition: Partition,
    out_dir: str | Path,
    rules: ImageRules | None = None,
    shared: Sequence[Partition] = (),
) -> dict:
    """Scan a partition, write its ``accounting.csv`` and ``manifest.json``; return the summary.

    A DICOMweb partition is first fetched (QIDO-RS, then WADO-RS one instance at a time) into
    ``<out_dir>/dicomweb/``; instances the server lists but does not deliver are excluded rows
    with their HTTP status, so that they are accounted for like any other file.
    """
    out_dir = Path(out_dir)
    folder, failures = materialize(partition, out_dir / "dicomweb")
    rows = scan_partition(
        replace(partition, source_kind="folder", source_path=folder), rules, shared
    )
    rows += [
        AccountingRow(site=partition.site, vendor=partition.vendor, **f)  # type: ignore[arg-type]
        for f in failures  # the failure records hold only text fields of the row
    ]
    accounting = out_dir / "accounting.csv"
    write_accounting(rows, accounting)
    summary = partition_summary(rows, partition, accounting)
    (out_dir / "manifest.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
