"""Benefit and risk in plain numbers: expected outcomes per 1,000 patients.

Sensitivity and specificity are hard to weigh; "of 1,000 patients like those in the study,
so many have the finding; the device finds so many of them, misses so many, and falsely flags
so many of those without it" is not (natural frequencies, Gigerenzer et al. 2007). This module turns
the study's pooled classification and agreement results (the ``classification`` and
``agreement`` blocks of ``results.json``) into such expected counts, with ranges from the
confidence bounds, and states the measurement error as the share of patients whose device
measurement falls within the limits of agreement.

It is arithmetic on estimates the analysis already made: no new statistic is estimated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from validation.numbers import as_float

_NAN = math.nan


def _triple(block: Mapping[str, Any], key: str) -> tuple[float, float, float]:
    item = block.get(key)
    if not isinstance(item, Mapping):
        return _NAN, _NAN, _NAN
    return (
        as_float(item.get("estimate")),
        as_float(item.get("ci_low")),
        as_float(item.get("ci_high")),
    )


def _pair(value: Any) -> tuple[float, float]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return as_float(value[0]), as_float(value[1])
    return _NAN, _NAN


def _count(group: float, rate: float, low: float, high: float) -> dict[str, float]:
    """Expected count ``group * rate`` with the range from the rate's confidence bounds."""
    return {"estimate": group * rate, "low": group * low, "high": group * high}


def _classification(classification: Mapping[str, Any], per: int) -> dict[str, Any]:
    prevalence, prev_low, prev_high = _triple(classification, "prevalence")
    sens, sens_low, sens_high = _triple(classification, "sensitivity")
    spec, spec_low, spec_high = _triple(classification, "specificity")
    estimable = not any(math.isnan(x) for x in (prevalence, sens, spec))
    with_condition = per * prevalence
    without_condition = per * (1.0 - prevalence)
    true_positive = _count(with_condition, sens, sens_low, sens_high)
    false_negative = _count(with_condition, 1.0 - sens, 1.0 - sens_high, 1.0 - sens_low)
    true_negative = _count(without_condition, spec, spec_low, spec_high)
    false_positive = _count(without_condition, 1.0 - spec, 1.0 - spec_high, 1.0 - spec_low)
    return {
        "estimable": estimable,
        "per": per,
        "n": classification.get("n"),
        "prevalence": prevalence,
        "prevalence_ci": [prev_low, prev_high],
        "with_condition": with_condition,
        "without_condition": without_condition,
        "true_positive": true_positive,
        "false_negative": false_negative,
        "true_negative": true_negative,
        "false_positive": false_positive,
        "flagged": true_positive["estimate"] + false_positive["estimate"],
        "flagged_with_condition": true_positive["estimate"],
    }


def _measurement(agreement: Mapping[str, Any]) -> dict[str, Any]:
    bias = as_float(agreement.get("bias"))
    loa_low, loa_high = as_float(agreement.get("loa_low")), as_float(agreement.get("loa_high"))
    low_ci, high_ci = _pair(agreement.get("loa_low_ci")), _pair(agreement.get("loa_high_ci"))
    bias_ci = _pair(agreement.get("bias_ci"))
    multiplier = as_float(agreement.get("loa_multiplier", 1.96))
    # share of a normal distribution within bias ± k SD: 2 Φ(k) − 1 = erf(k / √2)
    coverage = math.erf(multiplier / math.sqrt(2.0)) if not math.isnan(multiplier) else _NAN
    estimable = not any(math.isnan(x) for x in (bias, loa_low, loa_high))
    direction = "none"
    if not any(math.isnan(x) for x in bias_ci):
        direction = "over" if bias_ci[0] > 0 else "under" if bias_ci[1] < 0 else "none"
    return {
        "estimable": estimable,
        "n": agreement.get("n"),
        "coverage": coverage,
        "per": 100,
        "within": 100 * coverage,
        "loa_low": loa_low,
        "loa_high": loa_high,
        # the widest limits still compatible with the data: the outer confidence bounds
        "loa_low_outer": low_ci[0],
        "loa_high_outer": high_ci[1],
        "bias": bias,
        "bias_ci": list(bias_ci),
        "direction": direction,
        "mae": as_float(agreement.get("mae")),
    }


