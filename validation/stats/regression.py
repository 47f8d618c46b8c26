"""Method-comparison regression: Deming and Passing-Bablok.

Both fit ``y = intercept + slope * x`` where ``x`` holds the measurements by the reference
(comparative) method and ``y`` those by the method under test, with measurement error in both.
A slope of 1 and an intercept of 0 mean the methods agree; the intervals say whether a
proportional (slope) or constant (intercept) difference is distinguishable from chance.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from validation.stats._checks import (
    check_choice,
    check_confidence,
    check_paired,
    check_positive_finite,
)
from validation.stats.proportions import Interval

__all__ = ["MethodComparisonFit", "deming", "passing_bablok"]

DemingCIMethod = Literal["jackknife"]
PassingBablokCIMethod = Literal["paper", "mcr"]
_DEMING_CI_METHODS: tuple[DemingCIMethod, ...] = get_args(DemingCIMethod)
_PB_CI_METHODS: tuple[PassingBablokCIMethod, ...] = get_args(PassingBablokCIMethod)

# Differences smaller than this, relative to the mean magnitude of the two values, count as
# exact ties (the rule of R package mcr, src/utils.functions.c ``diff``). It lets decimal data
# such as 1.39 - 1.36 versus 0.96 - 0.93 form the exact slope -1 the method must discard.
_REL_TIE = 1e-12
# Number of pairwise differences formed per block in Passing-Bablok (2 MB per temporary).
_PB_BLOCK_ELEMENTS = 1 << 18
# Above this many pairwise slopes (8 bytes each: 256 MiB) they are streamed, never all held:
# n = 8,192 studies; 50,000 studies have 1.25e9 slopes (10 GB).
_PB_MAX_SLOPES = 1 << 25
_PB_SAMPLE_PAIRS = 1 << 20  # pairs sampled to cut the streamed slopes into cells
_PB_EDGES = 1025  # quantiles of the sample that bound the cells


@dataclass(frozen=True)
class MethodComparisonFit:
    """Result of :func:`deming` and :func:`passing_bablok`: ``y = intercept + slope * x``.

    Attributes
    ----------
    method : str
        ``"deming"`` or ``"passing-bablok"``.
    n : int
        Number of (x, y) pairs.
    intercept, slope : float
        Point estimates; NaN when undefined for the data.
    intercept_ci, slope_ci : Interval
        Confidence intervals. Passing-Bablok limits may be infinite when n is too small for
        the requested confidence.
    intercept_se, slope_se : float
        Jackknife standard errors (Deming); NaN for Passing-Bablok, which has none.
    confidence : float
        Two-sided confidence level of both intervals.
    ci_method : str
        ``"jackknife"`` (Deming), ``"paper"`` or ``"mcr"`` (Passing-Bablok).
    error_ratio : float
        Deming's ratio of error variances ``Var(error in x) / Var(error in y)``; NaN for
        Passing-Bablok.
    linearity_cusum : float
        Passing-Bablok's Cusum linearity statistic ``max |cusum|`` (large values indicate
        non-linearity); NaN for Deming.
    """

    method: str
    n: int
    intercept: float
    slope: float
    intercept_ci: Interval
    slope_ci: Interval
    intercept_se: float
    slope_se: float
    confidence: float
    ci_method: str
    error_ratio: float
    linearity_cusum: float


# --------------------------------------------------------------------------- shared helpers


def _check_pairs(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate the paired measurements: same length, finite, n >= 3, neither constant."""
    xs, ys = check_paired(x, y, "x", "y")
    n = int(xs.shape[0])
    if n < 3:
        raise ValueError(
            f"x and y must hold at least 3 pairs for a method-comparison regression; got n={n}."
        )
    for name, values in (("x", xs), ("y", ys)):
        if np.all(values == values[0]):
            raise ValueError(
                f"{name} must not be constant: all {n} values are tied at {values[0]!r}, so "
                "no line relating the two methods can be estimated."
            )
    return xs, ys


def _nan_interval(confidence: float, method: str) -> Interval:
    return Interval(math.nan, math.nan, confidence, method)


# --------------------------------------------------------------------------- Deming


