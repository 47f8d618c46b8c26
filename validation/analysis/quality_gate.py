"""Quality-gate analysis: what the device refused to read, and what that could cost.

The device rejects an image it cannot measure reliably (``status == "quality_rejected"``).
Such studies leave the primary analysis, which is then conditional on the device accepting the
image. A regulator asks two questions about that:

1. **Who is rejected?** The rejection rate overall and in every pre-specified subgroup (site,
   vendor, scanner, sex, age and BMI band, image quality), each with a confidence interval by
   the protocol's proportion method. A gate that rejects one vendor's images far more often
   than another's changes who the device serves.
2. **How bad could it be?** The worst-case analysis counts every rejected study with a
   reference as a classification failure: a rejected reference-positive study as a false
   negative, a rejected reference-negative one as a false positive. The worst-case
   sensitivity and specificity are estimated exactly as the primary ones
   (:func:`validation.analysis.endpoints.assess`: patient-level cluster bootstrap when
   patients contribute several studies, otherwise the protocol's proportion interval) and
   judged against the same goals on the same confidence bound.

A measurement cannot be imputed for a rejected study, so the measurement endpoints get no
worst case; instead the share of studies (with a reference) left without a device measurement
is stated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from validation.analysis.endpoints import assess
from validation.analysis.tables import require_columns
from validation.analysis.unblind import with_bands
from validation.protocol import Protocol
from validation.stats import proportion_interval
from validation.stats.proportions import ProportionMethod

#: Columns of the gated table (see :class:`validation.analysis.unblind.Unblinded`) used here.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "site",
    "vendor",
    "scanner_model",
    "status",
    "detail",
    "measurement",
    "probability",
    "reference",
    "label",
    "image_quality",
    "sex",
    "age",
    "bmi",
    "patient_id",
)
STATUSES = ("predicted", "quality_rejected")
_WORST_METRICS = ("sensitivity", "specificity")
#: Banded dimensions and the numeric column their bands cut.
_BAND_SOURCES = {"age_band": "age", "bmi_band": "bmi"}


def _check_gated(gated: Any) -> pd.DataFrame:
    """``gated`` as :func:`validation.analysis.unblind.unblind` makes it (``Unblinded.gated``)."""
    frame = require_columns(gated, REQUIRED_COLUMNS, "gated")
    unknown = sorted(set(frame["status"].astype(str)) - set(STATUSES))
    if unknown:
        raise ValueError(f"gated.status must be one of {list(STATUSES)}; got {unknown}")
    labels = pd.to_numeric(frame["label"], errors="coerce")
    bad = labels.notna() & ~labels.isin([0, 1])
    if bad.any():
        raise ValueError(
            f"gated.label must be 0, 1 or NaN (no reference); got "
            f"{sorted(labels[bad].unique().tolist())[:5]}"
        )
    return frame.reset_index(drop=True)


def _rate(rejected: int, n: int, *, confidence: float, method: ProportionMethod) -> dict[str, Any]:
    """Rejected of n with the protocol's interval; NaN when n is 0."""
    if n == 0:
        return {"n": 0, "rejected": 0, "rate": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    ci = proportion_interval(rejected, n, confidence=confidence, method=method)
    return {
        "n": int(n),
        "rejected": int(rejected),
        "rate": rejected / n,
        "ci_low": ci.low,
        "ci_high": ci.high,
    }


def _subgroups(
    frame: pd.DataFrame,
    rejected: pd.Series,
    protocol: Protocol,
    *,
    confidence: float,
    method: ProportionMethod,
) -> list[dict[str, Any]]:
    """Tidy rows: the rejection rate in every stratum of every pre-specified dimension."""
    min_n = protocol.analysis.min_stratum_n
    dimensions = [d for d in protocol.analysis.strata if d in frame.columns]
    rows = []
    for dimension in dimensions:
        labels = frame[dimension].astype(str).where(frame[dimension].notna(), "unknown")
        groups = labels.groupby(labels, sort=True).groups
        order = list(groups)
        source = _BAND_SOURCES.get(dimension)
        if source is not None:  # bands in numeric order, "unknown" last
            lowest = pd.to_numeric(frame[source], errors="coerce").groupby(labels).min()
            order = list(lowest.sort_values(na_position="last", kind="stable").index)
        for stratum in order:
            mask = groups[stratum]
            n = len(mask)
            k = int(rejected.loc[mask].sum())
            rows.append(
                {
                    "dimension": dimension,
                    "stratum": str(stratum),
                    **_rate(k, n, confidence=confidence, method=method),
                    "small": n < min_n,
                }
            )
    return rows


def _reasons(frame: pd.DataFrame, rejected: pd.Series) -> list[dict[str, Any]]:
    """Rejections grouped by the kind of failure (the text before the first colon)."""
    details = frame.loc[rejected, "detail"].fillna("").astype(str).str.strip()
    kinds = details.str.split(":", n=1).str[0].str.strip().replace("", "unspecified")
    out = []
    for kind, group in details.groupby(kinds, sort=False):
        out.append({"reason": str(kind), "n": len(group), "example": str(group.iloc[0])})
    return sorted(out, key=lambda r: (-r["n"], r["reason"]))


def _classification_frame(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Studies as :func:`assess` expects them (``label`` and ``predicted`` as 0/1)."""
    out = frame.copy()
    out["label"] = out["label"].astype(int)
    out["predicted"] = (out["probability"] >= threshold).astype(int)
    return out


def _worst_case(
    frame: pd.DataFrame, rejected: pd.Series, protocol: Protocol, *, confidence: float
) -> dict[str, Any]:
    """Primary and worst-case sensitivity and specificity, judged against their goals."""
    has_ref = frame["label"].notna()
    if protocol.finding is None:  # no call to count a reject against
        return {
            "rejected_reference_positive": 0,
            "rejected_reference_negative": 0,
            "rejected_without_reference": int(rejected.sum()),
            "equals_primary": True,
            "endpoints": [],
        }
    threshold = protocol.finding.threshold
    analysed = ~rejected & has_ref & frame["probability"].notna()
    if protocol.measurement is not None:  # the analysed set needs both outputs' references
        analysed &= frame["measurement"].notna() & frame["reference"].notna()
    primary = _classification_frame(frame[analysed], threshold)
    rejected_ref = frame[rejected & has_ref].copy()
    # a rejected study counts as the wrong answer: a positive as negative and vice versa
    rejected_ref["label"] = rejected_ref["label"].astype(int)
    rejected_ref["predicted"] = 1 - rejected_ref["label"]
    rejected_ref["probability"] = rejected_ref["predicted"].astype(float)
    worst = pd.concat([primary, rejected_ref], ignore_index=True)

    def metrics(studies: pd.DataFrame) -> dict[str, Any]:
        if studies.empty:
            return {}
        return assess(
            studies, protocol, confidence=confidence, groups=("classification",)
        ).metrics()

    primary_values, worst_values = metrics(primary), metrics(worst)
    positives = int((rejected_ref["label"] == 1).sum())
    negatives = int((rejected_ref["label"] == 0).sum())
    rows = []
    for endpoint in protocol.endpoints:
        if endpoint.metric not in _WORST_METRICS:
            continue
        row: dict[str, Any] = {
            "id": endpoint.id,
            "label": endpoint.label,
            "metric": endpoint.metric,
            "primary_endpoint": endpoint.primary,
            "goal": endpoint.goal.to_dict(),
            "goal_text": endpoint.goal.describe(),
            "added_failures": positives if endpoint.metric == "sensitivity" else negatives,
        }
        for prefix, values in (("primary", primary_values), ("worst", worst_values)):
            value = values.get(endpoint.metric)
            if value is None:
                row.update(
                    {
                        f"{prefix}_n": 0,
                        f"{prefix}_estimate": math.nan,
                        f"{prefix}_ci_low": math.nan,
                        f"{prefix}_ci_high": math.nan,
                        f"{prefix}_goal_met": None,
                    }
                )
                continue
            row.update(
                {
                    f"{prefix}_n": int(value.n),
                    f"{prefix}_estimate": float(value.estimate),
                    f"{prefix}_ci_low": float(value.ci_low),
                    f"{prefix}_ci_high": float(value.ci_high),
                    f"{prefix}_goal_met": endpoint.goal.met(value.ci_low, value.ci_high),
                }
            )
            row["method"] = value.method
        row.setdefault("method", "undefined (no study)")
        rows.append(row)
    return {
        "rejected_reference_positive": positives,
        "rejected_reference_negative": negatives,
        "rejected_without_reference": int((rejected & ~has_ref).sum()),
        "equals_primary": positives + negatives == 0,
        "endpoints": rows,
    }


def _measurement(
    frame: pd.DataFrame, protocol: Protocol, *, confidence: float, method: ProportionMethod
) -> dict[str, Any]:
    """Share of studies with a reference measurement that have no device measurement."""
    with_ref = frame["reference"].notna()
    missing = with_ref & frame["measurement"].isna()
    rate = _rate(int(missing.sum()), int(with_ref.sum()), confidence=confidence, method=method)
    return {
        "with_reference": rate["n"],
        "without_measurement": rate["rejected"],
        "share": rate["rate"],
        "ci_low": rate["ci_low"],
        "ci_high": rate["ci_high"],
        "endpoints": [e.id for e in protocol.endpoints if e.kind == "measurement"],
    }


def quality_gate(gated: pd.DataFrame, protocol: Protocol) -> dict[str, Any]:
    """Rejection rates by subgroup and the worst-case accuracy counting rejects as failures.

    Parameters
    ----------
    gated : DataFrame
        One row per included study, predicted or rejected by the device: the ``gated`` table
        of :func:`validation.analysis.unblind.unblind`, with columns ``site, vendor,
        scanner_model, status ("predicted" or "quality_rejected"), detail, measurement,
        probability, reference, label (NaN without reference), image_quality,
        sex, age, bmi, patient_id``.
    protocol : Protocol
        The loaded protocol: its confidence level, proportion interval method, strata, age and
        BMI bands, minimum stratum size, the finding's threshold, cluster column, bootstrap plan and
        the
        sensitivity and specificity endpoints with their goals.

    Returns
    -------
    dict
        JSON-serialisable (NaN where undefined; :func:`validation.numbers.json_ready` turns it
        into null):

        - ``confidence``, ``method``: the interval level and proportion method used;
        - ``overall``: ``n`` (included studies), ``rejected``, ``rate``, ``ci_low``,
          ``ci_high``;
        - ``reasons``: ``reason`` (the kind of failure), ``n``, ``example`` (one detail);
        - ``subgroups``: tidy rows ``dimension, stratum, n, rejected, rate, ci_low, ci_high,
          small`` for every dimension in ``analysis.strata``;
        - ``worst_case``: counts of rejected reference-positive, reference-negative and
          unreferenced studies, ``equals_primary`` (no rejected study has a reference), and
          ``endpoints``: per sensitivity/specificity endpoint the primary and worst-case
          ``n, estimate, ci_low, ci_high, goal_met`` (prefixed ``primary_`` and ``worst_``),
          ``added_failures``, ``goal``, ``goal_text`` and ``method``;
        - ``measurement``: studies with a reference measurement (``with_reference``), those
          without a device measurement (``without_measurement``), their ``share`` with
          ``ci_low``/``ci_high``, and the ids of the measurement endpoints it concerns.

    Raises
    ------
    TypeError
        If ``gated`` is not a DataFrame.
    ValueError
        If ``gated`` lacks a column, has a status other than "predicted" or
        "quality_rejected", or a reference label other than 0, 1 or NaN.

    Notes
    -----
    The rejection-rate intervals use the protocol's ``analysis.proportion_ci`` method
    (:func:`validation.stats.proportion_interval`: Wilson by default) and treat studies as
    independent; they describe where the gate acts rather than test an endpoint. The
    worst-case sensitivity and specificity use exactly the machinery of the primary endpoints
    (:func:`validation.analysis.endpoints.assess`), so with no rejected study they reproduce
    the primary estimates and intervals. The worst case is a bound on the harm of rejection
    only for studies with a reference; rejected studies without one are counted but cannot
    be scored.

    References
    ----------
    .. [1] Bossuyt PM, Reitsma JB, Bruns DE, et al. STARD 2015: an updated list of essential
       items for reporting diagnostic accuracy studies. BMJ. 2015;351:h5527 (items 15, 16:
       indeterminate and missing index-test results).
    .. [2] U.S. Food and Drug Administration. Statistical Guidance on Reporting Results from
       Studies Evaluating Diagnostic Tests. 2007 (section on uninterpretable results).

    Examples
    --------
    >>> import pandas as pd
    >>> from validation.protocol import load_protocol
    >>> protocol = load_protocol("protocols/demo.yaml")
    >>> gated = pd.DataFrame({
    ...     "site": "s01", "vendor": "GE", "scanner_model": "X",
    ...     "status": ["predicted"] * 3 + ["quality_rejected"],
    ...     "detail": ["", "", "", "ValueError: no spacing"],
    ...     "measurement": [9.0, 12.5, 10.0, None], "probability": [0.1, 0.9, 0.2, None],
    ...     "reference": [9.2, 12.0, 11.5, 12.2], "label": [0, 1, 1, 1],
    ...     "image_quality": "good", "sex": "F", "age": 60, "bmi": 27.0,
    ...     "patient_id": ["P1", "P2", "P3", "P4"]})
    >>> qg = quality_gate(gated, protocol)
    >>> qg["overall"]["rejected"], qg["overall"]["n"]
    (1, 4)
    >>> ep = qg["worst_case"]["endpoints"][0]
    >>> ep["metric"], ep["primary_estimate"], ep["worst_estimate"]
    ('sensitivity', 0.5, 0.3333333333333333)
    """
    # the age and BMI bands exactly as the analysed study table defines them
    frame = with_bands(_check_gated(gated), protocol)
    frame["label"] = pd.to_numeric(frame["label"], errors="coerce")
    for column in ("measurement", "reference", "probability"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    confidence = protocol.confidence
    method: ProportionMethod = protocol.analysis.proportion_ci
    rejected = pd.Series(
        np.asarray(frame["status"].astype(str) == "quality_rejected"), index=frame.index
    )
    return {
        "confidence": confidence,
        "method": method,
        "overall": _rate(int(rejected.sum()), len(frame), confidence=confidence, method=method),
        "reasons": _reasons(frame, rejected),
        "subgroups": _subgroups(frame, rejected, protocol, confidence=confidence, method=method),
        "worst_case": _worst_case(frame, rejected, protocol, confidence=confidence),
        "measurement": _measurement(frame, protocol, confidence=confidence, method=method),
    }
