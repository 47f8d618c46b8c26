"""The frozen surveillance baseline: what the validated model looked like before release.

On the first surveillance run the baseline is built from the validation study (its analysed
studies, ``results.json`` and the ingest accounting) and written to ``baseline.json`` with the
sha256 of its own canonical JSON and of each source file. Later runs re-use it unchanged: a
baseline whose content no longer matches its recorded sha256 stops the run with an
:class:`~validation.exceptions.IntegrityError` naming the file and both hashes. Re-running the
validation analysis does not move the baseline; the run only notes that a source changed.

Per segment (site x vendor) and pooled (site and vendor ``"*"``), the baseline holds: the number
of analysed studies, mean and SD of the predicted measurement, the agreement with the reference
reading (``agreement``: pairs, mean and SD of predicted minus reference measurement, the
yardstick of the
audited-bias signal, and the sensitivity and specificity of the finding's call), the positive rate
(probability at or above the protocol threshold), the exclusion rate at ingest, the software
versions and scanner models seen, samples of age, BMI and predicted measurement (exact up to
:data:`MAX_SAMPLE` values, quantiles beyond), and the counts of sex, pixel spacing and frames.
The protocol's goals and the premarket estimates travel with it.

The segments describe the protocol's released model version. For each candidate version the
protocol locks, ``versions`` holds the same per-segment summaries built from that version's
predictions on the same validation studies (``analysis/versions/<version>/analysed.csv``, same
accounting): the baseline a segment is compared with after its site switches to that version
(:func:`version_segments`). A baseline frozen before schema 3 has no ``versions``; it is still
read, and a run that needs a candidate's baseline says how to rebuild it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from validation.exceptions import AnalysisError, IntegrityError
from validation.hashing import sha256_file, sha256_json
from validation.protocol import Protocol

log = logging.getLogger(__name__)

#: 2: per-segment agreement (the audited-bias yardstick); 3: candidate versions' segments.
SCHEMA_VERSION = 3
POOLED = "*"
#: Numeric samples kept exactly up to this size; larger ones as this many quantiles.
MAX_SAMPLE = 5000
#: Variables of the drift signals: numeric (KS and PSI) and categorical (chi-square).
NUMERIC = {"population": ("age", "bmi")}
CATEGORICAL = {"population": ("sex",), "input": ("spacing_mm", "frames")}
_PERFORMANCE_METRICS = ("bias", "loa_low", "loa_high", "sensitivity", "specificity")


def build_baseline(
    protocol: Protocol,
    analysed_csv: str | Path,
    results_json: str | Path,
    accounting_csv: str | Path,
    candidates: dict[str, str | Path] | None = None,
) -> dict[str, Any]:
    """Summarise the validation study per segment and pooled; return the baseline record.

    Parameters
    ----------
    protocol : Protocol
        The validation protocol (threshold, goals).
    analysed_csv, results_json : path
        ``analysed.csv`` and ``results.json`` of the validation analysis (the released
        version's predictions).
    accounting_csv : path
        The merged ingest accounting of the validation study (every file received).
    candidates : dict of str to path, optional
        Per candidate version, its ``analysed.csv`` (the candidate's predictions on the same
        studies); summarised the same way into ``versions``.

    Returns
    -------
    dict
        The baseline, with ``sha256`` of its canonical JSON (all other keys).

    Raises
    ------
    AnalysisError
        A source file is missing or lacks a needed column.
    """
    candidates = {v: Path(p) for v, p in (candidates or {}).items()}
    sources = [Path(analysed_csv), Path(results_json), Path(accounting_csv)]
    for path in [*sources, *candidates.values()]:
        if not path.is_file():
            raise AnalysisError(
                f"surveillance baseline source {path} not found: run the validation analysis "
                "(`mval analyze ... --accounting-out`) first"
            )
    studies = pd.read_csv(analysed_csv, dtype={"site": str, "vendor": str})
    accounting = pd.read_csv(accounting_csv, dtype=str, keep_default_na=False)
    results = json.loads(Path(results_json).read_text())
    _require(studies, analysed_csv, ("site", "vendor", "measurement", "probability", "age"))
    _require(accounting, accounting_csv, ("site", "vendor", "status", "software_versions"))
    model = results.get("model", {})
    released = _released(protocol)
    versions = []
    for version, path in sorted(candidates.items()):
        table = pd.read_csv(path, dtype={"site": str, "vendor": str})
        _require(table, path, ("site", "vendor", "measurement", "probability", "age"))
        # the files received are the same for every version: their summaries are the
        # released record's (copied below), only the studies' predictions differ
        record = baseline_record(
            table,
            accounting.iloc[:0],
            protocol={"threshold": protocol.threshold},
        )
        locked = protocol.model_version(version)
        versions.append(
            {
                "version": version,
                "role": locked.role,
                "sha256": locked.sha256,
                "source": {"path": str(path), "sha256": sha256_file(path)},
                "segments": record["segments"],
            }
        )
    record = baseline_record(
        studies,
        accounting,
        protocol={
            "id": protocol.id,
            "version": protocol.version,
            "path": str(protocol.path),
            "sha256": protocol.sha256,
            "threshold": protocol.threshold,
            "outputs": protocol.record("outputs"),
            "confidence": protocol.confidence,
            "loa_multiplier": protocol.analysis.loa_multiplier,
            "goals": goals(protocol),
        },
        model={k: model.get(k) for k in ("name", "version", "sha256")},
        released_version=released,
        versions=versions,
        premarket=[
            {k: e.get(k) for k in ("id", "metric", "estimate", "ci_low", "ci_high", "verdict")}
            for e in results.get("endpoints", [])
        ],
        sources=[{"path": str(p), "sha256": sha256_file(p)} for p in sources],
    )
    if versions:
        _copy_accounting(record["segments"], versions)
        record["sha256"] = baseline_digest(record)
    return record


#: Segment fields summarising the files received (the ingest accounting), the same for every
#: model version; ``categorical`` also holds the studies' sex, which is version-independent too.
_ACCOUNTING_FIELDS = (
    "received",
    "excluded",
    "exclusion_rate",
    "software_versions",
    "scanner_models",
)


def _copy_accounting(segments: list[dict[str, Any]], versions: list[dict[str, Any]]) -> None:
    """Give every candidate segment the released segment's accounting summaries."""
    released = {(s["site"], s["vendor"]): s for s in segments}
    for entry in versions:
        by_key = {(s["site"], s["vendor"]): s for s in entry["segments"]}
        for key, source in released.items():
            target = by_key.get(key)
            if target is None:  # a segment without analysed studies: the accounting only
                target = {**source, "n": 0, "agreement": None, "mean_measurement": None}
                target |= {"sd_measurement": None, "positive_rate": None, "n_positive": 0}
                target["numeric"] = {**source["numeric"], "measurement": []}
                entry["segments"].insert(len(entry["segments"]) - 1, target)  # pooled last
                continue
            for field in _ACCOUNTING_FIELDS:
                target[field] = source[field]
            target["categorical"] = {
                **source["categorical"],
                "sex": target["categorical"].get("sex", {}),
            }


def baseline_record(
    studies: pd.DataFrame,
    accounting: pd.DataFrame,
    *,
    protocol: dict[str, Any],
    model: dict[str, Any] | None = None,
    premarket: list[dict[str, Any]] | None = None,
    sources: list[dict[str, str]] | None = None,
    released_version: str | None = None,
    versions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The baseline record from the analysed studies and the ingest accounting (no files).

    ``studies`` needs site, vendor, measurement, probability, age, bmi, sex; ``accounting``
    site, vendor, status, software_versions, scanner_model, spacing_mm, frames.
    ``protocol`` needs ``threshold`` and ``goals`` (see :func:`goals`). ``released_version``
    names the version the segments describe (default: ``model["version"]``); ``versions``
    the candidates' entries (``version``, ``segments``, ...), see :func:`build_baseline`.
    """
    model = model or {}
    threshold = float(protocol["threshold"])
    keys = sorted(
        set(zip(studies["site"], studies["vendor"], strict=True))
        | set(zip(accounting["site"], accounting["vendor"], strict=True))
    )
    by_study = dict(iter(studies.groupby(["site", "vendor"], sort=False)))
    by_file = dict(iter(accounting.groupby(["site", "vendor"], sort=False)))
    segments = [
        _segment(
            site,
            vendor,
            by_study.get((site, vendor), studies.iloc[:0]),
            by_file.get((site, vendor), accounting.iloc[:0]),
            threshold,
        )
        for site, vendor in keys
    ]
    segments.append(_segment(POOLED, POOLED, studies, accounting, threshold))
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "protocol": protocol,
        "model": model,
        "released_version": released_version or model.get("version"),
        "premarket": premarket or [],
        "sources": sources or [],
        "segments": segments,
        "versions": versions or [],
    }
    record["sha256"] = baseline_digest(record)
    return record


def _released(protocol: Protocol) -> str | None:
    try:
        return protocol.released.version
    except (AttributeError, StopIteration):  # a protocol without a models list
        return None


def released_version(baseline: dict[str, Any]) -> str:
    """The model version the baseline's ``segments`` describe."""
    version = baseline.get("released_version") or (baseline.get("model") or {}).get("version")
    return str(version or "")


def baseline_versions(baseline: dict[str, Any]) -> list[str]:
    """Every model version the baseline describes, the released one first."""
    return [released_version(baseline), *(v["version"] for v in baseline.get("versions", []))]


def version_segments(baseline: dict[str, Any], version: str) -> list[dict[str, Any]]:
    """The per-segment summaries (pooled last) of ``version``'s validation predictions.

    Raises
    ------
    AnalysisError
        The baseline holds no summaries for ``version`` (e.g. one frozen before schema 3),
        with what to do.
    """
    if version == released_version(baseline):
        return baseline["segments"]
    for entry in baseline.get("versions", []):
        if entry["version"] == version:
            return entry["segments"]
    raise AnalysisError(
        f"the frozen surveillance baseline (schema {baseline.get('schema_version')}, frozen "
        f"{baseline.get('created_utc', '?')}) holds no validation summaries for model version "
        f"{version!r} (it has {', '.join(map(repr, baseline_versions(baseline)))}): move "
        "baseline.json aside so that the next run freezes a new one from the validation "
        f"analysis, which must include {version} (analysis/versions/{version}/analysed.csv)"
    )


def goals(protocol: Protocol) -> list[dict[str, Any]]:
    """The protocol's goals the audited subset is judged against (bias, limits, sens., spec.)."""
    return [
        {"id": e.id, "metric": e.metric, "goal": e.goal.to_dict(), "label": e.label}
        for e in protocol.endpoints
        if e.metric in _PERFORMANCE_METRICS
    ]


def _require(table: pd.DataFrame, path: str | Path, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise AnalysisError(f"{path} lacks column(s) {missing} needed for the baseline")


def _segment(
    site: str, vendor: str, studies: pd.DataFrame, accounting: pd.DataFrame, threshold: float
) -> dict[str, Any]:
    measurement = pd.to_numeric(studies["measurement"], errors="coerce")
    measured = measurement.dropna().to_numpy(float)
    scores = pd.to_numeric(studies["probability"], errors="coerce")
    probability = scores.dropna()
    # a study counts with any output the protocol declares (a finding-only study has no
    # measurement, a measurement-only one no probability)
    n_studies = int((measurement.notna() | scores.notna()).sum())
    included = accounting[accounting["status"] != "excluded"]
    received = len(accounting)
    excluded = int((accounting["status"] == "excluded").sum())
    numeric = {
        "age": _sample(studies.get("age")),
        "bmi": _sample(studies.get("bmi")),
        "measurement": _sample(studies["measurement"]),
    }
    categorical = {
        "sex": _counts(studies.get("sex")),
        "spacing_mm": _counts(included.get("spacing_mm")),
        "frames": _counts(included.get("frames")),
    }
    return {
        "site": site,
        "vendor": vendor,
        "n": n_studies,
        "agreement": _agreement(studies, threshold),
        "mean_measurement": float(measured.mean()) if measured.size else None,
        "sd_measurement": float(measured.std(ddof=1)) if measured.size > 1 else None,
        "positive_rate": float((probability >= threshold).mean()) if len(probability) else None,
        "n_positive": int((probability >= threshold).sum()),
        "received": received,
        "excluded": excluded,
        "exclusion_rate": excluded / received if received else None,
        "software_versions": sorted(set(included["software_versions"]) - {""}),
        "scanner_models": sorted(set(included.get("scanner_model", pd.Series([]))) - {""}),
        "numeric": numeric,
        "categorical": categorical,
    }


def _agreement(studies: pd.DataFrame, threshold: float) -> dict[str, Any] | None:
    """Pairs, mean and SD of predicted minus reference measurement, and the sensitivity
    and specificity of the finding's call (None without reference readings; a measure None when it
    cannot be estimated)."""
    if "reference" not in studies.columns:
        return None
    predicted = pd.to_numeric(studies["measurement"], errors="coerce").to_numpy(float)
    reference = pd.to_numeric(studies["reference"], errors="coerce").to_numpy(float)
    d = (predicted - reference)[np.isfinite(predicted) & np.isfinite(reference)]
    record: dict[str, Any] = {
        "n": int(d.shape[0]),
        "bias": float(d.mean()) if d.size else None,
        "sd": float(d.std(ddof=1)) if d.size > 1 else None,
        "sensitivity": None,
        "specificity": None,
    }
    if "label" in studies.columns:
        truth = pd.to_numeric(studies["label"], errors="coerce").to_numpy(float)
        call = pd.to_numeric(studies["probability"], errors="coerce").to_numpy(float)
        known = np.isfinite(truth) & np.isfinite(call)
        positive, called = truth[known] == 1, call[known] >= threshold
        if positive.any():
            record["sensitivity"] = float(called[positive].mean())
        if (~positive).any():
            record["specificity"] = float((~called[~positive]).mean())
    return record


def _sample(values: pd.Series | None) -> list[float]:
    """Finite values, sorted; quantiles (Hazen plotting positions) beyond MAX_SAMPLE values."""
    if values is None:
        return []
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    x = np.sort(x[np.isfinite(x)])
    if x.shape[0] > MAX_SAMPLE:
        x = np.quantile(x, (np.arange(MAX_SAMPLE) + 0.5) / MAX_SAMPLE)
    return [round(float(v), 4) for v in x]


def _counts(values: pd.Series | None) -> dict[str, int]:
    if values is None:
        return {}
    text = values.fillna("").astype(str).str.strip()
    counts = text[text != ""].value_counts()
    return {str(k): int(counts[k]) for k in sorted(counts.index)}


def baseline_digest(record: dict[str, Any]) -> str:
    """sha256 of the baseline's canonical JSON, its own ``sha256`` key left out."""
    return sha256_json({k: v for k, v in record.items() if k != "sha256"})


def write_baseline(record: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def load_baseline(path: str | Path) -> dict[str, Any]:
    """Read ``baseline.json`` and verify it against its recorded sha256.

    Raises
    ------
    IntegrityError
        The content does not match the recorded sha256 (the message names the file, the
        recorded and the actual hash), or the file is not a baseline at all.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(
            str(path), "a JSON baseline", f"unreadable JSON ({exc})", what="surveillance baseline"
        ) from None
    if not isinstance(record, dict):
        raise IntegrityError(
            str(path), "a JSON object", type(record).__name__, what="surveillance baseline"
        )
    recorded = str(record.get("sha256", "(none recorded)"))
    actual = baseline_digest(record)
    if recorded != actual:
        raise IntegrityError(str(path), recorded, actual, what="surveillance baseline")
    return record


def freeze_or_load(
    path: str | Path,
    *,
    protocol: Protocol,
    analysis_dir: str | Path,
    accounting_csv: str | Path,
) -> tuple[dict[str, Any], bool]:
    """Load the frozen baseline at ``path`` (verified), or build and freeze it on first use.

    Returns the baseline and whether it was created by this call.
    """
    path = Path(path)
    if path.exists():
        record = load_baseline(path)
        for source in record["sources"]:
            source_path = Path(source["path"])
            if source_path.is_file() and sha256_file(source_path) != source["sha256"]:
                log.info(
                    "%s changed since the baseline was frozen; the frozen baseline is kept",
                    source_path,
                )
        if record["protocol"]["sha256"] != protocol.sha256:
            log.warning(
                "protocol %s differs from the one the baseline was frozen with (sha256 %s)",
                protocol.path,
                record["protocol"]["sha256"],
            )
        return record, False
    analysis_dir = Path(analysis_dir)
    candidates = {
        m.version: analysis_dir / "versions" / m.version / "analysed.csv"
        for m in getattr(protocol, "candidates", ())
    }
    record = build_baseline(
        protocol,
        analysis_dir / "analysed.csv",
        analysis_dir / "results.json",
        accounting_csv,
        candidates=candidates,
    )
    write_baseline(record, path)
    log.info("baseline frozen: %s (sha256 %s)", path, record["sha256"])
    return record, True
