"""Simulation: the stated false-alarm rates hold for in-control production.

No published values exist for this engine's false-alarm rates; they are checked by simulation
against what the engine states in ``surveillance.json`` (``false_alarm``):

* each control-chart stream (CUSUM of the monthly mean, EWMA of the positive rate) signals
  within the horizon at the rate its Markov-chain run-length distribution gives (an alarm
  also needs a material change, which can only make alarms rarer)
  (:func:`validation.stats.control.limit_for`), when the baseline is the in-control truth:
  4,000 simulated in-control segments, two-sided exact binomial test;
* the whole engine (every segment, signal and month) keeps the family-wise rate it states:
  in-control deployments with a large baseline, one-sided exact binomial test;
* the Monte Carlo estimate of the rate once the baseline's own sampling error is counted
  (:func:`validation.surveillance.charts.baseline_error`) agrees with a direct simulation of
  3,000 segments, each with its own 50-study baseline; with the known-parameter limits
  (``Settings(limits="known")``, which treat the baseline as exact) that rate is far above
  the stated one, which is why the default limits are calibrated;
* with the default calibrated limits (:func:`validation.surveillance.charts.chart_limits`)
  the same direct simulation false-alarms at the per-stream rate, and whole-engine
  in-control deployments with small baselines (50 studies per segment, 10 a month) keep the
  output charts' family-wise rate at or below its stated share.

The first two tests and the known-limit check use ``Settings(limits="known")``: they test the
Markov-chain limits themselves (the documented reason for that change).

The tests are seeded, so they are deterministic; their tolerances are exact binomial tests at
the 0.001 level, so a miscalibrated limit (e.g. a per-stream rate not divided by the number of
streams) fails them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.surveillance.conftest import make_history
from validation.surveillance.charts import baseline_error, output_signals
from validation.surveillance.run import evaluate
from validation.surveillance.signals import Settings, month_range, plan_false_alarms

MONTHS = month_range("2026-07", "2027-06")


def _rows(
    rng: np.random.Generator, sites: list[str], n: int, mu: float, sd: float, p: float
) -> pd.DataFrame:
    """Prepared rows (the columns the charts read) of in-control production."""
    total = len(sites) * len(MONTHS) * n
    return pd.DataFrame(
        {
            "site": np.repeat(np.asarray(sites, dtype=object), len(MONTHS) * n),
            "vendor": "GE",
            "month": np.tile(np.repeat(np.asarray(MONTHS, dtype=object), n), len(sites)),
            "predicted": True,
            "measurement": rng.normal(mu, sd, total),
            "positive": rng.random(total) < p,
        }
    )


def _alarmed(series: list[dict], chart: str, key: str = "alarm") -> np.ndarray:
    return np.array([any(p[key] for p in s["series"][chart]) for s in series])


def test_each_chart_stream_false_alarms_at_its_stated_rate():
    plan = plan_false_alarms(1, Settings(familywise_alpha=0.05, arl0_months=20, limits="known"))
    sites = [f"x{i:04d}" for i in range(4000)]
    segments = {
        (site, "GE"): {
            "site": site,
            "vendor": "GE",
            "n": 10**12,  # the baseline as the in-control truth
            "mean_measurement": 10.0,
            "sd_measurement": 2.0,
            "positive_rate": 0.3,
        }
        for site in sites
    }
    segments[("*", "*")] = {"site": "*", "vendor": "*", "n": 10**12}
    rows = _rows(np.random.default_rng(20240611), sites, 20, 10.0, 2.0, 0.3)
    series, _ = output_signals(rows, MONTHS, segments, plan)
    for chart, stated in (
        ("output_mean", plan.cusum["p_within_horizon"]),
        ("output_positive_rate", plan.ewma["p_within_horizon"]),
    ):
        alarms = int(_alarmed(series[:-1], chart, "chart_signal").sum())
        test = stats.binomtest(alarms, len(sites), stated)
        assert test.pvalue > 0.001, (chart, alarms / len(sites), stated)


@pytest.mark.slow
def test_familywise_false_alarm_rate_of_the_whole_engine():
    """In-control deployments of 4 segments (a large baseline: the in-control truth); the
    engine states a family-wise rate of 0.25 over all 65 streams and 12 months."""
    settings = Settings(familywise_alpha=0.25, calibration_draws=20_000)
    segments = [("s01", "GE"), ("s01", "Canon"), ("s02", "Philips"), ("s02", "Siemens")]
    histories = 30
    alarms = 0
    for seed in range(histories):
        baseline, batch, labels = make_history(
            500 + seed, baseline_n=3000, per_month=20, segments=segments
        )
        result = evaluate(baseline, batch, labels, as_of="2027-06", settings=settings)
        assert result.surveillance["false_alarm"]["streams"] == 65
        alarms += result.alarm
    test = stats.binomtest(alarms, histories, settings.familywise_alpha, alternative="greater")
    assert test.pvalue > 0.001, alarms / histories


def _small_baselines(rng: np.random.Generator, sites: list[str], n0: int, mu: float, sd: float):
    segments = {}
    for site in sites:
        sample = rng.normal(mu, sd, n0)
        segments[(site, "GE")] = {
            "site": site,
            "vendor": "GE",
            "n": n0,
            "mean_measurement": float(sample.mean()),
            "sd_measurement": float(sample.std(ddof=1)),
            "positive_rate": float((rng.random(n0) < 0.3).mean()),
        }
    segments[("*", "*")] = {"site": "*", "vendor": "*", "n": n0 * len(sites)}
    return segments


@pytest.mark.slow
def test_calibrated_limits_hold_the_per_stream_rate_with_a_small_baseline():
    """3,000 in-control segments, each with its own 50-study baseline (mean, SD and positive
    rate estimated), 10 studies a month: each chart signals within the horizon at most at
    the per-stream rate (0.05 here), and the mean chart at about that rate (its limit is
    the simulated quantile, not the ARL floor, here)."""
    settings = Settings(familywise_alpha=0.05, min_shift=0.0, min_rate_change=0.0)
    plan = plan_false_alarms(1, settings)
    rng = np.random.default_rng(11)
    sites = [f"x{i:04d}" for i in range(3000)]
    segments = _small_baselines(rng, sites, 50, 10.0, 2.0)
    series, _ = output_signals(_rows(rng, sites, 10, 10.0, 2.0, 0.3), MONTHS, segments, plan)
    mean_rate = _alarmed(series[:-1], "output_mean", "chart_signal").mean()
    assert stats.binomtest(round(mean_rate * 3000), 3000, 0.05).pvalue > 0.001, mean_rate
    for chart in ("output_mean", "output_positive_rate"):
        alarms = int(_alarmed(series[:-1], chart, "chart_signal").sum())
        test = stats.binomtest(alarms, len(sites), 0.05, alternative="greater")
        assert test.pvalue > 0.001, (chart, alarms / len(sites))
    # the known-parameter limits, on the same data, are far too tight
    known = plan_false_alarms(1, replace(settings, limits="known"))
    series, _ = output_signals(_rows(rng, sites, 10, 10.0, 2.0, 0.3), MONTHS, segments, known)
    assert _alarmed(series[:-1], "output_mean", "chart_signal").mean() > 0.1


@pytest.mark.slow
def test_whole_engine_output_charts_keep_the_familywise_rate_with_small_baselines():
    """Whole-engine in-control deployments (4 segments + pooled, 50 validation studies per
    segment, 10 a month, 12 months, 120 seeds). The engine states 0.5 over its 65 streams,
    of which the 10 output charts' share is 10 * 0.5 / 65 = 0.077; the share of histories
    with any output alert must not exceed it (one-sided exact binomial test at 0.001).
    With the known-parameter limits the same histories alarm far more often."""
    settings = Settings(familywise_alpha=0.5, calibration_draws=20_000)
    segments = [("s01", "GE"), ("s01", "Canon"), ("s02", "Philips"), ("s02", "Siemens")]
    histories, alarms, known_alarms = 120, 0, 0
    known = replace(settings, limits="known")
    for seed in range(histories):
        baseline, batch, labels = make_history(
            9000 + seed, baseline_n=50, per_month=10, segments=segments, exclusion_rate=0.0
        )
        for s, counter in ((settings, "calibrated"), (known, "known")):
            result = evaluate(baseline, batch, labels, as_of="2027-06", settings=s)
            fa = result.surveillance["false_alarm"]
            output = any(
                a["signal"] in ("output_mean", "output_positive_rate") for a in result.alerts
            )
            if counter == "calibrated":
                assert fa["streams"] == 65 and fa["limits"] == "calibrated"
                alarms += output
            else:
                known_alarms += output
    share = 10 * settings.familywise_alpha / 65
    test = stats.binomtest(alarms, histories, share, alternative="greater")
    assert test.pvalue > 0.001, (alarms / histories, share)
    assert alarms / histories <= settings.familywise_alpha
    assert known_alarms > alarms, (known_alarms, alarms)


def test_baseline_error_estimate_matches_a_direct_simulation():
    # the demo's 13 segments x 13 streams; known-parameter limits, to show the inflation
    plan = plan_false_alarms(169, Settings(limits="known"))
    rng = np.random.default_rng(7)
    n0, n, mu, sd = 50, 10, 10.0, 2.0
    sites = [f"x{i:04d}" for i in range(3000)]
    segments = {}
    for site in sites:
        sample = rng.normal(mu, sd, n0)
        segments[(site, "GE")] = {
            "site": site,
            "vendor": "GE",
            "n": n0,
            "mean_measurement": float(sample.mean()),
            "sd_measurement": float(sample.std(ddof=1)),
            "positive_rate": 0.3,
        }
    segments[("*", "*")] = {"site": "*", "vendor": "*", "n": n0 * len(sites)}
    series, _ = output_signals(_rows(rng, sites, n, mu, sd, 0.3), MONTHS, segments, plan)
    direct = _alarmed(series[:-1], "output_mean").mean()

    one = {("a", "GE"): segments[(sites[0], "GE")], ("*", "*"): segments[("*", "*")]}
    census = [{"month": m, "site": "a", "vendor": "GE", "predicted": n} for m in MONTHS]
    estimate = baseline_error(one, census, plan, histories=20_000)["p_output_mean"]
    se = np.sqrt(direct * (1 - direct) * (1 / len(sites) + 1 / 20_000))
    assert abs(estimate - direct) < 4 * se, (estimate, direct)
    # and it is far above the rate stated for the known-baseline case
    assert estimate > 20 * plan.cusum["p_within_horizon"]
    # the default (calibrated) limits bring it to the stated bound: two segment charts
    # (the one segment and the pooled) at alpha / m each, up to Monte Carlo error
    calibrated = plan_false_alarms(169, Settings())
    check = baseline_error(one, census, calibrated, histories=20_000)
    bound = check["stated_bound_per_chart"]
    for key in ("p_output_mean", "p_output_positive_rate"):
        test = stats.binomtest(round(check[key] * 20_000), 20_000, bound, alternative="greater")
        assert test.pvalue > 0.001, (key, check[key], bound)
