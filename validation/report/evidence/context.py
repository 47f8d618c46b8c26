"""Turn ``results.json`` and ``analysed.csv`` into the plain context the report templates render.

The report computes no statistics: every estimate and interval comes from the analysis stage. This
module only checks that the fields the templates need are present, reshapes them (stratum rows
pivoted to one row per stratum, exclusion reasons with their labels, model-card fields flattened)
and draws the figures. Numbers stay raw floats here; the Jinja filters in
:mod:`validation.report.filters` round them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from validation.exceptions import ReportError
from validation.report import figures
from validation.report.performance import performance_context
from validation.report.regulatory import regulatory_context
from validation.report.study import study_context
from validation.report.versions import versions_context

SCHEMA_VERSION = 1

#: Report kinds: the submission a report supports, its title and introduction.
KINDS: dict[str, dict[str, str]] = {
    "510k": {
        "id": "510k",
        "short": "510(k)",
        "title": "510(k) Premarket Notification: Clinical Performance Evidence Report",
        "intro": (
            "This report presents the results of the pre-registered, multi-site prospective "
            "validation of the device named below, in support of a 510(k) premarket notification. "
            "It compares the device's output with the reference standard on studies from several "
            "clinical sites and ultrasound vendors, and judges each pre-specified endpoint against "
            "its performance goal."
        ),
    },
    "de-novo": {
        "id": "de-novo",
        "short": "De Novo",
        "title": "De Novo Classification Request: Clinical Performance Evidence Report",
        "intro": (
            "This report presents the results of the pre-registered, multi-site prospective "
            "validation of the device named below, in support of a De Novo classification request. "
            "It compares the device's output with the reference standard on studies from several "
            "clinical sites and ultrasound vendors, and judges each pre-specified endpoint against "
            "its performance goal, as evidence for the special controls proposed for the device."
        ),
    },
}

#: Fields the templates rely on, as dotted paths; ``[]`` applies the rest to every list item.
REQUIRED_FIELDS: tuple[str, ...] = (
    "schema_version",
    "report_id",
    "created_utc",
    "protocol.id",
    "protocol.title",
    "protocol.version",
    "protocol.submission",
    "protocol.sponsor",
    "protocol.registered",
    "protocol.path",
    "protocol.sha256",
    "protocol.device.name",
    "protocol.device.intended_use",
    "protocol.reference_standard.description",
    "protocol.reference_standard.measurement",
    "protocol.reference_standard.label",
    "protocol.reference_standard.readers",
    "protocol.multiplicity",
    "protocol.sample_size",
    "model.name",
    "model.version",
    "model.path",
    "model.weights",
    "model.sha256",
    "model.card",
    "lock.status",
    "lock.valid",
    "lock.detail",
    "software.mval",
    "software.python",
    "software.platform",
    "software.packages",
    "analysis.confidence",
    "analysis.proportion_ci",
    "analysis.loa_ci",
    "analysis.loa_multiplier",
    "analysis.seed",
    "analysis.min_stratum_n",
    "analysis.threshold",
    "data.sites[].id",
    "data.sites[].name",
    "data.partitions[].site",
    "data.partitions[].vendor",
    "data.partitions[].received",
    "data.partitions[].included",
    "data.partitions[].excluded",
    "data.partitions[].excluded_by_reason",
    "data.partitions[].accounting_sha256",
    "data.partitions[].predictions_sha256",
    "data.reference_files[].site",
    "data.reference_files[].path",
    "data.reference_files[].sha256",
    "data.reference_files[].rows",
    "flow.received",
    "flow.excluded_at_ingest",
    "flow.excluded_by_reason",
    "flow.reason_labels",
    "flow.included",
    "flow.quality_rejected",
    "flow.no_reference",
    "flow.analysed",
    "flow_by_site[].site",
    "flow_by_site[].received",
    "flow_by_site[].excluded",
    "flow_by_site[].included",
    "flow_by_site[].quality_rejected",
    "flow_by_site[].no_reference",
    "flow_by_site[].analysed",
    "endpoints[].id",
    "endpoints[].label",
    "endpoints[].metric",
    "endpoints[].kind",
    "endpoints[].unit",
    "endpoints[].primary",
    "endpoints[].n",
    "endpoints[].estimate",
    "endpoints[].ci_low",
    "endpoints[].ci_high",
    "endpoints[].confidence",
    "endpoints[].method",
    "endpoints[].goal_text",
    "endpoints[].verdict",
    "overall_verdict",
    "multiplicity.statement",
    "agreement.n",
    "agreement.bias",
    "agreement.sd",
    "agreement.loa_low",
    "agreement.loa_high",
    "agreement.bias_ci",
    "agreement.loa_low_ci",
    "agreement.loa_high_ci",
    "agreement.proportional_slope",
    "agreement.proportional_slope_ci",
    "agreement.proportional_p",
    "agreement.mae",
    "agreement.method",
    "classification.n",
    "classification.tp",
    "classification.fp",
    "classification.fn",
    "classification.tn",
    *(
        f"classification.{m}.{f}"
        for m in (
            "sensitivity",
            "specificity",
            "ppv",
            "npv",
            "prevalence",
            "lr_positive",
            "lr_negative",
        )
        for f in ("estimate", "ci_low", "ci_high")
    ),
    "strata[].dimension",
    "strata[].stratum",
    "strata[].metric",
    "strata[].n",
    "strata[].estimate",
    "strata[].ci_low",
    "strata[].ci_high",
    "strata[].small",
    "strata[].goal_met",
    "study_table",
    "data.manifest.path",
    "data.manifest.sha256",
)

#: Columns of analysed.csv the report reads.
REQUIRED_COLUMNS: tuple[str, ...] = ("site", "vendor", "ivsd_mm", "reference_ivsd_mm", "difference")

VERDICT_CLASSES = {
    "PASS": "pass",
    "FAIL": "fail",
    "NOT EVALUABLE": "not-evaluable",
    "NOT TESTED": "not-tested",
}

#: Subgroup dimensions in the order the report shows them, with their headings.
DIMENSIONS: dict[str, str] = {
    "site": "Site",
    "vendor": "Ultrasound vendor",
    "scanner_model": "Scanner model",
    "sex": "Sex",
    "age_band": "Age band",
    "bmi_band": "Body-mass index band",
    "image_quality": "Image quality",
}
#: Dimensions given a subsection of their own; the rest share "other subgroups".
MAIN_DIMENSIONS = ("site", "vendor")
STRATUM_METRICS = ("bias", "loa_low", "loa_high", "mae", "sensitivity", "specificity")

CLASSIFICATION_METRICS: tuple[tuple[str, str, str], ...] = (
    ("sensitivity", "Sensitivity", ""),
    ("specificity", "Specificity", ""),
    ("ppv", "Positive predictive value (PPV)", ""),
    ("npv", "Negative predictive value (NPV)", ""),
    ("prevalence", "Prevalence", ""),
    ("lr_positive", "Positive likelihood ratio (LR+)", "ratio"),
    ("lr_negative", "Negative likelihood ratio (LR\u2212)", "ratio"),
)

#: The report's sections in order: partial template, heading, and whether it is an appendix.
SECTIONS: tuple[dict[str, Any], ...] = (
    {"id": "control", "title": "Document control", "template": "partials/control.html"},
    {"id": "summary", "title": "Executive summary", "template": "partials/summary.html"},
    {"id": "device", "title": "Device and model description", "template": "partials/device.html"},
    {"id": "design", "title": "Study design", "template": "partials/design.html"},
    {"id": "independence", "title": "Data independence", "template": "partials/independence.html"},
    {
        "id": "accountability",
        "title": "Subject accountability",
        "template": "partials/accountability.html",
    },
    {
        "id": "baseline",
        "title": "Baseline characteristics",
        "template": "partials/baseline.html",
    },
    {
        "id": "reference-quality",
        "title": "Reference-standard quality",
        "template": "partials/reference_quality.html",
    },
    {"id": "agreement", "title": "Measurement results", "template": "partials/agreement.html"},
    {
        "id": "classification",
        "title": "Classification results",
        "template": "partials/classification.html",
    },
    {
        "id": "subgroups",
        "title": "Subgroups and heterogeneity across sites",
        "template": "partials/subgroups.html",
    },
    {
        "id": "quality-gate",
        "title": "Quality-gate analysis",
        "template": "partials/quality_gate.html",
    },
    {
        "id": "versions",
        "title": "Model version comparison (modification protocol)",
        "template": "partials/versions.html",
        "requires": "comparison",
    },
    {"id": "benefit-risk", "title": "Benefit-risk", "template": "partials/benefit_risk.html"},
    {
        "id": "risks",
        "title": "Risks to health, mitigations and special controls",
        "template": "partials/risks.html",
        "kinds": ("de-novo",),
    },
    {"id": "limitations", "title": "Limitations", "template": "partials/limitations.html"},
    {
        "id": "model-card",
        "title": "Model card",
        "template": "partials/model_card.html",
        "appendix": True,
    },
    {
        "id": "submission-summary",
        "title": "Summary text for the submission",
        "template": "partials/submission_summary.html",
        "appendix": True,
    },
    {
        "id": "checklist",
        "title": "STARD 2015 and CLAIM checklist",
        "template": "partials/checklist.html",
        "appendix": True,
    },
    {
        "id": "traceability",
        "title": "Dataset manifest and traceability",
        "template": "partials/traceability.html",
        "appendix": True,
    },
    {
        "id": "environment",
        "title": "Environment record",
        "template": "partials/environment.html",
        "appendix": True,
    },
)


def sections_for(kind: str, results: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The sections of a report of ``kind``, in order (some exist only in one kind).

    A section that ``requires`` a results block (the model version comparison) is included only
    when ``results`` is given and holds that block.
    """
    return [
        {"appendix": False, **s}
        for s in SECTIONS
        if kind in s.get("kinds", (kind,))
        and (not s.get("requires") or bool((results or {}).get(s["requires"])))
    ]


