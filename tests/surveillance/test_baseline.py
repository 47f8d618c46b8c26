"""The frozen baseline: built once from the validation study, verified on every later run.

No statistics are computed here beyond counts, means, SDs and rates, which are checked
against pandas computed independently on the same synthetic validation study.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.surveillance.conftest import SEGMENTS, write_deployment
from validation.exceptions import AnalysisError, IntegrityError
from validation.protocol import load_protocol
from validation.surveillance.baseline import (
    baseline_digest,
    build_baseline,
    freeze_or_load,
    load_baseline,
    write_baseline,
)


@pytest.fixture
def deployment(tmp_path):
    return write_deployment(tmp_path, months=["2026-07"])


@pytest.fixture
def protocol(deployment):
    return load_protocol(deployment["protocol"])


def _build(deployment, protocol):
    analysis = deployment["analysis"]
    return build_baseline(
        protocol,
        analysis / "analysed.csv",
        analysis / "results.json",
        analysis.parent / "ingest" / "accounting.csv",
    )


def test_segments_and_pooled_summaries(deployment, protocol):
    record = _build(deployment, protocol)
    studies = pd.read_csv(deployment["analysis"] / "analysed.csv")
    accounting = pd.read_csv(deployment["analysis"].parent / "ingest" / "accounting.csv")
    assert [(s["site"], s["vendor"]) for s in record["segments"]] == [
        *sorted(SEGMENTS),
        ("*", "*"),
    ]
    for seg in record["segments"]:
        rows = (
            studies
            if seg["site"] == "*"
            else studies[(studies["site"] == seg["site"]) & (studies["vendor"] == seg["vendor"])]
        )
        files = (
            accounting
            if seg["site"] == "*"
            else accounting[
                (accounting["site"] == seg["site"]) & (accounting["vendor"] == seg["vendor"])
            ]
        )
        assert seg["n"] == len(rows)
        assert seg["mean_measurement"] == pytest.approx(rows["measurement"].mean(), rel=1e-12)
        assert seg["sd_measurement"] == pytest.approx(rows["measurement"].std(ddof=1), rel=1e-12)
        assert seg["positive_rate"] == pytest.approx((rows["probability"] >= 0.5).mean())
        assert seg["exclusion_rate"] == pytest.approx((files["status"] == "excluded").mean())
        assert seg["numeric"]["age"] == sorted(float(a) for a in rows["age"])
        assert sum(seg["categorical"]["sex"].values()) == len(rows)
    assert record["protocol"]["threshold"] == 0.5
    assert [g["metric"] for g in record["protocol"]["goals"]] == [
        "bias",
        "loa_low",
        "loa_high",
        "sensitivity",
        "specificity",
    ]
    assert record["sources"][0]["path"].endswith("analysed.csv")
    assert record["sha256"] == baseline_digest(record)


def test_tampered_baseline_names_the_file_and_both_hashes(deployment, protocol, tmp_path):
    path = tmp_path / "baseline.json"
    write_baseline(_build(deployment, protocol), path)
    assert load_baseline(path)["sha256"]
    record = json.loads(path.read_text())
    recorded = record["sha256"]
    record["segments"][0]["mean_measurement"] += 0.5  # e.g. someone "corrects" the baseline
    path.write_text(json.dumps(record, indent=1))
    with pytest.raises(IntegrityError) as info:
        load_baseline(path)
    message = str(info.value)
    assert str(path) in message
    assert recorded in message and baseline_digest(record) in message
    assert info.value.exit_code == 5


def test_a_baseline_without_its_hash_is_refused(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"segments": []}))
    with pytest.raises(IntegrityError, match="none recorded"):
        load_baseline(path)
    path.write_text("{not json")
    with pytest.raises(IntegrityError, match="unreadable JSON"):
        load_baseline(path)


def test_frozen_once_then_reused_even_when_the_analysis_changes(deployment, protocol, tmp_path):
    path = tmp_path / "out" / "baseline.json"
    kwargs = {
        "protocol": protocol,
        "analysis_dir": deployment["analysis"],
        "accounting_csv": deployment["analysis"].parent / "ingest" / "accounting.csv",
    }
    first, created = freeze_or_load(path, **kwargs)
    assert created and path.exists()
    analysed = deployment["analysis"] / "analysed.csv"
    studies = pd.read_csv(analysed)
    studies["measurement"] += 1.0
    studies.to_csv(analysed, index=False)
    again, created = freeze_or_load(path, **kwargs)
    assert not created
    assert again == first


def test_missing_source_is_an_analysis_error(deployment, protocol):
    (deployment["analysis"] / "results.json").unlink()
    with pytest.raises(AnalysisError, match=r"results\.json not found"):
        _build(deployment, protocol)


def test_each_candidate_version_has_the_same_summaries_from_its_predictions(deployment, protocol):
    """A candidate's segments are those the released code path gives on the candidate's
    analysed studies with the same accounting (the files received do not depend on the model)."""
    from validation.surveillance.baseline import baseline_record, version_segments

    analysis = deployment["analysis"]
    record = build_baseline(
        protocol,
        analysis / "analysed.csv",
        analysis / "results.json",
        analysis.parent / "ingest" / "accounting.csv",
        candidates={"1.1.0": analysis / "versions" / "1.1.0" / "analysed.csv"},
    )
    assert record["schema_version"] == 3
    assert record["released_version"] == "1.0.0"
    assert [v["version"] for v in record["versions"]] == ["1.1.0"]
    assert record["versions"][0]["sha256"] == protocol.model_version("1.1.0").sha256
    expected = baseline_record(
        pd.read_csv(analysis / "versions" / "1.1.0" / "analysed.csv"),
        pd.read_csv(
            analysis.parent / "ingest" / "accounting.csv", dtype=str, keep_default_na=False
        ),
        protocol={"threshold": 0.5},
    )["segments"]
    assert json.dumps(version_segments(record, "1.1.0"), sort_keys=True) == json.dumps(
        expected, sort_keys=True
    )
    assert record["sha256"] == baseline_digest(record)
    with pytest.raises(AnalysisError, match=r"no validation summaries for model version '2\.0'"):
        version_segments(record, "2.0")
