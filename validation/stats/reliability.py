"""Reliability of ratings: intraclass correlations, Cohen's kappa and Lin's concordance."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from validation.stats._checks import (
    check_choice,
    check_confidence,
    check_paired,
    check_same_length,
)
from validation.stats.proportions import Interval

__all__ = ["CohenKappa", "ConcordanceCorrelation", "cohen_kappa", "icc", "lin_ccc"]

KappaWeights = Literal["linear", "quadratic"]
_WEIGHTS: tuple[KappaWeights, ...] = get_args(KappaWeights)
_ICC_FORMS: dict[str, str] = {
    "ICC(1,1)": "one-way random, single rater",
    "ICC(2,1)": "two-way random, absolute agreement, single rater",
    "ICC(3,1)": "two-way mixed, consistency, single rater",
    "ICC(1,k)": "one-way random, mean of k raters",
    "ICC(2,k)": "two-way random, absolute agreement, mean of k raters",
    "ICC(3,k)": "two-way mixed, consistency, mean of k raters",
}


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


# ------------------------------------------------------------------------------------------ ICC


def _as_ratings(ratings: ArrayLike | pd.DataFrame) -> NDArray[np.float64]:
    """A finite targets x raters float matrix; NaN rows are named, not dropped."""
    labels = ratings.index if isinstance(ratings, pd.DataFrame) else None
    try:
        array = np.asarray(ratings)
    except Exception as exc:  # ragged input and the like
        raise TypeError(f"ratings must be a 2-D array-like of numbers; {exc}") from exc
    if array.ndim != 2:
        raise ValueError(
            f"ratings must be two-dimensional (targets x raters); got shape {array.shape}."
        )
    numeric = np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array)
    if array.dtype == bool or not (numeric or array.dtype == object):
        raise TypeError(f"ratings must hold real numbers; got an array of dtype {array.dtype}.")
    try:
        values = array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"ratings must hold real numbers; {exc}") from exc
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = (labels[rows] if labels is not None else rows)[:10].tolist()
        raise ValueError(
            f"ratings must be complete (every target rated by every rater); {rows.size} "
            f"row(s) hold NaN or infinite values, e.g. {shown}. Drop or impute them first."
        )
    n, k = values.shape
    if n < 2 or k < 2:
        raise ValueError(
            f"ratings must have at least 2 targets (rows) and 2 raters (columns); got {n} x {k}."
        )
    return values


def _mean_squares(x: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """Two-way ANOVA mean squares: targets (MSR), raters (MSC), within (MSW), residual (MSE)."""
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    ss_total = float(((x - grand) ** 2).sum())
    return (
        ss_rows / (n - 1),
        ss_cols / (k - 1),
        (ss_total - ss_rows) / (n * (k - 1)),
        (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1)),
    )


def _exact_f_bounds(f: float, df1: int, df2: int, k: int, level: float) -> NDArray[np.float64]:
    """Exact limits [low_1, high_1, low_k, high_k] for ICC(1 or 3, 1) and ICC(1 or 3, k)."""
    q = 0.5 + level / 2.0
    f_bounds = np.array([f / stats.f.ppf(q, df1, df2), f * stats.f.ppf(q, df2, df1)])
    return np.concatenate([(f_bounds - 1.0) / (f_bounds + k - 1.0), 1.0 - 1.0 / f_bounds])


def _agreement_bounds(
    rho: float, msr: float, msc: float, mse: float, n: int, k: int, level: float
) -> NDArray[np.float64]:
    """McGraw & Wong (1996) approximate limits [low_1, high_1, low_k, high_k] for ICC(A, .)."""
    a = k * rho / (n * (1.0 - rho))
    b = 1.0 + k * rho * (n - 1) / (n * (1.0 - rho))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    q = 0.5 + level / 2.0
    f_star, f_dagger = stats.f.ppf(q, n - 1, v), stats.f.ppf(q, v, n - 1)
    c = k * msc + (k * n - k - n) * mse
    single = np.array(
        [
            n * (msr - f_star * mse) / (f_star * c + n * msr),
            n * (f_dagger * msr - mse) / (c + n * f_dagger * msr),
        ]
    )
    return np.concatenate([single, k * single / (1.0 + (k - 1) * single)])  # Spearman-Brown


def icc(ratings: ArrayLike | pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """The six Shrout & Fleiss intraclass correlations with F tests and intervals.

    Parameters
    ----------
    ratings : array-like of shape (n_targets, k_raters), or a wide DataFrame
        One row per target (case), one column per rater (reader, site, method); complete.
    confidence : float, default 0.95
        Two-sided confidence level of the intervals, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Index ``form``: ``"ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)",
        "ICC(3,k)"``; columns ``description, estimate, ci_low, ci_high, F, df1, df2, p_value,
        confidence``, where ``F`` on ``(df1, df2)`` and ``p_value`` test ICC = 0.

    Raises
    ------
    ValueError
        On fewer than 2 targets or 2 raters, rows with NaN or infinite values (named in the
        message; an incomplete design needs a mixed model), non-2-D input or a
        ``confidence`` outside (0, 1).
    TypeError
        On non-numeric ratings.

    Warns
    -----
    RuntimeWarning
        When the within-target or residual mean square is 0 (raters agree exactly): F,
        p-values and intervals are then undefined and NaN.

    Notes
    -----
    Forms (Shrout & Fleiss 1979; McGraw & Wong 1996 names in brackets): ICC(1,.) [ICC(1)]
    each target rated by different random raters; ICC(2,.) [ICC(A,.)] the same raters as a
    random sample, absolute agreement (rater offsets count as error; the usual choice for
    "can another reader or site be swapped in?"); ICC(3,.) [ICC(C,.)] the same fixed raters,
    consistency (offsets ignored). ``.,1`` is the reliability of one rating, ``.,k`` of the
    mean of k ratings. With mean squares for targets (MSR), raters (MSC), residual (MSE) and
    within targets (MSW): ``ICC(1,1) = (MSR-MSW)/(MSR+(k-1)MSW)``,
    ``ICC(2,1) = (MSR-MSE)/(MSR+(k-1)MSE+k(MSC-MSE)/n)``, ``ICC(3,1) = (MSR-MSE)/(MSR+(k-1)MSE)``;
    the ``k`` forms are ``(MSR-MSW)/MSR``, ``(MSR-MSE)/(MSR+(MSC-MSE)/n)``, ``(MSR-MSE)/MSR``.

    Intervals for ICC(1,.) and ICC(3,.) are the exact F intervals (McGraw & Wong 1996,
    Table 7; exact under the normal random-effects model). ICC(2,.) uses McGraw & Wong's
    approximate interval with Satterthwaite degrees of freedom, close to nominal coverage
    for moderate n, and Spearman-Brown for the ``k`` form. Values match R ``psych::ICC``.
    With fewer than about 30 targets the intervals are wide: report them (Koo & Li 2016).

    References
    ----------
    .. [1] Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater
       reliability. Psychol Bull. 1979;86(2):420-428.
    .. [2] McGraw KO, Wong SP. Forming inferences about some intraclass correlation
       coefficients. Psychol Methods. 1996;1(1):30-46 (correction 1996;1(4):390).
    .. [3] Koo TK, Li MY. A guideline of selecting and reporting intraclass correlation
       coefficients for reliability research. J Chiropr Med. 2016;15(2):155-163.

    Examples
    --------
    Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.

    >>> sf = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...       [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> table = icc(sf)
    >>> table["estimate"].round(2).tolist()
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    >>> table.loc["ICC(2,1)", ["ci_low", "ci_high"]].astype(float).round(3).tolist()
    [0.019, 0.761]
    """
    x = _as_ratings(ratings)
    level = check_confidence(confidence)
    n, k = x.shape
    msr, msc, msw, mse = _mean_squares(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.array(
            [
                (msr - msw) / (msr + (k - 1) * msw),
                (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n),
                (msr - mse) / (msr + (k - 1) * mse),
                (msr - msw) / msr,
                (msr - mse) / (msr + (msc - mse) / n),
                (msr - mse) / msr,
            ]
        )
    df_w, df_e = n * (k - 1), (n - 1) * (k - 1)
    limits = np.full((3, 4), math.nan)  # rows: forms 1, 2, 3; columns: low_1, high_1, low_k, high_k
    f_one = f_two = p_one = p_two = math.nan
    if msw > 0.0 and mse > 0.0:
        f_one, f_two = msr / msw, msr / mse
        p_one, p_two = float(stats.f.sf(f_one, n - 1, df_w)), float(stats.f.sf(f_two, n - 1, df_e))
        limits[0] = _exact_f_bounds(f_one, n - 1, df_w, k, level)
        limits[1] = _agreement_bounds(float(est[1]), msr, msc, mse, n, k, level)
        limits[2] = _exact_f_bounds(f_two, n - 1, df_e, k, level)
    else:
        warnings.warn(
            "The within-target or residual mean square is 0 (the raters agree exactly), so the "
            "ICC F tests and intervals are undefined; returning NaN for them.",
            RuntimeWarning,
            stacklevel=2,
        )
    one_way = np.array([True, False, False, True, False, False])
    return pd.DataFrame(
        {
            "description": list(_ICC_FORMS.values()),
            "estimate": est,
            "ci_low": np.concatenate([limits[:, 0], limits[:, 2]]),
            "ci_high": np.concatenate([limits[:, 1], limits[:, 3]]),
            "F": np.where(one_way, f_one, f_two),
            "df1": n - 1,
            "df2": np.where(one_way, df_w, df_e),
            "p_value": np.where(one_way, p_one, p_two),
            "confidence": level,
        },
        index=pd.Index(list(_ICC_FORMS), name="form"),
    )


# ---------------------------------------------------------------------------------- Cohen kappa


@dataclass(frozen=True)
class CohenKappa:
    """Result of :func:`cohen_kappa`.

    Attributes
    ----------
    kappa, se : float
        Kappa (weighted when ``weights`` is set; NaN when undefined) and its large-sample
        standard error not assuming kappa = 0 (Fleiss, Cohen & Everitt 1969; SAS ``ASE``).
    ci : Interval
        Wald interval ``kappa +/- z * se`` (method ``"asymptotic"``), not clipped to [-1, 1].
    z, p_value : float
        ``kappa / se0``, with ``se0`` the standard error under kappa = 0, and its two-sided
        p-value.
    observed_agreement, expected_agreement : float
        (Weighted) observed agreement ``p_o`` and chance agreement ``p_e``.
    n : int
        Number of rated items.
    weights : str or None
        ``None``, ``"linear"`` or ``"quadratic"``.
    confidence : float
        Two-sided confidence level of ``ci``.
    categories : tuple
        The categories, in the order used for weighting.
    """

    kappa: float
    se: float
    ci: Interval
    z: float
    p_value: float
    observed_agreement: float
    expected_agreement: float
    n: int
    weights: str | None
    confidence: float
    categories: tuple[Hashable, ...]


def _as_labels(values: Any, name: str) -> NDArray[Any]:
    try:
        array = np.asarray(values, dtype=object)
    except Exception as exc:  # ragged input and the like
        raise TypeError(f"{name} must be a one-dimensional array-like of labels; {exc}") from exc
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array of labels; got shape {array.shape}."
        )
    missing = pd.isna(array)
    if missing.any():
        raise ValueError(
            f"{name} must not contain missing labels; found {int(missing.sum())} None/NaN "
            f"value(s), the first at index {int(np.flatnonzero(missing)[0])}."
        )
    return array


def _category_order(a: Any, b: Any, labels: NDArray[Any]) -> list[Hashable]:
    """Union of the observed labels: declared order for ordered Categoricals, else sorted."""
    observed = pd.unique(labels).tolist()
    for raw in (a, b):
        dtype = getattr(raw, "dtype", None)
        if isinstance(dtype, pd.CategoricalDtype) and dtype.ordered:
            declared = list(dtype.categories)
            unknown = [c for c in observed if c not in set(declared)]
            if unknown:
                raise ValueError(
                    f"a and b hold labels {unknown[:5]} that are not among the ordered "
                    f"categories {declared[:10]}."
                )
            return [c for c in declared if c in set(observed)]
    try:
        return sorted(observed)
    except TypeError:  # mixed, unorderable label types: keep the order of first appearance
        return observed


def _weight_matrix(k: int, weights: str | None) -> NDArray[np.float64]:
    if weights is None or k == 1:
        return np.eye(k)
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / (k - 1)
    return 1.0 - (distance if weights == "linear" else distance**2)


def _kappa_from_table(
    table: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[float, float, float, float, float]:
    """kappa, se, se0, p_o, p_e from a count table (Fleiss, Cohen & Everitt 1969)."""
    n = table.sum()
    p = table / n
    expected = np.outer(p.sum(axis=1), p.sum(axis=0))
    p_o, p_e = float((w * p).sum()), float((w * expected).sum())
    if 1.0 - p_e <= 1e-12:
        return math.nan, math.nan, math.nan, p_o, p_e
    kappa = (p_o - p_e) / (1.0 - p_e)
    # mean weight of row category i over the column marginal, plus that of column j
    spread = (w @ p.sum(axis=0))[:, None] + (w.T @ p.sum(axis=1))[None, :]
    scale = n * (1.0 - p_e) ** 2
    var = ((p * (w - spread * (1 - kappa)) ** 2).sum() - (kappa - p_e * (1 - kappa)) ** 2) / scale
    var0 = ((expected * (w - spread) ** 2).sum() - p_e**2) / scale
    return kappa, math.sqrt(max(var, 0.0)), math.sqrt(max(var0, 0.0)), p_o, p_e


def cohen_kappa(
    a: ArrayLike,
    b: ArrayLike,
    *,
    weights: KappaWeights | None = None,
    confidence: float = 0.95,
) -> CohenKappa:
    """Cohen's kappa, unweighted or with linear or quadratic weights, for two raters.

    Parameters
    ----------
    a, b : array-like of shape (n,)
        The two raters' labels for the same n items; any hashable categories. The category
        set is the union of the labels seen in ``a`` and ``b``.
    weights : {None, "linear", "quadratic"}, default None
        ``None`` for Cohen's (1960) kappa; ``"linear"`` (``1 - |i-j|/(K-1)``, Cicchetti-Allison)
        or ``"quadratic"`` (``1 - (i-j)^2/(K-1)^2``, Fleiss-Cohen) agreement weights, with
        i, j the positions in the ordered category list.
    confidence : float, default 0.95
        Two-sided confidence level of the interval, in (0, 1).

    Returns
    -------
    CohenKappa

    Raises
    ------
    ValueError
        On unequal lengths, empty or non-1-D input, missing labels (None/NaN), an unknown
        ``weights`` or a ``confidence`` outside (0, 1).
    TypeError
        When ``weights`` is neither None nor a string.

    Warns
    -----
    RuntimeWarning
        When the chance agreement is 1 (e.g. a single category overall): kappa is undefined
        and every statistic is NaN.

    Notes
    -----
    Use for two raters on a categorical scale; weighted kappa only for ordered categories
    (quadratic weights approximate the ICC). Kappa depends on prevalence and marginals, so
    report the observed agreement too. ``kappa = (p_o - p_e) / (1 - p_e)`` with
    ``p_o = sum w_ij p_ij`` and ``p_e = sum w_ij p_i. p_.j``. ``se`` is the large-sample
    standard error of Fleiss, Cohen & Everitt (1969) and the interval the Wald interval
    ``kappa +/- z se`` (as SAS PROC FREQ ``AGREE``), adequate from about 50 items with
    kappa away from +/-1. The z test of kappa = 0 uses the standard error under the null
    (as SAS and R ``irr::kappa2``).

    Category order: the sorted union of observed labels (integer grades 1 < 2 < 3), or the
    declared order when ``a`` or ``b`` is an ordered ``pandas.Categorical``. Unused
    categories do not enter, as in ``irr::kappa2``. For ordinal string labels pass integer
    codes or an ordered Categorical, since strings sort alphabetically.

    References
    ----------
    .. [1] Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas.
       1960;20(1):37-46.
    .. [2] Cohen J. Weighted kappa: nominal scale agreement with provision for scaled
       disagreement or partial credit. Psychol Bull. 1968;70(4):213-220.
    .. [3] Fleiss JL, Cohen J, Everitt BS. Large sample standard errors of kappa and
       weighted kappa. Psychol Bull. 1969;72(5):323-327.
    .. [4] Fleiss JL, Levin B, Paik MC. Statistical Methods for Rates and Proportions.
       3rd ed. Wiley; 2003. Chapter 18.

    Examples
    --------
    >>> a = ["yes"] * 20 + ["no"] * 15 + ["yes"] * 5 + ["no"] * 10
    >>> b = ["yes"] * 20 + ["no"] * 15 + ["no"] * 5 + ["yes"] * 10
    >>> res = cohen_kappa(a, b)
    >>> round(res.kappa, 4), res.observed_agreement, res.categories
    (0.4, 0.7, ('no', 'yes'))
    """
    labels_a, labels_b = _as_labels(a, "a"), _as_labels(b, "b")
    check_same_length(labels_a, labels_b, "a", "b")
    if weights is not None:
        check_choice(weights, "weights", _WEIGHTS)
    level = check_confidence(confidence)

    categories = _category_order(a, b, np.concatenate([labels_a, labels_b]))
    k = len(categories)
    codes_a = pd.Categorical(labels_a, categories=categories).codes.astype(np.intp)
    codes_b = pd.Categorical(labels_b, categories=categories).codes.astype(np.intp)
    table = np.bincount(codes_a * k + codes_b, minlength=k * k).reshape(k, k).astype(float)
    kappa, se, se0, p_o, p_e = _kappa_from_table(table, _weight_matrix(k, weights))

    z = p_value = math.nan
    if math.isnan(kappa):
        warnings.warn(
            f"Cohen's kappa is undefined because the chance agreement is 1 (categories used: "
            f"{categories}); returning NaN.",
            RuntimeWarning,
            stacklevel=2,
        )
    elif se0 > 0.0:
        z = kappa / se0
        p_value = float(2.0 * stats.norm.sf(abs(z)))
    half = _z(level) * se
    return CohenKappa(
        kappa=kappa,
        se=se,
        ci=Interval(kappa - half, kappa + half, level, "asymptotic"),
        z=z,
        p_value=p_value,
        observed_agreement=p_o,
        expected_agreement=p_e,
        n=int(labels_a.shape[0]),
        weights=weights,
        confidence=level,
        categories=tuple(categories),
    )


# ------------------------------------------------------------------------------------- Lin's CCC


@dataclass(frozen=True)
class ConcordanceCorrelation:
    """Result of :func:`lin_ccc`.

    Attributes
    ----------
    ccc : float
        Lin's concordance correlation ``rho_c = precision * accuracy``.
    ci : Interval
        Fisher z-transform interval with Lin's asymptotic variance (``"z-transform"``).
    precision, accuracy : float
        Pearson r, and the bias correction factor ``C_b = 2 / (v + 1/v + u^2)`` in (0, 1].
    location_shift, scale_shift : float
        ``u = (mean(y) - mean(x)) / sqrt(s_x s_y)`` and ``v = s_y / s_x`` (1/n SDs).
    n : int
        Number of pairs.
    confidence : float
        Two-sided confidence level of ``ci``.
    """

    ccc: float
    ci: Interval
    precision: float
    accuracy: float
    location_shift: float
    scale_shift: float
    n: int
    confidence: float


def _ccc_interval(rho_c: float, r: float, c_b: float, u: float, n: int, level: float) -> Interval:
    """Lin (1989, corrected 2000) variance on Fisher's z scale, via rho_c = r C_b (no 1/r)."""
    var = (
        (1.0 - r**2) * c_b**2 * (1.0 - rho_c**2)
        + 2.0 * rho_c**2 * c_b * (1.0 - rho_c) * u**2
        - 0.5 * rho_c**2 * c_b**2 * u**4
    ) / (n - 2)
    if not var > 0.0 or abs(rho_c) >= 1.0:
        warnings.warn(
            "The asymptotic variance of the concordance correlation is zero (perfect "
            "concordance or discordance); its interval is undefined and returned as NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
        return Interval(math.nan, math.nan, level, "z-transform")
    half = _z(level) * math.sqrt(var) / (1.0 - rho_c**2)
    centre = math.atanh(rho_c)
    return Interval(math.tanh(centre - half), math.tanh(centre + half), level, "z-transform")


def lin_ccc(x: ArrayLike, y: ArrayLike, *, confidence: float = 0.95) -> ConcordanceCorrelation:
    """Lin's concordance correlation coefficient with its z-transform interval.

    Parameters
    ----------
    x, y : array-like of shape (n,)
        Paired measurements of one quantity by two methods (e.g. reference and AI), n >= 3.
    confidence : float, default 0.95
        Two-sided confidence level of the interval, in (0, 1).

    Returns
    -------
    ConcordanceCorrelation

    Raises
    ------
    ValueError
        On fewer than 3 pairs, unequal lengths, NaN or infinite values or a ``confidence``
        outside (0, 1).
    TypeError
        On non-numeric data.

    Warns
    -----
    RuntimeWarning
        When x or y is constant (r, C_b and the shifts undefined: NaN), or when the CCC is
        +/-1 (zero variance: NaN interval).

    Notes
    -----
    Use for agreement of two methods on a continuous scale: unlike Pearson's r it drops when
    one method is shifted or rescaled. Like any correlation it grows with the spread of the
    sample, so report Bland-Altman limits as well. With the 1/n moments of Lin (1989),
    ``rho_c = 2 s_xy / (s_x^2 + s_y^2 + (mean(x) - mean(y))^2) = r C_b``. The interval
    back-transforms ``atanh(rho_c) +/- z sqrt(var) / (1 - rho_c^2)`` with
    ``var = [(1-r^2) rho_c^2 (1-rho_c^2) / r^2 + 2 rho_c^3 (1-rho_c) u^2 / r
    - rho_c^4 u^4 / (2 r^2)] / (n - 2)`` (Lin 1989 as corrected by Lin 2000), as R
    ``DescTools::CCC(ci = "z-transform")`` and ``epiR::epi.ccc``; Lin reports adequate
    coverage from about 10 pairs.

    References
    ----------
    .. [1] Lin LI. A concordance correlation coefficient to evaluate reproducibility.
       Biometrics. 1989;45(1):255-268.
    .. [2] Lin LI. A note on the concordance correlation coefficient. Biometrics.
       2000;56(1):324-325.

    Examples
    --------
    Peak flow, Wright vs mini Wright meter (Bland & Altman 1986, Table 1):

    >>> wright = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478,
    ...           178, 423, 427]
    >>> mini = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477,
    ...         259, 350, 451]
    >>> res = lin_ccc(wright, mini)
    >>> round(res.ccc, 3), round(res.precision, 3), round(res.accuracy, 3)
    (0.943, 0.943, 0.999)
    """
    xs, ys = check_paired(x, y, "x", "y")
    level = check_confidence(confidence)
    n = int(xs.shape[0])
    if n < 3:
        raise ValueError(f"x and y must hold at least 3 pairs for Lin's CCC interval; got n={n}.")
    mean_x, mean_y = float(xs.mean()), float(ys.mean())
    var_x, var_y = float(xs.var()), float(ys.var())
    cov = float(((xs - mean_x) * (ys - mean_y)).mean())
    denominator = var_x + var_y + (mean_x - mean_y) ** 2
    rho_c = 2.0 * cov / denominator if denominator > 0.0 else math.nan
    if var_x == 0.0 or var_y == 0.0:
        warnings.warn(
            "x or y is constant, so Pearson r, the bias correction factor and the shifts are "
            "undefined; returning NaN for them and for the interval.",
            RuntimeWarning,
            stacklevel=2,
        )
        nan_ci = Interval(math.nan, math.nan, level, "z-transform")
        return ConcordanceCorrelation(
            ccc=rho_c,
            ci=nan_ci,
            precision=math.nan,
            accuracy=math.nan,
            location_shift=math.nan,
            scale_shift=math.nan,
            n=n,
            confidence=level,
        )
    sd_x, sd_y = math.sqrt(var_x), math.sqrt(var_y)
    r = cov / (sd_x * sd_y)
    u = (mean_y - mean_x) / math.sqrt(sd_x * sd_y)
    v = sd_y / sd_x
    c_b = 2.0 / (v + 1.0 / v + u**2)
    return ConcordanceCorrelation(
        ccc=rho_c,
        ci=_ccc_interval(rho_c, r, c_b, u, n, level),
        precision=r,
        accuracy=c_b,
        location_shift=u,
        scale_shift=v,
        n=n,
        confidence=level,
    )
