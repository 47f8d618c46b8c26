"""A realistic results.json + analysed.csv for the report tests.

Four sites by three vendors (GE, Philips, Canon), about 50 analysed studies per partition, with a
Canon vendor that overestimates IVSd by about 1.2 mm. The numbers are computed here with plain
normal-theory formulas only so that the fixture is self-consistent; the report itself never
computes statistics.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from validation.analysis.acceptance import apply_multiplicity
from validation.analysis.baseline import baseline_characteristics, study_period
from validation.analysis.benefit_risk import benefit_risk
from validation.analysis.comparison import compare_versions, comparison_dimensions
from validation.analysis.endpoints import assess, endpoint_rows, strata_rows
from validation.analysis.heterogeneity import site_heterogeneity
from validation.analysis.independence import data_independence
from validation.analysis.method_comparison import method_comparison, reference_quality
from validation.analysis.quality_gate import quality_gate
from validation.analysis.results import _acceptance, _clean
from validation.protocol import load_protocol

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
REASONS = {
    "truncated": "pixel data truncated",
    "not_dicom": "not a DICOM file",
    "wrong_modality": "not an ultrasound image",
    "vendor_mismatch": "study from another vendor's scanner",
    "phi_burned_in": "identifying text burned into the image",
}
LVH_MM = 12.0
CONF = 0.95


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _wilson(k: int, n: int, conf: float = CONF) -> dict[str, float | None]:
    if n == 0:
        return {"estimate": None, "ci_low": None, "ci_high": None}
    z = stats.norm.ppf(0.5 + conf / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"estimate": p, "ci_low": centre - half, "ci_high": centre + half}


def _lr(sens: float | None, spec: float | None, positive: bool) -> dict[str, float | None]:
    if sens is None or spec is None:
        return {"estimate": None, "ci_low": None, "ci_high": None}
    est = sens / (1 - spec) if positive else (1 - sens) / spec
    return {"estimate": est, "ci_low": est * 0.7, "ci_high": est * 1.4}


def _agreement(d: np.ndarray, mean: np.ndarray) -> dict[str, Any]:
    n = d.size
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    t = stats.t.ppf(0.5 + CONF / 2, n - 1)
    se_bias = sd / math.sqrt(n)
    se_loa = sd * math.sqrt(1 / n + 1.96**2 / (2 * (n - 1)))
    slope, _, _, p, se_slope = stats.linregress(mean, d)
    return {
        "n": n,
        "bias": bias,
        "sd": sd,
        "loa_low": bias - 1.96 * sd,
        "loa_high": bias + 1.96 * sd,
        "bias_ci": [bias - t * se_bias, bias + t * se_bias],
        "loa_low_ci": [bias - 1.96 * sd - t * se_loa, bias - 1.96 * sd + t * se_loa],
        "loa_high_ci": [bias + 1.96 * sd - t * se_loa, bias + 1.96 * sd + t * se_loa],
        "proportional_slope": float(slope),
        "proportional_slope_ci": [float(slope - t * se_slope), float(slope + t * se_slope)],
        "proportional_p": float(p),
        "mae": float(np.abs(d).mean()),
        "method": "Carkeet exact",
    }


def _stratum_rows(dim: str, name: str, g: pd.DataFrame, min_n: int, judged: bool) -> list[dict]:
    rows = []
    n = len(g)
    d = g["difference"].to_numpy()
    small = n < min_n
    if n >= 3:
        ag = _agreement(d, (g["ivsd_mm"] + g["reference_ivsd_mm"]).to_numpy() / 2)
        t = stats.t.ppf(0.5 + CONF / 2, n - 1)
        mae_se = float(np.abs(d).std(ddof=1)) / math.sqrt(n)
        values = {
            "bias": (ag["bias"], *ag["bias_ci"]),
            "loa_low": (ag["loa_low"], *ag["loa_low_ci"]),
            "loa_high": (ag["loa_high"], *ag["loa_high_ci"]),
            "mae": (ag["mae"], ag["mae"] - t * mae_se, ag["mae"] + t * mae_se),
        }
    else:
        values = dict.fromkeys(("bias", "loa_low", "loa_high", "mae"), (None, None, None))
    for metric, (est, lo, hi) in values.items():
        goal = None
        if judged and not small and est is not None:
            goal = bool(lo >= -1.0 and hi <= 1.0) if metric == "bias" else None
        rows.append(
            {
                "dimension": dim,
                "stratum": name,
                "metric": metric,
                "n": n,
                "estimate": est,
                "ci_low": lo,
                "ci_high": hi,
                "confidence": CONF,
                "method": "t interval",
                "small": small,
                "goal_met": goal,
            }
        )
    pos = g[g["lvh_ref"] == 1]
    neg = g[g["lvh_ref"] == 0]
    for metric, sub, k in (
        ("sensitivity", pos, int(pos["lvh_pred"].sum())),
        ("specificity", neg, int((neg["lvh_pred"] == 0).sum())),
    ):
        w = _wilson(k, len(sub))
        goal = None
        if judged and len(sub) >= min_n and w["ci_low"] is not None:
            goal = bool(w["ci_low"] >= (0.80 if metric == "sensitivity" else 0.85))
        rows.append(
            {
                "dimension": dim,
                "stratum": name,
                "metric": metric,
                "n": len(sub),
                **w,
                "confidence": CONF,
                "method": "wilson",
                "small": len(sub) < min_n,
                "goal_met": goal,
            }
        )
    return rows


def _verdict(lo: float | None, hi: float | None, goal: dict) -> str:
    if lo is None or hi is None:
        return "NOT EVALUABLE"
    ok = True
    if goal.get("lower") is not None:
        ok &= lo >= goal["lower"]
    if goal.get("upper") is not None:
        ok &= hi <= goal["upper"]
    return "PASS" if ok else "FAIL"


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
                        "ivsd_mm": model,
                        "reference_ivsd_mm": ref,
                        "difference": model - ref,
                        "lvh_probability": prob,
                        "lvh_pred": int(prob >= 0.5),
                        "lvh_ref": int(ref >= LVH_MM),
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
                    "excluded_by_reason": by_reason,
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

    d = df["difference"].to_numpy()
    agreement = _agreement(d, ((df["ivsd_mm"] + df["reference_ivsd_mm"]) / 2).to_numpy())
    tp = int(((df.lvh_pred == 1) & (df.lvh_ref == 1)).sum())
    fp = int(((df.lvh_pred == 1) & (df.lvh_ref == 0)).sum())
    fn = int(((df.lvh_pred == 0) & (df.lvh_ref == 1)).sum())
    tn = int(((df.lvh_pred == 0) & (df.lvh_ref == 0)).sum())
    sens, spec = _wilson(tp, tp + fn), _wilson(tn, tn + fp)
    classification = {
        "n": len(df),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "sensitivity": sens,
        "specificity": spec,
        "ppv": _wilson(tp, tp + fp),
        "npv": _wilson(tn, tn + fn),
        "prevalence": _wilson(tp + fn, len(df)),
        "lr_positive": _lr(sens["estimate"], spec["estimate"], True),
        "lr_negative": _lr(sens["estimate"], spec["estimate"], False),
    }
    n = len(df)
    t = stats.t.ppf(0.975, n - 1)
    mae_se = float(np.abs(d).std(ddof=1)) / math.sqrt(n)
    ep_specs = [
        (
            "ivsd-bias",
            "IVSd mean bias (model − reference)",
            "bias",
            "mm",
            True,
            agreement["bias"],
            agreement["bias_ci"],
            {"lower": -1.0, "upper": 1.0},
            "lower 95% bound ≥ −1 mm and upper 95% bound ≤ 1 mm",
            "t interval",
        ),
        (
            "ivsd-loa-low",
            "IVSd lower limit of agreement",
            "loa_low",
            "mm",
            False,
            agreement["loa_low"],
            agreement["loa_low_ci"],
            {"lower": -3.0, "upper": None},
            "lower 95% bound ≥ −3 mm",
            "Carkeet exact",
        ),
        (
            "ivsd-loa-high",
            "IVSd upper limit of agreement",
            "loa_high",
            "mm",
            False,
            agreement["loa_high"],
            agreement["loa_high_ci"],
            {"lower": None, "upper": 3.0},
            "upper 95% bound ≤ 3 mm",
            "Carkeet exact",
        ),
        (
            "ivsd-mae",
            "IVSd mean absolute error",
            "mae",
            "mm",
            False,
            agreement["mae"],
            [agreement["mae"] - t * mae_se, agreement["mae"] + t * mae_se],
            {"upper": 1.5},
            "upper 95% bound ≤ 1.5 mm",
            "t interval",
        ),
        (
            "lvh-sensitivity",
            "LVH sensitivity",
            "sensitivity",
            "",
            True,
            sens["estimate"],
            [sens["ci_low"], sens["ci_high"]],
            {"lower": 0.80},
            "lower 95% bound ≥ 80%",
            "wilson",
        ),
        (
            "lvh-specificity",
            "LVH specificity",
            "specificity",
            "",
            True,
            spec["estimate"],
            [spec["ci_low"], spec["ci_high"]],
            {"lower": 0.85},
            "lower 95% bound ≥ 85%",
            "wilson",
        ),
    ]
    endpoints = []
    ep_n = {"sensitivity": tp + fn, "specificity": tn + fp}
    for eid, label, metric, unit, primary, est, (lo, hi), goal, text, method in ep_specs:
        endpoints.append(
            {
                "id": eid,
                "label": label,
                "metric": metric,
                "kind": "measurement" if unit == "mm" else "classification",
                "unit": unit,
                "primary": primary,
                "n": ep_n.get(metric, n),
                "estimate": est,
                "ci_low": lo,
                "ci_high": hi,
                "confidence": CONF,
                "method": method,
                "goal": goal,
                "goal_text": text,
                "verdict": _verdict(lo, hi, goal),
            }
        )
    primaries = [e["verdict"] for e in endpoints if e["primary"]]
    overall = "PASS" if all(v == "PASS" for v in primaries) else "FAIL"

    strata = []
    judged = {"site", "vendor"}
    for dim in ("site", "vendor", "scanner_model", "sex", "age_band", "bmi_band", "image_quality"):
        for name, g in df.groupby(dim, sort=True):
            strata += _stratum_rows(dim, str(name), g, 20, dim in judged)

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
                "outputs": {
                    "ivsd_mm": "IVSd at end-diastole in millimetres",
                    "lvh_probability": "probability that IVSd is 12 mm or more",
                },
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
        "lock": (
            {
                "status": "valid",
                "valid": True,
                "detail": "Lock record verified: protocol and model hashes match.",
                "locked_utc": "2026-03-01T09:00:00Z",
            }
            if lock_valid
            else {
                "status": "absent",
                "valid": False,
                "detail": "No lock record was found for protocol demo.",
            }
        ),
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
        "analysis": {
            "confidence": CONF,
            "proportion_ci": "wilson",
            "loa_ci": "exact",
            "loa_multiplier": 1.96,
            "seed": 20261125,
            "min_stratum_n": 20,
            "threshold": 0.5,
        },
        "data": {
            "sites": [{"id": s, "name": nm} for s, nm in SITES],
            "partitions": partitions,
            "reference_files": refs,
        },
        "flow": {
            "received": received,
            "excluded_at_ingest": excluded,
            "excluded_by_reason": total_reasons,
            "reason_labels": REASONS,
            "included": received - excluded,
            "quality_rejected": 0,
            "no_reference": no_ref,
            "analysed": len(df),
        },
        "flow_by_site": flow_by_site,
        "endpoints": endpoints,
        "overall_verdict": overall,
        "multiplicity": {
            "procedure": "intersection-union",
            "secondary": "holm",
            "alpha": 0.05,
            "statement": "Family-wise error rate 0.05 (two-sided; each goal bound one-sided at "
            "0.025). Primary endpoints: every endpoint must succeed (intersection-union test).",
        },
        "agreement": agreement,
        "classification": classification,
        "strata": strata,
        "study_table": "analysed.csv",
    }
    results.update(_analysis_blocks(df, results["model"]["card"]))
    if versions:
        results.update(_versions_blocks(df, results, rng))
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
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    results["data"]["manifest"] = {
        "path": "manifest.json",
        "sha256": _sha(json.dumps(manifest)),
        "partitions": manifest["partitions"],
    }
    path = folder / "results.json"
    text = json.dumps(_clean(results), indent=1, ensure_ascii=False, allow_nan=False)
    path.write_text(text, encoding="utf-8")
    return path


def _analysis_blocks(df: pd.DataFrame, card: dict[str, Any]) -> dict[str, Any]:
    """The blocks the real analysis stage adds, computed by its own functions on the table."""
    protocol = load_protocol(Path(__file__).resolve().parents[2] / "protocols" / "demo.yaml")
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
    df: pd.DataFrame, results: dict[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """A candidate 1.1.0 that removes the Canon over-read, analysed and compared with the real
    analysis functions (as ``mval analyze`` does).

    The candidate reads every study again with a little new noise; on Canon its +1.2 mm shift is
    gone. The released endpoints are recomputed with the protocol's endpoint definitions too, so
    that both versions share the endpoint ids.
    """
    protocol = load_protocol(Path(__file__).resolve().parents[2] / "protocols" / "demo.yaml")
    candidate = df.copy()
    shift = np.where(candidate["vendor"] == "Canon", VENDORS["Canon"][1], 0.0)
    candidate["ivsd_mm"] = candidate["ivsd_mm"] - shift + rng.normal(0, 0.25, len(df))
    candidate["difference"] = candidate["ivsd_mm"] - candidate["reference_ivsd_mm"]
    candidate["lvh_probability"] = 1 / (1 + np.exp(-(candidate["ivsd_mm"] - LVH_MM) / 0.6))
    candidate["lvh_pred"] = (candidate["lvh_probability"] >= 0.5).astype(int)
    results["endpoints"] = endpoint_rows(assess(df, protocol), protocol)
    pooled = assess(candidate, protocol)
    endpoints = endpoint_rows(pooled, protocol)
    strata = strata_rows(candidate, protocol)
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
                    "multiplicity": apply_multiplicity(endpoints, candidate, protocol),
                    "strata": strata,
                }
            },
        },
        "comparison": {
            "released": "1.0.0",
            "candidates": ["1.1.0"],
            "confidence": protocol.confidence,
            "margins": protocol.comparison["margins"],
            "by": protocol.comparison["by"],
            "dimensions": comparison_dimensions(protocol),
            "rationale": protocol.comparison["rationale"],
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
