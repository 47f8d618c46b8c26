"""Method comparison beyond Bland-Altman, and the quality of the reference standard.

All numbers come from :mod:`validation.stats`; this module only chooses the columns and shapes
the ``results.json`` records.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

from validation.protocol import Protocol
from validation.stats import BlandAltman, Interval, bland_altman
from validation.stats.regression import MethodComparisonFit, deming, passing_bablok
from validation.stats.reliability import cohen_kappa, icc, lin_ccc

_ICC_FORMS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")


def limits_record(ba: BlandAltman) -> dict[str, Any]:
    """Bias, SD and limits of agreement with the limits' intervals, as ``results.json`` holds
    them (the model against the reference, and each pair of reference readers)."""
    return {
        "bias": ba.bias,
        "sd": ba.sd,
        "loa_low": ba.loa_low,
        "loa_high": ba.loa_high,
        "loa_low_ci": [ba.loa_low_ci.low, ba.loa_low_ci.high],
        "loa_high_ci": [ba.loa_high_ci.low, ba.loa_high_ci.high],
    }


def with_interval(name: str, estimate: float, ci: Interval) -> dict[str, Any]:
    """``{name: estimate, name_ci: [low, high]}``, an estimate as ``results.json`` holds it."""
    return {name: estimate, f"{name}_ci": [ci.low, ci.high]}


def _fit(fit: MethodComparisonFit) -> dict[str, Any]:
    return {
        **with_interval("intercept", fit.intercept, fit.intercept_ci),
        **with_interval("slope", fit.slope, fit.slope_ci),
        "ci_method": fit.ci_method,
        "n": fit.n,
    }


def _icc_table(ratings: pd.DataFrame, level: float) -> list[dict[str, Any]]:
    table = icc(ratings, confidence=level)
    rows = table.to_dict("index")
    return [
        {
            "form": form,
            "description": rows[form]["description"],
            **{
                key: float(rows[form][key])
                for key in ("estimate", "ci_low", "ci_high", "F", "p_value")
            },
        }
        for form in _ICC_FORMS
    ]


def method_comparison(studies: pd.DataFrame, protocol: Protocol) -> dict[str, Any]:
    """Deming and Passing-Bablok regression, Lin's CCC, ICC and Cohen's kappa, model vs reference.

    Deming's ``error_ratio`` (reference error variance over model error variance, as R mcr)
    is the protocol's ``analysis.deming_error_ratio`` (default 1). Below 3 studies the
    record holds only ``n``.
    """
    n = len(studies)
    if n < 3:
        return {"n": n}
    level = protocol.confidence
    x = studies["reference"].to_numpy(dtype=float)
    y = studies["measurement"].to_numpy(dtype=float)
    ratio = protocol.analysis.deming_error_ratio
    out: dict[str, Any] = {"n": n}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if protocol.measurement is None:
            out |= {"deming": None, "passing_bablok": None, "ccc": None, "icc": None}
        else:
            ccc = lin_ccc(x, y, confidence=level)
            pair = pd.DataFrame({"reference": x, "model": y})
            out["deming"] = {
                **_fit_or_reason(lambda: deming(x, y, error_ratio=ratio, confidence=level), n),
                "error_ratio": ratio,
            }
            out["passing_bablok"] = _fit_or_reason(
                lambda: passing_bablok(x, y, confidence=level), n
            )
            out["ccc"] = {
                "estimate": ccc.ccc,
                "ci_low": ccc.ci.low,
                "ci_high": ccc.ci.high,
                "precision": ccc.precision,
                "accuracy": ccc.accuracy,
            }
            out["icc"] = _icc_table(pair, level)
        if protocol.finding is None:
            out["kappa"] = None
        else:
            kappa = cohen_kappa(
                studies["label"].to_numpy(), studies["predicted"].to_numpy(), confidence=level
            )
            out["kappa"] = {
                "estimate": kappa.kappa,
                "ci_low": kappa.ci.low,
                "ci_high": kappa.ci.high,
                "observed_agreement": kappa.observed_agreement,
                "expected_agreement": kappa.expected_agreement,
            }
    return out


def _fit_or_reason(fit: Callable[[], MethodComparisonFit], n: int) -> dict[str, Any]:
    """The fitted line, or, when no line can be fitted (a model that reads every study the
    same, a constant reference), an undefined line with the reason: NOT EVALUABLE in the
    report, never a crash of the analysis."""
    try:
        return _fit(fit())
    except ValueError as exc:
        return {
            "intercept": math.nan,
            "intercept_ci": [math.nan, math.nan],
            "slope": math.nan,
            "slope_ci": [math.nan, math.nan],
            "ci_method": "not evaluable",
            "n": n,
            "reason": str(exc),
        }


def reference_quality(studies: pd.DataFrame, protocol: Protocol) -> dict[str, Any]:
    """Inter-reader ICC and pairwise limits of agreement of the reference-standard readers.

    Empty (``{"readers": []}``) when the protocol names fewer than two readers.
    """
    readers = list(protocol.reference_standard.readers)
    present = [r for r in readers if r in studies.columns]
    if len(present) < 2:
        return {"readers": present}
    ratings = studies[present].apply(pd.to_numeric, errors="coerce").dropna()
    level = protocol.confidence
    out: dict[str, Any] = {"readers": present, "n": len(ratings)}
    if len(ratings) < 3:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out["icc"] = _icc_table(ratings, level)
        pairs = []
        for a, b in itertools.combinations(present, 2):
            ba = bland_altman(
                ratings[a].to_numpy(),
                ratings[b].to_numpy(),
                confidence=level,
                ci_method=protocol.analysis.loa_ci,
            )
            pairs.append({"readers": [a, b], **limits_record(ba)})
    out["pairs"] = pairs
    # SD of a single reader's error, from the pairwise differences: var(a - b) = 2 s^2
    out["reader_sd"] = math.sqrt(sum(p["sd"] ** 2 for p in pairs) / (2 * len(pairs)))
    return out
