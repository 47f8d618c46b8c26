"""Patient-level cluster bootstrap: seeded percentile and BCa intervals for any statistic.

A patient who contributes several studies makes those studies correlated; resampling studies
as if they were independent understates every standard error. The functions here resample
*clusters* (patients) with replacement, optionally within strata (e.g. within site), and
keep every study of a drawn patient together.

* :func:`cluster_bootstrap` - any statistic of one or more arrays (vectorised through
  resampling weights, or a plain function called once per resample).
* :func:`cluster_bootstrap_ratio` - the fast path for ratios of sums (sensitivity,
  specificity, PPV, a mean difference such as the Bland-Altman bias): every replicate comes
  from a (resamples x clusters) count matrix times the per-cluster sums.
* :func:`cluster_bootstrap_table` - the same ratios for every subgroup (site, vendor, ...),
  as a tidy DataFrame (``metric, stratum, n, estimate, ci_low, ci_high, confidence,
  method`` and the bootstrap's own columns).

Every function takes a required integer ``seed`` and records it in its result, and draws
:data:`DEFAULT_RESAMPLES` resamples unless told otherwise. A result's
:meth:`BootstrapResult.interval` gives its interval at any other confidence level from the same
replicates (e.g. to invert it into a p-value).
"""

from __future__ import annotations

import hashlib
import math
import numbers
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, NamedTuple, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from validation.stats._checks import (
    check_choice,
    check_confidence,
    check_count,
    check_numeric_array,
    check_real,
)
from validation.stats.proportions import Interval

__all__ = [
    "DEFAULT_RESAMPLES",
    "TABLE_COLUMNS",
    "BootstrapMethod",
    "BootstrapResult",
    "cluster_bootstrap",
    "cluster_bootstrap_ratio",
    "cluster_bootstrap_table",
]

BootstrapMethod = Literal["bca", "percentile"]
_METHODS: tuple[BootstrapMethod, ...] = get_args(BootstrapMethod)
_LABELS = {"bca": "BCa", "percentile": "percentile"}
DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples drawn unless a caller states otherwise (the analysis: unless the
protocol states ``analysis.bootstrap.n_resamples``): twice the 1000 Efron & Tibshirani (1993,
ch. 19) ask of an interval, which leaves 50 replicates beyond each limit of a 95% interval."""
_MIN_RESAMPLES = 1000  # Efron & Tibshirani (1993, ch. 19): B of about 1000 for intervals
_MIN_TAIL = 10  # replicates expected beyond each limit
_CHUNK = 1 << 22  # elements per weight/count block (32 MiB of float64)
TABLE_COLUMNS: tuple[str, ...] = (
    "metric",
    "stratum",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "confidence",
    "method",
    "n_clusters",
    "se",
    "n_invalid",
    "n_resamples",
    "seed",
)


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Result of :func:`cluster_bootstrap` and :func:`cluster_bootstrap_ratio`.

    For a scalar statistic every per-statistic field is a float; for a vector statistic of
    length ``k`` it is a float array of shape ``(k,)``, in the order the statistic returns.

    Attributes
    ----------
    estimate : float or ndarray
        The statistic on the full data.
    ci_low, ci_high : float or ndarray
        Confidence limits (NaN where the interval is undefined; see the warnings).
    se : float or ndarray
        Bootstrap standard error: the SD (``ddof=1``) of the valid replicates.
    bias : float or ndarray
        Bootstrap estimate of bias: mean of the valid replicates minus ``estimate``.
    z0, acceleration : float or ndarray
        BCa bias-correction and acceleration constants (NaN for ``method="percentile"``).
    n_invalid : int or ndarray
        Replicates on which the statistic was undefined (NaN), dropped before the interval.
    n : int
        Number of observations (studies).
    n_clusters : int
        Number of clusters (patients) resampled.
    n_strata : int
        Number of strata clusters were resampled within (1 when unstratified).
    n_resamples : int
        Number of bootstrap resamples drawn.
    seed : int
        Seed of the random generator (``numpy.random.default_rng(seed)``).
    method : str
        ``"bca"`` or ``"percentile"``.
    confidence : float
        Two-sided confidence level.
    replicates : ndarray
        The bootstrap replicates, shape ``(n_resamples,)`` or ``(n_resamples, k)``,
        undefined ones as NaN.
    """

    estimate: Any
    ci_low: Any
    ci_high: Any
    se: Any
    bias: Any
    z0: Any
    acceleration: Any
    n_invalid: Any
    n: int
    n_clusters: int
    n_strata: int
    n_resamples: int
    seed: int
    method: str
    confidence: float
    replicates: NDArray[np.float64] = field(repr=False)

    @property
    def ci(self) -> Interval | tuple[Interval, ...]:
        """The interval as an :class:`Interval` (a tuple of them for a vector statistic)."""
        label = f"cluster bootstrap {_LABELS[self.method]}"
        if np.ndim(self.estimate) == 0:
            return Interval(float(self.ci_low), float(self.ci_high), self.confidence, label)
        return tuple(
            Interval(float(lo), float(hi), self.confidence, label)
            for lo, hi in zip(self.ci_low, self.ci_high, strict=True)
        )

    def interval(self, confidence: float) -> tuple[float, float]:
        """The interval at another confidence level, from the same replicates.

        Parameters
        ----------
        confidence : float
            Two-sided confidence level, in (0, 1).

        Returns
        -------
        tuple of float
            ``(low, high)`` by the result's own method (BCa or percentile); at the result's
            ``confidence`` it is ``(ci_low, ci_high)``. NaN when the BCa interval is undefined
            (``z0`` or the acceleration not finite); the point estimate twice when every
            replicate is equal.

        Raises
        ------
        TypeError, ValueError
            ``confidence`` not a number in (0, 1).
        ValueError
            The result is of a vector statistic (one interval per statistic is not a pair).

        Notes
        -----
        Neither the replicates, ``z0`` nor the acceleration depend on the level, so an
        interval at any level (e.g. to invert it into a p-value) costs two quantiles, not a
        new bootstrap. The BCa levels are ``Phi(z0 + w / (1 - a w))`` with ``w = z0 + z_q``
        for the normal quantiles ``z_q`` of ``(1 - confidence)/2`` and ``(1 + confidence)/2``.
        With a large acceleration, levels near 1 pass the pole ``1 - a w = 0`` of that
        transformation, where the BCa level reaches 1 (or 0 for ``a < 0``): there the limit
        is the end of the bootstrap distribution, so the limits stay monotone in the level
        and an interval can be inverted into a p-value. (The bootstrap functions report a NaN
        interval, with a warning, when that happens at their own level.) Levels far in the
        tails need enough resamples beyond the limits; unlike the bootstrap functions this
        method does not enforce that.

        References
        ----------
        .. [1] Efron B. Better bootstrap confidence intervals. J Am Stat Assoc.
           1987;82(397):171-185.
        .. [2] DiCiccio TJ, Efron B. Bootstrap confidence intervals. Stat Sci.
           1996;11(3):189-228.

        Examples
        --------
        >>> import numpy as np
        >>> x = np.array([10, 12, 12.5, 12.5, 13.9, 15, 21, 22, 23, 34, 50, 81, 89, 121, 134, 213])
        >>> def mean(x, weights):
        ...     return weights @ x / weights.sum(axis=1)
        >>> res = cluster_bootstrap((x,), mean, seed=1)
        >>> res.interval(res.confidence) == (res.ci_low, res.ci_high)
        True
        >>> low90, high90 = res.interval(0.90)
        >>> res.ci_low < low90 < high90 < res.ci_high
        True
        """
        level = check_confidence(confidence)
        if np.ndim(self.estimate) != 0:
            raise ValueError(
                "interval() needs the result of a scalar statistic; this one holds "
                f"{np.size(self.estimate)} statistics."
            )
        theta = float(self.estimate)
        valid = self.replicates[np.isfinite(self.replicates)]
        if valid.size == 0 or not math.isfinite(theta):
            return math.nan, math.nan
        stored = float(self.acceleration)
        limits = _limits(valid, theta, level, self.method, lambda: stored)
        return limits.low, limits.high