def _deming_slope(
    u: NDArray[np.float64], q: NDArray[np.float64], p: NDArray[np.float64], ratio: float
) -> NDArray[np.float64]:
    """Deming slope from centred sums of squares (vectorised), NaN where undefined.

    ``u = Sxx``, ``q = Syy``, ``p = Sxy`` and ``ratio = Var(err x) / Var(err y)``:
    ``slope = (A + sqrt(A^2 + 4 ratio p^2)) / (2 ratio p)`` with ``A = ratio q - u``
    (Linnet 1990), evaluated in the cancellation-free form ``2 p / (sqrt(...) - A)`` when
    ``A < 0``. The slope is undefined (vertical line or any direction) when ``p = 0`` and
    ``A >= 0``.
    """
    a = ratio * q - u
    root = np.sqrt(a * a + 4.0 * ratio * p * p)
    out = np.full(np.shape(a), math.nan)
    negative = a < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out[negative] = 2.0 * p[negative] / (root[negative] - a[negative])
        ok = ~negative & (p != 0)
        out[ok] = (a[ok] + root[ok]) / (2.0 * ratio * p[ok])
    return out


def _jackknife_interval(
    full: float, leave_one_out: NDArray[np.float64], t_crit: float, level: float
) -> tuple[float, Interval]:
    """Linnet's jackknife: SE from pseudo-values, interval centred on the full-data estimate."""
    n = leave_one_out.shape[0]
    pseudo = n * full - (n - 1) * leave_one_out
    se = float(pseudo.std(ddof=1)) / math.sqrt(n)
    return se, Interval(full - t_crit * se, full + t_crit * se, level, "jackknife")


def _deming_fit(
    n: int,
    intercept: float,
    slope: float,
    intercept_jack: tuple[float, Interval] | None,
    slope_jack: tuple[float, Interval] | None,
    level: float,
    ratio: float,
) -> MethodComparisonFit:
    """Assemble a Deming result; a missing jackknife gives NaN SEs and intervals."""
    nan_jack = (math.nan, _nan_interval(level, "jackknife"))
    intercept_se, intercept_ci = intercept_jack or nan_jack
    slope_se, slope_ci = slope_jack or nan_jack
    return MethodComparisonFit(
        method="deming",
        n=n,
        intercept=intercept,
        slope=slope,
        intercept_ci=intercept_ci,
        slope_ci=slope_ci,
        intercept_se=intercept_se,
        slope_se=slope_se,
        confidence=level,
        ci_method="jackknife",
        error_ratio=ratio,
        linearity_cusum=math.nan,
    )


