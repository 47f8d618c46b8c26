"""Output control charts: CUSUM of the monthly mean and EWMA of the positive rate.

Per segment (site x vendor) the monthly mean predicted IVSd is standardized against the
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
mean by at least ``min_shift_mm``; for the rate, the EWMA of the raw difference from the
baseline rate must reach ``min_rate_change``.

The limits (from :func:`~validation.surveillance.signals.plan_false_alarms`) treat the frozen
baseline as the in-control truth. :func:`baseline_error` estimates by Monte Carlo how often the
charts would alarm in control once the baseline's own sampling error is counted too (a small
baseline per segment looks like a small shift to a sensitive chart), and the run reports it
beside the stated rate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from validation.stats import control
from validation.surveillance.baseline import POOLED
from validation.surveillance.signals import FalseAlarmPlan, floor_rate, signal_row


def output_signals(
    rows: pd.DataFrame,
    months: list[str],
    baseline_segments: dict[tuple[str, str], dict],
    plan: FalseAlarmPlan,
) -> tuple[list[dict], list[dict]]:
    """CUSUM of the monthly mean and EWMA of the positive rate, per segment and pooled.

    All segments' charts run at once (segments x months), the pooled chart last.
    """
    keys = [key for key in baseline_segments if key[0] != POOLED]
    predicted = rows[rows["predicted"]]
    agg = (
        predicted.groupby(["site", "vendor", "month"])
        .agg(n=("ivsd", "size"), total=("ivsd", "sum"), pos=("positive", "sum"))
        .reindex(pd.MultiIndex.from_tuples([(s, v, m) for s, v in keys for m in months]))
        .fillna(0.0)
    )
    shape = (len(keys), len(months))
    n = agg["n"].to_numpy(float).reshape(shape)
    total = agg["total"].to_numpy(float).reshape(shape)
    pos = agg["pos"].to_numpy(float).reshape(shape)
    base = [baseline_segments[key] for key in keys]
    mu0 = np.array([_number(b.get("mean_ivsd")) for b in base])[:, None]
    sd0 = np.array([_number(b.get("sd_ivsd")) for b in base])[:, None]
    n0 = np.array([float(b.get("n") or 0) for b in base])[:, None]
    p0 = np.array([floor_rate(b.get("positive_rate"), b.get("n")) for b in base])[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        charted = np.isfinite(mu0) & (sd0 > 0) & (n0 > 1)
        mean_dev = np.where(charted, total - n * mu0, 0.0)
    mean = _mean_chart(n * charted, mean_dev, sd0, n0, plan)
    rate = _rate_chart(n * (n0 > 0), pos, p0, n0, plan)
    n_all = np.vstack([n, n.sum(0)[None, :]])
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.vstack([total, total.sum(0)[None, :]]) / n_all
        rates = np.vstack([pos, pos.sum(0)[None, :]]) / n_all
    h = plan.cusum["h"]
    segments, signal_rows = [], []
    for i, (site, vendor) in enumerate([*keys, (POOLED, POOLED)]):
        mean_series, rate_series = [], []
        for j, month in enumerate(months):
            count = int(n_all[i, j])
            upper, lower = float(mean["upper"][i, j]), float(mean["lower"][i, j])
            shift, alarm = float(mean["shift"][i, j]), bool(mean["alarm"][i, j])
            value, limit = float(rate["ewma"][i, j]), float(rate["limit"][i, j])
            change, rate_alarm = float(rate["change"][i, j]), bool(rate["alarm"][i, j])
            mean_series.append(
                {
                    "month": month,
                    "n": count,
                    "mean": means[i, j],
                    "z": mean["z"][i, j],
                    "upper": upper,
                    "lower": lower,
                    "limit": h,
                    "shift_mm": shift,
                    "chart_signal": bool(mean["signal"][i, j]),
                    "alarm": alarm,
                }
            )
            rate_series.append(
                {
                    "month": month,
                    "n": count,
                    "rate": rates[i, j],
                    "z": rate["z"][i, j],
                    "ewma": value,
                    "limit": limit,
                    "rate_change": change,
                    "chart_signal": bool(rate["signal"][i, j]),
                    "alarm": rate_alarm,
                }
            )
            signal_rows.append(
                signal_row(
                    month,
                    site,
                    vendor,
                    "output_mean",
                    "ivsd_mm",
                    max(upper, lower),
                    h,
                    alarm,
                    count,
                    f"mean {means[i, j]:.2f} mm, z = {mean['z'][i, j]:.2f}; CUSUM upper "
                    f"{upper:.2f}, lower {lower:.2f} (h = {h:.2f}); shift over the CUSUM's "
                    f"run {shift:+.2f} mm (material from {plan.settings.min_shift_mm:g} mm)",
                )
            )
            signal_rows.append(
                signal_row(
                    month,
                    site,
                    vendor,
                    "output_positive_rate",
                    "lvh_positive",
                    value,
                    limit,
                    rate_alarm,
                    count,
                    f"rate {rates[i, j]:.3f}, z = {rate['z'][i, j]:.2f}; EWMA {value:.2f} "
                    f"(limits +/- {limit:.2f}); smoothed change {change:+.3f} (material from "
                    f"{plan.settings.min_rate_change:g})",
                )
            )
        segments.append(
            {
                "site": site,
                "vendor": vendor,
                "series": {"output_mean": mean_series, "output_positive_rate": rate_series},
            }
        )
    return segments, signal_rows


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
) -> dict[str, np.ndarray]:
    """Gated CUSUM of the monthly mean of every segment (rows), then of each pooled segment.

    ``n`` studies a month (0: no data or no baseline), ``deviation`` the sum of the readings
    minus ``n * mu0``; both (segments, months), ``sd0`` and ``n0`` (segments, 1). The rows
    form ``groups`` deployments of equally many segments (1 for a real run; one per simulated
    history in :func:`baseline_error`), each with its pooled row after all segment rows.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(n > 0, n * sd0**2 * (1.0 + n / n0), 0.0)
    n_all = _with_pooled(n, groups)
    dev_all = _with_pooled(np.where(n > 0, deviation, 0.0), groups)
    z = _ratio(dev_all, _with_pooled(variance, groups))
    res = control.cusum(z, k=plan.cusum["k"], h=plan.cusum["h"], missing="carry")
    upper, lower = np.asarray(res.upper), np.asarray(res.lower)
    shift_up, shift_down = _run_shifts(upper, lower, dev_all, n_all, np.isfinite(z))
    h, minimum = plan.cusum["h"], plan.settings.min_shift_mm
    up, down = (upper > h) & (shift_up >= minimum), (lower > h) & (shift_down <= -minimum)
    return {
        "z": z,
        "upper": upper,
        "lower": lower,
        "signal": np.asarray(res.alarm),
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
) -> dict[str, np.ndarray]:
    """Gated EWMA of the monthly positive rate of every segment (rows), then of each pooled
    segment (see :func:`_mean_chart`)."""
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
    res = control.ewma(z, lam=lam, L=plan.ewma["L"], missing="carry")
    change = np.asarray(control.ewma(difference, lam=lam, L=1.0, missing="carry").statistic)
    statistic, signal = np.asarray(res.statistic), np.asarray(res.alarm)
    material = np.abs(change) >= plan.settings.min_rate_change
    return {
        "z": z,
        "ewma": statistic,
        "limit": np.asarray(res.limit),
        "change": change,
        "signal": signal,
        "alarm": signal & material & (np.sign(change) == np.sign(statistic)),
    }


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _ratio(deviation: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """deviation / sqrt(variance); NaN where the variance is 0 (no data, or no baseline)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance > 0, deviation / np.sqrt(variance), np.nan)


def baseline_error(
    baseline_segments: dict[tuple[str, str], dict],
    census_rows: list[dict],
    plan: FalseAlarmPlan,
    *,
    histories: int = 10_000,
    seed: int = 20_240_611,
) -> dict[str, Any] | None:
    """In-control false-alarm probability of the charts, the baseline's own error included.

    The stated limits treat the baseline's mean, SD and positive rate as the truth. Here the
    baseline itself is redrawn too: each simulated history draws a baseline of the segment's
    size ``n0`` and ``horizon`` months of ``n`` studies (the segment's mean monthly count so
    far) from the same process, and runs every segment's and the pooled gated CUSUM and EWMA
    exactly as :func:`output_signals` does. Returns, per chart family (all segments' and the
    pooled CUSUMs; all EWMAs), the share of histories with any alarm, or None before any month
    has data. The two families are simulated independently; in practice the mean and the
    positive rate move together, so their union is not estimated (their sum bounds it).

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
    keys = [k for k, b in baseline_segments.items() if k[0] != POOLED and (b.get("n") or 0) > 1]
    table = pd.DataFrame(census_rows)
    if not keys or table.empty:
        return None
    months_seen = table[table["predicted"] > 0].groupby(["site", "vendor"])["predicted"].mean()
    n_mean = np.array([round(float(months_seen.get(k, 0.0))) for k in keys], dtype=float)
    keep = n_mean > 0
    if not keep.any():
        return None
    keys = [k for k, kept in zip(keys, keep, strict=True) if kept]
    s, horizon = len(keys), plan.horizon_months
    n_seg = n_mean[keep][:, None]
    n0_seg = np.array([float(baseline_segments[k]["n"]) for k in keys])[:, None]
    sd_seg = np.array([_number(baseline_segments[k].get("sd_ivsd")) for k in keys])[:, None]
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
        # histories stacked: (r * s) segment rows, history by history
        n = np.tile(n_seg, (r, horizon))
        n0, sd = np.tile(n0_seg, (r, 1)), np.tile(sd_seg, (r, 1))
        u = rng.standard_normal((r * s, 1))
        v = np.sqrt((n0 - 1.0) / rng.chisquare(n0 - 1.0))
        e = rng.standard_normal((r * s, horizon))
        deviation = n * sd * (e / np.sqrt(n) - u / np.sqrt(n0))  # n (mean - mu0_hat)
        mean_alarm = _family_alarm(_mean_chart, r, s, n, deviation, sd / v, n0, plan)
        p = np.tile(rate_seg, (r, 1))
        positives = rng.binomial(n.astype(int), np.broadcast_to(p, n.shape)).astype(float)
        p0 = np.clip(rng.binomial(n0.astype(int), p) / n0, 0.5 / n0, 1.0 - 0.5 / n0)
        rate_alarm = _family_alarm(_rate_chart, r, s, n, positives, p0, n0, plan)
        any_mean += int(mean_alarm.sum())
        any_rate += int(rate_alarm.sum())
    return {
        "method": "Monte Carlo: in-control histories with the baseline redrawn at its own size",
        "histories": histories,
        "seed": seed,
        "segments": s,
        "baseline_n_median": float(np.median(n0_seg)),
        "monthly_n_median": float(np.median(n_seg)),
        "p_output_mean": any_mean / histories,
        "p_output_positive_rate": any_rate / histories,
        "stated_bound_per_chart": (s + 1) * plan.per_stream_alpha,
    }


def _family_alarm(chart: Any, r: int, s: int, n: np.ndarray, *args: Any) -> np.ndarray:
    """Per simulated history (``r`` of them, ``s`` segment rows each): any alarm of its
    segments' charts or of their pooled chart."""
    alarm = chart(n, *args, groups=r)["alarm"]
    segments = alarm[: r * s].reshape(r, s, -1).any(axis=(1, 2))
    return segments | alarm[r * s :].any(axis=1)
