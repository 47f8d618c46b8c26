"""One month of production: ingest every site x vendor folder and run the locked model on it.

``<source>/<YYYY-MM>/<site>/<vendor>/`` holds what a partition received that month. Each folder
is ingested like a validation partition (:func:`validation.ingest.scan.ingest_partition`, every
file accounted for) and its included studies are read by the locked model
(:func:`validation.model.infer.run_inference`) with the model version deployed at that site in
that month (:meth:`validation.sites.Site.version_at`: the site file's ``deployments``, else the
protocol's released version). The month's folder under ``out`` is written to a
scratch folder first and then swapped in, so re-running a month replaces it whole: nothing is
ever appended, and a failed run leaves the previous result in place.

Written under ``<out>`` (the month's folder)::

    <site>/<vendor>/accounting.csv, manifest.json, predictions.csv
    batch.csv     one row per file received (:data:`BATCH_COLUMNS`)
    batch.json    the month, the models, per partition its source, model version and
                  counts (or "missing"), and ``batch``: batch.csv's sha256 and row count, which
                  the surveillance run verifies before it reads the month (:func:`write_batch`)
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from validation.exceptions import AnalysisError, ConfigError, IntegrityError
from validation.hashing import sha256_file
from validation.ingest.rules import ImageRules
from validation.ingest.scan import ingest_partition
from validation.model.infer import run_inference
from validation.model.registry import LockedModel, load_locked_model
from validation.sites import Site, check_deployments

if TYPE_CHECKING:
    from validation.protocol import Protocol

log = logging.getLogger(__name__)

#: Columns of ``batch.csv``: the contract of the surveillance design, then the image geometry
#: (used by the ``input`` drift signal) and the exclusion or rejection detail.
BATCH_COLUMNS = [
    "month",
    "site",
    "vendor",
    "status",
    "reason",
    "sop_instance_uid",
    "study_instance_uid",
    "patient_id",
    "software_versions",
    "scanner_model",
    "patient_age",
    "patient_sex",
    "patient_bmi",
    "measurement",
    "probability",
    "model_sha256",
    "model_version",
    "spacing_mm",
    "frames",
    "detail",
]
#: Row status in ``batch.csv``: excluded at ingest, decoded and read by the model, or rejected
#: by the model's quality gate (``included`` only if inference did not report on a file).
STATUSES = ("excluded", "predicted", "quality_rejected", "included")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_month(value: str, name: str = "month") -> str:
    """Return ``value`` if it is a ``YYYY-MM`` month, else raise a ConfigError naming ``name``.

    Examples
    --------
    >>> check_month("2027-01")
    '2027-01'
    """
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ConfigError(f"{name} must be a month as YYYY-MM (e.g. 2027-01), got {value!r}")
    return value


def deployed_models(
    protocol: Protocol, sites: Sequence[Site], month: str
) -> dict[str, LockedModel]:
    """The locked models production runs in ``month``, by version, each verified on loading.

    Each site runs the version its ``deployments`` name for the month
    (:meth:`validation.sites.Site.version_at`), else the protocol's released version, which is
    always loaded (``batch.json`` records it).

    Parameters
    ----------
    protocol : Protocol
        The locked protocol: its model versions, their folders and sha256.
    sites : sequence of Site
        The study's sites.
    month : str
        ``YYYY-MM``.

    Returns
    -------
    dict
        ``{version: LockedModel}``, in version order.

    Raises
    ------
    ConfigError
        A site deploys a version the protocol does not lock.
    IntegrityError
        A model's weights differ from the protocol's sha256.
    """
    check_deployments(sites, [m.version for m in protocol.models])
    released = protocol.released.version
    versions = sorted({site.version_at(month, released) for site in sites} | {released})
    models = {}
    for version in versions:
        locked = protocol.model_version(version)
        models[version] = load_locked_model(locked.path, expected_sha256=locked.sha256)
    return models


def process_month(
    month: str,
    *,
    source: str | Path,
    sites: list[Site],
    model: LockedModel | Mapping[str, LockedModel],
    out: str | Path,
    released: str | None = None,
    batch_size: int = 16,
    threads: int | None = None,
) -> dict[str, Any]:
    """Ingest and predict one month of production batches; return the ``batch.json`` record.

    Parameters
    ----------
    month : str
        ``YYYY-MM``; the month's files are under ``<source>/<month>/<site>/<vendor>/``.
    source : path
        Folder of the production batches (one sub-folder per month).
    sites : list of Site
        The site files: every partition of every site is expected each month. A partition
        without a folder (or with an empty one) is recorded as ``missing``.
    model : LockedModel or mapping of str to LockedModel
        The locked model, or the locked models by protocol version, verified by the caller
        (lock and sha256). Each site's partitions are read by the version the site runs that
        month (:meth:`validation.sites.Site.version_at`).
    out : path
        The month's output folder; replaced as a whole.
    released : str, optional
        The protocol's released version (a site without a deployment runs it); needed with a
        mapping of several models, else the one model's key.
    batch_size, threads : int
        Passed to :func:`validation.model.infer.run_inference`.

    Returns
    -------
    dict
        ``month``, ``model`` (the released version: name, version, sha256), ``models`` (every
        version used, by protocol version) and per partition ``source``, ``missing``,
        ``model_version``, ``model_sha256`` and the counts ``received``, ``excluded``,
        ``predicted``, ``quality_rejected``.

    Raises
    ------
    ConfigError
        A site runs a version that is not among ``model``.
    """
    check_month(month)
    models = _models_by_version(model, released)
    released = released or next(iter(models))
    deployed = {site.id: site.version_at(month, released) for site in sites}
    for site in sites:
        if deployed[site.id] not in models:
            raise ConfigError(
                f"{site.source_file}: site {site.id} runs model version {deployed[site.id]!r} in "
                f"{month}, which is not among the locked versions loaded "
                f"({', '.join(map(repr, models))})"
            )
    out = Path(out)
    folder = Path(source) / month
    if not folder.is_dir():
        log.warning("%s: no batch folder %s; every partition is recorded as missing", month, folder)
    scratch = out.parent / f".{out.name}.partial"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    tables, partitions = [], []
    for site in sites:
        for partition in site.partitions:
            part_dir = folder / partition.site / partition.vendor
            version = deployed[site.id]
            reader = models[version]
            record: dict[str, Any] = {
                "site": partition.site,
                "vendor": partition.vendor,
                "source": str(part_dir),
                "model_version": version,
                "model_sha256": reader.sha256,
            }
            if not part_dir.is_dir() or not any(part_dir.iterdir()):
                record["missing"] = True
                partitions.append(record)
                log.warning("%s %s: no files received", month, partition.key)
                continue
            target = scratch / partition.site / partition.vendor
            local = replace(partition, source_kind="folder", source_path=part_dir, source_url=None)
            rules = ImageRules.from_card(reader.card.fields.get("inputs"))
            ingest_partition(local, target, rules)
            run_inference(
                reader,
                target / "accounting.csv",
                target / "predictions.csv",
                rules=rules,
                batch_size=batch_size,
                threads=threads,
            )
            table = batch_rows(
                month,
                pd.read_csv(target / "accounting.csv", dtype=str, keep_default_na=False),
                pd.read_csv(target / "predictions.csv", dtype=str, keep_default_na=False),
                model_version=version,
            )
            tables.append(table)
            counts = table["status"].value_counts()
            record.update(
                missing=False,
                received=len(table),
                **{status: int(counts.get(status, 0)) for status in STATUSES},
            )
            partitions.append(record)
            log.info("%s %s: %s", month, partition.key, record)
    batch = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=BATCH_COLUMNS)
    summary = {
        "month": month,
        "source": str(folder),
        "model": _model_record(models[released], released),
        "models": {
            version: _model_record(models[version], version)
            for version in sorted(set(deployed.values()))
        },
        "partitions": partitions,
    }
    summary = write_batch(batch, scratch, summary)
    if out.exists():
        shutil.rmtree(out)
    scratch.rename(out)
    return summary


def write_batch(table: pd.DataFrame, folder: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Write a month's ``batch.csv`` and its ``batch.json``: ``summary`` with ``batch``, the
    table's sha256 and row count, by which the surveillance run refuses a batch changed after
    it was written (:func:`verify_batch`). Returns the record written."""
    path = folder / "batch.csv"
    table.to_csv(path, index=False)
    record = {
        **summary,
        "batch": {"file": path.name, "sha256": sha256_file(path), "rows": len(table)},
    }
    (folder / "batch.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def verify_batch(path: Path) -> None:
    """``batch.csv`` at ``path`` is what :func:`write_batch` wrote: the sha256 and the row count
    its ``batch.json`` records, and the partitions' files received add up to its rows. A month
    written before the record existed is read as it is (with a warning).

    Raises
    ------
    IntegrityError
        The file's sha256 differs from the record (naming the file and both hashes).
    AnalysisError
        No ``batch.json`` beside it, or counts that do not add up.
    """
    record_path = path.with_name("batch.json")
    try:
        record = json.loads(record_path.read_text())
    except FileNotFoundError:
        raise AnalysisError(
            f"{record_path} not found beside {path}: re-run `mval monitor batch` for the month"
        ) from None
    expected = record.get("batch")
    if expected is None:
        log.warning("%s records no hash of %s (an older batch): not verified", record_path, path)
        return
    actual = sha256_file(path)
    if actual != expected["sha256"]:
        raise IntegrityError(
            str(path),
            expected["sha256"],
            actual,
            what=f"month batch (changed after `mval monitor batch`; {record_path} records it)",
        )
    partitions = record.get("partitions") or []
    received = sum(int(p.get("received") or 0) for p in partitions)
    if partitions and received != expected["rows"]:
        raise AnalysisError(
            f"{record_path}: its partitions received {received} files, but {path.name} holds "
            f"{expected['rows']} rows: re-run `mval monitor batch` for the month"
        )


def _models_by_version(
    model: LockedModel | Mapping[str, LockedModel], released: str | None
) -> dict[str, LockedModel]:
    if isinstance(model, LockedModel):
        return {released or model.version: model}
    models = dict(model)
    if not models:
        raise ConfigError("no locked model given")
    if released is not None and released not in models:
        raise ConfigError(f"the released version {released!r} is not among the models given")
    if released is None and len(models) > 1:
        raise ConfigError("several models given: name the released version")
    return models


def _model_record(model: LockedModel, version: str) -> dict[str, Any]:
    return {"name": model.name, "version": version, "sha256": model.sha256}


def batch_rows(
    month: str,
    accounting: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    model_version: str = "",
) -> pd.DataFrame:
    """One ``batch.csv`` row per file of a partition's accounting, its prediction joined
    (``model_version``: the protocol version that predicted, on every predicted row).

    Examples
    --------
    >>> acc = pd.DataFrame({"site": ["s01"] * 2, "vendor": ["GE"] * 2, "path": ["a", "b"],
    ...     "sop_instance_uid": ["1", ""], "status": ["included", "excluded"],
    ...     "reason": ["", "not_dicom"]})
    >>> pred = pd.DataFrame({"sop_instance_uid": ["1"], "status": ["predicted"],
    ...     "measurement": ["9.5"], "probability": ["0.1"], "model_sha256": ["ab"], "detail": [""]})
    >>> batch_rows("2027-01", acc, pred)[["status", "reason", "measurement"]].values.tolist()
    [['predicted', '', '9.5'], ['excluded', 'not_dicom', '']]
    """
    table = accounting.reindex(columns=[c for c in BATCH_COLUMNS if c != "month"], fill_value="")
    table = table.astype(str)
    table.insert(0, "month", month)
    keyed = predictions.drop_duplicates("sop_instance_uid").set_index("sop_instance_uid")
    included = table["status"].eq("included")
    found = included & table["sop_instance_uid"].isin(keyed.index)
    uids = table.loc[found, "sop_instance_uid"]
    for column in ("measurement", "probability", "model_sha256"):
        table.loc[found, column] = keyed.loc[uids, column].fillna("").astype(str).to_numpy()
    table.loc[found, "status"] = keyed.loc[uids, "status"].to_numpy()
    table.loc[found, "model_version"] = model_version
    rejected = uids.index[table.loc[found, "status"].eq("quality_rejected").to_numpy()]
    table.loc[rejected, "reason"] = "quality_rejected"
    table.loc[rejected, "detail"] = keyed.loc[uids[rejected], "detail"].to_numpy()
    return table[BATCH_COLUMNS].reset_index(drop=True)
