"""Monthly surveillance signals per segment (site x vendor) and pooled, against the baseline.

This module holds the settings, the false-alarm plan and the input-side signals; the output
charts are in :mod:`validation.surveillance.charts`, the audited performance in
:mod:`validation.surveillance.performance`. Every function is pure: tables and the baseline
record in, tidy rows out; the statistics come from :mod:`validation.stats`.

Signals (the ``signal`` column of ``signals.csv``; ``variable`` names what was tested):

``integrity``
    Exclusion rate at ingest (one-sided binomial test against the baseline's rate, at the
    per-test level, and at least :attr:`Settings.exclusion_margin` above it), duplicates
    (within the month, or a file already received in an earlier month), and a missing batch
    (a segment that received nothing that month: always an alarm).
``header``
    SoftwareVersions or ManufacturerModelName values never seen for that vendor in the
    baseline (a fact, not a test: the alarm starts in the first month the value appears).
``population`` / ``input``
    Age and BMI (two-sample Kolmogorov-Smirnov test and PSI), sex, pixel spacing and frames
    (chi-square test and Cramer's V). An alarm needs both: the test rejects at the per-test
    level AND the effect is material (PSI and KS D at or above their minimums, or Cramer's V),
    so that a large month does not alarm on a trivial difference.
``output_mean`` / ``output_positive_rate``
    CUSUM of the standardized monthly mean predicted measurement, EWMA of the standardized monthly
    positive rate, each with a materiality gate (:mod:`validation.surveillance.charts`).
``performance``
    On the audited subset, by month of acquisition: bias, limits of agreement, sensitivity and
    specificity against the protocol's goals (:mod:`validation.surveillance.performance`), and
    the change of the bias from the validation study's (variable ``bias-change``,
    :mod:`validation.surveillance.bias_change`).

False alarms (:func:`plan_false_alarms`): the family-wise rate ``alpha`` is split over the
monitored streams by weighted Bonferroni (Holm 1979): each segment's audited-bias stream has
weight :attr:`Settings.bias_weight`, every other stream weight 1, so with ``W`` the total weight
a stream of weight ``v`` may false-alarm within the horizon with probability ``alpha * v / W``.
Each chart's limit keeps its in-control probability of an alarm within the horizon at
``alpha / W`` (and its ARL0 at least the minimum), and each monthly test runs at
``alpha / (W * horizon)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from validation.numbers import as_float
from validation.schema import config_default
from validation.stats import control, drift
from validation.surveillance.baseline import CATEGORICAL, NUMERIC, POOLED
from validation.units import with_unit

HEADER_FIELDS = {"software_versions": "SoftwareVersions", "scanner_model": "ManufacturerModelName"}
SIGNAL_COLUMNS = [
    "month",
    "site",
    "vendor",
    "signal",
    "variable",
    "statistic",
    "threshold",
    "alarm",
    "n",
    "detail",
]
MIN_DRIFT_N = 5  # fewer studies in a month: the drift tests are not run (recorded as such)


@dataclass(frozen=True)
class Settings:
    """How the surveillance judges (config ``surveillance`` and the protocol).

    Attributes
    ----------
    familywise_alpha : float
        Probability of any false alarm over all streams and the horizon.
    arl0_months : float
        Minimum in-control average run length of each control chart, in months.
    horizon_months : int
        The horizon the family-wise rate is stated for.
    cusum_k, ewma_lambda : float
        CUSUM reference value (in standardized units) and EWMA smoothing constant.
    psi_min, ks_d_min, cramers_v_min : float
        Minimum effect sizes for a drift alarm.
    exclusion_margin : float
        Minimum excess of the monthly exclusion rate over the baseline's for an alarm.
    min_shift : float
        Minimum material shift of the mean predicted measurement (in its unit) for an
        ``output_mean`` alarm.
    min_rate_change : float
        Minimum material change of the positive rate for an ``output_positive_rate`` alarm.
    confidence : float
        Confidence level of the intervals shown for the audited subset (the protocol's).
    limits : {"calibrated", "known"}
        How the output charts' limits are set. ``"calibrated"`` (default): per segment, by
        simulating in-control histories that include the baseline's own sampling error
        (:func:`validation.surveillance.charts.chart_limits`), so the stated rate is true for
        the baseline's size; ``"known"``: the Markov-chain limit that treats the baseline's
        mean, SD and rate as exact (honest only for a large baseline).
    calibration_draws : int
        Simulated histories per segment for the calibrated limits.
    bias_weight : float
        Weight of each segment's audited-bias stream in the weighted Bonferroni split (every
        other stream has weight 1): the label-based signal a clinical drift must show up in
        gets a larger share of the family-wise rate, fixed before any data are seen.
    label_delay_months : int
        Longest expected delay (months) from acquisition to an audited study's reference
        reading, as the audit programme promises it; the audited-bias limit is calibrated for
        delays up to it (later labels are still used, and counted in ``surveillance.json``).
    seed : int
        Seed of the calibration (the demo protocol's analysis seed by default).
    unit : str
        The UCUM unit of the measurement (the baseline's ``protocol.outputs``), named in the
        alarms' evidence and the plan; "" (none named) by default.

    Notes
    -----
    The settings the workflow config's ``surveillance`` block also sets (``familywise_alpha``,
    ``arl0_months``, ``horizon_months``, ``min_shift``, ``min_rate_change``,
    ``bias_weight``, ``label_delay_months``) default to that block's schema defaults.
    """

    familywise_alpha: float = config_default("surveillance.familywise_alpha")
    arl0_months: float = config_default("surveillance.arl0_months")
    horizon_months: int = config_default("surveillance.horizon_months")
    cusum_k: float = 0.5
    ewma_lambda: float = 0.2
    psi_min: float = 0.25
    ks_d_min: float = 0.2
    cramers_v_min: float = 0.2
    exclusion_margin: float = 0.10
    min_shift: float = config_default("surveillance.min_shift")
    min_rate_change: float = config_default("surveillance.min_rate_change")
    confidence: float = 0.95
    limits: str = "calibrated"
    calibration_draws: int = 200_000
    bias_weight: float = config_default("surveillance.bias_weight")
    label_delay_months: int = config_default("surveillance.label_delay_months")
    seed: int = 20_261_125
    unit: str = ""

    def amount(self, value: float, *, sign: bool = False) -> str:
        """``value`` of the measurement with its unit's symbol, for evidence text."""
        return with_unit(f"{value:+.2f}" if sign else f"{value:.2f}", self.unit)

    @property
    def shift_text(self) -> str:
        """The material shift, e.g. ``0.5 mm``."""
        return with_unit(f"{self.min_shift:g}", self.unit)

    def __post_init__(self) -> None:
        if self.limits not in ("calibrated", "known"):
            raise ValueError(f"limits must be 'calibrated' or 'known', got {self.limits!r}")
        if int(self.calibration_draws) != self.calibration_draws or self.calibration_draws < 1000:
            raise ValueError(
                f"calibration_draws must be an integer >= 1000, got {self.calibration_draws!r}"
            )
        for name in ("familywise_alpha", "confidence"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        if int(self.label_delay_months) != self.label_delay_months or not (
            0 <= self.label_delay_months <= 24
        ):
            raise ValueError(
                f"label_delay_months must be an integer from 0 to 24, got "
                f"{self.label_delay_months!r}"
            )
        if not (isinstance(self.bias_weight, int | float) and 0 < self.bias_weight < 1e6):
            raise ValueError(f"bias_weight must be a number > 0, got {self.bias_weight!r}")
        for name in ("min_shift", "min_rate_change", "exclusion_margin"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.arl0_months < 1:
            raise ValueError(f"arl0_months must be at least 1, got {self.arl0_months!r}")
        if int(self.horizon_months) != self.horizon_months or self.horizon_months < 1:
            raise ValueError(
                f"horizon_months must be a positive integer, got {self.horizon_months!r}"
            )


@dataclass(frozen=True)
class FalseAlarmPlan:
    """Weighted Bonferroni split of the family-wise false-alarm rate over streams and months."""

    familywise_alpha: float
    streams: int
    per_stream_alpha: float
    bias_streams: int
    bias_alpha: float
    per_test_alpha: float
    horizon_months: int
    arl0_min: float
    cusum: dict[str, float]
    ewma: dict[str, float]
    settings: Settings

    def record(self) -> dict[str, Any]:
        """The ``false_alarm`` block of ``surveillance.json``."""
        s = self.settings
        return {
            "familywise_alpha": self.familywise_alpha,
            "streams": self.streams,
            "per_stream_alpha": self.per_stream_alpha,
            "bias_streams": self.bias_streams,
            "bias_weight": s.bias_weight,
            "bias_alpha": self.bias_alpha,
            "per_test_alpha": self.per_test_alpha,
            "horizon_months": self.horizon_months,
            "arl0_min": self.arl0_min,
            "charts": {"cusum": dict(self.cusum), "ewma": dict(self.ewma)},
            "materiality": {"min_shift": s.min_shift, "min_rate_change": s.min_rate_change},
            "drift": {
                "alpha": self.per_test_alpha,
                "psi_min": s.psi_min,
                "ks_d_min": s.ks_d_min,
                "cramers_v_min": s.cramers_v_min,
            },
            "integrity": {"alpha": self.per_test_alpha, "exclusion_margin": s.exclusion_margin},
            "performance": {
                "alarm_confidence": 1.0 - self.per_test_alpha,
                "bias_change_alpha": self.bias_alpha,
            },
            "statement": self.statement(),
        }

    def statement(self) -> str:
        c, e = self.cusum, self.ewma
        known = (
            f"(k = {c['k']:g}, h = {c['h']:.3f}) has in-control ARL {c['arl0']:.0f} months and "
            f"a {c['p_within_horizon']:.2g} chance of a false alarm within the horizon; the EWMA "
            f"of the positive rate (lambda = {e['lam']:g}, L = {e['L']:.3f}) {e['arl0']:.0f} "
            f"months and {e['p_within_horizon']:.2g} (Markov-chain run-length distributions, "
            "Brook & Evans 1972, Lucas & Saccucci 1990)"
        )
        if self.settings.limits == "calibrated":
            charts = (
                f"With a known baseline, the CUSUM of the monthly mean {known}. The limits used "
                "are calibrated per segment so the same per-stream rate holds with the "
                "baseline estimated from its finite sample (below)."
            )
        else:
            charts = f"The CUSUM of the monthly mean {known}."
        return (
            f"At most {self.familywise_alpha:g} probability of any false alarm over all "
            f"{self.streams + self.bias_streams} monitored streams (segment x signal) within "
            f"{self.horizon_months} months (weighted Bonferroni): each of the "
            f"{self.bias_streams} audited-bias streams gets {self.bias_alpha:.3g} (weight "
            f"{self.settings.bias_weight:g}), each of the other {self.streams} streams "
            f"{self.per_stream_alpha:.3g}. {charts} "
            f"Each monthly drift, "
            f"integrity and performance test runs at {self.per_test_alpha:.3g} (the stream's "
            f"share over {self.horizon_months} months); drift alarms also need a material "
            f"effect (PSI >= {self.settings.psi_min:g} and KS D >= {self.settings.ks_d_min:g}, "
            f"or Cramer's V >= {self.settings.cramers_v_min:g}), and output alarms a material "
            f"change (a mean shift of at least {self.settings.shift_text} over the "
            f"months the CUSUM accumulated; a smoothed change of the positive rate of at least "
            f"{self.settings.min_rate_change:g}); such gates only remove alarms. The "
            f"audited-bias limit is the 1 - {self.bias_alpha:.3g} quantile of its largest "
            "in-control statistic over every monthly run, month and window of the horizon "
            "(simulated with the observed audit volume and label delays), and its alarms also "
            f"need a change of at least {self.settings.shift_text}. "
            + (
                ""
                if self.settings.limits == "calibrated"
                else "The rate treats the frozen baseline as the in-control reference; "
            )
            + ("header" if self.settings.limits != "calibrated" else "Header")
            + " changes and "
            "missing batches are facts, not tests, and always alarm."
        )


def count_streams(n_segments: int, n_goals: int) -> int:
    """Monitored streams of weight 1: per segment (pooled included) the two charts, the
    exclusion-rate test, one drift test per variable, and one performance test per goal (the
    audited-bias stream of each segment comes on top, with its own weight)."""
    variables = sum(len(v) for v in NUMERIC.values()) + sum(len(v) for v in CATEGORICAL.values())
    return n_segments * (2 + 1 + variables + n_goals)


def plan_false_alarms(streams: int, settings: Settings, *, bias_streams: int = 0) -> FalseAlarmPlan:
    """Chart limits and test levels so the family-wise false-alarm rate is at most alpha.

    ``streams`` of weight 1 and ``bias_streams`` audited-bias streams of weight
    ``settings.bias_weight`` share ``settings.familywise_alpha`` (weighted Bonferroni).
    """
    total_weight = streams + bias_streams * settings.bias_weight
    per_stream = settings.familywise_alpha / total_weight
    given = {
        "arl0_min": settings.arl0_months,
        "horizon": settings.horizon_months,
        "false_alarm_prob": per_stream,
    }
    cusum_limit = control.limit_for("cusum", **given, k=settings.cusum_k)
    ewma_limit = control.limit_for("ewma", **given, lam=settings.ewma_lambda)
    return FalseAlarmPlan(
        familywise_alpha=settings.familywise_alpha,
        streams=streams,
        per_stream_alpha=per_stream,
        bias_streams=bias_streams,
        bias_alpha=per_stream * settings.bias_weight,
        per_test_alpha=per_stream / settings.horizon_months,
        horizon_months=settings.horizon_months,
        arl0_min=settings.arl0_months,
        cusum={
            "k": settings.cusum_k,
            "h": float(cusum_limit.h_or_L),
            "arl0": float(cusum_limit.arl0),
            "p_within_horizon": float(cusum_limit.p_false_alarm_within_horizon),
        },
        ewma={
            "lam": settings.ewma_lambda,
            "L": float(ewma_limit.h_or_L),
            "arl0": float(ewma_limit.arl0),
            "p_within_horizon": float(ewma_limit.p_false_alarm_within_horizon),
        },
        settings=settings,
    )


# --------------------------------------------------------------------------- preparation


def prepare(batch: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Typed working copy of the batch rows, with ``accepted`` and ``repeat`` flags.

    ``accepted``: the file passed ingestion (predicted, quality-rejected or included).
    ``repeat``: an accepted file whose SOP Instance UID was already accepted in an earlier
    month (or earlier in the same month): counted as a duplicate, left out of every statistic.
    """
    rows = batch.reset_index(drop=True)
    order = np.argsort(rows["month"].to_numpy(), kind="stable")
    rows = rows.iloc[order].reset_index(drop=True)
    status = rows["status"].astype(str)
    accepted = status.ne("excluded").to_numpy()
    sop = rows["sop_instance_uid"].fillna("").astype(str)
    repeat = np.zeros(len(rows), dtype=bool)
    candidates = accepted & sop.ne("").to_numpy()
    repeat[candidates] = sop[candidates].duplicated(keep="first").to_numpy()
    measurement = pd.to_numeric(rows["measurement"], errors="coerce").to_numpy(float)
    probability = pd.to_numeric(rows["probability"], errors="coerce").to_numpy(float)
    # a prediction holds the measurement, the probability or both (what the protocol declares)
    output = np.isfinite(measurement) | np.isfinite(probability)
    predicted = status.eq("predicted").to_numpy() & ~repeat & output
    return pd.DataFrame(
        {
            "month": rows["month"].astype(str).to_numpy(),
            "site": rows["site"].astype(str).to_numpy(),
            "vendor": rows["vendor"].astype(str).to_numpy(),
            "status": status.to_numpy(),
            "reason": rows["reason"].fillna("").astype(str).to_numpy(),
            "study_instance_uid": rows["study_instance_uid"].fillna("").astype(str).to_numpy(),
            "accepted": accepted,
            "repeat": repeat,
            "use": accepted & ~repeat,
            "predicted": predicted,
            "measurement": np.where(predicted, measurement, np.nan),
            "positive": np.where(predicted, probability >= threshold, False),
            "age": pd.to_numeric(rows["patient_age"], errors="coerce").to_numpy(float),
            "bmi": pd.to_numeric(rows["patient_bmi"], errors="coerce").to_numpy(float),
            "sex": rows["patient_sex"].fillna("").astype(str).str.strip().to_numpy(),
            "spacing_mm": rows["spacing_mm"].fillna("").astype(str).str.strip().to_numpy(),
            "frames": _frames_text(rows["frames"]),
            "software_versions": rows["software_versions"].fillna("").astype(str).to_numpy(),
            "scanner_model": rows["scanner_model"].fillna("").astype(str).to_numpy(),
        }
    )


def _frames_text(values: pd.Series) -> np.ndarray:
    """Frames as integer text ('8'), whether the column was read as text or as float."""
    number = pd.to_numeric(values, errors="coerce").to_numpy(float)
    text = np.full(number.shape[0], "", dtype=object)
    known = np.isfinite(number)
    text[known] = number[known].astype(np.int64).astype(str)
    return text


# --------------------------------------------------------------------------- census, integrity


def census(rows: pd.DataFrame, months: list[str], segments: list[tuple[str, str]]) -> list[dict]:
    """Files per month and segment by status, and the software versions of accepted files."""
    keys = pd.MultiIndex.from_tuples(
        [(m, s, v) for m in months for s, v in segments], names=["month", "site", "vendor"]
    )
    counts = rows.groupby(["month", "site", "vendor", "status"]).size().unstack(fill_value=0)
    seen = rows.groupby(["month", "site", "vendor"]).size()
    keys = keys.union(seen.index).sort_values()
    counts = counts.reindex(keys, fill_value=0)
    repeats = rows[rows["repeat"]].groupby(["month", "site", "vendor"]).size()
    duplicates = rows[rows["repeat"] | rows["reason"].eq("duplicate_sop_instance")]
    duplicates = duplicates.groupby(["month", "site", "vendor"]).size()
    versions = (
        rows[rows["accepted"]]
        .groupby(["month", "site", "vendor", "software_versions"])
        .size()
        .sort_index()
    )
    by_key: dict[tuple[str, str, str], dict[str, int]] = {}
    for (month, site, vendor, version), n in versions.items():
        by_key.setdefault((month, site, vendor), {})[version] = int(n)
    out = []
    for key in keys:
        row = counts.loc[key]
        get = lambda name, row=row: int(row[name]) if name in row.index else 0  # noqa: E731
        received = int(row.sum())
        excluded = get("excluded")
        out.append(
            {
                "month": key[0],
                "site": key[1],
                "vendor": key[2],
                "received": received,
                "included": received - excluded,
                "excluded": excluded,
                "predicted": get("predicted"),
                "quality_rejected": get("quality_rejected"),
                "repeats": int(repeats.get(key, 0)),
                "duplicates": int(duplicates.get(key, 0)),
                "software_versions": by_key.get(key, {}),
            }
        )
    return out


def integrity_signals(
    census_rows: list[dict],
    baseline_segments: dict[tuple[str, str], dict],
    plan: FalseAlarmPlan,
) -> tuple[list[dict], list[dict]]:
    """Exclusion rate, duplicates and missing batches per month and segment, and pooled.

    Returns the ``integrity`` records of ``surveillance.json`` and the ``signals.csv`` rows.
    """
    table = pd.DataFrame(census_rows)
    known = [(r["site"], r["vendor"]) in baseline_segments for r in census_rows]
    pooled = (
        table[known]
        .groupby("month")[["received", "excluded", "repeats", "duplicates"]]
        .sum()
        .reset_index()
        .assign(site=POOLED, vendor=POOLED)
    )
    records, signal_rows = [], []
    for frame in (table, pooled):
        for row in frame.itertuples(index=False):
            base = baseline_segments.get((row.site, row.vendor))
            received, excluded = int(row.received), int(row.excluded)
            duplicates = int(row.duplicates)
            missing = received == 0
            # a repeat of an earlier month's file is excluded from the statistics too
            bad = excluded + int(row.repeats)
            rate = bad / received if received else math.nan
            p_value, alarm, detail = math.nan, missing, ""
            if base is None:
                alarm = True
                detail = "segment not in the baseline: no reference to compare with"
            elif missing:
                detail = "missing batch: no files received"
            else:
                p0 = floor_rate(base.get("exclusion_rate"), base.get("received"))
                p_value = float(stats.binom.sf(bad - 1, received, p0))
                alarm = bool(
                    p_value < plan.per_test_alpha and rate - p0 >= plan.settings.exclusion_margin
                )
                detail = (
                    f"{bad} of {received} files excluded or repeated ({rate:.1%}; baseline "
                    f"{p0:.1%}; one-sided binomial p = {p_value:.2g}); duplicates {duplicates}"
                )
            records.append(
                {
                    "month": row.month,
                    "site": row.site,
                    "vendor": row.vendor,
                    "received": received,
                    "excluded": excluded,
                    "exclusion_rate": rate,
                    "duplicates": duplicates,
                    "missing_batch": missing,
                    "p_value": p_value,
                    "alarm": bool(alarm),
                    "detail": detail,
                }
            )
            threshold = math.nan
            if base is not None and not missing:
                threshold = floor_rate(base.get("exclusion_rate"), base.get("received"))
                threshold += plan.settings.exclusion_margin
            signal_rows.append(
                signal_row(
                    row.month,
                    row.site,
                    row.vendor,
                    "integrity",
                    "missing_batch" if missing else "exclusion_rate",
                    rate,
                    threshold,
                    alarm,
                    received,
                    detail,
                )
            )
    return records, signal_rows


def floor_rate(rate: float | None, n: int | None) -> float:
    """A baseline rate kept off 0 and 1 (half a count), so tests and z-scores stay defined."""
    n = max(int(n or 1), 1)
    value = 0.0 if rate is None or not np.isfinite(rate) else float(rate)
    return min(max(value, 0.5 / n), 1.0 - 0.5 / n)


# --------------------------------------------------------------------------- header


def header_signals(
    rows: pd.DataFrame, months: list[str], baseline_segments: dict[tuple[str, str], dict]
) -> tuple[list[dict], list[dict]]:
    """Header values never seen for the vendor in the baseline: changes and monthly rows."""
    known: dict[str, dict[str, set[str]]] = {}
    for (_, vendor), seg in baseline_segments.items():
        entry = known.setdefault(vendor, {f: set() for f in HEADER_FIELDS})
        entry["software_versions"].update(seg.get("software_versions", []))
        entry["scanner_model"].update(seg.get("scanner_models", []))
    used = rows[rows["use"]]
    changes: list[dict] = []
    monthly: dict[tuple[str, str, str], list[str]] = {}
    counts: dict[tuple[str, str, str], int] = {}
    for field, keyword in HEADER_FIELDS.items():
        values = used[used[field] != ""]
        pairs = values.groupby(["vendor", field]).size().index
        new_pairs = {
            (vendor, value)
            for vendor, value in pairs
            if value not in known.get(vendor, {}).get(field, set())
        }
        if not new_pairs:
            continue
        fresh = values[values[field].isin({value for _, value in new_pairs})]
        fresh = fresh[
            [pair in new_pairs for pair in zip(fresh["vendor"], fresh[field], strict=True)]
        ]
        grouped = fresh.groupby(["site", "vendor", field])
        for (site, vendor, value), group in grouped:
            changes.append(
                {
                    "site": site,
                    "vendor": vendor,
                    "field": keyword,
                    "value": value,
                    "first_month": str(group["month"].min()),
                    "n": len(group),
                }
            )
        for (month, site, vendor, value), n in (
            fresh.groupby(["month", "site", "vendor", field]).size().items()
        ):
            monthly.setdefault((month, site, vendor), []).append(f"{keyword} {value!r} ({n})")
            counts[(month, site, vendor)] = counts.get((month, site, vendor), 0) + int(n)
    changes.sort(key=lambda c: (c["first_month"], c["site"], c["vendor"], c["field"], c["value"]))
    signal_rows = []
    for month in months:
        for site, vendor in baseline_segments:
            key = (month, site, vendor)
            n_new = counts.get(key, 0)
            detail = "new: " + "; ".join(monthly[key]) if n_new else "no value new to the vendor"
            signal_rows.append(
                signal_row(
                    month, site, vendor, "header", "header", n_new, 0, n_new > 0, n_new, detail
                )
            )
    return changes, signal_rows


# --------------------------------------------------------------------------- drift


def drift_signals(
    rows: pd.DataFrame,
    months: list[str],
    baseline_segments: dict[tuple[str, str], dict],
    plan: FalseAlarmPlan,
) -> tuple[list[dict], list[dict]]:
    """Population and input drift per month, segment (and pooled) and variable."""
    used = rows[rows["use"]]
    by_segment = used.groupby(["month", "site", "vendor"], sort=False).indices
    by_month = used.groupby("month", sort=False).indices
    numeric = {
        var: used[var].to_numpy(float) for variables in NUMERIC.values() for var in variables
    }
    counts: dict[str, dict[tuple[str, ...], dict[str, int]]] = {}
    for variables in CATEGORICAL.values():
        for var in variables:
            table = used[used[var] != ""]
            counts[var] = _nested_counts(table.groupby(["month", "site", "vendor", var]).size())
            pooled = _nested_counts(table.groupby(["month", var]).size())
            counts[var].update({(m, POOLED, POOLED): c for (m,), c in pooled.items()})
    records, signal_rows = [], []
    s = plan.settings
    empty = np.empty(0, dtype=np.intp)
    for (site, vendor), base in baseline_segments.items():
        for month in months:
            index = (
                by_month.get(month, empty)
                if site == POOLED
                else by_segment.get((month, site, vendor), empty)
            )
            for signal, variables in NUMERIC.items():
                for variable in variables:
                    current = numeric[variable][index]
                    current = current[np.isfinite(current)]
                    reference = np.asarray(base["numeric"].get(variable, []), dtype=float)
                    rec = _numeric_drift(current, reference, plan)
                    records.append(
                        {"month": month, "site": site, "vendor": vendor, "variable": variable} | rec
                    )
                    signal_rows.append(_drift_row(month, site, vendor, signal, variable, rec, s))
            for signal, variables in CATEGORICAL.items():
                for variable in variables:
                    current = counts[variable].get((month, site, vendor), {})
                    reference = base["categorical"].get(variable, {})
                    rec = _categorical_drift(current, reference, plan)
                    records.append(
                        {"month": month, "site": site, "vendor": vendor, "variable": variable} | rec
                    )
                    signal_rows.append(_drift_row(month, site, vendor, signal, variable, rec, s))
    return records, signal_rows


def _nested_counts(sizes: pd.Series) -> dict[tuple[str, ...], dict[str, int]]:
    """Group sizes keyed by all but the last level, then by the last level's value."""
    out: dict[tuple[str, ...], dict[str, int]] = {}
    for key, n in sizes.items():
        out.setdefault(tuple(key[:-1]), {})[str(key[-1])] = int(n)
    return out


def _numeric_drift(current: np.ndarray, reference: np.ndarray, plan: FalseAlarmPlan) -> dict:
    record = {
        "test": "ks",
        "statistic": math.nan,
        "p_value": math.nan,
        "effect": "psi",
        "effect_size": math.nan,
        "n": int(current.shape[0]),
        "alarm": False,
    }
    if current.shape[0] < MIN_DRIFT_N or reference.shape[0] < MIN_DRIFT_N:
        return record
    ks = drift.ks_drift(reference, current)
    try:
        psi_value = drift.psi(reference, current).psi
    except ValueError:  # a (nearly) constant baseline has no quantile bins: D alone decides
        psi_value = math.nan
    s = plan.settings
    material = ks.statistic >= s.ks_d_min and not psi_value < s.psi_min
    record.update(
        statistic=ks.statistic,
        p_value=ks.p_value,
        effect_size=psi_value,
        alarm=bool(ks.p_value < plan.per_test_alpha and material),
    )
    return record


def _categorical_drift(
    current: dict[str, int], reference: dict[str, int], plan: FalseAlarmPlan
) -> dict:
    record = {
        "test": "chi2",
        "statistic": math.nan,
        "p_value": math.nan,
        "effect": "cramers_v",
        "effect_size": math.nan,
        "n": int(sum(current.values())),
        "alarm": False,
    }
    if record["n"] < MIN_DRIFT_N or sum(reference.values()) < MIN_DRIFT_N:
        return record
    categories = sorted(set(reference) | set(current))
    if len(categories) < 2:  # one category on both sides: nothing to test, nothing changed
        record.update(statistic=0.0, p_value=1.0, effect_size=0.0)
        return record
    base = np.array([reference.get(c, 0) for c in categories], dtype=np.int64)
    now = np.array([current.get(c, 0) for c in categories], dtype=np.int64)
    res = drift.chi2_drift(base, now)
    record.update(
        statistic=float(res.statistic),
        p_value=float(res.p_value),
        effect_size=float(res.cramers_v),
        alarm=bool(
            res.p_value < plan.per_test_alpha and res.cramers_v >= plan.settings.cramers_v_min
        ),
    )
    return record


def _drift_row(
    month: str, site: str, vendor: str, signal: str, variable: str, rec: dict, s: Settings
) -> dict:
    if rec["n"] < MIN_DRIFT_N or not np.isfinite(rec["statistic"]):
        detail = f"not tested: {rec['n']} studies (at least {MIN_DRIFT_N} needed)"
        threshold = math.nan
    elif rec["test"] == "ks":
        detail = (
            f"KS D = {rec['statistic']:.3f} (p = {rec['p_value']:.2g}), "
            f"PSI = {rec['effect_size']:.3f}"
        )
        threshold = s.ks_d_min
    else:
        detail = (
            f"chi-square = {rec['statistic']:.2f} (p = {rec['p_value']:.2g}), "
            f"Cramer's V = {rec['effect_size']:.3f}"
        )
        threshold = s.cramers_v_min
    statistic = rec["statistic"] if rec["test"] == "ks" else rec["effect_size"]
    return signal_row(
        month, site, vendor, signal, variable, statistic, threshold, rec["alarm"], rec["n"], detail
    )


# --------------------------------------------------------------------------- helpers


def signal_row(
    month: str,
    site: str,
    vendor: str,
    signal: str,
    variable: str,
    statistic: float,
    threshold: float,
    alarm: bool,
    n: int,
    detail: str,
) -> dict[str, Any]:
    return {
        "month": month,
        "site": site,
        "vendor": vendor,
        "signal": signal,
        "variable": variable,
        "statistic": as_float(statistic),
        "threshold": as_float(threshold),
        "alarm": bool(alarm),
        "n": int(n),
        "detail": detail,
    }


def months_between(first: str, last: str) -> int:
    """Calendar months from ``first`` to ``last`` (``YYYY-MM``).

    Examples
    --------
    >>> months_between("2026-11", "2027-02")
    3
    """
    a, b = (int(first[:4]) * 12 + int(first[5:7])), (int(last[:4]) * 12 + int(last[5:7]))
    return b - a


def month_range(first: str, last: str) -> list[str]:
    """Consecutive ``YYYY-MM`` months from ``first`` to ``last`` inclusive.

    Examples
    --------
    >>> month_range("2026-11", "2027-02")
    ['2026-11', '2026-12', '2027-01', '2027-02']
    """
    start = int(first[:4]) * 12 + int(first[5:7]) - 1
    stop = int(last[:4]) * 12 + int(last[5:7]) - 1
    return [f"{c // 12}-{c % 12 + 1:02d}" for c in range(start, stop + 1)]


def iter_segments(baseline: dict[str, Any]) -> Iterable[tuple[tuple[str, str], dict]]:
    """(site, vendor) and record of every baseline segment, the pooled one last."""
    segs = sorted(baseline["segments"], key=lambda s: (s["site"] == POOLED, s["site"], s["vendor"]))
    for seg in segs:
        yield (seg["site"], seg["vendor"]), seg
