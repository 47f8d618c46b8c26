"""A realistic results.json + analysed.csv for the report tests.

Four sites by three vendors (GE, Philips, Canon), about 50 analysed studies per partition, with a
Canon vendor that overestimates IVSd by about 1.2 mm. The study table is synthetic; every block
the analysis computes from it (endpoints and their multiplicity, acceptance, agreement,
classification, strata, method comparison, heterogeneity, baseline, independence, quality gate,
benefit-risk) comes from the analysis's own functions with the demo protocol, so the fixture
follows the results contract (``validation/schemas/results.schema.json``, checked when it is
written); the report itself never computes statistics.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from validation.analysis.acceptance import apply_multiplicity
from validation.analysis.baseline import baseline_characteristics, study_period
from validation.analysis.benefit_risk import benefit_risk
from validation.analysis.comparison import compare_versions, comparison_dimensions
from validation.analysis.endpoints import assess, endpoint_rows, strata_rows
from validation.analysis.heterogeneity import site_heterogeneity
from validation.analysis.independence import data_independence
from validation.analysis.method_comparison import method_comparison, reference_quality
from validation.analysis.quality_gate import quality_gate
from validation.analysis.results import (
    _acceptance,
    _agreement,
    _classification,
    _failing_strata,
)
from validation.ingest.checks import REASONS as REASON_LABELS
from validation.numbers import json_ready
from validation.protocol import Protocol, load_protocol
from validation.schemas import validate_document

SITES = (
    ("s01", "Riverside University Hospital"),
    ("s02", "St. Brendan Heart Institute"),
    ("s03", "Lakeshore Regional Medical Center"),
    ("s04", "Northgate Community Hospital"),
)
VENDORS = {
    "GE": (("Vivid E95", "Vivid S70N"), 0.15),
    "Philips": (("EPIQ CVx", "Affiniti 70"), -0.10),
    "Canon": (("Aplio i900",), 1.20),
}
#: Exclusion reasons drawn for each partition (codes of validation.ingest.checks.REASONS).
REASONS = ("truncated", "not_dicom", "wrong_sop_class", "wrong_vendor", "identifying_headers")
LVH_MM = 12.0
PROTOCOL = Path(__file__).resolve().parents[2] / "protocols" / "demo.yaml"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _lock(valid: bool) -> dict[str, Any]:
    """The ``lock`` block as ``validation.lock.lock_status`` writes it (plus the unblinding)."""
    if not valid:
        return {
            "status": "absent",
            "valid": False,
            "detail": "No lock record was found for protocol demo.",
            "unblinded_utc": "2026-11-25T15:02:10Z",
        }
    preprocessing = {"target_spacing_mm": 0.25, "size": 128, "frames": 16}
    entry = {
        "version": "1.0.0",
        "role": "released",
        "locked_utc": "2026-03-01T09:00:00Z",
        "model_path": "models/ivsd-cnn/1.0.0",
        "model_name": "ivsd-cnn",
        "model_version": "1.0.0",
        "weights_file": "model.pt",
        "weights_sha256": _sha("weights"),
        "state_sha256": _sha("state"),
        "preprocessing": preprocessing,
    }
    return {
        "status": "valid",
        "valid": True,
        "detail": "Lock record verified: protocol and model hashes match.",
        "file": "protocols/demo.lock.json",
        "file_sha256": _sha("lock"),
        "locked_utc": "2026-03-01T09:00:00Z",
        "record": {
            "version": 2,
            "locked_utc": "2026-03-01T09:00:00Z",
            "protocol_path": "protocols/demo.yaml",
            "protocol_sha256": _sha("protocol"),
            **{k: entry[k] for k in ("model_path", "model_name", "model_version")},
            **{k: entry[k] for k in ("weights_file", "weights_sha256", "state_sha256")},
            "preprocessing": preprocessing,
            "software": {"mval": "0.1.0"},
            "models": [entry],
        },
        "unblinded_utc": "2026-11-25T15:02:10Z",
    }


def make_study(
    folder: Path, *, lock_valid: bool = False, seed: int = 7, versions: bool = False
) -> Path:
    """Write results.json and analysed.csv into ``folder``; return the results.json path.

    ``versions=True`` adds a candidate model version 1.1.0 and its comparison with the released
    1.0.0 (the ``versions`` and ``comparison`` blocks, see :func:`_versions_blocks`).
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, partitions, flow_by_site, refs = [], [], [], []
    total_reasons: dict[str, int] = dict.fromkeys(REASONS, 0)
    for site, _ in SITES:
        site_rows = 0
        s_recv = s_exc = s_noref = 0
        for vendor, (models, shift) in VENDORS.items():
            n_incl = int(rng.integers(47, 54))
            by_reason = {r: int(rng.poisson(0.45)) for r in REASONS}
            excl = sum(by_reason.values())
            for r, k in by_reason.items():
                total_reasons[r] += k
            noref = int(rng.integers(0, 3))
            for _ in range(n_incl - noref):
                sex = str(rng.choice(["F", "M"]))
                age = int(np.clip(rng.normal(61, 14), 18, 94))
                bmi = float(np.clip(rng.lognormal(np.log(27), 0.17), 16, 50))
                ref = float(
                    np.clip(rng.normal(10.3 + 0.8 * (sex == "M") + 0.03 * (age - 60), 1.9), 6, 19)
                )
                quality = str(rng.choice(["good", "adequate", "poor"], p=(0.55, 0.33, 0.12)))
                noise = {"good": 0.7, "adequate": 0.9, "poor": 1.3}[quality]
                model = ref + shift + rng.normal(0, noise)
                prob = float(1 / (1 + math.exp(-(model - LVH_MM) / 0.6)))
                rows.append(
                    {
                        "site": site,
                        "vendor": vendor,
                        "scanner_model": str(rng.choice(models)),
                        "sex": sex,
                        "age": age,
                        "age_band": "18-39" if age < 40 else "40-64" if age < 65 else "65+",
                        "bmi": round(bmi, 1),
                        "bmi_band": "<25" if bmi < 25 else "25-30" if bmi < 30 else "≥30",
                        "image_quality": quality,
                        "study_instance_uid": f"2.25.{int(rng.integers(10**17, 10**18))}",
                        "measurement": model,
                        "reference": ref,
                        "difference": model - ref,
                        "probability": prob,
                        "predicted": int(prob >= 0.5),
                        "label": int(ref >= LVH_MM),
                        "patient_id": f"{site.upper()}-{len(rows):05d}",
                        "study_date": f"2026{rng.integers(1, 7):02d}{rng.integers(1, 29):02d}",
                        **{
                            f"reader_{i}_ivsd_mm": round(ref + rng.normal(0, 1.1), 1)
                            for i in (1, 2, 3)
                        },
                    }
                )
            partitions.append(
                {
                    "site": site,
                    "vendor": vendor,
                    "received": n_incl + excl,
                    "included": n_incl,
                    "excluded": excl,
                    "excluded_by_reason": {r: k for r, k in by_reason.items() if k},
                    "accounting_sha256": _sha(f"acc-{site}-{vendor}"),
                    "predictions_sha256": _sha(f"pred-{site}-{vendor}"),
                }
            )
            s_recv += n_incl + excl
            s_exc += excl
            s_noref += noref
            site_rows += n_incl - noref
        flow_by_site.append(
            {
                "site": site,
                "received": s_recv,
                "excluded": s_exc,
                "included": s_recv - s_exc,
                "quality_rejected": 0,
                "no_reference": s_noref,
                "analysed": site_rows,
            }
        )
        refs.append(
            {
                "site": site,
                "path": f"data/demo/reference/{site}.csv",
                "sha256": _sha(f"ref-{site}"),
                "rows": site_rows + s_noref + 2,
            }
        )
    df = pd.DataFrame(rows)
    df.to_csv(folder / "analysed.csv", index=False)

    protocol = load_protocol(PROTOCOL)
    pooled = assess(df, protocol)
    endpoints = endpoint_rows(pooled, protocol)
    strata = strata_rows(df, protocol)
    multiplicity = apply_multiplicity(
        endpoints, df, protocol, strata_met=not _failing_strata(strata)
    )
    acceptance = _acceptance(endpoints, strata, protocol)

    received = sum(p["received"] for p in partitions)
    excluded = sum(p["excluded"] for p in partitions)
    no_ref = sum(s["no_reference"] for s in flow_by_site)
    results = {
        "schema_version": 1,
        "report_id": "MVAL-demo-1a2b3c4d",
        "created_utc": "2026-11-25T15:02:11Z",
        "protocol": {
            "id": "demo",
            "title": "Prospective multi-site validation of automated IVSd "
            "measurement and LVH detection",
            "version": "1.0",
            "submission": "510k",
            "sponsor": "Demo Cardiac Imaging Inc.",
            "registered": "2026-01-02",
            "path": "protocols/demo.yaml",
            "sha256": _sha("protocol"),
            "device": {
                "name": "EchoSeptum AI",
                "intended_use": "Measurement of IVSd and "
                "flagging of left-ventricular hypertrophy on adult transthoracic "
                "echocardiograms, to assist a qualified reader.",
            },
            "reference_standard": {
                "description": "Consensus of three blinded level-III echocardiographers; "
                "disagreements over 1 mm adjudicated.",
                "measurement": "consensus_ivsd_mm",
                "label": "lvh",
                "readers": ["reader_1_ivsd_mm", "reader_2_ivsd_mm", "reader_3_ivsd_mm"],
            },
            "outputs": protocol.record("outputs"),
            "multiplicity": "All primary endpoints must pass (intersection-union test); no "
            "alpha adjustment.",
            "sample_size": "560 analysable studies give 90% power for the bias endpoint and "
            "80% for sensitivity at an expected 90%.",
        },
        "model": {
            "name": "ivsd-cnn",
            "version": "1.0.0",
            "path": "models/ivsd-cnn/1.0.0",
            "weights": "model.pt",
            "sha256": _sha("weights"),
            "card": {
                "name": "ivsd-cnn",
                "version": "1.0.0",
                "description": "Demo CNN that measures IVSd on parasternal long-axis cine loops.",
                "weights": {
                    "file": "model.pt",
                    "format": "torchscript",
                    "sha256": _sha("weights"),
                    "parameters": 184321,
                },
                "preprocessing": {"target_spacing_mm": 0.25, "size": 128, "frames": 16},
                "inputs": {"modality": "US", "view": "parasternal long axis, 2D, grayscale cine"},
                "outputs": [
                    {
                        "name": "ivsd_mm",
                        "role": "measurement",
                        "unit": "mm",
                        "shape": ["batch"],
                        "description": "IVSd at end-diastole in millimetres",
                    },
                    {
                        "name": "lvh_probability",
                        "role": "probability",
                        "shape": ["batch"],
                        "description": "probability that IVSd is 12 mm or more",
                    },
                ],
                "intended_use": "Measurement of IVSd to assist a qualified reader.",
                "training_data": {
                    "cohort": "development (synthetic)",
                    "sites": ["d01", "d02"],
                    "vendors": ["GE", "Philips", "Canon"],
                    "studies_fit": 1800,
                },
                "performance": {"holdout_mae_mm_vs_truth": 0.612},
                "limitations": [
                    "Not trained on vendors outside the training list.",
                    "Single parasternal long-axis view; no view classification.",
                ],
            },
        },
        "lock": _lock(lock_valid),
        "software": {
            "mval": "0.1.0",
            "python": "3.11.7",
            "platform": "Linux-6.1-x86_64-glibc2.36",
            "packages": {
                "torch": "2.13.0",
                "pydicom": "3.0.2",
                "numpy": "2.4.6",
                "scipy": "1.17.1",
                "pandas": "2.3.3",
                "highdicom": "0.25.1",
            },
        },
        "analysis": {**protocol.record("analysis"), "threshold": 0.5},
        "data": {
            "sites": [{"id": s, "name": nm} for s, nm in SITES],
            "partitions": partitions,
            "reference_files": refs,
        },
        "flow": {
            "received": received,
            "excluded_at_ingest": excluded,
            "excluded_by_reason": {r: k for r, k in total_reasons.items() if k},
            "reason_labels": dict(REASON_LABELS),
            "included": received - excluded,
            "quality_rejected": 0,
            "no_reference": no_ref,
            "analysed": len(df),
        },
        "flow_by_site": flow_by_site,
        "endpoints": endpoints,
        "acceptance": acceptance,
        "overall_verdict": acceptance["verdict"],
        "multiplicity": multiplicity,
        "agreement": _agreement(pooled, protocol),
        "classification": _classification(pooled, protocol),
        "strata": strata,
        "study_table": "analysed.csv",
    }
    results.update(_analysis_blocks(df, results["model"]["card"], protocol))
    if versions:
        results.update(_versions_blocks(df, results, rng, protocol))
    results["benefit_risk"] = benefit_risk(results["classification"], results["agreement"])
    manifest = {
        "version": 1,
        "partitions": [
            {
                **{k: p[k] for k in ("site", "vendor", "received", "included")},
                "files_sha256": _sha(f"files-{p['site']}-{p['vendor']}"),
                "accounting_sha256": p["accounting_sha256"],
                "predictions_sha256": p["predictions_sha256"],
            }
            for p in partitions
        ],
        "files": [],
    }
    validate_document(manifest, "manifest", source=folder / "manifest.json")
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    results["data"]["manifest"] = {
        "path": "manifest.json",
        "sha256": _sha(json.dumps(manifest)),
        "partitions": manifest["partitions"],
    }
    path = folder / "results.json"
    results = json_ready(results)
    validate_document(results, "results", source=path)
    text = json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False)
    path.write_text(text, encoding="utf-8")
    return path


