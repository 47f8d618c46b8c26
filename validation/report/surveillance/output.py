"""The output-drift section: each segment's CUSUM of the monthly mean and EWMA of the positive
rate against its baseline, and their control charts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from validation.numbers import as_float
from validation.report.figures.surveillance.charts import (
    MEAN,
    RATE,
    control_chart_figure,
    control_charts,
)
from validation.report.outputs import finding_context, measure_context, outputs_of
from validation.report.segments import Key, is_pooled, segment_key, segment_label
from validation.report.surveillance.alerts import onsets


def _last_with_data(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The last month with studies."""
    return next((r for r in reversed(rows) if as_float(r.get("n")) > 0), None)


def _largest(values: Sequence[float]) -> float | None:
    return max([v for v in values if math.isfinite(v)], default=None)


def _baselines(data: Mapping[str, Any]) -> tuple[dict, dict[str, dict]]:
    """The released version's baseline by segment, and each version's."""
    base = {segment_key(s): s for s in data["baseline"]["segments"]}
    by_version = {
        str(v["version"]): {segment_key(s): s for s in v["segments"]}
        for v in data["baseline"]["versions"]
    }
    return base, by_version


def _row(
    key: Key, seg: Mapping[str, Any], base: Mapping[Key, Any], by_version: Mapping[str, Any]
) -> dict[str, Any]:
    mean_rows = list(seg["series"][MEAN] or [])
    rate_rows = list(seg["series"][RATE] or [])
    last_mean = _last_with_data(mean_rows)
    last_rate = _last_with_data(rate_rows)
    # after a version change the segment is compared with that version's baseline
    version = str((mean_rows[-1] if mean_rows else {}).get("model_version") or "")
    b = by_version.get(version, base).get(key, base.get(key, {}))
    return {
        "segment": segment_label(*key),
        "pooled": is_pooled(key),
        "model_versions": [str(v) for v in seg["model_versions"]],
        "baseline_mean": b.get("mean_measurement"),
        "last_month": str(last_mean["month"]) if last_mean else None,
        "last_mean": last_mean.get("mean") if last_mean else None,
        "max_upper": _largest([as_float(r.get("upper")) for r in mean_rows]),
        "max_lower": _largest([abs(as_float(r.get("lower"))) for r in mean_rows]),
        "mean_alarms": [str(r["month"]) for r in mean_rows if r.get("alarm")],
        "baseline_rate": b.get("positive_rate"),
        "last_rate": last_rate.get("rate") if last_rate else None,
        "max_ewma": _largest([abs(as_float(r.get("ewma"))) for r in rate_rows]),
        "rate_alarms": [str(r["month"]) for r in rate_rows if r.get("alarm")],
    }


def _charts(
    segments: Sequence[Mapping[str, Any]],
    months: Sequence[str],
    signal: str,
    chart: Mapping[str, Any],
    alarmed: Mapping[Key, str],
    *,
    threshold: float = math.nan,
    outputs: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """One stream's control charts (``chart``: its ``false_alarm.charts`` parameters), with the
    ``alarmed`` segments marked from their onsets; ``outputs``: the protocol's, which name the
    streams."""
    h = as_float(chart["h"]) if signal == MEAN else math.nan  # the CUSUM's limit
    fig = control_chart_figure(segments, months, signal=signal, onsets=alarmed, h=h)
    return control_charts(
        fig,
        signal=signal,
        chart=chart,
        onsets=alarmed,
        threshold=threshold,
        measure=measure_context(outputs),
        finding=finding_context(outputs),
    )


def output(
    data: Mapping[str, Any],
    months: Sequence[str],
    keys: Sequence[Key],
    alerts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The output-drift section: per segment the baseline against the latest month, the largest
    chart values and the months in alarm; the chart parameters; the CUSUM and EWMA charts with
    the alarmed segments of ``alerts`` marked."""
    charts = data["false_alarm"]["charts"]
    cusum, ewma = charts["cusum"], charts["ewma"]
    by = {segment_key(s): s for s in data["segments"]}
    base, by_version = _baselines(data)
    segs = [by[k] for k in keys]
    return {
        "rows": [_row(key, by[key], base, by_version) for key in keys],
        "cusum": cusum,
        "ewma": ewma,
        "cusum_figure": _charts(
            segs, months, MEAN, cusum, onsets(alerts, MEAN), outputs=outputs_of(data)
        ),
        "ewma_figure": _charts(
            segs,
            months,
            RATE,
            ewma,
            onsets(alerts, RATE),
            threshold=as_float(data["protocol"]["threshold"]),
            outputs=outputs_of(data),
        ),
    }