def deming(
    x: ArrayLike,
    y: ArrayLike,
    *,
    error_ratio: float = 1.0,
    confidence: float = 0.95,
    ci_method: DemingCIMethod = "jackknife",
) -> MethodComparisonFit:
    """Deming regression of a test method on a reference method, with jackknife intervals.

    Parameters
    ----------
    x : array-like of shape (n,)
        Measurements by the reference (comparative) method.
    y : array-like of shape (n,)
        Measurements of the same samples by the method under test.
    error_ratio : float, default 1.0
        Ratio of the measurement-error variances, ``Var(error in x) / Var(error in y)``,
        i.e. reference over test, as the argument ``error.ratio`` of R ``mcr::mcreg``. Note
        that many texts (and Wikipedia's ``delta``) use the reciprocal, test over reference.
        With 1 the fit is orthogonal regression.
    confidence : float, default 0.95
        Two-sided confidence level of the intervals, in (0, 1).
    ci_method : {"jackknife"}, default "jackknife"
        Linnet's (1990, 1993) leave-one-out jackknife, the default of ``mcr::mcreg`` for
        Deming regression. It is the only method offered.

    Returns
    -------
    MethodComparisonFit
        With ``method="deming"``, the jackknife standard errors and intervals and
        ``linearity_cusum`` NaN.

    Raises
    ------
    ValueError
        On fewer than 3 pairs, unequal lengths, NaN or infinite values, constant ``x`` or
        ``y``, a ``confidence`` outside (0, 1), a non-positive or infinite ``error_ratio`` or
        an unknown ``ci_method``.
    TypeError
        On non-numeric data or options.

    Warns
    -----
    RuntimeWarning
        When the slope is undefined (``Sxy = 0`` with ``error_ratio * Syy >= Sxx``: the
        points have no preferred direction), or when a leave-one-out fit is undefined (e.g.
        removing one point leaves ``x`` constant); the affected values are NaN.

    Notes
    -----
    Use Deming regression to compare two methods that both measure with error, when the
    errors are roughly normal with constant variances whose ratio is known (e.g. the ratio
    of the two methods' repeatability variances from duplicate measurements, reference over
    test; with unknown ratio, 1 is the usual choice). For error variances growing with the
    level, weighted Deming is needed (not offered); for outliers or unknown error structure
    prefer :func:`passing_bablok`. Ordinary least squares would bias the slope towards zero
    (regression dilution).

    *Estimate* (Cornbleet & Gochman 1979; Linnet 1990, 1993). With ``u = Sxx``,
    ``q = Syy``, ``p = Sxy`` (centred sums of squares and products) and
    ``lambda = error_ratio``:

    .. math::

        b = \\frac{(\\lambda q - u) + \\sqrt{(u - \\lambda q)^2 + 4 \\lambda p^2}}{2 \\lambda p},
        \\qquad a = \\bar y - b \\bar x.

    *Intervals* (Linnet 1990, 1993): each of the n leave-one-out fits gives ``b_(-i)``
    (computed here in closed form by downdating the sums, without refitting); the
    pseudo-values ``n b - (n - 1) b_(-i)`` have standard deviation ``s``, the jackknife SE is
    ``s / sqrt(n)`` and the interval ``b +/- t(1 - alpha/2; n - 2) * SE``, centred on the
    full-data estimate; likewise for the intercept. This reproduces ``mcr::mcreg(x, y,
    error.ratio=..., method.reg="Deming", method.ci="jackknife")`` and Analyse-it's
    jackknife intervals. The intervals are large-sample approximations; method-comparison
    studies (CLSI EP09) use at least 40 samples.

    References
    ----------
    .. [1] Cornbleet PJ, Gochman N. Incorrect least-squares regression coefficients in
       method-comparison analysis. Clin Chem. 1979;25(3):432-438.
    .. [2] Linnet K. Estimation of the linear relationship between the measurements of two
       methods with proportional errors. Stat Med. 1990;9(12):1463-1473.
    .. [3] Linnet K. Evaluation of regression procedures for methods comparison studies.
       Clin Chem. 1993;39(3):424-432.
    .. [4] Manuilova E, Schuetzenmeister A, Model F. mcr: Method Comparison Regression.
       R package, Roche Diagnostics (function ``mcreg``).

    Examples
    --------
    Data of the test suite of R package ``deming`` (``tests/dtest.R``), whose slope that
    test checks against the closed form:

    >>> x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    >>> noise = [0, -1, 2, -3, 4, -5, 6, -7, 8, -5]
    >>> y = [2.3 * xi + e / 2 for xi, e in zip(x, noise)]
    >>> fit = deming(x, y)
    >>> round(fit.slope, 4), round(fit.intercept, 4)
    (2.5325, -1.3286)
    >>> round(fit.slope_ci.low, 4), round(fit.slope_ci.high, 4), fit.slope_ci.method
    (1.6453, 3.4196, 'jackknife')
    """
    xs, ys = _check_pairs(x, y)
    ratio = check_positive_finite(error_ratio, "error_ratio")
    level = check_confidence(confidence)
    check_choice(ci_method, "ci_method", _DEMING_CI_METHODS)
    n = int(xs.shape[0])

    dx = xs - xs.mean()
    dy = ys - ys.mean()
    u, q, p = float(dx @ dx), float(dy @ dy), float(dx @ dy)
    slope = float(_deming_slope(np.array([u]), np.array([q]), np.array([p]), ratio)[0])
    if math.isnan(slope):
        warnings.warn(
            "The Deming slope is undefined: x and y are uncorrelated (Sxy = 0) and the "
            "scatter has no preferred direction for this error_ratio; returning NaN.",
            RuntimeWarning,
            stacklevel=2,
        )
        return _deming_fit(n, math.nan, math.nan, None, None, level, ratio)
    intercept = float(ys.mean() - slope * xs.mean())

    # Leave-one-out sums by downdating: S_(-i) = S - n/(n-1) * d_i * e_i (centred data).
    factor = n / (n - 1.0)
    u_loo = u - factor * dx * dx
    q_loo = q - factor * dy * dy
    p_loo = p - factor * dx * dy
    # x constant once point i is removed: exactly two distinct x values, one of them single.
    values, inverse, counts = np.unique(xs, return_inverse=True, return_counts=True)
    if values.shape[0] == 2:
        u_loo[counts[inverse] == 1] = 0.0
    slope_loo = _deming_slope(u_loo, q_loo, p_loo, ratio)
    slope_loo[u_loo <= 0.0] = math.nan
    mean_x_loo = (n * xs.mean() - xs) / (n - 1)
    mean_y_loo = (n * ys.mean() - ys) / (n - 1)
    intercept_loo = mean_y_loo - slope_loo * mean_x_loo

    if np.isnan(slope_loo).any():
        warnings.warn(
            f"{int(np.isnan(slope_loo).sum())} leave-one-out Deming fit(s) are undefined "
            "(e.g. x constant without that point); the jackknife intervals are NaN.",
            RuntimeWarning,
            stacklevel=2,
        )
        return _deming_fit(n, intercept, slope, None, None, level, ratio)

    t_crit = float(stats.t.ppf(0.5 + level / 2.0, n - 2))
    return _deming_fit(
        n,
        intercept,
        slope,
        _jackknife_interval(intercept, intercept_loo, t_crit, level),
        _jackknife_interval(slope, slope_loo, t_crit, level),
        level,
        ratio,
    )


