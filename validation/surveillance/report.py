"""The post-market surveillance report: ``surveillance.json`` to HTML and an archival PDF.

The report reads ``results/<protocol>/surveillance/surveillance.json`` (the contract written by
``mval monitor run``) and computes no statistics: every chart statistic, limit, test, effect size,
interval and alarm comes from that file. This module checks that the fields the templates need
are present, reshapes them for the templates (census pivoted to segment x month, drift rows
matched with their effect-size thresholds, alerts with their evidence rows and figures), draws the
figures (:mod:`validation.surveillance.figures`) and renders with the evidence report's machinery
(:func:`validation.report.render.make_environment`, :func:`~validation.report.render.stylesheet`
and :func:`~validation.report.render.write_pdf`: PDF/A-3b, with ``surveillance.json`` and
``alerts.json`` embedded). Numbers stay raw here; the Jinja filters of
:mod:`validation.report.filters` round them. Templates live in ``reports/surveillance/``.
"""

from __future__ import annotations

import json
import math
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from validation import __version__
from validation.exceptions import ReportError
from validation.report.filters import MISSING
from validation.report.render import make_environment, stylesheet, write_pdf
from validation.surveillance import figures
from validation.surveillance.figures import POOLED, segment_label

#: ``surveillance.json`` schema versions this report renders.
SCHEMA_VERSIONS = (1,)
#: The report's entry template, under the templates folder (``reports/``).
ENTRY_TEMPLATE = "surveillance/report.html"
#: Status values of ``surveillance.json``.
STATUSES = ("ALARM", "NO ALARM")

#: Fields the templates rely on, as dotted paths; ``[]`` applies the rest to every list item.
REQUIRED_FIELDS: tuple[str, ...] = (
    "schema_version",
    "created_utc",
    "as_of",
    "months",
    "protocol.id",
    "protocol.version",
    "protocol.sha256",
    "protocol.threshold",
    "protocol.goals[].id",
    "protocol.goals[].metric",
    "protocol.goals[].goal",
    "protocol.goals[].label",
    "model.name",
    "model.version",
    "model.sha256",
    "baseline.path",
    "baseline.sha256",
    "baseline.sources[].path",
    "baseline.sources[].sha256",
    "baseline.segments[].site",
    "baseline.segments[].vendor",
    "baseline.segments[].n",
    "baseline.segments[].mean_ivsd",
    "baseline.segments[].sd_ivsd",
    "baseline.segments[].positive_rate",
    "baseline.segments[].exclusion_rate",
    "baseline.segments[].software_versions",
    "baseline.segments[].scanner_models",
    "false_alarm.familywise_alpha",
    "false_alarm.streams",
    "false_alarm.per_stream_alpha",
    "false_alarm.horizon_months",
    "false_alarm.arl0_min",
    "false_alarm.charts.cusum.k",
    "false_alarm.charts.cusum.h",
    "false_alarm.charts.cusum.arl0",
    "false_alarm.charts.cusum.p_within_horizon",
    "false_alarm.charts.ewma.lam",
    "false_alarm.charts.ewma.L",
    "false_alarm.charts.ewma.arl0",
    "false_alarm.charts.ewma.p_within_horizon",
    "false_alarm.drift.alpha",
    "false_alarm.drift.psi_min",
    "false_alarm.drift.ks_d_min",
    "false_alarm.drift.cramers_v_min",
    "false_alarm.statement",
    "census[].month",
    "census[].site",
    "census[].vendor",
    "census[].received",
    "census[].included",
    "census[].excluded",
    "census[].predicted",
    "census[].quality_rejected",
    "census[].software_versions",
    "segments[].site",
    "segments[].vendor",
    "segments[].series.output_mean",
    "segments[].series.output_positive_rate",
    "integrity[].month",
    "integrity[].site",
    "integrity[].vendor",
    "integrity[].received",
    "integrity[].excluded",
    "integrity[].exclusion_rate",
    "integrity[].duplicates",
    "integrity[].missing_batch",
    "integrity[].alarm",
    "integrity[].detail",
    "header_changes[].site",
    "header_changes[].vendor",
    "header_changes[].field",
    "header_changes[].value",
    "header_changes[].first_month",
    "header_changes[].n",
    "drift[].month",
    "drift[].site",
    "drift[].vendor",
    "drift[].variable",
    "drift[].test",
    "drift[].statistic",
    "drift[].p_value",
    "drift[].effect",
    "drift[].effect_size",
    "drift[].alarm",
    "performance[].month",
    "performance[].site",
    "performance[].vendor",
    "performance[].labelled",
    "performance[].bias",
    "performance[].bias_ci",
    "performance[].loa_low",
    "performance[].loa_high",
    "performance[].sensitivity",
    "performance[].sensitivity_ci",
    "performance[].specificity",
    "performance[].specificity_ci",
    "performance[].goal_missed",
    "performance[].alarm",
    "labels.received",
    "labels.by_lag_months",
    "labels.pending_months",
    "alerts[].site",
    "alerts[].vendor",
    "alerts[].signal",
    "alerts[].onset",
    "alerts[].statistic",
    "alerts[].threshold",
    "alerts[].evidence",
    "alerts[].months",
    "status",
)

#: Optional top-level blocks: a ``surveillance.json`` written before they existed still renders.
OPTIONAL_FIELDS: tuple[str, ...] = ("bias_change",)

#: Fields of the audited-bias change block the templates rely on, checked when it is present
#: (its ``power`` is optional too).
BIAS_CHANGE_FIELDS: tuple[str, ...] = (
    "bias_change.alpha",
    "bias_change.windows_months",
    "bias_change.segments[].site",
    "bias_change.segments[].vendor",
    "bias_change.segments[].n0",
    "bias_change.segments[].audited_per_month",
    "bias_change.segments[].limit",
    "bias_change.segments[].draws",
    "bias_change.segments[].seed",
    "bias_change.months[].month",
    "bias_change.months[].site",
    "bias_change.months[].vendor",
    "bias_change.months[].window_start",
    "bias_change.months[].labelled",
    "bias_change.months[].bias",
    "bias_change.months[].baseline_bias",
    "bias_change.months[].change_mm",
    "bias_change.months[].t",
    "bias_change.months[].limit",
    "bias_change.months[].alarm",
)
#: The ``performance`` signal's variable of the audited-bias change (signals.csv, alerts).
BIAS_CHANGE = "bias-change"