# --------------------------------------------------------------------------- checks


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            "seed must be a non-negative int (state it in the protocol, it is recorded in the "
            f"result); got {seed!r} of type {type(seed).__name__}."
        )
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative int; got {int(seed)}.")
    return int(seed)


def _check_resamples(n_resamples: Any, confidence: float) -> int:
    count = check_count(n_resamples, "n_resamples")
    tail = (1.0 - confidence) / 2.0
    needed = max(_MIN_RESAMPLES, math.ceil(_MIN_TAIL / tail - 1e-9))
    if count < needed:
        raise ValueError(
            f"n_resamples must be at least {needed} for a {confidence:g} interval (at least "
            f"{_MIN_RESAMPLES}, and {_MIN_TAIL} replicates expected beyond each limit); "
            f"got {count}."
        )
    return count


def _check_fraction(value: Any, name: str) -> float:
    number = check_real(value, name, "a number in [0, 1)")
    if not 0.0 <= number < 1.0:
        raise ValueError(f"{name} must be in [0, 1); got {value!r}.")
    return number


@dataclass(frozen=True)
class _Options:
    """The checked options every bootstrap here takes."""

    method: str
    confidence: float
    n_resamples: int
    seed: int
    max_invalid: float

    @property
    def draws(self) -> tuple[int, int, str]:
        """What the replicates and jackknife depend on (the memo key; not the level)."""
        return self.seed, self.n_resamples, self.method


def _check_options(
    method: Any, confidence: Any, n_resamples: Any, seed: Any, max_invalid: Any
) -> _Options:
    chosen = check_choice(method, "method", _METHODS)
    level = check_confidence(confidence)
    return _Options(
        method=chosen,
        confidence=level,
        n_resamples=_check_resamples(n_resamples, level),
        seed=_check_seed(seed),
        max_invalid=_check_fraction(max_invalid, "max_invalid"),
    )


