"""Assemble ``results.json``: every estimate with its interval, verdicts and hashes."""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from validation import __version__
from validation.analysis.acceptance import apply_multiplicity
from validation.analysis.baseline import baseline_characteristics, study_period
from validation.analysis.benefit_risk import benefit_risk
from validation.analysis.comparison import compare_versions, comparison_dimensions
from validation.analysis.endpoints import Assessment, assess, endpoint_rows, strata_rows
from validation.analysis.heterogeneity import site_heterogeneity
from validation.analysis.independence import data_independence
from validation.analysis.manifest import build_manifest
from validation.analysis.method_comparison import (
    limits_record,
    method_comparison,
    reference_quality,
    with_interval,
)
from validation.analysis.quality_gate import quality_gate
from validation.analysis.unblind import unblind
from validation.exceptions import AnalysisError, LockError
from validation.hashing import sha256_file, sha256_json
from validation.ingest.decoders import DECODER_PACKAGES
from validation.lock import lock_status
from validation.model.card import read_card
from validation.numbers import json_ready
from validation.protocol import Protocol
from validation.schemas import validate_document, validate_table
from validation.sites import Site

SCHEMA_VERSION = 1
#: The proportions and likelihood ratios of ``results.json`` ``classification``, each a record
#: of ``estimate``, ``ci_low`` and ``ci_high``.
CLASSIFICATION_STATISTICS: tuple[str, ...] = (
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "prevalence",
    "lr_positive",
    "lr_negative",
)
_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "torch",
    "pydicom",
    "jinja2",
    "weasyprint",
    "snakemake",
    "matplotlib",
    *DECODER_PACKAGES,  # what read the pixel data
)


def software_record() -> dict[str, Any]:
    """The environment that produced the results."""
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return {
        "mval": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": packages,
    }


def _agreement(pooled: Assessment, protocol: Protocol) -> dict[str, Any] | None:
    """The pooled agreement block; None when the protocol declares no measurement."""
    if protocol.measurement is None:
        return None
    ba, mae, rmse = pooled.agreement, pooled.mae, pooled.rmse
    if ba is None or mae is None or rmse is None:
        return {"n": pooled.n}
    return {
        "n": ba.n,
        **limits_record(ba),
        "bias_ci": [ba.bias_ci.low, ba.bias_ci.high],
        **with_interval("proportional_slope", ba.proportional_slope, ba.proportional_slope_ci),
        "proportional_p": ba.proportional_p,
        **with_interval("mae", mae.estimate, mae.ci),
        **with_interval("rmse", rmse.estimate, rmse.ci),
        "loa_multiplier": ba.loa_multiplier,
        "method": "Carkeet exact" if ba.ci_method == "exact" else "Bland-Altman 1986 approximate",
    }


def _classification(pooled: Assessment, protocol: Protocol) -> dict[str, Any] | None:
    """The pooled classification block; None when the protocol declares no finding."""
    if protocol.finding is None:
        return None
    acc = pooled.accuracy
    if acc is None:
        return {"n": 0}
    result: dict[str, Any] = {
        "n": acc.n,
        "tp": acc.tp,
        "fp": acc.fp,
        "fn": acc.fn,
        "tn": acc.tn,
        "method": acc.method,
    }
    if pooled.auc is not None:
        result["auc"] = {
            "estimate": pooled.auc.auc,
            "ci_low": pooled.auc.ci.low,
            "ci_high": pooled.auc.ci.high,
            "se": pooled.auc.se,
            "method": "DeLong (Sun & Xu fast algorithm)",
        }
    for name in CLASSIFICATION_STATISTICS:
        value = getattr(acc, name)
        result[name] = {
            "estimate": value.estimate,
            "ci_low": value.ci.low,
            "ci_high": value.ci.high,
        }
    return result