#: Signals in plain words: ``(name, what it watches)``.
SIGNALS: dict[str, tuple[str, str]] = {
    "integrity": (
        "Input integrity",
        "share of files excluded or malformed at ingest, duplicate files, a month without a batch",
    ),
    "header": (
        "DICOM header change",
        "a software version or scanner model never seen in the validation baseline",
    ),
    "population": (
        "Population drift",
        "patient age, BMI and sex against the baseline (PSI, KS or chi-square)",
    ),
    "input": ("Input drift", "image and acquisition inputs against the baseline"),
    "output_mean": (
        "Output drift: mean IVSd (CUSUM)",
        "the model's monthly mean IVSd measurement against the baseline mean",
    ),
    "output_positive_rate": (
        "Output drift: LVH-positive rate (EWMA)",
        "the share of studies the model flags LVH-positive against the baseline rate",
    ),
    "performance": (
        "Performance on the audited subset",
        "bias, limits of agreement, sensitivity and specificity against the premarket goals, "
        "and the change of the audited bias since the validation study",
    ),
}

#: Number of decimals of an alert's statistic and threshold, by signal (others: 2).
ALERT_DIGITS: dict[str, int] = {"header": 0, "population": 3, "input": 3}

#: Plain names of the drift tests, effect measures and variables (others: humanised).
TESTS: dict[str, str] = {
    "ks": "Kolmogorov-Smirnov",
    "chi2": "Chi-square",
    "chi-square": "Chi-square",
    "chisquare": "Chi-square",
    "psi": "PSI",
}
EFFECTS: dict[str, tuple[str, str]] = {
    # normalised effect name -> (plain name, key of its threshold in false_alarm.drift)
    "psi": ("PSI", "psi_min"),
    "ksd": ("KS D", "ks_d_min"),
    "d": ("KS D", "ks_d_min"),
    "ks": ("KS D", "ks_d_min"),
    "cramersv": ("Cram\u00e9r's V", "cramers_v_min"),
    "cramerv": ("Cram\u00e9r's V", "cramers_v_min"),
    "v": ("Cram\u00e9r's V", "cramers_v_min"),
}
#: DICOM header fields in plain words (others: humanised).
HEADER_FIELDS: dict[str, str] = {
    "softwareversions": "Software version",
    "manufacturermodelname": "Scanner model",
    "scannermodel": "Scanner model",
    "scannermodels": "Scanner model",
    "manufacturer": "Manufacturer",
}
VARIABLES: dict[str, str] = {
    "age": "Age",
    "bmi": "BMI",
    "sex": "Sex",
    "ivsd_mm": "Predicted IVSd",
    "spacing_mm": "Pixel spacing",
    "frames": "Frames per clip",
}

#: Performance metrics shown against the premarket goals, with their unit for the filters.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("bias", "Bias", "mm"),
    ("loa_low", "Lower limit of agreement", "mm"),
    ("loa_high", "Upper limit of agreement", "mm"),
    ("sensitivity", "Sensitivity", ""),
    ("specificity", "Specificity", ""),
)

#: Largest number of drift results listed individually in the drift section.
MAX_DRIFT_ROWS = 40

#: Signatures the surveillance report asks for (name, signature and date are left blank).
SIGNATORIES: tuple[dict[str, str], ...] = (
    {
        "role": "Prepared by",
        "function": "Post-market surveillance analyst",
        "meaning": "Authorship: I prepared this report and confirm that it reproduces the "
        "surveillance run identified in the document control block.",
    },
    {
        "role": "Reviewed by",
        "function": "Clinical safety lead",
        "meaning": "Review: I reviewed the alerts and their evidence and the clinical "
        "significance of any change in the device's performance.",
    },
    {
        "role": "Approved by",
        "function": "Quality / Regulatory affairs",
        "meaning": "Approval: I approve the conclusions and the actions stated, and their "
        "entry in the complaint-handling and CAPA records.",
    },
)

#: Sections in order: (id, title, partial template, appendix).
SECTIONS: tuple[tuple[str, str, str, bool], ...] = (
    ("control", "Document control", "control.html", False),
    ("status", "Status summary", "status.html", False),
    ("false-alarms", "Stated false-alarm rate", "false_alarm.html", False),
    ("census", "Deployment census", "census.html", False),
    ("integrity", "Input integrity", "integrity.html", False),
    ("drift", "Input and population drift", "drift.html", False),
    ("output", "Output drift: control charts", "output.html", False),
    ("performance", "Performance on the audited subset", "performance.html", False),
    ("alerts", "Alerts and their evidence", "alerts.html", False),
    ("conclusions", "Conclusions", "conclusions.html", False),
    ("signoff", "Sign-off", "signoff.html", False),
    ("baseline", "Frozen validation baseline", "baseline.html", True),
    (
        "performance-detail",
        "Audited performance by segment and month",
        "performance_detail.html",
        True,
    ),
)


# ---------------------------------------------------------------------------------------------
# loading and checking
# ---------------------------------------------------------------------------------------------


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
            return [here]
        if not rest:
            return []
        return [
            m for i, item in enumerate(value) for m in _missing_fields(item, rest, f"{here}[{i}]")
        ]
    return _missing_fields(value, rest, here) if rest else []


def check_surveillance(data: Mapping[str, Any], *, source: str = "surveillance.json") -> None:
    """Raise :class:`ReportError` unless ``data`` has every field the report needs.

    Parameters
    ----------
    data : mapping
        The parsed ``surveillance.json``.
    source : str
        The file's name, for the message.

    Raises
    ------
    ReportError
        Naming the first missing fields, an unsupported schema version or an unknown status.
    """
    if not isinstance(data, Mapping):
        raise ReportError(f"{source}: expected a JSON object, got {type(data).__name__}")
    missing = [m for path in REQUIRED_FIELDS for m in _missing_fields(data, path)]
    if "bias_change" in data:
        missing += [m for path in BIAS_CHANGE_FIELDS for m in _missing_fields(data, path)]
    if missing:
        shown = ", ".join(missing[:8]) + (
            f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        )
        raise ReportError(f"{source} lacks field(s) the surveillance report needs: {shown}")
    if data["schema_version"] not in SCHEMA_VERSIONS:
        raise ReportError(
            f"{source}: schema_version expected one of {SCHEMA_VERSIONS}, "
            f"got {data['schema_version']!r}"
        )
    if data["status"] not in STATUSES:
        raise ReportError(
            f"{source}: status expected one of {', '.join(STATUSES)}, got {data['status']!r}"
        )
    if (data["status"] == "ALARM") != bool(data["alerts"]):
        raise ReportError(
            f"{source}: status {data['status']!r} contradicts its {len(data['alerts'])} alert(s)"
        )


