"""Model versions in surveillance: a site that switches version starts a new baseline.

A synthetic deployment (see conftest) whose candidate version 1.1.0 reads s01 x Canon 1.5 mm
lower than the released 1.0.0, on the validation studies and in production. s01 switches to
1.1.0 from 2027-01. Recorded in the site file, the switch is an event and the segment is
compared with 1.1.0's own validation baseline: no alarm. The very same readings without a
recorded deployment are a 1.5 mm drop of the released model's output: an alarm.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.surveillance.conftest import CANDIDATE, write_deployment
from validation.cli import main
from validation.exceptions import AnalysisError, IntegrityError
from validation.protocol import load_protocol
from validation.surveillance.baseline import baseline_digest, load_baseline, write_baseline
from validation.surveillance.batch import write_batch
from validation.surveillance.run import run_surveillance

DELTA = {("s01", "Canon"): -1.5}
SWITCH = ("s01", "2027-01")
SEED = 5
PER_MONTH = 40  # the demo's production volume per partition and month (a quarter audited)


def _run(paths, sites=True, **options):
    return run_surveillance(
        paths["protocol"],
        baseline_dir=paths["analysis"],
        batches_dir=paths["batches"],
        labels_dir=paths["labels"],
        out=paths["out"],
        sites_dir=paths["sites"] if sites else None,
        **options,
    )


@pytest.fixture(scope="module")
def switched(tmp_path_factory):
    paths = write_deployment(
        tmp_path_factory.mktemp("switched"),
        seed=SEED,
        per_month=PER_MONTH,
        candidate_delta=DELTA,
        switch=SWITCH,
    )
    return paths, _run(paths)


@pytest.fixture(scope="module")
def unrecorded(tmp_path_factory):
    paths = write_deployment(
        tmp_path_factory.mktemp("unrecorded"),
        seed=SEED,
        per_month=PER_MONTH,
        candidate_delta=DELTA,
        switch=SWITCH,
        record_switch=False,
    )
    return paths, _run(paths)


def _s01(alerts):
    return [a for a in alerts if a["site"] == "s01"]


@pytest.mark.slow
def test_the_same_change_without_a_recorded_deployment_is_an_alarm(unrecorded):
    _, result = unrecorded
    alerts = _s01(result["alerts"])
    assert alerts, "a 1.5 mm drop of the released model's readings must alarm"
    assert {a["vendor"] for a in alerts} == {"Canon"}
    assert {a["onset"] for a in alerts} <= {"2027-01", "2027-02", "2027-03", "2027-04"}
    assert result["deployments"]["events"] == []


@pytest.mark.slow
def test_a_recorded_switch_is_an_event_and_a_new_baseline_not_an_alarm(switched):
    paths, result = switched
    assert _s01(result["alerts"]) == []
    events = result["deployments"]["events"]
    protocol = load_protocol(paths["protocol"])
    assert [e["text"] for e in events] == [
        "s01: model 1.0.0 -> 1.1.0 from 2027-01; new baseline for s01/Canon, s01/GE, s01/Philips"
    ]
    assert events[0]["from_sha256"] == protocol.released.sha256
    assert events[0]["to_sha256"] == protocol.model_version(CANDIDATE).sha256
    # the alerts file never mentions the switch
    assert all(a["signal"] != "deployment" for a in result["alerts"])
    # after the switch, s01 x Canon is judged against 1.1.0's validation bias (1.5 mm lower)
    baseline = load_baseline(paths["out"] / "baseline.json")
    released_bias = _agreement(baseline["segments"], "s01", "Canon")["bias"]
    candidate_segments = baseline["versions"][0]["segments"]
    candidate_bias = _agreement(candidate_segments, "s01", "Canon")["bias"]
    assert candidate_bias == pytest.approx(released_bias - 1.5, abs=1e-3)
    bias = [
        r for r in result["bias_change"]["months"] if (r["site"], r["vendor"]) == ("s01", "Canon")
    ]
    before = [r for r in bias if r["month"] < "2027-01"]
    after = [r for r in bias if r["month"] >= "2027-01"]
    assert before and after
    assert {r["baseline_bias"] for r in before} == {released_bias}
    assert {r["baseline_bias"] for r in after} == {candidate_bias}
    assert {r["model_version"] for r in after} == {CANDIDATE}
    # no window reaches back before the switch
    assert all(r["window_start"] >= "2027-01" for r in after)
    # the audited change of the candidate's segment is small: it reads as validated
    assert all(abs(r["change_mm"]) < 1.0 for r in after)


def _agreement(segments, site, vendor):
    return next(s for s in segments if (s["site"], s["vendor"]) == (site, vendor))["agreement"]


@pytest.mark.slow
def test_the_charts_restart_at_the_switch(switched):
    _, result = switched
    segment = next(s for s in result["segments"] if (s["site"], s["vendor"]) == ("s01", "Canon"))
    assert segment["model_versions"] == ["1.0.0", CANDIDATE]
    series = segment["series"]["output_mean"]
    assert [p["month"] for p in series] == result["months"]
    first = next(p for p in series if p["month"] == "2027-01")
    assert first["epoch_start"] and first["model_version"] == CANDIDATE
    # a fresh CUSUM: its first value is max(0, |z| - k) of that month alone
    k = result["false_alarm"]["charts"]["cusum"]["k"]
    assert first["upper"] == pytest.approx(max(0.0, first["z"] - k))
    assert first["lower"] == pytest.approx(max(0.0, -first["z"] - k))
    # a segment without a switch has one epoch
    other = next(s for s in result["segments"] if (s["site"], s["vendor"]) == ("s02", "GE"))
    assert not any(p["epoch_start"] for p in other["series"]["output_mean"])


@pytest.mark.slow
def test_the_post_switch_streams_count_in_the_false_alarm_split(switched, unrecorded):
    with_switch = switched[1]["false_alarm"]
    without = unrecorded[1]["false_alarm"]
    goals = len(switched[1]["protocol"]["goals"])
    assert with_switch["streams"] == without["streams"] + 3 * (2 + goals)
    assert with_switch["bias_streams"] == without["bias_streams"] + 3
    assert with_switch["per_stream_alpha"] < without["per_stream_alpha"]
    assert "new epoch" in with_switch["statement"]
    assert switched[1]["deployments"]["extra_streams"] == 3 * (2 + goals)


@pytest.mark.slow
def test_signals_carry_the_model_version(switched):
    paths, _ = switched
    import pandas as pd

    signals = pd.read_csv(paths["out"] / "signals.csv", dtype=str, keep_default_na=False)
    for signal in ("output_mean", "performance", "population", "integrity"):
        s01 = signals[(signals["site"] == "s01") & (signals["signal"] == signal)]
        assert set(s01.loc[s01["month"] < "2027-01", "model_version"]) == {"1.0.0"}
        assert set(s01.loc[s01["month"] >= "2027-01", "model_version"]) == {CANDIDATE}
    assert set(signals.loc[signals["site"] == "s02", "model_version"]) == {"1.0.0"}
    assert set(signals.loc[signals["site"] == "*", "model_version"]) == {""}
    # one row per month, segment, signal and variable: the epochs do not overlap
    keys = ["month", "site", "vendor", "signal", "variable"]
    assert not signals.duplicated(keys).any()


def test_a_prediction_from_an_undeclared_version_stops_the_run(tmp_path):
    paths = write_deployment(tmp_path, seed=SEED, candidate_delta=DELTA, switch=SWITCH)
    protocol = load_protocol(paths["protocol"])
    (paths["sites"] / "s01.yaml").write_text(
        (paths["sites"] / "s01.yaml").read_text().split("deployments:")[0]
    )
    with pytest.raises(IntegrityError) as caught:
        _run(paths)
    message = str(caught.value)
    assert str(paths["batches"] / "2027-01" / "batch.csv") in message
    assert protocol.released.sha256 in message
    assert protocol.model_version(CANDIDATE).sha256 in message
    assert "runs model 1.0.0" in message and "come from 1.1.0" in message


def test_a_prediction_from_an_unlocked_model_stops_the_run(tmp_path):
    paths = write_deployment(tmp_path, seed=SEED, candidate_delta=DELTA, switch=SWITCH)
    batch_csv = paths["batches"] / "2027-02" / "batch.csv"
    sha = load_protocol(paths["protocol"]).model_version(CANDIDATE).sha256
    table = pd.read_csv(batch_csv, dtype=str, keep_default_na=False)
    first = table.index[table["model_sha256"] == sha][0]
    table.loc[first, "model_sha256"] = "e" * 64  # one study read by an unlocked model
    write_batch(table, batch_csv.parent, {"month": "2027-02"})
    with pytest.raises(IntegrityError, match="e" * 64) as caught:
        _run(paths)
    assert str(batch_csv) in str(caught.value) and sha in str(caught.value)


def test_a_deployment_of_an_unlocked_version_is_refused(tmp_path, capsys):
    paths = write_deployment(tmp_path, seed=SEED, months=["2026-07"])
    (paths["sites"] / "s02.yaml").write_text(
        (paths["sites"] / "s02.yaml").read_text()
        + "deployments:\n  - {version: '9.9.9', from: '2026-07'}\n"
    )
    code = main(
        [
            "-q",
            "monitor",
            "run",
            "--protocol",
            str(paths["protocol"]),
            "--baseline",
            str(paths["analysis"]),
            "--batches",
            str(paths["batches"]),
            "--sites",
            str(paths["sites"]),
            "--out",
            str(paths["out"]),
            "--no-report",
        ]
    )
    assert code != 0
    err = capsys.readouterr().err
    assert "s02.yaml" in err and "'9.9.9'" in err and "'1.0.0', '1.1.0'" in err


@pytest.mark.slow
def test_an_old_baseline_without_the_deployed_version_says_how_to_rebuild(tmp_path):
    paths = write_deployment(tmp_path, seed=SEED, candidate_delta=DELTA, switch=SWITCH)
    _run(paths, as_of="2026-09")  # freezes a baseline (schema 3)
    path = paths["out"] / "baseline.json"
    record = json.loads(path.read_text())
    record["schema_version"] = 2
    del record["versions"], record["released_version"]
    record["sha256"] = baseline_digest(record)
    write_baseline(record, path)
    # before the switch the old baseline still serves
    assert _run(paths, as_of="2026-12")["deployments"]["events"] == []
    with pytest.raises(AnalysisError, match=r"no validation summaries for model version '1\.1\.0'"):
        _run(paths)


@pytest.mark.slow
def test_the_report_states_the_switch_as_an_event_and_its_streams(switched):
    from validation.report.surveillance import (
        build_surveillance_context,
        render_surveillance_html,
    )

    paths, _ = switched
    data = json.loads((paths["out"] / "surveillance.json").read_text())
    context = build_surveillance_context(data)
    assert context["deployments"]["events"][0]["to_version"] == CANDIDATE
    markup = render_surveillance_html(context)
    text = " ".join(markup.split())
    assert "Model version changes (events, not alerts):" in text
    assert "s01: model 1.0.0 -&gt; 1.1.0 from 2027-01; new baseline for s01/Canon" in text
    extra = data["deployments"]["extra_streams"]
    assert f"{extra} of the streams of weight 1" in text
    assert "3 of the audited-bias streams" in text
