"""Report context of the regulatory sections: quality gate, benefit-risk, risks, limitations,
the submission summary and the STARD 2015 / CLAIM checklist.

Like the rest of the report layer, this module computes no statistics. It reads the blocks the
analysis wrote (``quality_gate`` from :mod:`validation.analysis.quality_gate`, ``benefit_risk``
from :mod:`validation.analysis.benefit_risk`, ``acceptance``, ``strata``, ``heterogeneity``,
``flow``, the model card) and reshapes them. Numbers stay raw floats; the templates format them
with the filters. Text that carries a number is never built here: each item is structured data
that the template renders.

The cross-references (risks to evidence, checklist items to sections) are data in this module,
:data:`RISKS`, :data:`SPECIAL_CONTROLS`, :data:`STARD_2015` and :data:`CLAIM_ITEMS`, resolved
against the sections of the report kind; the templates print each as a link with its page
number (CSS ``target-counter``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from validation.exceptions import ReportError

REPORT_KINDS = ("510k", "de-novo")

#: Plain names of the stratum metrics, and their unit ("mm" or "" for a proportion).
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "bias": ("mean bias", "mm"),
    "loa_low": ("lower limit of agreement", "mm"),
    "loa_high": ("upper limit of agreement", "mm"),
    "mae": ("mean absolute error", "mm"),
    "rmse": ("root-mean-square error", "mm"),
    "sensitivity": ("sensitivity", ""),
    "specificity": ("specificity", ""),
    "auc": ("area under the ROC curve", "index"),
}

# ---------------------------------------------------------------------------------------------
# Cross-reference data: risks, special controls, checklist items
# ---------------------------------------------------------------------------------------------

#: Risks to health of an IVSd measurement / LVH flag device, their mitigations and the
#: sections holding the evidence. ``quantity`` names a per-1,000 count of the benefit-risk block.
RISKS: tuple[dict[str, Any], ...] = (
    {
        "id": "missed-lvh",
        "risk": "Missed LVH (false reassurance)",
        "harm": "The device does not flag hypertrophy that is present; diagnosis and treatment of "
        "its cause (hypertension, aortic stenosis, hypertrophic or infiltrative cardiomyopathy) "
        "may be delayed.",
        "mitigations": (
            "Sensitivity goal pre-specified and judged on the lower confidence bound",
            "Labeling: the device assists a qualified reader who confirms every result; a "
            "negative flag does not rule out LVH",
            "Human confirmation of every measurement on the image",
        ),
        "evidence": ("classification", "subgroups", "benefit-risk"),
        "quantity": "false_negative",
    },
    {
        "id": "false-flag",
        "risk": "False LVH flag",
        "harm": "A patient without hypertrophy is flagged; unnecessary follow-up imaging, "
        "referral or anxiety may follow.",
        "mitigations": (
            "Specificity goal pre-specified and judged on the lower confidence bound",
            "Human confirmation of every flag before it enters the clinical report",
        ),
        "evidence": ("classification", "subgroups", "benefit-risk"),
        "quantity": "false_positive",
    },
    {
        "id": "measurement-error",
        "risk": "IVSd measurement error, larger on images of a vendor whose goals were not met",
        "harm": "A wrong wall thickness is reported or a patient is moved across the LVH "
        "threshold; serial comparisons mislead.",
        "mitigations": (
            "Agreement goals (bias and both limits of agreement) judged on every vendor's images",
            "Vendor restriction: labeling lists only the vendors whose goals were met",
            "Ingest check rejects images whose manufacturer is not the partition's vendor",
            "Human confirmation of the measurement on the image",
        ),
        "evidence": ("agreement", "subgroups", "limitations"),
        "quantity": None,
    },
    {
        "id": "out-of-scope",
        "risk": "Use on out-of-scope images (wrong view or modality, no calibration, "
        "uninterpretable quality)",
        "harm": "The device outputs a value for an image it was not validated on.",
        "mitigations": (
            "Input checks at ingest: SOP class, modality, physical pixel spacing",
            "Quality gate: the device declines images it cannot read",
            "Labeling: intended use, supported view and patient population",
        ),
        "evidence": ("device", "accountability", "quality-gate"),
        "quantity": None,
    },
    {
        "id": "automation-bias",
        "risk": "Automation bias: the reader accepts the device's output without checking it",
        "harm": "An erroneous measurement or flag passes into the clinical report.",
        "mitigations": (
            "Labeling and user training: the output is an aid; the reader remains responsible",
            "Output presented as an editable measurement that the reader confirms",
            "Performance, including its uncertainty and limitations, disclosed in labeling",
        ),
        "evidence": ("device", "benefit-risk", "limitations"),
        "quantity": None,
    },
    {
        "id": "model-change",
        "risk": "An unvalidated model version is used, or performance drifts after release",
        "harm": "Performance in use differs from the performance shown here.",
        "mitigations": (
            "Locked model: the weights' sha256 is verified before every inference run",
            "Protocol and model locked before the reference standard was unsealed",
            "Post-market surveillance of input, output and performance drift at every site",
        ),
        "evidence": ("control", "traceability", "environment"),
        "quantity": None,
    },
)

#: Proposed special controls (De Novo), each with the sections that hold its evidence.
SPECIAL_CONTROLS: tuple[dict[str, Any], ...] = (
    {
        "id": "clinical-performance",
        "control": "Clinical performance testing under anticipated conditions of use must "
        "demonstrate that the device meets pre-specified goals for measurement agreement "
        "(bias and limits of agreement) on the images of every supported vendor, and for "
        "sensitivity and specificity of the LVH flag, against a reference standard of several "
        "blinded expert readers at several clinical sites, with results reported by site, "
        "vendor and patient subgroup.",
        "evidence": (
            "summary",
            "design",
            "reference-quality",
            "agreement",
            "classification",
            "subgroups",
        ),
        "status": "verdict",
    },
    {
        "id": "software",
        "control": "Software verification, validation and hazard analysis must be provided, "
        "including a description of the model, its training data and their independence from "
        "the test data, and version control that locks the model (weights identified by a "
        "cryptographic digest).",
        "evidence": ("device", "independence", "model-card", "traceability", "environment"),
        "status": "software",
    },
    {
        "id": "input-quality",
        "control": "The device must check its inputs and decline images outside its "
        "specification (modality, view, calibration, image quality), and the rate and effect "
        "of such rejections must be characterised.",
        "evidence": ("accountability", "quality-gate"),
        "status": "documented",
    },
    {
        "id": "labeling",
        "control": "Labeling must state the intended use, the supported vendors and view, the "
        "clinical performance with its confidence intervals by vendor, the behaviour of the "
        "quality gate, the known limitations, and that a qualified reader confirms every "
        "result.",
        "evidence": ("device", "benefit-risk", "limitations", "submission-summary"),
        "status": "labeling",
    },
    {
        "id": "post-market",
        "control": "A post-market performance monitoring plan must detect drift of the "
        "inputs, outputs and performance at every site and vendor against the goals and "
        "baseline established here, with pre-specified alert limits and actions.",
        "evidence": ("baseline", "subgroups"),
        "status": "plan",
    },
)

SPECIAL_CONTROL_STATUS = {
    "documented": "Evidence in this report",
    "software": "Model description and version control in this report; software verification "
    "and hazard analysis in the design history file",
    "labeling": "Performance and limitations for the labeling in this report; the labeling is a "
    "separate document",
    "plan": "Baseline in this report; the monitoring plan is a separate document",
}

#: STARD 2015 (Bossuyt et al., BMJ 2015;351:h5527): number, topic, short text, the report
#: sections that address it, and the reason when it does not apply.
STARD_2015: tuple[tuple[str, str, str, tuple[str, ...], str | None], ...] = (
    (
        "1",
        "Title or abstract",
        "Identification as a study of diagnostic accuracy using at least one measure of accuracy",
        ("summary", "classification"),
        None,
    ),
    (
        "2",
        "Abstract",
        "Structured summary of study design, methods, results and conclusions",
        ("summary",),
        None,
    ),
    (
        "3",
        "Introduction",
        "Scientific and clinical background, including the intended use and "
        "clinical role of the index test",
        ("device",),
        None,
    ),
    ("4", "Introduction", "Study objectives and hypotheses", ("design", "summary"), None),
    (
        "5",
        "Study design",
        "Whether data collection was planned before the index test and "
        "reference standard were performed (prospective) or after (retrospective)",
        ("design",),
        None,
    ),
    ("6", "Participants", "Eligibility criteria", ("design", "accountability"), None),
    (
        "7",
        "Participants",
        "On what basis potentially eligible participants were identified",
        ("design",),
        None,
    ),
    (
        "8",
        "Participants",
        "Where and when potentially eligible participants were identified "
        "(setting, location and dates)",
        ("design", "baseline"),
        None,
    ),
    (
        "9",
        "Participants",
        "Whether participants formed a consecutive, random or convenience series",
        ("design",),
        None,
    ),
    (
        "10a",
        "Test methods",
        "Index test, in sufficient detail to allow replication",
        ("device", "model-card"),
        None,
    ),
    (
        "10b",
        "Test methods",
        "Reference standard, in sufficient detail to allow replication",
        ("design", "reference-quality"),
        None,
    ),
    (
        "11",
        "Test methods",
        "Rationale for choosing the reference standard (if alternatives exist)",
        ("design",),
        None,
    ),
    (
        "12a",
        "Test methods",
        "Definition of and rationale for test positivity cut-offs of the "
        "index test, distinguishing pre-specified from exploratory",
        ("design", "classification"),
        None,
    ),
    (
        "12b",
        "Test methods",
        "Definition of and rationale for test positivity cut-offs of the "
        "reference standard, distinguishing pre-specified from exploratory",
        ("design",),
        None,
    ),
    (
        "13a",
        "Test methods",
        "Whether clinical information and reference standard results were "
        "available to the performers or readers of the index test",
        ("design", "independence"),
        None,
    ),
    (
        "13b",
        "Test methods",
        "Whether clinical information and index test results were "
        "available to the assessors of the reference standard",
        ("design",),
        None,
    ),
    (
        "14",
        "Analysis",
        "Methods for estimating or comparing measures of diagnostic accuracy",
        ("design", "agreement", "classification"),
        None,
    ),
    (
        "15",
        "Analysis",
        "How indeterminate index test or reference standard results were handled",
        ("quality-gate", "accountability"),
        None,
    ),
    (
        "16",
        "Analysis",
        "How missing data on the index test and reference standard were handled",
        ("accountability", "quality-gate"),
        None,
    ),
    (
        "17",
        "Analysis",
        "Any analyses of variability in diagnostic accuracy, distinguishing "
        "pre-specified from exploratory",
        ("subgroups",),
        None,
    ),
    ("18", "Analysis", "Intended sample size and how it was determined", ("design",), None),
    ("19", "Participants", "Flow of participants, using a diagram", ("accountability",), None),
    (
        "20",
        "Participants",
        "Baseline demographic and clinical characteristics of participants",
        ("baseline",),
        None,
    ),
    (
        "21a",
        "Participants",
        "Distribution of severity of disease in those with the target condition",
        ("baseline",),
        None,
    ),
    (
        "21b",
        "Participants",
        "Distribution of alternative diagnoses in those without the target condition",
        (),
        "Not recorded: the study record holds the IVSd measurements and "
        "the LVH label only, not other diagnoses.",
    ),
    (
        "22",
        "Participants",
        "Time interval and any clinical interventions between index test and reference standard",
        (),
        "The device and the readers measured the same stored "
        "images: no time elapsed and no intervention took place between them.",
    ),
    (
        "23",
        "Test results",
        "Cross tabulation of the index test results by the results of the reference standard",
        ("classification",),
        None,
    ),
    (
        "24",
        "Test results",
        "Estimates of diagnostic accuracy and their precision (such as 95% confidence intervals)",
        ("summary", "agreement", "classification"),
        None,
    ),
    (
        "25",
        "Test results",
        "Any adverse events from performing the index test or the reference standard",
        (),
        "The device and the readers analysed stored images; no "
        "procedure was performed on patients for the study.",
    ),
    (
        "26",
        "Discussion",
        "Study limitations, including sources of potential bias, statistical "
        "uncertainty and generalisability",
        ("limitations",),
        None,
    ),
    (
        "27",
        "Discussion",
        "Implications for practice, including the intended use and clinical role of the index test",
        ("benefit-risk",),
        None,
    ),
    ("28", "Other information", "Registration number and name of registry", ("control",), None),
    (
        "29",
        "Other information",
        "Where the full study protocol can be accessed",
        ("control", "traceability"),
        None,
    ),
    (
        "30",
        "Other information",
        "Sources of funding and other support; role of funders",
        (),
        "The sponsor is named on the title page; funding and the funder's role are declared in "
        "the submission's administrative documents, not in this report.",
    ),
)

#: Key items of CLAIM (Mongan, Moy & Kahn, Radiol Artif Intell 2020;2(2):e200029) that go
#: beyond STARD 2015, with the sections that address them.
CLAIM_ITEMS: tuple[tuple[str, str, str, tuple[str, ...], str | None], ...] = (
    (
        "1",
        "Title / abstract",
        "Identification as a study of AI methodology, specifying the "
        "category of technology used (e.g. deep learning)",
        ("device", "model-card"),
        None,
    ),
    (
        "6",
        "Study design",
        "Study goal, such as model creation, exploratory study, feasibility "
        "study, non-inferiority trial",
        ("design", "summary"),
        None,
    ),
    ("7", "Data", "Data sources", ("design", "traceability"), None),
    ("9", "Data", "Data pre-processing steps", ("model-card",), None),
    ("12", "Data", "De-identification methods", ("accountability",), None),
    ("13", "Data", "How missing data were handled", ("accountability", "quality-gate"), None),
    (
        "14",
        "Ground truth",
        "Definition of ground truth reference standard, in sufficient detail to allow replication",
        ("design", "reference-quality"),
        None,
    ),
    (
        "16",
        "Ground truth",
        "Source of ground-truth annotations; qualifications and preparation of annotators",
        ("design",),
        None,
    ),
    (
        "18",
        "Ground truth",
        "Measurement of inter- and intrarater variability; methods to "
        "mitigate variability and/or resolve discrepancies",
        ("reference-quality",),
        None,
    ),
    (
        "20",
        "Data partitions",
        "How data were assigned to partitions; specify proportions",
        ("independence", "traceability"),
        None,
    ),
    (
        "21",
        "Data partitions",
        "Level at which partitions are disjoint (e.g. image, study, patient, institution)",
        ("independence",),
        None,
    ),
    (
        "22",
        "Model",
        "Detailed description of model, including inputs, outputs, all "
        "intermediate layers and connections",
        ("model-card", "device"),
        None,
    ),
    ("23", "Model", "Software libraries, frameworks and packages", ("environment",), None),
    (
        "25",
        "Training",
        "Details of training approach, including data augmentation, "
        "hyperparameters, number of models trained",
        ("model-card",),
        None,
    ),
    ("26", "Training", "Method of selecting the final model", ("model-card",), None),
    ("28", "Evaluation", "Metrics of model performance", ("design", "summary"), None),
    (
        "29",
        "Evaluation",
        "Statistical measures of significance and uncertainty (e.g. confidence intervals)",
        ("summary", "agreement", "classification"),
        None,
    ),
    ("30", "Evaluation", "Robustness or sensitivity analysis", ("subgroups", "quality-gate"), None),
    (
        "31",
        "Evaluation",
        "Methods for explainability or interpretability (e.g. saliency maps), "
        "and how they were validated",
        (),
        "The device outputs a measurement and a probability "
        "that the reader checks on the image; it offers no saliency or other explanation method.",
    ),
    (
        "32",
        "Evaluation",
        "Validation or testing on external data",
        ("independence", "design"),
        None,
    ),
    (
        "33",
        "Results",
        "Flow of participants or cases, using a diagram to indicate inclusion and exclusion",
        ("accountability",),
        None,
    ),
    (
        "35",
        "Results",
        "Performance metrics for optimal model(s) on all data partitions",
        ("subgroups", "model-card"),
        None,
    ),
    (
        "37",
        "Results",
        "Failure analysis of incorrectly classified cases",
        ("agreement", "subgroups", "quality-gate"),
        None,
    ),
    (
        "41",
        "Other information",
        "Where the full study protocol can be accessed",
        ("control", "traceability"),
        None,
    ),
)

#: Limitations that hold for any study of this design (no numbers, no data).
GENERAL_LIMITATIONS: tuple[dict[str, Any], ...] = (
    {
        "text": "The reference standard is itself a caliper measurement by expert readers. "
        "Agreement with it is bounded by the readers' own variability, and the device is "
        "judged against the readers, not against the true wall thickness.",
        "evidence": ("reference-quality",),
    },
    {
        "text": "Sensitivity and specificity hold at the single pre-specified threshold. The "
        "predictive values depend on how common LVH is: they hold at this study's prevalence "
        "and do not transfer to a population where LVH is more or less common.",
        "evidence": ("classification",),
    },
    {
        "text": "This is a standalone performance study. How the device changes readers' "
        "decisions, reading time and patient outcomes was not measured.",
        "evidence": ("design",),
    },
    {
        "text": "The results apply to the sites, vendors, scanner models and patient population "
        "studied. Other populations (for example children or a different case mix), other "
        "views and scanner software versions released after the study are not covered.",
        "evidence": ("baseline", "subgroups"),
    },
    {
        "text": "Subgroup estimates are descriptive unless the protocol judges them; small "
        "subgroups are imprecise, and many subgroups make a chance finding likely.",
        "evidence": ("subgroups",),
    },
)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _section_index(kind: str) -> dict[str, dict[str, Any]]:
    """Section id -> ``{"id", "title", "appendix"}`` for the sections of ``kind``."""
    from validation.report.context import sections_for  # context imports this module

    return {
        s["id"]: {"id": s["id"], "title": s["title"], "appendix": bool(s["appendix"])}
        for s in sections_for(kind)
    }


def _links(ids: Iterable[str], sections: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The sections among ``ids`` that the report has (anchor ``sec-<id>``), in order."""
    return [dict(sections[i]) for i in ids if i in sections]


