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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from validation.analysis.acceptance import goal_p_value
from validation.analysis.clustered import cluster_ids
from validation.protocol import BETTER, Endpoint, Goal, Protocol
from validation.stats import (
    delong_test,
    mcnemar_test,
    multiplicity_adjust,
    paired_bootstrap_difference,
    paired_proportion_difference,
)
from validation.stats.bootstrap import BootstrapResult
from validation.stats.roc import auc_leave_one_cluster_out, weighted_auc

KEY = "study_instance_uid"
#: Columns a version contributes to the paired table (suffixed ``_a`` released, ``_b`` candidate).
_OUTPUTS = ("ivsd_mm", "lvh_probability", "lvh_pred")

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


def _bootstrap_interval_at(boot: BootstrapResult) -> IntervalAt:
    """The bootstrap interval at any level, from the same replicates (BCa or percentile)."""
    valid = boot.replicates[np.isfinite(boot.replicates)]
    theta = float(boot.estimate)
    degenerate = valid.size > 0 and float(valid.max() - valid.min()) <= 1e-12 * max(
        1.0, abs(theta), float(np.abs(valid).max())
    )

    def interval_at(confidence: float) -> tuple[float, float]:
        if degenerate:  # every replicate equal: the interval is the point estimate
            return theta, theta
        alpha = (1.0 - confidence) / 2.0
        if boot.method == "percentile":
            low, high = np.quantile(valid, [alpha, 1.0 - alpha])
            return float(low), float(high)
        z0, a = float(boot.z0), float(boot.acceleration)
        if not (math.isfinite(z0) and math.isfinite(a)):
            return math.nan, math.nan
        shifted = z0 + special.ndtri(np.array([alpha, 1.0 - alpha]))
        levels = special.ndtr(z0 + shifted / (1.0 - a * shifted))
        low, high = np.quantile(valid, np.clip(levels, 0.0, 1.0))
        return float(low), float(high)

    return interval_at


def _absolute_bias(output: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.abs(weights @ (output - reference) / weights.sum(axis=1))


def _true_positive_rate(output: np.ndarray, label: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return weights @ (output * label) / (weights @ label)


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
    "bias": "ivsd_mm",
    "loa_low": "ivsd_mm",
    "loa_high": "ivsd_mm",
    "mae": "ivsd_mm",
    "rmse": "ivsd_mm",
    "sensitivity": "lvh_pred",
    "specificity": "lvh_pred",
    "auc": "lvh_probability",
}


def _bootstrap(
    group: pd.DataFrame, metric: str, protocol: Protocol, clusters: np.ndarray | None
) -> Difference:
    output = _OUTPUT_OF[metric]
    reference = "reference_ivsd_mm" if output == "ivsd_mm" else "lvh_ref"
    plan = protocol.analysis.get("bootstrap", {})
    method = plan.get("method", "bca")
    n_resamples = int(plan.get("n_resamples", 2000))
    res = paired_bootstrap_difference(
        group[f"{output}_a"].to_numpy(dtype=float),
        group[f"{output}_b"].to_numpy(dtype=float),
        group[reference].to_numpy(dtype=float),
        statistic=_BOOTSTRAP_STATISTICS[metric],
        seed=int(protocol.analysis["seed"]),
        clusters=clusters,
        n_resamples=n_resamples,
        confidence=protocol.confidence,
        method=method,
    )
    unit = f"{res.n_clusters} patients" if clusters is not None else f"{res.n} studies"
    label = (
        f"paired {'patient cluster ' if clusters is not None else ''}bootstrap, "
        f"{'BCa' if method == 'bca' else 'percentile'} (B = {n_resamples}, {unit})"
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
        _bootstrap_interval_at(res.bootstrap),
        {},
    )


def _signed_bias(group: pd.DataFrame, version: str) -> float:
    return float((group[f"ivsd_mm_{version}"] - group["reference_ivsd_mm"]).mean())


def _proportion(group: pd.DataFrame, metric: str, protocol: Protocol) -> Difference:
    """Newcombe interval and McNemar's exact test of the paired sensitivity or specificity."""
    label = group["lvh_ref"].to_numpy() == 1
    subset = label if metric == "sensitivity" else ~label
    truth = metric == "sensitivity"
    a = group.loc[subset, "lvh_pred_a"].to_numpy() == truth
    b = group.loc[subset, "lvh_pred_b"].to_numpy() == truth
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
    label = group["lvh_ref"].to_numpy() == 1
    a = group["lvh_probability_a"].to_numpy(dtype=float)
    b = group["lvh_probability_b"].to_numpy(dtype=float)
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
    margin = float(protocol.comparison["margins"][endpoint.id])
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
        "small": len(group) < int(protocol.analysis["min_stratum_n"]),
        "verdict": _verdict(met),
    }
    return row, value


def _verdict(met: bool | None) -> str:
    if met is None:
        return "NOT EVALUABLE"
    return "NON-INFERIOR" if met else "NOT NON-INFERIOR"