def _analysis_blocks(df: pd.DataFrame, card: dict[str, Any], protocol: Protocol) -> dict[str, Any]:
    """The blocks the real analysis stage adds, computed by its own functions on the table."""
    return {
        "method_comparison": method_comparison(df, protocol),
        "reference_standard_quality": reference_quality(df, protocol),
        "heterogeneity": site_heterogeneity(df, protocol),
        "baseline": baseline_characteristics(df, confidence=protocol.confidence),
        "study_period": study_period(df),
        "independence": data_independence(df, card, [site for site, _ in SITES]),
        "quality_gate": quality_gate(df.assign(status="predicted", detail=""), protocol),
    }


def _versions_blocks(
    df: pd.DataFrame, results: dict[str, Any], rng: np.random.Generator, protocol: Protocol
) -> dict[str, Any]:
    """A candidate 1.1.0 that removes the Canon over-read, analysed and compared with the real
    analysis functions (as ``mval analyze`` does).

    The candidate reads every study again with a little new noise; on Canon its +1.2 mm shift is
    gone. Both versions share the protocol's endpoint ids.
    """
    candidate = df.copy()
    shift = np.where(candidate["vendor"] == "Canon", VENDORS["Canon"][1], 0.0)
    candidate["measurement"] = candidate["measurement"] - shift + rng.normal(0, 0.25, len(df))
    candidate["difference"] = candidate["measurement"] - candidate["reference"]
    candidate["probability"] = 1 / (1 + np.exp(-(candidate["measurement"] - LVH_MM) / 0.6))
    candidate["predicted"] = (candidate["probability"] >= 0.5).astype(int)
    pooled = assess(candidate, protocol)
    endpoints = endpoint_rows(pooled, protocol)
    strata = strata_rows(candidate, protocol)
    multiplicity = apply_multiplicity(
        endpoints, candidate, protocol, strata_met=not _failing_strata(strata)
    )
    comparison = compare_versions(df, candidate, protocol, version="1.1.0")
    card = {"vendors": ["GE", "Philips", "Canon"], "studies_fit": 1800}
    models = [
        {
            "version": version,
            "role": role,
            "name": "ivsd-cnn",
            "path": f"models/ivsd-cnn/{version}",
            "weights": "model.pt",
            "sha256": _sha(f"weights-{version}"),
            "state_sha256": _sha(f"state-{version}"),
            "locked_utc": "2026-03-01T09:00:00Z",
            "trained": "2026-02-20",
            "change": change,
            "training_data": card,
        }
        for version, role, change in (
            ("1.0.0", "released", None),
            (
                "1.1.0",
                "candidate",
                {
                    "previous_version": "1.0.0",
                    "previous_weights_sha256": _sha("weights-1.0.0"),
                    "description": "development cohort extended with Canon studies",
                    "vendors_added": ["Canon"],
                    "vendors_removed": [],
                    "rationale": "the released version over-reads IVSd on Canon",
                },
            ),
        )
    ]
    return {
        "versions": {
            "released": "1.0.0",
            "models": models,
            "analyses": {
                "1.1.0": {
                    "role": "candidate",
                    "sha256": _sha("weights-1.1.0"),
                    "studies": "versions/1.1.0/analysed.csv",
                    "flow": {**results["flow"]},
                    "endpoints": endpoints,
                    "acceptance": _acceptance(endpoints, strata, protocol),
                    "multiplicity": multiplicity,
                    "agreement": _agreement(pooled, protocol),
                    "classification": _classification(pooled, protocol),
                    "strata": strata,
                    "independence": data_independence(
                        candidate, {"training_data": card}, [site for site, _ in SITES]
                    ),
                    "predictions": [
                        {
                            "path": f"predictions/1.1.0/{site}/{vendor}.csv",
                            "sha256": _sha(f"pred-1.1.0-{site}-{vendor}"),
                        }
                        for site, _ in SITES
                        for vendor in VENDORS
                    ],
                }
            },
        },
        "comparison": {
            "released": "1.0.0",
            "candidates": ["1.1.0"],
            "confidence": protocol.confidence,
            "margins": protocol.comparison.record()["margins"],
            "by": protocol.comparison.record()["by"],
            "dimensions": comparison_dimensions(protocol),
            "rationale": protocol.comparison.rationale,
            "results": [comparison],
            "verdicts": {
                "1.1.0": {"verdict": comparison["verdict"], "conclusion": comparison["conclusion"]}
            },
        },
    }


