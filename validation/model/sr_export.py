"""Write one DICOM SR per predicted image of a partition, from its predictions and accounting.

Reads the partition's predictions CSV (:data:`validation.model.infer.PREDICTION_COLUMNS`) and its
``accounting.csv`` (for the ``path`` of each SOP Instance UID), reads each source file's header
only, and writes ``<out_dir>/<StudyInstanceUID>/<SR SOP Instance UID>.dcm`` plus
``<out_dir>/index.csv`` (source SOP Instance UID to SR SOP Instance UID and file). The SR UIDs
are derived from the source SOP Instance UID and the model sha256, so a re-run rewrites the same
instances; SR files of an earlier run that this run does not write are removed. Rows that were
quality-rejected at inference get no SR and are counted. One SR per predicted image: ingestion
includes one cine loop per study here, so that is one SR per predicted study.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
from pathlib import Path

import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError

from validation.columns import MEASUREMENT, PROBABILITY
from validation.exceptions import IngestError, ModelIntegrityError
from validation.model.sr import build_measurement_sr, finding_present
from validation.protocol import Finding
from validation.protocol import Measurement as MeasurementSpec

_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
SR_INDEX_COLUMNS = [
    "site",
    "vendor",
    "study_instance_uid",
    "source_sop_instance_uid",
    "sr_sop_instance_uid",
    "finding_present",
    "path",
]
_PREDICTION_NEEDS = (
    "site",
    "vendor",
    "sop_instance_uid",
    "study_instance_uid",
    "status",
    "measurement",
    "probability",
    "model_name",
    "model_version",
    "model_sha256",
)


def export_partition_srs(
    predictions_csv: str | Path,
    accounting_csv: str | Path,
    out_dir: str | Path,
    *,
    quantity: MeasurementSpec | None = None,
    finding: Finding | None = None,
    expected_sha256: str | None = None,
    series_number: int = 900,
    manufacturer: str = "mval",
    created: dt.datetime | None = None,
) -> dict[str, int]:
    """Write the SR of every predicted image of one partition into ``out_dir``.

    Parameters
    ----------
    predictions_csv : str or Path
        The partition's predictions (``mval infer`` output).
    accounting_csv : str or Path
        The partition's ``accounting.csv`` (``mval ingest`` output): gives each file's path.
    out_dir : str or Path
        Folder for the SR files and ``index.csv``; created if missing.
    quantity, finding : validation.protocol.Measurement, validation.protocol.Finding
        The protocol's ``outputs``: what each SR holds (at least one is given).
    expected_sha256 : str, optional
        The locked model's sha256 (the protocol's); every prediction row must carry it.
    series_number : int, default 900
        Series Number of the SR series.
    manufacturer : str, default "mval"
        Manufacturer of the equipment creating the SRs.
    created : datetime, optional
        Content and instance creation date/time of every SR; now by default.

    Returns
    -------
    dict
        ``{"written": n, "quality_rejected": k, "removed": r}``: SR files written, prediction
        rows without an SR because the model rejected the image, and SR files of an earlier
        run (another model or prediction set) removed from ``out_dir``.

    Raises
    ------
    ValueError
        Neither ``quantity`` nor ``finding`` is given, or the finding's threshold is not in
        [0, 1] (checked before anything is written).
    IngestError
        A table is missing or lacks columns, a predicted SOP Instance UID is not included in
        the accounting, a source file is gone or is not the instance it was, or a predicted
        value is not a number or out of range (the message names the file and the SOP
        Instance UID).
    ModelIntegrityError
        A prediction row carries a model sha256 other than ``expected_sha256``.
    """
    if quantity is None and finding is None:
        raise ValueError("quantity or finding must be given (the protocol's outputs)")
    if finding is not None and not 0.0 <= finding.threshold <= 1.0:
        raise ValueError(f"finding.threshold must be a number in [0, 1], got {finding.threshold!r}")
    predictions = _read(predictions_csv, _PREDICTION_NEEDS, "predictions", "mval infer")
    accounting = _read(
        accounting_csv, ("sop_instance_uid", "status", "path"), "accounting", "mval ingest"
    )
    paths = dict(
        accounting.loc[accounting["status"] == "included", ["sop_instance_uid", "path"]].itertuples(
            index=False
        )
    )
    if expected_sha256 is not None:
        wrong = sorted(set(predictions["model_sha256"]) - {expected_sha256})
        if wrong:
            raise ModelIntegrityError(
                f"{predictions_csv}: predictions carry model sha256 {wrong}, expected "
                f"{expected_sha256} (the locked model's)"
            )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    created = created or dt.datetime.now()
    counts = {"written": 0, "quality_rejected": 0}
    index: list[dict[str, str]] = []
    for row in predictions.itertuples(index=False):
        if row.status != "predicted":
            counts["quality_rejected"] += 1
            continue
        source = _source_header(row.sop_instance_uid, paths, accounting_csv)
        where = (row.sop_instance_uid, predictions_csv)
        measurement = None if quantity is None else _number(row.measurement, MEASUREMENT, *where)
        probability = None if finding is None else _number(row.probability, PROBABILITY, *where)
        try:
            sr = build_measurement_sr(
                source,
                measurement=measurement,
                probability=probability,
                quantity=quantity,
                finding=finding,
                algorithm_name=row.model_name,
                algorithm_version=row.model_version,
                model_sha256=row.model_sha256,
                series_number=series_number,
                manufacturer=manufacturer,
                created=created,
            )
        except ValueError as exc:  # a value of this row (or its source header) is out of range
            raise IngestError(
                f"{predictions_csv}: SOP Instance {row.sop_instance_uid}: {exc}"
            ) from None
        target = out_dir / sr.StudyInstanceUID / f"{sr.SOPInstanceUID}.dcm"
        _write(sr, target)
        counts["written"] += 1
        index.append(
            {
                "site": row.site,
                "vendor": row.vendor,
                "study_instance_uid": row.study_instance_uid,
                "source_sop_instance_uid": row.sop_instance_uid,
                "sr_sop_instance_uid": str(sr.SOPInstanceUID),
                "finding_present": ""
                if finding is None or probability is None
                else str(finding_present(probability, finding.threshold)).lower(),
                "path": str(target),
            }
        )
    counts["removed"] = _remove_stale(out_dir, {Path(entry["path"]) for entry in index})
    with open(out_dir / "index.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SR_INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(index)
    return counts


def _read(path: str | Path, needs: tuple[str, ...], what: str, stage: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise IngestError(f"{what} file {path} not found: run `{stage}` first") from None
    missing = [column for column in needs if column not in table.columns]
    if missing:
        raise IngestError(
            f"{what} file {path} lacks column(s) {missing}; it has {list(table.columns)}"
        )
    return table


def _source_header(sop: str, paths: dict[str, str], accounting_csv: str | Path) -> pydicom.Dataset:
    if sop not in paths:
        raise IngestError(
            f"predicted SOP Instance {sop} is not an included file of {accounting_csv}"
        )
    path = paths[sop]
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, InvalidDicomError) as exc:
        raise IngestError(
            f"source file {path} of SOP Instance {sop} cannot be read: {exc}"
        ) from None
    if str(header.get("SOPInstanceUID", "")) != sop:
        raise IngestError(
            f"source file {path} now holds SOP Instance {header.get('SOPInstanceUID')!s}, "
            f"not {sop} as when it was ingested"
        )
    return header


def _number(text: str, column: str, sop: str, where: str | Path) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise IngestError(f"{where}: {column} of SOP Instance {sop} is {text!r}, not a number")
    return value


def _remove_stale(out_dir: Path, written: set[Path]) -> int:
    """Remove SR files of an earlier run (e.g. another model) that this run did not write."""
    removed = 0
    for path in sorted(out_dir.glob("*/*.dcm")):
        if path not in written and _UID.match(path.stem) and _UID.match(path.parent.name):
            path.unlink()
            removed += 1
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
    return removed


def _write(sr: pydicom.Dataset, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        sr.save_as(partial, enforce_file_format=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