SIGNATORIES: tuple[dict[str, str], ...] = (
    {
        "role": "Prepared by",
        "function": "Study statistician",
        "meaning": "Authorship: I prepared this report and confirm that it reproduces the "
        "locked analysis outputs identified in the Traceability appendix.",
    },
    {
        "role": "Reviewed by",
        "function": "Clinical lead",
        "meaning": "Review: I reviewed the clinical content, the reference standard and the "
        "subject accountability.",
    },
    {
        "role": "Approved by",
        "function": "Quality / Regulatory affairs",
        "meaning": "Approval: I approve this report as performance evidence for the submission.",
    },
)


def _missing_fields(data: Any, path: str, prefix: str = "") -> list[str]:
    """The dotted paths (with list indices) under ``path`` that ``data`` lacks."""
    head, _, rest = path.partition(".")
    is_list = head.endswith("[]")
    key = head[:-2] if is_list else head
    here = f"{prefix}.{key}" if prefix else key
    if not isinstance(data, Mapping) or key not in data:
        return [here]
    value = data[key]
    if is_list:
        if not isinstance(value, list):
            return [f"{here} (a list)"]
        missing: list[str] = []
        for i, item in enumerate(value):
            missing += _missing_fields(item, rest, f"{here}[{i}]") if rest else []
        return missing
    return _missing_fields(value, rest, here) if rest else []