def _codes(labels: ArrayLike, name: str, n: int) -> tuple[NDArray[np.intp], NDArray[Any]]:
    """Integer codes of ``labels`` in sorted label order, and the sorted unique labels."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {array.shape}.")
    if array.shape[0] != n:
        raise ValueError(
            f"{name} must hold one label per observation: expected {n}, got {array.shape[0]}."
        )
    try:
        codes, uniques = pd.factorize(array, sort=True)
    except TypeError as exc:
        raise TypeError(f"{name} labels must be mutually comparable; {exc}") from exc
    missing = codes < 0
    if missing.any():
        raise ValueError(
            f"{name} must not contain missing labels (None or NaN); found {int(missing.sum())}, "
            f"the first at index {int(np.flatnonzero(missing)[0])}."
        )
    return codes.astype(np.intp), np.asarray(uniques)


def _cluster_codes(clusters: ArrayLike | None, n: int) -> tuple[NDArray[np.intp], NDArray[Any]]:
    """:func:`_codes` of the clusters; without clusters, every observation is its own."""
    if clusters is None:
        return np.arange(n, dtype=np.intp), np.arange(n)
    return _codes(clusters, "clusters", n)


# --------------------------------------------------------------------------- resampling layout


@dataclass(frozen=True)
class _Layout:
    """Clusters ordered by stratum, then by sorted cluster label.

    ``row_cluster[i]`` is the position of observation ``i``'s cluster in that order;
    stratum ``s`` owns positions ``starts[s] : starts[s] + sizes[s]``.
    """

    row_cluster: NDArray[np.intp]
    cluster_stratum: NDArray[np.intp]
    starts: NDArray[np.intp]
    sizes: NDArray[np.intp]

    @property
    def n_clusters(self) -> int:
        return int(self.cluster_stratum.shape[0])


def _layout(n: int, clusters: ArrayLike | None, strata: ArrayLike | None) -> _Layout:
    cluster_codes, cluster_labels = _cluster_codes(clusters, n)
    n_clusters = int(cluster_labels.shape[0])
    if n_clusters < 2:
        raise ValueError(
            f"clusters must hold at least 2 distinct clusters (patients) to bootstrap; got "
            f"{n_clusters}."
        )
    if strata is None:
        stratum_of = np.zeros(n_clusters, dtype=np.intp)
    else:
        strata_codes, strata_labels = _codes(strata, "strata", n)
        stratum_of = np.empty(n_clusters, dtype=np.intp)
        stratum_of[cluster_codes] = strata_codes
        crossing = stratum_of[cluster_codes] != strata_codes
        if crossing.any():
            row = int(np.flatnonzero(crossing)[0])
            raise ValueError(
                "clusters must be nested in strata (each patient in one stratum); cluster "
                f"{cluster_labels[cluster_codes[row]]!r} appears in strata "
                f"{strata_labels[stratum_of[cluster_codes[row]]]!r} and "
                f"{strata_labels[strata_codes[row]]!r}."
            )
    order = np.lexsort((np.arange(n_clusters), stratum_of))
    position = np.empty(n_clusters, dtype=np.intp)
    position[order] = np.arange(n_clusters)
    cluster_stratum = stratum_of[order]
    sizes = np.bincount(cluster_stratum).astype(np.intp)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.intp)
    return _Layout(position[cluster_codes], cluster_stratum, starts, sizes)


#: replicates and jackknife values of recent bootstraps, which do not depend on the confidence
#: level: inverting an interval into a p-value (validation.analysis.acceptance) asks for the
#: same bootstrap at dozens of levels, and redrawing 2,000 resamples each time dominated the
#: analysis of a large study. Keyed by the data's bytes, the clusters and strata layout, the
#: seed, the number of resamples, the method and the statistic (a function without closure
#: cells only: one whose result is fixed by its arguments); least recently used evicted.
_MEMO: OrderedDict[tuple[Hashable, ...], tuple[Any, ...]] = OrderedDict()
_MEMO_SIZE = 32


def _digest(*arrays: NDArray[Any]) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _memo_key(
    kind: str, statistic: Any, arrays: Sequence[NDArray[Any]], layout: _Layout, *rest: Hashable
) -> tuple[Hashable, ...] | None:
    """The memo key of a bootstrap, or None when the statistic may hold state (a closure)."""
    if statistic is not None and getattr(statistic, "__closure__", True) is not None:
        return None
    data = _digest(*arrays, layout.row_cluster, layout.cluster_stratum)
    return (kind, statistic, data, *rest)


def _memo_get(key: tuple[Hashable, ...] | None) -> tuple[Any, ...] | None:
    if key is None or key not in _MEMO:
        return None
    _MEMO.move_to_end(key)
    return _MEMO[key]


def _memo_put(key: tuple[Hashable, ...] | None, value: tuple[Any, ...]) -> None:
    if key is None:
        return
    _MEMO[key] = value
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)


def _chunk_rows(width: int, total: int) -> int:
    return max(1, min(total, _CHUNK // max(width, 1)))


def _draw_counts(
    rng: np.random.Generator, starts: NDArray[np.intp], sizes: NDArray[np.intp], rows: int
) -> NDArray[np.float64]:
    """``rows`` resamples: how often each cluster is drawn, clusters drawn within strata.

    Stratum by stratum, each resample draws as many cluster indices as the stratum has,
    uniformly with replacement (``rng.integers``), as scipy.stats.bootstrap draws indices.
    """
    counts = np.empty((rows, int(sizes.sum())))
    offsets = np.arange(rows, dtype=np.int64)[:, None]
    for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
        draws = rng.integers(0, size, size=(rows, size))
        draws += offsets * size
        block = np.bincount(draws.ravel(), minlength=rows * size)
        counts[:, start : start + size] = block.reshape(rows, size)
    return counts


# --------------------------------------------------------------------------- intervals


@dataclass
class _Summary:
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    se: NDArray[np.float64]
    bias: NDArray[np.float64]
    z0: NDArray[np.float64]
    acceleration: NDArray[np.float64]
    n_invalid: NDArray[np.int64]
    notes: list[tuple[int, str, str]]  # (component, kind, message)
    excess: list[int]  # components with too many invalid replicates


def _acceleration(
    jack: NDArray[np.float64], stratum: NDArray[np.intp], sizes: NDArray[np.intp]
) -> float:
    """Jackknife acceleration over clusters, stratified as in Davison & Hinkley (1997).

    ``u_g = (n_s - 1) / n_s * (mean_s - theta_(g))`` for cluster ``g`` of stratum ``s`` (with
    ``n_s`` clusters), and ``a = sum u^3 / (6 (sum u^2)^1.5)``; unstratified, the factor
    cancels and this is Efron & Tibshirani (1993, section 14.3). Undefined leave-one-out values
    (NaN) are left out.
    """
    ok = np.isfinite(jack)
    if not ok.any():
        return 0.0
    n_strata = sizes.shape[0]
    totals = np.bincount(stratum[ok], weights=jack[ok], minlength=n_strata)
    counts = np.bincount(stratum[ok], minlength=n_strata)
    means = totals / np.maximum(counts, 1)
    n_s = sizes[stratum[ok]].astype(np.float64)
    u = (n_s - 1.0) / n_s * (means[stratum[ok]] - jack[ok])
    denominator = float(u @ u)
    if denominator == 0.0:
        return 0.0
    return float((u**3).sum() / (6.0 * denominator**1.5))


class _Limits(NamedTuple):
    """One statistic's interval from its valid replicates, and what went wrong, if anything."""

    low: float
    high: float
    z0: float
    acceleration: float
    problem: str | None  # "degenerate", "one-sided", "acceleration", "edge" or None
    levels: NDArray[np.float64] | None  # the BCa quantile levels


def _no_acceleration() -> float:
    return 0.0


def _limits(
    valid: NDArray[np.float64],
    theta: float,
    confidence: float,
    method: str,
    acceleration: Callable[[], float],
) -> _Limits:
    """Percentile or BCa limits of one statistic: the one implementation of both intervals.

    ``valid`` holds the finite replicates and ``theta`` the (finite) full-data estimate;
    ``acceleration`` is called only when a BCa interval needs it (the jackknife is costly).

    The BCa level ``Phi(z0 + w / (1 - a w))``, ``w = z0 + z_q``, rises to 1 (``a > 0``) or
    falls to 0 (``a < 0``) as ``1 - a w`` falls to 0, and is undefined beyond. Past that pole
    the limit on that side is the end of the bootstrap distribution (the limit of the BCa
    limit at the pole), with the problem ``"acceleration"``: a reported interval is then NaN
    (:func:`_summarise`), while :meth:`BootstrapResult.interval` keeps the limit, so that an
    interval inverted into a p-value stays monotone in the level.
    """
    nan = math.nan
    spread = float(valid.max() - valid.min())
    if spread <= 1e-12 * max(1.0, abs(theta), float(np.abs(valid).max())):
        return _Limits(theta, theta, nan, nan, "degenerate", None)
    alpha = (1.0 - confidence) / 2.0
    if method == "percentile":
        low, high = np.quantile(valid, [alpha, 1.0 - alpha])
        return _Limits(float(low), float(high), nan, nan, None, None)
    below = np.count_nonzero(valid < theta) + 0.5 * np.count_nonzero(valid == theta)
    z0 = float(special.ndtri(below / valid.shape[0]))
    if not math.isfinite(z0):
        return _Limits(nan, nan, z0, nan, "one-sided", None)
    a = float(acceleration())
    if not math.isfinite(a):
        return _Limits(nan, nan, z0, a, "acceleration", None)
    shifted = z0 + special.ndtri(np.array([alpha, 1.0 - alpha]))
    scale = 1.0 - a * shifted
    defined = scale > 0.0
    levels = np.where(defined, special.ndtr(z0 + shifted / np.where(defined, scale, 1.0)), a > 0)
    edge = 1.0 / valid.shape[0]
    if not defined.all():
        problem: str | None = "acceleration"
    elif levels[0] < edge or levels[1] > 1.0 - edge:
        problem = "edge"
    else:
        problem = None
    low, high = np.quantile(valid, levels)
    return _Limits(float(low), float(high), z0, a, problem, levels)


