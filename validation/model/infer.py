"""Batched, deterministic inference of a locked model over one partition's included files.

A loader thread reads, hashes, decodes and resamples the next batch while the model runs on the
current one (torch releases the GIL inside its kernels), so the forward pass is rarely left
waiting for I/O; rows are written as each batch finishes, so memory holds one or two batches,
whatever the size of the partition.
"""

from __future__ import annotations

import csv
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from validation.columns import MEASUREMENT, PROBABILITY
from validation.exceptions import DecoderMissingError, IngestError, ModelContractError
from validation.hashing import sha256_bytes
from validation.ingest.dicom import Unmeasurable
from validation.ingest.pixels import decode_cine
from validation.ingest.rules import ImageRules
from validation.model.contract import check_outputs
from validation.model.preprocess import Preprocessing, check_loop, preprocess_batch
from validation.model.registry import LockedModel
from validation.schemas import load_table

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "site",
    "vendor",
    "sop_instance_uid",
    "study_instance_uid",
    "file_sha256",
    "status",
    "detail",
    MEASUREMENT,
    PROBABILITY,
    "model_name",
    "model_version",
    "model_sha256",
]
#: The predictions column each output role fills, and how many decimals it keeps.
ROLE_COLUMNS = {"measurement": MEASUREMENT, "probability": PROBABILITY}
_DECIMALS = {"measurement": 4, "probability": 6}
_PROGRESS_SECONDS = 10.0
_PREFETCH = 2  # batches loaded ahead of the forward pass


def _batches(rows: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows), size):
        yield rows.iloc[start : start + size]


def _prepare(
    batch: pd.DataFrame, prep: Preprocessing, model: LockedModel, rules: ImageRules
) -> tuple[torch.Tensor | None, list[dict[str, Any]]]:
    """Load one batch: each file read once, hashed, decoded and resampled from those bytes.

    A file that cannot be decoded or resampled is recorded as ``quality_rejected`` with its
    reason (the exclusion code, or the error), never dropped, and never takes the rest of its
    batch with it. A missing decoder is the environment's fault: it stops the run.
    """
    loops, records = [], []
    for row in batch.itertuples(index=False):
        record: dict[str, Any] = {
            "site": row.site,
            "vendor": row.vendor,
            "sop_instance_uid": row.sop_instance_uid,
            "study_instance_uid": row.study_instance_uid,
            "model_name": model.name,
            "model_version": model.version,
            "model_sha256": model.sha256,
        }
        try:
            data = Path(str(row.path)).read_bytes()
        except FileNotFoundError:
            # not the device's doing: the partition changed after ingestion, or the paths in
            # accounting.csv (relative to where ingestion ran) do not resolve from here
            raise IngestError(
                f"{row.path} is listed as included in the accounting but is not found from "
                f"{Path.cwd()}; run inference from the folder ingestion ran in, or re-ingest"
            ) from None
        try:
            frames, spacing = decode_cine(data, rules)
            loop = (check_loop(frames, spacing), spacing)  # what the batch could not resample
        except DecoderMissingError as exc:
            raise DecoderMissingError(f"{row.path}: {exc}") from None
        except Exception as exc:  # recorded as this study's rejection
            _reject(record, exc)
        else:
            loops.append(loop)
            record.update(file_sha256=sha256_bytes(data), status="predicted", detail="")
        records.append(record)
    return (preprocess_batch(loops, prep) if loops else None), records


def _reject(record: dict[str, Any], exc: Exception) -> None:
    """Mark ``record`` rejected, its detail the exclusion code or the error, shortened."""
    what = exc.reason if isinstance(exc, Unmeasurable) else type(exc).__name__
    record.update(
        file_sha256="",
        status="quality_rejected",
        detail=f"{what}: {exc}"[:300],
        **dict.fromkeys(ROLE_COLUMNS.values(), ""),
    )


