"""Output control charts: CUSUM of the monthly mean and EWMA of the positive rate.

Per segment (site x vendor) the monthly mean predicted measurement is standardized against the
segment's frozen baseline, ``z = (mean - mu0) / (sigma0 * sqrt(1/n + 1/n0))`` (the ``1/n0``
term carries the baseline mean's own sampling error), and charted with a two-sided tabular
CUSUM; the monthly positive rate likewise, ``z = (rate - p0) / sqrt(p0 (1 - p0) (1/n + 1/n0))``,
with an EWMA with exact time-varying limits (:mod:`validation.stats.control`); ``p0 (1 - p0)``
is taken at the pooled two-sample proportion ``(x + n0 p0) / (n + n0)`` (the textbook
two-proportion z), which keeps an underestimated baseline rate from looking like a drift. The
pooled charts standardize the sum of the segments' deviations from their own baselines, so a
change in the mix of segments alone does not move them. A month without data carries the charts
over; the charts are not reset after an alarm, so a persistent shift keeps its segment in alarm
until a new baseline is frozen.

An output alarm needs the chart's signal AND a material change, as the drift signals do (a
large month makes trivial differences significant): for the mean, the months the signalling
side of the CUSUM has accumulated since it last stood at zero must differ from the baseline
mean by at least ``min_shift``; for the rate, the EWMA of the raw difference from the
baseline rate must reach ``min_rate_change``.

The limits (from :func:`~validation.surveillance.signals.plan_false_alarms`) treat the frozen
baseline as the in-control truth. :func:`baseline_error` estimates by Monte Carlo how often the
charts would alarm in control once the baseline's own sampling error is counted too (a small
baseline per segment looks like a small shift to a sensitive chart), and the run reports it
beside the stated rate.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from validation.numbers import as_float
from validation.stats import control
from validation.surveillance.baseline import POOLED
from validation.surveillance.signals import FalseAlarmPlan, floor_rate, signal_row


def output_signals(
    rows: pd.DataFrame,
    months: list[str],
    baseline_segments: dict[tuple[str, str], dict],
    plan: FalseAlarmPlan,
    limits: ChartLimits | None = None,
) -> tuple[list[dict], list[dict]]:
    """CUSUM of the monthly mean and EWMA of the positive rate, per segment and pooled.

    All segments' charts run at once (segments x months), the pooled chart last. ``limits``:
    the per-segment limits (default: :func:`chart_limits` of these rows and ``plan``).
    """
    keys = [key for key in baseline_segments if key[0] != POOLED]
    predicted = rows[rows["predicted"]]
    agg = (
        predicted.groupby(["site", "vendor", "month"])
        .agg(n=("measurement", "size"), total=("measurement", "sum"), pos=("positive", "sum"))
        .reindex(pd.MultiIndex.from_tuples([(s, v, m) for s, v in keys for m in months]))
        .fillna(0.0)
    )
    shape = (len(keys), len(months))
    n = agg["n"].to_numpy(float).reshape(shape)
    total = agg["total"].to_numpy(float).reshape(shape)
    pos = agg["pos"].to_numpy(float).reshape(shape)
    base = [baseline_segments[key] for key in keys]
    mu0 = np.array([as_float(b.get("mean_measurement")) for b in base])[:, None]
    sd0 = np.array([as_float(b.get("sd_measurement")) for b in base])[:, None]
    n0 = np.array([float(b.get("n") or 0) for b in base])[:, None]
    p0 = np.array([floor_rate(b.get("positive_rate"), b.get("n")) for b in base])[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        charted = np.isfinite(mu0) & (sd0 > 0) & (n0 > 1)
        mean_dev = np.where(charted, total - n * mu0, 0.0)
    if limits is None:
        limits = chart_limits(baseline_segments, n, months, plan)
    elif limits.counts.shape[0] != len(keys) + 1:
        raise ValueError(f"limits has {limits.counts.shape[0]} rows, expected {len(keys) + 1}")
    mean = _mean_chart(n * charted, mean_dev, sd0, n0, plan, h=limits.h[:, None])
    rate = _rate_chart(n * (n0 > 0), pos, p0, n0, plan, L=limits.L[:, None])
    n_all = np.vstack([n, n.sum(0)[None, :]])
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.vstack([total, total.sum(0)[None, :]]) / n_all
        rates = np.vstack([pos, pos.sum(0)[None, :]]) / n_all
    segments, signal_rows = [], []
    for i, (site, vendor) in enumerate([*keys, (POOLED, POOLED)]):
        h = float(limits.h[i])
        mean_series = _series(
            months,
            n_all[i],
            mean=means[i],
            z=mean["z"][i],
            upper=mean["upper"][i],
            lower=mean["lower"][i],
            limit=np.full(len(months), h),
            shift_mm=mean["shift"][i],
            chart_signal=mean["signal"][i],
            alarm=mean["alarm"][i],
        )
        rate_series = _series(
            months,
            n_all[i],
            rate=rates[i],
            z=rate["z"][i],
            ewma=rate["ewma"][i],
            limit=rate["limit"][i],
            rate_change=rate["change"][i],
            chart_signal=rate["signal"][i],
            alarm=rate["alarm"][i],
        )
        for m, r in zip(mean_series, rate_series, strict=True):
            month, count = m["month"], m["n"]
            upper, lower, shift = m["upper"], m["lower"], m["shift_mm"]
            unit = plan.settings
            mean_detail = (
                f"mean {unit.amount(m['mean'])}, z = {m['z']:.2f}; CUSUM upper {upper:.2f}, "
                f"lower {lower:.2f} (h = {h:.2f}); shift over the CUSUM's run "
                f"{unit.amount(shift, sign=True)} (material from {unit.shift_text})"
            )
            rate_detail = (
                f"rate {r['rate']:.3f}, z = {r['z']:.2f}; EWMA {r['ewma']:.2f} (limits +/- "
                f"{r['limit']:.2f}); smoothed change {r['rate_change']:+.3f} (material from "
                f"{plan.settings.min_rate_change:g})"
            )
            charts = (
                ("output_mean", "measurement", max(upper, lower), h, m["alarm"]),
                ("output_positive_rate", "positive", r["ewma"], r["limit"], r["alarm"]),
            )
            details = (mean_detail, rate_detail)
            signal_rows += [
                signal_row(month, site, vendor, *chart, count, detail)
                for chart, detail in zip(charts, details, strict=True)
            ]
        segments.append(
            {
                "site": site,
                "vendor": vendor,
                "series": {"output_mean": mean_series, "output_positive_rate": rate_series},
            }
        )
    return segments, signal_rows


def _series(months: list[str], counts: np.ndarray, **columns: np.ndarray) -> list[dict[str, Any]]:
    """One chart point per month: ``month``, ``n`` and each column's value (a Python number)."""
    return [
        {
            "month": month,
            "n": int(counts[j]),
            **{name: np.asarray(column)[j].item() for name, column in columns.items()},
        }
        for j, month in enumerate(months)
    ]


