"""Performance on the audited subset: late labels joined to their predictions.

Labels arrive one to three months after acquisition. Every run joins every label that has
arrived by ``as_of`` to its study's prediction and judges each month of ACQUISITION, so a label
that comes late updates the month its study was read in. Per month, segment and pooled: bias and
limits of agreement (:func:`validation.stats.agreement.bland_altman`, exact intervals),
sensitivity and specificity (Wilson intervals), each against the protocol's goal.

Intervals are shown at the protocol's confidence level; ``goal_missed`` lists the goals whose
interval lies entirely on the wrong side. The alarm asks more: the interval at the per-test
level of the false-alarm plan (``1 - alpha / (m * horizon)``) must lie entirely on the wrong
side, so that the many monthly looks keep the stated family-wise rate.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from validation.stats.agreement import bland_altman
from validation.stats.proportions import wilson_interval
from validation.surveillance.baseline import POOLED
from validation.surveillance.signals import FalseAlarmPlan, months_between, signal_row

MIN_PAIRS = 3  # fewer labelled studies: bias and limits of agreement are not estimated
#: Columns of a late-label file ``<YYYY-MM>.csv`` (one per arrival month): an audited study's
#: reference reading, when it was acquired and when its label arrived.
LABEL_COLUMNS = (
    "study_instance_uid",
    "site",
    "vendor",
    "acquired",
    "arrived",
    "reference",
    "label",
)


def label_table(labels: pd.DataFrame, rows: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Labels that arrived by ``as_of`` joined to their predicted study (first instance).

    Columns: month (of acquisition: the batch the study came in), site, vendor, arrived, lag
    (months from acquisition to arrival), measurement (predicted), positive (predicted), reference,
    label (reference label); plus ``matched`` False for labels of studies not in any batch.
    """
    columns = ["study_instance_uid", "acquired", "arrived", "reference", "label"]
    arrived = labels.reindex(columns=columns).copy()
    arrived["arrived"] = arrived["arrived"].astype(str)
    arrived = arrived[arrived["arrived"] <= as_of]
    # a study labelled twice keeps its latest label; the order is canonical (input order free)
    arrived = arrived.sort_values(["arrived", "study_instance_uid"], kind="stable")
    arrived = arrived.drop_duplicates("study_instance_uid", keep="last")
    studies = (
        rows[rows["predicted"]]
        .drop_duplicates("study_instance_uid", keep="first")
        .set_index("study_instance_uid")[["month", "site", "vendor", "measurement", "positive"]]
    )
    joined = arrived.join(studies, on="study_instance_uid", how="left")
    joined["matched"] = joined["month"].notna()
    acquired = joined["acquired"].fillna("").astype(str)
    acquired = acquired.where(acquired != "", joined["month"].fillna("").astype(str))
    joined["lag"] = _month_index(joined["arrived"]) - _month_index(acquired)
    joined["reference"] = pd.to_numeric(joined["reference"], errors="coerce")
    joined["label"] = pd.to_numeric(joined["label"], errors="coerce")
    return joined.reset_index(drop=True)


def _month_index(values: pd.Series) -> np.ndarray:
    """Months since year 0 of ``YYYY-MM`` texts; NaN for anything else."""
    text = values.fillna("").astype(str)
    valid = text.str.fullmatch(r"\d{4}-\d{2}").to_numpy(bool)
    index = np.full(len(text), np.nan)
    chosen = text[valid]
    index[valid] = chosen.str[:4].astype(int) * 12 + chosen.str[5:7].astype(int)
    return index


