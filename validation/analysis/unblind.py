"""Unblinding: join final predictions with the sealed reference standard, and count the flow.

The reference files are opened here and nowhere before (after every prediction is written).
Every received file is counted once: received = excluded at ingest + quality-rejected by the
device + no reference + analysed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from validation.columns import DIFFERENCE, LABEL, MEASUREMENT, PREDICTED, PROBABILITY, REFERENCE
from validation.exceptions import AnalysisError
from validation.hashing import sha256_file
from validation.ingest.checks import REASONS
from validation.protocol import Protocol
from validation.reference import read_reference
from validation.sites import Site

#: Columns of the ingest accounting that describe a study's acquisition and patient: the
#: analysis takes them into the study table (strata, baseline table, study period).
STUDY_DESCRIPTORS: tuple[str, ...] = (
    "scanner_model",
    "software_versions",
    "study_date",
    "patient_age",
    "patient_sex",
    "patient_bmi",
)


@dataclass(frozen=True)
class Unblinded:
    """The analysed study table, the flow counts and what was read."""

    studies: pd.DataFrame  # one row per analysed study
    accounting: pd.DataFrame  # one row per received file, all partitions
    flow: dict
    flow_by_site: list[dict]
    reference_files: list[dict]
    #: every included study (predicted or quality-rejected by the device) with its reference
    #: where there is one: site, vendor, scanner_model, status, detail, measurement,
    #: probability, reference, label (NaN without reference or output), image_quality,
    #: sex, age, bmi, patient_id
    gated: pd.DataFrame


def _read_csvs(paths: list[Path], what: str) -> pd.DataFrame:
    frames = []
    for path in paths:
        try:
            frames.append(pd.read_csv(path, dtype=str, keep_default_na=False))
        except FileNotFoundError:
            raise AnalysisError(f"{what} file {path} not found") from None
    if not frames:
        raise AnalysisError(f"no {what} files were given")
    return pd.concat(frames, ignore_index=True)


def _read_reference(site: Site, protocol: Protocol) -> tuple[pd.DataFrame, dict]:
    path = site.reference_path
    value_range = None if protocol.measurement is None else protocol.measurement.range
    table = read_reference(
        site, protocol.reference_standard, value_range=value_range, error=AnalysisError
    )
    table = table.assign(site=site.id)
    record = {"site": site.id, "path": str(path), "sha256": sha256_file(path), "rows": len(table)}
    return table, record


def unblind(
    protocol: Protocol,
    sites: list[Site],
    accounting_paths: list[Path],
    prediction_paths: list[Path],
) -> Unblinded:
    """Join predictions with the reference standard and account for every received file."""
    accounting = _exclude_cross_partition_duplicates(_read_csvs(accounting_paths, "accounting"))
    predictions = _read_csvs(prediction_paths, "predictions")
    included = accounting[accounting["status"] == "included"]
    predictions = predictions.merge(
        included[["site", "vendor", "sop_instance_uid"]], on=["site", "vendor", "sop_instance_uid"]
    )
    missing = set(included["sop_instance_uid"]) - set(predictions["sop_instance_uid"])
    if missing:
        raise AnalysisError(
            f"{len(missing)} included file(s) have no prediction (e.g. {sorted(missing)[0]}): "
            "inference is incomplete"
        )
    read = [_read_reference(site, protocol) for site in sites]
    reference = pd.concat([table for table, _ in read], ignore_index=True)
    ref = protocol.reference_standard
    reference = reference.dropna(subset=[c for c in (ref.measurement, ref.label) if c])

    meta_columns = ["sop_instance_uid", "patient_id", *STUDY_DESCRIPTORS]
    keys = ["site", "vendor", "sop_instance_uid"]
    joined = predictions.merge(included[keys + meta_columns[1:]], on=keys, how="left")
    predicted = joined[joined["status"] == "predicted"]
    # a study's reference comes from its own site's sealed file
    merged = predicted.merge(
        reference, on=["site", "study_instance_uid"], how="left", indicator=True
    )
    has_reference = merged["_merge"] == "both"
    analysed = merged[has_reference].drop(columns="_merge")

    flow = _flow(accounting, joined, merged, has_reference)
    by_site = [_flow_site(site.id, accounting, joined, merged, has_reference) for site in sites]
    studies = _study_table(analysed, protocol)
    gated = _gated_table(joined, reference, protocol)
    return Unblinded(studies, accounting, flow, by_site, [record for _, record in read], gated)


def _gated_table(joined: pd.DataFrame, reference: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """Every included study, predicted or rejected by the device, with its reference if any."""
    ref = protocol.reference_standard
    merged = joined.merge(reference, on=["site", "study_instance_uid"], how="left")
    return (
        pd.DataFrame(
            {
                "site": merged["site"],
                "vendor": merged["vendor"],
                "scanner_model": merged["scanner_model"],
                "status": merged["status"],
                "detail": merged["detail"],
                MEASUREMENT: _numbers(merged, MEASUREMENT),
                PROBABILITY: _numbers(merged, PROBABILITY),
                REFERENCE: _numbers(merged, ref.measurement),
                LABEL: _numbers(merged, ref.label),
                "image_quality": merged.get(
                    "image_quality", pd.Series("unknown", index=merged.index)
                )
                .fillna("unknown")
                .astype(str),
                "sex": merged["patient_sex"].replace("", "unknown"),
                "age": pd.to_numeric(merged["patient_age"], errors="coerce"),
                "bmi": pd.to_numeric(merged["patient_bmi"], errors="coerce"),
                "patient_id": merged["patient_id"],
            }
        )
        .sort_values(["site", "vendor", "status"], kind="stable")
        .reset_index(drop=True)
    )


def _exclude_cross_partition_duplicates(accounting: pd.DataFrame) -> pd.DataFrame:
    """An instance included in two partitions counts once: the first (by site, vendor, path)."""
    accounting = accounting.copy()
    included = accounting[accounting["status"] == "included"].sort_values(
        ["site", "vendor", "path"]
    )
    repeated = included[included.duplicated("sop_instance_uid", keep="first")]
    first = included.drop_duplicates("sop_instance_uid").set_index("sop_instance_uid")
    for index, row in repeated.iterrows():
        original = first.loc[row["sop_instance_uid"]]
        accounting.loc[index, ["status", "reason", "detail"]] = [
            "excluded",
            "duplicate_sop_instance",
            f"same SOP Instance UID as {original['path']} in partition "
            f"{original['site']}/{original['vendor']}",
        ]
    return accounting


def _flow(
    accounting: pd.DataFrame, joined: pd.DataFrame, merged: pd.DataFrame, has_reference: pd.Series
) -> dict[str, Any]:
    reasons = Counter(accounting.loc[accounting["status"] == "excluded", "reason"])
    flow: dict[str, Any] = {
        "received": len(accounting),
        "excluded_at_ingest": int((accounting["status"] == "excluded").sum()),
        "excluded_by_reason": {code: reasons[code] for code in REASONS if reasons[code]},
        "reason_labels": dict(REASONS),
        "included": int((accounting["status"] == "included").sum()),
        "quality_rejected": int((joined["status"] == "quality_rejected").sum()),
        "no_reference": int((~has_reference).sum()),
        "analysed": int(has_reference.sum()),
    }
    parts = (
        flow["excluded_at_ingest"]
        + flow["quality_rejected"]
        + flow["no_reference"]
        + flow["analysed"]
    )
    if parts != flow["received"]:
        raise AnalysisError(f"flow counts do not add up: {flow}")
    return flow


def _flow_site(
    site: str,
    accounting: pd.DataFrame,
    joined: pd.DataFrame,
    merged: pd.DataFrame,
    has_reference: pd.Series,
) -> dict[str, Any]:
    acc = accounting[accounting["site"] == site]
    at_site = merged["site"] == site
    return {
        "site": site,
        "received": len(acc),
        "excluded": int((acc["status"] == "excluded").sum()),
        "included": int((acc["status"] == "included").sum()),
        "quality_rejected": int(
            ((joined["site"] == site) & (joined["status"] == "quality_rejected")).sum()
        ),
        "no_reference": int((at_site & ~has_reference).sum()),
        "analysed": int((at_site & has_reference).sum()),
    }


def _study_table(analysed: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """The tidy per-study table the statistics and the report's figures use."""
    ref = protocol.reference_standard
    table = pd.DataFrame(
        {
            "site": analysed["site"],
            "vendor": analysed["vendor"],
            "scanner_model": analysed["scanner_model"],
            "software_versions": analysed["software_versions"],
            "sex": analysed["patient_sex"].replace("", "unknown"),
            "age": pd.to_numeric(analysed["patient_age"], errors="coerce"),
            "bmi": pd.to_numeric(analysed["patient_bmi"], errors="coerce"),
            "image_quality": analysed.get(
                "image_quality", pd.Series("unknown", index=analysed.index)
            ),
            "patient_id": analysed["patient_id"],
            "study_instance_uid": analysed["study_instance_uid"],
            "study_date": analysed["study_date"],
            MEASUREMENT: _numbers(analysed, MEASUREMENT if protocol.measurement else None),
            REFERENCE: _numbers(analysed, ref.measurement),
            PROBABILITY: _numbers(analysed, PROBABILITY if protocol.finding else None),
            LABEL: _numbers(analysed, ref.label),
        }
    )
    for reader in ref.readers:
        table[reader] = pd.to_numeric(analysed[reader])
    table[DIFFERENCE] = table[MEASUREMENT] - table[REFERENCE]
    table[PREDICTED] = predicted_call(table[PROBABILITY], protocol.threshold)
    table = with_bands(table, protocol)
    return table.sort_values(["site", "vendor", "study_instance_uid"]).reset_index(drop=True)