def _check_predictions_match_lock(
    model_hashes: list[str], lock: dict[str, Any], version: str | None = None
) -> None:
    """Every prediction must come from the locked weights (of ``version``, default released)."""
    entries = lock["record"].get("models") or [{**lock["record"], "role": "released"}]
    wanted = (
        (lambda m: m["role"] == "released")
        if version is None
        else (lambda m: m.get("version") == version)
    )
    entry = next((m for m in entries if wanted(m)), None)
    if entry is None:
        raise LockError(f"model version {version} is not in the lock {lock['file']}")
    locked = entry["weights_sha256"]
    if model_hashes != [locked]:
        raise LockError(
            f"predictions {f'of version {version} ' if version else ''}were made by model sha256 "
            f"{', '.join(model_hashes) or '(none)'}, but the lock {lock['file']} records "
            f"{locked}: re-run inference with the locked model"
        )


def _partitions(accounting_paths: list[Path], prediction_paths: list[Path]) -> list[dict[str, Any]]:
    """Each partition's counts and the sha256 of its accounting and predictions files."""
    predictions = {}
    for path in prediction_paths:
        path = Path(path)
        predictions[(path.parent.name, path.stem)] = sha256_file(path)  # .../<site>/<vendor>.csv
    rows = []
    for path in accounting_paths:
        manifest = json.loads((Path(path).parent / "manifest.json").read_text())
        key = (manifest["site"], manifest["vendor"])
        rows.append(
            {
                **{
                    k: manifest[k]
                    for k in (
                        "site",
                        "vendor",
                        "received",
                        "included",
                        "excluded",
                        "excluded_by_reason",
                    )
                },
                "accounting_sha256": sha256_file(path),
                "predictions_sha256": predictions.get(key, ""),
            }
        )
    return rows


def _check_candidates(
    protocol: Protocol, candidates: dict[str, list[Path]]
) -> dict[str, list[Path]]:
    """Every candidate of the protocol needs its predictions, and only its candidates may come."""
    named = [m.version for m in protocol.candidates]
    unknown = sorted(set(candidates) - set(named))
    if unknown:
        raise AnalysisError(
            f"candidates: {unknown} are not candidate versions of {protocol.path} "
            f"(its candidates: {named})"
        )
    missing = [v for v in named if not candidates.get(v)]
    if missing:
        raise AnalysisError(
            f"candidates: the protocol {protocol.path} names candidate version(s) {missing} but "
            "no predictions were given for them (mval analyze --candidate VERSION FILES...)"
        )
    return {v: [Path(p) for p in candidates[v]] for v in named}