def _problem_note(limits: _Limits) -> str:
    """The warning text of an interval's problem."""
    if limits.problem == "degenerate":
        return "every replicate is equal: the interval is the point estimate"
    if limits.problem == "one-sided":
        return (
            "every replicate lies on one side of the estimate: the BCa interval is undefined "
            "(NaN); consider method='percentile'"
        )
    if limits.problem == "acceleration":
        return f"the acceleration a={limits.acceleration:.3g} is too large: BCa undefined"
    low, high = limits.levels if limits.levels is not None else (math.nan, math.nan)
    return (
        f"the BCa levels ({low:.4g}, {high:.4g}) reach the end of the bootstrap distribution; "
        "increase n_resamples"
    )


def _summarise(
    replicates: NDArray[np.float64],
    estimate: NDArray[np.float64],
    jackknife: NDArray[np.float64] | None,
    layout_stratum: NDArray[np.intp],
    sizes: NDArray[np.intp],
    options: _Options,
) -> _Summary:
    """Percentile or BCa limits, SE and bias of each statistic (column) of ``replicates``."""
    n_resamples, k = replicates.shape
    nan = np.full(k, np.nan)
    low, high, se, bias, z0s, accs = (nan.copy() for _ in range(6))
    n_invalid = np.zeros(k, dtype=np.int64)
    notes: list[tuple[int, str, str]] = []
    excess: list[int] = []
    for j in range(k):
        column = replicates[:, j]
        valid = column[np.isfinite(column)]
        n_invalid[j] = n_resamples - valid.shape[0]
        theta = float(estimate[j])
        if not math.isfinite(theta):
            notes.append((j, "undefined", "the statistic is undefined (NaN) on the full data"))
            continue
        if n_invalid[j] > options.max_invalid * n_resamples:
            excess.append(j)
            continue
        if n_invalid[j]:
            notes.append(
                (
                    j,
                    "dropped",
                    f"{n_invalid[j]} of {n_resamples} replicates were undefined (NaN) and "
                    "were dropped",
                )
            )
        se[j] = float(valid.std(ddof=1))
        bias[j] = float(valid.mean()) - theta
        acceleration = (
            _no_acceleration
            if jackknife is None
            else partial(_acceleration, jackknife[:, j], layout_stratum, sizes)
        )
        limits = _limits(valid, theta, options.confidence, options.method, acceleration)
        if limits.problem != "acceleration":  # past the BCa pole no interval is reported
            low[j], high[j] = limits.low, limits.high
        z0s[j], accs[j] = limits.z0, limits.acceleration
        if limits.problem is not None:
            notes.append((j, limits.problem, _problem_note(limits)))
    return _Summary(low, high, se, bias, z0s, accs, n_invalid, notes, excess)


#: A bootstrap's draws, as memoised: the estimate, whether it is a scalar, the replicates and
#: (BCa) the jackknife values.
_Cached = tuple[NDArray[np.float64], bool, NDArray[np.float64], NDArray[np.float64] | None]


def _bootstrap_result(
    key: tuple[Hashable, ...] | None,
    draw: Callable[[], _Cached],
    layout: _Layout,
    n: int,
    options: _Options,
) -> BootstrapResult:
    """The bootstrap's result from its memoised (or newly drawn) replicates."""
    cached = _memo_get(key)
    if cached is None:
        cached = draw()
        _memo_put(key, cached)
    estimate, scalar, replicates, jackknife = cached
    summary = _summarise(
        replicates, estimate, jackknife, layout.cluster_stratum, layout.sizes, options
    )
    n_resamples, max_invalid = options.n_resamples, options.max_invalid
    if summary.excess:
        j = summary.excess[0]
        count = int(summary.n_invalid[j])
        which = "" if scalar else f" of statistic {j}"
        raise ValueError(
            f"{count} of {n_resamples} replicates{which} ({count / n_resamples:.1%}) are "
            f"undefined (NaN), more than max_invalid={max_invalid:g}: the resamples where the "
            "statistic is defined are not representative (e.g. too few positive patients for "
            "a sensitivity)."
        )
    for j, _, note in summary.notes:
        where = "" if scalar else f"statistic {j}: "
        warnings.warn(f"cluster bootstrap: {where}{note}.", RuntimeWarning, stacklevel=3)

    def pick(values: NDArray[Any]) -> Any:
        return values[0].item() if scalar else values

    return BootstrapResult(
        estimate=pick(estimate.copy()),
        ci_low=pick(summary.low),
        ci_high=pick(summary.high),
        se=pick(summary.se),
        bias=pick(summary.bias),
        z0=pick(summary.z0),
        acceleration=pick(summary.acceleration),
        n_invalid=pick(summary.n_invalid),
        n=n,
        n_clusters=layout.n_clusters,
        n_strata=int(layout.sizes.shape[0]),
        n_resamples=n_resamples,
        seed=options.seed,
        method=options.method,
        confidence=options.confidence,
        replicates=(replicates[:, 0] if scalar else replicates).copy(),
    )


# --------------------------------------------------------------------------- generic statistic


def _as_rows(value: Any, rows: int) -> NDArray[np.float64]:
    """A vectorised statistic's output as ``(rows, k)``."""
    out = np.asarray(value, dtype=np.float64)
    if out.ndim == 0 and rows == 1:
        out = out.reshape(1)
    if out.ndim not in (1, 2) or out.shape[0] != rows:
        raise ValueError(
            "statistic must return one value, or one 1-D vector of values, per row of "
            f"`weights`: expected shape ({rows},) or ({rows}, k); got shape {out.shape}."
        )
    return out.reshape(rows, -1)


def _as_vector(value: Any) -> NDArray[np.float64]:
    """A plain statistic's output as ``(k,)``."""
    out = np.asarray(value, dtype=np.float64)
    if out.ndim > 1:
        raise ValueError(f"statistic must return a scalar or a 1-D vector; got shape {out.shape}.")
    return out.reshape(-1)