def predicted_call(probability: pd.Series, threshold: float | None) -> pd.Series:
    """The device's call, 1 when ``probability`` is at or above the locked ``threshold`` and 0
    below it; NaN without a probability or without a finding (``threshold`` None)."""
    if threshold is None:
        return pd.Series(np.nan, index=probability.index, dtype=float)
    return (probability >= threshold).astype(float).where(probability.notna())


def _numbers(table: pd.DataFrame, column: str | None) -> pd.Series:
    """``table[column]`` as numbers (NaN where empty); all NaN when the protocol has no such
    column (an output it does not declare)."""
    if column is None or column not in table.columns:
        return pd.Series(np.nan, index=table.index, dtype=float)
    return pd.to_numeric(table[column], errors="coerce")


def with_bands(table: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """``table`` with ``age_band`` and ``bmi_band``: its ``age`` and ``bmi`` columns cut at the
    protocol's ``analysis.age_bands`` and ``analysis.bmi_bands`` ("unknown" when missing)."""
    return table.assign(
        age_band=_bands(pd.to_numeric(table["age"], errors="coerce"), protocol.analysis.age_bands),
        bmi_band=_bands(pd.to_numeric(table["bmi"], errors="coerce"), protocol.analysis.bmi_bands),
    )


def _bands(values: pd.Series, cuts: Sequence[float]) -> pd.Series:
    """Label values by half-open bands [a, b): '40–59' for integer cuts, '25–30' otherwise."""
    labels = []
    for low, high in pairwise(cuts):
        if float(low).is_integer() and float(high).is_integer():
            labels.append(f"{int(low)}–{int(high) - 1}" if high - low > 1 else f"{int(low)}")
        else:
            labels.append(f"{low:g}–{high:g}")
    labels[-1] = f"≥{cuts[-2]:g}"
    if cuts[0] <= 0:
        labels[0] = f"<{cuts[1]:g}"
    band = pd.cut(values, bins=cuts, right=False, labels=labels)
    return band.astype(object).where(band.notna(), "unknown").astype(str)
