"""Batched, deterministic inference of a locked model over one partition's included files."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import torch

from validation.exceptions import IngestError
from validation.hashing import sha256_bytes
from validation.ingest.dicom import physical_spacing_mm
from validation.model.preprocess import preprocess_frames
from validation.model.registry import LockedModel

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "site",
    "vendor",
    "sop_instance_uid",
    "study_instance_uid",
    "file_sha256",
    "status",
    "detail",
    "ivsd_mm",
    "lvh_probability",
    "model_name",
    "model_version",
    "model_sha256",
]


def _load(path: str) -> tuple[np.ndarray, tuple[float, float], str]:
    """Read a file once: hash its bytes and decode the frames from the same bytes."""
    data = Path(path).read_bytes()
    ds = pydicom.dcmread(io.BytesIO(data))
    frames = ds.pixel_array
    return (
        (frames if frames.ndim == 3 else frames[None]),
        physical_spacing_mm(ds),
        sha256_bytes(data),
    )


def _batches(rows: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows), size):
        yield rows.iloc[start : start + size]


def run_inference(
    model: LockedModel,
    accounting_csv: str | Path,
    out_csv: str | Path,
    *,
    batch_size: int = 16,
    threads: int | None = None,
) -> dict[str, int]:
    """Predict every included study of a partition, streaming batch by batch to ``out_csv``.

    A file that fails to decode at this stage (e.g. compressed pixel data the machine cannot
    decode) is written with status ``quality_rejected`` and its reason, never dropped.
    """
    if threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        accounting = pd.read_csv(accounting_csv, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise IngestError(
            f"accounting file {accounting_csv} not found: run `mval ingest` first"
        ) from None
    included = accounting[accounting["status"] == "included"]
    prep = model.card.preprocessing
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    counts = {"predicted": 0, "quality_rejected": 0}
    started = time.monotonic()
    with open(out_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PREDICTION_COLUMNS)
        writer.writeheader()
        for batch in _batches(included, batch_size):
            tensors, records = [], []
            for row in batch.itertuples(index=False):
                record = {
                    "site": row.site,
                    "vendor": row.vendor,
                    "sop_instance_uid": row.sop_instance_uid,
                    "study_instance_uid": row.study_instance_uid,
                    "model_name": model.name,
                    "model_version": model.version,
                    "model_sha256": model.sha256,
                }
                try:
                    frames, spacing, digest = _load(row.path)
                    tensors.append(preprocess_frames(frames, spacing, prep))
                    record.update(file_sha256=digest, status="predicted", detail="")
                except Exception as exc:
                    record.update(
                        file_sha256="",
                        status="quality_rejected",
                        detail=f"{type(exc).__name__}: {exc}"[:300],
                        ivsd_mm="",
                        lvh_probability="",
                    )
                records.append(record)
            if tensors:
                with torch.inference_mode():
                    ivsd, probability = model.module(torch.stack(tensors))
                values = iter(zip(ivsd.tolist(), probability.tolist(), strict=True))
                for record in records:
                    if record["status"] == "predicted":
                        mm, p = next(values)
                        record.update(ivsd_mm=f"{mm:.4f}", lvh_probability=f"{p:.6f}")
            for record in records:
                counts[record["status"]] += 1
                writer.writerow(record)
            done = counts["predicted"] + counts["quality_rejected"]
            log.info(
                "%s/%s: %d/%d studies (%.1f s)",
                batch["site"].iat[0],
                batch["vendor"].iat[0],
                done,
                len(included),
                time.monotonic() - started,
            )
    return counts
