"""The audited-bias change signal: its stated false-alarm rate, its power, its onset.

No published values exist for this engine's limit (a Monte Carlo quantile over the looks the
monthly runs make), so it is checked by simulation against what it states: thousands of
in-control segments, each with its own small validation baseline and its own late labels, read
at every monthly run; the share that ever alarms must not exceed the stream's rate (one-sided
exact binomial test at 0.001). The normal quantile that ignores the many looks and the
baseline's error false-alarms far more often on the same histories, which is why the limit is
simulated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from validation.surveillance.bias_change import (
    audit_grid,
    bias_change_signals,
    calibrate,
    detection_power,
)
from validation.surveillance.performance import known_at_release, performance_signals
from validation.surveillance.signals import Settings, month_range, plan_false_alarms

MONTHS = month_range("2026-07", "2027-06")
SD_MM = 0.8


def _history(
    rng: np.random.Generator,
    sites: list[str],
    *,
    per_month: int = 20,
    n0: int = 50,
    shift: dict[str, tuple[int, float]] | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Baseline segments (agreement from n0 pairs) and every audited label, with its lag."""
    shift = shift or {}
    segments = {}
    for site in sites:
        pairs = rng.normal(0.1, SD_MM, n0)
        segments[(site, "GE")] = {
            "site": site,
            "vendor": "GE",
            "agreement": {"n": n0, "bias": float(pairs.mean()), "sd": float(pairs.std(ddof=1))},
        }
    total = len(sites) * len(MONTHS) * per_month
    site = np.repeat(np.asarray(sites, dtype=object), len(MONTHS) * per_month)
    month_index = np.tile(np.repeat(np.arange(len(MONTHS)), per_month), len(sites))
    difference = rng.normal(0.1, SD_MM, total)
    for name, (onset, delta) in shift.items():
        difference[(site == name) & (month_index >= onset)] += delta
    reference = rng.normal(10.0, 2.0, total)
    labelled = pd.DataFrame(
        {
            "month": np.asarray(MONTHS, dtype=object)[month_index],
            "site": site,
            "vendor": "GE",
            "measurement": reference + difference,
            "reference": reference,
            "lag": rng.integers(0, 4, total),  # the declared delays: 0 to 3 months
            "matched": True,
        }
    )
    labelled["arrival"] = month_index + labelled["lag"].to_numpy()
    return segments, labelled


def _runs(segments, labelled, plan, months=MONTHS):
    """Signal rows of every monthly run (labels arrived by then), keyed by the run's month."""
    out = {}
    for run, as_of in enumerate(months):
        seen = labelled[(labelled["arrival"] <= run) & (labelled["month"] <= as_of)]
        _, rows, summary = bias_change_signals(seen, months[: run + 1], segments, plan, as_of=as_of)
        out[as_of] = (pd.DataFrame(rows), summary)
    return out


@pytest.mark.slow
def test_in_control_segments_false_alarm_at_most_at_the_stated_rate():
    """2,000 in-control segments, 50 validation pairs each, 20 audited studies a month with
    delays of 0-3 months, read at each of 12 monthly runs; stated rate 0.05 per stream."""
    settings = Settings(familywise_alpha=0.05, bias_weight=1.0, min_shift=0.0)
    plan = plan_false_alarms(0, settings, bias_streams=1)
    assert plan.bias_alpha == pytest.approx(0.05)
    rng = np.random.default_rng(2027)
    sites = [f"x{i:04d}" for i in range(2000)]
    segments, labelled = _history(rng, sites)
    runs = _runs(segments, labelled, plan)
    ever = set()
    naive = set()
    z = stats.norm.ppf(1 - 0.05 / 2)
    for rows, summary in runs.values():
        rows = rows[rows["site"] != "*"]
        ever |= set(rows.loc[rows["alarm"], "site"])
        naive |= set(rows.loc[rows["statistic"] >= z, "site"])
        limit = summary["segments"][0]["limit"]
        assert limit > 3.0  # far above the single-look normal quantile (1.96)
    rate = len(ever) / len(sites)
    test = stats.binomtest(len(ever), len(sites), 0.05, alternative="greater")
    assert test.pvalue > 0.001, rate
    assert rate > 0.01  # the limit is a quantile, not a wall: some in-control alarms happen
    assert len(naive) / len(sites) > 0.5  # ignoring the looks and the baseline's error


@pytest.mark.slow
def test_a_planted_bias_change_alarms_at_its_segment_and_onset_only():
    plan = plan_false_alarms(169, Settings(), bias_streams=13)
    rng = np.random.default_rng(5)
    sites = [f"s{i:02d}" for i in range(1, 13)]
    segments, labelled = _history(rng, sites, shift={"s07": (6, 1.5)})
    rows, _ = _runs(segments, labelled, plan)["2027-03"]  # two months after the onset
    alarmed = rows[rows["alarm"]]
    assert set(alarmed["site"]) == {"s07"}
    assert alarmed["month"].min() == "2027-01"