def _fill(records: list[dict[str, Any]], values: dict[str, Any]) -> None:
    """Write each role's values (checked, in batch order) into the predicted records' columns;
    a role the model does not output stays empty."""
    predicted = [r for r in records if r["status"] == "predicted"]
    for role, column in ROLE_COLUMNS.items():
        role_values = values.get(role)
        for i, record in enumerate(predicted):
            record[column] = "" if role_values is None else f"{role_values[i]:.{_DECIMALS[role]}f}"


def run_inference(
    model: LockedModel,
    accounting_csv: str | Path,
    out_csv: str | Path,
    *,
    batch_size: int = 16,
    threads: int | None = None,
    loaders: int = 2,
    rules: ImageRules | None = None,
) -> dict[str, int]:
    """Predict every included study of a partition, streaming batch by batch to ``out_csv``.

    Parameters
    ----------
    model : LockedModel
        A model whose weights were verified (:func:`~validation.model.registry.load_locked_model`).
    accounting_csv : path
        The partition's ``accounting.csv``; its ``included`` rows are predicted, in order.
    out_csv : path
        The predictions table (:data:`PREDICTION_COLUMNS`), the model sha256 on every row;
        checked against ``validation/schemas/predictions.schema.json`` once written.
    batch_size : int
        Studies per forward pass.
    threads : int, optional
        torch intra-op threads (the workflow passes the rule's ``threads``).
    loaders : int
        Threads that read, hash, decode and resample batches ahead of the forward pass.
    rules : ImageRules, optional
        How the model reads images (:func:`validation.ingest.rules.model_rules`); default
        :class:`~validation.ingest.rules.ImageRules`.

    Returns
    -------
    dict
        Counts of ``predicted`` and ``quality_rejected`` studies.

    Raises
    ------
    ModelContractError
        When a batch's outputs break the card's contract (:mod:`validation.model.contract`):
        the run stops and no table is left behind.
    IngestError
        When the accounting is missing or an included file vanished.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    if loaders < 1:
        raise ValueError(f"loaders must be a positive integer, got {loaders}")
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
    rules = rules or ImageRules()
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    counts = {"predicted": 0, "quality_rejected": 0}
    started = last_report = time.monotonic()
    batches = _batches(included, batch_size)  # sliced lazily, as the loader needs them
    with (
        open(out_csv, "w", newline="", encoding="utf-8") as handle,
        ThreadPoolExecutor(max_workers=loaders, thread_name_prefix="mval-loader") as loader,
    ):
        writer = csv.DictWriter(handle, fieldnames=PREDICTION_COLUMNS)
        writer.writeheader()
        ahead = deque(
            loader.submit(_prepare, batch, prep, model, rules)
            for batch in itertools.islice(batches, _PREFETCH)
        )
        while ahead:
            tensors, records = ahead.popleft().result()
            following = next(batches, None)
            if following is not None:
                ahead.append(loader.submit(_prepare, following, prep, model, rules))
            if tensors is not None:
                with torch.inference_mode():
                    returned = model.forward(tensors)
                try:  # a model defect, not a study's: it stops the run
                    _fill(records, check_outputs(model.card, returned, len(tensors)))
                except ModelContractError:
                    handle.close()
                    out_csv.unlink()  # never leave a partial table behind
                    raise
            for record in records:
                counts[record["status"]] += 1
                writer.writerow(record)
            now = time.monotonic()
            if now - last_report >= _PROGRESS_SECONDS or not ahead:
                done = counts["predicted"] + counts["quality_rejected"]
                log.info(
                    "%s: %d/%d studies, %.1f studies/s",
                    out_csv.name,
                    done,
                    len(included),
                    done / max(now - started, 1e-9),
                )
                last_report = now
    try:  # the table as written, checked against its schema in one vectorised pass
        load_table(out_csv, "predictions", error=IngestError)
    except IngestError:
        out_csv.unlink()  # never leave a table that breaks the contract
        raise
    return counts