def cluster_bootstrap(
    data: Sequence[ArrayLike],
    statistic: Callable[..., Any],
    *,
    seed: int,
    clusters: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    method: BootstrapMethod = "bca",
    vectorized: bool = True,
    max_invalid: float = 0.01,
) -> BootstrapResult:
    """Cluster (patient-level) bootstrap interval of any statistic, percentile or BCa.

    Parameters
    ----------
    data : sequence of array-like
        One or more arrays with one row per observation (study), e.g. ``(method,
        reference)`` or ``(y_true, y_pred)``; 1-D or 2-D, numeric or boolean, all finite.
        Rows are resampled together (paired).
    statistic : callable
        If ``vectorized`` (the default), called as ``statistic(*data, weights=w)`` with ``w``
        a float array of shape ``(b, n)``: row ``r`` gives how many times each observation
        is in resample ``r`` (the number of times its cluster was drawn). It must return
        shape ``(b,)``, or ``(b, k)`` for ``k`` statistics at once; e.g. a mean is
        ``w @ x / w.sum(axis=1)``. The full-data estimate is the call with ``w`` all ones.
        If not vectorized, called as ``statistic(*resampled)`` on the resampled arrays (the
        rows of each drawn cluster, repeated as often as it was drawn) and returning a
        scalar or a 1-D vector; one Python call per resample, so slow on large data.
    seed : int
        Seed of ``numpy.random.default_rng``; required and recorded in the result.
    clusters : array-like of shape (n,), optional
        Cluster (patient) label of every observation. Omitted, every observation is its own
        cluster: the ordinary bootstrap.
    strata : array-like of shape (n,), optional
        Stratum (e.g. site) of every observation: clusters are resampled within strata,
        keeping each stratum's number of clusters. Clusters must be nested in strata.
    n_resamples : int, default DEFAULT_RESAMPLES
        Number of resamples: at least 1000, and enough for 10 replicates beyond each limit.
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).
    method : {"bca", "percentile"}, default "bca"
        Bias-corrected and accelerated, or percentile interval.
    vectorized : bool, default True
        How ``statistic`` is called (see above).
    max_invalid : float, default 0.01
        Largest fraction of replicates on which the statistic may be undefined (NaN, e.g. a
        resample without positives); those are dropped with a warning. Above it, an error.

    Returns
    -------
    BootstrapResult
        Estimate, limits (``ci_low``, ``ci_high``; :attr:`BootstrapResult.ci` as
        :class:`Interval`), SE, bias, ``z0``, acceleration and the replicates.

    Raises
    ------
    TypeError
        A missing or non-integer ``seed``, non-numeric data, a non-callable statistic.
    ValueError
        Arrays of different lengths, NaN or infinite values, ``clusters`` or ``strata`` of
        the wrong length or with missing labels, fewer than 2 clusters, clusters not nested
        in strata, too few ``n_resamples``, ``confidence`` outside (0, 1), a statistic
        undefined on the full data or on more than ``max_invalid`` of the resamples, or a
        statistic returning the wrong shape.

    Warns
    -----
    RuntimeWarning
        Undefined replicates dropped; every replicate equal (the interval is then the point
        estimate); a BCa interval that is undefined or reaches the end of the replicates.

    Notes
    -----
    Use it when observations are not independent because a patient (or another unit)
    contributes several of them, and for statistics without a closed-form interval. It
    treats patients as the independent units: a study-level bootstrap of such data gives
    intervals too narrow by roughly the square root of the design effect.

    *Resampling*: each resample draws ``G_s`` clusters with replacement from the ``G_s``
    clusters of each stratum (``rng.integers``, strata in sorted label order, clusters in
    sorted label order within a stratum); an observation's weight is its cluster's count.
    With one cluster per observation and no strata, the draws, replicates and intervals are
    those of ``scipy.stats.bootstrap(..., rng=numpy.random.default_rng(seed))``.

    *Percentile interval*: the ``(1 - confidence)/2`` and ``(1 + confidence)/2`` quantiles of
    the replicates (linear interpolation). Its coverage error is of order ``1/sqrt(G)``.

    *BCa interval* (Efron 1987; Efron & Tibshirani 1993, ch. 14): the quantiles at levels
    ``Phi(z0 + (z0 + z_q) / (1 - a (z0 + z_q)))`` for ``z_q`` the normal quantiles of the two
    nominal levels. ``z0 = Phi^-1(p)`` with ``p`` the proportion of replicates below the
    estimate, ties counted one half (as scipy.stats.bootstrap; E&T section 14.3 counts strictly
    below, the same for continuous statistics). The acceleration ``a`` is the jackknife
    skewness over *clusters* (leave one patient out), E&T section 14.3, and within strata the
    stratified (several-sample) form of Davison & Hinkley (1997). Its coverage error is of order
    ``1/G``; it corrects for bias and skewness (proportions near 0 or 1, variances).

    Undefined replicates are dropped, which conditions on the statistic being defined; past
    ``max_invalid`` that conditioning is no longer negligible and the function raises. When
    every replicate is equal (e.g. a sensitivity of 1 where every positive is detected) the
    interval is the point: the bootstrap cannot express uncertainty there; report an exact
    binomial interval instead.

    References
    ----------
    .. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993;
       chapters 13-14 (percentile and BCa intervals), 19 (number of resamples).
    .. [2] Efron B. Better bootstrap confidence intervals. J Am Stat Assoc.
       1987;82(397):171-185.
    .. [3] Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge
       University Press, 1997; chapter 3 (several samples, hierarchical data) and chapter 5.
    .. [4] Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B.
       2007;69(3):369-390.

    Examples
    --------
    Variance of the spatial test scores A (Efron & Tibshirani 1993, table 14.1), 90% BCa:

    >>> a = [48, 36, 20, 29, 42, 42, 20, 42, 22, 41, 45, 14, 6, 0, 33, 28, 34, 4, 32, 24,
    ...      47, 41, 24, 26, 30, 41]
    >>> def variance(x, weights):
    ...     total = weights.sum(axis=1)
    ...     mean = weights @ x / total
    ...     return weights @ x**2 / total - mean**2
    >>> res = cluster_bootstrap((a,), variance, confidence=0.90, seed=2024)
    >>> round(res.estimate, 1), round(res.acceleration, 3)
    (171.5, 0.061)
    >>> res.ci.method
    'cluster bootstrap BCa'

    Two studies per patient, resampled by patient:

    >>> import numpy as np
    >>> diff = np.array([0.3, 0.5, -0.2, 0.1, 0.4, 0.0, 0.6, 0.2])
    >>> patient = [1, 1, 2, 2, 3, 3, 4, 4]
    >>> def mean(x, weights):
    ...     return weights @ x / weights.sum(axis=1)
    >>> res = cluster_bootstrap((diff,), mean, clusters=patient, seed=7)
    >>> res.n, res.n_clusters, round(res.estimate, 4)
    (8, 4, 0.2375)
    """
    options = _check_options(method, confidence, n_resamples, seed, max_invalid)
    if not callable(statistic):
        raise TypeError(f"statistic must be callable; got {type(statistic).__name__}.")
    if not isinstance(vectorized, bool):
        raise TypeError(f"vectorized must be True or False; got {vectorized!r}.")
    if isinstance(data, np.ndarray) or not isinstance(data, Sequence) or len(data) == 0:
        raise TypeError(
            "data must be a non-empty tuple of arrays, e.g. (x,) or (method, reference); got "
            f"{type(data).__name__}."
        )
    arrays = [
        check_numeric_array(a, f"data[{i}]", ndim=(1, 2), booleans=True) for i, a in enumerate(data)
    ]
    n = arrays[0].shape[0]
    for i, a in enumerate(arrays[1:], start=1):
        if a.shape[0] != n:
            raise ValueError(
                f"data arrays must have the same length; data[0] has {n} rows and data[{i}] "
                f"has {a.shape[0]}."
            )
    layout = _layout(n, clusters, strata)
    key = _memo_key("generic", statistic, arrays, layout, vectorized, *options.draws)
    return _bootstrap_result(
        key,
        lambda: _generic_replicates(arrays, statistic, layout, vectorized, options),
        layout,
        n,
        options,
    )


