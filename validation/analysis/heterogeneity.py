"""Heterogeneity across sites: random-effects pooling of per-site estimates.

A multi-site validation claims one performance for the device; that claim holds only if the
sites agree. Each site's bias, sensitivity and specificity is pooled by a random-effects model
(REML, as metafor's default), with tau², I², Cochran's Q and a leave-one-site-out check, and
the sites are flagged "not poolable" when they disagree beyond the protocol's thresholds.
Proportions are pooled on the logit scale (the usual choice for diagnostic accuracy; Reitsma
et al. 2005) and reported back on the proportion scale.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from validation.protocol import Protocol
from validation.stats.meta import leave_one_out, random_effects

_POOLED = ("bias", "sensitivity", "specificity")


def _site_bias(group: pd.DataFrame) -> tuple[float, float, int]:
    d = group["difference"].to_numpy(dtype=float)
    n = d.size
    if n < 2:
        return math.nan, math.nan, n
    return float(d.mean()), float(d.var(ddof=1) / n), n


def _site_logit(successes: int, n: int) -> tuple[float, float, int]:
    """Logit of a proportion and its variance; 0.5 is added to both cells at 0 or n."""
    if n == 0:
        return math.nan, math.nan, 0
    a, b = float(successes), float(n - successes)
    if successes in (0, n):
        a, b = a + 0.5, b + 0.5
    return math.log(a / b), 1.0 / a + 1.0 / b, n


def _per_site(studies: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = []
    for site, group in studies.groupby("site", sort=True):
        if metric == "bias":
            estimate, variance, n = _site_bias(group)
        else:
            positive = group["label"] == (1 if metric == "sensitivity" else 0)
            agree = group["predicted"] == group["label"]
            estimate, variance, n = _site_logit(int((positive & agree).sum()), int(positive.sum()))
        rows.append({"site": str(site), "estimate": estimate, "variance": variance, "n": n})
    return pd.DataFrame(rows)


def _back(value: float, metric: str) -> float:
    if metric == "bias" or not math.isfinite(value):
        return value
    return float(1.0 / (1.0 + math.exp(-value)))


def site_heterogeneity(studies: pd.DataFrame, protocol: Protocol) -> dict[str, Any]:
    """Random-effects pooling across sites of the bias, sensitivity and specificity.

    Returns a ``results.json`` record per metric: the per-site estimates, the pooled estimate
    with its interval and prediction interval, tau², I², Q with its p-value, the poolability
    flag with its reason, and the leave-one-site-out table. Metrics with fewer than two sites
    that have data are reported as not estimable.
    """
    plan = protocol.analysis.heterogeneity
    level = protocol.confidence
    out: dict[str, Any] = {
        "method": plan.method,
        "scale": {
            "bias": "" if protocol.measurement is None else protocol.measurement.unit,
            "sensitivity": "logit",
            "specificity": "logit",
        },
        "q_alpha": plan.q_alpha,
        "i2_threshold": plan.i2_threshold,
        "metrics": {},
    }
    for metric in _POOLED:
        sites = _per_site(studies, metric)
        usable = sites[np.isfinite(sites["estimate"]) & (sites["variance"] > 0)]
        record: dict[str, Any] = {
            "sites": [
                {
                    "site": r["site"],
                    "n": int(r["n"]),
                    "estimate": _back(float(r["estimate"]), metric),
                    "se": math.sqrt(r["variance"]) if r["variance"] == r["variance"] else math.nan,
                }
                for r in sites.to_dict("records")
            ]
        }
        if len(usable) < 2:
            record["estimable"] = False
            out["metrics"][metric] = record
            continue
        labels = usable["site"].tolist()
        y, v = usable["estimate"].to_numpy(), usable["variance"].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pool = random_effects(
                y,
                v,
                method=plan.method,
                confidence=level,
                labels=labels,
                q_alpha=plan.q_alpha,
                i2_threshold=plan.i2_threshold,
            )
            loo = (
                leave_one_out(y, v, labels=labels, method=plan.method, confidence=level)
                if len(usable) >= 3
                else pd.DataFrame()
            )
        record.update(
            estimable=True,
            k=pool.k,
            estimate=_back(pool.estimate, metric),
            ci_low=_back(pool.ci.low, metric),
            ci_high=_back(pool.ci.high, metric),
            prediction_low=_back(pool.prediction_interval.low, metric),
            prediction_high=_back(pool.prediction_interval.high, metric),
            tau2=pool.tau2,
            tau=pool.tau,
            i2=pool.i2,
            i2_ci=[pool.i2_ci.low, pool.i2_ci.high],
            q=pool.q,
            q_df=pool.q_df,
            q_p=pool.q_p,
            poolable=pool.poolable,
            poolability_reason=pool.poolability_reason,
            leave_one_out=[
                {
                    "omitted": str(r["omitted"]),
                    "estimate": _back(float(r["estimate"]), metric),
                    "ci_low": _back(float(r["ci_low"]), metric),
                    "ci_high": _back(float(r["ci_high"]), metric),
                    "tau2": float(r["tau2"]),
                    "i2": float(r["i2"]),
                }
                for _, r in loo.iterrows()
            ],
        )
        out["metrics"][metric] = record
    return out
