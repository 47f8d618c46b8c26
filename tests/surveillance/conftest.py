"""Synthetic surveillance inputs: a baseline, monthly batches and late labels, without DICOM."""

from __future__ import annotations

import copy
import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.report.conftest import make_study
from validation.demo.deployment import (
    Shift,
    segment_means,
    synthetic_baseline,
    synthetic_history,
    synthetic_validation,
)
from validation.protocol import load_protocol
from validation.schemas import validate_document
from validation.surveillance.batch import write_batch
from validation.surveillance.signals import month_range

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


#: The demo protocol's candidate version (a test deployment may switch a site to it).
CANDIDATE = "1.1.0"


def _reread(table: pd.DataFrame, rows: pd.Series, delta_mm: float) -> None:
    """Rows ``rows`` of ``table`` read ``delta_mm`` differently (IVSd and LVH probability, the
    synthetic model's logistic in the reading), in place."""
    ivsd = pd.to_numeric(table.loc[rows, "measurement"]) + delta_mm
    table.loc[rows, "measurement"] = ivsd.round(4).astype(table["measurement"].dtype)
    probability = (1.0 / (1.0 + np.exp(-2.0 * (ivsd - 11.0)))).round(6)
    table.loc[rows, "probability"] = probability.astype(table["probability"].dtype)


@cache
def _validation_results() -> dict[str, Any]:
    """A ``results.json`` that follows the results contract: the report tests' study
    (:func:`tests.report.conftest.make_study`), computed once per session."""
    with tempfile.TemporaryDirectory() as folder:
        path = make_study(Path(folder) / "analysis")
        return json.loads(path.read_text(encoding="utf-8"))


def write_deployment(
    root: Path,
    *,
    seed: int = 1,
    baseline_n: int = 50,
    per_month: int = 10,
    shift: Shift | None = None,
    segments: list[tuple[str, str]] | None = None,
    months: list[str] | None = None,
    candidate_delta: dict[tuple[str, str], float] | None = None,
    switch: tuple[str, str] | None = None,
    record_switch: bool = True,
) -> dict[str, Path]:
    """Files as a deployment has them: the validation analysis (the released version's
    ``analysed.csv`` and the candidate's under ``versions/1.1.0/``) and ingest accounting, the
    site files (``sites/``), the processed monthly batches (``batches/<month>/batch.csv``) and
    the label files; the predictions carry the demo protocol's released model sha256.

    ``candidate_delta``: per segment, how much higher the candidate reads than the released
    version (0 elsewhere), on the validation studies and in production. ``switch``: (site,
    month) from which the site runs the candidate: its predictions from then on are the
    candidate's (read ``candidate_delta`` differently) and, with ``record_switch``, carry the
    candidate's sha256 and its site file records the deployment (without it, the same
    readings arrive labelled as the released model's and nothing is recorded).
    """
    segments = segments or SEGMENTS
    months = months or MONTHS
    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    candidate_delta = candidate_delta or {}
    means = segment_means(segments, seed)
    studies, accounting = synthetic_validation(segments, baseline_n, seed=seed, means=means)
    analysis = root / "analysis"
    analysis.mkdir(parents=True)
    studies.to_csv(analysis / "analysed.csv", index=False)
    candidate = studies.copy()
    for (site, vendor), delta in candidate_delta.items():
        _reread(candidate, (candidate["site"] == site) & (candidate["vendor"] == vendor), delta)
    (analysis / "versions" / CANDIDATE).mkdir(parents=True)
    candidate.to_csv(analysis / "versions" / CANDIDATE / "analysed.csv", index=False)
    sites = root / "sites"
    sites.mkdir()
    for site in sorted({s for s, _ in segments}):
        text = f"id: {site}\nname: Site {site}\npartitions:\n" + "".join(
            f"  - vendor: {v}\n    source: {{kind: folder, path: d/{site}/{v}}}\n"
            for s, v in segments
            if s == site
        )
        text += f"reference: {{path: r/{site}.csv}}\n"
        if switch is not None and record_switch and switch[0] == site:
            text += f"deployments:\n  - {{version: '{CANDIDATE}', from: '{switch[1]}'}}\n"
        (sites / f"{site}.yaml").write_text(text)
    # the baseline reads the released model and the premarket endpoints from results.json
    results = copy.deepcopy(_validation_results())
    results["model"].update(name="ivsd-cnn", version="1.0.0", sha256=protocol.model_sha256)
    validate_document(results, "results", source=analysis / "results.json")
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
    batch["model_version"] = ""
    if switch is not None:
        site, start = switch
        after = (batch["site"] == site) & (batch["month"] >= start)
        for (s, vendor), delta in candidate_delta.items():
            if s == site:
                _reread(
                    batch, after & (batch["vendor"] == vendor) & (batch["measurement"] != ""), delta
                )
        if record_switch:
            predicted = after & (batch["status"] == "predicted")
            batch.loc[predicted, "model_sha256"] = protocol.model_version(CANDIDATE).sha256
            batch.loc[predicted, "model_version"] = CANDIDATE
    for month, rows in batch.groupby("month"):
        (root / "batches" / month).mkdir(parents=True)
        write_batch(rows, root / "batches" / month, {"month": month})
    (root / "labels").mkdir()
    for month, rows in labels.groupby("arrived"):
        rows.to_csv(root / "labels" / f"{month}.csv", index=False)
    return {
        "protocol": ROOT / "protocols" / "demo.yaml",
        "analysis": analysis,
        "batches": root / "batches",
        "labels": root / "labels",
        "sites": sites,
        "out": root / "surveillance",
    }