def test_a_shift_under_the_materiality_gate_does_not_alarm():
    plan = plan_false_alarms(169, Settings(min_shift=2.0), bias_streams=13)
    rng = np.random.default_rng(5)
    segments, labelled = _history(rng, ["s07"], per_month=200, shift={"s07": (6, 1.5)})
    rows, _ = _runs(segments, labelled, plan)["2027-06"]
    assert rows["statistic"].max() > 10 and not rows["alarm"].any()


def test_without_an_agreement_record_the_signal_is_recorded_not_run():
    plan = plan_false_alarms(169, Settings(), bias_streams=13)
    rng = np.random.default_rng(1)
    segments, labelled = _history(rng, ["s01"])
    segments[("s01", "GE")].pop("agreement")
    labelled["arrival"] = 0
    _, rows, summary = bias_change_signals(labelled, MONTHS, segments, plan, as_of="2027-06")
    assert all(r["detail"].startswith("not assessed: no agreement record") for r in rows)
    assert not any(r["alarm"] for r in rows) and summary["segments"] == []


def test_limit_grows_with_the_looks_and_shrinks_with_the_rate():
    lags = (0.25, 0.25, 0.25, 0.25)
    short = calibrate(50, 20, lags, months=3, alpha=0.01, draws=20_000).limit
    long = calibrate(50, 20, lags, months=12, alpha=0.01, draws=20_000).limit
    loose = calibrate(50, 20, lags, months=12, alpha=0.1, draws=20_000).limit
    assert short < long and loose < long


def test_detection_power_rises_with_the_shift_and_the_months():
    cal = calibrate(50, 20, (0.25,) * 4, months=12, alpha=9e-4, draws=50_000)
    power = detection_power(cal, sd_mm=SD_MM, shifts_mm=(0.5, 1.0, 2.0), draws=4_000)
    rows = {r["shift_mm"]: r["by_months_after_onset"] for r in power["rows"]}
    assert rows[0.5]["3"] < rows[1.0]["3"] < rows[2.0]["3"]
    for r in rows.values():
        values = [r[k] for k in sorted(r)]
        assert values == sorted(values)
    assert rows[2.0]["2"] > 0.95


def test_audit_volume_is_rounded_to_the_calibration_grid():
    assert [audit_grid(n) for n in (0, 1, 4, 19, 240)] == [1, 1, 5, 20, 200]


def test_a_goal_already_missed_in_validation_does_not_alarm_again():
    """The weak vendor's bias missed its goal premarket: still shown each month, never a new
    alarm (its deterioration shows in the bias-change signal)."""
    goals = [
        {"id": "ivsd-bias", "metric": "bias", "goal": {"lower": -1.0, "upper": 1.0}},
        {"id": "ivsd-loa-upper", "metric": "loa_high", "goal": {"upper": 3.0}},
    ]
    weak = {"site": "s01", "vendor": "Canon", "agreement": {"n": 50, "bias": 1.4, "sd": 0.8}}
    assert known_at_release(weak, goals) == {"ivsd-bias": 1.4}
    spec = [{"id": "spec", "metric": "specificity", "goal": {"lower": 0.8}}]
    assert known_at_release({"agreement": {"specificity": 0.5}}, spec) == {"spec": 0.5}
    assert known_at_release({"agreement": {"specificity": 0.9}}, spec) == {}
    assert known_at_release(weak, goals, loa_multiplier=2.2) == {
        "ivsd-bias": 1.4,
        "ivsd-loa-upper": pytest.approx(1.4 + 2.2 * 0.8),
    }
    rng = np.random.default_rng(3)
    n = 200
    reference = rng.normal(10.0, 2.0, n)
    labelled = pd.DataFrame(
        {
            "month": "2027-01",
            "site": "s01",
            "vendor": "Canon",
            "measurement": reference + rng.normal(1.6, 0.8, n),
            "reference": reference,
            "positive": False,
            "label": 0.0,
            "matched": True,
        }
    )
    plan = plan_false_alarms(169, Settings(), bias_streams=13)
    records, rows = performance_signals(
        labelled, ["2027-01"], {("s01", "Canon"): weak}, goals, plan
    )
    assert "ivsd-bias" in records[0]["goal_missed"]
    assert records[0]["known_at_release"] == ["ivsd-bias"] and not records[0]["alarm"]
    assert "known at release" in rows[0]["detail"]
    fresh = {**weak, "agreement": {"n": 50, "bias": 0.1, "sd": 0.8}}
    records, _ = performance_signals(labelled, ["2027-01"], {("s01", "Canon"): fresh}, goals, plan)
    assert records[0]["alarm"]