def _generic_replicates(
    arrays: list[NDArray[np.float64]],
    statistic: Callable[..., Any],
    layout: _Layout,
    vectorized: bool,
    options: _Options,
) -> _Cached:
    """The estimate, whether it is a scalar, the replicates and (BCa) the jackknife values."""
    resamples = options.n_resamples
    n = arrays[0].shape[0]
    if vectorized:
        raw = statistic(*arrays, weights=np.ones((1, n)))
        scalar = np.ndim(raw) <= 1
        estimate = _as_rows(raw, 1)[0]
    else:
        raw = statistic(*arrays)
        scalar = np.ndim(raw) == 0
        estimate = _as_vector(raw)
    k = estimate.shape[0]
    if not np.all(np.isfinite(estimate)):
        raise ValueError(
            f"statistic is undefined (NaN or infinite) on the full data: {estimate.tolist()}."
        )

    rng = np.random.default_rng(options.seed)
    width = max(n, layout.n_clusters)
    rows = _chunk_rows(width, resamples)
    replicates = np.empty((resamples, k))
    index = np.arange(n)
    for start in range(0, resamples, rows):
        b = min(rows, resamples - start)
        counts = _draw_counts(rng, layout.starts, layout.sizes, b)
        weights = counts[:, layout.row_cluster]
        if vectorized:
            block = _as_rows(statistic(*arrays, weights=weights), b)
        else:
            block = np.stack(
                [
                    _as_vector(statistic(*(a[np.repeat(index, w.astype(np.intp))] for a in arrays)))
                    for w in weights
                ]
            )
        if block.shape[1] != k:
            raise ValueError(
                f"statistic returned {block.shape[1]} values on a resample but {k} on the full "
                "data."
            )
        replicates[start : start + b] = block

    jackknife = None
    if options.method == "bca":
        jackknife = _jackknife(arrays, statistic, layout, vectorized, k)
    return estimate, scalar, replicates, jackknife


def _jackknife(
    arrays: list[NDArray[np.float64]],
    statistic: Callable[..., Any],
    layout: _Layout,
    vectorized: bool,
    k: int,
) -> NDArray[np.float64]:
    """The statistic with each cluster left out in turn, shape ``(n_clusters, k)``.

    Re-weighting costs O(n_clusters * n). A vectorized statistic may carry a
    ``leave_one_cluster_out(*arrays, row_cluster=..., n_clusters=...)`` attribute that
    returns the same values directly (e.g. :func:`validation.stats.roc.auc_leave_one_cluster_out`
    for the AUC, in O(n log n)), or None to fall back to re-weighting.
    """
    n = arrays[0].shape[0]
    n_clusters = layout.n_clusters
    direct = getattr(statistic, "leave_one_cluster_out", None) if vectorized else None
    if direct is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = direct(*arrays, row_cluster=layout.row_cluster, n_clusters=n_clusters)
        if values is not None:
            return _as_rows(values, n_clusters)
    out = np.empty((n_clusters, k))
    with np.errstate(divide="ignore", invalid="ignore"):
        if vectorized:
            rows = _chunk_rows(n, n_clusters)
            for start in range(0, n_clusters, rows):
                left_out = np.arange(start, min(n_clusters, start + rows))
                weights = (layout.row_cluster[None, :] != left_out[:, None]).astype(np.float64)
                out[start : start + left_out.shape[0]] = _as_rows(
                    statistic(*arrays, weights=weights), left_out.shape[0]
                )
        else:
            for g in range(n_clusters):
                keep = layout.row_cluster != g
                out[g] = _as_vector(statistic(*(a[keep] for a in arrays)))
    return out


# --------------------------------------------------------------------------- ratio fast path