def monthly_counts(
    rows: pd.DataFrame, months: list[str], baseline_segments: dict[tuple[str, str], dict]
) -> np.ndarray:
    """Predicted studies the output charts use, per segment (non-pooled, baseline order) and
    month: the counts :func:`chart_limits` calibrates for."""
    keys = [key for key in baseline_segments if key[0] != POOLED]
    predicted = rows[rows["predicted"]]
    return (
        predicted.groupby(["site", "vendor", "month"])
        .size()
        .reindex(pd.MultiIndex.from_tuples([(s, v, m) for s, v in keys for m in months]))
        .fillna(0.0)
        .to_numpy(float)
        .reshape(len(keys), len(months))
    )


def _with_pooled(values: np.ndarray, groups: int) -> np.ndarray:
    """The rows, then per group of consecutive rows their sum (the pooled segment)."""
    pooled = values.reshape(groups, -1, values.shape[1]).sum(axis=1)
    return np.vstack([values, pooled])


def _mean_chart(
    n: np.ndarray,
    deviation: np.ndarray,
    sd0: np.ndarray,
    n0: np.ndarray,
    plan: FalseAlarmPlan,
    groups: int = 1,
    h: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Gated CUSUM of the monthly mean of every segment (rows), then of each pooled segment.

    ``n`` studies a month (0: no data or no baseline), ``deviation`` the sum of the readings
    minus ``n * mu0``; both (segments, months), ``sd0`` and ``n0`` (segments, 1). The rows
    form ``groups`` deployments of equally many segments (1 for a real run; one per simulated
    history in :func:`baseline_error`), each with its pooled row after all segment rows.
    ``h``: the limit of every output row, (rows, 1) (default: the plan's known-parameter h).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(n > 0, n * sd0**2 * (1.0 + n / n0), 0.0)
    n_all = _with_pooled(n, groups)
    dev_all = _with_pooled(np.where(n > 0, deviation, 0.0), groups)
    z = _ratio(dev_all, _with_pooled(variance, groups))
    res = control.cusum(z, k=plan.cusum["k"], h=plan.cusum["h"], missing="carry")
    upper, lower = np.asarray(res.upper), np.asarray(res.lower)
    shift_up, shift_down = _run_shifts(upper, lower, dev_all, n_all, np.isfinite(z))
    h = np.full((z.shape[0], 1), plan.cusum["h"]) if h is None else np.asarray(h, float)
    minimum = plan.settings.min_shift
    up, down = (upper > h) & (shift_up >= minimum), (lower > h) & (shift_down <= -minimum)
    return {
        "z": z,
        "upper": upper,
        "lower": lower,
        "signal": (upper > h) | (lower > h),
        "shift": np.where(lower > upper, shift_down, shift_up),
        "alarm": up | down,
    }


def _run_shifts(
    upper: np.ndarray, lower: np.ndarray, deviation: np.ndarray, n: np.ndarray, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean deviation from the baseline (mm) over the months each side of the CUSUM has
    accumulated since it last stood at zero; a month without data carries the values."""
    shape = upper.shape
    out_up, out_down = np.full(shape, np.nan), np.full(shape, np.nan)
    sum_up, cnt_up = np.zeros(shape[0]), np.zeros(shape[0])
    sum_down, cnt_down = np.zeros(shape[0]), np.zeros(shape[0])
    for t in range(shape[1]):
        here = seen[:, t]
        going_up, going_down = upper[:, t] > 0, lower[:, t] > 0
        sum_up = np.where(here, np.where(going_up, sum_up + deviation[:, t], 0.0), sum_up)
        cnt_up = np.where(here, np.where(going_up, cnt_up + n[:, t], 0.0), cnt_up)
        sum_down = np.where(here, np.where(going_down, sum_down + deviation[:, t], 0.0), sum_down)
        cnt_down = np.where(here, np.where(going_down, cnt_down + n[:, t], 0.0), cnt_down)
        with np.errstate(divide="ignore", invalid="ignore"):
            out_up[:, t] = np.where(cnt_up > 0, sum_up / cnt_up, 0.0)
            out_down[:, t] = np.where(cnt_down > 0, sum_down / cnt_down, 0.0)
    return out_up, out_down


def _rate_chart(
    n: np.ndarray,
    positives: np.ndarray,
    p0: np.ndarray,
    n0: np.ndarray,
    plan: FalseAlarmPlan,
    groups: int = 1,
    L: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Gated EWMA of the monthly positive rate of every segment (rows), then of each pooled
    segment (see :func:`_mean_chart`); ``L`` the multiplier of every output row, (rows, 1)."""
    seen = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled_p = (positives + n0 * p0) / (n + n0)  # two-sample pooled proportion
        variance = np.where(seen, n * pooled_p * (1.0 - pooled_p) * (1.0 + n / n0), 0.0)
        deviation = np.where(seen, positives - n * p0, 0.0)
        n_all = _with_pooled(n, groups)
        dev_all = _with_pooled(deviation, groups)
        z = _ratio(dev_all, _with_pooled(variance, groups))
        difference = np.where(np.isfinite(z), dev_all / n_all, np.nan)
    lam = plan.ewma["lam"]
    res = control.ewma(z, lam=lam, L=1.0, missing="carry")  # unit limits, scaled below
    change = np.asarray(control.ewma(difference, lam=lam, L=1.0, missing="carry").statistic)
    multiplier = np.full((z.shape[0], 1), plan.ewma["L"]) if L is None else np.asarray(L, float)
    limit = multiplier * np.asarray(res.limit)
    statistic = np.asarray(res.statistic)
    signal = np.abs(statistic) > limit
    material = np.abs(change) >= plan.settings.min_rate_change
    return {
        "z": z,
        "ewma": statistic,
        "limit": limit,
        "change": change,
        "signal": signal,
        "alarm": signal & material & (np.sign(change) == np.sign(statistic)),
    }


# --------------------------------------------------------------------------- calibrated limits


@dataclass(frozen=True)
class ChartLimits:
    """The output charts' limits, one per row: every segment, then the pooled segment.

    ``h`` (CUSUM) and ``L`` (EWMA multiplier of the exact time-varying limits), ``n0`` the
    baseline size and ``counts`` the monthly counts each limit was calibrated for (observed
    months, then the expected count up to the horizon); ``floor_h`` / ``floor_L`` the
    known-parameter limits that give ARL0 >= the minimum (never undercut).
    """

    keys: list[tuple[str, str]]
    h: np.ndarray
    L: np.ndarray
    n0: np.ndarray
    counts: np.ndarray
    method: str
    draws: int
    seed: int
    floor_h: float
    floor_L: float

    def record(self) -> dict[str, Any]:
        """The ``false_alarm.calibration`` block of ``surveillance.json``."""
        return {
            "method": self.method,
            "draws": self.draws,
            "seed": self.seed,
            "floor": {"h": self.floor_h, "L": self.floor_L},
            "segments": [
                {
                    "site": site,
                    "vendor": vendor,
                    "n0": float(self.n0[i]),
                    "monthly_n": [int(c) for c in self.counts[i]],
                    "h": float(self.h[i]),
                    "L": float(self.L[i]),
                }
                for i, (site, vendor) in enumerate(self.keys)
            ],
        }


def chart_limits(
    baseline_segments: dict[tuple[str, str], dict],
    n: np.ndarray,
    months: list[str],
    plan: FalseAlarmPlan,
) -> ChartLimits:
    """Per-segment output-chart limits that keep the stated rate with an estimated baseline.

    Parameters
    ----------
    baseline_segments : dict
        The baseline's segments (site, vendor) -> record (``n``, ``mean_measurement``,
        ``sd_measurement``,
        ``positive_rate``), the pooled one included.
    n : ndarray
        Predicted studies per segment (the non-pooled ones, in ``baseline_segments`` order)
        and month, shape (segments, months).
    months : list of str
        The monitored months.
    plan : FalseAlarmPlan
        Alpha, streams, horizon, ARL minimum and ``settings.limits``.

    Returns
    -------
    ChartLimits

    Notes
    -----
    The charts are never reset, so a chart alarms within the horizon iff the maximum over
    the months of its statistic (``max(C+, C-)`` for the CUSUM, ``|w_t| / sd_t`` for the
    EWMA) exceeds the limit, and that maximum does not depend on the limit. For each
    segment, in-control histories are simulated with the baseline redrawn at its own size
    ``n0`` (mean error ``N(0, sigma^2 / n0)``, SD ``sigma sqrt(chi2(n0 - 1) / (n0 - 1))``;
    baseline positives ``Binomial(n0, p0)``) and the segment's monthly counts (observed,
    then the mean observed count up to the horizon), standardized exactly as the engine
    does; the limit is the ``1 - alpha / m`` quantile of the simulated maximum, and never
    below the known-parameter limit giving ARL0 >= ``arl0_min``. The standardized CUSUM
    does not depend on the true mean and SD, so its limit depends only on ``n0`` and the
    counts; the EWMA's also on the rate (set to the baseline's). The pooled chart is
    calibrated as one segment with the summed baseline and counts (its SD error averages
    over the segments). With ``settings.limits == "known"`` every row gets the plan's
    Markov-chain limits (the baseline taken as exact).
    """
    settings = plan.settings
    keys = [key for key in baseline_segments if key[0] != POOLED]
    rows = len(keys) + 1
    horizon = max(plan.horizon_months, len(months))
    base = [baseline_segments[key] for key in keys]
    n0 = np.array([float(b.get("n") or 0) for b in base])
    sd0 = np.array([as_float(b.get("sd_measurement")) for b in base])
    mu0 = np.array([as_float(b.get("mean_measurement")) for b in base])
    p0 = np.array([floor_rate(b.get("positive_rate"), b.get("n")) for b in base])
    n = np.asarray(n, float).reshape(len(keys), len(months))
    counts = np.zeros((rows, horizon))
    counts[:-1, : len(months)] = n
    seen = n > 0
    expected = np.where(seen.any(1), np.round(n.sum(1) / np.maximum(seen.sum(1), 1)), 0.0)
    counts[:-1, len(months) :] = expected[:, None]
    with np.errstate(invalid="ignore"):
        charted = np.isfinite(mu0) & (sd0 > 0) & (n0 > 1)
    counts[-1] = counts[:-1][n0 > 0].sum(0)
    n0_pool = float(n0[n0 > 0].sum())
    p_pool = float((n0 * p0)[n0 > 0].sum() / n0_pool) if n0_pool > 0 else 0.5
    floor_h, floor_L = _arl_floors(
        plan.arl0_min, plan.horizon_months, plan.cusum["k"], plan.ewma["lam"]
    )
    if settings.limits == "known":
        h = np.full(rows, plan.cusum["h"])
        L = np.full(rows, plan.ewma["L"])
        method = "known-parameter Markov-chain limits (the baseline taken as exact)"
    else:
        q = 1.0 - plan.per_stream_alpha
        draws, seed, k, lam = (
            settings.calibration_draws,
            settings.seed,
            plan.cusum["k"],
            plan.ewma["lam"],
        )
        h = np.full(rows, floor_h)
        L = np.full(rows, floor_L)
        tasks = []
        for i in range(rows):
            pooled = i == rows - 1
            size = n0_pool if pooled else n0[i]
            pattern = tuple(int(c) for c in counts[i])
            if size > 1 and any(pattern) and (pooled or charted[i]):
                tasks.append((i, "h", (int(size), pattern, k, q, draws, seed)))
            if size > 0 and any(pattern):
                rate = p_pool if pooled else float(p0[i])
                tasks.append((i, "L", (int(size), pattern, rate, lam, q, draws, seed)))
        for (i, which, _), value in zip(tasks, _quantiles(tasks), strict=True):
            if which == "h":
                h[i] = max(floor_h, value)
            else:
                L[i] = max(floor_L, value)
        method = (
            "Monte Carlo calibration: per segment, the 1 - alpha/m quantile of the maximum "
            "in-control chart statistic over the horizon, the baseline redrawn at its own size"
        )
    return ChartLimits(
        keys=[*keys, (POOLED, POOLED)],
        h=h,
        L=L,
        n0=np.append(n0, n0_pool),
        counts=counts,
        method=method,
        draws=settings.calibration_draws if settings.limits != "known" else 0,
        seed=settings.seed,
        floor_h=floor_h,
        floor_L=floor_L,
    )


#: Calibrations at or above this many run in worker processes (one per CPU, at most 4).
PARALLEL_FROM = 16
#: Expected events (and non-events) from which the rate calibration draws normals.
NORMAL_FROM_EVENTS = 100
_QUANTILES: dict[tuple[str, tuple], float] = {}  # this process's calibrations, by their inputs


def _quantiles(tasks: list[tuple[int, str, tuple]]) -> list[float]:
    """Each task's simulated quantile (``"h"``: CUSUM, ``"L"``: EWMA), in order; many tasks
    are spread over worker processes (the results do not depend on it: each draw is seeded)."""
    wanted = dict.fromkeys((which, args) for _, which, args in tasks)
    todo = [key for key in wanted if key not in _QUANTILES]
    workers = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    if len(todo) < PARALLEL_FROM or workers < 2:
        values = [_quantile(which, args) for which, args in todo]
    else:
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            chunk = max(1, len(todo) // (4 * workers))
            values = list(
                pool.map(_quantile, [t[0] for t in todo], [t[1] for t in todo], chunksize=chunk)
            )
    _QUANTILES.update(zip(todo, values, strict=True))
    return [_QUANTILES[(which, args)] for _, which, args in tasks]


def _quantile(which: str, args: tuple) -> float:
    return _cusum_quantile(*args) if which == "h" else _ewma_quantile(*args)


@functools.lru_cache(maxsize=64)
def _arl_floors(arl0_min: float, horizon: int, k: float, lam: float) -> tuple[float, float]:
    """Known-parameter CUSUM h and EWMA L giving in-control ARL0 >= ``arl0_min`` (only)."""
    big = 1.0 - 1e-9  # the false-alarm requirement never binds
    h = control.limit_for("cusum", arl0_min=arl0_min, horizon=horizon, false_alarm_prob=big, k=k)
    L = control.limit_for("ewma", arl0_min=arl0_min, horizon=horizon, false_alarm_prob=big, lam=lam)
    return float(h.h_or_L), float(L.h_or_L)


@functools.lru_cache(maxsize=4)
def _normal_draws(months: int, draws: int, seed: int, stream: int) -> tuple[np.ndarray, ...]:
    """Common random numbers shared by every segment's calibration: standard normal monthly
    errors ``e`` (draws, months) and baseline errors ``u`` (draws, 1), one stream per chart."""
    rng = np.random.default_rng([seed, stream, months])
    return rng.standard_normal((draws, months)), rng.standard_normal((draws, 1))


@functools.lru_cache(maxsize=16)
def _sd_ratio(n0: int, draws: int, seed: int) -> np.ndarray:
    """``sqrt(chi2(n0 - 1) / (n0 - 1))`` (draws, 1): an SD estimated from ``n0`` studies over
    the true SD."""
    rng = np.random.default_rng([seed, 3, n0])
    return np.sqrt(rng.chisquare(n0 - 1.0, (draws, 1)) / (n0 - 1.0))


@functools.lru_cache(maxsize=4096)
def _cusum_quantile(
    n0: int, counts: tuple[int, ...], k: float, q: float, draws: int, seed: int
) -> float:
    """``q`` quantile of max_t max(C+_t, C-_t) for in-control months of ``counts`` studies
    against an estimated baseline of ``n0`` (standardized as :func:`_mean_chart` does:
    ``z_t = (e_t - u sqrt(r_t)) / (w sqrt(1 + r_t))``, ``r_t = n_t / n0``)."""
    e, u = _normal_draws(len(counts), draws, seed, 1)
    w = _sd_ratio(n0, draws, seed)
    r = np.asarray(counts, float)[None, :] / n0
    z = np.where(r > 0, (e - u * np.sqrt(r)) / (w * np.sqrt(1.0 + r)), np.nan)
    peak = np.zeros(draws)
    c_plus, c_minus = np.zeros(draws), np.zeros(draws)
    for t in np.flatnonzero(r[0] > 0):  # a month without data carries the chart over
        c_plus = np.maximum(0.0, z[:, t] - k + c_plus)
        c_minus = np.maximum(0.0, -z[:, t] - k + c_minus)
        peak = np.maximum(peak, np.maximum(c_plus, c_minus))
    return float(np.quantile(peak, q, method="higher"))


@functools.lru_cache(maxsize=4096)
def _ewma_quantile(
    n0: int, counts: tuple[int, ...], p: float, lam: float, q: float, draws: int, seed: int
) -> float:
    """``q`` quantile of max_t |w_t| / sd_t of the rate EWMA (standardized as
    :func:`_rate_chart` does) for in-control months of ``counts`` studies with rate ``p``,
    against a baseline rate estimated from ``Binomial(n0, p)``. When the baseline and every
    month expect at least :data:`NORMAL_FROM_EVENTS` events and non-events, the binomials
    are drawn from their normal approximation (common random numbers; much faster)."""
    n = np.asarray(counts, np.int64)[None, :]
    events = min(p, 1.0 - p) * min(n0, int(n[n > 0].min()))
    if events >= NORMAL_FROM_EVENTS:
        # large counts: the binomials' normal approximation, from common random numbers
        e, u = _normal_draws(n.shape[1], draws, seed, 2)
        spread = math.sqrt(p * (1.0 - p))
        p_hat = np.clip(p + spread / math.sqrt(n0) * u, 0.5 / n0, 1.0 - 0.5 / n0)
        x = n * p + spread * np.sqrt(n) * e
    else:
        rng = np.random.default_rng([seed, 2, n0, round(p * 1e9), *counts])
        p_hat = np.clip(rng.binomial(n0, p, (draws, 1)) / n0, 0.5 / n0, 1.0 - 0.5 / n0)
        x = rng.binomial(np.broadcast_to(n, (draws, n.shape[1])), p).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x + n0 * p_hat) / (n + n0)
        variance = n * pooled * (1.0 - pooled) * (1.0 + n / n0)
        z = np.where(n > 0, (x - n * p_hat) / np.sqrt(variance), np.nan)
    peak, w = np.zeros(draws), np.zeros(draws)
    for j, t in enumerate(np.flatnonzero(n[0] > 0), start=1):  # exact limits, as ewma()
        w = lam * z[:, t] + (1.0 - lam) * w
        sd = math.sqrt(lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2 * j)))
        peak = np.maximum(peak, np.abs(w) / sd)
    return float(np.quantile(peak, q, method="higher"))


def _ratio(deviation: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """deviation / sqrt(variance); NaN where the variance is 0 (no data, or no baseline)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance > 0, deviation / np.sqrt(variance), np.nan)


def baseline_error(
    baseline_segments: dict[tuple[str, str], dict],
    census_rows: list[dict],
    plan: FalseAlarmPlan,
    *,
    limits: ChartLimits | None = None,
    histories: int = 10_000,
    seed: int = 20_240_611,
) -> dict[str, Any] | None:
    """In-control false-alarm probability of the charts, the baseline's own error included.

    The verification of the limits: each simulated history draws a baseline of the segment's
    size ``n0`` and the horizon's months (the counts the limits were calibrated for: observed,
    then the expected count) from the same process, and runs every segment's and the pooled
    gated CUSUM and EWMA exactly as :func:`output_signals` does, with ``limits`` (default:
    :func:`chart_limits` for these counts and ``plan``). Returns, per chart family (all
    segments' and the pooled CUSUMs; all EWMAs), the share of histories with any alarm, or
    None before any month has data. The two families are simulated independently; in
    practice the mean and the positive rate move together, so their union is not estimated
    (their sum bounds it). With calibrated limits each family should come out at most its
    stated share ``(segments + 1) * alpha / m`` up to Monte Carlo error; with known-parameter
    limits (``Settings(limits="known")``) a small baseline inflates it.

    Notes
    -----
    Per segment, with the true mean, SD and rate set to the baseline's: the baseline mean
    ``mu0 + sigma U / sqrt(n0)``, SD ``sigma / V`` with ``V = sqrt((n0 - 1) / chi2(n0 - 1))``,
    the monthly means ``mu0 + sigma e_t / sqrt(n)`` (``U``, ``e_t`` standard normal); binomial
    counts of positives for the month and for the baseline. Jensen et al. (2006) review why
    estimated parameters inflate false alarms.

    References
    ----------
    .. [1] Jensen WA, Jones-Farmer LA, Champ CW, Woodall WH. Effects of parameter estimation
       on control chart properties: a literature review. J Qual Technol. 2006;38(4):349-364.
    """
    all_keys = [k for k in baseline_segments if k[0] != POOLED]
    table = pd.DataFrame(census_rows)
    if not all_keys or table.empty:
        return None
    months = sorted(set(table["month"].astype(str)))
    counts = (
        table.groupby(["site", "vendor", "month"])["predicted"]
        .sum()
        .reindex(pd.MultiIndex.from_tuples([(s, v, m) for s, v in all_keys for m in months]))
        .fillna(0.0)
        .to_numpy(float)
        .reshape(len(all_keys), len(months))
    )
    if limits is None:
        limits = chart_limits(baseline_segments, counts, months, plan)
    index = {key: i for i, key in enumerate(limits.keys)}
    keep = [
        k
        for k in all_keys
        if (baseline_segments[k].get("n") or 0) > 1 and limits.counts[index[k]].sum() > 0
    ]
    if not keep:
        return None
    rows_idx = np.array([index[k] for k in keep])
    keys = keep
    s = len(keys)
    n_seg = limits.counts[rows_idx]
    horizon = n_seg.shape[1]
    h_seg, l_seg = limits.h[rows_idx][:, None], limits.L[rows_idx][:, None]
    h_pool, l_pool = float(limits.h[-1]), float(limits.L[-1])
    n0_seg = np.array([float(baseline_segments[k]["n"]) for k in keys])[:, None]
    sd_seg = np.array([as_float(baseline_segments[k].get("sd_measurement")) for k in keys])[:, None]
    sd_seg = np.where(np.isfinite(sd_seg) & (sd_seg > 0), sd_seg, 1.0)
    rate_seg = np.array(
        [
            floor_rate(baseline_segments[k].get("positive_rate"), n0)
            for k, n0 in zip(keys, n0_seg.ravel(), strict=True)
        ]
    )[:, None]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(histories, 2_000_000 // (s * horizon)))
    any_mean = any_rate = done = 0
    while done < histories:
        r = min(chunk, histories - done)
        done += r
        # histories stacked: (r * s) segment rows, history by history, then r pooled rows
        n = np.tile(n_seg, (r, 1))
        n0, sd = np.tile(n0_seg, (r, 1)), np.tile(sd_seg, (r, 1))
        h = np.vstack([np.tile(h_seg, (r, 1)), np.full((r, 1), h_pool)])
        L = np.vstack([np.tile(l_seg, (r, 1)), np.full((r, 1), l_pool)])
        u = rng.standard_normal((r * s, 1))
        v = np.sqrt((n0 - 1.0) / rng.chisquare(n0 - 1.0))
        e = rng.standard_normal((r * s, horizon))
        with np.errstate(divide="ignore", invalid="ignore"):
            deviation = n * sd * (e / np.sqrt(n) - u / np.sqrt(n0))  # n (mean - mu0_hat)
        deviation = np.where(n > 0, deviation, 0.0)
        mean_alarm = _family_alarm(_mean_chart, r, s, n, deviation, sd / v, n0, plan, h=h)
        p = np.tile(rate_seg, (r, 1))
        positives = rng.binomial(n.astype(int), np.broadcast_to(p, n.shape)).astype(float)
        p0 = np.clip(rng.binomial(n0.astype(int), p) / n0, 0.5 / n0, 1.0 - 0.5 / n0)
        rate_alarm = _family_alarm(_rate_chart, r, s, n, positives, p0, n0, plan, L=L)
        any_mean += int(mean_alarm.sum())
        any_rate += int(rate_alarm.sum())
    return {
        "method": "Monte Carlo: in-control histories with the baseline redrawn at its own size",
        "limits": plan.settings.limits,
        "histories": histories,
        "seed": seed,
        "segments": s,
        "baseline_n_median": float(np.median(n0_seg)),
        "monthly_n_median": float(np.median(n_seg[n_seg > 0])),
        "p_output_mean": any_mean / histories,
        "p_output_positive_rate": any_rate / histories,
        "stated_bound_per_chart": (s + 1) * plan.per_stream_alpha,
    }


def _family_alarm(
    chart: Any, r: int, s: int, n: np.ndarray, *args: Any, **limit: np.ndarray
) -> np.ndarray:
    """Per simulated history (``r`` of them, ``s`` segment rows each): any alarm of its
    segments' charts or of their pooled chart."""
    alarm = chart(n, *args, groups=r, **limit)["alarm"]
    segments = alarm[: r * s].reshape(r, s, -1).any(axis=(1, 2))
    return segments | alarm[r * s :].any(axis=1)
