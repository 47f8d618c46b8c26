"""Model version comparison: the impact assessment of a modification protocol (PCCP).

Every candidate version named by the protocol was run on the same ingested studies as the
released version. Its studies are paired with the released version's by study, and each
endpoint's difference (candidate minus released) is estimated with a paired interval:

- bias, limits of agreement, MAE, RMSE: patient-level paired cluster bootstrap
  (:func:`validation.stats.paired_bootstrap_difference`; the bias as the change in the
  *absolute* bias, since a bias moving towards zero is an improvement from either side);
- sensitivity and specificity: the Newcombe (1998, method 10) interval for paired proportions
  with McNemar's exact test (:func:`validation.stats.paired_proportion_difference`,
  :func:`validation.stats.mcnemar_test`);
- AUC: the paired DeLong test (:func:`validation.stats.delong_test`).

When patients contribute several studies (the protocol's ``analysis.cluster``), the judged
interval of the classification differences is the patient-level paired cluster bootstrap
instead (the same convention as the endpoints: patient-level intervals replace study-level
ones); the Newcombe interval, McNemar's and DeLong's tests are reported beside it.

Each difference is judged for non-inferiority on its confidence bound against the protocol's
margin (``comparison.margins``): the candidate may be worse than the released version by less
than the margin. Pooled, the primary endpoints form one family under the protocol's
multiplicity procedure and the secondary endpoints are tested only if the primary family and
every judged stratum (``comparison.by``) succeed, as for the goals
(:mod:`validation.analysis.acceptance`); the p-value of a pooled comparison is found by
inverting its interval. Every candidate is a separate claim, with its own family-wise error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from validation.analysis.acceptance import interval_p_value
from validation.analysis.clustered import cluster_ids
from validation.analysis.gatekeeping import Hypothesis, serial_gatekeeping
from validation.protocol import BETTER, Endpoint, Goal, Protocol
from validation.stats import (
    delong_test,
    mcnemar_test,
    paired_bootstrap_difference,
    paired_proportion_difference,
)
from validation.stats.roc import auc_leave_one_cluster_out, weighted_auc

KEY = "study_instance_uid"
#: Columns a version contributes to the paired table (suffixed ``_a`` released, ``_b`` candidate).
_OUTPUTS = ("measurement", "probability", "predicted")

IntervalAt = Callable[[float], tuple[float, float]]


@dataclass(frozen=True)
class Difference:
    """One paired difference (candidate minus released) with its interval."""

    released: float
    candidate: float
    difference: float
    ci_low: float
    ci_high: float
    method: str
    interval_at: IntervalAt | None
    tests: dict[str, Any]


def pair_versions(
    released: pd.DataFrame, candidate: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The studies analysed under both versions, with each version's outputs side by side.

    Returns the paired table (the released version's columns, plus ``<output>_a`` and
    ``<output>_b`` for every model output) and the counts: studies analysed under each version,
    paired, and analysed under one version only (reported, never silently dropped).
    """
    a = released.set_index(KEY)
    b = candidate.set_index(KEY)
    common = a.index.intersection(b.index, sort=False)
    paired = a.loc[common].copy()
    for column in _OUTPUTS:
        paired[f"{column}_a"] = a.loc[common, column].to_numpy()
        paired[f"{column}_b"] = b.loc[common, column].to_numpy()
    counts = {
        "released": len(a),
        "candidate": len(b),
        "paired": len(common),
        "released_only": int((~a.index.isin(common)).sum()),
        "candidate_only": int((~b.index.isin(common)).sum()),
    }
    return paired.reset_index(), counts


# --------------------------------------------------------------------------- intervals


def _absolute_bias(output: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(weights @ (output - reference) / weights.sum(axis=1)))