def _ratio_inputs(
    numerator: ArrayLike, denominator: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    num = check_numeric_array(numerator, "numerator", ndim=(1, 2), booleans=True)
    den = check_numeric_array(denominator, "denominator", ndim=(1, 2), booleans=True)
    if num.shape != den.shape:
        raise ValueError(
            f"numerator and denominator must have the same shape; got {num.shape} and {den.shape}."
        )
    scalar = num.ndim == 1
    return num.reshape(num.shape[0], -1), den.reshape(den.shape[0], -1), scalar


def _cluster_sums(
    values: NDArray[np.float64], row_cluster: NDArray[np.intp], g: int
) -> NDArray[np.float64]:
    return np.stack(
        [
            np.bincount(row_cluster, weights=values[:, j], minlength=g)
            for j in range(values.shape[1])
        ],
        axis=1,
    )


def _ratio_draws(
    rng: np.random.Generator,
    sum_num: NDArray[np.float64],
    sum_den: NDArray[np.float64],
    starts: NDArray[np.intp],
    sizes: NDArray[np.intp],
    options: _Options,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Replicates of the ratios of cluster sums and (BCa) their jackknife values.

    Each replicate is ``(counts @ sum_num) / (counts @ sum_den)``; the product is an einsum
    over one ``(k, G)`` block rather than a BLAS matmul: for these skinny products it is as
    fast and does not stall when the machine's cores are busy. The jackknife leaves each
    cluster's sums out of the totals.
    """
    n_resamples = options.n_resamples
    k = sum_num.shape[1]
    both = np.ascontiguousarray(np.concatenate([sum_num, sum_den], axis=1).T)
    rows = _chunk_rows(sum_num.shape[0], n_resamples)
    replicates = np.empty((n_resamples, k))
    jackknife = None
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, n_resamples, rows):
            b = min(rows, n_resamples - start)
            totals = np.einsum("bg,kg->bk", _draw_counts(rng, starts, sizes, b), both)
            replicates[start : start + b] = totals[:, :k] / totals[:, k:]
        if options.method == "bca":
            jackknife = (sum_num.sum(axis=0) - sum_num) / (sum_den.sum(axis=0) - sum_den)
    return replicates, jackknife


def cluster_bootstrap_ratio(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    seed: int,
    clusters: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    method: BootstrapMethod = "bca",
    max_invalid: float = 0.01,
) -> BootstrapResult:
    """Cluster bootstrap of a ratio of sums ``sum(numerator) / sum(denominator)``, vectorised.

    Proportions and means are ratios of sums: sensitivity is ``sum(tp) / sum(positive)``
    (numerator ``y_pred & y_true``, denominator ``y_true``), specificity
    ``sum(tn) / sum(negative)``, and a mean difference such as the Bland-Altman bias is
    ``sum(method - reference) / sum(1)``. Each replicate is then exact arithmetic on cluster
    sums: ``(C @ S_num) / (C @ S_den)`` with ``C`` the ``(n_resamples, n_clusters)`` matrix of
    draw counts, and the leave-one-cluster-out jackknife is closed-form.

    Parameters
    ----------
    numerator, denominator : array-like of shape (n,) or (n, k)
        Per-observation contributions, numeric or boolean, finite; ``k`` columns give ``k``
        ratios computed on the same resamples.
    seed : int
        Seed of ``numpy.random.default_rng``; required and recorded in the result.
    clusters, strata : array-like of shape (n,), optional
        As in :func:`cluster_bootstrap`.
    n_resamples : int, default DEFAULT_RESAMPLES
        Number of resamples (at least 1000, and 10 replicates beyond each limit).
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).
    method : {"bca", "percentile"}, default "bca"
        Interval method.
    max_invalid : float, default 0.01
        Largest fraction of resamples whose denominator may sum to 0 (dropped, with a
        warning); above it, an error.

    Returns
    -------
    BootstrapResult
        As :func:`cluster_bootstrap`, with a float per field for 1-D input and arrays of
        length ``k`` for 2-D input.

    Raises
    ------
    TypeError, ValueError
        As :func:`cluster_bootstrap`; also a denominator summing to 0 over the full data
        (the ratio is undefined, e.g. no positive study for a sensitivity).

    Notes
    -----
    Identical, draw for draw, to :func:`cluster_bootstrap` with the statistic
    ``(w @ numerator) / (w @ denominator)`` and the same seed, but it never forms the
    ``(n_resamples, n)`` weights: its cost is one ``(n_resamples x G) @ (G x k)`` product.
    A ratio of sums weights each study equally (patients with more studies count more),
    which is the study-level estimand of a per-study accuracy claim; the cluster bootstrap
    makes its interval honest about the correlation within patients. See
    :func:`cluster_bootstrap` for the interval methods and their coverage.

    References
    ----------
    .. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993.
    .. [2] Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge
       University Press, 1997; chapter 3 (hierarchical data).
    .. [3] Rutter CM. Bootstrap estimation of diagnostic accuracy with patient-clustered
       data. Acad Radiol. 2000;7(6):413-419.

    Examples
    --------
    Sensitivity and specificity with two studies per patient:

    >>> import numpy as np
    >>> y_true = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0], bool)
    >>> y_pred = np.array([1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0], bool)
    >>> patient = np.repeat(np.arange(10), 2)
    >>> num = np.column_stack([y_true & y_pred, ~y_true & ~y_pred])
    >>> den = np.column_stack([y_true, ~y_true])
    >>> res = cluster_bootstrap_ratio(num, den, clusters=patient, seed=11,
    ...                               method="percentile")
    >>> res.estimate.round(4).tolist(), res.n_clusters
    ([0.8889, 0.8182], 10)
    >>> res.ci[0]
    Interval(low=0.7, high=1.0, confidence=0.95, method='cluster bootstrap percentile')
    """
    options = _check_options(method, confidence, n_resamples, seed, max_invalid)
    num, den, scalar = _ratio_inputs(numerator, denominator)
    n = num.shape[0]
    layout = _layout(n, clusters, strata)
    key = _memo_key("ratio", None, [num, den], layout, scalar, *options.draws)
    return _bootstrap_result(
        key, lambda: _ratio_bootstrap(num, den, scalar, layout, options), layout, n, options
    )


def _ratio_bootstrap(
    num: NDArray[np.float64],
    den: NDArray[np.float64],
    scalar: bool,
    layout: _Layout,
    options: _Options,
) -> _Cached:
    """The ratio's estimate, whether it is a scalar, its replicates and (BCa) jackknife values."""
    g = layout.n_clusters
    sum_num = _cluster_sums(num, layout.row_cluster, g)
    sum_den = _cluster_sums(den, layout.row_cluster, g)
    total_den = sum_den.sum(axis=0)
    if np.any(total_den == 0.0):
        raise ValueError(
            "denominator sums to 0 over the full data for column(s) "
            f"{np.flatnonzero(total_den == 0.0).tolist()}: the ratio is undefined (e.g. no "
            "positive study for a sensitivity)."
        )
    estimate = sum_num.sum(axis=0) / total_den
    rng = np.random.default_rng(options.seed)
    replicates, jackknife = _ratio_draws(
        rng, sum_num, sum_den, layout.starts, layout.sizes, options
    )
    return estimate, scalar, replicates, jackknife


# --------------------------------------------------------------------------- tidy table


_TABLE_PROBLEMS = {
    "undefined": "metric undefined (no denominator): estimate and interval NaN",
    "dropped": "undefined replicates (resamples without a denominator) dropped",
    "degenerate": "every replicate equal: the interval is the point estimate",
    "one-sided": "every replicate on one side of the estimate: BCa interval NaN",
    "acceleration": "acceleration too large: BCa interval NaN",
    "edge": "BCa levels at the end of the bootstrap distribution (increase n_resamples)",
}


def _stratum_seed(seed: int, label: str) -> list[int]:
    """Entropy of a stratum's generator: the seed and a CRC-32 of the stratum label."""
    return [seed, zlib.crc32(label.encode("utf-8"))]


