"""Area under the ROC curve with DeLong's standard error, and DeLong's test for two AUCs.

Both functions use the structural components ("placement values") of DeLong, DeLong &
Clarke-Pearson (1988), computed from midranks in O(n log n) time by the algorithm of Sun & Xu
(2014), so that no n_positive x n_negative comparison matrix is ever formed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from validation.stats._checks import (
    check_binary_array,
    check_confidence,
    check_numeric_array,
    check_same_length,
)
from validation.stats.proportions import Interval

__all__ = ["DelongTest", "RocAuc", "delong_test", "roc_auc", "weighted_auc"]

_METHOD = "delong"


@dataclass(frozen=True)
class RocAuc:
    """Result of :func:`roc_auc`.

    Attributes
    ----------
    auc : float
        Area under the empirical ROC curve, ties counted 1/2 (the Mann-Whitney estimate of
        P(score of a positive > score of a negative)).
    se : float
        DeLong standard error of ``auc``; NaN when either class has a single subject.
    ci : Interval
        ``auc -/+ z * se`` clipped to [0, 1], with ``method="delong"``.
    n_positive, n_negative : int
        Number of positive (label 1) and negative (label 0) subjects.
    """

    auc: float
    se: float
    ci: Interval
    n_positive: int
    n_negative: int


@dataclass(frozen=True)
class DelongTest:
    """Result of :func:`delong_test`.

    Attributes
    ----------
    auc_a, auc_b : float
        AUCs of ``score_a`` and ``score_b`` on the same subjects.
    difference : float
        ``auc_a - auc_b``.
    z : float
        ``difference / se(difference)``, with se from the DeLong covariance of the two AUCs.
    p_value : float
        Two-sided p-value of the z statistic (H0: the two AUCs are equal).
    ci : Interval
        ``difference -/+ z_crit * se(difference)`` (not clipped), with ``method="delong"``.
    """

    auc_a: float
    auc_b: float
    difference: float
    z: float
    p_value: float
    ci: Interval


def _z(confidence: float) -> float:
    """Two-sided standard normal critical value, e.g. 1.95996... for 0.95."""
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _split(
    y_true: ArrayLike, scores: dict[str, ArrayLike]
) -> tuple[NDArray[np.bool_], dict[str, NDArray[np.float64]]]:
    """Validate labels and scores; raise unless both classes are present."""
    labels = check_binary_array(y_true, "y_true")
    arrays = {}
    for name, values in scores.items():
        array = check_numeric_array(values, name)
        check_same_length(labels, array, "y_true", name)
        arrays[name] = array
    n_positive = int(np.count_nonzero(labels))
    n_negative = int(labels.shape[0] - n_positive)
    if n_positive == 0 or n_negative == 0:
        present = "positive (1)" if n_positive else "negative (0)"
        raise ValueError(
            "y_true must contain both classes, positive (1) and negative (0), for the AUC to "
            f"be defined; got {labels.shape[0]} label(s), all {present}."
        )
    return labels, arrays


def _placements(
    positives: NDArray[np.float64], negatives: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """AUC and DeLong placement values by midranks (Sun & Xu 2014, section 3).

    With ``m`` positives and ``n`` negatives, ``T_Z`` the midranks in the pooled sample and
    ``T_X``, ``T_Y`` the midranks within each class, the placement of positive ``i`` is
    ``V10_i = (T_Z_i - T_X_i) / n`` and that of negative ``j`` is
    ``V01_j = 1 - (T_Z_{m+j} - T_Y_j) / m``; the AUC is the mean of either.

    The three sets of midranks (those of ``scipy.stats.rankdata(..., method="average")``)
    come from one sort of the pooled scores. For a group of ``t`` tied values (``t+``
    positives, ``t-`` negatives) with ``b`` smaller values (``b+`` positives, ``b-``
    negatives), the pooled midrank is ``b + (t + 1) / 2`` and a positive's within-class
    midrank is ``b+ + (t+ + 1) / 2``, so
    ``T_Z - T_X = b- + t- / 2`` (negatives below, plus half the tied negatives), and
    symmetrically for the negatives. Placements are returned in input order, so those of
    two scores on the same subjects pair up.
    """
    m = positives.shape[0]
    n = negatives.shape[0]
    total = m + n
    pooled = np.concatenate((positives, negatives))
    order = np.argsort(pooled)
    ordered = pooled[order]
    is_positive = order < m
    first_of_group = np.empty(total, dtype=bool)
    first_of_group[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first_of_group[1:])
    starts = np.flatnonzero(first_of_group)
    sizes = np.diff(starts, append=total)
    positives_through = np.concatenate(([0], np.cumsum(is_positive)))
    positives_below = positives_through[starts]
    positives_tied = positives_through[starts + sizes] - positives_below
    negatives_below = starts - positives_below
    negatives_tied = sizes - positives_tied
    v10_of_group = (negatives_below + 0.5 * negatives_tied) / n
    v01_of_group = 1.0 - (positives_below + 0.5 * positives_tied) / m
    placement = np.empty(total)
    placement[order] = np.where(
        is_positive, np.repeat(v10_of_group, sizes), np.repeat(v01_of_group, sizes)
    )
    v10, v01 = placement[:m], placement[m:]
    return float(v10.mean()), v10, v01


def _covariance(v10: NDArray[np.float64], v01: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """DeLong covariance ``S10 / m + S01 / n`` of k AUCs from k x m and k x n placements.

    Returns None when a class has a single subject (the sample covariances are undefined).
    """
    m = v10.shape[1]
    n = v01.shape[1]
    if m < 2 or n < 2:
        return None
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    covariance: NDArray[np.float64] = s10 / m + s01 / n
    return covariance


def _warn_single_subject(n_positive: int, n_negative: int) -> None:
    warnings.warn(
        "The DeLong variance is undefined with a single subject in a class (got "
        f"n_positive={n_positive}, n_negative={n_negative}); returning NaN for the standard "
        "error and the interval.",
        RuntimeWarning,
        stacklevel=3,
    )


def roc_auc(y_true: ArrayLike, score: ArrayLike, *, confidence: float = 0.95) -> RocAuc:
    """Area under the ROC curve with DeLong's standard error and confidence interval.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Reference labels, 0/1 or bool; 1 (True) is the positive class (the cases).
    score : array-like of shape (n,)
        Real-valued model output; higher values must indicate the positive class.
    confidence : float, default 0.95
        Two-sided confidence level of the interval, in (0, 1).

    Returns
    -------
    RocAuc
        AUC, its DeLong standard error and interval (``method="delong"``), and the class
        sizes.

    Raises
    ------
    ValueError
        On unequal lengths, NaN or infinite scores, labels other than 0/1, a single class in
        ``y_true`` (the AUC is undefined) or a ``confidence`` outside (0, 1).
    TypeError
        On non-numeric scores or labels.

    Warns
    -----
    RuntimeWarning
        When a class has a single subject (se and interval are NaN), or when the standard
        error is 0 (e.g. perfect separation), so that the interval has zero width.

    Notes
    -----
    The AUC is the Mann-Whitney estimate
    :math:`\\hat\\theta = \\frac{1}{mn}\\sum_i\\sum_j \\psi(X_i, Y_j)` over the :math:`m`
    positive scores :math:`X_i` and :math:`n` negative scores :math:`Y_j`, with
    :math:`\\psi = 1, 1/2, 0` for :math:`X > Y, X = Y, X < Y`: the area under the empirical
    ROC curve (trapezoidal, as in scikit-learn's ``roc_auc_score``). Unlike pROC, the
    direction is not chosen from the data: an AUC below 0.5 means the score ranks negatives
    higher.

    Its variance is DeLong et al.'s (1988) nonparametric estimate
    :math:`S_{10}/m + S_{01}/n`, where :math:`S_{10}` and :math:`S_{01}` are the sample
    variances (``ddof=1``) of the placement values
    :math:`V_{10}(X_i) = \\frac{1}{n}\\sum_j \\psi(X_i, Y_j)` and
    :math:`V_{01}(Y_j) = \\frac{1}{m}\\sum_i \\psi(X_i, Y_j)`. The placements are obtained
    from midranks (Sun & Xu 2014), all three sets read off a single sort of the pooled
    scores, in :math:`O(N \\log N)` time and :math:`O(N)` memory, so the function scales to
    millions of subjects (no :math:`m \\times n` comparison matrix is formed).

    The interval is the Wald interval :math:`\\hat\\theta \\pm z_{1-\\alpha/2}\\,SE`, with
    limits clipped to [0, 1], exactly as pROC's ``ci.auc(method = "delong")`` computes it.
    It is the standard choice for moderate to large samples with an AUC away from 1. Its
    coverage falls below nominal when the AUC is close to 1 or the classes are small (the
    sampling distribution is skewed and the variance estimate unstable); there a bootstrap
    interval is preferable. With perfect separation the SE is 0 and the interval collapses
    to [1, 1], which says nothing about the uncertainty.

    References
    ----------
    .. [1] DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
       correlated receiver operating characteristic curves: a nonparametric approach.
       Biometrics. 1988;44(3):837-845.
    .. [2] Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas
       under correlated receiver operating characteristic curves. IEEE Signal Process Lett.
       2014;21(11):1389-1393.
    .. [3] Robin X, Turck N, Hainard A, et al. pROC: an open-source package for R and S+ to
       analyze and compare ROC curves. BMC Bioinformatics. 2011;12:77.

    Examples
    --------
    Five subjects, one tie between a positive and a negative:

    >>> res = roc_auc([0, 0, 1, 1, 1], [0.1, 0.4, 0.35, 0.8, 0.4])
    >>> res.auc
    0.75
    >>> round(res.se, 4), (round(res.ci.low, 4), round(res.ci.high, 4)), res.ci.method
    (0.2887, (0.1842, 1.0), 'delong')
    >>> res.n_positive, res.n_negative
    (3, 2)
    """
    labels, arrays = _split(y_true, {"score": score})
    level = check_confidence(confidence)
    values = arrays["score"]
    auc, v10, v01 = _placements(values[labels], values[~labels])
    n_positive, n_negative = v10.shape[0], v01.shape[0]
    cov = _covariance(v10[np.newaxis, :], v01[np.newaxis, :])
    if cov is None:
        _warn_single_subject(n_positive, n_negative)
        ci = Interval(math.nan, math.nan, level, _METHOD)
        return RocAuc(auc, math.nan, ci, n_positive, n_negative)
    se = math.sqrt(max(float(cov[0, 0]), 0.0))
    if se == 0.0:
        warnings.warn(
            f"The DeLong standard error is 0 (AUC = {auc}: every positive-negative comparison "
            "comes out the same), so the confidence interval has zero width and understates "
            "the uncertainty.",
            RuntimeWarning,
            stacklevel=2,
        )
    half = _z(level) * se
    ci = Interval(max(0.0, auc - half), min(1.0, auc + half), level, _METHOD)
    return RocAuc(auc, se, ci, n_positive, n_negative)


def delong_test(
    y_true: ArrayLike,
    score_a: ArrayLike,
    score_b: ArrayLike,
    *,
    confidence: float = 0.95,
) -> DelongTest:
    """DeLong's test comparing the AUCs of two scores measured on the same subjects.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Reference labels, 0/1 or bool; 1 (True) is the positive class.
    score_a, score_b : array-like of shape (n,)
        Two real-valued scores of the same subjects (paired); higher values must indicate
        the positive class for both.
    confidence : float, default 0.95
        Two-sided confidence level of the interval of the difference, in (0, 1).

    Returns
    -------
    DelongTest
        Both AUCs, their difference ``a - b``, the z statistic, its two-sided p-value and the
        interval of the difference (``method="delong"``).

    Raises
    ------
    ValueError
        On unequal lengths, NaN or infinite scores, labels other than 0/1, a single class in
        ``y_true`` or a ``confidence`` outside (0, 1).
    TypeError
        On non-numeric scores or labels.

    Warns
    -----
    RuntimeWarning
        When a class has a single subject (z, p-value and interval are NaN), or when the
        standard error of the difference is 0 while the AUCs differ (z is infinite).

    Notes
    -----
    Use it to compare two models (or a model and a reader) scored on the *same* subjects:
    the two AUCs are correlated, and the test accounts for it. With the DeLong et al. (1988)
    covariance matrix :math:`S = S_{10}/m + S_{01}/n` of the two AUCs (the placement values
    of :func:`roc_auc`, obtained by midranks as in Sun & Xu 2014), the variance of the
    difference is :math:`\\sigma^2 = S_{aa} + S_{bb} - 2S_{ab}` and

    .. math::

        z = \\frac{\\hat\\theta_a - \\hat\\theta_b}{\\sigma}, \\qquad
        p = 2\\,\\Phi(-|z|),

    with interval :math:`\\hat\\theta_a - \\hat\\theta_b \\pm z_{1-\\alpha/2}\\,\\sigma`. This
    is pROC's ``roc.test(..., method = "delong", paired = TRUE)``; when the two scores give
    identical placements (:math:`\\sigma = 0` and no difference), z is 0 and p is 1, as in
    pROC. The test is asymptotic; with few subjects in either class, or AUCs near 1, its
    size can be off and a paired bootstrap is the safer choice. It tests equality of the
    areas only: two curves that cross can have equal AUCs.

    References
    ----------
    .. [1] DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
       correlated receiver operating characteristic curves: a nonparametric approach.
       Biometrics. 1988;44(3):837-845.
    .. [2] Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas
       under correlated receiver operating characteristic curves. IEEE Signal Process Lett.
       2014;21(11):1389-1393.
    .. [3] Robin X, Turck N, Hainard A, et al. pROC: an open-source package for R and S+ to
       analyze and compare ROC curves. BMC Bioinformatics. 2011;12:77.

    Examples
    --------
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> a = [0.1, 0.2, 0.3, 0.6, 0.5, 0.7, 0.8, 0.9]
    >>> b = [0.2, 0.5, 0.1, 0.7, 0.6, 0.4, 0.3, 0.8]
    >>> res = delong_test(y, a, b)
    >>> res.auc_a, res.auc_b, res.difference
    (0.9375, 0.6875, 0.25)
    >>> round(res.z, 3), round(res.p_value, 4)
    (1.225, 0.2207)
    >>> res.ci.method
    'delong'
    """
    labels, arrays = _split(y_true, {"score_a": score_a, "score_b": score_b})
    level = check_confidence(confidence)
    auc_a, v10_a, v01_a = _placements(arrays["score_a"][labels], arrays["score_a"][~labels])
    auc_b, v10_b, v01_b = _placements(arrays["score_b"][labels], arrays["score_b"][~labels])
    difference = auc_a - auc_b
    cov = _covariance(np.vstack((v10_a, v10_b)), np.vstack((v01_a, v01_b)))
    if cov is None:
        _warn_single_subject(v10_a.shape[0], v01_a.shape[0])
        ci = Interval(math.nan, math.nan, level, _METHOD)
        return DelongTest(auc_a, auc_b, difference, math.nan, math.nan, ci)
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    sigma = math.sqrt(max(variance, 0.0))
    if sigma > 0.0:
        z = difference / sigma
        p_value = float(2.0 * stats.norm.sf(abs(z)))
    elif difference == 0.0:
        z, p_value = 0.0, 1.0
    else:
        warnings.warn(
            f"The DeLong standard error of the AUC difference is 0 while the AUCs differ "
            f"({auc_a} vs {auc_b}); z is infinite and the p-value 0.",
            RuntimeWarning,
            stacklevel=2,
        )
        z, p_value = math.copysign(math.inf, difference), 0.0
    half = _z(level) * sigma
    ci = Interval(difference - half, difference + half, level, _METHOD)
    return DelongTest(auc_a, auc_b, difference, z, p_value, ci)


def weighted_auc(y_true: ArrayLike, score: ArrayLike, *, weights: ArrayLike) -> NDArray[np.float64]:
    """AUC (Mann-Whitney) under frequency weights, for many weight vectors at once.

    The statistic a bootstrap needs: row ``b`` of ``weights`` says how many times each study
    is drawn, and the AUC of that resample is
    ``sum_ij w_i w_j [s_i > s_j] + 0.5 [s_i = s_j]`` over positives ``i`` and negatives ``j``,
    divided by ``W_pos * W_neg``. Integer weights give exactly the AUC of the data with each
    study repeated ``w`` times.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels (1 = positive).
    score : array-like of shape (n,)
        Scores, higher meaning more likely positive.
    weights : array-like of shape (n,) or (b, n)
        Non-negative frequency weights (one row per resample).

    Returns
    -------
    ndarray of shape (b,) (or a 0-d array for 1-D weights)
        The weighted AUCs; NaN for a row without positive or without negative weight.

    Notes
    -----
    O(b * n) after one sort of the negatives' scores: each positive's weighted count of
    negatives below it is read off a cumulative sum.

    References
    ----------
    .. [1] Hanley JA, McNeil BJ. The meaning and use of the area under a receiver operating
       characteristic (ROC) curve. Radiology. 1982;143(1):29-36.

    Examples
    --------
    >>> float(weighted_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], weights=[1, 1, 1, 1]))
    0.75
    """
    labels = check_binary_array(y_true, "y_true")
    values = check_numeric_array(score, "score")
    check_same_length(labels, values, "y_true", "score")
    w = np.asarray(weights, dtype=np.float64)
    one_row = w.ndim == 1
    w = np.atleast_2d(w)
    if w.ndim != 2 or w.shape[1] != labels.shape[0]:
        raise ValueError(
            f"weights must have shape (n,) or (b, n) with n={labels.shape[0]}; got {w.shape}."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative.")
    order = np.argsort(values[~labels], kind="stable")
    negatives = values[~labels][order]
    w_neg = w[:, ~labels][:, order]
    cumulative = np.zeros((w.shape[0], negatives.shape[0] + 1))
    np.cumsum(w_neg, axis=1, out=cumulative[:, 1:])
    positives = values[labels]
    below = np.searchsorted(negatives, positives, side="left")
    up_to = np.searchsorted(negatives, positives, side="right")
    credit = cumulative[:, below] + 0.5 * (cumulative[:, up_to] - cumulative[:, below])
    w_pos = w[:, labels]
    denominator = w_pos.sum(axis=1) * w_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc: NDArray[np.float64] = np.einsum("bp,bp->b", w_pos, credit) / denominator
    auc[denominator == 0] = np.nan
    return auc.reshape(()) if one_row else auc


#: above this many within-cluster (positive, negative) pairs the exact leave-one-cluster-out
#: AUC declines (returns None) and the caller falls back to re-weighting (about 16 bytes a pair)
_MAX_WITHIN_PAIRS = 20_000_000


def auc_leave_one_cluster_out(
    y_true: NDArray[np.float64],
    score: NDArray[np.float64],
    *,
    row_cluster: NDArray[np.intp],
    n_clusters: int,
) -> NDArray[np.float64] | None:
    """The AUC with each cluster left out in turn, in O(n log n), or None when too costly.

    Equal to ``weighted_auc(y_true, score, weights=w)`` with ``w[g]`` the 0/1 indicator of the
    rows outside cluster ``g`` (the jackknife of a cluster bootstrap's BCa acceleration), which
    costs O(G n). Here the Mann-Whitney sum ``S = sum_ij psi(x_i, y_j)`` (``psi`` 1 when the
    negative scores below the positive, 1/2 on a tie) loses, for cluster ``g``, its positives'
    and negatives' placement sums and regains the pairs inside ``g``. Every term is a multiple
    of 1/2 well below 2**52, so the sums are exact and the result is the same float as the
    re-weighted computation's.

    Parameters
    ----------
    y_true, score : ndarray
        1-D labels (0/1) and scores, one per row.
    row_cluster : ndarray of int
        Each row's cluster position in ``0 .. n_clusters - 1``.
    n_clusters : int
        The number of clusters.

    Returns
    -------
    ndarray of shape (n_clusters,) or None
        NaN where a left-out cluster holds every positive or every negative. None when the
        data are not 1-D, or the clusters hold more than ``_MAX_WITHIN_PAIRS`` (positive,
        negative) pairs between them.

    References
    ----------
    .. [1] DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
       correlated receiver operating characteristic curves: a nonparametric approach.
       Biometrics. 1988;44(3):837-845 (the placement values, their structural components).
    .. [2] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993;
       section 14.3 (the jackknife acceleration of the BCa interval).

    Examples
    --------
    >>> y = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    >>> s = np.array([0.1, 0.4, 0.35, 0.8, 0.5, 0.5])
    >>> auc_leave_one_cluster_out(y, s, row_cluster=np.array([0, 0, 1, 1, 2, 2]), n_clusters=3)
    array([0.5       , 0.83333333, 0.75      ])

    Leaving out cluster 0 keeps positives 0.35, 0.8, 0.5 against the negative 0.5: (0 + 1 +
    0.5) / 3 = 0.5, as :func:`roc_auc` of those rows gives.
    """
    if y_true.ndim != 1 or score.ndim != 1:
        return None
    labels = y_true == 1
    positives, negatives = score[labels], score[~labels]
    pos_cluster, neg_cluster = row_cluster[labels], row_cluster[~labels]
    n_pos = np.bincount(pos_cluster, minlength=n_clusters)
    n_neg = np.bincount(neg_cluster, minlength=n_clusters)
    within = int(np.dot(n_pos.astype(np.int64), n_neg.astype(np.int64)))
    if within > _MAX_WITHIN_PAIRS:
        return None
    sorted_neg, sorted_pos = np.sort(negatives), np.sort(positives)
    below = np.searchsorted(sorted_neg, positives, side="left")
    placement_pos = below + 0.5 * (np.searchsorted(sorted_neg, positives, side="right") - below)
    above = np.searchsorted(sorted_pos, negatives, side="right")
    placement_neg = (positives.shape[0] - above) + 0.5 * (
        above - np.searchsorted(sorted_pos, negatives, side="left")
    )
    total = placement_pos.sum()
    lost = np.bincount(pos_cluster, placement_pos, minlength=n_clusters) + np.bincount(
        neg_cluster, placement_neg, minlength=n_clusters
    )
    regained: NDArray[np.float64] = np.zeros(n_clusters)
    if within:
        # every (positive, negative) pair inside one cluster: negatives grouped by cluster
        neg_order = np.argsort(neg_cluster, kind="stable")
        neg_start = np.concatenate(([0], np.cumsum(n_neg)[:-1]))
        repeats = n_neg[pos_cluster]
        pair_pos = np.repeat(np.arange(positives.shape[0]), repeats)
        first = np.repeat(np.cumsum(repeats) - repeats, repeats)
        pair_neg = neg_order[
            np.repeat(neg_start[pos_cluster], repeats) + (np.arange(within) - first)
        ]
        x, y = positives[pair_pos], negatives[pair_neg]
        psi = (y < x) + 0.5 * (y == x)
        # with weights, bincount counts in float64 (the stubs say an integer array)
        regained = np.asarray(
            np.bincount(pos_cluster[pair_pos], psi, minlength=n_clusters), dtype=np.float64
        )
    denominator = (positives.shape[0] - n_pos) * (negatives.shape[0] - n_neg)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc: NDArray[np.float64] = (total - lost + regained) / denominator
    auc[denominator == 0] = np.nan
    return auc
