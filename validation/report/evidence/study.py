"""Report context of the study sections: device, design, data independence, baseline, reference.

These sections tell a quality team *what* was tested (the device and its model card), *how*
(sites, dates, the reference standard, hypotheses, multiplicity), *on whom* (baseline
characteristics by site and vendor) and *against what* (the reliability of the reference
standard). Like the rest of the report this module computes no statistics: every number comes
from ``results.json`` (blocks ``protocol``, ``model``, ``lock``, ``multiplicity``,
``reference_standard_quality`` and, from :mod:`validation.analysis.baseline` and
:mod:`validation.analysis.independence`, ``baseline``, ``study_period`` and
``independence``). It only selects, labels and orders values, and turns a few of them into
words (e.g. an ICC's reliability band). A block the results lack is marked unavailable, and
the section says so instead of failing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from validation.report.fields import block, entries
from validation.report.filters import suffix
from validation.report.labels import humanize, plain, site_names
from validation.report.outputs import outputs_of, present, text_words
from validation.report.text import load_text

#: Model-card input fields with their labels, in the order the report shows them.
INPUT_LABELS: dict[str, str] = {
    "modality": "Modality",
    "sop_class": "DICOM SOP class",
    "view": "Echocardiographic view",
    "required_attributes": "Required DICOM attributes",
    "tensor": "Model input (after preprocessing)",
}
#: Model-card preprocessing fields: label and unit.
PREPROCESSING_LABELS: dict[str, tuple[str, str]] = {
    "target_spacing_mm": ("Pixel spacing after resampling", "mm"),
    "size": ("Image size after resizing (pixels per side)", "px"),
    "frames": ("Frames sampled per cine loop", "frames"),
}
#: Model-card training-record fields and their labels.
TRAINING_LABELS: dict[str, str] = {
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "learning_rate": "Learning rate",
    "torch": "PyTorch version",
    "mval": "mval version",
    "trained_on": "Trained on",
}
#: Reliability bands for an ICC (Koo & Li 2016): upper limit (exclusive) and word.
ICC_BANDS: tuple[tuple[float, str], ...] = (
    (0.50, "poor"),
    (0.75, "moderate"),
    (0.90, "good"),
    (float("inf"), "excellent"),
)
#: The ICC forms the report highlights: a single reader and the mean of the k readers.
ICC_SINGLE, ICC_CONSENSUS = "ICC(2,1)", "ICC(2,k)"
#: The lower bound the consensus ICC must clear for the report to call the reference reliable.
ICC_RELIABLE = 0.75
#: Headings of the baseline groupings.
BASELINE_TITLES = {"overall": "All analysed studies", "site": "By site", "vendor": "By vendor"}


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _item(label: str, value: Any) -> dict[str, Any]:
    """A labelled card value: a list stays a list (``items``), anything else becomes text."""
    if isinstance(value, list | tuple):
        return {"label": label, "text": None, "entries": [plain(v) for v in value]}
    return {"label": label, "text": plain(value), "entries": None}


def _reader_label(column: str) -> str:
    """A reader's column as a label: ``reader_2_<measurement>_<unit>`` -> ``Reader 2`` (the
    reader's id is the word after "reader"; what follows it names the measurement, which the
    report states once); other names humanised."""
    match = re.match(r"(?i)reader[_\s-]*([^_\s-]+)(?:[_\s-].*)?$", str(column))
    return f"Reader {match.group(1)}" if match else humanize(column)


def _parse_time(stamp: Any) -> dt.datetime | None:
    if not stamp:
        return None
    try:
        when = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _parse_date(text: Any) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _card(results: Mapping[str, Any]) -> Mapping[str, Any]:
    return block(results["model"], "card")


def _study_vendors(results: Mapping[str, Any], table: pd.DataFrame) -> list[str]:
    found = {str(p["vendor"]) for p in results["data"]["partitions"]}
    if "vendor" in table.columns:
        found |= {str(v) for v in table["vendor"].dropna().unique()}
    return sorted(found)


def _vendor_sites(results: Mapping[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in results["data"]["partitions"]:
        out.setdefault(str(p["vendor"]), [])
        if str(p["site"]) not in out[str(p["vendor"])]:
            out[str(p["vendor"])].append(str(p["site"]))
    return out


def _training_vendors(card: Mapping[str, Any]) -> list[str] | None:
    """The card's training vendors, or None when the card does not list them."""
    training = card.get("training_data")
    if not isinstance(training, Mapping) or not isinstance(training.get("vendors"), list):
        return None
    return [str(v) for v in training["vendors"]]


# ---------------------------------------------------------------------------------------------
# 3. Device and model description
# ---------------------------------------------------------------------------------------------