def benefit_risk(
    classification: Mapping[str, Any] | None,
    agreement: Mapping[str, Any] | None,
    *,
    per: int = 1000,
) -> dict[str, Any]:
    """Expected outcomes per ``per`` patients and the measurement error in plain terms.

    Parameters
    ----------
    classification : mapping or None
        The ``classification`` block of ``results.json``: ``n`` and ``prevalence``,
        ``sensitivity``, ``specificity``, each ``{"estimate", "ci_low", "ci_high"}``. The
        not-estimable form ``{"n": k}`` gives NaN counts and ``estimable: False``; None (a
        protocol without a finding) gives a None ``classification``.
    agreement : mapping or None
        The ``agreement`` block: ``bias``, ``bias_ci``, ``loa_low``, ``loa_high``,
        ``loa_low_ci``, ``loa_high_ci``, ``loa_multiplier``, ``mae``; None (a protocol
        without a measurement) gives a None ``measurement``.
    per : int, default 1000
        The size of the notional group of patients.

    Returns
    -------
    dict
        ``classification``: at the study prevalence, the expected number of patients with
        and without the condition, and ``true_positive`` (found), ``false_negative`` (missed),
        ``true_negative``, ``false_positive`` (false alarms), each ``{"estimate", "low",
        "high"}``, plus ``flagged`` (true and false positives). ``measurement``: the share of
        patients whose device value lies within the limits of agreement (``coverage``, and
        ``within`` of ``per`` = 100), the limits, their outer confidence bounds, the bias with
        its interval and its ``direction`` ("over", "under" or "none" when the interval
        contains 0), and the MAE. NaN where the input lacks a value.

    Raises
    ------
    TypeError
        If ``classification`` or ``agreement`` is not a mapping, or ``per`` is not a positive
        integer.

    Notes
    -----
    The counts hold the prevalence at its study value and let only sensitivity and
    specificity vary over their confidence intervals: missed cases per 1,000 range from
    ``per * p * (1 - sens_high)`` to ``per * p * (1 - sens_low)``. At another prevalence the
    counts change in proportion; the sensitivity and specificity do not. The measurement
    statement assumes normally distributed differences, as the limits of agreement do
    (Bland & Altman 1986): a multiplier of 1.96 covers 95 of 100 patients.

    References
    ----------
    .. [1] Gigerenzer G, Gaissmaier W, Kurz-Milcke E, Schwartz LM, Woloshin S. Helping doctors
       and patients make sense of health statistics. Psychol Sci Public Interest.
       2007;8(2):53-96 (natural frequencies).
    .. [2] Bland JM, Altman DG. Statistical methods for assessing agreement between two
       methods of clinical measurement. Lancet. 1986;1(8476):307-310.

    Examples
    --------
    >>> cls = {"n": 200, "prevalence": {"estimate": 0.25, "ci_low": 0.2, "ci_high": 0.3},
    ...        "sensitivity": {"estimate": 0.9, "ci_low": 0.8, "ci_high": 0.95},
    ...        "specificity": {"estimate": 0.8, "ci_low": 0.7, "ci_high": 0.9}}
    >>> agr = {"n": 200, "bias": 0.4, "bias_ci": [0.3, 0.5], "loa_low": -1.6,
    ...        "loa_high": 2.4, "loa_low_ci": [-1.8, -1.4], "loa_high_ci": [2.2, 2.6],
    ...        "loa_multiplier": 1.96, "mae": 0.8}
    >>> out = benefit_risk(cls, agr)
    >>> [round(out["classification"]["false_negative"][k], 6) for k in ("estimate", "low", "high")]
    [25.0, 12.5, 50.0]
    >>> round(out["classification"]["false_positive"]["estimate"], 6)
    150.0
    >>> round(out["measurement"]["within"], 1), out["measurement"]["direction"]
    (95.0, 'over')
    """
    for name, block in (("classification", classification), ("agreement", agreement)):
        if block is not None and not isinstance(block, Mapping):
            raise TypeError(
                f"{name} must be a mapping (a results.json block); got {type(block).__name__}"
            )
    if isinstance(per, bool) or not isinstance(per, int) or per < 1:
        raise TypeError(f"per must be a positive integer; got {per!r}")
    return {
        "classification": None if classification is None else _classification(classification, per),
        "measurement": None if agreement is None else _measurement(agreement),
    }
