"""Diagnostic accuracy of a binary test against a binary reference (the 2x2 table)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from validation.stats._checks import (
    check_choice,
    check_confidence,
    check_paired,
)
from validation.stats.proportions import (
    _PROPORTION_METHODS,
    Estimate,
    Interval,
    ProportionMethod,
    _z,
    proportion_interval,
)

__all__ = ["DiagnosticAccuracy", "diagnostic_accuracy"]

_REFERENCE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "sensitivity": "Sensitivity",
        "specificity": "Specificity",
        "ppv": "PPV",
        "npv": "NPV",
        "prevalence": "Prevalence",
        "lr_positive": "LR+",
        "lr_negative": "LR-",
    }
)
_AGREEMENT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        **_REFERENCE_LABELS,
        "sensitivity": "PPA",
        "specificity": "NPA",
    }
)


@dataclass(frozen=True)
class DiagnosticAccuracy:
    """Result of :func:`diagnostic_accuracy`.

    Attributes
    ----------
    tp, fp, fn, tn : int
        Cells of the 2x2 table (true/false positives/negatives of ``y_pred`` against
        ``y_true``).
    n : int
        Number of subjects, ``tp + fp + fn + tn``.
    sensitivity : Estimate
        ``tp / (tp + fn)``; positive percent agreement (PPA) when ``reference_standard`` is
        False.
    specificity : Estimate
        ``tn / (tn + fp)``; negative percent agreement (NPA) when ``reference_standard`` is
        False.
    ppv, npv : Estimate
        Positive and negative predictive values, ``tp / (tp + fp)`` and ``tn / (tn + fn)``.
        They apply only to a population with the study's prevalence.
    prevalence : Estimate
        ``(tp + fn) / n``, the proportion positive by ``y_true``.
    lr_positive, lr_negative : Estimate
        Likelihood ratios ``sens / (1 - spec)`` and ``(1 - sens) / spec`` with log-method
        intervals (Simel, Samsa & Matchar 1991).
    confidence : float
        Two-sided confidence level of every interval.
    method : str
        Interval method used for the five proportions.
    reference_standard : bool
        Whether ``y_true`` is a reference standard (True) or another, non-reference
        comparator (False); this changes only the :attr:`labels`.
    """

    tp: int
    fp: int
    fn: int
    tn: int
    n: int
    sensitivity: Estimate
    specificity: Estimate
    ppv: Estimate
    npv: Estimate
    prevalence: Estimate
    lr_positive: Estimate
    lr_negative: Estimate
    confidence: float
    method: str
    reference_standard: bool

    @property
    def labels(self) -> Mapping[str, str]:
        """Display label of each metric, keyed by attribute name.

        Against a reference standard sensitivity and specificity keep their names; against a
        non-reference comparator they are labelled ``"PPA"`` and ``"NPA"`` (positive and
        negative percent agreement), as FDA's 2007 guidance requires.
        """
        return _REFERENCE_LABELS if self.reference_standard else _AGREEMENT_LABELS

    @property
    def ppa(self) -> Estimate:
        """Positive percent agreement: the same numbers as :attr:`sensitivity`."""
        return self.sensitivity

    @property
    def npa(self) -> Estimate:
        """Negative percent agreement: the same numbers as :attr:`specificity`."""
        return self.specificity


def _nan_interval(confidence: float, method: str) -> Interval:
    return Interval(low=math.nan, high=math.nan, confidence=confidence, method=method)


def _proportion(
    successes: int, total: int, label: str, *, confidence: float, method: ProportionMethod
) -> Estimate:
    if total == 0:
        warnings.warn(
            f"{label} is undefined because its denominator is 0; returning NaN.",
            RuntimeWarning,
            stacklevel=4,
        )
        return Estimate(math.nan, _nan_interval(confidence, method))
    ci = proportion_interval(successes, total, confidence=confidence, method=method)
    return Estimate(successes / total, ci)


def _likelihood_ratio(
    hits: int, group_a: int, misses: int, group_b: int, label: str, *, confidence: float
) -> Estimate:
    """Ratio ``(hits / group_a) / (misses / group_b)`` with a log-method interval.

    For LR+ ``hits = tp, group_a = tp + fn, misses = fp, group_b = fp + tn``; for LR-
    ``hits = fn, group_a = tp + fn, misses = tn, group_b = fp + tn``.
    """
    method = "log"
    if group_a == 0 or group_b == 0:
        warnings.warn(
            f"{label} is undefined because the data hold no "
            f"{'reference-positive' if group_a == 0 else 'reference-negative'} subjects; "
            "returning NaN.",
            RuntimeWarning,
            stacklevel=4,
        )
        return Estimate(math.nan, _nan_interval(confidence, method))
    p_a = hits / group_a
    p_b = misses / group_b
    if hits == 0 and misses == 0:
        warnings.warn(
            f"{label} is undefined (0/0) because both of its cells are 0; returning NaN.",
            RuntimeWarning,
            stacklevel=4,
        )
        return Estimate(math.nan, _nan_interval(confidence, method))
    ratio = math.inf if misses == 0 else p_a / p_b
    if hits == 0 or misses == 0:
        warnings.warn(
            f"{label} = {ratio} has a zero cell, so its log-method confidence interval is "
            "undefined; returning NaN limits.",
            RuntimeWarning,
            stacklevel=4,
        )
        return Estimate(ratio, _nan_interval(confidence, method))
    se_log = math.sqrt(1.0 / hits - 1.0 / group_a + 1.0 / misses - 1.0 / group_b)
    half = _z(confidence) * se_log
    ci = Interval(
        low=ratio * math.exp(-half),
        high=ratio * math.exp(half),
        confidence=confidence,
        method=method,
    )
    return Estimate(ratio, ci)


def _from_counts(
    tp: int,
    fp: int,
    fn: int,
    tn: int,
    *,
    confidence: float,
    method: ProportionMethod,
    reference_standard: bool,
) -> DiagnosticAccuracy:
    sens_label = "sensitivity" if reference_standard else "positive percent agreement (PPA)"
    spec_label = "specificity" if reference_standard else "negative percent agreement (NPA)"
    positives, negatives = tp + fn, fp + tn
    n = positives + negatives
    proportion = partial(_proportion, confidence=confidence, method=method)
    return DiagnosticAccuracy(
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        n=n,
        sensitivity=proportion(tp, positives, sens_label),
        specificity=proportion(tn, negatives, spec_label),
        ppv=proportion(tp, tp + fp, "PPV"),
        npv=proportion(tn, tn + fn, "NPV"),
        prevalence=proportion(positives, n, "prevalence"),
        lr_positive=_likelihood_ratio(tp, positives, fp, negatives, "LR+", confidence=confidence),
        lr_negative=_likelihood_ratio(fn, positives, tn, negatives, "LR-", confidence=confidence),
        confidence=confidence,
        method=method,
        reference_standard=reference_standard,
    )


def diagnostic_accuracy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    confidence: float = 0.95,
    method: ProportionMethod = "wilson",
    reference_standard: bool = True,
) -> DiagnosticAccuracy:
    """Sensitivity, specificity, predictive values, prevalence and likelihood ratios.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Reference (or comparator) labels, 0/1 or bool; 1 means condition present.
    y_pred : array-like of shape (n,)
        Test (device) results, 0/1 or bool; 1 means test positive.
    confidence : float, default 0.95
        Two-sided confidence level of every interval, in (0, 1).
    method : {"wilson", "clopper-pearson"}, default "wilson"
        Interval method for sensitivity, specificity, PPV, NPV and prevalence (see
        :func:`~validation.stats.proportion_interval`).
    reference_standard : bool, default True
        True when ``y_true`` is a reference standard. False when it is a non-reference
        comparator (e.g. a predicate device): the numbers are the same but
        :attr:`DiagnosticAccuracy.labels` names sensitivity and specificity "PPA" and "NPA".

    Returns
    -------
    DiagnosticAccuracy
        Counts and every estimate with its interval.

    Raises
    ------
    ValueError
        If the arrays differ in length, are empty, or hold values other than 0/1 (or NaN).
    TypeError
        If the labels are not numeric or boolean.

    Warns
    -----
    RuntimeWarning
        When a metric is undefined for the data (e.g. sensitivity with no reference
        positives, or a likelihood-ratio interval with a zero cell); it is then NaN.

    Notes
    -----
    Sensitivity and specificity are the primary accuracy endpoints for a test judged against a
    reference standard; PPV and NPV depend on prevalence and transfer only to populations with
    the study's prevalence. The proportion intervals follow ``method`` (Wilson by default: near
    nominal average coverage; Clopper-Pearson: at least nominal everywhere, conservative).

    The likelihood ratios use the log method of Simel, Samsa & Matchar (1991):
    :math:`\\ln LR \\pm z\\,SE`, with
    :math:`SE(\\ln LR^+) = \\sqrt{1/tp - 1/(tp+fn) + 1/fp - 1/(fp+tn)}` and
    :math:`SE(\\ln LR^-) = \\sqrt{1/fn - 1/(tp+fn) + 1/tn - 1/(fp+tn)}`. It is a large-sample
    (delta-method) interval; coverage is poor with small cells and the interval is undefined
    when a cell is 0 (NaN limits with a warning; no continuity correction is applied).

    When ``y_true`` is not a reference standard, FDA (2007) asks for "positive/negative
    percent agreement" rather than sensitivity/specificity, since disagreement may be the
    comparator's error; predictive values, prevalence and likelihood ratios then describe
    agreement with the comparator only.

    References
    ----------
    .. [1] Simel DL, Samsa GP, Matchar DB. Likelihood ratios with confidence: sample size
       estimation for diagnostic test studies. J Clin Epidemiol. 1991;44(8):763-770.
    .. [2] Altman DG, Machin D, Bryant TN, Gardner MJ, eds. Statistics with Confidence.
       2nd ed. London: BMJ Books; 2000. Chapter 10, Diagnostic tests.
    .. [3] U.S. Food and Drug Administration. Statistical Guidance on Reporting Results from
       Studies Evaluating Diagnostic Tests. Guidance for industry and FDA staff. 2007.
    .. [4] Newcombe RG. Two-sided confidence intervals for the single proportion:
       comparison of seven methods. Stat Med. 1998;17(8):857-872.

    Examples
    --------
    >>> y_true = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    >>> y_pred = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    >>> res = diagnostic_accuracy(y_true, y_pred)
    >>> res.tp, res.fp, res.fn, res.tn
    (3, 1, 1, 5)
    >>> res.sensitivity.estimate
    0.75
    >>> round(res.lr_positive.estimate, 2)
    4.5
    >>> diagnostic_accuracy(y_true, y_pred, reference_standard=False).labels["sensitivity"]
    'PPA'
    """
    truth, pred = check_paired(y_true, y_pred, "y_true", "y_pred", binary=True)
    level = check_confidence(confidence)
    chosen = check_choice(method, "method", _PROPORTION_METHODS)
    if not isinstance(reference_standard, bool | np.bool_):
        raise TypeError(
            f"reference_standard must be a bool; got {reference_standard!r} "
            f"of type {type(reference_standard).__name__}."
        )
    tp = int(np.sum(truth & pred))
    fp = int(np.sum(~truth & pred))
    fn = int(np.sum(truth & ~pred))
    tn = int(np.sum(~truth & ~pred))
    return _from_counts(
        tp,
        fp,
        fn,
        tn,
        confidence=level,
        method=chosen,
        reference_standard=bool(reference_standard),
    )
