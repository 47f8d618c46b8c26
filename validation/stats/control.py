"""Control charts for standardized monitoring statistics: tabular CUSUM and EWMA.

The charts run on standardized values ``z_t`` (in control: independent standard normal), so one
design serves every monitored stream. :func:`cusum` and :func:`ewma` accept one stream (1-D) or
many streams at once (2-D, streams x periods). Their run-length behaviour is computed by
Markov-chain approximation: :func:`cusum_arl`, :func:`ewma_arl` (average run length) and
:func:`run_length_cdf` (``P(RL <= t)``); :func:`limit_for` picks the smallest limit meeting both
an in-control ARL and a false-alarm probability within a horizon.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, sparse
from scipy.sparse.linalg import spsolve
from scipy.special import ndtr

from validation.stats._checks import (
    check_choice,
    check_count,
    check_finite,
    check_open_unit,
    check_positive_finite,
)

__all__ = [
    "ControlLimit",
    "CusumResult",
    "EwmaResult",
    "cusum",
    "cusum_arl",
    "ewma",
    "ewma_arl",
    "limit_for",
    "run_length_cdf",
]

ChartName = Literal["cusum", "ewma"]
EwmaLimits = Literal["exact", "asymptotic"]
CusumArlMethod = Literal["combined", "bivariate"]
MissingPolicy = Literal["raise", "carry"]

_CHARTS: tuple[ChartName, ...] = get_args(ChartName)
_EWMA_LIMITS: tuple[EwmaLimits, ...] = get_args(EwmaLimits)
_CUSUM_ARL_METHODS: tuple[CusumArlMethod, ...] = get_args(CusumArlMethod)
_MISSING: tuple[MissingPolicy, ...] = get_args(MissingPolicy)

# Markov-chain sizes. One-sided CUSUM chain: relative ARL error below 1e-4; bivariate
# (two-sided) CUSUM chain: P(RL <= t) about 0.2% too high; EWMA chain: ARL within about 0.1%.
# In control, every discretisation error checked errs on the safe side (ARL0 too low,
# P(RL <= t) too high; tests compare with finer chains, published tables and simulation).
_CUSUM_STATES = 250
_CUSUM_2D_STATES = 80
_EWMA_STATES = 301
# Exact EWMA limits are treated as reached once 1 - (1 - lam)^(2t) is within this of 1.
_EWMA_LIMIT_TOL = 1e-7
_TINY = 1e-300
# Transition probabilities below this are set to 0: far-tail probabilities would otherwise
# underflow to subnormal numbers, which slow BLAS/LAPACK down by orders of magnitude.
_NEGLIGIBLE = 1e-150


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class CusumResult:
    """Result of :func:`cusum`.

    Arrays have the shape of the input ``z``: ``(n_periods,)`` for one stream or
    ``(n_streams, n_periods)`` for many.

    Attributes
    ----------
    upper, lower : ndarray of float
        The upper statistic :math:`C^+_t` and the lower statistic :math:`C^-_t` (both >= 0).
    alarm : ndarray of bool
        ``True`` where :math:`C^+_t > h` or :math:`C^-_t > h`.
    first_alarm : int or ndarray of int
        Index of the first alarmed period (per stream for 2-D input); -1 when the chart never
        signals.
    k, h : float
        Reference value and decision interval, in standard units.
    """

    upper: NDArray[np.float64]
    lower: NDArray[np.float64]
    alarm: NDArray[np.bool_]
    first_alarm: Any
    k: float
    h: float


@dataclass(frozen=True, eq=False)
class EwmaResult:
    """Result of :func:`ewma`.

    Arrays have the shape of the input ``z``: ``(n_periods,)`` for one stream or
    ``(n_streams, n_periods)`` for many.

    Attributes
    ----------
    statistic : ndarray of float
        The EWMA :math:`w_t` (starting from :math:`w_0 = 0`).
    limit : ndarray of float
        Half-width of the control limits: the chart signals when :math:`|w_t| >` ``limit``.
    alarm : ndarray of bool
        ``True`` where :math:`|w_t|` exceeds ``limit``.
    first_alarm : int or ndarray of int
        Index of the first alarmed period (per stream for 2-D input); -1 when the chart never
        signals.
    lam, L : float
        Smoothing constant and limit multiplier.
    limits : str
        ``"exact"`` (time-varying) or ``"asymptotic"`` (fixed) limits.
    """

    statistic: NDArray[np.float64]
    limit: NDArray[np.float64]
    alarm: NDArray[np.bool_]
    first_alarm: Any
    lam: float
    L: float
    limits: str


@dataclass(frozen=True)
class ControlLimit:
    """Result of :func:`limit_for`: a chart limit and its in-control run-length properties.

    Attributes
    ----------
    chart : str
        ``"cusum"`` or ``"ewma"``.
    h_or_L : float
        The limit: decision interval ``h`` (CUSUM) or multiplier ``L`` (EWMA), rounded up to
        1e-4.
    arl0 : float
        In-control average run length at that limit.
    p_false_alarm_within_horizon : float
        In-control probability of at least one alarm within ``horizon`` periods.
    horizon : int
        The horizon, in periods.
    arl0_min : float
        The ARL requirement that was met.
    false_alarm_prob : float
        The false-alarm requirement that was met.
    k : float
        CUSUM reference value (NaN for an EWMA).
    lam : float
        EWMA smoothing constant (NaN for a CUSUM).
    limits : str
        EWMA limits (``"exact"`` or ``"asymptotic"``); ``""`` for a CUSUM.
    binding : str
        Which requirement set the limit: ``"arl0"`` or ``"false_alarm_prob"``.
    """

    chart: str
    h_or_L: float
    arl0: float
    p_false_alarm_within_horizon: float
    horizon: int
    arl0_min: float
    false_alarm_prob: float
    k: float
    lam: float
    limits: str
    binding: str


# --------------------------------------------------------------------------- input checks


def _check_nonnegative(value: Any, name: str) -> float:
    number = check_finite(value, name)
    if number < 0.0:
        raise ValueError(f"{name} must be >= 0; got {value!r}.")
    return number


def _check_lam(value: Any) -> float:
    lam = check_finite(value, "lam")
    if not (0.0 < lam <= 1.0):
        raise ValueError(f"lam must be in the interval (0, 1], e.g. 0.2; got {value!r}.")
    return lam


def _check_horizon(value: Any) -> int:
    horizon = check_count(value, "horizon")
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 period; got {horizon}.")
    return horizon


def _check_series(z: ArrayLike, missing: str) -> NDArray[np.float64]:
    """Return ``z`` as a 2-D float array (streams x periods); NaN allowed if ``carry``."""
    try:
        array = np.asarray(z)
    except Exception as exc:  # ragged input and the like
        raise TypeError(f"z must be a 1-D or 2-D array-like of numbers; {exc}") from exc
    if array.ndim not in (1, 2):
        raise ValueError(
            f"z must be 1-D (one stream) or 2-D (streams x periods); got shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError(f"z must contain at least one period; got shape {array.shape}.")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"z must hold real numbers; got an array of dtype {array.dtype}.")
    if np.iscomplexobj(array):
        raise TypeError("z must hold real numbers; got complex values.")
    values = np.atleast_2d(array.astype(np.float64))
    if np.isinf(values).any():
        raise ValueError(
            f"z must not contain infinite values; found {int(np.isinf(values).sum())}."
        )
    n_nan = int(np.isnan(values).sum())
    if n_nan and missing == "raise":
        raise ValueError(
            f"z contains {n_nan} NaN value(s); pass missing='carry' to treat NaN as a period "
            "without data (the chart statistic is carried forward unchanged)."
        )
    return values


def _first_alarm(alarm: NDArray[np.bool_], one_d: bool) -> Any:
    first = np.where(alarm.any(axis=1), alarm.argmax(axis=1), -1).astype(np.int64)
    return int(first[0]) if one_d else first


def _scan(
    values: NDArray[np.float64],
    update: Callable[..., tuple[NDArray[np.float64], ...]],
    state: tuple[NDArray[np.float64], ...],
) -> list[NDArray[np.float64]]:
    """Run a chart's recursion over the periods and record its state after each one.

    ``update(state, z_t, seen)`` gets the previous state, the period's values (0 where
    missing) and where they were observed, and returns the new state (one array per stream
    for each part); the result holds, per part, an array of ``values``'s shape.
    """
    records = [np.empty_like(values) for _ in state]
    for t in range(values.shape[1]):
        seen = ~np.isnan(values[:, t])
        state = update(state, np.where(seen, values[:, t], 0.0), seen)
        for record, part in zip(records, state, strict=True):
            record[:, t] = part
    return records


# --------------------------------------------------------------------------- charts


def cusum(
    z: ArrayLike, *, k: float = 0.5, h: float, missing: MissingPolicy = "raise"
) -> CusumResult:
    """Two-sided tabular CUSUM of standardized values, for one stream or many at once.

    Parameters
    ----------
    z : array_like
        Standardized values, in control independent N(0, 1): shape ``(n_periods,)`` for one
        stream or ``(n_streams, n_periods)`` for many (e.g. segments x months). A monthly
        mean becomes ``z_t = (xbar_t - mu0) / (sigma0 / sqrt(n_t))``.
    k : float, default 0.5
        Reference value (allowance) in standard units; ``k = delta / 2`` is optimal for a
        shift of ``delta`` standard units.
    h : float
        Decision interval in standard units (> 0); choose it with :func:`limit_for`.
    missing : {"raise", "carry"}, default "raise"
        What a NaN in ``z`` means. ``"raise"``: an error. ``"carry"``: a period without data
        (e.g. a segment with no studies that month); both statistics are carried forward
        unchanged, and so is the alarm state.

    Returns
    -------
    CusumResult
        Upper and lower statistics, alarm flags and first-alarm indices.

    Raises
    ------
    TypeError
        If ``z`` is not numeric or ``k``/``h`` are not numbers.
    ValueError
        If ``z`` is empty, not 1-D/2-D, holds infinite values or (with ``missing="raise"``)
        NaN; if ``k < 0`` or ``h <= 0``.

    Notes
    -----
    Page's (1954) tabular form (Montgomery 2009, section 9.1):

    .. math::

        C^+_t = \\max(0,\\ z_t - k + C^+_{t-1}),\\qquad
        C^-_t = \\max(0,\\ -z_t - k + C^-_{t-1}),\\qquad C^\\pm_0 = 0,

    with an alarm at every period where :math:`C^+_t > h` or :math:`C^-_t > h`. The
    statistics are not reset after an alarm, so consecutive alarmed periods form one alarm
    episode; the first alarm is the run length that :func:`cusum_arl` and
    :func:`run_length_cdf` describe. The chart accumulates small persistent shifts and is the
    chart of choice for a sustained step in a mean. The run-length properties assume
    independent, correctly standardized normal ``z`` (a known in-control mean and SD).
    The recursion loops over periods only; streams are vectorised.

    References
    ----------
    .. [1] Page ES. Continuous inspection schemes. Biometrika. 1954;41(1/2):100-115.
    .. [2] Montgomery DC. Introduction to Statistical Quality Control. 6th ed. Hoboken (NJ):
       Wiley; 2009. Chapter 9.1, the tabular CUSUM.

    Examples
    --------
    >>> res = cusum([0.2, 1.5, 2.0, 1.8, -0.3], k=0.5, h=4.0)
    >>> res.upper.round(2).tolist()
    [0.0, 1.0, 2.5, 3.8, 3.0]
    >>> res.first_alarm
    -1
    >>> cusum([[0.0, 3.0, 3.0], [0.0, -3.0, -3.0]], h=4.0).first_alarm.tolist()
    [2, 2]
    """
    reference = _check_nonnegative(k, "k")
    limit = check_positive_finite(h, "h")
    policy = check_choice(missing, "missing", _MISSING)
    values = _check_series(z, policy)
    one_d = np.ndim(z) == 1

    def update(
        state: tuple[NDArray[np.float64], ...], z_t: NDArray[np.float64], seen: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float64], ...]:
        c_plus, c_minus = state
        return (
            np.where(seen, np.maximum(0.0, z_t - reference + c_plus), c_plus),
            np.where(seen, np.maximum(0.0, -z_t - reference + c_minus), c_minus),
        )

    start = np.zeros(values.shape[0])
    upper, lower = _scan(values, update, (start, start))
    alarm = (upper > limit) | (lower > limit)
    first = _first_alarm(alarm, one_d)
    if one_d:
        upper, lower, alarm = upper[0], lower[0], alarm[0]
    return CusumResult(
        upper=upper, lower=lower, alarm=alarm, first_alarm=first, k=reference, h=limit
    )


def _ewma_sd(lam: float, t: NDArray[Any] | float) -> Any:
    """SD of the EWMA after ``t`` N(0, 1) updates (``t = inf``: the asymptotic SD)."""
    asymptotic = math.sqrt(lam / (2.0 - lam))
    if lam == 1.0:
        return asymptotic * np.ones_like(np.asarray(t, dtype=float))
    return asymptotic * np.sqrt(1.0 - (1.0 - lam) ** (2.0 * np.asarray(t, dtype=float)))


def ewma(
    z: ArrayLike,
    *,
    lam: float = 0.2,
    L: float,
    limits: EwmaLimits = "exact",
    missing: MissingPolicy = "raise",
) -> EwmaResult:
    """EWMA chart of standardized values, for one stream or many at once.

    Parameters
    ----------
    z : array_like
        Standardized values, in control independent N(0, 1): shape ``(n_periods,)`` for one
        stream or ``(n_streams, n_periods)`` for many (e.g. a monthly positive rate
        standardized by its baseline binomial SD).
    lam : float, default 0.2
        Smoothing constant, in (0, 1]; ``lam = 1`` is a Shewhart chart.
    L : float
        Limit multiplier (> 0); choose it with :func:`limit_for` (with the same ``limits``).
    limits : {"exact", "asymptotic"}, default "exact"
        ``"exact"``: the time-varying limits :math:`\\pm L\\sigma_{w_t}`, narrower during
        the first periods; ``"asymptotic"``: the fixed limits :math:`\\pm L\\sqrt{\\lambda/
        (2-\\lambda)}` of Lucas & Saccucci's (1990) tables.
    missing : {"raise", "carry"}, default "raise"
        What a NaN in ``z`` means. ``"raise"``: an error. ``"carry"``: a period without data;
        the EWMA, its limit (which counts observed periods only) and the alarm state are
        carried forward unchanged.

    Returns
    -------
    EwmaResult
        The EWMA, its limit, alarm flags and first-alarm indices.

    Raises
    ------
    TypeError
        If ``z`` is not numeric or ``lam``/``L`` are not numbers.
    ValueError
        If ``z`` is empty, not 1-D/2-D, holds infinite values or (with ``missing="raise"``)
        NaN; if ``lam`` is outside (0, 1] or ``L <= 0``; if ``limits`` is unknown.

    Notes
    -----
    Roberts' (1959) EWMA, :math:`w_t = \\lambda z_t + (1-\\lambda) w_{t-1}`, :math:`w_0 = 0`,
    signals when :math:`|w_t| > L\\sigma_{w_t}` with the exact SD (Montgomery 2009, eq. 9.25)

    .. math::

        \\sigma_{w_t} = \\sqrt{\\frac{\\lambda}{2-\\lambda}\\left[1-(1-\\lambda)^{2t}\\right]}.

    Small ``lam`` weights the past heavily and detects small persistent shifts, comparably to
    a CUSUM; the EWMA is also robust to moderate non-normality (Montgomery 2009, 9.2). The
    exact limits signal sooner after a shift at start-up (Steiner 1999) and have a somewhat
    lower in-control ARL than the fixed ones with the same ``L``; :func:`ewma_arl`,
    :func:`run_length_cdf` and :func:`limit_for` take the same ``limits`` argument so the
    design matches the chart. Periods loop; streams are vectorised.

    References
    ----------
    .. [1] Roberts SW. Control chart tests based on geometric moving averages.
       Technometrics. 1959;1(3):239-250.
    .. [2] Lucas JM, Saccucci MS. Exponentially weighted moving average control schemes:
       properties and enhancements. Technometrics. 1990;32(1):1-12.
    .. [3] Montgomery DC. Introduction to Statistical Quality Control. 6th ed. Hoboken (NJ):
       Wiley; 2009. Chapter 9.2.
    .. [4] Steiner SH. EWMA control charts with time-varying control limits and fast initial
       response. J Qual Technol. 1999;31(1):75-86.

    Examples
    --------
    >>> res = ewma([1.0, 1.0, 1.0], lam=0.5, L=1.05)
    >>> res.statistic.tolist()
    [0.5, 0.75, 0.875]
    >>> res.limit.round(4).tolist()
    [0.525, 0.587, 0.6015]
    >>> res.alarm.tolist(), res.first_alarm
    ([False, True, True], 1)
    """
    smoothing = _check_lam(lam)
    multiplier = check_positive_finite(L, "L")
    kind = check_choice(limits, "limits", _EWMA_LIMITS)
    policy = check_choice(missing, "missing", _MISSING)
    values = _check_series(z, policy)
    one_d = np.ndim(z) == 1

    def update(
        state: tuple[NDArray[np.float64], ...], z_t: NDArray[np.float64], seen: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float64], ...]:
        w, seen_so_far = state
        return np.where(seen, smoothing * z_t + (1.0 - smoothing) * w, w), seen_so_far + seen

    start = np.zeros(values.shape[0])
    statistic, n_seen = _scan(values, update, (start, start))
    if kind == "exact":
        limit = multiplier * _ewma_sd(smoothing, n_seen)
    else:
        limit = np.where(n_seen > 0, multiplier * math.sqrt(smoothing / (2.0 - smoothing)), 0.0)
    alarm = np.abs(statistic) > limit
    first = _first_alarm(alarm, one_d)
    if one_d:
        statistic, limit, alarm = statistic[0], limit[0], alarm[0]
    return EwmaResult(
        statistic=statistic,
        limit=limit,
        alarm=alarm,
        first_alarm=first,
        lam=smoothing,
        L=multiplier,
        limits=kind,
    )


# --------------------------------------------------------------------------- CUSUM chains


def _flush(probabilities: NDArray[np.float64]) -> NDArray[np.float64]:
    """Set negligible probabilities (< 1e-150) to exactly 0 (see ``_NEGLIGIBLE``)."""
    return np.where(probabilities < _NEGLIGIBLE, 0.0, probabilities)


def _one_sided_cusum_arl(k: float, h: float, shift: float, n: int) -> float:
    """Brook & Evans (1972) chain of the upper CUSUM; states i*w, w = 2h/(2n-1)."""
    width = 2.0 * h / (2.0 * n - 1.0)
    values = np.arange(n) * width
    upper_edges = (np.arange(n) + 0.5) * width  # the last edge is h
    cdf = ndtr(upper_edges[None, :] - values[:, None] + k - shift)
    q = _flush(np.diff(cdf, axis=1, prepend=0.0))
    return float(np.linalg.solve(np.eye(n) - q, np.ones(n))[0])


@functools.lru_cache(maxsize=256)
def _cusum_arl_combined(k: float, h: float, shift: float) -> float:
    plus = _one_sided_cusum_arl(k, h, shift, _CUSUM_STATES)
    minus = _one_sided_cusum_arl(k, h, -shift, _CUSUM_STATES)
    return 1.0 / (1.0 / plus + 1.0 / minus)


def _cusum_bivariate_chain(
    k: float, h: float, shift: float, n: int
) -> tuple[sparse.csr_matrix, NDArray[np.float64]]:
    """Transition matrix among the (C+, C-) states and the alarm probability of each state.

    State ``i * n + j`` holds ``C+ = i w`` and ``C- = j w`` (``w = 2h/(2n-1)``). Both
    statistics move with the same ``z``, so along the z-axis the break points of the two
    partitions cut it into intervals, each mapping to one next state (Woodall 1984).
    """
    width = 2.0 * h / (2.0 * n - 1.0)
    idx = np.arange(n)
    a = np.repeat(idx * width, n)  # C+ of each state
    b = np.tile(idx * width, n)  # C- of each state
    edges = (idx + 0.5) * width  # cell upper edges; the last is h
    low = b - k - h  # below: C- > h
    high = np.maximum(h - a + k, low)  # above: C+ > h
    breaks = np.concatenate(
        [edges[None, :-1] - a[:, None] + k, b[:, None] - k - edges[None, :-1]], axis=1
    )
    breaks = np.clip(breaks, low[:, None], high[:, None])
    breaks = np.sort(np.concatenate([low[:, None], breaks, high[:, None]], axis=1), axis=1)
    z_low, z_high = breaks[:, :-1], breaks[:, 1:]
    prob = ndtr(z_high - shift) - ndtr(z_low - shift)
    z_mid = 0.5 * (z_low + z_high)
    next_plus = np.maximum(0.0, a[:, None] + z_mid - k)
    next_minus = np.maximum(0.0, b[:, None] - z_mid - k)
    i_next = np.minimum(np.floor(next_plus / width + 0.5), n - 1).astype(np.int64)
    j_next = np.minimum(np.floor(next_minus / width + 0.5), n - 1).astype(np.int64)
    keep = prob > _NEGLIGIBLE
    rows = np.broadcast_to(np.arange(n * n)[:, None], prob.shape)[keep]
    q = sparse.csr_matrix((prob[keep], (rows, (i_next * n + j_next)[keep])), shape=(n * n, n * n))
    return q, _flush(ndtr(low - shift) + ndtr(-(high - shift)))


@functools.lru_cache(maxsize=256)
def _cusum_arl_bivariate(k: float, h: float, shift: float) -> float:
    n = _CUSUM_2D_STATES
    q, _ = _cusum_bivariate_chain(k, h, shift, n)
    # Keep only the states reachable from (0, 0): much smaller linear system.
    reach = np.zeros(n * n, dtype=bool)
    reach[0] = True
    frontier = reach.copy()
    pattern = (q > 0).astype(np.float64).T.tocsr()
    while frontier.any():
        new = (pattern @ frontier.astype(np.float64)) > 0
        new &= ~reach
        reach |= new
        frontier = new
    kept = np.flatnonzero(reach)
    q_kept = q[kept][:, kept].tocsc()
    system = sparse.identity(kept.size, format="csc") - q_kept
    return float(spsolve(system, np.ones(kept.size))[0])


@functools.lru_cache(maxsize=256)
def _cusum_cdf(k: float, h: float, shift: float, horizon: int) -> tuple[float, ...]:
    q, alarm = _cusum_bivariate_chain(k, h, shift, _CUSUM_2D_STATES)
    q_t = q.T.tocsr()
    p = np.zeros(q.shape[0])
    p[0] = 1.0
    alarm_at = np.empty(horizon)
    for t in range(horizon):
        alarm_at[t] = p @ alarm
        p = _flush(q_t @ p)
    return tuple(np.minimum(np.cumsum(alarm_at), 1.0).tolist())


def cusum_arl(
    k: float, h: float, *, shift: float = 0.0, method: CusumArlMethod = "combined"
) -> float:
    """Average run length of the two-sided tabular CUSUM (Markov-chain approximation).

    Parameters
    ----------
    k : float
        Reference value in standard units (>= 0).
    h : float
        Decision interval in standard units (> 0).
    shift : float, default 0.0
        Shift of the mean of ``z`` in standard units (0: the in-control ARL0).
    method : {"combined", "bivariate"}, default "combined"
        ``"combined"``: two one-sided Brook-Evans chains (250 states each) combined by
        :math:`1/ARL = 1/ARL^+ + 1/ARL^-`; ``"bivariate"``: one chain on the pair
        :math:`(C^+, C^-)` (80 x 80 states), the chain :func:`run_length_cdf` uses.

    Returns
    -------
    float
        The zero-state ARL (both statistics start at 0), in periods.

    Raises
    ------
    TypeError
        If an argument is not a number (or ``method`` not a string).
    ValueError
        If ``k < 0``, ``h <= 0``, ``shift`` is not finite or ``method`` is unknown.

    Notes
    -----
    Brook & Evans (1972) discretise a one-sided CUSUM into ``n`` states: state 0 holds
    :math:`[0, w/2)` and state ``i`` holds :math:`[(i-\\frac12)w, (i+\\frac12)w)`, with
    :math:`w = 2h/(2n-1)`; the transient transition matrix :math:`Q` gives
    :math:`ARL = [(I-Q)^{-1}\\mathbf 1]_0`. The two-sided chart signals when either side
    does; its zero-state ARL satisfies Kemp's (1961) relation :math:`1/ARL = 1/ARL^+ +
    1/ARL^-` (see also Lucas & Crosier 1982), which is how the published tables (Lucas &
    Crosier 1982, Table 1; Montgomery 2009, Table 9.3; SAS/QC ``CUSUMARL``) are computed.
    The bivariate chain tracks both statistics together (Woodall 1984) and is needed for
    the run-length *distribution*; on the same discretisation its ARL agrees with the
    combined formula to rounding error (the tests check this, in and out of control). The
    discretisation underestimates the ARL slightly (below 1e-4 relative for "combined",
    0.1% for "bivariate"): conservative for a false-alarm requirement.

    References
    ----------
    .. [1] Brook D, Evans DA. An approach to the probability distribution of cusum run
       length. Biometrika. 1972;59(3):539-549.
    .. [2] Kemp KW. The average run length of the cumulative sum chart when a V-mask is
       used. J R Stat Soc Series B. 1961;23(1):149-153.
    .. [3] Lucas JM, Crosier RB. Fast initial response for CUSUM quality-control schemes:
       give your CUSUM a head start. Technometrics. 1982;24(3):199-205.
    .. [4] Woodall WH. On the Markov chain approach to the two-sided CUSUM procedure.
       Technometrics. 1984;26(1):41-46.
    .. [5] Montgomery DC. Introduction to Statistical Quality Control. 6th ed. Hoboken (NJ):
       Wiley; 2009. Table 9.3.

    Examples
    --------
    Lucas & Crosier (1982), Table 1, k = 0.5 and h = 4: ARL0 168, ARL 8.38 at a 1 SD shift.

    >>> round(cusum_arl(0.5, 4.0))
    168
    >>> round(cusum_arl(0.5, 4.0, shift=1.0), 2)
    8.38
    """
    reference = _check_nonnegative(k, "k")
    limit = check_positive_finite(h, "h")
    delta = check_finite(shift, "shift")
    how = check_choice(method, "method", _CUSUM_ARL_METHODS)
    if how == "combined":
        return _cusum_arl_combined(reference, limit, delta)
    return _cusum_arl_bivariate(reference, limit, delta)


# --------------------------------------------------------------------------- EWMA chains


def _ewma_grid(c: float, m: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    edges = np.linspace(-c, c, m + 1)
    return edges, 0.5 * (edges[:-1] + edges[1:])


def _ewma_step(
    src: NDArray[np.float64], dst_edges: NDArray[np.float64], lam: float, shift: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Transitions from EWMA values ``src`` into the cells ``dst_edges``, and alarm probs."""
    u = (dst_edges[None, :] - (1.0 - lam) * src[:, None]) / lam - shift
    cdf = ndtr(u)
    return _flush(np.diff(cdf, axis=1)), _flush(ndtr(u[:, 0]) + ndtr(-u[:, -1]))


def _ewma_switch_step(lam: float) -> int:
    """Period after which the exact limit is within ``_EWMA_LIMIT_TOL`` of its asymptote."""
    if lam == 1.0:
        return 1
    return max(1, math.ceil(math.log(_EWMA_LIMIT_TOL) / (2.0 * math.log1p(-lam))))


def _ewma_half_width(lam: float, L: float, t: int, limits: str) -> float:
    if limits == "asymptotic":
        return L * math.sqrt(lam / (2.0 - lam))
    return float(L * _ewma_sd(lam, float(t)))


@functools.lru_cache(maxsize=256)
def _ewma_cdf(lam: float, L: float, shift: float, horizon: int, limits: str) -> tuple[float, ...]:
    m = _EWMA_STATES
    switch = 1 if limits == "asymptotic" else _ewma_switch_step(lam)
    src = np.zeros(1)  # w_0 = 0 exactly
    p = np.ones(1)
    alarm_at = np.empty(horizon)
    for t in range(1, horizon + 1):
        if t <= switch + 1:  # from period switch + 1 on, the chain is homogeneous
            c_t = _ewma_half_width(lam, L, t, "asymptotic" if t >= switch else limits)
            edges, mids = _ewma_grid(c_t, m)
            q, alarm = _ewma_step(src, edges, lam, shift)
        alarm_at[t - 1] = p @ alarm
        p, src = _flush(p @ q), mids
    return tuple(np.minimum(np.cumsum(alarm_at), 1.0).tolist())


@functools.lru_cache(maxsize=256)
def _ewma_arl(lam: float, L: float, shift: float, limits: str) -> float:
    m = _EWMA_STATES
    switch = 1 if limits == "asymptotic" else _ewma_switch_step(lam)
    src = np.zeros(1)
    p = np.ones(1)
    arl = 1.0  # P(RL > 0)
    for t in range(1, switch + 1):
        c_t = _ewma_half_width(lam, L, t, "asymptotic" if t == switch else limits)
        edges, mids = _ewma_grid(c_t, m)
        q, _ = _ewma_step(src, edges, lam, shift)
        p, src = _flush(p @ q), mids
        if t < switch:
            arl += p.sum()  # P(RL > t)
    # From period `switch` on the limits are (numerically) fixed: a homogeneous chain.
    q, _ = _ewma_step(src, edges, lam, shift)
    return float(arl + p @ np.linalg.solve(np.eye(m) - q, np.ones(m)))


def ewma_arl(lam: float, L: float, *, shift: float = 0.0, limits: EwmaLimits = "exact") -> float:
    """Average run length of the two-sided EWMA chart (Markov-chain approximation).

    Parameters
    ----------
    lam : float
        Smoothing constant, in (0, 1].
    L : float
        Limit multiplier (> 0).
    shift : float, default 0.0
        Shift of the mean of ``z`` in standard units (0: the in-control ARL0).
    limits : {"exact", "asymptotic"}, default "exact"
        Time-varying limits (as :func:`ewma` draws them by default) or the fixed asymptotic
        limits of Lucas & Saccucci's (1990) tables.

    Returns
    -------
    float
        The zero-state ARL (:math:`w_0 = 0`), in periods.

    Raises
    ------
    TypeError
        If an argument is not a number (or ``limits`` not a string).
    ValueError
        If ``lam`` is outside (0, 1], ``L <= 0``, ``shift`` is not finite or ``limits`` is
        unknown.

    Notes
    -----
    Lucas & Saccucci (1990) approximate the EWMA by a Markov chain (after Brook & Evans
    1972): the in-control region :math:`[-c, c]`, :math:`c = L\\sqrt{\\lambda/(2-\\lambda)}`,
    is cut into 301 equal cells represented by their midpoints, and
    :math:`ARL = 1 + p_1 (I-Q)^{-1}\\mathbf 1` with :math:`p_1` the exact distribution of
    :math:`w_1 = \\lambda z_1`. With exact limits the chain is non-homogeneous (Knoth 2003):
    period ``t`` has its own grid on :math:`[-c_t, c_t]` and the transitions map grid ``t``
    into grid ``t+1``, until :math:`c_t` is within 1e-7 (relative) of ``c``, after which the
    homogeneous chain takes over. Accuracy is about 0.1% of the ARL; the approximation
    errs low (conservative for a false-alarm requirement). Very small ``lam`` (< 0.01) is
    slow with exact limits (hundreds of periods before the limits settle).

    References
    ----------
    .. [1] Lucas JM, Saccucci MS. Exponentially weighted moving average control schemes:
       properties and enhancements. Technometrics. 1990;32(1):1-12.
    .. [2] Brook D, Evans DA. An approach to the probability distribution of cusum run
       length. Biometrika. 1972;59(3):539-549.
    .. [3] Knoth S. EWMA schemes with non-homogeneous transition kernels. Sequential Anal.
       2003;22(3):241-255.
    .. [4] Steiner SH. EWMA control charts with time-varying control limits and fast initial
       response. J Qual Technol. 1999;31(1):75-86.

    Examples
    --------
    Lucas & Saccucci (1990), Table 3: lam = 0.5, L = 3.071 has ARL0 500 and ARL 17.5 at a
    1 SD shift (fixed limits).

    >>> round(ewma_arl(0.5, 3.071, limits="asymptotic"))
    500
    >>> round(ewma_arl(0.5, 3.071, shift=1.0, limits="asymptotic"), 1)
    17.5
    """
    smoothing = _check_lam(lam)
    multiplier = check_positive_finite(L, "L")
    delta = check_finite(shift, "shift")
    kind = check_choice(limits, "limits", _EWMA_LIMITS)
    return _ewma_arl(smoothing, multiplier, delta, kind)


# --------------------------------------------------------------------------- distribution


def run_length_cdf(
    chart: ChartName,
    limit: float,
    *,
    horizon: int,
    k: float = 0.5,
    lam: float = 0.2,
    shift: float = 0.0,
    limits: EwmaLimits = "exact",
) -> NDArray[np.float64]:
    """Run-length distribution ``P(RL <= t)`` for ``t = 1, ..., horizon`` (Markov chain).

    Parameters
    ----------
    chart : {"cusum", "ewma"}
        The chart.
    limit : float
        Decision interval ``h`` (CUSUM) or limit multiplier ``L`` (EWMA), > 0.
    horizon : int
        Number of periods (>= 1).
    k : float, default 0.5
        CUSUM reference value (ignored for an EWMA).
    lam : float, default 0.2
        EWMA smoothing constant (ignored for a CUSUM).
    shift : float, default 0.0
        Shift of the mean of ``z`` from period 1 on, in standard units (0: in control, the
        probability of a false alarm; otherwise the probability of detection by ``t``).
    limits : {"exact", "asymptotic"}, default "exact"
        EWMA limits (ignored for a CUSUM).

    Returns
    -------
    ndarray of float, shape (horizon,)
        ``P(RL <= t)``, non-decreasing in ``t``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``chart`` or ``limits`` is unknown, ``limit <= 0``, ``horizon < 1``, ``k < 0``,
        ``lam`` is outside (0, 1] or ``shift`` is not finite.

    Notes
    -----
    ``P(RL <= t)`` sums, over periods ``u <= t``, the probability mass of the transient
    states at ``u - 1`` times each state's one-step alarm probability (computed directly, so
    probabilities far below 1e-10 keep their relative accuracy). The two-sided CUSUM needs
    the bivariate chain on :math:`(C^+, C^-)` (Woodall 1984; 80 x 80 states): unlike the
    ARL, its distribution does not follow from the two one-sided charts. The EWMA uses the
    (for exact limits, non-homogeneous) chain of :func:`ewma_arl`. Both approximations
    overstate ``P(RL <= t)`` slightly (about 0.2-0.5% relative for the CUSUM): conservative
    for a false-alarm requirement. The tests compare them with seeded simulations.

    References
    ----------
    .. [1] Brook D, Evans DA. An approach to the probability distribution of cusum run
       length. Biometrika. 1972;59(3):539-549.
    .. [2] Woodall WH. On the Markov chain approach to the two-sided CUSUM procedure.
       Technometrics. 1984;26(1):41-46.
    .. [3] Lucas JM, Saccucci MS. Exponentially weighted moving average control schemes:
       properties and enhancements. Technometrics. 1990;32(1):1-12.

    Examples
    --------
    The first period of an EWMA with exact limits is a Shewhart test of ``|z_1| > L``:

    >>> cdf = run_length_cdf("ewma", 3.0, horizon=12, lam=0.2)
    >>> round(float(cdf[0]), 6)
    0.0027
    >>> bool(np.all(np.diff(cdf) >= 0))
    True
    """
    name = check_choice(chart, "chart", _CHARTS)
    value = check_positive_finite(limit, "limit")
    periods = _check_horizon(horizon)
    delta = check_finite(shift, "shift")
    if name == "cusum":
        reference = _check_nonnegative(k, "k")
        return np.array(_cusum_cdf(reference, value, delta, periods))
    smoothing = _check_lam(lam)
    kind = check_choice(limits, "limits", _EWMA_LIMITS)
    return np.array(_ewma_cdf(smoothing, value, delta, periods, kind))


# --------------------------------------------------------------------------- design


def _solve_increasing(func: Any, target: float, start: float, low: float = 1e-3) -> float:
    """Smallest x >= low with func(x) >= target, for func increasing in x (log scale)."""
    goal = math.log(target)

    def gap(x: float) -> float:
        return math.log(max(func(x), _TINY)) - goal

    high = max(start, low)
    if gap(low) >= 0.0:
        return low
    while gap(high) < 0.0:
        low, high = high, 2.0 * high
        if high > 1e3:
            raise ValueError(
                f"no limit up to {high / 2:g} meets the requirement; it is beyond what the "
                "Markov chain can resolve."
            )
    return float(optimize.brentq(gap, low, high, xtol=1e-5, rtol=1e-8))


def limit_for(
    chart: ChartName,
    *,
    arl0_min: float,
    horizon: int,
    false_alarm_prob: float,
    k: float = 0.5,
    lam: float = 0.2,
    limits: EwmaLimits = "exact",
) -> ControlLimit:
    """Smallest chart limit meeting an in-control ARL and a false-alarm probability.

    Parameters
    ----------
    chart : {"cusum", "ewma"}
        The chart.
    arl0_min : float
        Required in-control average run length, in periods (>= 1).
    horizon : int
        Monitoring horizon, in periods (>= 1).
    false_alarm_prob : float
        Maximum in-control probability of at least one alarm within ``horizon`` periods, in
        (0, 1). For ``m`` monitored streams and a family-wise rate ``alpha`` pass
        ``alpha / m`` (Bonferroni).
    k : float, default 0.5
        CUSUM reference value (ignored for an EWMA).
    lam : float, default 0.2
        EWMA smoothing constant (ignored for a CUSUM).
    limits : {"exact", "asymptotic"}, default "exact"
        EWMA limits the chart will use (ignored for a CUSUM).

    Returns
    -------
    ControlLimit
        The limit (rounded up to 1e-4), its ARL0 and ``P(RL <= horizon)`` there, and which
        requirement was binding.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``chart`` or ``limits`` is unknown, ``arl0_min < 1``, ``horizon < 1``,
        ``false_alarm_prob`` is outside (0, 1), ``k < 0`` or ``lam`` outside (0, 1].

    Notes
    -----
    Both in-control criteria are monotone in the limit: the ARL0 (:func:`cusum_arl`, method
    "combined", or :func:`ewma_arl`) increases and ``P(RL <= horizon)``
    (:func:`run_length_cdf`) decreases. Each requirement is solved for its own limit by
    Brent's method on the log scale; the larger of the two, rounded up to 1e-4, meets both.
    By Bonferroni's inequality, if each of ``m`` streams has ``P(RL <= horizon) <=
    alpha / m`` the probability of any false alarm among them within the horizon is at most
    ``alpha``, whatever their dependence. The guarantee assumes in-control ``z`` that are
    independent N(0, 1) over periods (known in-control mean and SD); estimated baselines
    inflate false alarms somewhat (Jensen et al. 2006).

    References
    ----------
    .. [1] Brook D, Evans DA. An approach to the probability distribution of cusum run
       length. Biometrika. 1972;59(3):539-549.
    .. [2] Lucas JM, Saccucci MS. Exponentially weighted moving average control schemes:
       properties and enhancements. Technometrics. 1990;32(1):1-12.
    .. [3] Jensen WA, Jones-Farmer LA, Champ CW, Woodall WH. Effects of parameter estimation
       on control chart properties: a literature review. J Qual Technol. 2006;38(4):349-364.

    Examples
    --------
    >>> lim = limit_for("cusum", arl0_min=100, horizon=12, false_alarm_prob=0.05 / 26)
    >>> lim.binding, lim.p_false_alarm_within_horizon <= 0.05 / 26, lim.arl0 >= 100
    ('false_alarm_prob', True, True)
    """
    name = check_choice(chart, "chart", _CHARTS)
    target_arl = check_finite(arl0_min, "arl0_min")
    if target_arl < 1.0:
        raise ValueError(f"arl0_min must be >= 1 period; got {arl0_min!r}.")
    periods = _check_horizon(horizon)
    alpha = check_open_unit(false_alarm_prob, "false_alarm_prob")
    if name == "cusum":
        reference = _check_nonnegative(k, "k")

        def arl(x: float) -> float:
            return _cusum_arl_combined(reference, x, 0.0)

        def p_alarm(x: float) -> float:
            return _cusum_cdf(reference, x, 0.0, periods)[-1]

        start, param_k, param_lam, kind = 4.0, reference, math.nan, ""
    else:
        smoothing = _check_lam(lam)
        kind = check_choice(limits, "limits", _EWMA_LIMITS)

        def arl(x: float) -> float:
            return _ewma_arl(smoothing, x, 0.0, kind)

        def p_alarm(x: float) -> float:
            return _ewma_cdf(smoothing, x, 0.0, periods, kind)[-1]

        start, param_k, param_lam = 3.0, math.nan, smoothing

    x_p = _solve_increasing(lambda x: 1.0 / max(p_alarm(x), _TINY), 1.0 / alpha, start)
    # The ARL increases with the limit: solve for it only when x_p does not already meet it.
    if arl(x_p) >= target_arl:
        x_arl = x_p
    else:
        x_arl = _solve_increasing(arl, target_arl, 2.0 * x_p, low=x_p)
    value = math.ceil(max(x_arl, x_p) * 1e4) / 1e4
    for _ in range(100):  # guard against the root finder's tolerance
        if arl(value) >= target_arl and p_alarm(value) <= alpha:
            break
        value = round(value + 1e-4, 4)
    else:  # pragma: no cover - both criteria are monotone in the limit
        raise RuntimeError(f"no {name} limit near {value} meets both requirements.")
    return ControlLimit(
        chart=name,
        h_or_L=value,
        arl0=arl(value),
        p_false_alarm_within_horizon=p_alarm(value),
        horizon=periods,
        arl0_min=target_arl,
        false_alarm_prob=alpha,
        k=param_k,
        lam=param_lam,
        limits=kind,
        binding="arl0" if x_arl > x_p else "false_alarm_prob",
    )