def _dimension_titles() -> dict[str, str]:
    from validation.report.context import DIMENSIONS  # context imports this module

    return dict(DIMENSIONS)


def _humanize(key: str) -> str:
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _site_names(results: Mapping[str, Any]) -> dict[str, str]:
    sites = (results.get("data") or {}).get("sites") or []
    return {str(s.get("id")): str(s.get("name")) for s in sites if isinstance(s, Mapping)}


def _stratum_label(dimension: str, stratum: str, names: Mapping[str, str]) -> str:
    if dimension == "site" and stratum in names:
        return f"{names[stratum]} ({stratum})"
    return stratum


def _met(flag: Any) -> dict[str, str]:
    """A goal judgement as a verdict badge."""
    if flag is True:
        return {"text": "MET", "css": "pass"}
    if flag is False:
        return {"text": "NOT MET", "css": "fail"}
    return {"text": "NOT EVALUABLE", "css": "not-evaluable"}


def _verdict(text: Any) -> dict[str, str]:
    """An endpoint verdict as a badge (the classes of ``context.VERDICT_CLASSES``)."""
    verdict = str(text).upper() if text is not None else "NOT EVALUABLE"
    css = {"PASS": "pass", "FAIL": "fail", "NOT TESTED": "not-tested"}.get(verdict, "not-evaluable")
    return {"text": verdict, "css": css}