def load_surveillance(path: str | Path) -> dict[str, Any]:
    """Read and check ``surveillance.json``.

    Raises
    ------
    ReportError
        If the file is missing, is not JSON or lacks a required field.
    """
    file = Path(path)
    if not file.is_file():
        raise ReportError(f"surveillance results {file} not found (written by `mval monitor run`)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportError(f"{file} is not valid JSON: {exc}") from exc
    check_surveillance(data, source=str(file))
    return data


# ---------------------------------------------------------------------------------------------
# context: reshaping only
# ---------------------------------------------------------------------------------------------


def _num(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _key(row: Mapping[str, Any]) -> tuple[str, str]:
    return (str(row["site"]), str(row["vendor"]))


def _segment_order(keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Segments by site then vendor, pooled ones last."""
    unique = set(keys)
    return sorted(unique, key=lambda k: (POOLED in k, k[0] == POOLED, k))


def _humanize(name: Any) -> str:
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _signal(signal: Any) -> dict[str, str]:
    name, what = SIGNALS.get(str(signal), (_humanize(signal), ""))
    return {"id": str(signal), "name": name, "what": what}


def _norm(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _software(data: Mapping[str, Any]) -> dict[str, Any]:
    recorded = data.get("software")
    if isinstance(recorded, Mapping) and recorded.get("mval"):
        return {
            "mval": recorded.get("mval"),
            "python": recorded.get("python") or "not recorded",
            "platform": recorded.get("platform") or "not recorded",
            "recorded": True,
        }
    return {
        "mval": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "recorded": False,
    }


def _report_id(data: Mapping[str, Any]) -> str:
    given = data.get("report_id") or data.get("run_id")
    if given:
        return str(given)
    return f"SURV-{data['protocol']['id']}-{data['as_of']}"


def _alerts(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, alert in enumerate(data["alerts"]):
        key = _key(alert)
        out.append(
            {
                "index": i + 1,
                "anchor": f"alert-{i + 1}",
                "site": key[0],
                "vendor": key[1],
                "segment": segment_label(*key),
                "signal": _signal(alert["signal"]),
                "onset": str(alert["onset"]),
                "statistic": alert["statistic"],
                "threshold": alert["threshold"],
                "digits": ALERT_DIGITS.get(str(alert["signal"]), 2),
                "evidence": str(alert["evidence"]),
                "months": [str(m) for m in alert.get("months") or []],
                "variables": [str(v) for v in alert.get("variables") or []],
            }
        )
    return out


def _onsets(
    alerts: Sequence[Mapping[str, Any]], signal: str, *, exclude: Iterable[str] = ()
) -> dict[tuple[str, str], str]:
    """Earliest onset per segment of ``signal``'s alerts, leaving out the alerts whose recorded
    variables are all in ``exclude`` (an alert without recorded variables always counts)."""
    skip = set(exclude)
    out: dict[tuple[str, str], str] = {}
    for a in alerts:
        if a["signal"]["id"] == signal and not (a["variables"] and set(a["variables"]) <= skip):
            key = (a["site"], a["vendor"])
            out[key] = min(out.get(key, a["onset"]), a["onset"])
    return out


def _alarmed_segments(alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    by: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for a in alerts:
        by.setdefault((a["site"], a["vendor"]), []).append(a)
    return [
        {
            "segment": segment_label(*key),
            "onset": min(a["onset"] for a in by[key]),
            "signals": [{"name": a["signal"]["name"], "onset": a["onset"]} for a in by[key]],
        }
        for key in _segment_order(by)
    ]


def _census(data: Mapping[str, Any], months: Sequence[str]) -> dict[str, Any]:
    rows = [r for r in data["census"] if POOLED not in _key(r)]
    keys = _segment_order(
        [_key(r) for r in rows]
        + [_key(s) for s in data["baseline"]["segments"] if POOLED not in _key(s)]
    )
    cell = {(_key(r), str(r["month"])): r for r in rows}
    baseline_versions = {
        _key(s): {str(v) for v in s["software_versions"] or []}
        for s in data["baseline"]["segments"]
    }
    segments = []
    versions = []
    for key in keys:
        cells = []
        for m in months:
            r = cell.get((key, m))
            received = int(r["received"]) if r is not None and r["received"] is not None else 0
            cells.append({"n": received, "missing": received == 0})
        segments.append(
            {"segment": segment_label(*key), "cells": cells, "total": sum(c["n"] for c in cells)}
        )
        seen: dict[str, list[int | None]] = {}
        for j, m in enumerate(months):
            r = cell.get((key, m))
            for version, n in ((r or {}).get("software_versions") or {}).items():
                seen.setdefault(str(version), [None] * len(months))[j] = int(n)
        for version in sorted(seen):
            counts = seen[version]
            versions.append(
                {
                    "segment": segment_label(*key),
                    "version": version,
                    "new": version not in baseline_versions.get(key, set()),
                    "cells": counts,
                    "total": sum(c for c in counts if c is not None),
                }
            )
    fields = ("received", "included", "excluded", "quality_rejected", "predicted")
    totals = []
    for m in months:
        month_rows = [r for r in rows if str(r["month"]) == m]
        totals.append({"month": m, **{f: sum(int(r[f] or 0) for r in month_rows) for f in fields}})
    grand = {f: sum(t[f] for t in totals) for f in fields}
    return {
        "segments": segments,
        "versions": versions,
        "totals": totals,
        "grand": grand,
        "n_segments": len(keys),
        "n_sites": len({k[0] for k in keys}),
        "n_vendors": len({k[1] for k in keys}),
        "any_new_version": any(v["new"] for v in versions),
    }


def _header_changes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = sorted(data["header_changes"], key=lambda r: (str(r["first_month"]), _key(r)))
    return [
        {
            "segment": segment_label(*_key(r)),
            "field": HEADER_FIELDS.get(_norm(r["field"]), _humanize(r["field"])),
            "value": str(r["value"]),
            "first_month": str(r["first_month"]),
            "n": r["n"],
        }
        for r in rows
    ]


def _integrity(data: Mapping[str, Any]) -> dict[str, Any]:
    by: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in data["integrity"]:
        by.setdefault(_key(r), []).append(r)
    summary = []
    for key in _segment_order(by):
        rows = sorted(by[key], key=lambda r: str(r["month"]))
        rates = [
            (r, _num(r["exclusion_rate"])) for r in rows if math.isfinite(_num(r["exclusion_rate"]))
        ]
        worst = max(rates, key=lambda t: t[1]) if rates else None
        summary.append(
            {
                "segment": segment_label(*key),
                "pooled": POOLED in key,
                "received": sum(int(r["received"] or 0) for r in rows),
                "excluded": sum(int(r["excluded"] or 0) for r in rows),
                "worst_rate": worst[1] if worst else None,
                "worst_month": str(worst[0]["month"]) if worst else None,
                "duplicates": sum(int(r["duplicates"] or 0) for r in rows),
                "missing_months": [str(r["month"]) for r in rows if r["missing_batch"]],
                "alarm_months": [str(r["month"]) for r in rows if r["alarm"]],
            }
        )
    flagged = [
        {
            "month": str(r["month"]),
            "segment": segment_label(*_key(r)),
            "received": r["received"],
            "excluded": r["excluded"],
            "exclusion_rate": r["exclusion_rate"],
            "duplicates": r["duplicates"],
            "missing_batch": bool(r["missing_batch"]),
            "alarm": bool(r["alarm"]),
            "detail": str(r["detail"] or ""),
        }
        for r in sorted(
            data["integrity"], key=lambda r: (str(r["month"]), _segment_order([_key(r)])[0])
        )
        if r["alarm"] or r["missing_batch"] or int(r["duplicates"] or 0) > 0
    ]
    return {"summary": summary, "flagged": flagged}


def _criteria(row: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The effect sizes a drift row must reach to count as material, with their thresholds.

    A Kolmogorov-Smirnov row needs its D (the statistic) and its PSI (the effect size) both at
    or above their thresholds; a chi-square row its Cramer's V. A row's own
    ``effect_threshold`` overrides the configured threshold of its effect size.
    """
    out = []
    if _norm(row["test"]) == "ks" and _norm(row["effect"]) not in ("d", "ksd", "ks"):
        out.append({"name": "KS D", "value": row["statistic"], "min": cfg.get("ks_d_min")})
    name, key = EFFECTS.get(_norm(row["effect"]), (str(row["effect"]), ""))
    out.append(
        {
            "name": name,
            "value": row["effect_size"],
            "min": row.get("effect_threshold", cfg.get(key)),
        }
    )
    return out


def _drift_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Drift rows with their effect-size criteria and whether each was met.

    ``passed`` (a material effect) and ``rejected`` (the test rejects at the per-test level) are
    read from the row when the engine records them (``effect_passed``, ``rejected``);
    otherwise they restate the engine's rule: every effect size that could be computed at or
    above its threshold (an undefined PSI leaves D to decide), and p below the level.
    ``ratio`` (the smallest effect size relative to its threshold; 1 or more is material)
    shades the drift map.
    """
    cfg = data["false_alarm"]["drift"]
    alpha = _num(cfg["alpha"])
    out = []
    for r in data["drift"]:
        criteria = _criteria(r, cfg)
        ratios = [
            _num(c["value"]) / _num(c["min"])
            for c in criteria
            if math.isfinite(_num(c["value"])) and _num(c["min"]) > 0
        ]
        passed = r.get("effect_passed")
        if passed is None:
            passed = bool(ratios) and min(ratios) >= 1.0
        p = _num(r["p_value"])
        rejected = r.get("rejected")
        if rejected is None:
            rejected = bool(math.isfinite(p) and math.isfinite(alpha) and p < alpha)
        out.append(
            {
                "month": str(r["month"]),
                "site": str(r["site"]),
                "vendor": str(r["vendor"]),
                "segment": segment_label(*_key(r)),
                "variable": VARIABLES.get(str(r["variable"]), _humanize(r["variable"])),
                "test": TESTS.get(_norm(r["test"]), str(r["test"])),
                "statistic": r["statistic"],
                "p_value": r["p_value"],
                "effect": criteria[-1]["name"],
                "effect_size": r["effect_size"],
                "criteria": criteria,
                "ratio": min(ratios) if ratios else math.nan,
                "passed": bool(passed),
                "rejected": bool(rejected),
                "alarm": bool(r["alarm"]),
                "known": bool(r.get("known_at_release")),
            }
        )
    return out


def _drift(
    data: Mapping[str, Any], months: Sequence[str], keys: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    rows = _drift_rows(data)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["variable"], r["test"], r["effect"]), []).append(r)
    summary = []
    panels = []
    for (variable, test, effect), items in groups.items():
        sized = [r for r in items if math.isfinite(_num(r["effect_size"]))]
        largest = max(sized, key=lambda r: _num(r["effect_size"])) if sized else None
        criteria = [{"name": c["name"], "min": c["min"]} for c in items[0]["criteria"]]
        summary.append(
            {
                "variable": variable,
                "test": test,
                "effect": effect,
                "criteria": criteria,
                "tests": sum(1 for r in items if math.isfinite(_num(r["statistic"]))),
                "rejected": sum(1 for r in items if r["rejected"]),
                "passed": sum(1 for r in items if r["passed"]),
                "alarms": sum(1 for r in items if r["alarm"]),
                "largest": largest,
            }
        )
        rule = " and ".join(
            f"{c['name']} \u2265 {_num(c['min']):g}" if math.isfinite(_num(c["min"])) else c["name"]
            for c in criteria
        )
        panels.append({"title": f"{variable}: {rule}", "rows": items})
    rank = {k: i for i, k in enumerate(keys)}
    notable = sorted(
        (r for r in rows if r["alarm"] or r["rejected"]),
        key=lambda r: (
            not r["alarm"],
            not (r["passed"] and r["rejected"]),
            -_num(r["ratio"]) if math.isfinite(_num(r["ratio"])) else 0.0,
            r["month"],
            rank.get((r["site"], r["vendor"]), 0),
        ),
    )
    shown = sorted(
        notable[:MAX_DRIFT_ROWS],
        key=lambda r: (
            not r["alarm"],
            r["month"],
            rank.get((r["site"], r["vendor"]), 0),
            r["variable"],
        ),
    )
    figure = figures.drift_map(panels, months, keys=keys) if panels else None
    return {
        "rows": rows,
        "summary": summary,
        "notable": shown,
        "notable_total": len(notable),
        "notable_hidden": max(0, len(notable) - MAX_DRIFT_ROWS),
        "n_tests": len(rows),
        "n_alarms": sum(1 for r in rows if r["alarm"]),
        "n_material": sum(1 for r in rows if r["passed"]),
        "figure": figure,
    }


def _ci(pair: Any) -> list[Any]:
    if isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2:
        return [pair[0], pair[1]]
    return [None, None]


def _goals(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The premarket goals shown, and ``{metric: [goal id, metric]}`` to read ``goal_missed``."""
    shown = []
    names: dict[str, list[str]] = {}
    units = {m: u for m, _, u in METRICS}
    for g in data["protocol"]["goals"]:
        metric = str(g["metric"])
        names.setdefault(metric, [metric]).append(str(g["id"]))
        goal = g["goal"] or {}
        shown.append(
            {
                "id": str(g["id"]),
                "metric": metric,
                "label": str(g["label"]),
                "lower": goal.get("lower"),
                "upper": goal.get("upper"),
                "unit": units.get(metric, "num"),
                "monitored": metric in units,
            }
        )
    return shown, names


def _performance_rows(
    data: Mapping[str, Any], names: Mapping[str, Sequence[str]], labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    out = []
    for r in data["performance"]:
        missed = {str(x) for x in r["goal_missed"] or []}
        out.append(
            {
                "month": str(r["month"]),
                "site": str(r["site"]),
                "vendor": str(r["vendor"]),
                "segment": segment_label(*_key(r)),
                "pooled": POOLED in _key(r),
                "labelled": r["labelled"],
                "bias": r["bias"],
                "bias_ci": _ci(r["bias_ci"]),
                "loa_low": r["loa_low"],
                "loa_low_ci": _ci(r.get("loa_low_ci")),
                "loa_high": r["loa_high"],
                "loa_high_ci": _ci(r.get("loa_high_ci")),
                "sensitivity": r["sensitivity"],
                "sensitivity_ci": _ci(r["sensitivity_ci"]),
                "specificity": r["specificity"],
                "specificity_ci": _ci(r["specificity_ci"]),
                "missed": {m: bool(missed & set(names.get(m, [m]))) for m, _, _ in METRICS},
                "missed_labels": [labels.get(x, x) for x in sorted(missed)],
                "alarm": bool(r["alarm"]),
                "known": bool(r.get("known_at_release")),
            }
        )
    return out


def _performance_level(rows: Sequence[Mapping[str, Any]], key: str, default: float) -> float:
    """The confidence level the engine recorded on its performance rows (``default`` if none)."""
    levels = {_num(r.get(key)) for r in rows if math.isfinite(_num(r.get(key)))}
    if len(levels) > 1:
        raise ReportError(f"surveillance.json: performance rows mix {key} levels {sorted(levels)}")
    return levels.pop() if levels else default


def _performance(
    data: Mapping[str, Any],
    months: Sequence[str],
    keys: Sequence[tuple[str, str]],
    onsets: Mapping[tuple[str, str], str],
) -> dict[str, Any]:
    goals, names = _goals(data)
    labels = {g["id"]: g["label"] for g in goals} | {g["metric"]: g["label"] for g in goals}
    rows = _performance_rows(data, names, labels)
    confidence = _performance_level(data["performance"], "confidence", 0.95)
    alarm_confidence = _performance_level(
        data["performance"],
        "alarm_confidence",
        _num((data["false_alarm"].get("performance") or {}).get("alarm_confidence")),
    )
    rank = {k: i for i, k in enumerate(keys)}
    rows.sort(key=lambda r: (rank.get((r["site"], r["vendor"]), len(rank)), r["month"]))
    lab = data["labels"]
    lags = sorted(
        ((int(k), v) for k, v in (lab["by_lag_months"] or {}).items()), key=lambda t: t[0]
    )
    bias_goal = next(
        ({"lower": g["lower"], "upper": g["upper"]} for g in goals if g["metric"] == "bias"), {}
    )
    perf_keys = _segment_order(list(keys) + [(r["site"], r["vendor"]) for r in rows])
    return {
        "goals": goals,
        "pooled": [r for r in rows if r["pooled"]],
        "flagged": [
            r for r in rows if not r["pooled"] and (r["alarm"] or any(r["missed"].values()))
        ],
        "segments": [r for r in rows if not r["pooled"] and r["labelled"]],
        "all": rows,
        "confidence": confidence,
        "alarm_confidence": alarm_confidence if math.isfinite(alarm_confidence) else None,
        "labels": {
            "received": lab["received"],
            "by_lag": [{"lag": k, "n": v} for k, v in lags],
            "pending_months": [str(m) for m in lab["pending_months"] or []],
        },
        "figure": figures.performance_chart(
            data["performance"],
            months,
            keys=perf_keys,
            goal=bias_goal,
            pending=[str(m) for m in lab["pending_months"] or []],
            onsets=onsets,
            confidence=confidence,
        ),
    }


def _calibrated(fa: Mapping[str, Any]) -> dict[str, Any] | None:
    """Per-segment limits calibrated for the baseline's sampling error, if the engine used them."""
    calibration = fa.get("calibration") or {}
    rows = [
        {
            "segment": segment_label(str(r["site"]), str(r["vendor"])),
            "n0": r.get("n0"),
            "h": r.get("h"),
            "L": r.get("L"),
        }
        for r in calibration.get("segments") or []
    ]
    if fa.get("limits") != "calibrated" or not rows:
        return None
    hs = [_num(r["h"]) for r in rows]
    ls = [_num(r["L"]) for r in rows]
    return {
        "rows": rows,
        "draws": calibration.get("draws"),
        "seed": calibration.get("seed"),
        "h_min": min(hs),
        "h_max": max(hs),
        "L_min": min(ls),
        "L_max": max(ls),
    }


def _weighted(fa: Mapping[str, Any]) -> dict[str, Any] | None:
    """The weighted Bonferroni split, if the run gave the audited-bias streams their own weight.

    ``streams`` counts the streams of weight 1 only; the total weight is
    ``streams + bias_weight * bias_streams`` (``per_stream_alpha`` is the family-wise rate over it).
    """
    m = fa.get("bias_streams")
    if not m:
        return None
    w = _num(fa.get("bias_weight"))
    n = int(fa["streams"])
    return {
        "streams": n,
        "bias_streams": int(m),
        "bias_weight": fa.get("bias_weight"),
        "bias_alpha": fa.get("bias_alpha"),
        "total_streams": n + int(m),
        "total_weight": n + w * int(m) if math.isfinite(w) else None,
        "digits": 0 if math.isfinite(w) and w == round(w) else 2,
    }


def _deployments(data: Mapping[str, Any]) -> dict[str, Any]:
    """Model versions per site and the version changes (events, never alerts); a
    ``surveillance.json`` written before versions were followed has none."""
    record = data.get("deployments") or {}
    epochs = record.get("epochs") or []
    sites: dict[str, list[dict[str, Any]]] = {}
    for epoch in epochs:
        sites.setdefault(str(epoch["site"]), []).append(
            {
                "version": epoch["model_version"],
                "start": epoch["start"],
                "end": epoch["end"],
            }
        )
    return {
        "released_version": record.get("released_version") or data["model"].get("version"),
        "events": [dict(e) for e in record.get("events") or []],
        "sites": [{"site": site, "epochs": sites[site]} for site in sorted(sites)],
        "several": any(len(v) > 1 for v in sites.values())
        or any(e["version"] != record.get("released_version") for v in sites.values() for e in v),
        "extra_streams": int(record.get("extra_streams") or 0),
        "extra_bias_streams": int(record.get("extra_bias_streams") or 0),
    }


def _bias_month(row: Mapping[str, Any], position: Mapping[str, int]) -> dict[str, Any]:
    """One ``bias_change.months`` record for the templates, with the length of its window."""
    month, start = str(row["month"]), str(row["window_start"])
    window = position[month] - position[start] + 1 if {month, start} <= set(position) else None
    return {
        "month": month,
        "site": str(row["site"]),
        "vendor": str(row["vendor"]),
        "window_start": start,
        "window_months": window,
        "labelled": row["labelled"],
        "bias": row["bias"],
        "baseline_bias": row["baseline_bias"],
        "change_mm": row["change_mm"],
        "t": row["t"],
        "limit": row["limit"],
        "alarm": bool(row["alarm"]),
    }


def _bias_power(power: Any) -> dict[str, Any] | None:
    """The simulated detection power of the audited-bias signal (optional in the record)."""
    if not isinstance(power, Mapping) or not power.get("rows"):
        return None
    rows = []
    lags: set[int] = set()
    for r in power["rows"]:
        by = {int(k): v for k, v in (r.get("by_months_after_onset") or {}).items()}
        lags |= set(by)
        rows.append({"shift_mm": r.get("shift_mm"), "by": by})
    after = sorted(lags)
    return {
        "segment": str(power.get("segment") or ""),
        "n0": power.get("n0"),
        "audited_per_month": power.get("audited_per_month"),
        "sd_mm": power.get("sd_mm"),
        "limit": power.get("limit"),
        "draws": power.get("draws"),
        "after": after,
        "rows": [
            {"shift_mm": r["shift_mm"], "p": [r["by"].get(k) for k in after]}
            for r in sorted(rows, key=lambda r: _num(r["shift_mm"]))
        ],
    }


def _bias_change(
    data: Mapping[str, Any],
    months: Sequence[str],
    keys: Sequence[tuple[str, str]],
    pending: Sequence[str],
) -> dict[str, Any] | None:
    """The audited-bias change per segment: its yardstick, largest |T|, limit and alarm.

    None when ``surveillance.json`` has no ``bias_change`` block (a run before the signal).
    """
    record = data.get("bias_change")
    if not isinstance(record, Mapping):
        return None
    fa = data["false_alarm"]
    position = {m: i for i, m in enumerate(months)}
    calibrations = {_key(c): c for c in record["segments"]}
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in record["months"]:
        by.setdefault(_key(r), []).append(_bias_month(r, position))
    agreement = {_key(s): s.get("agreement") or {} for s in data["baseline"]["segments"]}
    order = _segment_order([*keys, *calibrations, *by])
    rows = []
    for key in order:
        cal = calibrations.get(key)
        agr = agreement.get(key) or {}
        recs = sorted(by.get(key, []), key=lambda r: r["month"])
        finite = [r for r in recs if math.isfinite(_num(r["t"]))]
        peak = max(finite, key=lambda r: abs(_num(r["t"])), default=None)
        alarms = [r["month"] for r in recs if r["alarm"]]
        if cal:
            why = None
        elif not agr or agr.get("bias") is None or not agr.get("sd"):
            why = "no agreement record in the validation baseline"
        else:
            why = "no audited labels yet"
        bias0 = agr.get("bias")
        rows.append(
            {
                "site": key[0],
                "vendor": key[1],
                "segment": segment_label(*key),
                "pooled": POOLED in key,
                "assessed": cal is not None,
                "why": why,
                "n0": cal["n0"] if cal else agr.get("n"),
                "bias0": bias0 if bias0 is not None else (peak or {}).get("baseline_bias"),
                "sd0": agr.get("sd"),
                "per_month": cal["audited_per_month"] if cal else None,
                "peak": peak,
                "limit": cal["limit"] if cal else (peak or {}).get("limit"),
                "alarm_months": alarms,
                "first_alarm": alarms[0] if alarms else None,
            }
        )
    limits = [
        {
            "segment": segment_label(*k),
            "pooled": POOLED in k,
            "n0": c["n0"],
            "audited_per_month": c["audited_per_month"],
            "limit": c["limit"],
            "draws": c["draws"],
            "seed": c["seed"],
        }
        for k, c in sorted(calibrations.items(), key=lambda kc: order.index(kc[0]))
    ]
    values = [_num(c["limit"]) for c in limits if math.isfinite(_num(c["limit"]))]
    lags = sorted(
        ((int(k), v) for k, v in (record.get("lag_probabilities") or {}).items()),
        key=lambda t: t[0],
    )
    min_shift = (fa.get("materiality") or {}).get("min_shift_mm")
    onsets = {(r["site"], r["vendor"]): r["first_alarm"] for r in rows if r["first_alarm"]}
    return {
        "alpha": record["alpha"],
        "windows": [int(w) for w in record["windows_months"]],
        "lag_probabilities": [{"lag": k, "p": v} for k, v in lags],
        "min_shift_mm": min_shift,
        "rows": rows,
        "alarmed": [r for r in rows if r["first_alarm"]],
        "limits": limits,
        "limit_min": min(values) if values else None,
        "limit_max": max(values) if values else None,
        "limits_differ": bool(values) and round(min(values), 2) != round(max(values), 2),
        "power": _bias_power(record.get("power")),
        "records": by,
        "figure": figures.bias_change_chart(
            record["months"],
            months,
            keys=order,
            limits={k: _num(c["limit"]) for k, c in calibrations.items()},
            pending=pending,
            onsets=onsets,
            min_shift_mm=_num(min_shift),
        ),
    }


def _output(
    data: Mapping[str, Any],
    months: Sequence[str],
    keys: Sequence[tuple[str, str]],
    alerts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    charts = data["false_alarm"]["charts"]
    cusum, ewma = charts["cusum"], charts["ewma"]
    by = {_key(s): s for s in data["segments"]}
    base = {_key(s): s for s in data["baseline"]["segments"]}
    by_version = {
        str(v["version"]): {_key(s): s for s in v.get("segments") or []}
        for v in data["baseline"].get("versions") or []
    }
    rows = []
    for key in keys:
        seg = by[key]
        mean_rows = list(seg["series"]["output_mean"] or [])
        rate_rows = list(seg["series"]["output_positive_rate"] or [])
        last_mean = next((r for r in reversed(mean_rows) if _num(r.get("n")) > 0), None)
        last_rate = next((r for r in reversed(rate_rows) if _num(r.get("n")) > 0), None)
        ups = [_num(r.get("upper")) for r in mean_rows]
        lows = [abs(_num(r.get("lower"))) for r in mean_rows]
        ew = [abs(_num(r.get("ewma"))) for r in rate_rows]
        # after a version change the segment is compared with that version's baseline
        version = str((mean_rows[-1] if mean_rows else {}).get("model_version") or "")
        b = by_version.get(version, base).get(key, base.get(key, {}))
        rows.append(
            {
                "segment": segment_label(*key),
                "pooled": POOLED in key,
                "model_versions": [str(v) for v in seg.get("model_versions") or []],
                "baseline_mean": b.get("mean_ivsd"),
                "last_month": str(last_mean["month"]) if last_mean else None,
                "last_mean": last_mean.get("mean") if last_mean else None,
                "max_upper": max([v for v in ups if math.isfinite(v)], default=None),
                "max_lower": max([v for v in lows if math.isfinite(v)], default=None),
                "mean_alarms": [str(r["month"]) for r in mean_rows if r.get("alarm")],
                "baseline_rate": b.get("positive_rate"),
                "last_rate": last_rate.get("rate") if last_rate else None,
                "max_ewma": max([v for v in ew if math.isfinite(v)], default=None),
                "rate_alarms": [str(r["month"]) for r in rate_rows if r.get("alarm")],
            }
        )
    segs = [by[k] for k in keys]
    return {
        "rows": rows,
        "cusum": cusum,
        "ewma": ewma,
        "cusum_figure": figures.cusum_charts(
            segs,
            months,
            onsets=_onsets(alerts, "output_mean"),
            k=_num(cusum["k"]),
            h=_num(cusum["h"]),
            arl0=_num(cusum["arl0"]),
        ),
        "ewma_figure": figures.ewma_charts(
            segs,
            months,
            onsets=_onsets(alerts, "output_positive_rate"),
            lam=_num(ewma["lam"]),
            L=_num(ewma["L"]),
            arl0=_num(ewma["arl0"]),
            threshold=_num(data["protocol"]["threshold"]),
        ),
    }


def _alert_evidence(
    data: Mapping[str, Any],
    alerts: list[dict[str, Any]],
    months: Sequence[str],
    *,
    drift: Mapping[str, Any],
    performance: Mapping[str, Any],
    integrity_rows: Sequence[Mapping[str, Any]],
    header: Sequence[Mapping[str, Any]],
    bias_change: Mapping[str, Any] | None = None,
) -> None:
    """Attach to each alert its evidence rows (and, for an output alert, its chart)."""
    segs = {_key(s): s for s in data["segments"]}
    base = {_key(s): s for s in data["baseline"]["segments"]}
    h = _num(data["false_alarm"]["charts"]["cusum"]["h"])
    for a in alerts:
        key = (a["site"], a["vendor"])
        signal = a["signal"]["id"]
        label = segment_label(*key)
        a["figure"] = None
        a["drift"] = []
        a["performance"] = []
        a["integrity"] = []
        a["header"] = []
        a["bias_change"] = []
        if signal in ("output_mean", "output_positive_rate") and key in segs:
            a["figure"] = figures.alert_chart(
                segs[key],
                months,
                signal=signal,
                baseline=base.get(key),
                onset=a["onset"],
                h=h,
                fig_id=a["anchor"],
            )
        elif signal in ("population", "input"):
            a["drift"] = [
                r for r in drift["rows"] if (r["site"], r["vendor"]) == key and r["alarm"]
            ]
        elif signal == "performance":
            variables = set(a["variables"])
            if not variables or variables - {BIAS_CHANGE}:
                a["performance"] = [
                    r
                    for r in performance["all"]
                    if (r["site"], r["vendor"]) == key and (r["alarm"] or r["month"] in a["months"])
                ]
            if BIAS_CHANGE in variables and bias_change:
                a["bias_change"] = [
                    r
                    for r in bias_change["records"].get(key, [])
                    if r["alarm"] or r["month"] in a["months"]
                ]
        elif signal == "integrity":
            a["integrity"] = [
                r
                for r in integrity_rows
                if r["segment"] == label and (r["alarm"] or r["month"] in a["months"])
            ]
        elif signal == "header":
            a["header"] = [r for r in header if r["segment"] == label]


def _baseline(data: Mapping[str, Any]) -> dict[str, Any]:
    b = data["baseline"]
    segs = sorted(b["segments"], key=lambda s: _segment_order([_key(s)])[0])
    return {
        "path": b["path"],
        "sha256": b["sha256"],
        "sources": [{"path": s["path"], "sha256": s["sha256"]} for s in b["sources"]],
        "segments": [
            dict(
                s,
                segment=segment_label(*_key(s)),
                pooled=POOLED in _key(s),
                software_versions=[str(v) for v in s["software_versions"] or []],
                scanner_models=[str(v) for v in s["scanner_models"] or []],
            )
            for s in sorted(segs, key=lambda s: (POOLED in _key(s), _key(s)))
        ],
    }


def _baseline_error(record: Any) -> dict[str, Any] | None:
    """The engine's estimate of the false-alarm rate allowing for the baseline's own error."""
    if not isinstance(record, Mapping):
        return None
    keys = ("p_output_mean", "p_output_positive_rate", "stated_bound_per_chart")
    if any(k not in record for k in keys):
        return None
    return {
        "method": record.get("method") or "",
        "histories": record.get("histories"),
        "baseline_n_median": record.get("baseline_n_median"),
        "monthly_n_median": record.get("monthly_n_median"),
        **{k: record[k] for k in keys},
    }


def build_surveillance_context(data: Mapping[str, Any]) -> dict[str, Any]:
    """Build the plain template context from a checked ``surveillance.json``.

    Parameters
    ----------
    data : mapping
        The parsed ``surveillance.json`` (see :func:`check_surveillance`).

    Returns
    -------
    dict
        Raw values (unrounded), reshaped for the templates, and the figures as SVG data URIs.

    Raises
    ------
    ReportError
        If a required field is missing.
    """
    check_surveillance(data)
    months = [str(m) for m in data["months"]]
    alerts = _alerts(data)
    keys = _segment_order(_key(s) for s in data["segments"])
    fa = data["false_alarm"]
    alpha = _num(fa["familywise_alpha"])
    integrity = _integrity(data)
    header = _header_changes(data)
    drift = _drift(data, months, keys)
    # the bias panels mark the alarms on the premarket goals; the audited-bias change has its own
    performance = _performance(
        data, months, keys, _onsets(alerts, "performance", exclude=[BIAS_CHANGE])
    )
    bias_change = _bias_change(data, months, keys, performance["labels"]["pending_months"])
    _alert_evidence(
        data,
        alerts,
        months,
        drift=drift,
        performance=performance,
        integrity_rows=integrity["flagged"],
        header=header,
        bias_change=bias_change,
    )
    alarm = data["status"] == "ALARM"
    signals_used = sorted(
        {s for s in SIGNALS} | {a["signal"]["id"] for a in alerts},
        key=lambda s: list(SIGNALS).index(s) if s in SIGNALS else len(SIGNALS),
    )
    return {
        "report_id": _report_id(data),
        "created_utc": data["created_utc"],
        "as_of": str(data["as_of"]),
        "months": months,
        "period": {
            "first": months[0] if months else None,
            "last": months[-1] if months else None,
            "count": len(months),
        },
        "status": {"text": data["status"], "alarm": alarm, "css": "alarm" if alarm else "no-alarm"},
        "protocol": {
            "id": data["protocol"]["id"],
            "version": data["protocol"]["version"],
            "sha256": data["protocol"]["sha256"],
            "threshold": data["protocol"]["threshold"],
        },
        "model": {
            "name": data["model"]["name"] or "unknown model",
            "version": data["model"]["version"] or "(version not recorded)",
            "sha256": data["model"]["sha256"],
            "matches_baseline": data["model"].get("matches_baseline", True) is not False,
            "versions": [dict(v) for v in data["model"].get("versions") or []],
        },
        "software": _software(data),
        "deployments": _deployments(data),
        "baseline": _baseline(data),
        "false_alarm": {
            **fa,
            "one_in": round(1.0 / alpha) if alpha > 0 else None,
            "baseline_error": _baseline_error(fa.get("baseline_error")),
            "calibrated": _calibrated(fa),
            "weighted": _weighted(fa),
        },
        "signals": [_signal(s) for s in signals_used],
        "alerts": alerts,
        "alarmed_segments": _alarmed_segments(alerts),
        "census": _census(data, months),
        "header_changes": header,
        "integrity": integrity,
        "drift": drift,
        "output": _output(data, months, keys, alerts),
        "performance": performance,
        "bias_change": bias_change,
        "segments": [segment_label(*k) for k in keys],
        "signatories": [dict(s) for s in SIGNATORIES],
        "sections": [
            {
                "id": sid,
                "title": title,
                "template": f"surveillance/partials/{tpl}",
                "appendix": appendix,
            }
            for sid, title, tpl, appendix in SECTIONS
        ],
    }


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def prob(value: Any, digits: int = 2) -> str:
    """A small probability or level with ``digits`` significant digits; below 0.001 as a power of
    ten (the report's one addition to :mod:`validation.report.filters`).

    Examples
    --------
    >>> prob(0.0002958579881656805)
    '3.0 × 10⁻⁴'
    >>> prob(0.05)
    '0.050'
    >>> prob(0.0038461538461538464)
    '0.0038'
    >>> prob(None)
    'n/a'
    """
    x = _num(value)
    if not math.isfinite(x):
        return MISSING
    if x == 0.0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    if abs(x) >= 0.001:
        decimals = max(0, digits - 1 - exponent)
        return f"{x:.{decimals}f}".replace("-", "\u2212")
    mantissa = x / 10**exponent
    if round(abs(mantissa), digits - 1) >= 10.0:
        mantissa, exponent = mantissa / 10.0, exponent + 1
    text = f"{mantissa:.{digits - 1}f} \u00d7 10{str(exponent).translate(_SUPERSCRIPT)}"
    return text.replace("-", "\u2212", 1) if mantissa < 0 else text


#: Filters the surveillance templates add to the evidence report's.
SURVEILLANCE_FILTERS = {"prob": prob}


def render_surveillance_html(
    context: Mapping[str, Any], *, folder: str | Path | None = None
) -> str:
    """Render the surveillance report's HTML (stylesheet embedded) from a context.

    Parameters
    ----------
    context : mapping
        :func:`build_surveillance_context`'s result.
    folder : str or Path, optional
        The templates folder (default ``reports/``, or ``MVAL_REPORTS_DIR``).

    Returns
    -------
    str
        The standalone HTML document.

    Raises
    ------
    ReportError
        If a template refers to a field the context lacks, or fails to render.
    """
    env = make_environment(folder)
    env.filters.update(SURVEILLANCE_FILTERS)
    css = stylesheet(folder)
    try:
        # The stylesheet is the project's own file, not data: embedded unescaped.
        return env.get_template(ENTRY_TEMPLATE).render(**context, stylesheet=Markup(css))
    except jinja2.UndefinedError as exc:
        raise ReportError(
            f"surveillance template refers to a field the context lacks: {exc.message}"
        ) from exc
    except jinja2.TemplateError as exc:
        raise ReportError(f"surveillance template error: {exc}") from exc


def render_surveillance_report(
    surveillance_json: str | Path, out_pdf: str | Path
) -> dict[str, Path]:
    """Render the post-market surveillance report from ``surveillance.json``.

    Parameters
    ----------
    surveillance_json : str or Path
        ``results/<protocol>/surveillance/surveillance.json``; ``alerts.json`` beside it, when
        present, is embedded in the PDF too.
    out_pdf : str or Path
        Where to write the PDF, e.g. ``results/<protocol>/surveillance/surveillance-report.pdf``.
        The HTML is written beside it with the suffix ``.html``.

    Returns
    -------
    dict
        ``{"pdf": Path, "html": Path}``.

    Raises
    ------
    ReportError
        If the file is missing or lacks a required field, or rendering fails.
    """
    source = Path(surveillance_json)
    data = load_surveillance(source)
    context = build_surveillance_context(data)
    html = render_surveillance_html(context)
    out = Path(out_pdf)
    html_path = out.with_suffix(".html")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(html, encoding="utf-8")
    attachments = [(source, "Machine-readable surveillance results (surveillance.json)")]
    alerts_file = source.parent / "alerts.json"
    if alerts_file.is_file():
        attachments.append((alerts_file, "Alerts raised by the surveillance run (alerts.json)"))
    pdf_path = write_pdf(
        html,
        out,
        attachments=attachments,
        identifier=f"{context['report_id']}/surveillance",
    )
    return {"pdf": pdf_path, "html": html_path}
