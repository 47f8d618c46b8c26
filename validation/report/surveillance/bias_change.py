"""The change of the audited bias since validation (a subsection of the performance section):
per segment its validation yardstick, the largest ``|T|`` so far, its limit and its alarm; the
calibrated limits; the simulated detection power; and the chart of T by month."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from validation.numbers import as_float
from validation.report.figures.surveillance.performance import (
    bias_change_chart,
    bias_change_figure,
)
from validation.report.outputs import measure_context, outputs_of
from validation.report.segments import Key, is_pooled, segment_key, segment_label, segment_order
from validation.report.text import load_text


def _month(row: Mapping[str, Any], position: Mapping[str, int]) -> dict[str, Any]:
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


def _power(power: Any) -> dict[str, Any] | None:
    """The simulated detection power of the audited-bias signal (null in the record when the
    run had no segment to describe)."""
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
            for r in sorted(rows, key=lambda r: as_float(r["shift_mm"]))
        ],
    }


def _segment(
    key: Key,
    calibration: Mapping[str, Any] | None,
    agreement: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """One segment's row: its validation bias and SD, the month of largest ``|T|``, its limit
    and its alarm months, or why it was not assessed."""
    reasons = load_text("surveillance")["not_assessed"]
    recs = sorted(records, key=lambda r: r["month"])
    finite = [r for r in recs if math.isfinite(as_float(r["t"]))]
    peak = max(finite, key=lambda r: abs(as_float(r["t"])), default=None)
    alarms = [r["month"] for r in recs if r["alarm"]]
    if calibration:
        why = None
    elif not agreement or agreement.get("bias") is None or not agreement.get("sd"):
        why = reasons["no_agreement"]
    else:
        why = reasons["no_labels"]
    bias0 = agreement.get("bias")
    return {
        "site": key[0],
        "vendor": key[1],
        "segment": segment_label(*key),
        "pooled": is_pooled(key),
        "assessed": calibration is not None,
        "why": why,
        "n0": calibration["n0"] if calibration else agreement.get("n"),
        "bias0": bias0 if bias0 is not None else (peak or {}).get("baseline_bias"),
        "sd0": agreement.get("sd"),
        "per_month": calibration["audited_per_month"] if calibration else None,
        "peak": peak,
        "limit": calibration["limit"] if calibration else (peak or {}).get("limit"),
        "alarm_months": alarms,
        "first_alarm": alarms[0] if alarms else None,
    }


def _limit_row(key: Key, calibration: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "segment": segment_label(*key),
        "pooled": is_pooled(key),
        **{k: calibration[k] for k in ("n0", "audited_per_month", "limit", "draws", "seed")},
    }


def bias_change(
    data: Mapping[str, Any],
    months: Sequence[str],
    keys: Sequence[Key],
    pending: Sequence[str],
) -> dict[str, Any] | None:
    """The audited-bias change per segment: its yardstick, largest ``|T|``, limit and alarm.

    None when ``surveillance.json`` has no ``bias_change`` block (a run before the signal).
    """
    record = data.get("bias_change")
    if not isinstance(record, Mapping):
        return None
    position = {m: i for i, m in enumerate(months)}
    calibrations = {segment_key(c): c for c in record["segments"]}
    by: dict[Key, list[dict[str, Any]]] = {}
    for r in record["months"]:
        by.setdefault(segment_key(r), []).append(_month(r, position))
    agreement = {segment_key(s): s.get("agreement") or {} for s in data["baseline"]["segments"]}
    order = segment_order([*keys, *calibrations, *by])
    rows = [
        _segment(key, calibrations.get(key), agreement.get(key) or {}, by.get(key, []))
        for key in order
    ]
    limits = [
        _limit_row(k, c) for k, c in sorted(calibrations.items(), key=lambda kc: order.index(kc[0]))
    ]
    values = [as_float(c["limit"]) for c in limits if math.isfinite(as_float(c["limit"]))]
    min_shift = (data["false_alarm"].get("materiality") or {}).get("min_shift")
    limit_of = {k: as_float(c["limit"]) for k, c in calibrations.items()}
    alarmed = {(r["site"], r["vendor"]): r["first_alarm"] for r in rows if r["first_alarm"]}
    fig = bias_change_figure(
        record["months"], months, keys=order, limits=limit_of, pending=pending, onsets=alarmed
    )
    return {
        "alpha": record["alpha"],
        "windows": [int(w) for w in record["windows_months"]],
        "min_shift": min_shift,
        "rows": rows,
        "alarmed": [r for r in rows if r["first_alarm"]],
        "limits": limits,
        "limit_min": min(values) if values else None,
        "limit_max": max(values) if values else None,
        "limits_differ": bool(values) and round(min(values), 2) != round(max(values), 2),
        "power": _power(record["power"]),
        "records": by,
        "figure": bias_change_chart(
            fig,
            limits=limit_of,
            onsets=alarmed,
            min_shift=as_float(min_shift),
            measure=measure_context(outputs_of(data)),
        ),
    }