#: Blocks the analysis writes as ``{"n": k}`` alone when too few studies make them estimable.
NOT_ESTIMABLE_BLOCKS = ("agreement", "classification")


def _not_estimable(results: Mapping[str, Any], block: str) -> bool:
    """Whether ``results[block]`` is the analysis's "not estimable" form: only its ``n``."""
    value = results.get(block)
    return isinstance(value, Mapping) and set(value) == {"n"}


def check_results(results: Mapping[str, Any], *, source: str = "results.json") -> None:
    """Raise :class:`ReportError` naming every required field that ``results`` lacks."""
    if not isinstance(results, Mapping):
        raise ReportError(f"{source}: expected a JSON object, got {type(results).__name__}")
    version = results.get("schema_version")
    if version is not None and version != SCHEMA_VERSION:
        raise ReportError(
            f"{source}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})"
        )
    missing: list[str] = []
    for path in REQUIRED_FIELDS:
        block = path.split(".")[0]
        skip = block in NOT_ESTIMABLE_BLOCKS and path != f"{block}.n"
        if skip and _not_estimable(results, block):
            continue
        missing += _missing_fields(results, path)
    if missing:
        shown = ", ".join(missing[:12]) + (
            f" and {len(missing) - 12} more" if len(missing) > 12 else ""
        )
        raise ReportError(f"{source} is missing required field(s): {shown}")