def performance_signals(
    labelled: pd.DataFrame,
    months: list[str],
    baseline_segments: dict[tuple[str, str], dict],
    goal_list: list[dict],
    plan: FalseAlarmPlan,
    *,
    loa_multiplier: float = 1.96,
) -> tuple[list[dict], list[dict]]:
    """Bias, limits of agreement, sensitivity and specificity on the audited subset.

    A goal the segment's validation estimate already missed (:func:`known_at_release`) is
    still judged and shown every month, but it does not raise an alarm: surveillance looks for
    change, and that shortfall was known when the model was released (the premarket report
    states it). A deterioration of such a segment shows in the audited-bias change signal.
    """
    matched = labelled[labelled["matched"] & labelled["reference"].notna()]
    groups = {k: g for k, g in matched.groupby(["month", "site", "vendor"], sort=False)}
    pooled = {m: g for m, g in matched.groupby("month", sort=False)}
    records, signal_rows = [], []
    for (site, vendor), segment in baseline_segments.items():
        known = known_at_release(segment, goal_list, loa_multiplier=loa_multiplier)
        for month in months:
            frame = pooled.get(month) if site == POOLED else groups.get((month, site, vendor))
            record, rows = _performance(month, site, vendor, frame, goal_list, plan, known)
            records.append(record)
            signal_rows += rows
    return records, signal_rows


def known_at_release(
    segment: dict[str, Any], goal_list: list[dict], *, loa_multiplier: float = 1.96
) -> dict[str, float]:
    """Goals (id -> validation estimate) the segment's validation study already missed.

    From the baseline's ``agreement`` (mean ``b`` and SD ``s`` of model minus reference): bias
    ``b``, limits of agreement ``b -/+ loa_multiplier * s``, and the recorded sensitivity and
    specificity of the finding's call (point estimates, as the premarket report shows them).

    Examples
    --------
    >>> goals = [{"id": "bias", "metric": "bias", "goal": {"lower": -1.0, "upper": 1.0}}]
    >>> known_at_release({"agreement": {"n": 50, "bias": 1.4, "sd": 0.8}}, goals)
    {'bias': 1.4}
    >>> known_at_release({"agreement": {"n": 50, "bias": 0.1, "sd": 0.8}}, goals)
    {}
    """
    agreement = segment.get("agreement") or {}
    b, sd = agreement.get("bias"), agreement.get("sd")
    estimates = {m: agreement.get(m) for m in ("sensitivity", "specificity")}
    if b is not None and sd is not None:
        estimates |= {
            "bias": b,
            "loa_low": b - loa_multiplier * sd,
            "loa_high": b + loa_multiplier * sd,
        }
    known = {}
    for goal in goal_list:
        value = estimates.get(goal["metric"])
        bounds = goal["goal"]
        if value is None:
            continue
        lower, upper = bounds.get("lower"), bounds.get("upper")
        if (lower is not None and value < lower) or (upper is not None and value > upper):
            known[goal["id"]] = float(value)
    return known


def _metrics(frame: pd.DataFrame | None, confidence: float) -> dict[str, tuple[float, ...]]:
    """Estimate and interval of each metric at ``confidence`` (NaN when undefined)."""
    nan3 = (math.nan, math.nan, math.nan)
    out = {m: nan3 for m in ("bias", "loa_low", "loa_high", "sensitivity", "specificity")}
    if frame is None or frame.empty:
        return out
    pred = frame["measurement"].to_numpy(float)
    ref = frame["reference"].to_numpy(float)
    if pred.shape[0] >= MIN_PAIRS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ba = bland_altman(pred, ref, confidence=confidence)
        out["bias"] = (ba.bias, ba.bias_ci.low, ba.bias_ci.high)
        out["loa_low"] = (ba.loa_low, ba.loa_low_ci.low, ba.loa_low_ci.high)
        out["loa_high"] = (ba.loa_high, ba.loa_high_ci.low, ba.loa_high_ci.high)
    elif pred.shape[0] > 0:
        out["bias"] = (float(np.mean(pred - ref)), math.nan, math.nan)
    present = frame["label"].to_numpy(float) == 1
    positive = frame["positive"].to_numpy(bool)
    for metric, truth, call in (
        ("sensitivity", present, positive),
        ("specificity", ~present, ~positive),
    ):
        n = int(truth.sum())
        if n:
            hits = int((truth & call).sum())
            ci = wilson_interval(hits, n, confidence=confidence)
            out[metric] = (hits / n, ci.low, ci.high)
    return out


def _missed(goal: dict[str, float], low: float, high: float) -> bool:
    """The whole interval lies on the wrong side of the goal."""
    lower, upper = goal.get("lower"), goal.get("upper")
    return bool(
        (lower is not None and np.isfinite(high) and high < lower)
        or (upper is not None and np.isfinite(low) and low > upper)
    )


