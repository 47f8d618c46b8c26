"""``mval monitor batch``: one month of real DICOM production, every file accounted for.

Uses the tiny generated demo study (conftest ``tiny_demo``) as a month of production for one
site: its partitions hold good studies and the planted bad files (truncated, not DICOM,
wrong SOP class, ...), which must appear as excluded rows with their reasons.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from validation.cli import main
from validation.exceptions import AnalysisError, IntegrityError
from validation.hashing import sha256_file
from validation.ingest.scan import iter_files
from validation.model.registry import load_locked_model
from validation.sites import load_sites, site_files
from validation.surveillance.batch import BATCH_COLUMNS, batch_rows, process_month
from validation.surveillance.run import read_batches


@pytest.fixture(scope="module")
def model(repo_root):
    return load_locked_model(repo_root / "models" / "ivsd-cnn" / "1.0.0")


@pytest.fixture(scope="module")
def month_source(tiny_demo, tmp_path_factory):
    """``<source>/2026-07/s01/<vendor>/`` for two of s01's three partitions (one missing)."""
    source = tmp_path_factory.mktemp("production")
    site = load_sites(site_files(tiny_demo / "sites"), root=tiny_demo)[0]
    for partition in site.partitions[:2]:
        shutil.copytree(partition.source_path, source / "2026-07" / site.id / partition.vendor)
    return source, site