@pytest.fixture(scope="session")
def versions_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results.json of a locked run with a candidate version compared with the released one."""
    return make_study(
        tmp_path_factory.mktemp("versions") / "analysis", lock_valid=True, versions=True
    )


@pytest.fixture(scope="session")
def draft_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results.json of a run without a valid lock (renders a DRAFT)."""
    return make_study(tmp_path_factory.mktemp("draft") / "analysis", lock_valid=False)


@pytest.fixture(scope="session")
def locked_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results.json of a run with a valid lock."""
    return make_study(tmp_path_factory.mktemp("locked") / "analysis", lock_valid=True)


#: The evidence reports the tests read, each rendered (HTML and PDF) at most once per session.
RenderedReport = dict[str, Path]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads a rendered PDF (the ``evidence_report`` fixture) is in the slow tier."""
    for item in items:
        if "evidence_report" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def evidence_report(
    draft_results: Path,
    locked_results: Path,
    versions_results: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, str], RenderedReport]:
    """``evidence_report(study, kind)``: the report of the ``draft``, ``locked`` or ``versions``
    study of ``kind`` ("510k" or "de-novo"), rendered on first use and shared afterwards
    (``{"pdf": Path, "html": Path}``); read it, never write to it."""
    from validation.report import render_report

    sources = {"draft": draft_results, "locked": locked_results, "versions": versions_results}
    folder = tmp_path_factory.mktemp("evidence-reports")
    made: dict[tuple[str, str], RenderedReport] = {}

    def report(study: str, kind: str) -> RenderedReport:
        if (study, kind) not in made:
            made[study, kind] = render_report(
                sources[study], folder / study / f"{kind}.pdf", kind=kind
            )
        return made[study, kind]

    return report