# --------------------------------------------------------------------------- Passing-Bablok


def _pairwise_slopes(
    x: NDArray[np.float64], y: NDArray[np.float64], *, float_minus_one: bool
) -> tuple[NDArray[Any], int]:
    """All pairwise slopes oriented for a positive relation, and the shift K.

    ``y`` must already be sign-flipped for a negative relation. Identical pairs (0/0) and
    slopes of -1 are discarded and vertical pairs get ``+inf``; differences below
    ``_REL_TIE`` relative to the values count as zero (as in mcr). A slope is -1 when
    ``|dx + dy|`` is within ``_REL_TIE`` of the values, so that decimal data whose
    differences cancel exactly on paper are recognised; with ``float_minus_one`` it is -1
    only when ``atan(dy/dx) == -pi/4`` in floating point, as in mcr. Pairs are formed in row
    blocks of about ``_PB_BLOCK_ELEMENTS`` differences, so besides the output (8 bytes per
    slope) the working memory stays bounded. Returns the unsorted slopes and
    K = #(slopes < -1).
    """
    n = x.shape[0]
    out = np.empty(n * (n - 1) // 2)
    filled = 0
    shift = 0
    for slopes, below in _slope_blocks(x, y, float_minus_one=float_minus_one):
        shift += below
        out[filled : filled + slopes.shape[0]] = slopes
        filled += slopes.shape[0]
    return out[:filled], shift


def _slope_blocks(
    x: NDArray[np.float64], y: NDArray[np.float64], *, float_minus_one: bool
) -> Iterator[tuple[NDArray[np.float64], int]]:
    """The pairwise slopes (see :func:`_pairwise_slopes`) block by block, with each block's
    count of slopes below -1."""
    n = x.shape[0]
    rows = max(1, _PB_BLOCK_ELEMENTS // n)
    for start in range(0, n - 1, rows):
        stop = min(start + rows, n - 1)
        upper = np.arange(start + 1, n)[None, :] > np.arange(start, stop)[:, None]  # i < j
        xi, xj = np.broadcast_arrays(x[start:stop, None], x[None, start + 1 :])
        yi, yj = np.broadcast_arrays(y[start:stop, None], y[None, start + 1 :])
        yield _pair_slopes(xi[upper], xj[upper], yi[upper], yj[upper], float_minus_one)


def _pair_slopes(
    xi: NDArray[np.float64],
    xj: NDArray[np.float64],
    yi: NDArray[np.float64],
    yj: NDArray[np.float64],
    float_minus_one: bool,
) -> tuple[NDArray[np.float64], int]:
    """Slopes of the pairs (i, j), i < j, without the discarded ones; the count below -1."""
    dx, dy = xj - xi, yj - yi
    scale_x = (np.abs(xi) + np.abs(xj)) / 2.0
    scale_y = (np.abs(yi) + np.abs(yj)) / 2.0
    dx[np.abs(dx) < _REL_TIE * scale_x] = 0.0
    dy[np.abs(dy) < _REL_TIE * scale_y] = 0.0
    keep = (dx != 0.0) | (dy != 0.0)
    dx, dy, scale_x, scale_y = dx[keep], dy[keep], scale_x[keep], scale_y[keep]
    vertical = dx == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.where(vertical, math.inf, dy / np.where(vertical, 1.0, dx))
    if float_minus_one:
        angle = np.arctan(slopes)
        minus_one = angle == -math.pi / 4.0
        below = angle < -math.pi / 4.0
    else:
        minus_one = ~vertical & (np.abs(dx + dy) <= _REL_TIE * (scale_x + scale_y))
        below = ~minus_one & (slopes < -1.0)
    return slopes[~minus_one], int(np.count_nonzero(below))


def _order_stats(slopes: NDArray[Any] | _StreamedSlopes, ranks: list[int]) -> dict[int, float]:
    """The order statistics of the given 1-based ranks (in-place partial sort, O(N))."""
    wanted = sorted({r for r in ranks if 1 <= r <= slopes.shape[0]})
    if isinstance(slopes, _StreamedSlopes):
        values = slopes.partition([r - 1 for r in wanted]) if wanted else {}
        return {r: values[r - 1] for r in wanted}
    if wanted:
        slopes.partition([r - 1 for r in wanted])
    return {r: float(slopes[r - 1]) for r in wanted}


def _angle_mean(a: float, b: float) -> float:
    """Slope of the mean angle of two slopes (how mcr averages two neighbouring slopes)."""
    return math.tan((math.atan(a) + math.atan(b)) / 2.0)


def _half_ranks(twice: int) -> list[int]:
    """Ranks read for twice-rank ``twice`` (mcr): one slope if odd, two neighbours if even."""
    return [(twice + 1) // 2] if twice % 2 else [twice // 2, twice // 2 + 1]


class _StreamedSlopes:
    """The pairwise slopes of a large sample, never held at once: order statistics in 2 passes.

    Pass 1 counts the slopes in cells cut by quantiles of a sample of pairs (each edge value
    is a cell of its own, so a heavily repeated slope costs nothing); pass 2 keeps only the
    slopes in the open cells that hold a wanted rank, and partitions them. The values are the
    same as from the sorted slopes; the memory is a few blocks plus those cells.
    """

    def __init__(self, x: NDArray[np.float64], y: NDArray[np.float64], float_minus_one: bool):
        self.x, self.y, self.float_minus_one = x, y, float_minus_one
        n = x.shape[0]
        rng = np.random.default_rng(0)
        i = rng.integers(0, n, _PB_SAMPLE_PAIRS)
        j = rng.integers(0, n, _PB_SAMPLE_PAIRS)
        i, j = np.minimum(i, j)[i != j], np.maximum(i, j)[i != j]
        sample, _ = _pair_slopes(x[i], x[j], y[i], y[j], float_minus_one)
        quantiles = np.linspace(0.0, 1.0, _PB_EDGES)
        finite = sample[np.isfinite(sample)]
        self.edges = np.unique(np.quantile(finite, quantiles)) if finite.size else np.zeros(1)
        counts = np.zeros(2 * self.edges.shape[0] + 1, dtype=np.int64)
        shift = 0
        for slopes, below in _slope_blocks(x, y, float_minus_one=float_minus_one):
            shift += below
            counts += np.bincount(self._cells(slopes), minlength=counts.shape[0])
        self.counts, self.shift = counts, shift
        self.shape = (int(counts.sum()),)

    def _cells(self, values: NDArray[np.float64]) -> NDArray[np.intp]:
        """Cell 2k: between edges k-1 and k (open); cell 2k + 1: equal to edge k."""
        k = np.searchsorted(self.edges, values, "left")
        last = self.edges.shape[0] - 1
        cells: NDArray[np.intp] = 2 * k + (self.edges[np.minimum(k, last)] == values)
        return cells

    def partition(self, ranks0: list[int]) -> dict[int, float]:
        """The order statistics of the given 0-based ranks."""
        ends = np.cumsum(self.counts)
        where = {r: int(np.searchsorted(ends, r, "right")) for r in ranks0}
        out: dict[int, float] = {}
        wanted_open = sorted({c for c in where.values() if c % 2 == 0})
        for r, c in where.items():
            if c % 2 == 1:
                out[r] = float(self.edges[c // 2])
        if wanted_open:
            kept: dict[int, list[NDArray[np.float64]]] = {c: [] for c in wanted_open}
            blocks = _slope_blocks(self.x, self.y, float_minus_one=self.float_minus_one)
            for slopes, _ in blocks:
                for c in wanted_open:
                    k = c // 2
                    inside = np.ones(slopes.shape[0], dtype=bool)
                    if k > 0:
                        inside &= slopes > self.edges[k - 1]
                    if k < self.edges.shape[0]:
                        inside &= slopes < self.edges[k]
                    kept[c].append(slopes[inside])
            for c in wanted_open:
                cell = np.concatenate(kept[c])
                first = int(ends[c] - self.counts[c])
                local = sorted({r - first for r, cc in where.items() if cc == c})
                cell.partition(local)
                for r, cc in where.items():
                    if cc == c:
                        out[r] = float(cell[r - first])
        return out


def _pb_slope_and_limits(
    slopes: NDArray[Any] | _StreamedSlopes, shift: int, z: float, n: int, rule: str
) -> tuple[float, float, float]:
    """Shifted-median slope and its rank-based limits (``-inf``/``inf`` when out of range)."""
    size = slopes.shape[0]
    c = z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    if rule == "paper":
        m1 = round((size - c) / 2.0)
        m2 = size - m1 + 1
        low_ranks = [m1 + shift] if m1 >= 1 else []
        high_ranks = [m2 + shift] if m2 + shift <= size else []
    else:  # mcr: twice the rank, rounded; an even value averages two neighbours
        high2 = round(size + c) + 2 * shift
        low_ranks = _half_ranks(round(size - c) + 2 * shift) if round(size - c) >= 1 else []
        high_ranks = _half_ranks(high2) if high2 <= 2 * size - 1 else []
    mid = _half_ranks(size + 2 * shift)
    order = _order_stats(slopes, mid + low_ranks + high_ranks)

    def pick(ranks: list[int], missing: float) -> float:
        if not ranks or any(r not in order for r in ranks):
            return missing
        if len(ranks) == 1:
            return order[ranks[0]]
        a, b = order[ranks[0]], order[ranks[1]]
        return (a + b) / 2.0 if rule == "paper" else _angle_mean(a, b)

    return pick(mid, math.nan), pick(low_ranks, -math.inf), pick(high_ranks, math.inf)


def _intercept_for(x: NDArray[np.float64], y: NDArray[np.float64], slope: float) -> float:
    return float(np.median(y - slope * x))


def _cusum_statistic(
    x: NDArray[np.float64], y: NDArray[np.float64], intercept: float, slope: float
) -> float:
    """Passing & Bablok's (1983) Cusum statistic ``max |cusum|`` (as mcr ``calcCUSUM``).

    Residuals ``y - a - b x`` score ``sqrt(L/l)`` if positive, ``-sqrt(l/L)`` if negative
    (``l``, ``L`` = numbers of positive and negative residuals) and 0 if zero; scores are
    cumulated in the order of each point's position along the line,
    ``D = (y + x/b - a) / sqrt(1 + 1/b^2)``.
    """
    if slope == 0.0 or not math.isfinite(slope):
        return math.nan
    residuals = y - intercept - slope * x
    n_pos = int(np.count_nonzero(residuals > 0))
    n_neg = int(np.count_nonzero(residuals < 0))
    up = math.sqrt(n_neg / n_pos) if n_pos else 0.0
    down = math.sqrt(n_pos / n_neg) if n_neg else 0.0
    scores = np.where(residuals > 0, up, np.where(residuals < 0, -down, 0.0))
    position = (y + x / slope - intercept) / math.sqrt(1.0 + 1.0 / slope**2)
    cusum = np.cumsum(scores[np.argsort(position, kind="stable")])
    return float(np.max(np.abs(cusum)))


def passing_bablok(
    x: ArrayLike,
    y: ArrayLike,
    *,
    confidence: float = 0.95,
    ci_method: PassingBablokCIMethod = "paper",
) -> MethodComparisonFit:
    """Passing-Bablok regression of a test method on a reference method.

    Parameters
    ----------
    x : array-like of shape (n,)
        Measurements by the reference (comparative) method (non-negative in practice).
    y : array-like of shape (n,)
        Measurements of the same samples by the method under test.
    confidence : float, default 0.95
        Two-sided confidence level of the intervals, in (0, 1).
    ci_method : {"paper", "mcr"}, default "paper"
        How the rank-based slope limits are read off the ordered slopes. ``"paper"``:
        Passing & Bablok (1983), ranks ``M1 = round((N - C)/2)`` and ``M2 = N - M1 + 1``.
        ``"mcr"``: the variant of R ``mcr::mcreg(method.reg="PaBa", method.ci="analytical")``
        and Roche's Calanas, which rounds ``N -/+ C`` (twice the rank) and averages the two
        neighbouring slopes at half ranks. To reproduce mcr's numbers it also follows mcr in
        averaging two middle slopes through their angles and in discarding a slope as -1
        only when it is -1 in floating point (see Notes).

    Returns
    -------
    MethodComparisonFit
        With ``method="passing-bablok"``, ``intercept_se``, ``slope_se`` and ``error_ratio``
        NaN, and the Cusum linearity statistic in ``linearity_cusum``.

    Raises
    ------
    ValueError
        On fewer than 3 pairs, unequal lengths, NaN or infinite values, constant ``x`` or
        ``y`` (all values tied), a ``confidence`` outside (0, 1) or an unknown ``ci_method``.
    TypeError
        On non-numeric data or options.

    Warns
    -----
    RuntimeWarning
        When n is too small for the requested confidence, so a slope limit falls outside
        the ordered slopes; that limit (and the matching intercept limit) is infinite.

    Notes
    -----
    Use Passing-Bablok regression to compare two methods with errors in both, when the
    error distributions are unknown or outliers are present; it assumes a linear relation,
    continuous data and errors of similar distribution for both methods (ratio of error
    variances about the squared slope). The method is symmetric in x and y and robust to
    outliers. Linearity is checked by Passing & Bablok's (1983) Cusum statistic:
    ``linearity_cusum`` is its ``max |cusum|`` as computed by mcr's ``calcCUSUM``, which the
    paper compares with a Kolmogorov-Smirnov-type critical value. No p-value is computed
    here: we found no reference output to verify one against.

    *Slope.* For all pairs ``i < j`` the slope ``S_ij = (y_j - y_i) / (x_j - x_i)``;
    identical pairs (0/0) and slopes of exactly -1 are discarded, vertical pairs count as
    ``+inf``. Differences below ``1e-12`` times the values count as zero (as in mcr), and a
    slope counts as -1 when ``|dx + dy|`` is that small: in floating point the decimal data
    x = 1.36, 1.39 and y = 0.96, 0.93 give ``(0.93 - 0.96) / (1.39 - 1.36) =
    -1.0000000000000038``, which would otherwise count in K (``ci_method="mcr"`` keeps
    mcr's floating-point behaviour, so on such data the two options can differ a little
    also in the estimates). With the N remaining slopes sorted and ``K`` the number
    below -1, the slope is the shifted median ``S_((N+1)/2 + K)`` (N odd) or
    ``(S_(N/2+K) + S_(N/2+1+K)) / 2``. *Intercept:* ``median(y_i - b x_i)``.

    *Intervals* (paper). With ``C = z(1 - alpha/2) sqrt(n (n-1) (2n+5) / 18)``,
    ``M1 = round((N - C) / 2)``, ``M2 = N - M1 + 1``: the slope limits are ``S_(M1+K)`` and
    ``S_(M2+K)``; the intercept limits are ``median(y - b_U x)`` and ``median(y - b_L x)``
    (swapped if that order is reversed, which can only happen with negative x). ``C`` is
    the normal-approximation quantile of Kendall's S statistic (variance
    ``n (n-1) (2n+5) / 18``), so the interval is distribution-free but approximate and
    ignores ties. Limits outside the ordered slopes (small n) are returned as infinite with
    a warning.

    *Negative relations.* The 1983 procedure assumes a positive relation. When Kendall's
    tau is negative, as mcr and Calanas do, the fit is that of ``(x, -y)`` mirrored back
    (so slopes of +1 are discarded and the median is shifted the other way).

    *Computation.* All ``n (n - 1) / 2`` slopes are formed with numpy in row blocks of a
    fixed size and the needed order statistics found by partial sorting: time O(n^2),
    memory 8 bytes per slope plus about 25 MB of block temporaries (n = 2,000: 16 MB of
    slopes, 0.2 s; n = 10,000: 400 MB, some seconds). Beyond a few tens of thousands of
    pairs the slopes no longer fit in memory: use a quasilinear algorithm (Raymaekers &
    Dufey 2022) or a random subsample.

    References
    ----------
    .. [1] Passing H, Bablok W. A new biometrical procedure for testing the equality of
       measurements from two different analytical methods. Application of linear regression
       procedures for method comparison studies in clinical chemistry, Part I. J Clin Chem
       Clin Biochem. 1983;21(11):709-720.
    .. [2] Bablok W, Passing H, Bender R, Schneider B. A general regression procedure for
       method transformation. Application of linear regression procedures for method
       comparison studies in clinical chemistry, Part III. J Clin Chem Clin Biochem.
       1988;26(11):783-790.
    .. [3] Manuilova E, Schuetzenmeister A, Model F. mcr: Method Comparison Regression.
       R package, Roche Diagnostics (functions ``mcreg``, ``calcCUSUM``).
    .. [4] Raymaekers J, Dufey F. Equivariant Passing-Bablok regression in quasilinear time.
       arXiv:2202.08060, 2022.

    Examples
    --------
    Sen's data, from the test suite of R package ``deming`` (``tests/pbtest.R``), where
    ``pbreg(y ~ t, conf=.93)`` gives coefficients 6 and 4 and slope limits 26/7 and 35/8:

    >>> t = [1, 2, 3, 4, 10, 12, 18]
    >>> y = [9, 15, 19, 20, 45, 55, 78]
    >>> fit = passing_bablok(t, y, confidence=0.93)
    >>> fit.intercept, fit.slope
    (6.0, 4.0)
    >>> fit.slope_ci.low == 26 / 7, fit.slope_ci.high == 35 / 8
    (True, True)
    """
    xs, ys = _check_pairs(x, y)
    level = check_confidence(confidence)
    rule = check_choice(ci_method, "ci_method", _PB_CI_METHODS)
    n = int(xs.shape[0])

    tau = stats.kendalltau(xs, ys).statistic
    sign = 1.0 if tau >= 0 else -1.0  # as mcr: cor(x, y, method="kendall") >= 0
    slopes: NDArray[Any] | _StreamedSlopes
    if n * (n - 1) // 2 <= _PB_MAX_SLOPES:
        slopes, shift = _pairwise_slopes(xs, sign * ys, float_minus_one=rule == "mcr")
    else:  # too many slopes to hold (8 bytes each): stream them twice
        slopes = _StreamedSlopes(xs, sign * ys, float_minus_one=rule == "mcr")
        shift = slopes.shift
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    slope, slope_low, slope_high = _pb_slope_and_limits(slopes, shift, z, n, rule)
    if sign < 0:
        slope, slope_low, slope_high = -slope, -slope_high, -slope_low
    if math.isnan(slope):  # tau = 0 with every discordant slope below -1: no shifted median
        warnings.warn(
            "The Passing-Bablok slope is undefined: the shifted median falls outside the "
            "ordered slopes (no monotone relation between x and y); returning NaN.",
            RuntimeWarning,
            stacklevel=2,
        )
        slope_low, slope_high = math.nan, math.nan

    intercept = _intercept_for(xs, ys, slope)
    a_low = _intercept_for(xs, ys, slope_high) if slope_high != math.inf else -math.inf
    a_high = _intercept_for(xs, ys, slope_low) if slope_low != -math.inf else math.inf
    if math.isinf(slope_low) or math.isinf(slope_high):
        warnings.warn(
            f"n={n} is too small for {level:.0%} Passing-Bablok limits: a rank falls outside "
            "the ordered slopes, so the slope interval (and the matching intercept limit) "
            "is unbounded.",
            RuntimeWarning,
            stacklevel=2,
        )
    interval_name = "passing-bablok" if rule == "paper" else "passing-bablok-mcr"
    return MethodComparisonFit(
        method="passing-bablok",
        n=n,
        intercept=intercept,
        slope=slope,
        intercept_ci=Interval(min(a_low, a_high), max(a_low, a_high), level, interval_name),
        slope_ci=Interval(slope_low, slope_high, level, interval_name),
        intercept_se=math.nan,
        slope_se=math.nan,
        confidence=level,
        ci_method=rule,
        error_ratio=math.nan,
        linearity_cusum=_cusum_statistic(xs, ys, intercept, slope),
    )
