"""Report context of the performance sections: measurement, classification and subgroups.

Sections 9 to 11 of the evidence report (DESIGN.md, "What the evidence report holds"):

* measurement results: Bland-Altman agreement with both its study-level interval and the
  endpoint's patient-level interval, proportional bias, MAE, RMSE, Deming and Passing-Bablok
  regression, ICC and Lin's CCC, with per-vendor Bland-Altman plots and a scatter plot;
* classification results: accuracy measures with their intervals, the AUC (DeLong) and Cohen's
  kappa, with the ROC curve and a calibration plot;
* subgroups: forest plots and tables of every stratum dimension, small and failing strata
  flagged, and the cross-site heterogeneity block (random-effects pooling, leave-one-site-out).

Every number comes from ``results.json``: this module only looks values up, reshapes them and
says which figures to draw. The ROC curve and the calibration groups are drawn from the per-study
scores of ``analysed.csv``; they are plots, not reported statistics. Values stay raw floats; the
Jinja filters round them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from validation.numbers import number_or_none
from validation.report.badges import badge
from validation.report.fields import block, pair
from validation.report.figures.accuracy import calibration, roc_curve
from validation.report.figures.agreement import bland_altman_by_vendor, scatter
from validation.report.figures.forest import forest
from validation.report.filters import suffix
from validation.report.labels import (
    DIMENSIONS,
    METRICS,
    dimension_title,
    metric_unit,
    site_names,
    stratum_label,
)
from validation.report.outputs import (
    MEASUREMENT_METRICS,
    finding_context,
    measure_context,
    outputs_of,
)

#: Stratum metrics shown in the subgroup tables, in order (named by :data:`labels.METRICS`).
TABLE_METRICS: tuple[str, ...] = (
    "bias",
    "loa_low",
    "loa_high",
    "mae",
    "rmse",
    "sensitivity",
    "specificity",
    "auc",
)

#: Metrics pooled across sites by the analysis, with their labels (their units: ``METRICS``).
POOLED_METRICS: dict[str, str] = {
    "bias": "Bias, model \u2212 reference",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
}

#: Accuracy measures of ``results.classification``: key, label, unit (filter name).
ACCURACY_MEASURES: tuple[tuple[str, str, str], ...] = (
    ("sensitivity", "Sensitivity", ""),
    ("specificity", "Specificity", ""),
    ("ppv", "Positive predictive value (PPV)", ""),
    ("npv", "Negative predictive value (NPV)", ""),
    ("prevalence", "Prevalence of {finding} (reference standard)", ""),
    ("lr_positive", "Positive likelihood ratio (LR+)", "ratio"),
    ("lr_negative", "Negative likelihood ratio (LR\u2212)", "ratio"),
)

REGRESSIONS: tuple[tuple[str, str], ...] = (
    ("deming", "Deming regression"),
    ("passing_bablok", "Passing-Bablok regression"),
)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _covers(interval: list[float | None] | None, point: float) -> bool | None:
    """Whether ``interval`` contains ``point`` (None when the interval is undefined)."""
    if interval is None or interval[0] is None or interval[1] is None:
        return None
    return bool(interval[0] <= point <= interval[1])


def _above(value: Any, bound: Any) -> bool | None:
    """Whether ``value > bound`` (None when either is undefined)."""
    a, b = number_or_none(value), number_or_none(bound)
    return None if a is None or b is None else a > b


def _endpoint_view(ep: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an endpoint row the performance tables show."""
    return {
        "id": ep.get("id"),
        "label": ep.get("label"),
        "n": ep.get("n"),
        "estimate": number_or_none(ep.get("estimate")),
        "ci": [number_or_none(ep.get("ci_low")), number_or_none(ep.get("ci_high"))],
        "method": ep.get("method") or "",
        "goal_text": ep.get("goal_text") or "",
        "primary": bool(ep.get("primary")),
        "verdict": badge(ep.get("verdict")),
    }