def _device(results: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    protocol, model = results["protocol"], results["model"]
    device, card = protocol["device"], _card(results)
    inputs = block(card, "inputs")
    outputs = entries(card, "outputs")  # in the forward's order
    prep = block(card, "preprocessing")
    weights = block(card, "weights")
    training = block(card, "training_data")
    record = block(card, "training")
    performance = block(card, "performance")

    trained = _training_vendors(card)
    trained_lower = {v.lower() for v in trained or []}
    study_vendors = _study_vendors(results, table)
    by_vendor = _vendor_sites(results)
    names = site_names(results)
    vendor_rows = [
        {
            "vendor": v,
            "in_study": True,
            "trained": None if trained is None else v.lower() in trained_lower,
            "sites": [f"{names.get(s, s)} ({s})" for s in by_vendor.get(v, [])],
        }
        for v in study_vendors
    ] + [
        {"vendor": v, "in_study": False, "trained": True, "sites": []}
        for v in trained or []
        if v.lower() not in {s.lower() for s in study_vendors}
    ]
    untrained = [r["vendor"] for r in vendor_rows if r["trained"] is False]

    known_training = ("cohort", "sites", "vendors", "studies_fit", "studies_holdout", "seed")
    return {
        "name": device["name"],
        "intended_use": device["intended_use"],
        "card_intended_use": card.get("intended_use"),
        "predicate": device.get("predicate"),
        "description": card.get("description"),
        "model": {
            "name": model["name"],
            "version": model["version"],
            "sha256": model["sha256"],
            "format": weights.get("format"),
            "parameters": weights.get("parameters"),
            "state_sha256": weights.get("state_sha256"),
            "architecture": plain(card["architecture"]) if card.get("architecture") else None,
        },
        "inputs": [_item(INPUT_LABELS[k], inputs[k]) for k in INPUT_LABELS if k in inputs]
        + [_item(humanize(k), v) for k, v in inputs.items() if k not in INPUT_LABELS],
        "outputs": [
            {"name": str(o.get("name", "")), "text": plain(o.get("description", ""))}
            for o in outputs
        ],
        "threshold": results["analysis"].get("threshold"),
        "preprocessing": [
            {
                "label": PREPROCESSING_LABELS[k][0],
                "value": prep[k],
                "unit": PREPROCESSING_LABELS[k][1],
            }
            for k in PREPROCESSING_LABELS
            if k in prep
        ],
        "preprocessing_other": [
            _item(humanize(k), v) for k, v in prep.items() if k not in PREPROCESSING_LABELS
        ],
        "training_data": {
            "available": bool(training),
            "cohort": training.get("cohort"),
            "sites": [str(s) for s in training.get("sites") or []],
            "vendors": trained,
            "studies_fit": training.get("studies_fit"),
            "studies_holdout": training.get("studies_holdout"),
            "seed": None if training.get("seed") is None else str(training["seed"]),
            "other": [
                _item(humanize(k), v) for k, v in training.items() if k not in known_training
            ],
        },
        "development_performance": [_item(humanize(k), v) for k, v in performance.items()],
        "training_record": [
            _item(TRAINING_LABELS.get(k, humanize(k)), v) for k, v in record.items()
        ],
        "limitations": [plain(x) for x in card.get("limitations") or []],
        "vendors": vendor_rows,
        "untrained_vendors": untrained,
        "has_card": bool(card),
    }


# ---------------------------------------------------------------------------------------------
# 4. Study design
# ---------------------------------------------------------------------------------------------


def _hypothesis(ep: Mapping[str, Any], quantities: Mapping[str, str]) -> dict[str, Any]:
    goal = block(ep, "goal")
    lower, upper = goal.get("lower"), goal.get("upper")
    if lower is not None and upper is not None:
        shape = "interval"
    elif lower is not None:
        shape = "lower"
    elif upper is not None:
        shape = "upper"
    else:
        shape = "none"
    unit = str(ep.get("unit", ""))
    return {
        "id": ep["id"],
        "label": ep["label"],
        "primary": bool(ep["primary"]),
        "quantity": quantities.get(str(ep["metric"]), f"true value of {ep['label']}"),
        "unit": unit,
        "unit_label": suffix(unit).strip(),
        "lower": lower,
        "upper": upper,
        "shape": shape,
        "goal_text": ep["goal_text"],
        "rationale": ep.get("rationale") or None,
    }


def _reference_standard(protocol: Mapping[str, Any]) -> dict[str, Any]:
    ref = protocol["reference_standard"]
    readers = [str(r) for r in ref.get("readers") or []]
    return {
        "description": ref["description"],
        "measurement": ref.get("measurement"),
        "label": ref.get("label"),
        "readers": [{"column": r, "label": _reader_label(r)} for r in readers],
        "n_readers": len(readers),
        "blinding": ref.get("blinding"),
        "adjudication": ref.get("adjudication"),
    }


def _design(results: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    protocol, lock = results["protocol"], results["lock"]
    names = site_names(results)
    by_vendor = _vendor_sites(results)
    period = block(results, "study_period")
    period_sites = {str(s["site"]): s for s in period.get("sites") or []}
    analysed = {str(r["site"]): r["analysed"] for r in results["flow_by_site"]}
    sites = [
        {
            "id": sid,
            "name": name,
            "vendors": sorted(v for v, at in by_vendor.items() if sid in at),
            "analysed": analysed.get(sid),
            "first": period_sites.get(sid, {}).get("first"),
            "last": period_sites.get(sid, {}).get("last"),
        }
        for sid, name in names.items()
    ]
    registered = _parse_date(protocol.get("registered"))
    first = _parse_date(period.get("first"))
    locked, unblinded = _parse_time(lock.get("locked_utc")), _parse_time(lock.get("unblinded_utc"))
    multiplicity = results["multiplicity"]
    endpoints = results["endpoints"]
    vendors = _study_vendors(results, table)
    hypotheses = load_text("evidence", words=text_words(outputs_of(results)))["hypotheses"]
    return {
        "protocol": {
            k: protocol.get(k) for k in ("id", "title", "version", "registered", "sha256")
        },
        "sites": sites,
        "n_sites": len(sites),
        "vendors": vendors,
        "n_vendors": len(vendors),
        "period": {
            "available": bool(period.get("first")),
            "first": period.get("first"),
            "last": period.get("last"),
            "source": period.get("source"),
            "n_dated": period.get("n_dated"),
            "n_studies": period.get("n_studies"),
        },
        "registered_before_first_study": (
            None if registered is None or first is None else registered <= first
        ),
        "lock": {
            "valid": bool(lock["valid"]),
            "status": lock["status"],
            "locked_utc": lock.get("locked_utc"),
            "unblinded_utc": lock.get("unblinded_utc"),
            "before_unblinding": (
                None if locked is None or unblinded is None else locked <= unblinded
            ),
        },
        "reference_standard": _reference_standard(protocol),
        "sample_size": protocol["sample_size"],
        "received": results["flow"]["received"],
        "analysed": results["flow"]["analysed"],
        "hypotheses": [_hypothesis(ep, hypotheses) for ep in endpoints],
        "n_primary": sum(1 for ep in endpoints if ep["primary"]),
        "n_secondary": sum(1 for ep in endpoints if not ep["primary"]),
        "multiplicity": {
            "statement": multiplicity["statement"],
            "rationale": multiplicity.get("rationale") or protocol.get("multiplicity"),
            "procedure": multiplicity.get("procedure"),
            "secondary": multiplicity.get("secondary"),
            "alpha": multiplicity.get("alpha"),
            "one_sided_alpha": multiplicity.get("one_sided_alpha"),
            "gate_open": multiplicity.get("gate_open"),
        },
        "acceptance_rule": (results.get("acceptance") or {}).get("rule"),
    }


# ---------------------------------------------------------------------------------------------
# 5. Data independence
# ---------------------------------------------------------------------------------------------


def _independence(results: Mapping[str, Any]) -> dict[str, Any]:
    block = results.get("independence")
    if not isinstance(block, Mapping) or "checks" not in block:
        return {"available": False}
    names = site_names(results)
    test = block["test"]
    return {
        "available": True,
        "development": dict(block["development"]),
        "test": {
            **test,
            "site_labels": [f"{names.get(s, s)} ({s})" for s in test["sites"]],
        },
        "site_overlap": list(block["site_overlap"]),
        "vendors_not_in_development": list(block["vendors_not_in_development"]),
        "patients": {
            **block["patients"],
            "own_prefix_all": block["patients"]["n_with_own_site_prefix"]
            == block["patients"]["n_checked"],
        },
        "independent": block["independent"],
    }


# ---------------------------------------------------------------------------------------------
# 7. Baseline characteristics
# ---------------------------------------------------------------------------------------------


def _baseline(results: Mapping[str, Any]) -> dict[str, Any]:
    block = results.get("baseline")
    if not isinstance(block, Mapping) or not block.get("rows"):
        return {"available": False}
    names = site_names(results)
    trained = _training_vendors(_card(results))
    trained_lower = None if trained is None else {v.lower() for v in trained}
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in block["rows"]:
        dim, group = str(row["dimension"]), str(row["group"])
        label = {"overall": "All studies", "site": f"{names.get(group, group)} ({group})"}.get(
            dim, group
        )
        untrained = (
            dim == "vendor" and trained_lower is not None and group.lower() not in (trained_lower)
        )
        groups.setdefault(dim, []).append({**row, "label": label, "untrained_vendor": untrained})
    order = ["overall", *[d for d in block.get("dimensions", []) if d != "overall"]]
    order += [d for d in groups if d not in order]
    sections = [
        {"dimension": d, "title": BASELINE_TITLES.get(d, humanize(d)), "rows": groups[d]}
        for d in order
        if d in groups
    ]
    overall = groups.get("overall", [{}])[0]
    grades = list(block.get("image_quality_grades") or [])
    n = overall.get("n_studies")
    return {
        "available": True,
        "unit": block.get("unit", "study"),
        "confidence": block.get("confidence"),
        "grades": grades,
        "n_grades": len(grades),
        # the group, the measurement's mean (SD), the finding's count and its prevalence
        "n_columns": 1
        + len(present(outputs_of(results)))
        + ("finding" in present(outputs_of(results)))
        + len(grades),
        "complete": overall.get("age_n") == n and overall.get("bmi_n") == n,
        "groups": sections,
        "overall": overall,
        "any_untrained": any(r["untrained_vendor"] for rows in groups.values() for r in rows),
    }


# ---------------------------------------------------------------------------------------------
# 8. Reference-standard quality
# ---------------------------------------------------------------------------------------------


def icc_band(value: Any) -> str | None:
    """The Koo & Li (2016) reliability band of an ICC value: poor/moderate/good/excellent.

    Examples
    --------
    >>> icc_band(0.74), icc_band(0.75), icc_band(0.95), icc_band(None)
    ('moderate', 'good', 'excellent', None)
    """
    if value is None:
        return None
    x = float(value)
    if x != x:  # NaN
        return None
    return next(word for limit, word in ICC_BANDS if x < limit)


def _band_words(low: Any, high: Any) -> str | None:
    """ "good" when the whole interval lies in one band, else "moderate to good"."""
    a, b = icc_band(low), icc_band(high)
    if a is None or b is None:
        return None
    return a if a == b else f"{a} to {b}"


def _icc_summary(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "form": row["form"],
        "estimate": row["estimate"],
        "ci_low": row["ci_low"],
        "ci_high": row["ci_high"],
        "band": icc_band(row["estimate"]),
        "ci_band": _band_words(row["ci_low"], row["ci_high"]),
    }


def _reference_quality(results: Mapping[str, Any]) -> dict[str, Any]:
    block = results.get("reference_standard_quality")
    readers = [str(r) for r in (block or {}).get("readers") or []]
    if not isinstance(block, Mapping) or not block.get("icc"):
        return {
            "available": False,
            "too_few_readers": len(readers) < 2,
            "n_readers": len(readers),
            "readers": [_reader_label(r) for r in readers],
        }
    rows = {str(r["form"]): r for r in block["icc"]}
    single, consensus = _icc_summary(rows.get(ICC_SINGLE)), _icc_summary(rows.get(ICC_CONSENSUS))
    reliable = None
    if consensus is not None and consensus["ci_low"] is not None:
        reliable = bool(consensus["ci_low"] >= ICC_RELIABLE)
    return {
        "available": True,
        "n": block.get("n"),
        "n_readers": len(readers),
        "readers": [_reader_label(r) for r in readers],
        "icc": [
            {
                **row,
                "key": str(row["form"]) in (ICC_SINGLE, ICC_CONSENSUS),
                "band": icc_band(row["estimate"]),
            }
            for row in block["icc"]
        ],
        "pairs": [
            {
                **pair,
                "label": " vs ".join(_reader_label(r) for r in pair["readers"]),
            }
            for pair in block.get("pairs") or []
        ],
        "reader_sd": block.get("reader_sd"),
        "single": single,
        "consensus": consensus,
        "reliable": reliable,
        "reliable_limit": ICC_RELIABLE,
        "bands": [
            {"word": word, "below": None if limit == float("inf") else limit}
            for limit, word in ICC_BANDS
        ],
    }


def study_context(results: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Context of the study sections (3 device, 4 design, 5 independence, 7 baseline, 8 reference).

    Parameters
    ----------
    results : mapping
        The parsed, checked ``results.json``.
    table : DataFrame
        ``analysed.csv`` (only its ``vendor`` column is read, for the list of vendors).

    Returns
    -------
    dict
        ``device_description``, ``study_design``, ``data_independence``, ``baseline`` and
        ``reference_quality``: plain values, unrounded, for the partial templates. The last
        three carry ``available=False`` when ``results.json`` lacks their block.
    """
    return {
        "device_description": _device(results, table),
        "study_design": _design(results, table),
        "data_independence": _independence(results),
        "baseline": _baseline(results),
        "reference_quality": _reference_quality(results),
    }


__all__ = ["icc_band", "study_context"]