def comparison_dimensions(protocol: Protocol) -> list[str]:
    """Stratum dimensions shown in the comparison: site, vendor and every judged dimension."""
    wanted = {"site", "vendor", *protocol.comparison["by"]}
    return [d for d in protocol.analysis["strata"] if d in wanted]


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
    by = protocol.comparison["by"]
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
    """p-values of the pooled comparisons and the protocol's procedure over them."""
    plan = protocol.multiplicity
    alpha = float(plan["alpha"])
    overall = {r["endpoint"]: r for r in rows if r["dimension"] == "all"}
    for endpoint_id, row in overall.items():
        value = pooled[endpoint_id]
        goal = margin_goal(row["metric"], row["margin"])
        p_value = (
            goal_p_value(value.interval_at, value.difference, goal)
            if value.interval_at is not None
            else math.nan
        )
        if "bootstrap" in value.method:  # a Monte Carlo p-value is resolved to 1 / (B + 1)
            resamples = int(protocol.analysis.get("bootstrap", {}).get("n_resamples", 2000))
            p_value = max(p_value, 1.0 / (resamples + 1))
        row["p_value"] = p_value
    strata_met = all(
        r["noninferior"] is True for r in rows if r["dimension"] != "all" and r["judged"]
    )
    order = plan.get("order") or [e.id for e in protocol.endpoints]
    primary = [overall[i] for i in order if i in overall and overall[i]["primary"]]
    secondary = [overall[i] for i in order if i in overall and not overall[i]["primary"]]
    first = _family(primary, plan["procedure"], alpha)
    first_ok = first is None or (
        first.all_rejected if plan["procedure"] != "intersection-union" else _all_met(primary)
    )
    gate_open = strata_met and first_ok
    second = _family(secondary, plan["secondary"], alpha) if gate_open else None
    for family, members, procedure in (
        (first, primary, plan["procedure"]),
        (second, secondary, plan["secondary"]),
    ):
        for i, row in enumerate(members):
            if family is None:
                row.update(adjusted_p=math.nan, tested=False, verdict="NOT TESTED")
                continue
            row["adjusted_p"] = family.adjusted_p[i]
            row["tested"] = bool(family.tested[i])
            if row["verdict"] == "NOT EVALUABLE":
                continue
            if not family.tested[i]:
                row["verdict"] = "NOT TESTED"
            elif procedure != "intersection-union":
                row["verdict"] = "NON-INFERIOR" if family.rejected[i] else "NOT NON-INFERIOR"
    return {
        "procedure": plan["procedure"],
        "secondary": plan["secondary"],
        "alpha": alpha,
        "one_sided_alpha": alpha / 2.0,
        "gate_open": gate_open,
        "strata_met": strata_met,
        "statement": (
            f"Per candidate, family-wise error rate {alpha:g} (each non-inferiority bound a "
            f"one-sided test at {alpha / 2:g}). Primary comparisons ({len(primary)}): "
            f"{_DESCRIBE[plan['procedure']]}, pooled and in every judged stratum. Secondary "
            f"comparisons ({len(secondary)}): tested only if every primary comparison succeeds, "
            f"by {_DESCRIBE[plan['secondary']]}."
        ),
    }


_DESCRIBE = {
    "intersection-union": "every comparison must succeed (intersection-union test), each at "
    "the full level",
    "holm": "Holm's step-down procedure",
    "bonferroni": "Bonferroni's procedure",
    "fixed-sequence": "a fixed sequence in the pre-specified order",
}


def _all_met(rows: list[dict[str, Any]]) -> bool:
    return all(r["noninferior"] is True for r in rows)


def _family(rows: list[dict[str, Any]], procedure: str, alpha: float) -> Any:
    if not rows:
        return None
    p = [1.0 if not math.isfinite(r["p_value"]) else r["p_value"] for r in rows]
    return multiplicity_adjust(
        p,
        procedure=("none" if procedure == "intersection-union" else procedure),
        alpha=alpha / 2.0,
        labels=[r["endpoint"] for r in rows],
    )


def _candidate_verdict(
    rows: list[dict[str, Any]], protocol: Protocol, version: str, multiplicity: dict[str, Any]
) -> dict[str, Any]:
    """PASS when every primary comparison is non-inferior pooled and in every judged stratum."""
    pooled = [r for r in rows if r["dimension"] == "all"]
    failing = [
        {"endpoint": r["endpoint"], "dimension": r["dimension"], "stratum": r["stratum"]}
        for r in rows
        if _fails(r)
    ]
    by = protocol.comparison["by"]
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
        "conclusion": _conclusion(rows, pooled, protocol, version, verdict, multiplicity),
    }


def _conclusion(
    rows: list[dict[str, Any]],
    pooled: list[dict[str, Any]],
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
    judged_dimensions = set(protocol.comparison["by"])
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
    counted = row["primary"] if row["dimension"] == "all" else row["judged"]
    return counted and row["noninferior"] is not True


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.2f}".replace("-", "\u2212")