def _performance(
    month: str,
    site: str,
    vendor: str,
    frame: pd.DataFrame | None,
    goal_list: list[dict],
    plan: FalseAlarmPlan,
    known: dict[str, float] | None = None,
) -> tuple[dict, list[dict]]:
    confidence = plan.settings.confidence
    known = known or {}
    shown = _metrics(frame, confidence)
    missed = [g["id"] for g in goal_list if _missed(g["goal"], *shown[g["metric"]][1:])]
    strict = _metrics(frame, 1.0 - plan.per_test_alpha) if missed else {}
    beyond = [
        g["id"]
        for g in goal_list
        if g["id"] in missed and _missed(g["goal"], *strict[g["metric"]][1:])
    ]
    alarmed = [g for g in beyond if g not in known]
    n = 0 if frame is None else len(frame)
    record = {
        "month": month,
        "site": site,
        "vendor": vendor,
        "labelled": n,
        "confidence": confidence,
        "bias": shown["bias"][0],
        "bias_ci": list(shown["bias"][1:]),
        "loa_low": shown["loa_low"][0],
        "loa_low_ci": list(shown["loa_low"][1:]),
        "loa_high": shown["loa_high"][0],
        "loa_high_ci": list(shown["loa_high"][1:]),
        "sensitivity": shown["sensitivity"][0],
        "sensitivity_ci": list(shown["sensitivity"][1:]),
        "specificity": shown["specificity"][0],
        "specificity_ci": list(shown["specificity"][1:]),
        "goal_missed": missed,
        "known_at_release": sorted(g for g in missed if g in known),
        "alarm_metrics": alarmed,
        "alarm_confidence": 1.0 - plan.per_test_alpha,
        "alarm": bool(alarmed),
    }
    rows = []
    for goal in goal_list:
        estimate, low, high = shown[goal["metric"]]
        bounds = goal["goal"]
        side = (
            "upper"
            if "lower" not in bounds
            or ("upper" in bounds and np.isfinite(estimate) and estimate > bounds["upper"])
            else "lower"
        )
        detail = (
            f"{goal['metric']} {estimate:.3g} ({confidence:.0%} CI {low:.3g} to {high:.3g}); "
            f"goal {_goal_text(bounds)}"
        )
        if goal["id"] in missed:
            detail += "; goal missed at the shown level"
            detail += (
                f" and at the per-test level ({1.0 - plan.per_test_alpha:.5f})"
                if goal["id"] in beyond
                else f" but not at the per-test level ({1.0 - plan.per_test_alpha:.5f})"
            )
            if goal["id"] in known:
                detail += (
                    f"; missed already in validation (estimate {known[goal['id']]:.3g}): "
                    "known at release, not a new alarm"
                )
        rows.append(
            signal_row(
                month,
                site,
                vendor,
                "performance",
                goal["id"],
                estimate,
                bounds[side],
                goal["id"] in alarmed,
                n,
                detail,
            )
        )
    return record, rows


def _goal_text(bounds: dict[str, float]) -> str:
    parts = []
    if "lower" in bounds:
        parts.append(f">= {bounds['lower']:g}")
    if "upper" in bounds:
        parts.append(f"<= {bounds['upper']:g}")
    return " and ".join(parts)


def label_summary(labelled: pd.DataFrame, months: list[str], as_of: str) -> dict[str, Any]:
    """Labels received by ``as_of``, by lag, and the months whose labels may still come."""
    lags = labelled["lag"].dropna().astype(int)
    max_lag = int(lags.max()) if not lags.empty else 3
    by_lag = {str(k): int(v) for k, v in lags.value_counts().sort_index().items()}
    pending = [m for m in months if months_between(m, as_of) < max_lag]
    return {
        "received": len(labelled),
        "matched": int(labelled["matched"].sum()),
        "unmatched": int((~labelled["matched"]).sum()),
        "by_lag_months": by_lag,
        "max_lag_months": max_lag,
        "pending_months": pending,
    }