def endpoints_by_metric(endpoints: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The first pre-specified endpoint of each metric, keyed by metric."""
    out: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        out.setdefault(str(ep.get("metric")), _endpoint_view(ep) | {"goal": ep.get("goal")})
    return out


# ---------------------------------------------------------------------------------------------
# Section 9: measurement results
# ---------------------------------------------------------------------------------------------


#: How the regression intervals were computed, as the analysis records them, in words.
CI_METHODS = {
    "jackknife": "jackknife",
    "paper": "Passing and Bablok (1983) rank limits",
    "mcr": "analytical, as R mcr",
}


def _regression(name: str, label: str, fit: Mapping[str, Any]) -> dict[str, Any]:
    intercept_ci, slope_ci = pair(fit.get("intercept_ci")), pair(fit.get("slope_ci"))
    method = str(fit.get("ci_method") or "n/a")
    detail = f"CI: {CI_METHODS.get(method, method)}"
    if fit.get("reason"):  # no line could be fitted: say why (NOT EVALUABLE)
        detail = f"not evaluable: {fit['reason']}"
    elif name == "deming" and number_or_none(fit.get("error_ratio")) is not None:
        detail += f"; error-variance ratio {float(fit['error_ratio']):g}"
    return {
        "key": name,
        "label": label,
        "intercept": number_or_none(fit.get("intercept")),
        "intercept_ci": intercept_ci,
        "slope": number_or_none(fit.get("slope")),
        "slope_ci": slope_ci,
        "detail": detail,
        "intercept_covers_zero": _covers(intercept_ci, 0.0),
        "slope_covers_one": _covers(slope_ci, 1.0),
    }


def _method_comparison(results: Mapping[str, Any]) -> dict[str, Any]:
    mc = block(results, "method_comparison")
    regressions = [
        _regression(key, label, mc[key])
        for key, label in REGRESSIONS
        if isinstance(mc.get(key), Mapping)
    ]
    ccc = block(mc, "ccc") or None
    icc = [
        {
            "form": row.get("form"),
            "description": row.get("description") or "",
            "estimate": number_or_none(row.get("estimate")),
            "ci": [number_or_none(row.get("ci_low")), number_or_none(row.get("ci_high"))],
        }
        for row in mc.get("icc") or []
        if isinstance(row, Mapping)
    ]
    return {
        "available": bool(regressions or ccc or icc),
        "n": mc.get("n"),
        "regressions": regressions,
        "ccc": (
            {
                "estimate": number_or_none(ccc.get("estimate")),
                "ci": [number_or_none(ccc.get("ci_low")), number_or_none(ccc.get("ci_high"))],
                "precision": number_or_none(ccc.get("precision")),
                "accuracy": number_or_none(ccc.get("accuracy")),
            }
            if ccc
            else None
        ),
        "icc": icc,
    }


def _loa_goals(
    strata: Sequence[Mapping[str, Any]], endpoints: Mapping[str, Mapping[str, Any]]
) -> list[float]:
    """Goal bounds of the limits of agreement, when the vendor strata are judged on them."""
    judged = {
        str(r["metric"])
        for r in strata
        if r.get("dimension") == "vendor"
        and _judged(r)
        and r.get("metric") in ("loa_low", "loa_high")
    }
    bounds = []
    for metric in sorted(judged):
        goal = (endpoints.get(metric) or {}).get("goal") or {}
        bounds += [
            float(goal[k]) for k in ("lower", "upper") if number_or_none(goal.get(k)) is not None
        ]
    return bounds


def measurement_context(
    results: Mapping[str, Any],
    table: pd.DataFrame,
    endpoints: Mapping[str, Mapping[str, Any]],
    measure: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """Context of section 9: endpoint intervals, RMSE, method comparison and the figures (None
    when the protocol has no measurement, or the results no agreement block)."""
    if measure is None or not isinstance(results.get("agreement"), Mapping):
        return None
    agreement = block(results, "agreement")
    strata = [r for r in results.get("strata") or [] if isinstance(r, Mapping)]
    confidence = float(results["analysis"]["confidence"])
    mc = _method_comparison(results)
    deming = block(results, "method_comparison").get("deming")
    has_vendors = any(r.get("dimension") == "vendor" for r in strata)
    figs = {
        "vendor": (
            bland_altman_by_vendor(
                table,
                strata,
                measure=measure,
                pooled_bias=number_or_none(agreement.get("bias")),
                loa_goals=_loa_goals(strata, endpoints),
                confidence=confidence,
            )
            if has_vendors
            else None
        ),
        "scatter": scatter(table, measure, deming=deming if isinstance(deming, Mapping) else None),
    }
    return {
        "estimable": number_or_none(agreement.get("bias")) is not None,
        "endpoints": {m: endpoints.get(m) for m in ("bias", "loa_low", "loa_high", "mae", "rmse")},
        "rmse": number_or_none(agreement.get("rmse")),
        "rmse_ci": pair(agreement.get("rmse_ci")),
        "loa_multiplier": number_or_none(agreement.get("loa_multiplier"))
        or number_or_none(results["analysis"].get("loa_multiplier")),
        "slope_covers_zero": _covers(pair(agreement.get("proportional_slope_ci")), 0.0),
        "method_comparison": mc,
        "figures": figs,
    }


# ---------------------------------------------------------------------------------------------
# Section 10: classification results
# ---------------------------------------------------------------------------------------------


def diagnostic_context(
    results: Mapping[str, Any],
    table: pd.DataFrame,
    endpoints: Mapping[str, Mapping[str, Any]],
    finding: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """Context of section 10: accuracy measures with both intervals, AUC, kappa, figures (None
    when the protocol has no finding, or the results no classification block)."""
    if finding is None or not isinstance(results.get("classification"), Mapping):
        return None
    cls = block(results, "classification")
    confidence = float(results["analysis"]["confidence"])
    method = cls.get("method") or results["analysis"].get("proportion_ci") or ""
    measures = []
    for key, label, unit in ACCURACY_MEASURES:
        value = block(cls, key)
        measures.append(
            {
                "key": key,
                "label": label.format(finding=finding["label"]),
                "unit": unit,
                "estimate": number_or_none(value.get("estimate")),
                "ci": [number_or_none(value.get("ci_low")), number_or_none(value.get("ci_high"))],
                "method": method if unit == "" else "",
                "endpoint": endpoints.get(key),
            }
        )
    auc = block(cls, "auc") or None
    kappa = block(block(results, "method_comparison"), "kappa") or None
    sens = block(cls, "sensitivity")
    spec = block(cls, "specificity")
    threshold = number_or_none(results["analysis"].get("threshold"))
    return {
        "measures": measures,
        "auc": (
            {
                "estimate": number_or_none(auc.get("estimate")),
                "ci": [number_or_none(auc.get("ci_low")), number_or_none(auc.get("ci_high"))],
                "method": auc.get("method") or "DeLong",
                "endpoint": endpoints.get("auc"),
            }
            if auc
            else None
        ),
        "kappa": (
            {
                "estimate": number_or_none(kappa.get("estimate")),
                "ci": [number_or_none(kappa.get("ci_low")), number_or_none(kappa.get("ci_high"))],
                "observed": number_or_none(kappa.get("observed_agreement")),
                "expected": number_or_none(kappa.get("expected_agreement")),
            }
            if kappa
            else None
        ),
        "figures": {
            "roc": roc_curve(
                table,
                auc=auc,
                operating_point={
                    "sensitivity": number_or_none(sens.get("estimate")),
                    "specificity": number_or_none(spec.get("estimate")),
                },
                threshold=threshold,
                confidence=confidence,
                finding=finding["label"],
            ),
            "calibration": calibration(table, finding=finding["label"]),
        },
    }


# ---------------------------------------------------------------------------------------------
# Section 11: subgroups and heterogeneity
# ---------------------------------------------------------------------------------------------


def _judged(row: Mapping[str, Any]) -> bool:
    """Whether a strata row is judged against a goal (older results lack ``judged``)."""
    if "judged" in row:
        return bool(row["judged"])
    return row.get("goal_met") is not None


def _cell(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "n": row.get("n"),
        "studies": row.get("studies", row.get("n")),
        "estimate": number_or_none(row.get("estimate")),
        "ci_low": number_or_none(row.get("ci_low")),
        "ci_high": number_or_none(row.get("ci_high")),
        "small": bool(row.get("small")),
        "judged": _judged(row),
        "goal_met": row.get("goal_met"),
        "method": row.get("method") or "",
    }


def _dimension_order(results: Mapping[str, Any], present: Iterable[str]) -> list[str]:
    present = list(dict.fromkeys(present))
    planned = [str(d) for d in results["analysis"].get("strata") or []]
    order = [d for d in planned if d in present]
    order += [d for d in DIMENSIONS if d in present and d not in order]
    return order + [d for d in present if d not in order]


def _band_key(label: str) -> tuple[float, str]:
    """Order band labels such as "<25", "25–29", "≥35" by their lower bound."""
    match = re.search(r"\d+(?:\.\d+)?", label)
    if match is None:
        return (math.inf, label)
    bound = float(match.group())
    head = label[: match.start()].strip()
    if head.startswith(("<", "\u2264")):
        bound -= 0.5
    elif head.startswith(("\u2265", ">")):
        bound += 0.5
    return (bound, label)


def subgroup_tables(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One table per stratum dimension: a row per stratum with a cell per metric."""
    names = site_names(results)
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for row in results.get("strata") or []:
        dim, stratum, metric = str(row["dimension"]), str(row["stratum"]), str(row["metric"])
        entry = tables.setdefault(dim, {}).setdefault(
            stratum,
            {
                "stratum": stratum,
                "label": stratum_label(dim, stratum, names),
                "short": stratum,
                "studies": None,
                "small": False,
                "cells": dict.fromkeys(TABLE_METRICS),
            },
        )
        cell = _cell(row)
        if metric in TABLE_METRICS:
            entry["cells"][metric] = cell
        if entry["studies"] is None or metric == "bias":
            entry["studies"] = cell["studies"]
        entry["small"] = entry["small"] or cell["small"]
    out = []
    for dim in _dimension_order(results, tables):
        rows = list(tables[dim].values())
        if dim.endswith("_band"):
            rows.sort(key=lambda r: _band_key(r["stratum"]))
        cells = [c for r in rows for c in r["cells"].values() if c is not None]
        judged_metrics = sorted(
            {m for r in rows for m, c in r["cells"].items() if c is not None and c["judged"]},
            key=TABLE_METRICS.index,
        )
        out.append(
            {
                "dimension": dim,
                "title": dimension_title(dim),
                "rows": rows,
                "any_small": any(r["small"] for r in rows),
                "judged": bool(judged_metrics),
                "judged_metrics": [METRICS[m].short for m in judged_metrics],
                "failing": [
                    f"{r['label']}: {METRICS[m].short}"
                    for r in rows
                    for m, c in r["cells"].items()
                    if c is not None and c["goal_met"] is False
                ],
                "has_auc": any(r["cells"]["auc"] is not None for r in rows),
                "has_rmse": any(r["cells"]["rmse"] is not None for r in rows),
                "undefined": any(c["estimate"] is None for c in cells),
            }
        )
    return out


def _pooled(record: Mapping[str, Any]) -> dict[str, Any] | None:
    if not record.get("estimable"):
        return None
    return {
        "estimate": number_or_none(record.get("estimate")),
        "ci_low": number_or_none(record.get("ci_low")),
        "ci_high": number_or_none(record.get("ci_high")),
        "prediction_low": number_or_none(record.get("prediction_low")),
        "prediction_high": number_or_none(record.get("prediction_high")),
        "k": record.get("k"),
        "poolable": record.get("poolable"),
    }


def _heterogeneity_metrics(results: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    metrics = block(results, "heterogeneity").get("metrics")
    return {str(k): v for k, v in (metrics or {}).items() if isinstance(v, Mapping)}


def _forest_caption(
    what: str,
    n_what: str,
    metrics: Sequence[str],
    groups: Sequence[Mapping[str, Any]],
    confidence: float,
    min_n: Any,
) -> str:
    """The caption of a forest plot, naming only the marks that the plot shows."""
    cells = [row["cells"].get(m) for g in groups for row in g["rows"] for m in metrics]
    cells = [c for c in cells if c is not None]
    pooled = [(g.get("pooled") or {}).get(m) for g in groups for m in metrics if g.get("pooled")]
    parts = [
        what,
        "Each row is one stratum of a pre-specified subgroup, the point its estimate and the "
        f"line its {100 * confidence:g}% confidence interval, as computed by the analysis; n, "
        f"printed at the right, is the number of studies {n_what}. The dotted line is the "
        "estimate over all studies.",
    ]
    if any(c["small"] for c in cells):
        parts.append(
            "Hollow markers tagged \u201csmall\u201d are strata with fewer than "
            f"{min_n} studies, too few for a precise estimate."
        )
    if any(c["judged"] for c in cells):
        parts.append(
            "Where the protocol judges a dimension stratum by stratum, its goal is drawn as "
            "dashed lines over that dimension's rows, and each judged stratum is tagged "
            "\u201c\u2713 meets\u201d or, with an orange diamond, \u201c\u2717 fails\u201d "
            "(judged on the confidence bound)."
        )
    else:
        parts.append("The protocol judges none of these strata against a goal.")
    if any(p is not None for p in pooled):
        parts.append(
            "The black diamond under the sites is their random-effects pooled estimate (its "
            "width the confidence interval), the thin line through it the prediction interval "
            "for a new site."
        )
    parts.append("Sites are shown by identifier; their names are in the tables below.")
    return " ".join(parts)


def _forest_figures(
    results: Mapping[str, Any],
    tables: Sequence[Mapping[str, Any]],
    endpoints: Mapping[str, Mapping[str, Any]],
    measure: Mapping[str, Any] | None,
    finding: Mapping[str, Any] | None,
) -> dict[str, Any]:
    confidence = float(results["analysis"]["confidence"])
    min_n = results["analysis"].get("min_stratum_n")
    het = _heterogeneity_metrics(results)
    groups = []
    for t in tables:
        pooled = None
        if t["dimension"] == "site" and het:
            pooled = {m: _pooled(rec) for m, rec in het.items()}
        groups.append(
            {
                "title": t["title"],
                "rows": [{"label": r["short"], "cells": r["cells"]} for r in t["rows"]],
                "pooled": pooled,
            }
        )
    agreement = block(results, "agreement")
    cls = block(results, "classification")

    def panel(metric: str, title: str, xlabel: str, scale: str, reference: Any) -> dict[str, Any]:
        return {
            "metric": metric,
            "title": title,
            "xlabel": xlabel,
            "scale": scale,
            "goal": (endpoints.get(metric) or {}).get("goal"),
            "reference": number_or_none(reference),
        }

    if not groups:
        return {"bias": None, "accuracy": None}
    bias = None
    if measure is not None and agreement:
        label, unit = measure["label"], measure["difference_axis"]
        bias = forest(
            groups,
            [
                panel(
                    "bias",
                    f"Bias, model \u2212 reference{unit}",
                    f"Bias{unit}; positive: the device overestimates",
                    "measurement",
                    agreement.get("bias"),
                )
            ],
            fig_id="forest-bias",
            alt=f"Forest plot of the {label} bias by subgroup",
            caption=_forest_caption(
                f"{label} bias by subgroup.", "in the stratum", ("bias",), groups, confidence, min_n
            ),
            confidence=confidence,
            min_n=min_n,
        )
    if finding is None or not cls:
        return {"bias": bias, "accuracy": None}
    name = finding["label"]
    accuracy = forest(
        groups,
        [
            panel(
                "sensitivity",
                "Sensitivity",
                "Sensitivity (%)",
                "proportion",
                (cls.get("sensitivity") or {}).get("estimate")
                if isinstance(cls.get("sensitivity"), Mapping)
                else None,
            ),
            panel(
                "specificity",
                "Specificity",
                "Specificity (%)",
                "proportion",
                (cls.get("specificity") or {}).get("estimate")
                if isinstance(cls.get("specificity"), Mapping)
                else None,
            ),
        ],
        fig_id="forest-accuracy",
        alt=f"Forest plot of {name} sensitivity and specificity by subgroup",
        caption=_forest_caption(
            f"{name} sensitivity and specificity by subgroup.",
            f"with {name} (sensitivity) or without {name} (specificity) by the reference standard",
            ("sensitivity", "specificity"),
            groups,
            confidence,
            min_n,
        ),
        confidence=confidence,
        min_n=min_n,
    )
    return {"bias": bias, "accuracy": accuracy}


def _vendor_mix(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """For each site, the vendors it contributed analysed studies from and those it lacks."""
    parts = [p for p in block(results, "data").get("partitions") or [] if isinstance(p, Mapping)]
    by_site: dict[str, set[str]] = {}
    for p in parts:
        vendors = by_site.setdefault(str(p.get("site")), set())
        if (number_or_none(p.get("included")) or 0) > 0:
            vendors.add(str(p.get("vendor")))
    every = set().union(*by_site.values()) if by_site else set()
    names = site_names(results)
    return [
        {
            "site": site,
            "name": names.get(site, site),
            "vendors": sorted(vendors),
            "missing": sorted(every - vendors),
        }
        for site, vendors in sorted(by_site.items())
    ]


def _tau2_unit(scale: str, unit: str, measure: Mapping[str, Any] | None) -> str:
    """The unit of tau² of a pooled metric: the square of a difference's symbol for the
    measurement ("mm²"), the pooling scale otherwise ("logit scale")."""
    if measure is not None and unit == measure["unit"]:
        shown = measure["difference_symbol"]
        return f"{shown}\u00b2" if shown else ""
    return f"{scale} scale"


def heterogeneity_context(results: Mapping[str, Any]) -> dict[str, Any]:
    """The cross-site heterogeneity block, with the facts that explain "not poolable"; the
    metrics of an output the protocol lacks are left out."""
    outputs = outputs_of(results)
    measure, finding = measure_context(outputs), finding_context(outputs)
    het = block(results, "heterogeneity")
    records = _heterogeneity_metrics(results)
    names = site_names(results)
    threshold = number_or_none(het.get("i2_threshold"))
    metrics: list[dict[str, Any]] = []
    loo_sites: dict[str, dict[str, Any]] = {}
    drivers: list[dict[str, Any]] = []
    for key, label in POOLED_METRICS.items():
        rec = records.get(key)
        declared = measure if key in MEASUREMENT_METRICS else finding
        if rec is None or declared is None:
            continue
        unit = metric_unit(key, measure)
        scale = str((het.get("scale") or {}).get(key, unit or "proportion"))
        estimable = bool(rec.get("estimable"))
        metrics.append(
            {
                "key": key,
                "label": label,
                "unit": unit,
                "scale": scale,
                "tau2_unit": _tau2_unit(scale, unit, measure),
                "heading": f",{suffix(unit)}" if suffix(unit) else "",
                "estimable": estimable,
                "k": rec.get("k", len(rec.get("sites") or [])),
                "estimate": number_or_none(rec.get("estimate")),
                "ci": [number_or_none(rec.get("ci_low")), number_or_none(rec.get("ci_high"))],
                "prediction": [
                    number_or_none(rec.get("prediction_low")),
                    number_or_none(rec.get("prediction_high")),
                ],
                "tau2": number_or_none(rec.get("tau2")),
                "i2": number_or_none(rec.get("i2")),
                "i2_ci": pair(rec.get("i2_ci")),
                "q": number_or_none(rec.get("q")),
                "q_df": rec.get("q_df"),
                "q_p": number_or_none(rec.get("q_p")),
                "poolable": rec.get("poolable") if estimable else None,
                "q_flag": _above(het.get("q_alpha"), rec.get("q_p")),
                "i2_flag": _above(rec.get("i2"), threshold),
                "reason": rec.get("poolability_reason") or "",
            }
        )
        i2_all = number_or_none(rec.get("i2"))
        for loo in rec.get("leave_one_out") or []:
            site = str(loo.get("omitted"))
            loo_sites.setdefault(site, {})[key] = {
                "estimate": number_or_none(loo.get("estimate")),
                "ci": [number_or_none(loo.get("ci_low")), number_or_none(loo.get("ci_high"))],
                "i2": number_or_none(loo.get("i2")),
            }
            i2_without = number_or_none(loo.get("i2"))
            if (
                rec.get("poolable") is False
                and threshold is not None
                and i2_all is not None
                and i2_without is not None
                and i2_all > threshold >= i2_without
            ):
                drivers.append(
                    {
                        "key": key,
                        "metric": label.split(",")[0].lower(),
                        "site": site,
                        "name": names.get(site, site),
                        "i2_all": i2_all,
                        "i2_without": i2_without,
                    }
                )
    leave_one_out = [
        {
            "site": site,
            "name": names.get(site, site),
            "cells": {m["key"]: cells.get(m["key"]) for m in metrics},
        }
        for site, cells in sorted(loo_sites.items())
    ]
    mix = _vendor_mix(results)
    uneven = any(m["missing"] for m in mix)
    failing_vendors = sorted(
        {
            str(r["stratum"])
            for r in results.get("strata") or []
            if r.get("dimension") == "vendor" and r.get("goal_met") is False
        }
    )
    return {
        "available": bool(metrics),
        "method": het.get("method") or "",
        "q_alpha": number_or_none(het.get("q_alpha")),
        "i2_threshold": threshold,
        "metrics": metrics,
        "leave_one_out": leave_one_out,
        "not_poolable": [
            m["label"].split(",")[0].lower() for m in metrics if m["poolable"] is False
        ],
        "drivers": drivers,
        "vendor_mix": mix if uneven else [],
        "sites_lacking": [
            {
                "vendor": v,
                "sites": [m["site"] for m in mix if v in m["missing"]],
            }
            for v in failing_vendors
            if any(v in m["missing"] for m in mix)
        ],
    }


def subgroup_context(
    results: Mapping[str, Any],
    endpoints: Mapping[str, Mapping[str, Any]],
    measure: Mapping[str, Any] | None = None,
    finding: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Context of section 11: tables, forest plots and the heterogeneity block."""
    tables = subgroup_tables(results)
    failing = [{"dimension": t["title"], "what": f} for t in tables for f in t["failing"]]
    return {
        "min_n": results["analysis"].get("min_stratum_n"),
        "tables": tables,
        "any_small": any(t["any_small"] for t in tables),
        "failing": failing,
        "figures": _forest_figures(results, tables, endpoints, measure, finding),
        "heterogeneity": heterogeneity_context(results),
    }


def performance_context(results: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Context of the performance sections (9 measurement, 10 classification, 11 subgroups).

    Parameters
    ----------
    results : mapping
        The parsed, checked ``results.json``. The blocks ``method_comparison``,
        ``heterogeneity`` and ``classification.auc`` are optional: when absent, the sections
        say so instead of failing.
    table : DataFrame
        ``analysed.csv``: the per-study points of the figures.

    Returns
    -------
    dict
        ``{"measurement": ..., "diagnostic": ..., "subgroup": ...}`` (``measurement`` None
        without a measurement, ``diagnostic`` None without a finding): raw values (unrounded),
        intervals as ``[low, high]`` lists, and the figures as ``{"id", "src", "alt",
        "caption"}`` dicts.
    """
    endpoints = endpoints_by_metric(results.get("endpoints") or [])
    outputs = outputs_of(results)
    measure, finding = measure_context(outputs), finding_context(outputs)
    return {
        "measurement": measurement_context(results, table, endpoints, measure),
        "diagnostic": diagnostic_context(results, table, endpoints, finding),
        "subgroup": subgroup_context(results, endpoints, measure, finding),
    }
