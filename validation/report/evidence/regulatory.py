"""Report context of the regulatory sections: quality gate, benefit-risk, risks, limitations,
the submission summary and the STARD 2015 / CLAIM checklist.

Like the rest of the report layer, this module computes no statistics. It reads the blocks the
analysis wrote (``quality_gate`` from :mod:`validation.analysis.quality_gate`, ``benefit_risk``
from :mod:`validation.analysis.benefit_risk`, ``acceptance``, ``strata``, ``heterogeneity``,
``flow``, the model card) and reshapes them. Numbers stay raw floats; the templates format them
with the filters. Text that carries a number is never built here: each item is structured data
that the template renders.

The cross-references (risks to evidence, special controls, checklist items to sections) and
their words are data in ``reports/text/evidence.yaml`` (``risks``, ``special_controls``,
``stard_2015``, ``claim``, ``general_limitations``), resolved against the sections of the report
kind; the templates print each as a link with its page number (CSS ``target-counter``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from validation.report.badges import badge, met
from validation.report.evidence.kinds import evidence_sections
from validation.report.fields import block, entries
from validation.report.labels import (
    DIMENSIONS,
    dimension_title,
    metric_unit,
    site_names,
    stratum_label,
)
from validation.report.labels import metric as metric_names
from validation.report.outputs import measure_context, outputs_of, present, text_words
from validation.report.sections import links, section_index
from validation.report.text import for_outputs, load_text


def _goal_texts(results: Mapping[str, Any]) -> dict[str, str]:
    """Metric -> goal text of its (first) endpoint."""
    out: dict[str, str] = {}
    for ep in results.get("endpoints") or []:
        out.setdefault(str(ep.get("metric")), str(ep.get("goal_text", "")))
    return out


def _failing_strata(results: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Judged strata that missed a goal, with the estimates of the missed metrics."""
    failing = (results.get("acceptance") or {}).get("strata_failing") or []
    rows = {
        (str(r.get("dimension")), str(r.get("stratum")), str(r.get("metric"))): r
        for r in results.get("strata") or []
    }
    goals = _goal_texts(results)
    measure = measure_context(outputs_of(results))
    card = (results.get("model") or {}).get("card") or {}
    training = block(card, "training_data")
    trained = training.get("vendors")
    trained_on = {str(v) for v in trained} if isinstance(trained, list) else None
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for item in failing:
        dim, stratum, metric = (str(item.get(k)) for k in ("dimension", "stratum", "metric"))
        entry = grouped.setdefault(
            (dim, stratum),
            {
                "dimension": dim,
                "dimension_title": dimension_title(dim),
                "stratum": stratum,
                "label": stratum_label(dim, stratum, names),
                "n": None,
                "metrics": [],
                # a vendor the model card does not list among its training vendors
                "untrained_vendor": dim == "vendor"
                and trained_on is not None
                and stratum not in trained_on,
            },
        )
        row = rows.get((dim, stratum, metric), {})
        label, unit = metric_names(metric).long, metric_unit(metric, measure)
        if entry["n"] is None and row.get("studies", row.get("n")) is not None:
            entry["n"] = row.get("studies", row.get("n"))
        entry["metrics"].append(
            {
                "metric": metric,
                "label": label,
                "unit": unit,
                "estimate": row.get("estimate"),
                "ci_low": row.get("ci_low"),
                "ci_high": row.get("ci_high"),
                "goal_text": goals.get(metric, ""),
            }
        )
    return list(grouped.values())


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def _quality_gate(results: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    flow = results.get("flow") or {}
    block = results.get("quality_gate")
    if not isinstance(block, Mapping):
        rejected = flow.get("quality_rejected")
        return {
            "available": False,
            "included": flow.get("included"),
            "rejected": rejected,
            "none_rejected": rejected == 0,
        }
    overall = block.get("overall") or {}
    tables: dict[str, dict[str, Any]] = {}
    for row in block.get("subgroups") or []:
        dim = str(row.get("dimension"))
        table = tables.setdefault(
            dim,
            {"dimension": dim, "title": dimension_title(dim), "rows": [], "any": False},
        )
        table["rows"].append(
            {
                "stratum": stratum_label(dim, str(row.get("stratum")), names),
                **{k: row.get(k) for k in ("n", "rejected", "rate", "ci_low", "ci_high")},
                "small": bool(row.get("small")),
            }
        )
        table["any"] = table["any"] or bool(row.get("rejected"))
    order = [d for d in DIMENSIONS if d in tables] + [d for d in tables if d not in DIMENSIONS]
    worst = block.get("worst_case") or {}
    endpoints = [
        {
            **ep,
            "primary_judgement": met(ep.get("primary_goal_met")),
            "worst_judgement": met(ep.get("worst_goal_met")),
        }
        for ep in worst.get("endpoints") or []
    ]
    rejected = overall.get("rejected")
    return {
        "available": True,
        "confidence": block.get("confidence"),
        "method": block.get("method"),
        "included": overall.get("n"),
        "rejected": rejected,
        "rate": overall.get("rate"),
        "ci_low": overall.get("ci_low"),
        "ci_high": overall.get("ci_high"),
        "none_rejected": rejected == 0,
        "reasons": list(block.get("reasons") or []),
        "tables": [tables[d] for d in order],
        "worst_case": {
            "rejected_reference_positive": worst.get("rejected_reference_positive"),
            "rejected_reference_negative": worst.get("rejected_reference_negative"),
            "rejected_without_reference": worst.get("rejected_without_reference"),
            "equals_primary": bool(worst.get("equals_primary")),
            "endpoints": endpoints,
            "all_met": bool(endpoints) and all(e.get("worst_goal_met") is True for e in endpoints),
        },
        "measurement": dict(block.get("measurement") or {}),
    }


def _benefit_risk(
    results: Mapping[str, Any], failing: list[dict[str, Any]], vendors: list[str]
) -> dict[str, Any]:
    block = results.get("benefit_risk")
    weak_vendors = sorted({f["stratum"] for f in failing if f["dimension"] == "vendor"})
    base = {
        "caveats": failing,
        "weak_vendors": weak_vendors,
        "supported_vendors": [v for v in vendors if v not in weak_vendors],
    }
    if not isinstance(block, Mapping):
        return {"available": False, "classification": None, "measurement": None, **base}
    # a part is None when the protocol lacks its output (the analysis writes null or nothing)
    parts = {k: block.get(k) for k in ("classification", "measurement")}
    return {
        "available": True,
        **{k: dict(v) if isinstance(v, Mapping) else None for k, v in parts.items()},
        **base,
    }


def _risks(
    results: Mapping[str, Any],
    sections: Mapping[str, Mapping[str, Any]],
    benefit: Mapping[str, Any],
    text: Mapping[str, Any],
) -> dict[str, Any]:
    counts = benefit.get("classification") or {}
    estimable = bool(counts.get("estimable"))
    declared = present(outputs_of(results))
    rows = []
    for risk in for_outputs(text["risks"], declared):
        quantity = risk["quantity"]
        rows.append(
            {
                "id": risk["id"],
                "risk": risk["risk"],
                "harm": risk["harm"],
                "mitigations": list(risk["mitigations"]),
                "evidence": links(risk["evidence"], sections),
                "per_1000": counts.get(quantity) if quantity and estimable else None,
                "weak_vendors": benefit["weak_vendors"]
                if risk["id"] == "measurement-error"
                else [],
            }
        )
    verdict = results.get("overall_verdict")
    controls = []
    for control in for_outputs(text["special_controls"], declared):
        status = control["status"]
        controls.append(
            {
                "id": control["id"],
                "control": control["control"],
                "evidence": links(control["evidence"], sections),
                "verdict": badge(verdict) if status == "verdict" else None,
                "status": text["special_control_status"].get(status, ""),
            }
        )
    return {"rows": rows, "special_controls": controls}


def _heterogeneity(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Metrics whose sites are not poolable, with I², Q p-value and the reason."""
    metrics = ((results.get("heterogeneity") or {}).get("metrics")) or {}
    measure = measure_context(outputs_of(results))
    out = []
    for metric, record in metrics.items():
        if not isinstance(record, Mapping) or record.get("poolable", True) is not False:
            continue
        label, unit = metric_names(metric).long, metric_unit(metric, measure)
        out.append(
            {
                "metric": str(metric),
                "label": label,
                "unit": unit,
                "i2": record.get("i2"),
                "q_p": record.get("q_p"),
                "k": record.get("k"),
                "prediction_low": record.get("prediction_low"),
                "prediction_high": record.get("prediction_high"),
                "reason": record.get("poolability_reason") or record.get("reason") or "",
            }
        )
    return out


def _small_strata(results: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Strata flagged small (one entry per stratum, with its number of studies)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for row in results.get("strata") or []:
        if not row.get("small") or str(row.get("metric")) not in ("bias", "mae"):
            continue
        dim, stratum = str(row.get("dimension")), str(row.get("stratum"))
        seen.setdefault(
            (dim, stratum),
            {
                "dimension_title": dimension_title(dim),
                "label": stratum_label(dim, stratum, names),
                "n": row.get("studies", row.get("n")),
            },
        )
    return list(seen.values())


def _pooled_only(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Primary endpoints the protocol judges pooled only, while it judges others per stratum."""
    by = (results.get("analysis") or {}).get("acceptance_by") or {}
    if not by:
        return None
    judged = {i for ids in by.values() for i in ids}
    pooled = [
        str(ep.get("label"))
        for ep in results.get("endpoints") or []
        if ep.get("primary") and ep.get("id") not in judged
    ]
    if not pooled:
        return None
    return {"endpoints": pooled, "dimensions": [dimension_title(d) for d in by]}


def _is_synthetic(results: Mapping[str, Any]) -> bool:
    protocol = results.get("protocol") or {}
    card = (results.get("model") or {}).get("card") or {}
    texts = [str(protocol.get("sponsor", "")), str(card.get("description", ""))]
    return any("synthetic" in t.lower() for t in texts)


def _limitations(
    results: Mapping[str, Any],
    sections: Mapping[str, Mapping[str, Any]],
    names: Mapping[str, str],
    failing: list[dict[str, Any]],
    gate: Mapping[str, Any],
    text: Mapping[str, Any],
) -> dict[str, Any]:
    flow = results.get("flow") or {}
    card = (results.get("model") or {}).get("card") or {}
    study: list[dict[str, Any]] = []
    if _is_synthetic(results):
        study.append(
            {
                "kind": "synthetic",
                "sponsor": (results.get("protocol") or {}).get("sponsor", ""),
                "evidence": links(("device", "model-card"), sections),
            }
        )
    if failing:
        study.append(
            {
                "kind": "failing",
                "strata": failing,
                "evidence": links(("subgroups", "summary"), sections),
            }
        )
    heterogeneity = _heterogeneity(results)
    if heterogeneity:
        study.append(
            {
                "kind": "heterogeneity",
                "metrics": heterogeneity,
                "evidence": links(("subgroups",), sections),
            }
        )
    small = _small_strata(results, names)
    if small:
        study.append(
            {
                "kind": "small",
                "strata": small,
                "min_n": (results.get("analysis") or {}).get("min_stratum_n"),
                "evidence": links(("subgroups",), sections),
            }
        )
    pooled = _pooled_only(results)
    if pooled:
        study.append({"kind": "pooled-only", **pooled, "evidence": links(("subgroups",), sections)})
    if flow.get("no_reference"):
        study.append(
            {
                "kind": "missing-reference",
                "no_reference": flow.get("no_reference"),
                "included": flow.get("included"),
                "evidence": links(("accountability",), sections),
            }
        )
    if gate.get("none_rejected"):
        study.append(
            {
                "kind": "gate-unexercised",
                "included": gate.get("included"),
                "evidence": links(("quality-gate",), sections),
            }
        )
    elif gate.get("rejected"):
        study.append(
            {
                "kind": "gate-rejections",
                "rejected": gate.get("rejected"),
                "included": gate.get("included"),
                "evidence": links(("quality-gate",), sections),
            }
        )
    card_limits = card.get("limitations") or []
    if isinstance(card_limits, str):
        card_limits = [card_limits]
    if card_limits:
        study.append(
            {
                "kind": "model-card",
                "texts": [str(x) for x in card_limits],
                "evidence": links(("model-card",), sections),
            }
        )
    general = [
        {"text": item["text"], "evidence": links(item["evidence"], sections)}
        for item in for_outputs(text["general_limitations"], present(outputs_of(results)))
    ]
    return {"study": study, "general": general}


def _submission(
    results: Mapping[str, Any],
    kind: str,
    vendors: list[str],
    benefit: Mapping[str, Any],
) -> dict[str, Any]:
    protocol = results.get("protocol") or {}
    device = protocol.get("device") or {}
    model = results.get("model") or {}
    card = model.get("card") or {}
    inputs = block(card, "inputs")
    outputs = entries(card, "outputs")  # in the forward's order
    training = block(card, "training_data")
    endpoints = [{**e, "verdict": badge(e.get("verdict"))} for e in results.get("endpoints") or []]
    sites = (results.get("data") or {}).get("sites") or []
    failing = []
    for f in benefit.get("caveats") or []:
        missed = ", ".join(m["label"] for m in f["metrics"])
        failing.append(f"{f['dimension_title'].lower()} {f['label']} ({missed})")
    return {
        "kind": kind,
        "heading": "510(k) Summary" if kind == "510k" else "De Novo Summary",
        "sponsor": protocol.get("sponsor", ""),
        "device_name": device.get("name", ""),
        "intended_use": device.get("intended_use", ""),
        "predicate": device.get("predicate"),
        "model_name": model.get("name", ""),
        "model_version": model.get("version", ""),
        "model_description": card.get("description", ""),
        "view": inputs.get("view"),
        "outputs": [
            {"name": str(o.get("name", "")), "text": str(o.get("description", ""))} for o in outputs
        ],
        "training_sites": [str(s) for s in training.get("sites") or []],
        "training_vendors": [str(v) for v in training.get("vendors") or []],
        "training_studies": training.get("studies_fit"),
        "independence": training.get("independence"),
        "n_sites": len(sites),
        "vendors": vendors,
        "primary": [e for e in endpoints if e.get("primary")],
        "secondary": [e for e in endpoints if not e.get("primary")],
        "failing": failing,
        "supported_vendors": benefit.get("supported_vendors", []),
        "weak_vendors": benefit.get("weak_vendors", []),
    }


def _checklist_rows(
    items: Iterable[Mapping[str, Any]], sections: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for item in items:
        found = links(item["sections"], sections)
        reason = item.get("not_applicable")
        out.append(
            {
                "number": str(item["number"]),
                "topic": item["topic"],
                "text": item["text"],
                "links": found,
                "na": reason if reason or found else "Not addressed in this report kind.",
            }
        )
    return out


def _checklist(
    sections: Mapping[str, Mapping[str, Any]], text: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "stard": _checklist_rows(text["stard_2015"], sections),
        "claim": _checklist_rows(text["claim"], sections),
    }


def regulatory_context(
    results: Mapping[str, Any], table: pd.DataFrame, *, kind: str
) -> dict[str, Any]:
    """Context for the regulatory sections (quality gate to checklist).

    Parameters
    ----------
    results : mapping
        The parsed, checked ``results.json``. The blocks ``quality_gate`` and
        ``benefit_risk`` are optional: without them the sections say so and show what the
        flow counts allow.
    table : DataFrame
        ``analysed.csv`` (its ``vendor`` column lists the vendors studied).
    kind : {"510k", "de-novo"}
        The submission the report supports.

    Returns
    -------
    dict
        ``quality_gate``, ``benefit_risk``, ``risks`` (rows and special controls),
        ``limitations`` (study-specific items and general ones), ``submission_summary`` and
        ``checklist`` (``stard`` and ``claim`` rows); every cross-reference is a list of
        ``{"id", "title", "appendix"}`` of sections present in the report of ``kind``.

    Raises
    ------
    ReportError
        If ``kind`` is not a known report kind.
    """
    text = load_text("evidence", words=text_words(outputs_of(results)))
    sections = section_index(evidence_sections(kind, results))
    names = site_names(results)
    vendors = sorted(str(v) for v in table["vendor"].dropna().unique()) if "vendor" in table else []
    failing = _failing_strata(results, names)
    gate = _quality_gate(results, names)
    benefit = _benefit_risk(results, failing, vendors)
    return {
        "quality_gate": gate,
        "benefit_risk": benefit,
        "risks": _risks(results, sections, benefit, text),
        "limitations": _limitations(results, sections, names, failing, gate, text),
        "submission_summary": _submission(results, kind, vendors, benefit),
        "checklist": _checklist(sections, text),
    }
