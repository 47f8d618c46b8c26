"""Audited-bias change: has the model's error against the reference moved since validation?

The audited subset pairs the locked model's reading with a reference reading. Their difference
removes the patients' own variation (in the demo, about 2 mm between patients against about 0.8 mm
of model-minus-reference scatter), so it is the most sensitive label-based drift signal, and
the validation study gives its in-control value per segment: the bias ``b0`` and SD ``s0`` of
``n0`` predicted-minus-reference differences (``baseline.json``, ``agreement``).

Statistic (per segment and pooled, per month ``t`` of acquisition, labels arrived by the run's
``as_of``): for each window of the last ``w`` months ending at ``t`` (``w`` in
:data:`WINDOWS`) with ``n`` labelled studies of mean difference ``d``,

    T = (d - b0) / (s0 * sqrt(1/n + 1/n0)),

and the month's statistic is the ``T`` of largest magnitude. The ``1/n0`` term counts the
baseline's own sampling error, so ``T`` is close to standard normal in control however many
labels accumulate; a CUSUM against ``b0`` would instead drift on ``b0``'s error. A month alarms
when ``|T|`` reaches the segment's limit ``c`` and the change ``|d - b0|`` is material (at least
``Settings.min_shift``). The alarm's month is the acquisition month, so the onset is dated
to when the images changed, not to when their labels came in.

Limit: every monthly run re-reads every window with the labels arrived so far, so one stream
makes many correlated looks. ``c`` is the ``1 - alpha_b`` quantile of the largest ``|T|`` over
all runs, months and windows of the horizon in simulated in-control histories
(:func:`calibrate`): per acquisition month ``a`` audited studies (the segment's observed
audit volume, rounded to :data:`AUDIT_GRID`; ``n0`` rounded down to two significant digits,
:func:`size_floor`), each labelled after a delay drawn uniformly from
0 to the declared maximum (``Settings.label_delay_months``; spread-out delays make the most
distinct partial looks, and the limit moves by about 0.2 between delay patterns), and a
baseline redrawn at its own size ``n0``. The delays are declared rather than estimated because
early runs see only the short ones. :func:`detection_power` reports what the limit can catch.
``alpha_b`` is the stream's share of the family-wise rate
(:class:`~validation.surveillance.signals.FalseAlarmPlan`, ``bias_alpha``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from validation.surveillance.baseline import POOLED
from validation.surveillance.signals import FalseAlarmPlan, Settings, months_between, signal_row

#: Lengths (months of acquisition) of the windows ending at each month.
WINDOWS = (1, 2, 3)
VARIABLE = "bias-change"
#: Simulated histories per calibration by default (the limit's quantile is far in the tail).
DRAWS = 200_000
_CHUNK = 25_000


@dataclass(frozen=True)
class Calibration:
    """The inputs and result of one limit calibration (recorded in ``surveillance.json``)."""

    n0: int
    per_month: int
    lag_probabilities: tuple[float, ...]
    months: int
    alpha: float
    draws: int
    seed: int
    limit: float

    def record(self) -> dict[str, Any]:
        return {
            "n0": self.n0,
            "audited_per_month": self.per_month,
            "lag_probabilities": {str(i): p for i, p in enumerate(self.lag_probabilities) if p},
            "months": self.months,
            "alpha": self.alpha,
            "draws": self.draws,
            "seed": self.seed,
            "limit": self.limit,
        }


@functools.lru_cache(maxsize=256)
def calibrate(
    n0: int,
    per_month: int,
    lag_probabilities: tuple[float, ...],
    *,
    months: int,
    alpha: float,
    draws: int = DRAWS,
    seed: int = 0,
) -> Calibration:
    """The limit ``c`` with P(max |T| over runs, months and windows >= c) = ``alpha`` in control.

    Parameters
    ----------
    n0 : int
        Pairs in the segment's baseline (at least 2).
    per_month : int
        Audited studies per acquisition month (at least 1).
    lag_probabilities : tuple of float
        Probability that a label arrives ``i`` months after acquisition (index ``i``); sums
        to 1.
    months : int
        Horizon: runs (and acquisition months) simulated.
    alpha : float
        Allowed in-control probability of any alarm within the horizon.
    draws, seed : int
        Simulated histories and the seed of their generator.

    Returns
    -------
    Calibration

    Examples
    --------
    >>> cal = calibrate(50, 20, (0.0, 0.45, 0.35, 0.2), months=12, alpha=0.05, draws=20_000)
    >>> 2.5 < cal.limit < 3.5
    True
    """
    if n0 < 2 or per_month < 1:
        raise ValueError(f"n0 must be >= 2 and per_month >= 1, got {n0!r} and {per_month!r}")
    p = np.asarray(lag_probabilities, float)
    if p.ndim != 1 or p.size == 0 or np.any(p < 0) or not math.isclose(p.sum(), 1.0):
        raise ValueError(f"lag_probabilities must be probabilities summing to 1, got {p.tolist()}")
    rng = np.random.default_rng([seed, n0, per_month, months])
    peaks = [
        _peak(rng, min(_CHUNK, draws - start), n0, per_month, p, months)[:, -1]
        for start in range(0, draws, _CHUNK)
    ]
    limit = float(np.quantile(np.concatenate(peaks), 1.0 - alpha))
    return Calibration(
        n0=int(n0),
        per_month=int(per_month),
        lag_probabilities=tuple(round(float(v), 6) for v in p),
        months=int(months),
        alpha=float(alpha),
        draws=int(draws),
        seed=int(seed),
        limit=limit,
    )


def _peak(
    rng: np.random.Generator,
    draws: int,
    n0: int,
    a: int,
    p: np.ndarray,
    months: int,
    *,
    shift: float = 0.0,
    onset: int = 0,
    gate: float = 0.0,
) -> np.ndarray:
    """Largest |T| of each simulated history up to each run, shape (draws, months).

    Units are the true SD of a difference. ``shift`` is added to every difference acquired
    from month index ``onset``; a window counts only if its change ``|d - b0|`` reaches
    ``gate`` (the materiality gate). A window's statistic changes only while labels of its
    months may still arrive, so each run re-reads only the windows ending in its last
    ``max lag + 1`` months.
    """
    counts = rng.multinomial(a, p, size=(draws, months))  # (draws, acquisition month, lag)
    sums = rng.standard_normal(counts.shape) * np.sqrt(counts)
    if shift:
        sums[:, onset:, :] += shift * counts[:, onset:, :]
    n_by_lag = np.cumsum(counts, axis=2).astype(float)  # labels arrived within each lag
    s_by_lag = np.cumsum(sums, axis=2)
    b0 = rng.standard_normal(draws) / math.sqrt(n0)
    s0 = np.sqrt(rng.chisquare(n0 - 1, draws) / (n0 - 1))
    max_lag = p.size - 1
    peak = np.zeros(draws)
    by_run = np.empty((draws, months))
    for run in range(months):
        for end in range(max(0, run - max_lag), run + 1):
            for w in WINDOWS:
                lo = max(0, end - w + 1)
                nw = sum(n_by_lag[:, j, min(run - j, max_lag)] for j in range(lo, end + 1))
                sw = sum(s_by_lag[:, j, min(run - j, max_lag)] for j in range(lo, end + 1))
                with np.errstate(invalid="ignore", divide="ignore"):
                    change = sw / nw - b0
                    t = np.abs(change / (s0 * np.sqrt(1.0 / nw + 1.0 / n0)))
                if gate:
                    t = np.where(np.abs(change) >= gate, t, 0.0)
                np.fmax(peak, t, out=peak)
        by_run[:, run] = peak
    return by_run


#: The shifts whose detection power is shown when no material shift is set (in the
#: measurement's unit; with one, the shifts are one to four times it).
POWER_SHIFTS = (0.5, 1.0, 1.5, 2.0)


def detection_power(
    calibration: Calibration,
    *,
    sd_mm: float,
    shifts_mm: tuple[float, ...] = POWER_SHIFTS,
    after: int = 3,
    min_shift: float = 0.0,
    draws: int = 20_000,
) -> dict[str, Any]:
    """Probability that the signal has alarmed by the run ``k`` months after a shift's onset.

    Simulated like :func:`calibrate` (same audit volume, label delays and baseline size), with
    every difference acquired from the middle of the horizon on shifted by ``shift_mm`` (in
    mm, converted with ``sd_mm``, the SD of a difference), the limit ``calibration.limit`` and
    the materiality gate ``min_shift``.

    Examples
    --------
    >>> cal = calibrate(50, 20, (0.0, 0.45, 0.35, 0.2), months=12, alpha=0.001, draws=20_000)
    >>> power = detection_power(cal, sd_mm=0.8, shifts_mm=(2.0,), draws=2_000)
    >>> power["rows"][0]["by_months_after_onset"]["2"] > 0.9
    True
    """
    if not sd_mm > 0:
        raise ValueError(f"sd_mm must be > 0, got {sd_mm!r}")
    months, onset = calibration.months, calibration.months // 2
    after = min(after, months - 1 - onset)
    p = np.asarray(calibration.lag_probabilities, float)
    rows = []
    for shift in shifts_mm:
        rng = np.random.default_rng([calibration.seed, 1, round(shift * 1000)])
        peak = _peak(
            rng,
            draws,
            calibration.n0,
            calibration.per_month,
            p,
            months,
            shift=shift / sd_mm,
            onset=onset,
            gate=min_shift / sd_mm,
        )
        alarmed = peak >= calibration.limit
        before = alarmed[:, onset - 1] if onset else np.zeros(draws, bool)
        rows.append(
            {
                "shift_mm": float(shift),
                "by_months_after_onset": {
                    str(k): float(np.mean(alarmed[:, onset + k] & ~before))
                    for k in range(after + 1)
                },
            }
        )
    return {
        "n0": calibration.n0,
        "audited_per_month": calibration.per_month,
        "sd_mm": float(sd_mm),
        "limit": calibration.limit,
        "min_shift": float(min_shift),
        "draws": int(draws),
        "rows": rows,
    }


def bias_change_signals(
    labelled: pd.DataFrame,
    months: list[str],
    baseline_segments: dict[tuple[str, str], dict],
    plan: FalseAlarmPlan,
    *,
    as_of: str,
) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """Audited-bias change per segment and month; returns records, signal rows, calibration.

    ``labelled`` is :func:`validation.surveillance.performance.label_table`'s output (labels
    arrived by ``as_of``; an optional ``pooled_offset`` column is subtracted from the pooled
    segment's differences, see :meth:`validation.surveillance.epochs.EpochPlan.pooled_offsets`).
    Segments whose baseline has no agreement record (a baseline frozen
    before schema 2, or a validation study without reference readings) and months without
    labels are recorded as not assessed.
    """
    matched = labelled[labelled["matched"] & labelled["reference"].notna()].copy()
    matched["difference"] = matched["measurement"].astype(float) - matched["reference"].astype(
        float
    )
    settings = plan.settings
    delay = int(settings.label_delay_months)
    probabilities = tuple([1.0 / (delay + 1)] * (delay + 1))
    lags = matched["lag"].dropna().astype(int)
    late = int((lags > delay).sum())
    cache: dict[tuple[int, int], Calibration] = {}
    records, rows, calibrations = [], [], []
    sized: list[tuple[int, int, float, Calibration]] = []
    index = pd.Index(months, name="month")
    cells = matched.groupby(["site", "vendor", "month"])["difference"].agg(["size", "sum"])
    arrays = {
        key: (
            group.droplevel([0, 1])["size"].reindex(index, fill_value=0).to_numpy(float),
            group.droplevel([0, 1])["sum"].reindex(index, fill_value=0.0).to_numpy(float),
        )
        for key, group in cells.groupby(level=[0, 1], sort=False)
    }
    # a study read by another version than the released one is judged against its own
    # version's validation bias: ``pooled_offset`` (that minus the released bias) comes off
    offset = matched["pooled_offset"] if "pooled_offset" in matched.columns else 0.0
    pooled = (
        matched.assign(difference=matched["difference"] - offset)
        .groupby("month")["difference"]
        .agg(["size", "sum"])
    )
    arrays[(POOLED, POOLED)] = (
        pooled["size"].reindex(index, fill_value=0).to_numpy(float),
        pooled["sum"].reindex(index, fill_value=0.0).to_numpy(float),
    )
    empty = (np.zeros(len(months)), np.zeros(len(months)))
    for (site, vendor), segment in baseline_segments.items():
        n, s = arrays.get((site, vendor), empty)
        agreement = segment.get("agreement") or {}
        n0, b0, s0 = agreement.get("n"), agreement.get("bias"), agreement.get("sd")
        per_month = _audit_volume(n, months, as_of, delay)
        if not n0 or n0 < 2 or b0 is None or not s0 or per_month < 1:
            why = (
                "no agreement record in the baseline"
                if not n0 or b0 is None or not s0
                else "no audited labels yet"
            )
            segment_key = (site, vendor)
            rows += [
                _row(month, segment_key, math.nan, math.nan, False, 0, f"not assessed: {why}")
                for month in months
            ]
            continue
        per_month = audit_grid(per_month)
        key = (size_floor(int(n0)), per_month)
        if key not in cache:
            cache[key] = calibrate(
                key[0],
                int(per_month),
                probabilities,
                months=settings.horizon_months,
                alpha=plan.bias_alpha,
                draws=settings.calibration_draws,
                seed=settings.seed,
            )
        cal = cache[key]
        calibrations.append({"site": site, "vendor": vendor, **cal.record()})
        if site != POOLED:
            sized.append((int(per_month), int(n0), float(s0), cal))
        gate = settings.min_shift
        for i, month in enumerate(months):
            best, alarmed = None, None
            for w in WINDOWS:
                lo = max(0, i - w + 1)
                nw, sw = n[lo : i + 1].sum(), s[lo : i + 1].sum()
                if nw == 0:
                    continue
                d = sw / nw
                t = (d - b0) / (s0 * math.sqrt(1.0 / nw + 1.0 / n0))
                window = (t, d, int(nw), months[lo])
                if best is None or abs(t) > abs(best[0]):
                    best = window
                if abs(t) >= cal.limit and abs(d - b0) >= gate:
                    if alarmed is None or abs(t) > abs(alarmed[0]):
                        alarmed = window
            if best is None:
                none_yet = "no audited label of this month or the two before yet"
                rows.append(_row(month, (site, vendor), math.nan, cal.limit, False, 0, none_yet))
                continue
            alarm = alarmed is not None
            t, d, nw, start = alarmed or best
            detail = (
                f"bias {settings.amount(d, sign=True)} on {nw} audited studies acquired {start} "
                f"to {month} vs {settings.amount(b0, sign=True)} in validation (n0 = {n0}, SD "
                f"{s0:.2f}): change {settings.amount(d - b0, sign=True)}, T = {t:+.2f} (limit "
                f"{cal.limit:.2f}; material from {settings.shift_text})"
            )
            rows.append(_row(month, (site, vendor), abs(t), cal.limit, alarm, nw, detail))
            records.append(
                {
                    "month": month,
                    "site": site,
                    "vendor": vendor,
                    "window_start": start,
                    "labelled": nw,
                    "bias": d,
                    "baseline_bias": b0,
                    "change_mm": d - b0,
                    "t": t,
                    "limit": cal.limit,
                    "alarm": bool(alarm),
                }
            )
    typical = _typical(sized, settings)
    summary = {
        "power": None
        if typical is None
        else {
            "segment": typical[0],
            **detection_power(
                typical[1],
                sd_mm=typical[2],
                # in the measurement's unit: one to four times the material shift
                shifts_mm=POWER_SHIFTS
                if settings.min_shift <= 0
                else tuple(k * settings.min_shift for k in (1, 2, 3, 4)),
                min_shift=settings.min_shift,
                draws=4_000,
            ),
        },
        "windows_months": list(WINDOWS),
        "alpha": plan.bias_alpha,
        "label_delay_months": delay,
        "observed_lag_months": {
            str(k): int(v) for k, v in lags.value_counts().sort_index().items()
        },
        "labels_later_than_declared": late,
        "segments": calibrations,
    }
    return records, rows, summary


def _row(
    month: str,
    segment: tuple[str, str],
    statistic: float,
    limit: float,
    alarm: bool,
    n: int,
    detail: str,
) -> dict[str, Any]:
    """A ``performance`` row of ``signals.csv`` for the bias change (variable :data:`VARIABLE`)."""
    return signal_row(month, *segment, "performance", VARIABLE, statistic, limit, alarm, n, detail)


#: Audit volumes the limits are calibrated for (studies a month); others go to the nearest.
AUDIT_GRID = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000)


def size_floor(n0: int) -> int:
    """``n0`` rounded down to two significant digits, the baseline size the limit is
    calibrated for: a smaller baseline has the larger error, so the limit can only rise.

    Examples
    --------
    >>> size_floor(49), size_floor(495), size_floor(1234)
    (49, 490, 1200)
    """
    if n0 < 100:
        return int(n0)
    step = 10 ** (len(str(int(n0))) - 2)
    return int(n0) // step * step


def audit_grid(per_month: int) -> int:
    """The nearest calibrated audit volume (on a log scale; the limit depends on it weakly).

    Examples
    --------
    >>> audit_grid(19), audit_grid(24), audit_grid(26), audit_grid(5000)
    (20, 20, 30, 1000)
    """
    logs = np.log(np.asarray(AUDIT_GRID, float))
    return int(AUDIT_GRID[int(np.argmin(np.abs(logs - math.log(max(per_month, 1)))))])


def _audit_volume(n: np.ndarray, months: list[str], as_of: str, delay: int) -> int:
    """Audited studies per acquisition month (``n``: labels so far by month): the mean over
    the months whose labels are all in, or, before any month is complete, the labels so far
    scaled up by the share expected to have arrived (delays uniform over 0 to ``delay``)."""
    if not n.sum():
        return 0
    waited = np.array([months_between(m, as_of) for m in months])
    complete = waited >= delay
    if complete.any():
        return max(1, round(n[complete].sum() / complete.sum()))
    expected = float(np.sum((np.minimum(waited, delay) + 1) / (delay + 1)))
    return max(1, round(n.sum() / expected))


def _typical(
    sized: list[tuple[int, int, float, Calibration]], settings: Settings
) -> tuple[str, Calibration, float] | None:
    """The median segment by audit volume and size (``(per_month, n0, sd, calibration)`` of
    the site x vendor segments), described, for the power table."""
    if not sized:
        return None
    a, n0, _, cal = sorted(sized, key=lambda t: (t[0], t[1]))[len(sized) // 2]
    sd = float(np.median([t[2] for t in sized]))
    return (
        f"a segment of {n0} validation pairs and {a} audited studies a month, with the "
        f"segments' median SD of a difference, {settings.amount(sd)}",
        cal,
        sd,
    )
