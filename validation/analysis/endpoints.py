"""Pre-specified endpoints, strata and acceptance, computed with :mod:`validation.stats`."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import pandas as pd

from validation.protocol import Endpoint, Protocol
from validation.stats import bland_altman, diagnostic_accuracy, mean_absolute_error

_MEASUREMENT = ("bias", "loa_low", "loa_high", "mae")
_CLASSIFICATION = ("sensitivity", "specificity")
STRATUM_METRICS = (*_MEASUREMENT, *_CLASSIFICATION)


@dataclass(frozen=True)
class MetricValue:
    """One estimate with its interval (NaN when undefined)."""

    n: int
    estimate: float
    ci_low: float
    ci_high: float
    method: str


def _nan(n: int, method: str) -> MetricValue:
    return MetricValue(n, math.nan, math.nan, math.nan, method)


def measurement_metrics(studies: pd.DataFrame, protocol: Protocol) -> dict[str, MetricValue]:
    """Bias, limits of agreement and MAE of the model against the reference measurement."""
    analysis = protocol.analysis
    n = len(studies)
    ci_method = analysis["loa_ci"]
    method_text = {"exact": "Carkeet exact (noncentral t)", "approximate": "Bland-Altman 1986"}
    if n < 3:
        warnings.warn(f"agreement undefined for n={n} (< 3)", RuntimeWarning, stacklevel=2)
        return {m: _nan(n, "undefined (n < 3)") for m in _MEASUREMENT}
    ba = bland_altman(
        studies["ivsd_mm"].to_numpy(),
        studies["reference_ivsd_mm"].to_numpy(),
        confidence=protocol.confidence,
        loa_multiplier=float(analysis.get("loa_multiplier", 1.96)),
        ci_method=ci_method,
    )
    mae = mean_absolute_error(
        studies["ivsd_mm"].to_numpy(),
        studies["reference_ivsd_mm"].to_numpy(),
        confidence=protocol.confidence,
    )
    return {
        "bias": MetricValue(n, ba.bias, ba.bias_ci.low, ba.bias_ci.high, "t interval"),
        "loa_low": MetricValue(
            n, ba.loa_low, ba.loa_low_ci.low, ba.loa_low_ci.high, method_text[ci_method]
        ),
        "loa_high": MetricValue(
            n, ba.loa_high, ba.loa_high_ci.low, ba.loa_high_ci.high, method_text[ci_method]
        ),
        "mae": MetricValue(n, mae.estimate, mae.ci.low, mae.ci.high, "t interval"),
    }


def classification_metrics(studies: pd.DataFrame, protocol: Protocol) -> dict[str, MetricValue]:
    """Sensitivity and specificity of the LVH flag against the reference label."""
    n = len(studies)
    if n == 0:
        return {m: _nan(0, "undefined (n = 0)") for m in _CLASSIFICATION}
    method = protocol.analysis["proportion_ci"]
    acc = diagnostic_accuracy(
        studies["lvh_ref"].to_numpy(),
        studies["lvh_pred"].to_numpy(),
        confidence=protocol.confidence,
        method=method,
    )
    return {
        "sensitivity": MetricValue(
            acc.tp + acc.fn,
            acc.sensitivity.estimate,
            acc.sensitivity.ci.low,
            acc.sensitivity.ci.high,
            method,
        ),
        "specificity": MetricValue(
            acc.tn + acc.fp,
            acc.specificity.estimate,
            acc.specificity.ci.low,
            acc.specificity.ci.high,
            method,
        ),
    }


def all_metrics(studies: pd.DataFrame, protocol: Protocol) -> dict[str, MetricValue]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN results are reported, not hidden
        return {
            **measurement_metrics(studies, protocol),
            **classification_metrics(studies, protocol),
        }


def verdict(endpoint: Endpoint, value: MetricValue) -> str:
    """PASS or FAIL on the confidence bound; NOT EVALUABLE when the interval is undefined."""
    met = endpoint.goal.met(value.ci_low, value.ci_high)
    return "NOT EVALUABLE" if met is None else ("PASS" if met else "FAIL")


def endpoint_rows(studies: pd.DataFrame, protocol: Protocol) -> list[dict]:
    """One row per pre-specified endpoint, judged on its CI bound."""
    metrics = all_metrics(studies, protocol)
    rows = []
    for endpoint in protocol.endpoints:
        value = metrics[endpoint.metric]
        rows.append(
            {
                "id": endpoint.id,
                "label": endpoint.label,
                "metric": endpoint.metric,
                "kind": endpoint.kind,
                "unit": protocol.data["outputs"].get("unit", "mm")
                if endpoint.kind == "measurement"
                else "",
                "primary": endpoint.primary,
                "n": value.n,
                "estimate": value.estimate,
                "ci_low": value.ci_low,
                "ci_high": value.ci_high,
                "confidence": protocol.confidence,
                "method": value.method,
                "goal": endpoint.goal.to_dict(),
                "goal_text": endpoint.goal.describe(),
                "verdict": verdict(endpoint, value),
                "rationale": endpoint.rationale,
            }
        )
    return rows


def strata_rows(studies: pd.DataFrame, protocol: Protocol) -> list[dict]:
    """Tidy rows (dimension, stratum, metric, n, estimate, ci_low, ci_high, ...) for every stratum.

    Strata under the protocol's ``min_stratum_n`` are flagged ``small``, never dropped. In the
    dimensions of ``acceptance_by``, the endpoints named there are judged per stratum too
    (``judged`` true, ``goal_met`` true/false, or None when the interval is undefined).
    """
    analysis = protocol.analysis
    rows = []
    for dimension in analysis["strata"]:
        goals = protocol.judged_goals(dimension)
        for stratum, group in studies.groupby(dimension, sort=True):
            metrics = all_metrics(group, protocol)
            for metric in STRATUM_METRICS:
                value = metrics[metric]
                goal = goals.get(metric)
                met = goal.met(value.ci_low, value.ci_high) if goal else None
                rows.append(
                    {
                        "dimension": dimension,
                        "stratum": str(stratum),
                        "metric": metric,
                        "n": value.n,
                        "studies": len(group),
                        "estimate": value.estimate,
                        "ci_low": value.ci_low,
                        "ci_high": value.ci_high,
                        "confidence": protocol.confidence,
                        "method": value.method,
                        "small": len(group) < int(analysis["min_stratum_n"]),
                        "judged": goal is not None,
                        "goal_met": met,
                    }
                )
    return rows
