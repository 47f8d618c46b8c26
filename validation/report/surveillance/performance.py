"""The performance section: the audited subset by month of acquisition against the premarket
goals, the labels received so far, and the chart of the audited bias."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from validation.exceptions import ReportError
from validation.numbers import as_float
from validation.report.fields import pair
from validation.report.figures.surveillance.performance import (
    performance_chart,
    performance_figure,
)
from validation.report.labels import metric_unit
from validation.report.outputs import measure_context, outputs_of
from validation.report.segments import Key, is_pooled, segment_key, segment_label, segment_order

#: The metrics of the audited subset judged against the premarket goals, in table order.
MONITORED: tuple[str, ...] = ("bias", "loa_low", "loa_high", "sensitivity", "specificity")
#: The confidence level of the performance intervals when the rows record none.
DEFAULT_CONFIDENCE = 0.95


def goals(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The premarket goals shown, and ``{metric: [metric, goal ids]}`` to read ``goal_missed``."""
    shown = []
    names: dict[str, list[str]] = {}
    measure = measure_context(outputs_of(data))
    for g in data["protocol"]["goals"]:
        metric = str(g["metric"])
        names.setdefault(metric, [metric]).append(str(g["id"]))
        goal = g["goal"] or {}
        monitored = metric in MONITORED
        shown.append(
            {
                "id": str(g["id"]),
                "metric": metric,
                "label": str(g["label"]),
                "lower": goal.get("lower"),
                "upper": goal.get("upper"),
                "unit": metric_unit(metric, measure) if monitored else "num",
                "monitored": monitored,
            }
        )
    return shown, names


def _row(
    r: Mapping[str, Any], names: Mapping[str, Sequence[str]], labels: Mapping[str, str]
) -> dict[str, Any]:
    key = segment_key(r)
    missed = {str(x) for x in r["goal_missed"] or []}
    return {
        "month": str(r["month"]),
        "site": key[0],
        "vendor": key[1],
        "segment": segment_label(*key),
        "pooled": is_pooled(key),
        "labelled": r["labelled"],
        **{m: r[m] for m in MONITORED},
        **{f"{m}_ci": pair(r[f"{m}_ci"]) for m in MONITORED},
        "missed": {m: bool(missed & set(names.get(m, [m]))) for m in MONITORED},
        "missed_labels": [labels.get(x, x) for x in sorted(missed)],
        "alarm": bool(r["alarm"]),
        "known": bool(r["known_at_release"]),
    }


def _level(rows: Sequence[Mapping[str, Any]], key: str, default: float) -> float:
    """The confidence level the engine recorded on its performance rows (``default`` if none).

    Raises
    ------
    ReportError
        If the rows record different levels.
    """
    levels = {as_float(r.get(key)) for r in rows if math.isfinite(as_float(r.get(key)))}
    if len(levels) > 1:
        raise ReportError(f"surveillance.json: performance rows mix {key} levels {sorted(levels)}")
    return levels.pop() if levels else default


def performance(
    data: Mapping[str, Any],
    months: Sequence[str],
    keys: Sequence[Key],
    onsets: Mapping[Key, str],
) -> dict[str, Any]:
    """The performance section: the goals, the rows (pooled, missing a goal, every labelled
    segment-month, all), the confidence levels, the labels received and the bias chart with
    the segments of ``onsets`` marked as alarmed."""
    shown, names = goals(data)
    labels = {g["id"]: g["label"] for g in shown} | {g["metric"]: g["label"] for g in shown}
    rows = [_row(r, names, labels) for r in data["performance"]]
    confidence = _level(data["performance"], "confidence", DEFAULT_CONFIDENCE)
    alarm_confidence = _level(
        data["performance"],
        "alarm_confidence",
        as_float((data["false_alarm"].get("performance") or {}).get("alarm_confidence")),
    )
    rank = {k: i for i, k in enumerate(keys)}
    rows.sort(key=lambda r: (rank.get((r["site"], r["vendor"]), len(rank)), r["month"]))
    lab = data["labels"]
    lags = sorted((int(k), v) for k, v in (lab["by_lag_months"] or {}).items())
    pending = [str(m) for m in lab["pending_months"] or []]
    measure = measure_context(outputs_of(data))
    bias_goal = next(
        ({"lower": g["lower"], "upper": g["upper"]} for g in shown if g["metric"] == "bias"), {}
    )
    return {
        "goals": shown,
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
            "pending_months": pending,
        },
        "figure": performance_chart(
            performance_figure(
                data["performance"],
                months,
                keys=segment_order([*keys, *((r["site"], r["vendor"]) for r in rows)]),
                goal=bias_goal,
                pending=pending,
                onsets=onsets,
                measure=measure,
            ),
            onsets=onsets,
            measure=measure,
            confidence=confidence,
        ),
    }