def _true_positive_rate(output: np.ndarray, label: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.asarray(weights @ (output * label) / (weights @ label))


def _true_negative_rate(output: np.ndarray, label: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return weights @ ((1.0 - output) * (1.0 - label)) / (weights @ (1.0 - label))


def _auc(score: np.ndarray, label: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.asarray(weighted_auc(label, score, weights=weights))


def _auc_leave_one_cluster_out(
    score: np.ndarray, label: np.ndarray, *, row_cluster: np.ndarray, n_clusters: int
) -> np.ndarray | None:
    """:func:`_auc` with each cluster left out in turn, in O(n log n) (the BCa jackknife)."""
    return auc_leave_one_cluster_out(label, score, row_cluster=row_cluster, n_clusters=n_clusters)


_auc.leave_one_cluster_out = _auc_leave_one_cluster_out  # type: ignore[attr-defined]


_BOOTSTRAP_STATISTICS: dict[str, str | Callable[..., np.ndarray]] = {
    "bias": _absolute_bias,
    "loa_low": "loa_low",
    "loa_high": "loa_high",
    "mae": "mae",
    "rmse": "rmse",
    "sensitivity": _true_positive_rate,
    "specificity": _true_negative_rate,
    "auc": _auc,
}
_OUTPUT_OF = {
    "bias": "measurement",
    "loa_low": "measurement",
    "loa_high": "measurement",
    "mae": "measurement",
    "rmse": "measurement",
    "sensitivity": "predicted",
    "specificity": "predicted",
    "auc": "probability",
}


def _bootstrap(
    group: pd.DataFrame, metric: str, protocol: Protocol, clusters: np.ndarray | None
) -> Difference:
    output = _OUTPUT_OF[metric]
    reference = "reference" if output == "measurement" else "label"
    plan = protocol.bootstrap
    res = paired_bootstrap_difference(
        group[f"{output}_a"].to_numpy(dtype=float),
        group[f"{output}_b"].to_numpy(dtype=float),
        group[reference].to_numpy(dtype=float),
        statistic=_BOOTSTRAP_STATISTICS[metric],
        seed=protocol.analysis.seed,
        clusters=clusters,
        n_resamples=plan.n_resamples,
        confidence=protocol.confidence,
        method=plan.method,
    )
    unit = f"{res.n_clusters} patients" if clusters is not None else f"{res.n} studies"
    label = (
        f"paired {'patient cluster ' if clusters is not None else ''}bootstrap, "
        f"{plan.label} (B = {plan.n_resamples}, {unit})"
    )
    if metric == "bias":
        label += ", of the absolute bias"
    released, candidate = res.estimate_a, res.estimate_b
    if metric == "bias":  # report the signed biases; the difference is of their absolutes
        released, candidate = _signed_bias(group, "a"), _signed_bias(group, "b")
    return Difference(
        released,
        candidate,
        res.estimate,
        res.ci_low,
        res.ci_high,
        label,
        res.bootstrap.interval,
        {},
    )


def _signed_bias(group: pd.DataFrame, version: str) -> float:
    return float((group[f"measurement_{version}"] - group["reference"]).mean())


def _proportion(group: pd.DataFrame, metric: str, protocol: Protocol) -> Difference:
    """Newcombe interval and McNemar's exact test of the paired sensitivity or specificity."""
    label = group["label"].to_numpy() == 1
    subset = label if metric == "sensitivity" else ~label
    truth = metric == "sensitivity"
    a = group.loc[subset, "predicted_a"].to_numpy() == truth
    b = group.loc[subset, "predicted_b"].to_numpy() == truth
    level = protocol.confidence
    res = paired_proportion_difference(a, b, confidence=level, method="newcombe")
    test = mcnemar_test(a, b, method="exact")

    def interval_at(confidence: float) -> tuple[float, float]:
        at = paired_proportion_difference(a, b, confidence=confidence, method="newcombe")
        return at.ci_low, at.ci_high

    return Difference(
        float(a.mean()),
        float(b.mean()),
        res.estimate,
        res.ci_low,
        res.ci_high,
        f"Newcombe hybrid score, paired (method 10; {int(subset.sum())} studies)",
        interval_at,
        {
            "mcnemar": {
                "method": "exact",
                "released_only_correct": test.a_only,
                "candidate_only_correct": test.b_only,
                "p_value": test.p_value,
            },
            "newcombe": {"estimate": res.estimate, "ci": [res.ci_low, res.ci_high]},
        },
    )


def _delong(group: pd.DataFrame, protocol: Protocol) -> Difference:
    """Paired DeLong interval and test of the AUC difference (candidate minus released)."""
    label = group["label"].to_numpy() == 1
    a = group["probability_a"].to_numpy(dtype=float)
    b = group["probability_b"].to_numpy(dtype=float)
    res = delong_test(label, b, a, confidence=protocol.confidence)

    def interval_at(confidence: float) -> tuple[float, float]:
        at = delong_test(label, b, a, confidence=confidence)
        return at.ci.low, at.ci.high

    return Difference(
        res.auc_b,
        res.auc_a,
        res.difference,
        res.ci.low,
        res.ci.high,
        f"paired DeLong ({len(group)} studies)",
        interval_at,
        {"delong": {"z": res.z, "p_value": res.p_value}},
    )


def _nan_difference(reason: str) -> Difference:
    return Difference(math.nan, math.nan, math.nan, math.nan, math.nan, reason, None, {})


def difference(
    group: pd.DataFrame, metric: str, protocol: Protocol, *, clustered: bool = True
) -> Difference:
    """The paired difference of ``metric`` on ``group`` (NaN with the reason when undefined)."""
    clusters = cluster_ids(group, protocol) if clustered else None
    classification = metric in ("sensitivity", "specificity", "auc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            if not classification:
                if len(group) < 3:
                    return _nan_difference("undefined (fewer than 3 studies)")
                return _bootstrap(group, metric, protocol, clusters)
            published = _delong(group, protocol) if metric == "auc" else None
            if published is None:
                published = _proportion(group, metric, protocol)
            if clusters is None:
                return published
            patient = _bootstrap(group, metric, protocol, clusters)
            tests = {**published.tests, "study_level": _ci_record(published)}
            return Difference(
                published.released,
                published.candidate,
                patient.difference,
                patient.ci_low,
                patient.ci_high,
                patient.method,
                patient.interval_at,
                tests,
            )
        except ValueError as exc:
            return _nan_difference(f"undefined ({exc})")


def _ci_record(value: Difference) -> dict[str, Any]:
    return {
        "difference": value.difference,
        "ci": [value.ci_low, value.ci_high],
        "method": value.method,
    }


# --------------------------------------------------------------------------- verdicts


def margin_goal(metric: str, margin: float) -> Goal:
    """The non-inferiority hypothesis as a goal on the difference (candidate - released)."""
    if BETTER[metric] == "higher":
        return Goal(lower=-margin)
    return Goal(upper=margin)  # lower is better, or closer to zero (absolute bias)


def _better(metric: str, value: Difference) -> bool:
    """The interval excludes no change on the favourable side (descriptive, not a claim)."""
    if BETTER[metric] == "higher":
        return bool(value.ci_low > 0)
    return bool(value.ci_high < 0)


def _worse(metric: str, value: Difference) -> bool:
    if BETTER[metric] == "higher":
        return bool(value.ci_high < 0)
    return bool(value.ci_low > 0)


def _row(
    endpoint: Endpoint,
    protocol: Protocol,
    candidate: str,
    dimension: str,
    stratum: str,
    group: pd.DataFrame,
    judged: bool,
) -> tuple[dict[str, Any], Difference]:
    margin = protocol.comparison.margins[endpoint.id]
    value = difference(group, endpoint.metric, protocol)
    goal = margin_goal(endpoint.metric, margin)
    met = goal.met(value.ci_low, value.ci_high)
    row = {
        "candidate": candidate,
        "endpoint": endpoint.id,
        "label": endpoint.label,
        "metric": endpoint.metric,
        "primary": endpoint.primary,
        "dimension": dimension,
        "stratum": stratum,
        "studies": len(group),
        "released": value.released,
        "candidate_estimate": value.candidate,
        "difference": value.difference,
        "ci_low": value.ci_low,
        "ci_high": value.ci_high,
        "confidence": protocol.confidence,
        "method": value.method,
        "tests": value.tests,
        "margin": margin,
        "better": BETTER[endpoint.metric],
        "statistic": "absolute bias" if endpoint.metric == "bias" else endpoint.metric,
        "bound": goal.describe(),
        "noninferior": met,
        "improved": _better(endpoint.metric, value) if met is not None else None,
        "worsened": _worse(endpoint.metric, value) if met is not None else None,
        "judged": judged,
        "small": len(group) < protocol.analysis.min_stratum_n,
        "verdict": _verdict(met),
    }
    return row, value


def _verdict(met: bool | None) -> str:
    if met is None:
        return "NOT EVALUABLE"
    return "NON-INFERIOR" if met else "NOT NON-INFERIOR"


def comparison_dimensions(protocol: Protocol) -> list[str]:
    """Stratum dimensions shown in the comparison: site, vendor and every judged dimension."""
    wanted = {"site", "vendor", *protocol.comparison.by}
    return [d for d in protocol.analysis.strata if d in wanted]


def compare_versions(
    released: pd.DataFrame,
    candidate: pd.DataFrame,
    protocol: Protocol,
    *,
    version: str,
) -> dict[str, Any]:
    """Paired impact assessment of one candidate against the released version.

    Parameters
    ----------
    released, candidate : DataFrame
        The analysed studies (``analysed.csv``) of each version: the same studies, read by
        each version's locked model.
    protocol : Protocol
        Margins (``comparison.margins``), judged strata (``comparison.by``), confidence,
        multiplicity plan and bootstrap settings.
    version : str
        The candidate's version.

    Returns
    -------
    dict
        ``pairing`` (counts), ``rows`` (one per endpoint and stratum, ``dimension`` ``"all"``
        for the pooled comparison), ``multiplicity`` and the candidate's ``verdict``.
    """
    paired, counts = pair_versions(released, candidate)
    by = protocol.comparison.by
    rows: list[dict[str, Any]] = []
    pooled: dict[str, Difference] = {}
    for endpoint in protocol.endpoints:
        row, value = _row(endpoint, protocol, version, "all", "all", paired, True)
        rows.append(row)
        pooled[endpoint.id] = value
    for dimension in comparison_dimensions(protocol):
        judged = set(by.get(dimension, []))
        for stratum, group in paired.groupby(dimension, sort=True):
            for endpoint in protocol.endpoints:
                row, _ = _row(
                    endpoint,
                    protocol,
                    version,
                    dimension,
                    str(stratum),
                    group,
                    endpoint.id in judged,
                )
                rows.append(row)
    multiplicity = _multiplicity(rows, pooled, protocol)
    verdict = _candidate_verdict(rows, protocol, version, multiplicity)
    return {
        "version": version,
        "pairing": counts,
        "rows": rows,
        "multiplicity": multiplicity,
        **verdict,
    }


def _multiplicity(
    rows: list[dict[str, Any]], pooled: dict[str, Difference], protocol: Protocol
) -> dict[str, Any]:
    """The pooled comparisons decided by the protocol's multiplicity plan
    (:func:`validation.analysis.gatekeeping.serial_gatekeeping`, as the goals), their
    p-values found by inverting their intervals."""
    p_values = {}
    for row in (r for r in rows if r["dimension"] == "all"):
        value = pooled[row["endpoint"]]
        p_values[row["endpoint"]] = (
            interval_p_value(
                value.interval_at,
                value.difference,
                margin_goal(row["metric"], row["margin"]),
                method=value.method,
                n_resamples=protocol.bootstrap.n_resamples,
            )
            if value.interval_at is not None
            else math.nan
        )
    return judge_comparisons(rows, p_values, protocol)


def judge_comparisons(
    rows: list[dict[str, Any]], p_values: Mapping[str, float], protocol: Protocol
) -> dict[str, Any]:
    """The decision step of the comparison, on given p-values of the pooled comparisons.

    Parameters
    ----------
    rows : list of dict
        The comparison rows (``dimension`` ``"all"`` for the pooled ones; ``endpoint``,
        ``primary``, ``noninferior``, ``judged``, ``verdict``); the pooled ones are changed in
        place (``p_value``, ``adjusted_p``, ``tested``, ``verdict``).
    p_values : mapping
        Endpoint id -> one-sided p-value of its pooled non-inferiority test.
    protocol : Protocol
        The multiplicity plan and the judged strata (``comparison.by``).

    Returns
    -------
    dict
        The candidate's ``multiplicity`` record (the same shape as the analysis').
    """
    overall = [r for r in rows if r["dimension"] == "all"]
    hypotheses = [
        Hypothesis(r["endpoint"], r["primary"], p_values[r["endpoint"]], r["noninferior"])
        for r in overall
    ]
    strata_met = all(
        r["noninferior"] is True for r in rows if r["dimension"] != "all" and r["judged"]
    )
    result = serial_gatekeeping(hypotheses, protocol.multiplicity, strata_met=strata_met)
    result.annotate(overall, key="endpoint", passed="NON-INFERIOR", failed="NOT NON-INFERIOR")
    statement = result.statement(
        noun="comparison",
        bound="non-inferiority bound",
        scope=" per candidate",
        judged=bool(protocol.comparison.by),
    )
    return result.record(statement)


def _candidate_verdict(
    rows: list[dict[str, Any]], protocol: Protocol, version: str, multiplicity: dict[str, Any]
) -> dict[str, Any]:
    """PASS when every primary comparison is non-inferior pooled (as the multiplicity plan
    decides it) and in every judged stratum: exactly when the gate to the secondary family
    opens."""
    failing = [
        {"endpoint": r["endpoint"], "dimension": r["dimension"], "stratum": r["stratum"]}
        for r in rows
        if _fails(r)
    ]
    by = protocol.comparison.by
    per_stratum = "; ".join(f"{', '.join(ids)} in every {dim} stratum" for dim, ids in by.items())
    rule = "every primary endpoint non-inferior pooled" + (
        f", and {per_stratum}" if per_stratum else ""
    )
    verdict = "PASS" if not failing else "FAIL"
    return {
        "verdict": verdict,
        "rule": rule,
        "failing": failing,
        "improved": [
            {"endpoint": r["endpoint"], "dimension": r["dimension"], "stratum": r["stratum"]}
            for r in rows
            if r["improved"]
        ],
        "worsened": [
            {"endpoint": r["endpoint"], "dimension": r["dimension"], "stratum": r["stratum"]}
            for r in rows
            if r["worsened"]
        ],
        "conclusion": _conclusion(rows, protocol, version, verdict, multiplicity),
    }


def _conclusion(
    rows: list[dict[str, Any]],
    protocol: Protocol,
    version: str,
    verdict: str,
    multiplicity: dict[str, Any],
) -> str:
    """A plain-language summary of the impact assessment: the decision, what failed and where,
    and where the candidate is better or worse beyond chance (pooled and in judged dimensions).
    """
    released = protocol.released.version
    level = f"{protocol.confidence:.0%}"
    judged_dimensions = set(protocol.comparison.by)
    if verdict == "PASS":
        text = (
            f"Version {version} is not worse than the released version {released} by as much as "
            f"the pre-specified margin on any primary endpoint, pooled"
            + (" and in every judged stratum" if judged_dimensions else "")
            + f" ({level} confidence bounds): under this modification protocol it may replace "
            "the released version."
        )
    else:
        failing = [r for r in rows if _fails(r)]
        text = (
            f"Version {version} could not be shown to be non-inferior to the released version "
            f"{released} in {len(failing)} pre-specified comparison"
            f"{'s' if len(failing) != 1 else ''}: "
            + "; ".join(_describe(r) for r in failing)
            + ". Under this modification protocol it must not replace the released version."
        )
    shown = [r for r in rows if r["dimension"] == "all" or r["dimension"] in judged_dimensions]
    improved = [r for r in shown if r["improved"]]
    if improved:
        text += (
            " It is better, beyond chance, in "
            + "; ".join(_describe(r, margin=False) for r in improved)
            + "."
        )
    worse = [r for r in shown if r["worsened"] and r["noninferior"]]
    if worse:
        text += (
            " It is worse, beyond chance but within the margin, in "
            + "; ".join(_describe(r, margin=False) for r in worse)
            + "."
        )
    unjudged = [r for r in shown if r["worsened"] and not r["noninferior"] and not _fails(r)]
    if unjudged:
        text += (
            " It is worse, beyond chance and by more than the margin, in comparisons shown but "
            "not judged by the protocol: " + "; ".join(_describe(r) for r in unjudged) + "."
        )
    for dimension in sorted(judged_dimensions):
        clean = sorted(
            {r["stratum"] for r in rows if r["dimension"] == dimension}
            - {r["stratum"] for r in rows if r["dimension"] == dimension and _fails(r)}
        )
        if clean:
            text += f" On {dimension} {', '.join(clean)} every judged comparison is non-inferior."
    if not multiplicity["gate_open"]:
        text += (
            " The secondary comparisons were not tested: the primary comparisons did not all "
            "succeed (serial gatekeeping)."
        )
    return text


def _describe(row: dict[str, Any], *, margin: bool = True) -> str:
    """``<label> [on <dimension> <stratum>] (<released> to <candidate>, difference [CI])``."""
    where = "" if row["dimension"] == "all" else f" on {row['dimension']} {row['stratum']}"
    label = row["label"].split(" (")[0]
    text = (
        f"{label}{where} ({_fmt(row['released'])} to {_fmt(row['candidate_estimate'])}"
        + ("; difference of the absolute bias" if row["metric"] == "bias" else "; difference")
        + f" {_fmt(row['difference'])}, CI {_fmt(row['ci_low'])} to {_fmt(row['ci_high'])}"
    )
    if margin:
        text += f", margin {row['margin']:g}"
    return text + ")"


def _fails(row: dict[str, Any]) -> bool:
    """A primary pooled comparison the multiplicity plan did not reject, or a judged stratum
    whose margin is not met on its confidence bound."""
    if row["dimension"] == "all":
        return bool(row["primary"]) and row["verdict"] != "NON-INFERIOR"
    return bool(row["judged"]) and row["noninferior"] is not True


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.2f}".replace("-", "\u2212")
