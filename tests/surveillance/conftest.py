"""Synthetic surveillance inputs: a baseline, monthly batches and late labels, without DICOM."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from validation.protocol import load_protocol
from validation.surveillance.signals import month_range
from validation.surveillance.simulate import (
    Shift,
    segment_means,
    synthetic_baseline,
    synthetic_history,
    synthetic_validation,
)

ROOT = Path(__file__).resolve().parents[2]
#: The demo's layout: 4 sites, 3 vendors each.
SEGMENTS = [
    ("s01", "GE"),
    ("s01", "Philips"),
    ("s01", "Canon"),
    ("s02", "GE"),
    ("s02", "Siemens"),
    ("s02", "Canon"),
    ("s03", "Philips"),
    ("s03", "Siemens"),
    ("s03", "Canon"),
    ("s04", "GE"),
    ("s04", "Philips"),
    ("s04", "Siemens"),
]
MONTHS = month_range("2026-07", "2027-06")
#: SD of one predicted IVSd in the synthetic model: sqrt(2.0**2 + 0.6**2) mm.
READING_SD = (2.0**2 + 0.6**2) ** 0.5


def make_history(
    seed: int,
    *,
    baseline_n: int = 50,
    per_month: int = 10,
    shift: Shift | None = None,
    segments: list[tuple[str, str]] | None = None,
    months: list[str] | None = None,
    exclusion_rate: float = 0.03,
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Baseline, batch rows and label rows of one synthetic deployment."""
    segments = segments or SEGMENTS
    means = segment_means(segments, seed)
    baseline = synthetic_baseline(
        segments, baseline_n, seed=seed, means=means, exclusion_rate=exclusion_rate
    )
    batch, labels = synthetic_history(
        segments,
        months or MONTHS,
        per_month,
        seed=seed + 1000,
        shift=shift,
        means=means,
        exclusion_rate=exclusion_rate,
    )
    return baseline, batch, labels


@pytest.fixture(scope="module")
def shifted_history() -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """s02 x GE reads +1.5 SD higher from 2027-01 (month 7) and reports a new software version."""
    shift = Shift("s02", "GE", "2027-01", 1.5 * READING_SD, "EchoPAC 206 upgrade")
    return make_history(7, shift=shift)


def write_deployment(
    root: Path,
    *,
    seed: int = 1,
    baseline_n: int = 50,
    per_month: int = 10,
    shift: Shift | None = None,
    segments: list[tuple[str, str]] | None = None,
    months: list[str] | None = None,
) -> dict[str, Path]:
    """Files as a deployment has them: the validation analysis and ingest accounting, the
    processed monthly batches (``batches/<month>/batch.csv``) and the label files; the
    predictions carry the demo protocol's model sha256."""
    segments = segments or SEGMENTS
    months = months or MONTHS
    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    means = segment_means(segments, seed)
    studies, accounting = synthetic_validation(segments, baseline_n, seed=seed, means=means)
    analysis = root / "analysis"
    analysis.mkdir(parents=True)
    studies.to_csv(analysis / "analysed.csv", index=False)
    results = {
        "model": {"name": "ivsd-cnn", "version": "1.0.0", "sha256": protocol.model_sha256},
        "endpoints": [],
    }
    (analysis / "results.json").write_text(json.dumps(results))
    (root / "ingest").mkdir()
    accounting.to_csv(root / "ingest" / "accounting.csv", index=False)
    batch, labels = synthetic_history(
        segments,
        months,
        per_month,
        seed=seed + 1000,
        shift=shift,
        means=means,
        model_sha256=protocol.model_sha256,
    )
    for month, rows in batch.groupby("month"):
        (root / "batches" / month).mkdir(parents=True)
        rows.to_csv(root / "batches" / month / "batch.csv", index=False)
    (root / "labels").mkdir()
    for month, rows in labels.groupby("arrived"):
        rows.to_csv(root / "labels" / f"{month}.csv", index=False)
    return {
        "protocol": ROOT / "protocols" / "demo.yaml",
        "analysis": analysis,
        "batches": root / "batches",
        "labels": root / "labels",
        "out": root / "surveillance",
    }