def load_results(results_path: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """Read and check ``results.json`` and the study table (``analysed.csv``) beside it."""
    path = Path(results_path)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"results file {path} does not exist; run the analysis first") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"results file {path} is not valid JSON: {exc}") from exc
    check_results(results, source=str(path))
    table_path = path.parent / str(results["study_table"])
    try:
        table = pd.read_csv(table_path)
    except FileNotFoundError as exc:
        raise ReportError(
            f"study table {table_path} (results.json: study_table) does not exist"
        ) from exc
    absent = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if absent:
        raise ReportError(f"study table {table_path} lacks column(s): {', '.join(absent)}")
    return results, table


# ---------------------------------------------------------------------------------------------
# Reshaping helpers
# ---------------------------------------------------------------------------------------------


#: Words kept as written when a model-card key is turned into a label.
WORDS = {
    "sha256": "sha256",
    "mm": "mm",
    "mae": "MAE",
    "ivsd": "IVSd",
    "lvh": "LVH",
    "id": "ID",
    "sop": "SOP",
    "us": "US",
    "url": "URL",
    "auc": "AUC",
    "roc": "ROC",
    "ci": "CI",
}


def _humanize(key: str) -> str:
    words = [w for w in str(key).replace("_", " ").replace("-", " ").split() if w]
    if not words:
        return str(key)
    out = [WORDS.get(w.lower(), w) for w in words]
    if words[0].lower() not in WORDS:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def _plain(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{_humanize(k)}: {_plain(v)}" for k, v in value.items())
    return str(value)


def card_rows(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Flatten a free-form model card into rows: ``{"field", "text", "bullets", "pairs"}``.

    A scalar becomes ``text``; a list becomes ``bullets`` (a list); a mapping becomes
    ``pairs`` of ``{"key", "value", "mono"}`` (sha256 values flagged ``mono``).
    """
    rows: list[dict[str, Any]] = []
    for key, val in card.items():
        row: dict[str, Any] = {
            "field": _humanize(key),
            "text": None,
            "bullets": None,
            "pairs": None,
        }
        if isinstance(val, Mapping):
            row["pairs"] = [
                {"key": _humanize(k), "value": _plain(v), "mono": "sha256" in str(k).lower()}
                for k, v in val.items()
            ]
        elif isinstance(val, list):
            row["bullets"] = [_plain(v) for v in val]
        else:
            row["text"] = _plain(val)
        rows.append(row)
    return rows


def _verdict(text: Any) -> dict[str, str]:
    verdict = str(text).upper() if text is not None else "NOT EVALUABLE"
    return {"text": verdict, "css": VERDICT_CLASSES.get(verdict, "not-evaluable")}


def _endpoints(endpoints: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for ep in endpoints:
        row = dict(ep)
        row["verdict"] = _verdict(ep["verdict"])
        row["unit_label"] = {"mm": "mm", "index": ""}.get(ep["unit"], "%")
        row["rationale"] = ep.get("rationale")
        rows.append(row)
    return rows


def _site_names(results: Mapping[str, Any]) -> dict[str, str]:
    return {str(s["id"]): str(s["name"]) for s in results["data"]["sites"]}


def _flow(results: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    flow = results["flow"]
    labels = flow["reason_labels"] or {}
    reasons = sorted(flow["excluded_by_reason"].items(), key=lambda kv: (-int(kv[1]), kv[0]))
    by_site = [
        dict(row, name=names.get(str(row["site"]), str(row["site"])))
        for row in results["flow_by_site"]
    ]
    return {
        **{
            k: flow[k]
            for k in (
                "received",
                "excluded_at_ingest",
                "included",
                "quality_rejected",
                "no_reference",
                "analysed",
            )
        },
        "exclusions": [
            {"reason": r, "label": labels.get(r, _humanize(r)), "n": n} for r, n in reasons if n
        ],
        "by_site": by_site,
    }


def _reason_text(by_reason: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    parts = [f"{labels.get(r, _humanize(r))} ({n})" for r, n in by_reason.items() if n]
    return "; ".join(parts) if parts else "none"


def _cell(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("n", "estimate", "ci_low", "ci_high", "small", "goal_met")}


def _strata(results: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Pivot the tidy strata rows into one table per dimension, one row per stratum."""
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for row in results["strata"]:
        dim, stratum, metric = str(row["dimension"]), str(row["stratum"]), str(row["metric"])
        rows = tables.setdefault(dim, {})
        if stratum not in rows:
            label = (
                f"{names[stratum]} ({stratum})" if dim == "site" and stratum in names else stratum
            )
            rows[stratum] = {
                "stratum": label,
                "n": None,
                "small": False,
                "cells": dict.fromkeys(STRATUM_METRICS),
            }
        entry = rows[stratum]
        if metric in STRATUM_METRICS:
            entry["cells"][metric] = _cell(row)
        if metric == "bias":
            entry["n"] = row["n"]
            entry["small"] = bool(row["small"])
    order = [d for d in DIMENSIONS if d in tables] + [d for d in tables if d not in DIMENSIONS]
    out = []
    for dim in order:
        rows = list(tables[dim].values())
        out.append(
            {
                "dimension": dim,
                "title": DIMENSIONS.get(dim, _humanize(dim)),
                "main": dim in MAIN_DIMENSIONS,
                "rows": rows,
                "any_small": any(
                    c["small"] for r in rows for c in r["cells"].values() if c is not None
                ),
                "judged": any(
                    c["goal_met"] is not None for r in rows for c in r["cells"].values() if c
                ),
            }
        )
    return out


def _sum(*counts: Any) -> int | None:
    return None if any(c is None for c in counts) else int(sum(counts))


def _classification(results: Mapping[str, Any]) -> dict[str, Any]:
    cls = results["classification"]
    estimable = not _not_estimable(results, "classification")
    empty = {"estimate": None, "ci_low": None, "ci_high": None}
    metrics = [
        {
            "label": label,
            "unit": unit,
            **{k: (cls[key] if estimable else empty)[k] for k in ("estimate", "ci_low", "ci_high")},
        }
        for key, label, unit in CLASSIFICATION_METRICS
    ]
    tp, fp, fn, tn = (cls.get(k) for k in ("tp", "fp", "fn", "tn"))
    return {
        "estimable": estimable,
        "n": cls["n"],
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "pred_pos": _sum(tp, fp),
        "pred_neg": _sum(fn, tn),
        "ref_pos": _sum(tp, fn),
        "ref_neg": _sum(fp, tn),
        "metrics": metrics,
    }


AGREEMENT_KEYS = (
    "bias",
    "sd",
    "loa_low",
    "loa_high",
    "bias_ci",
    "loa_low_ci",
    "loa_high_ci",
    "proportional_slope",
    "proportional_slope_ci",
    "proportional_p",
    "mae",
    "mae_ci",
    "method",
)


def _agreement(results: Mapping[str, Any]) -> dict[str, Any]:
    """The agreement block; every key present (None where not estimable; ``mae_ci`` optional)."""
    agreement = results["agreement"]
    return {
        **dict.fromkeys(AGREEMENT_KEYS),
        **agreement,
        "estimable": not _not_estimable(results, "agreement"),
    }


def _acceptance(results: Mapping[str, Any]) -> dict[str, Any]:
    """The optional acceptance block: its rule and the judged strata that failed."""
    acc = results.get("acceptance") or {}
    return {
        "rule": acc.get("rule"),
        "failing": [
            f"{DIMENSIONS.get(str(f.get('dimension')), f.get('dimension'))} "
            f"{f.get('stratum')} ({f.get('metric')})"
            for f in acc.get("strata_failing") or []
        ],
    }


def _draft_reason(lock: Mapping[str, Any]) -> str:
    detail = str(lock["detail"]).strip()
    return (
        f"The analysis has no valid lock (status: {lock['status']}). {detail} Without a lock "
        "that precedes unblinding, it cannot be shown that the protocol and model were frozen "
        "before the reference standard was seen; this report is therefore a DRAFT and is not "
        "evidence for a submission."
    )


def build_context(
    results: Mapping[str, Any], table: pd.DataFrame, *, kind: str = "510k"
) -> dict[str, Any]:
    """Build the plain template context from checked results and the analysed study table.

    Parameters
    ----------
    results : mapping
        The parsed ``results.json`` (checked with :func:`check_results`).
    table : DataFrame
        ``analysed.csv``: one row per analysed study.
    kind : {"510k", "de-novo"}
        The submission the report supports.

    Returns
    -------
    dict
        Raw values (unrounded), reshaped for the templates, and the figures as SVG data URIs.
    """
    if kind not in KINDS:
        raise ReportError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    check_results(results)
    names = _site_names(results)
    lock = results["lock"]
    draft = not bool(lock["valid"])
    flow = _flow(results, names)
    labels = results["flow"]["reason_labels"] or {}
    analysis = results["analysis"]
    protocol = results["protocol"]
    agreement = _agreement(results)
    vendors = sorted(str(v) for v in table["vendor"].dropna().unique())

    figure_list = [
        figures.flow_diagram(flow),
        figures.bland_altman(table, agreement, confidence=analysis["confidence"]),
    ]
    figs = {f["id"]: f for f in figure_list}

    return {
        "kind": KINDS[kind],
        "report_id": results["report_id"],
        "created_utc": results["created_utc"],
        "draft": draft,
        "draft_reason": _draft_reason(lock) if draft else "",
        "protocol": protocol,
        "model": {k: results["model"][k] for k in ("name", "version", "path", "weights", "sha256")},
        "model_card": card_rows(results["model"]["card"] or {}),
        "lock": {
            "status": lock["status"],
            "valid": bool(lock["valid"]),
            "detail": lock["detail"],
            "locked_utc": lock.get("locked_utc"),
            "unblinded_utc": lock.get("unblinded_utc"),
            "file_sha256": lock.get("file_sha256"),
        },
        "software": {
            "mval": results["software"]["mval"],
            "python": results["software"]["python"],
            "platform": results["software"]["platform"],
            "packages": [
                {"name": k, "version": v}
                for k, v in sorted(
                    results["software"]["packages"].items(), key=lambda kv: kv[0].lower()
                )
            ],
        },
        "analysis": analysis,
        "confidence": analysis["confidence"],
        "signatories": [dict(s) for s in SIGNATORIES],
        "sections": sections_for(kind, results),
        "endpoints": _endpoints(results["endpoints"]),
        "overall_verdict": _verdict(results["overall_verdict"]),
        "multiplicity_statement": results["multiplicity"]["statement"],
        "flow": flow,
        "agreement": _agreement(results),
        "acceptance": _acceptance(results),
        "classification": _classification(results),
        "strata": _strata(results, names),
        "sites": [{"id": k, "name": v} for k, v in names.items()],
        "vendors": vendors,
        "partitions": [
            dict(
                p,
                site_name=names.get(str(p["site"]), str(p["site"])),
                reasons=_reason_text(p["excluded_by_reason"], labels),
            )
            for p in results["data"]["partitions"]
        ],
        "manifest": results["data"]["manifest"],
        "bundles": [
            dict(b, site_name=names.get(str(b["site"]), str(b["site"])))
            for b in results["data"].get("bundles", [])
        ],
        "reference_files": [
            dict(r, site_name=names.get(str(r["site"]), str(r["site"])))
            for r in results["data"]["reference_files"]
        ],
        "figures": figs,
        **study_context(results, table),
        **performance_context(results, table),
        **regulatory_context(results, table, kind=kind),
        **versions_context(results),
    }