def _goal_texts(results: Mapping[str, Any]) -> dict[str, str]:
    """Metric -> goal text of its (first) endpoint."""
    out: dict[str, str] = {}
    for ep in results.get("endpoints") or []:
        out.setdefault(str(ep.get("metric")), str(ep.get("goal_text", "")))
    return out


def _failing_strata(
    results: Mapping[str, Any], names: Mapping[str, str], titles: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Judged strata that missed a goal, with the estimates of the missed metrics."""
    failing = (results.get("acceptance") or {}).get("strata_failing") or []
    rows = {
        (str(r.get("dimension")), str(r.get("stratum")), str(r.get("metric"))): r
        for r in results.get("strata") or []
    }
    goals = _goal_texts(results)
    card = (results.get("model") or {}).get("card") or {}
    training = card.get("training_data") if isinstance(card.get("training_data"), Mapping) else {}
    trained = training.get("vendors")
    trained_on = {str(v) for v in trained} if isinstance(trained, list) else None
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for item in failing:
        dim, stratum, metric = (str(item.get(k)) for k in ("dimension", "stratum", "metric"))
        entry = grouped.setdefault(
            (dim, stratum),
            {
                "dimension": dim,
                "dimension_title": titles.get(dim, _humanize(dim)),
                "stratum": stratum,
                "label": _stratum_label(dim, stratum, names),
                "n": None,
                "metrics": [],
                # a vendor the model card does not list among its training vendors
                "untrained_vendor": dim == "vendor"
                and trained_on is not None
                and stratum not in trained_on,
            },
        )
        row = rows.get((dim, stratum, metric), {})
        label, unit = METRIC_LABELS.get(metric, (_humanize(metric), ""))
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


def _quality_gate(
    results: Mapping[str, Any], names: Mapping[str, str], titles: Mapping[str, str]
) -> dict[str, Any]:
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
            {"dimension": dim, "title": titles.get(dim, _humanize(dim)), "rows": [], "any": False},
        )
        table["rows"].append(
            {
                "stratum": _stratum_label(dim, str(row.get("stratum")), names),
                **{k: row.get(k) for k in ("n", "rejected", "rate", "ci_low", "ci_high")},
                "small": bool(row.get("small")),
            }
        )
        table["any"] = table["any"] or bool(row.get("rejected"))
    order = [d for d in titles if d in tables] + [d for d in tables if d not in titles]
    worst = block.get("worst_case") or {}
    endpoints = [
        {
            **ep,
            "primary_judgement": _met(ep.get("primary_goal_met")),
            "worst_judgement": _met(ep.get("worst_goal_met")),
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
    return {
        "available": True,
        "classification": dict(block.get("classification") or {}),
        "measurement": dict(block.get("measurement") or {}),
        **base,
    }


def _risks(
    results: Mapping[str, Any],
    sections: Mapping[str, Mapping[str, Any]],
    benefit: Mapping[str, Any],
) -> dict[str, Any]:
    counts = benefit.get("classification") or {}
    estimable = bool(counts.get("estimable"))
    rows = []
    for risk in RISKS:
        quantity = risk["quantity"]
        rows.append(
            {
                "id": risk["id"],
                "risk": risk["risk"],
                "harm": risk["harm"],
                "mitigations": list(risk["mitigations"]),
                "evidence": _links(risk["evidence"], sections),
                "per_1000": counts.get(quantity) if quantity and estimable else None,
                "weak_vendors": benefit["weak_vendors"]
                if risk["id"] == "measurement-error"
                else [],
            }
        )
    verdict = results.get("overall_verdict")
    controls = []
    for control in SPECIAL_CONTROLS:
        status = control["status"]
        controls.append(
            {
                "id": control["id"],
                "control": control["control"],
                "evidence": _links(control["evidence"], sections),
                "verdict": _verdict(verdict) if status == "verdict" else None,
                "status": SPECIAL_CONTROL_STATUS.get(status, ""),
            }
        )
    return {"rows": rows, "special_controls": controls}


def _heterogeneity(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Metrics whose sites are not poolable, with I², Q p-value and the reason."""
    metrics = ((results.get("heterogeneity") or {}).get("metrics")) or {}
    out = []
    for metric, block in metrics.items():
        if not isinstance(block, Mapping) or block.get("poolable", True) is not False:
            continue
        label, unit = METRIC_LABELS.get(str(metric), (_humanize(metric), ""))
        out.append(
            {
                "metric": str(metric),
                "label": label,
                "unit": unit,
                "i2": block.get("i2"),
                "q_p": block.get("q_p"),
                "k": block.get("k"),
                "prediction_low": block.get("prediction_low"),
                "prediction_high": block.get("prediction_high"),
                "reason": block.get("poolability_reason") or block.get("reason") or "",
            }
        )
    return out


def _small_strata(
    results: Mapping[str, Any], names: Mapping[str, str], titles: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Strata flagged small (one entry per stratum, with its number of studies)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for row in results.get("strata") or []:
        if not row.get("small") or str(row.get("metric")) not in ("bias", "mae"):
            continue
        dim, stratum = str(row.get("dimension")), str(row.get("stratum"))
        seen.setdefault(
            (dim, stratum),
            {
                "dimension_title": titles.get(dim, _humanize(dim)),
                "label": _stratum_label(dim, stratum, names),
                "n": row.get("studies", row.get("n")),
            },
        )
    return list(seen.values())


def _pooled_only(results: Mapping[str, Any], titles: Mapping[str, str]) -> dict[str, Any] | None:
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
    return {"endpoints": pooled, "dimensions": [titles.get(d, _humanize(d)) for d in by]}


def _is_synthetic(results: Mapping[str, Any]) -> bool:
    protocol = results.get("protocol") or {}
    card = (results.get("model") or {}).get("card") or {}
    texts = [str(protocol.get("sponsor", "")), str(card.get("description", ""))]
    return any("synthetic" in t.lower() for t in texts)


def _limitations(
    results: Mapping[str, Any],
    sections: Mapping[str, Mapping[str, Any]],
    names: Mapping[str, str],
    titles: Mapping[str, str],
    failing: list[dict[str, Any]],
    gate: Mapping[str, Any],
) -> dict[str, Any]:
    flow = results.get("flow") or {}
    card = (results.get("model") or {}).get("card") or {}
    study: list[dict[str, Any]] = []
    if _is_synthetic(results):
        study.append(
            {
                "kind": "synthetic",
                "sponsor": (results.get("protocol") or {}).get("sponsor", ""),
                "evidence": _links(("device", "model-card"), sections),
            }
        )
    if failing:
        study.append(
            {
                "kind": "failing",
                "strata": failing,
                "evidence": _links(("subgroups", "summary"), sections),
            }
        )
    heterogeneity = _heterogeneity(results)
    if heterogeneity:
        study.append(
            {
                "kind": "heterogeneity",
                "metrics": heterogeneity,
                "evidence": _links(("subgroups",), sections),
            }
        )
    small = _small_strata(results, names, titles)
    if small:
        study.append(
            {
                "kind": "small",
                "strata": small,
                "min_n": (results.get("analysis") or {}).get("min_stratum_n"),
                "evidence": _links(("subgroups",), sections),
            }
        )
    pooled = _pooled_only(results, titles)
    if pooled:
        study.append(
            {"kind": "pooled-only", **pooled, "evidence": _links(("subgroups",), sections)}
        )
    if flow.get("no_reference"):
        study.append(
            {
                "kind": "missing-reference",
                "no_reference": flow.get("no_reference"),
                "included": flow.get("included"),
                "evidence": _links(("accountability",), sections),
            }
        )
    if gate.get("none_rejected"):
        study.append(
            {
                "kind": "gate-unexercised",
                "included": gate.get("included"),
                "evidence": _links(("quality-gate",), sections),
            }
        )
    elif gate.get("rejected"):
        study.append(
            {
                "kind": "gate-rejections",
                "rejected": gate.get("rejected"),
                "included": gate.get("included"),
                "evidence": _links(("quality-gate",), sections),
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
                "evidence": _links(("model-card",), sections),
            }
        )
    general = [
        {"text": item["text"], "evidence": _links(item["evidence"], sections)}
        for item in GENERAL_LIMITATIONS
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
    inputs = card.get("inputs") if isinstance(card.get("inputs"), Mapping) else {}
    outputs = card.get("outputs") if isinstance(card.get("outputs"), Mapping) else {}
    training = card.get("training_data") if isinstance(card.get("training_data"), Mapping) else {}
    endpoints = [
        {**e, "verdict": _verdict(e.get("verdict"))} for e in results.get("endpoints") or []
    ]
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
        "outputs": [{"name": str(k), "text": str(v)} for k, v in outputs.items()],
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


def _checklist(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    def rows(items: Iterable[tuple[str, str, str, tuple[str, ...], str | None]]) -> list[dict]:
        out = []
        for number, topic, text, where, reason in items:
            links = _links(where, sections)
            out.append(
                {
                    "number": number,
                    "topic": topic,
                    "text": text,
                    "links": links,
                    "na": reason if reason or links else "Not addressed in this report kind.",
                }
            )
        return out

    return {"stard": rows(STARD_2015), "claim": rows(CLAIM_ITEMS)}


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
    if kind not in REPORT_KINDS:
        raise ReportError(f"kind: expected one of {', '.join(REPORT_KINDS)}, got {kind!r}")
    sections = _section_index(kind)
    names = _site_names(results)
    titles = _dimension_titles()
    vendors = sorted(str(v) for v in table["vendor"].dropna().unique()) if "vendor" in table else []
    failing = _failing_strata(results, names, titles)
    gate = _quality_gate(results, names, titles)
    benefit = _benefit_risk(results, failing, vendors)
    return {
        "quality_gate": gate,
        "benefit_risk": benefit,
        "risks": _risks(results, sections, benefit),
        "limitations": _limitations(results, sections, names, titles, failing, gate),
        "submission_summary": _submission(results, kind, vendors, benefit),
        "checklist": _checklist(sections),
    }