def _versions(
    protocol: Protocol,
    sites: list[Site],
    accounting_paths: list[Path],
    candidates: dict[str, list[Path]],
    released_studies: pd.DataFrame,
    lock: dict[str, Any],
    out_dir: Path,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each candidate analysed like the released version, then compared with it (paired)."""
    entries = {m.get("version"): m for m in (lock.get("record") or {}).get("models", [])}
    models = []
    for model in protocol.models:
        card = read_card(model.path)
        entry = entries.get(model.version, {})
        models.append(
            {
                "version": model.version,
                "role": model.role,
                "name": card.name,
                "path": model.path.as_posix(),
                "weights": card.weights,
                "sha256": model.sha256,
                "state_sha256": card.fields["weights"].get("state_sha256", ""),
                "locked_utc": entry.get("locked_utc", ""),
                "trained": str((card.fields.get("training") or {}).get("trained_on", "")),
                "change": card.fields.get("change"),
                "training_data": card.fields.get("training_data"),
            }
        )
    analyses: dict[str, Any] = {}
    comparisons = []
    for version, paths in candidates.items():
        predictions = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths])
        hashes = sorted(set(predictions["model_sha256"]) - {""})
        if lock["valid"]:
            _check_predictions_match_lock(hashes, lock, version)
        unblinded = unblind(protocol, sites, accounting_paths, paths)
        studies = unblinded.studies
        folder = out_dir / "versions" / version
        folder.mkdir(parents=True, exist_ok=True)
        studies.to_csv(folder / "analysed.csv", index=False)
        pooled = assess(studies, protocol)
        endpoints = endpoint_rows(pooled, protocol)
        strata = strata_rows(studies, protocol)
        multiplicity = apply_multiplicity(
            endpoints, studies, protocol, strata_met=not _failing_strata(strata)
        )
        acceptance = _acceptance(endpoints, strata, protocol)
        analyses[version] = {
            "role": "candidate",
            "sha256": hashes[0] if len(hashes) == 1 else hashes,
            "studies": f"versions/{version}/analysed.csv",
            "flow": unblinded.flow,
            "endpoints": endpoints,
            "acceptance": acceptance,
            "multiplicity": multiplicity,
            "agreement": _agreement(pooled, protocol),
            "classification": _classification(pooled, protocol),
            "strata": strata,
            "independence": data_independence(
                studies,
                read_card(protocol.model_version(version).path).fields,
                [s.id for s in sites],
            ),
            "predictions": [{"path": Path(p).as_posix(), "sha256": sha256_file(p)} for p in paths],
        }
        comparisons.append(compare_versions(released_studies, studies, protocol, version=version))
    versions = {
        "released": protocol.released.version,
        "models": models,
        "analyses": analyses,
    }
    comparison = {
        "released": protocol.released.version,
        "candidates": list(candidates),
        "confidence": protocol.confidence,
        **protocol.comparison.record(),
        "dimensions": comparison_dimensions(protocol),
        "results": comparisons,
        "verdicts": {
            c["version"]: {"verdict": c["verdict"], "conclusion": c["conclusion"]}
            for c in comparisons
        },
    }
    return versions, comparison


def _failing_strata(strata: list[dict]) -> list[dict]:
    """Judged strata whose goal is not met; an undefined interval counts as not met."""
    return [
        {"dimension": r["dimension"], "stratum": r["stratum"], "metric": r["metric"]}
        for r in strata
        if r["judged"] and r["goal_met"] is not True
    ]


def _acceptance(endpoints: list[dict], strata: list[dict], protocol: Protocol) -> dict[str, Any]:
    """The study's verdict: every primary endpoint passes pooled and in every judged stratum."""
    pooled = all(e["verdict"] == "PASS" for e in endpoints if e["primary"])
    judged = [r for r in strata if r["judged"]]
    failing = _failing_strata(strata)
    by = protocol.analysis.acceptance_by
    per_stratum = "; ".join(f"{', '.join(ids)} in every {dim} stratum" for dim, ids in by.items())
    return {
        "pooled": "PASS" if pooled else "FAIL",
        "strata_judged": sorted({r["dimension"] for r in judged}),
        "strata_failing": failing,
        "verdict": "PASS" if pooled and not failing else "FAIL",
        "rule": "every primary endpoint's goal met on its confidence bound pooled"
        + (f", and {per_stratum}" if per_stratum else ""),
    }


def analyse(
    protocol: Protocol,
    sites: list[Site],
    accounting_paths: list[Path],
    prediction_paths: list[Path],
    out_dir: str | Path,
    *,
    candidates: dict[str, list[Path]] | None = None,
    accounting_out: str | Path | None = None,
    require_lock: bool = True,
    bundles: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Unblind, compute endpoints and strata; write results.json, analysed.csv, accounting.csv.

    ``candidates`` maps each candidate version of the protocol to its predictions files: each
    is analysed like the released version (``versions/<version>/analysed.csv``) and compared
    with it on the same studies (``results.json`` ``versions`` and ``comparison``).
    ``bundles`` (federated mode) records the verified site bundles the files came from
    (``results.json`` ``data.bundles``: site, bundle sha256, signer key id, withheld columns).
    """
    candidates = _check_candidates(protocol, candidates or {})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # the lock is checked before the sealed reference files are opened (unblinding)
    lock = lock_status(protocol.path, required=require_lock)
    predictions = pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in prediction_paths]
    )
    model_hashes = sorted(set(predictions["model_sha256"]) - {""})
    if lock["valid"]:
        _check_predictions_match_lock(model_hashes, lock)
    unblinded_utc = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lock["unblinded_utc"] = unblinded_utc
    if lock["valid"] and lock["locked_utc"] > unblinded_utc:
        raise LockError(f"lock time {lock['locked_utc']} is after unblinding ({unblinded_utc})")
    unblinded = unblind(protocol, sites, accounting_paths, prediction_paths)
    studies = unblinded.studies
    studies.to_csv(out_dir / "analysed.csv", index=False)
    if accounting_out is not None:
        Path(accounting_out).parent.mkdir(parents=True, exist_ok=True)
        validate_table(unblinded.accounting, "accounting", source=accounting_out)
        unblinded.accounting.to_csv(accounting_out, index=False)

    manifest = build_manifest(unblinded.accounting, accounting_paths, prediction_paths)
    manifest_path = out_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    card = read_card(protocol.model_path)
    pooled = assess(studies, protocol)
    endpoints = endpoint_rows(pooled, protocol)
    strata = strata_rows(studies, protocol)
    multiplicity = apply_multiplicity(
        endpoints, studies, protocol, strata_met=not _failing_strata(strata)
    )
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "report_id": "",
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "protocol": {
            "id": protocol.id,
            "title": protocol.title,
            "version": protocol.version,
            "submission": protocol.submission,
            "sponsor": protocol.sponsor,
            "registered": protocol.registered or "",
            "path": str(protocol.path),
            "sha256": protocol.sha256,
            "device": protocol.record("device"),
            "reference_standard": protocol.record("reference_standard"),
            "outputs": protocol.record("outputs"),
            "multiplicity": multiplicity["rationale"] or multiplicity["statement"],
            "sample_size": protocol.sample_size,
        },
        "model": {
            "name": card.name,
            "version": card.version,
            "path": str(protocol.model_path),
            "weights": card.weights,
            "sha256": model_hashes[0] if len(model_hashes) == 1 else model_hashes,
            "card": card.fields,
        },
        "lock": lock,
        "software": software_record(),
        "analysis": {**protocol.record("analysis"), "threshold": protocol.threshold},
        "data": {
            "sites": [{"id": s.id, "name": s.name} for s in sites],
            "partitions": _partitions(accounting_paths, prediction_paths),
            "reference_files": unblinded.reference_files,
            "manifest": {
                "path": "manifest.json",
                "sha256": sha256_file(manifest_path),
                "partitions": manifest["partitions"],
            },
            **({"bundles": bundles} if bundles else {}),
        },
        "flow": unblinded.flow,
        "flow_by_site": unblinded.flow_by_site,
        "endpoints": endpoints,
        "acceptance": _acceptance(endpoints, strata, protocol),
        "multiplicity": multiplicity,
        "agreement": _agreement(pooled, protocol),
        "classification": _classification(pooled, protocol),
        "method_comparison": method_comparison(studies, protocol),
        "reference_standard_quality": reference_quality(studies, protocol),
        "heterogeneity": site_heterogeneity(studies, protocol),
        "baseline": baseline_characteristics(studies, confidence=protocol.confidence),
        "study_period": study_period(studies),
        "independence": data_independence(studies, card.fields, [s.id for s in sites]),
        "quality_gate": quality_gate(unblinded.gated, protocol),
        "strata": strata,
        "study_table": "analysed.csv",
    }
    results["overall_verdict"] = results["acceptance"]["verdict"]
    if protocol.candidates:
        versions, comparison = _versions(
            protocol, sites, accounting_paths, candidates, studies, lock, out_dir
        )
        results["versions"] = versions
        results["comparison"] = comparison
    results["benefit_risk"] = benefit_risk(results["classification"], results["agreement"])
    results = json_ready(results)
    content = {k: v for k, v in results.items() if k not in ("created_utc", "software")}
    results["report_id"] = f"MVAL-{protocol.stem}-{sha256_json(content)[:8]}"
    validate_document(results, "results", source=out_dir / "results.json")
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results