def cluster_bootstrap_table(
    ratios: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    seed: int,
    clusters: ArrayLike | None,
    by: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    method: BootstrapMethod = "bca",
    max_invalid: float = 0.01,
) -> pd.DataFrame:
    """Cluster bootstrap of several ratio metrics in every subgroup, as a tidy table.

    Parameters
    ----------
    ratios : mapping of str to (numerator, denominator)
        Metric name to its per-study numerator and denominator (1-D, length ``n``), e.g.
        ``{"sensitivity": (tp, positive), "specificity": (tn, negative), "bias": (diff,
        ones)}``; see :func:`cluster_bootstrap_ratio`.
    seed : int
        Base seed; required and recorded. Subgroup ``s`` uses
        ``numpy.random.default_rng([seed, crc32(str(s))])``, so its interval depends only on
        the seed, its label and its own studies (not on the other subgroups).
    clusters : array-like of shape (n,) or None
        Patient of every study (``None``: every study is its own cluster; stated
        explicitly because it is the wrong choice for patients with several studies).
    by : array-like of shape (n,), optional
        Subgroup of every study (site, vendor, ...); each subgroup is bootstrapped on its
        own studies. Omitted, one stratum ``"all"``.
    n_resamples : int, default DEFAULT_RESAMPLES
        Resamples per subgroup (at least 1000, and 10 replicates beyond each limit).
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).
    method : {"bca", "percentile"}, default "bca"
        Interval method.
    max_invalid : float, default 0.01
        Largest fraction of undefined replicates before a subgroup's interval is NaN.

    Returns
    -------
    pandas.DataFrame
        One row per subgroup and metric (subgroups in sorted order, metrics in the order
        given) with columns ``metric, stratum, n, estimate, ci_low, ci_high, confidence,
        method`` (the project's tidy convention; ``stratum`` as text, ``n`` the studies with
        a non-zero denominator) followed by ``n_clusters`` (patients with a non-zero
        denominator), ``se``, ``n_invalid`` (undefined replicates dropped), ``n_resamples``
        and ``seed``.

    Raises
    ------
    TypeError, ValueError
        Bad arrays (wrong length, NaN), labels with missing values, a missing or
        non-integer seed, too few resamples, ``confidence`` outside (0, 1), an empty
        ``ratios``.

    Warns
    -----
    RuntimeWarning
        One per kind of problem, naming the rows: undefined metrics (no denominator, fewer
        than 2 clusters), too many undefined replicates, degenerate or edge BCa intervals.
        Such rows keep their estimate where defined and a NaN interval; no row is dropped.

    Notes
    -----
    Within a subgroup all metrics share the same resamples (one count matrix), so their
    replicates are jointly distributed; subgroups are resampled independently. A patient
    whose studies fall in several subgroups (e.g. two vendors) is a cluster in each. The
    intervals are those of :func:`cluster_bootstrap_ratio` on the subgroup's studies with
    the subgroup's generator. See :func:`cluster_bootstrap` for the interval methods.

    References
    ----------
    .. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993.
    .. [2] Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge
       University Press, 1997; chapter 3.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> patient = np.repeat(np.arange(60), 2)
    >>> site = np.where(patient < 30, "A", "B")
    >>> y_true = rng.random(120) < 0.4
    >>> y_pred = np.where(rng.random(120) < 0.85, y_true, ~y_true)
    >>> diff = rng.normal(0.2, 1.0, 120)
    >>> table = cluster_bootstrap_table(
    ...     {"sensitivity": (y_true & y_pred, y_true),
    ...      "specificity": (~y_true & ~y_pred, ~y_true),
    ...      "bias": (diff, np.ones(120))},
    ...     clusters=patient, by=site, seed=42)
    >>> print(table[["metric", "stratum", "n", "n_clusters"]].head(3).to_string(index=False))
         metric stratum  n  n_clusters
    sensitivity       A 25          21
    specificity       A 35          26
           bias       A 60          30
    """
    options = _check_options(method, confidence, n_resamples, seed, max_invalid)
    if not isinstance(ratios, Mapping) or len(ratios) == 0:
        raise ValueError(
            "ratios must be a non-empty mapping of metric name to (numerator, denominator); "
            f"got {ratios!r:.60}."
        )
    names = [str(name) for name in ratios]
    nums, dens = [], []
    for name, pair in ratios.items():
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError(
                f"ratios[{name!r}] must be a (numerator, denominator) pair; got "
                f"{type(pair).__name__}."
            )
        nums.append(check_numeric_array(pair[0], f"ratios[{name!r}] numerator", booleans=True))
        dens.append(check_numeric_array(pair[1], f"ratios[{name!r}] denominator", booleans=True))
    n = nums[0].shape[0]
    for name, num, den in zip(names, nums, dens, strict=True):
        for part, values in (("numerator", num), ("denominator", den)):
            if values.shape[0] != n:
                raise ValueError(
                    f"every ratio must have one value per study: ratios[{names[0]!r}] has {n} "
                    f"and ratios[{name!r}] {part} has {values.shape[0]}."
                )
    cluster_codes, _ = _cluster_codes(clusters, n)
    if by is None:
        by_codes, by_labels = np.zeros(n, dtype=np.intp), np.array(["all"])
    else:
        by_codes, by_labels = _codes(by, "by", n)

    order = np.lexsort((cluster_codes, by_codes))
    by_sorted, cluster_sorted = by_codes[order], cluster_codes[order]
    num = np.column_stack(nums)[order]
    den = np.column_stack(dens)[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (by_sorted[1:] != by_sorted[:-1]) | (cluster_sorted[1:] != cluster_sorted[:-1])
    firsts = np.flatnonzero(new)
    sum_num = np.add.reduceat(num, firsts, axis=0)
    sum_den = np.add.reduceat(den, firsts, axis=0)
    n_nonzero = np.add.reduceat((den != 0.0).astype(np.int64), firsts, axis=0)
    group_of = by_sorted[firsts]
    bounds = np.searchsorted(group_of, np.arange(by_labels.shape[0] + 1))

    label = f"cluster bootstrap {_LABELS[options.method]}"
    rows: list[dict[str, Any]] = []
    problems: dict[str, list[str]] = {}
    k = len(names)
    for s, stratum in enumerate(by_labels.tolist()):
        lo, hi = int(bounds[s]), int(bounds[s + 1])
        s_num, s_den = sum_num[lo:hi], sum_den[lo:hi]
        g = hi - lo
        text = str(stratum)
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate = s_num.sum(axis=0) / s_den.sum(axis=0)
        estimate[~np.isfinite(estimate)] = np.nan
        if g < 2:
            summary = None
            for j in range(k):
                problems.setdefault("fewer than 2 clusters: interval undefined (NaN)", []).append(
                    f"{names[j]}/{text}"
                )
        else:
            rng = np.random.default_rng(_stratum_seed(options.seed, text))
            starts, sizes = np.array([0], dtype=np.intp), np.array([g], dtype=np.intp)
            replicates, jackknife = _ratio_draws(rng, s_num, s_den, starts, sizes, options)
            summary = _summarise(
                replicates, estimate, jackknife, np.zeros(g, dtype=np.intp), sizes, options
            )
            for j, kind, _ in summary.notes:
                problems.setdefault(_TABLE_PROBLEMS[kind], []).append(f"{names[j]}/{text}")
            for j in summary.excess:
                problems.setdefault(
                    f"more than max_invalid={options.max_invalid:g} of the replicates "
                    "undefined: interval NaN",
                    [],
                ).append(f"{names[j]}/{text} ({summary.n_invalid[j]})")
        n_metric = n_nonzero[lo:hi].sum(axis=0)
        clusters_metric = np.count_nonzero(s_den != 0.0, axis=0)
        for j, name in enumerate(names):
            rows.append(
                {
                    "metric": name,
                    "stratum": text,
                    "n": int(n_metric[j]),
                    "estimate": float(estimate[j]),
                    "ci_low": float(summary.low[j]) if summary else math.nan,
                    "ci_high": float(summary.high[j]) if summary else math.nan,
                    "confidence": options.confidence,
                    "method": label,
                    "n_clusters": int(clusters_metric[j]),
                    "se": float(summary.se[j]) if summary else math.nan,
                    "n_invalid": int(summary.n_invalid[j]) if summary else 0,
                    "n_resamples": options.n_resamples,
                    "seed": options.seed,
                }
            )
    for problem, where in problems.items():
        shown = ", ".join(where[:10]) + (f" and {len(where) - 10} more" if len(where) > 10 else "")
        warnings.warn(
            f"cluster_bootstrap_table: {problem} for {shown}.", RuntimeWarning, stacklevel=2
        )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
