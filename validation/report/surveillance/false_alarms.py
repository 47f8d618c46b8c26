"""The stated false-alarm rate: the family-wise plan, its weighted split over the audited-bias
streams, the per-segment calibrated limits, and the caveat of the baseline's own error."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from validation.numbers import as_float
from validation.report.segments import segment_label

#: The fields of the baseline-error estimate the caveat states.
BASELINE_ERROR = ("p_output_mean", "p_output_positive_rate", "stated_bound_per_chart")


def _calibrated(fa: Mapping[str, Any]) -> dict[str, Any] | None:
    """Per-segment limits calibrated for the baseline's sampling error, if the engine used them."""
    calibration = fa["calibration"]
    rows = [
        {
            "segment": segment_label(r["site"], r["vendor"]),
            "n0": r["n0"],
            "h": r["h"],
            "L": r["L"],
        }
        for r in calibration["segments"]
    ]
    if fa["limits"] != "calibrated" or not rows:
        return None
    hs = [as_float(r["h"]) for r in rows]
    ls = [as_float(r["L"]) for r in rows]
    return {
        "rows": rows,
        "draws": calibration["draws"],
        "seed": calibration["seed"],
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
    w = as_float(fa.get("bias_weight"))
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


def _baseline_error(record: Any) -> dict[str, Any] | None:
    """The engine's estimate of the false-alarm rate allowing for the baseline's own error."""
    if not isinstance(record, Mapping):
        return None
    return {
        "method": record["method"],
        "histories": record["histories"],
        "baseline_n_median": record["baseline_n_median"],
        "monthly_n_median": record["monthly_n_median"],
        **{k: record[k] for k in BASELINE_ERROR},
    }


def false_alarm(data: Mapping[str, Any]) -> dict[str, Any]:
    """``false_alarm`` of ``surveillance.json`` with what the section derives from it: the rate
    as "one chance in", the baseline-error caveat, the calibrated limits and the weighted split."""
    fa = data["false_alarm"]
    alpha = as_float(fa["familywise_alpha"])
    return {
        **fa,
        "one_in": round(1.0 / alpha) if alpha > 0 else None,
        "baseline_error": _baseline_error(fa["baseline_error"]),
        "calibrated": _calibrated(fa),
        "weighted": _weighted(fa),
    }
