"""Pre-specified endpoints, strata and acceptance, computed with :mod:`validation.stats`."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from validation.analysis.clustered import ClusteredValue, cluster_ids, clustered_values
from validation.protocol import Endpoint, Protocol
from validation.stats import (
    BlandAltman,
    DiagnosticAccuracy,
    Estimate,
    RocAuc,
    bland_altman,
    diagnostic_accuracy,
    mean_absolute_error,
    roc_auc,
)
from validation.stats.location import root_mean_square_error

_MEASUREMENT = ("bias", "loa_low", "loa_high", "mae", "rmse")
_CLASSIFICATION = ("sensitivity", "specificity", "auc")
STRATUM_METRICS = (*_MEASUREMENT, *_CLASSIFICATION)


@dataclass(frozen=True)
class MetricValue:
    """One estimate with its interval (NaN when undefined)."""

    n: int
    estimate: float
    ci_low: float
    ci_high: float
    method: str


@dataclass(frozen=True)
class Assessment:
    """The statistics of one set of studies (the pooled set or one stratum), computed once.

    ``agreement``, ``mae`` and ``rmse`` are None below 3 studies, ``accuracy`` None with no
    study, ``auc`` None unless both classes are present: the metrics are then NaN, reported
    and never dropped.
    """

    n: int
    agreement: BlandAltman | None
    mae: Estimate | None
    accuracy: DiagnosticAccuracy | None
    rmse: Estimate | None = None
    auc: RocAuc | None = None
    patients: int | None = None
    clustered: dict[str, ClusteredValue] = field(default_factory=dict)

    def metrics(self) -> dict[str, MetricValue]:
        """The endpoint metrics of :data:`STRATUM_METRICS`, each with its interval.

        When patients contribute several studies (``clustered``), the patient-level
        estimates and intervals replace the study-level ones.
        """
        values = {**self._measurement(), **self._classification()}
        for metric, c in self.clustered.items():
            values[metric] = MetricValue(
                values[metric].n, c.estimate, c.ci_low, c.ci_high, c.method
            )
        return values

    def _measurement(self) -> dict[str, MetricValue]:
        ba, mae, rmse = self.agreement, self.mae, self.rmse
        if ba is None or mae is None or rmse is None:
            return {m: _nan(self.n, "undefined (n < 3)") for m in _MEASUREMENT}
        loa = _LOA_METHOD[ba.ci_method]
        return {
            "bias": MetricValue(self.n, ba.bias, ba.bias_ci.low, ba.bias_ci.high, "t interval"),
            "loa_low": MetricValue(self.n, ba.loa_low, ba.loa_low_ci.low, ba.loa_low_ci.high, loa),
            "loa_high": MetricValue(
                self.n, ba.loa_high, ba.loa_high_ci.low, ba.loa_high_ci.high, loa
            ),
            "mae": MetricValue(self.n, mae.estimate, mae.ci.low, mae.ci.high, "t interval"),
            "rmse": MetricValue(self.n, rmse.estimate, rmse.ci.low, rmse.ci.high, rmse.ci.method),
        }

    def _classification(self) -> dict[str, MetricValue]:
        acc = self.accuracy
        if acc is None:
            return {m: _nan(0, "undefined (n = 0)") for m in _CLASSIFICATION}
        sens, spec, auc = acc.sensitivity, acc.specificity, self.auc
        auc_value = (
            MetricValue(acc.n, auc.auc, auc.ci.low, auc.ci.high, "DeLong")
            if auc is not None
            else _nan(acc.n, "undefined (one class)")
        )
        return {
            "auc": auc_value,
            "sensitivity": MetricValue(
                acc.tp + acc.fn, sens.estimate, sens.ci.low, sens.ci.high, acc.method
            ),
            "specificity": MetricValue(
                acc.tn + acc.fp, spec.estimate, spec.ci.low, spec.ci.high, acc.method
            ),
        }


_LOA_METHOD = {"exact": "Carkeet exact (noncentral t)", "approximate": "Bland-Altman 1986"}


def _nan(n: int, method: str) -> MetricValue:
    return MetricValue(n, math.nan, math.nan, math.nan, method)


def assess(
    studies: pd.DataFrame,
    protocol: Protocol,
    *,
    confidence: float | None = None,
    groups: tuple[str, ...] | None = None,
) -> Assessment:
    """Bland-Altman agreement, MAE, RMSE, accuracy and AUC of the model, as the protocol says.

    ``confidence`` defaults to the protocol's; ``groups`` limits the work to the measurement
    or the classification metrics (default: those of the outputs the protocol declares).
    Undefined metrics (a stratum with one class, fewer than 3 studies) are NaN: their warnings
    are silenced here because the NaN itself is reported.
    """
    n = len(studies)
    groups = declared_groups(protocol) if groups is None else groups
    level = protocol.confidence if confidence is None else confidence
    model = studies["measurement"].to_numpy()
    reference = studies["reference"].to_numpy()
    labels = studies["label"].to_numpy()
    analysis = protocol.analysis
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        agreement = mae = rmse = accuracy = auc = None
        if n >= 3 and "measurement" in groups:
            agreement = bland_altman(
                model,
                reference,
                confidence=level,
                loa_multiplier=analysis.loa_multiplier,
                ci_method=analysis.loa_ci,
            )
            mae = mean_absolute_error(model, reference, confidence=level)
            rmse = root_mean_square_error(model, reference, confidence=level)
        if n >= 1 and "classification" in groups:
            accuracy = diagnostic_accuracy(
                labels,
                studies["predicted"].to_numpy(),
                confidence=level,
                method=analysis.proportion_ci,
            )
            if 0 < labels.sum() < n:
                auc = roc_auc(labels, studies["probability"].to_numpy(), confidence=level)
        clusters = cluster_ids(studies, protocol) if n >= 3 else None
        clustered = (
            clustered_values(studies, protocol, clusters, confidence=level, groups=groups)
            if clusters is not None
            else {}
        )
    return Assessment(
        n=n,
        agreement=agreement,
        mae=mae,
        rmse=rmse,
        accuracy=accuracy,
        auc=auc,
        patients=None if clusters is None else int(np.unique(clusters).shape[0]),
        clustered=clustered,
    )


def declared_groups(protocol: Protocol) -> tuple[str, ...]:
    """The metric groups of the protocol's outputs: "measurement" with a measurement,
    "classification" with a finding."""
    declared = (("measurement", protocol.measurement), ("classification", protocol.finding))
    return tuple(group for group, output in declared if output is not None)


def stratum_metrics(protocol: Protocol) -> tuple[str, ...]:
    """The metrics of :data:`STRATUM_METRICS` the protocol's outputs define."""
    groups = declared_groups(protocol)
    return tuple(
        m
        for m in STRATUM_METRICS
        if ("measurement" if m in _MEASUREMENT else "classification") in groups
    )


