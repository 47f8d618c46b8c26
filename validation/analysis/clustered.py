"""Intervals that respect patients with several studies (clustered data).

When the protocol names a cluster column (``analysis.cluster``, e.g. ``patient_id``) and some
patient contributes more than one study, studies are not independent and the study-level
intervals are too narrow. The endpoint metrics are then estimated with patient-level methods:

- bias and limits of agreement: Bland & Altman (2007) with Zou's (2013) MOVER intervals
  (:func:`validation.stats.bland_altman_repeated`);
- MAE, RMSE, sensitivity, specificity: patient-level cluster bootstrap of the ratio of sums
  (:func:`validation.stats.cluster_bootstrap_ratio`), BCa or percentile as the protocol says;
- AUC: patient-level cluster bootstrap of the weighted Mann-Whitney AUC.

The bootstrap is seeded with the protocol's ``analysis.seed``, so re-running gives the same
intervals, and the same replicates serve every confidence level (the p-value inversion of
:mod:`validation.analysis.acceptance` relies on that).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from validation.protocol import Protocol
from validation.stats import bland_altman_repeated, cluster_bootstrap, cluster_bootstrap_ratio
from validation.stats.bootstrap import BootstrapResult
from validation.stats.roc import auc_leave_one_cluster_out, weighted_auc


@dataclass(frozen=True)
class ClusteredValue:
    """A metric with its patient-level interval."""

    estimate: float
    ci_low: float
    ci_high: float
    method: str


def cluster_ids(studies: pd.DataFrame, protocol: Protocol) -> np.ndarray | None:
    """The protocol's cluster labels when some cluster holds several studies; else None."""
    column = protocol.analysis.cluster
    if not column or column not in studies.columns or studies.empty:
        return None
    ids = studies[column].astype(str).to_numpy()
    return ids if np.unique(ids).shape[0] < ids.shape[0] else None


def _auc(y: np.ndarray, s: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted AUC, a vectorised bootstrap statistic (jackknifed in O(n log n))."""
    return weighted_auc(y, s, weights=weights)


_auc.leave_one_cluster_out = auc_leave_one_cluster_out  # type: ignore[attr-defined]


def _bootstrap(run: Callable[[], BootstrapResult], label: str) -> ClusteredValue:
    try:
        res = run()
    except ValueError as exc:  # too many undefined replicates in a small stratum
        return ClusteredValue(math.nan, math.nan, math.nan, f"undefined ({exc})")
    return ClusteredValue(float(res.estimate), float(res.ci_low), float(res.ci_high), label)


def clustered_values(
    studies: pd.DataFrame,
    protocol: Protocol,
    clusters: np.ndarray,
    *,
    confidence: float,
    groups: tuple[str, ...],
) -> dict[str, ClusteredValue]:
    """Patient-level estimates and intervals of the endpoint metrics (see the module doc)."""
    analysis = protocol.analysis
    plan = analysis.bootstrap
    options: dict[str, Any] = {
        "clusters": clusters,
        "seed": analysis.seed,
        "n_resamples": plan.n_resamples,
        "method": plan.method,
        "confidence": confidence,
    }
    n_patients = np.unique(clusters).shape[0]
    label = (
        f"patient cluster bootstrap, {plan.label} (B = {plan.n_resamples}, {n_patients} patients)"
    )
    out: dict[str, ClusteredValue] = {}
    if "measurement" in groups:
        diff = studies["measurement"].to_numpy(dtype=float) - studies["reference"].to_numpy(
            dtype=float
        )
        ones = np.ones_like(diff)
        rep = bland_altman_repeated(
            clusters,
            studies["measurement"].to_numpy(dtype=float),
            studies["reference"].to_numpy(dtype=float),
            confidence=confidence,
            loa_multiplier=analysis.loa_multiplier,
        )
        ba = f"Bland & Altman 2007, {n_patients} patients"
        out["bias"] = ClusteredValue(rep.bias, rep.bias_ci.low, rep.bias_ci.high, ba + ", t")
        out["loa_low"] = ClusteredValue(
            rep.loa_low, rep.loa_low_ci.low, rep.loa_low_ci.high, ba + ", MOVER"
        )
        out["loa_high"] = ClusteredValue(
            rep.loa_high, rep.loa_high_ci.low, rep.loa_high_ci.high, ba + ", MOVER"
        )
        out["mae"] = _bootstrap(
            lambda: cluster_bootstrap_ratio(np.abs(diff), ones, **options), label
        )
        mse = _bootstrap(lambda: cluster_bootstrap_ratio(diff**2, ones, **options), label)
        out["rmse"] = ClusteredValue(
            math.sqrt(mse.estimate) if mse.estimate == mse.estimate else math.nan,
            math.sqrt(mse.ci_low) if mse.ci_low == mse.ci_low else math.nan,
            math.sqrt(mse.ci_high) if mse.ci_high == mse.ci_high else math.nan,
            mse.method,
        )
    if "classification" in groups:
        ref = studies["label"].to_numpy() == 1
        pred = studies["predicted"].to_numpy() == 1
        out["sensitivity"] = _bootstrap(
            lambda: cluster_bootstrap_ratio(ref & pred, ref, **options), label
        )
        out["specificity"] = _bootstrap(
            lambda: cluster_bootstrap_ratio(~ref & ~pred, ~ref, **options), label
        )
        if 0 < ref.sum() < ref.size:
            score = studies["probability"].to_numpy(dtype=float)
            out["auc"] = _bootstrap(
                lambda: cluster_bootstrap((ref.astype(float), score), _auc, **options),
                label,
            )
    return out