def test_every_file_is_a_row_and_a_missing_partition_is_recorded(month_source, model, tmp_path):
    source, site = month_source
    out = tmp_path / "2026-07"
    summary = process_month("2026-07", source=source, sites=[site], model=model, out=out)
    table = pd.read_csv(out / "batch.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == BATCH_COLUMNS
    assert set(table["month"]) == {"2026-07"}
    received = sum(
        len(list(iter_files(source / "2026-07" / site.id / p.vendor))) for p in site.partitions[:2]
    )
    assert len(table) == received
    parts = {(p["site"], p["vendor"]): p for p in summary["partitions"]}
    missing = site.partitions[2]
    assert parts[(site.id, missing.vendor)]["missing"] is True
    assert not (table["vendor"] == missing.vendor).any()
    predicted = table[table["status"] == "predicted"]
    assert predicted["measurement"].astype(float).between(4, 25).all()
    assert set(predicted["model_sha256"]) == {model.sha256}
    excluded = table[table["status"] == "excluded"]
    assert len(excluded) >= 1 and (excluded["reason"] != "").all()
    assert (excluded["measurement"] == "").all()
    for p in summary["partitions"]:
        if not p["missing"]:
            counted = p["excluded"] + p["predicted"] + p["quality_rejected"] + p["included"]
            assert counted == p["received"]
            assert (out / p["site"] / p["vendor"] / "predictions.csv").is_file()


def test_rerunning_a_month_replaces_its_folder(month_source, model, tmp_path):
    source, site = month_source
    out = tmp_path / "2026-07"
    process_month("2026-07", source=source, sites=[site], model=model, out=out)
    first = (out / "batch.csv").read_bytes()
    (out / "stale.csv").write_text("left over from an older run\n")
    process_month("2026-07", source=source, sites=[site], model=model, out=out)
    assert (out / "batch.csv").read_bytes() == first
    assert not (out / "stale.csv").exists()
    assert not list(tmp_path.glob(".*partial"))


def test_a_changed_batch_is_refused_naming_the_file_and_both_hashes(month_source, model, tmp_path):
    """Rows removed from a month's batch.csv after `mval monitor batch`: the surveillance run
    refuses to read it (before, the month was judged on the rows left), naming the file, the
    recorded sha256 and the file's."""
    source, site = month_source
    out = tmp_path / "batches" / "2026-07"
    summary = process_month("2026-07", source=source, sites=[site], model=model, out=out)
    assert summary["batch"]["rows"] == len(read_batches(out.parent))
    assert summary["batch"]["rows"] == sum(p.get("received", 0) for p in summary["partitions"])
    path = out / "batch.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-5]))
    with pytest.raises(IntegrityError) as caught:
        read_batches(out.parent)
    message = str(caught.value)
    assert str(path) in message and summary["batch"]["sha256"] in message
    assert sha256_file(path) in message
    (out / "batch.json").unlink()
    with pytest.raises(AnalysisError, match=r"batch.json not found beside .*batch.csv"):
        read_batches(out.parent)


def test_quality_rejection_is_carried_with_its_detail():
    accounting = pd.DataFrame(
        {
            "site": ["s01"] * 3,
            "vendor": ["GE"] * 3,
            "sop_instance_uid": ["1", "2", ""],
            "status": ["included", "included", "excluded"],
            "reason": ["", "", "not_dicom"],
            "detail": ["", "", "no DICM preamble"],
        }
    )
    predictions = pd.DataFrame(
        {
            "sop_instance_uid": ["1", "2"],
            "status": ["predicted", "quality_rejected"],
            "detail": ["", "ValueError: bad frames"],
            "measurement": ["9.1", ""],
            "probability": ["0.2", ""],
            "model_sha256": ["ab", "ab"],
        }
    )
    table = batch_rows("2027-02", accounting, predictions)
    assert table[["status", "reason", "detail"]].values.tolist() == [
        ["predicted", "", ""],
        ["quality_rejected", "quality_rejected", "ValueError: bad frames"],
        ["excluded", "not_dicom", "no DICM preamble"],
    ]


def test_cli_batch_and_its_errors(month_source, repo_root, tmp_path, monkeypatch, capsys):
    source, site = month_source
    sites = tmp_path / "sites"
    sites.mkdir()
    shutil.copy(site.source_file, sites / site.source_file.name)
    monkeypatch.chdir(repo_root)  # the protocol's model path is relative to the project
    argv = [
        "-q",
        "monitor",
        "batch",
        "--source",
        str(source),
        "--sites",
        str(sites),
        "--protocol",
        "protocols/demo.yaml",
        "--out",
        str(tmp_path / "out"),
    ]
    assert main([*argv, "--month", "2026-7"]) == 2
    assert "--month must be a month as YYYY-MM" in capsys.readouterr().err
    assert main([*argv, "--month", "2026-07"]) == 0
    assert (tmp_path / "out" / "batch.csv").is_file()


def test_each_site_is_read_by_the_version_deployed_there(
    month_source, repo_root, tmp_path, monkeypatch
):
    """s01 runs the candidate 1.1.0 from 2026-07 (its site file says so): its predictions are
    1.1.0's, verified against the protocol's sha256 for that version, and say so."""
    from validation.protocol import load_protocol

    source, site = month_source
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / site.source_file.name).write_text(
        site.source_file.read_text() + 'deployments:\n  - {version: "1.1.0", from: "2026-07"}\n'
    )
    monkeypatch.chdir(repo_root)
    protocol = load_protocol("protocols/demo.yaml")
    out = tmp_path / "out"
    argv = ["-q", "monitor", "batch", "--source", str(source), "--sites", str(sites)]
    argv += ["--protocol", "protocols/demo.yaml", "--out", str(out), "--month", "2026-07"]
    assert main(argv) == 0
    table = pd.read_csv(out / "batch.csv", dtype=str, keep_default_na=False)
    predicted = table[table["status"] == "predicted"]
    assert not predicted.empty
    assert set(predicted["model_version"]) == {"1.1.0"}
    assert set(predicted["model_sha256"]) == {protocol.model_version("1.1.0").sha256}
    summary = json.loads((out / "batch.json").read_text())
    assert summary["model"]["version"] == "1.0.0"
    assert set(summary["models"]) == {"1.1.0"}
    received = [p for p in summary["partitions"] if not p["missing"]]
    assert {p["model_version"] for p in received} == {"1.1.0"}
    # a month before the deployment: the released version
    shutil.copytree(source / "2026-07", tmp_path / "src" / "2026-06")
    argv[argv.index("--source") + 1] = str(tmp_path / "src")
    argv[-1] = "2026-06"
    assert main(argv) == 0
    table = pd.read_csv(out / "batch.csv", dtype=str, keep_default_na=False)
    assert set(table.loc[table["status"] == "predicted", "model_version"]) == {"1.0.0"}