def not_evaluable_reason(value: MetricValue) -> str:
    """Why a metric has no confidence interval, as the report states it."""
    if value.method.startswith("undefined"):
        return value.method
    if value.n == 0:
        return "no study"
    return f"the interval is undefined ({value.method}, n = {value.n})"


def assess_metric(
    studies: pd.DataFrame, protocol: Protocol, metric: str, confidence: float
) -> MetricValue:
    """One metric with its interval at ``confidence`` (computing only what it needs)."""
    group = "measurement" if metric in _MEASUREMENT else "classification"
    return assess(studies, protocol, confidence=confidence, groups=(group,)).metrics()[metric]


def verdict(endpoint: Endpoint, value: MetricValue) -> str:
    """PASS or FAIL on the confidence bound; NOT EVALUABLE when the interval is undefined."""
    met = endpoint.goal.met(value.ci_low, value.ci_high)
    return "NOT EVALUABLE" if met is None else ("PASS" if met else "FAIL")


def _unit(endpoint: Endpoint, protocol: Protocol) -> str:
    """The measurement unit, "" for a proportion, "index" for the AUC."""
    if endpoint.kind == "measurement" and protocol.measurement is not None:
        return protocol.measurement.unit
    return "index" if endpoint.metric == "auc" else ""


def endpoint_rows(pooled: Assessment, protocol: Protocol) -> list[dict]:
    """One row per pre-specified endpoint, judged on its CI bound."""
    metrics = pooled.metrics()
    rows = []
    for endpoint in protocol.endpoints:
        value = metrics[endpoint.metric]
        rows.append(
            {
                "id": endpoint.id,
                "label": endpoint.label,
                "metric": endpoint.metric,
                "kind": endpoint.kind,
                "unit": _unit(endpoint, protocol),
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
        if rows[-1]["verdict"] == "NOT EVALUABLE":
            rows[-1]["reason"] = not_evaluable_reason(value)
    return rows


def strata_rows(studies: pd.DataFrame, protocol: Protocol) -> list[dict]:
    """Tidy rows (dimension, stratum, metric, n, estimate, ci_low, ci_high, ...) for every stratum.

    Strata under the protocol's ``min_stratum_n`` are flagged ``small``, never dropped. In the
    dimensions of ``acceptance_by``, the endpoints named there are judged per stratum too
    (``judged`` true, ``goal_met`` true/false, or None when the interval is undefined).
    """
    analysis = protocol.analysis
    rows = []
    for dimension in analysis.strata:
        goals = protocol.judged_goals(dimension)
        for stratum, group in studies.groupby(dimension, sort=True):
            metrics = assess(group, protocol).metrics()
            for metric in stratum_metrics(protocol):
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
                        "small": len(group) < analysis.min_stratum_n,
                        "judged": goal is not None,
                        "goal_met": met,
                    }
                )
    return rows
