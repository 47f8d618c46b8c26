"""The surveillance engine finds what was planted, and stays quiet on an in-control history.

No published reference values exist for a surveillance engine as a whole: it composes
functions of :mod:`validation.stats` (control charts, drift tests, Bland-Altman, Wilson
intervals) that are tested against published worked examples in ``tests/stats``. Here the
engine is checked on synthetic deployments (:mod:`validation.demo.deployment`) with
known, planted effects: a +1.5 SD shift of the model's readings in one segment from month 7
(2027-01) with a new software version; missing batches; files re-sent from an earlier month;
an exclusion spike; a population shift; a bias large enough to miss the protocol's goal; and
labels that arrive after the month they describe. The CUSUM and EWMA values are checked
against an independent textbook recursion (Montgomery 2009, 9.1 and 9.2) of the engine's own
standardized values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.surveillance.conftest import MONTHS, SEGMENTS, make_history
from validation.exceptions import AnalysisError, ConfigError
from validation.surveillance.run import evaluate


def _alerts(result, signal, site=None, vendor=None):
    return [
        a
        for a in result.alerts
        if a["signal"] == signal
        and (site is None or a["site"] == site)
        and (vendor is None or a["vendor"] == vendor)
    ]


@pytest.fixture(scope="module")
def shifted(shifted_history):
    baseline, batch, labels = shifted_history
    return evaluate(baseline, batch, labels, as_of="2027-06")


def test_planted_shift_is_caught_in_its_segment_soon_after_onset(shifted):
    # The calibrated limits (which count the 50-study baseline's own sampling error) are
    # wider than the known-parameter ones, so the +1.5 SD shift takes longer to accumulate:
    # caught within the six shifted months, not within three as with the known-baseline h.
    found = _alerts(shifted, "output_mean", "s02", "GE")
    assert len(found) == 1
    assert found[0]["onset"] in MONTHS[6:]
    assert found[0]["months"][-1] == "2027-06"  # not reset: in alarm until a new baseline
    assert found[0]["statistic"] > found[0]["threshold"]
    assert "CUSUM upper" in found[0]["evidence"]
    series = next(
        s for s in shifted.surveillance["segments"] if (s["site"], s["vendor"]) == ("s02", "GE")
    )["series"]["output_mean"]
    assert all(not point["alarm"] for point in series[:6])  # nothing before the shift


def test_planted_software_upgrade_is_a_header_alert_from_its_first_month(shifted):
    found = _alerts(shifted, "header")
    assert [(a["site"], a["vendor"], a["onset"]) for a in found] == [("s02", "GE", "2027-01")]
    assert found[0]["months"] == MONTHS[6:]
    changes = shifted.surveillance["header_changes"]
    assert changes == [
        {
            "site": "s02",
            "vendor": "GE",
            "field": "SoftwareVersions",
            "value": "EchoPAC 206 upgrade",
            "first_month": "2027-01",
            "n": int(
                (
                    (shifted.signals["signal"] == "header")
                    & (shifted.signals["site"] == "s02")
                    & (shifted.signals["vendor"] == "GE")
                )
                .pipe(lambda m: shifted.signals.loc[m, "statistic"])
                .sum()
            ),
        }
    ]
    assert changes[0]["n"] > 50  # about 10 a month for 6 months, less the excluded files


def test_the_shifted_segment_is_the_only_output_alarm(shifted):
    segments = {(a["site"], a["vendor"]) for a in _alerts(shifted, "output_mean")}
    assert segments <= {("s02", "GE"), ("*", "*")}


def test_cusum_and_ewma_follow_the_textbook_recursions(shifted):
    """Recompute both charts from the engine's z values (Montgomery 2009, eqs 9.2, 9.3, 9.22,
    9.25) and compare with every stored point."""
    plan = shifted.surveillance["false_alarm"]["charts"]
    gates = shifted.surveillance["false_alarm"]["materiality"]
    calibrated = {
        (c["site"], c["vendor"]): c
        for c in shifted.surveillance["false_alarm"]["calibration"]["segments"]
    }
    k, lam = plan["cusum"]["k"], plan["ewma"]["lam"]
    for segment in shifted.surveillance["segments"]:
        # each segment's own calibrated limits
        h = calibrated[(segment["site"], segment["vendor"])]["h"]
        big_l = calibrated[(segment["site"], segment["vendor"])]["L"]
        assert all(p["limit"] == h for p in segment["series"]["output_mean"])
        upper = lower = 0.0
        for point in segment["series"]["output_mean"]:
            if point["z"] is not None:
                upper = max(0.0, point["z"] - k + upper)
                lower = max(0.0, -point["z"] - k + lower)
            assert point["upper"] == pytest.approx(upper, abs=1e-12)
            assert point["lower"] == pytest.approx(lower, abs=1e-12)
            assert point["chart_signal"] == (upper > h or lower > h)
            material = abs(point["shift_mm"]) >= gates["min_shift"]
            assert point["alarm"] == (point["chart_signal"] and material)
        w, t = 0.0, 0
        for point in segment["series"]["output_positive_rate"]:
            if point["z"] is not None:
                w, t = lam * point["z"] + (1 - lam) * w, t + 1
            limit = big_l * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * t)))
            assert point["ewma"] == pytest.approx(w, abs=1e-12)
            assert point["limit"] == pytest.approx(limit, abs=1e-12)
            assert point["chart_signal"] == (abs(w) > limit)
            if point["alarm"]:
                assert abs(point["rate_change"]) >= gates["min_rate_change"]


def test_output_alarms_need_a_material_shift():
    """600 studies a month against a 5,000-study baseline: a 0.25 mm shift is significant but
    below the 0.5 mm minimum (the chart signals, no alarm); a 1 mm shift alarms."""
    segments = [("s01", "GE"), ("s02", "Philips")]
    baseline, batch, labels = make_history(9, baseline_n=5000, per_month=600, segments=segments)
    late = batch["month"] >= "2027-01"
    readings = pd.to_numeric(batch["measurement"], errors="coerce")
    for site, delta in (("s01", 0.25), ("s02", 1.0)):
        chosen = late & (batch["site"] == site) & readings.notna()
        batch.loc[chosen, "measurement"] = (readings[chosen] + delta).round(4).astype(str)
    result = evaluate(baseline, batch, labels, as_of="2027-06")
    series = {
        (s["site"], s["vendor"]): s["series"]["output_mean"]
        for s in result.surveillance["segments"]
    }
    small, large = series[("s01", "GE")], series[("s02", "Philips")]
    assert any(p["chart_signal"] for p in small) and not any(p["alarm"] for p in small)
    assert 0.1 < small[-1]["shift_mm"] < 0.5
    assert [a["onset"] for a in _alerts(result, "output_mean", "s02", "Philips")] == ["2027-01"]
    assert 0.5 <= large[-1]["shift_mm"] <= 1.2


def test_z_is_the_standardized_monthly_mean(shifted_history, shifted):
    baseline, batch, _ = shifted_history
    base = next(s for s in baseline["segments"] if (s["site"], s["vendor"]) == ("s01", "GE"))
    month = batch[
        (batch["site"] == "s01") & (batch["vendor"] == "GE") & (batch["month"] == "2026-09")
    ]
    values = pd.to_numeric(month["measurement"], errors="coerce").dropna()
    expected = (values.mean() - base["mean_measurement"]) / (
        base["sd_measurement"] * np.sqrt(1 / len(values) + 1 / base["n"])
    )
    point = next(
        p
        for s in shifted.surveillance["segments"]
        if (s["site"], s["vendor"]) == ("s01", "GE")
        for p in s["series"]["output_mean"]
        if p["month"] == "2026-09"
    )
    assert point["n"] == len(values)
    assert point["z"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.slow
def test_in_control_histories_mostly_raise_no_alarm():
    """A baseline of 1,000 studies per segment (so the baseline's own error is small) and
    in-control production: most seeds must raise no alarm at all."""
    quiet = 0
    for seed in range(8):
        baseline, batch, labels = make_history(100 + seed, baseline_n=1000)
        result = evaluate(baseline, batch, labels, as_of="2027-06")
        assert result.surveillance["status"] == ("ALARM" if result.alerts else "NO ALARM")
        quiet += not result.alarm
    assert quiet >= 7


def test_missing_batch_and_repeated_files_are_integrity_alarms():
    baseline, batch, labels = make_history(3, baseline_n=1000)
    gap = (batch["site"] == "s03") & (batch["vendor"] == "Canon") & (batch["month"] == "2026-10")
    earlier = batch[(batch["month"] == "2026-08") & (batch["status"] == "predicted")].head(6)
    resent = earlier.assign(month="2026-11")  # the same files (SOP UIDs) sent again
    result = evaluate(baseline, pd.concat([batch[~gap], resent]), labels, as_of="2027-06")
    missing = _alerts(result, "integrity", "s03", "Canon")
    assert [(a["onset"], a["months"]) for a in missing] == [("2026-10", ["2026-10"])]
    assert "missing batch" in missing[0]["evidence"]
    rows = pd.DataFrame(result.surveillance["integrity"])
    pooled = rows[(rows["site"] == "*") & (rows["month"] == "2026-11")].iloc[0]
    assert pooled["duplicates"] == 6
    census = pd.DataFrame(result.surveillance["census"])
    assert census.loc[census["month"] == "2026-11", "repeats"].sum() == 6
    # the repeats are left out of the output statistics
    n_pooled = next(s for s in result.surveillance["segments"] if s["site"] == "*")
    n_nov = next(p["n"] for p in n_pooled["series"]["output_mean"] if p["month"] == "2026-11")
    assert n_nov == int(
        ((batch["month"] == "2026-11") & (batch["status"] == "predicted") & ~gap).sum()
    )


@pytest.mark.slow
def test_exclusion_spike_alarms_but_a_small_excess_does_not():
    baseline, batch, labels = make_history(4, baseline_n=1000, per_month=40)
    spike = (batch["site"] == "s04") & (batch["vendor"] == "GE") & (batch["month"] >= "2027-03")
    chosen = spike & (np.arange(len(batch)) % 2 == 0)  # half of that segment's files
    batch.loc[chosen, ["status", "reason", "measurement", "probability"]] = [
        "excluded",
        "truncated",
        "",
        "",
    ]
    result = evaluate(baseline, batch, labels, as_of="2027-06")
    found = _alerts(result, "integrity", "s04", "GE")
    assert [a["onset"] for a in found] == ["2027-03"]
    assert all(a["site"] in ("s04", "*") for a in _alerts(result, "integrity"))


@pytest.mark.slow
def test_population_drift_needs_both_significance_and_a_material_effect():
    baseline, batch, labels = make_history(5, baseline_n=1000, per_month=200)
    older = (
        (batch["site"] == "s01") & (batch["vendor"] == "Philips") & (batch["month"] >= "2027-02")
    )
    batch.loc[older, "patient_age"] = (pd.to_numeric(batch.loc[older, "patient_age"]) + 15).astype(
        str
    )
    nudge = (batch["site"] == "s02") & (batch["vendor"] == "Siemens")
    batch.loc[nudge, "patient_bmi"] = (pd.to_numeric(batch.loc[nudge, "patient_bmi"]) + 0.5).astype(
        str
    )
    result = evaluate(baseline, batch, labels, as_of="2027-06")
    found = _alerts(result, "population", "s01", "Philips")
    assert [(a["onset"], a["variables"]) for a in found] == [("2027-02", ["age"])]
    drift = pd.DataFrame(result.surveillance["drift"])
    bmi = drift[
        (drift["site"] == "s02") & (drift["vendor"] == "Siemens") & (drift["variable"] == "bmi")
    ]
    assert not bmi["alarm"].any()  # a 0.5 kg/m2 nudge: below the effect-size minimum
    assert not _alerts(result, "population", "s02", "Siemens")


@pytest.mark.slow
def test_performance_alarm_when_the_bias_misses_its_goal():
    baseline, batch, labels = make_history(6, baseline_n=1000, per_month=60)
    late = batch["month"] >= "2027-01"
    readings = pd.to_numeric(batch.loc[late, "measurement"], errors="coerce")
    batch.loc[late, "measurement"] = np.where(readings.notna(), (readings + 3.0).round(4), "")
    result = evaluate(baseline, batch, labels, as_of="2027-06")
    pooled = [a for a in _alerts(result, "performance") if a["site"] == "*"]
    assert pooled and pooled[0]["onset"] == "2027-01"
    assert "ivsd-bias" in pooled[0]["variables"]
    rows = pd.DataFrame(result.surveillance["performance"])
    before = rows[(rows["site"] == "*") & (rows["month"] < "2027-01")]
    assert not before["alarm"].any() and before["labelled"].gt(0).all()


@pytest.mark.slow
def test_late_labels_update_the_month_of_acquisition():
    baseline, batch, labels = make_history(8)
    early = evaluate(baseline, batch, labels, as_of="2026-10")
    later = evaluate(baseline, batch, labels, as_of="2027-01")

    def labelled(result, month):
        return next(
            p["labelled"]
            for p in result.surveillance["performance"]
            if p["site"] == "*" and p["month"] == month
        )

    acquired = labels[labels["acquired"] == "2026-09"]
    assert labelled(early, "2026-09") == int((acquired["arrived"] <= "2026-10").sum())
    assert labelled(later, "2026-09") == len(acquired)  # every lag is 1-3 months
    assert labelled(later, "2026-09") > labelled(early, "2026-09")
    assert early.surveillance["labels"]["pending_months"] == ["2026-08", "2026-09", "2026-10"]


def test_rerunning_gives_identical_results(shifted_history, shifted):
    baseline, batch, labels = shifted_history
    months_reversed = pd.concat([batch[batch["month"] == m] for m in reversed(MONTHS)])
    again = evaluate(baseline, months_reversed, labels.iloc[::-1], as_of="2027-06")
    pd.testing.assert_frame_equal(again.signals, shifted.signals)
    assert again.alerts == shifted.alerts
    assert again.surveillance == shifted.surveillance


def test_every_segment_month_and_signal_has_a_row(shifted):
    signals = shifted.signals
    assert list(signals.columns) == [
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
        "model_version",
    ]
    per_segment_month = signals.groupby(["month", "site", "vendor"]).size()
    assert len(per_segment_month) == len(MONTHS) * (len(SEGMENTS) + 1)
    assert set(signals["signal"]) == {
        "integrity",
        "header",
        "population",
        "input",
        "output_mean",
        "output_positive_rate",
        "performance",
    }


def test_bad_as_of_and_empty_input_are_clear_errors(shifted_history):
    baseline, batch, labels = shifted_history
    with pytest.raises(ConfigError, match="as_of must be a month as YYYY-MM"):
        evaluate(baseline, batch, labels, as_of="2027-13")
    with pytest.raises(AnalysisError, match="no production batch"):
        evaluate(baseline, batch.iloc[:0], labels)
