"""Inference: every included study predicted or rejected with a reason, the model sha256 on
every row, deterministic, and a vanished file stops the run instead of passing as a rejection."""

from __future__ import annotations

import pandas as pd
import pytest

from validation.exceptions import IngestError
from validation.ingest.scan import ingest_partition
from validation.model.infer import run_inference
from validation.model.registry import load_locked_model
from validation.sites import load_sites, site_files


@pytest.fixture(scope="module")
def model(repo_root):
    return load_locked_model(repo_root / "models" / "ivsd-cnn" / "1.0.0")


@pytest.fixture
def accounting(tiny_demo, tmp_path):
    site = load_sites(site_files(tiny_demo / "sites"), root=tiny_demo)[0]
    ingest_partition(site.partitions[0], tmp_path / "ingest")
    return tmp_path / "ingest" / "accounting.csv"


def test_every_included_study_is_predicted_with_the_model_hash(model, accounting, tmp_path):
    out = tmp_path / "p.csv"
    counts = run_inference(model, accounting, out, batch_size=3)
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    included = pd.read_csv(accounting, dtype=str, keep_default_na=False)
    included = included[included["status"] == "included"]
    assert list(table["sop_instance_uid"]) == list(included["sop_instance_uid"])
    assert counts == {"predicted": len(included), "quality_rejected": 0}
    assert set(table["model_sha256"]) == {model.sha256}
    assert table["file_sha256"].str.len().eq(64).all()
    ivsd = table["measurement"].astype(float)
    assert ivsd.between(4, 25).all()
    again = tmp_path / "again.csv"
    run_inference(model, accounting, again, batch_size=5)  # other batching, same numbers
    assert pd.read_csv(again)["measurement"].tolist() == pd.read_csv(out)["measurement"].tolist()


def test_undecodable_file_is_a_recorded_rejection(model, accounting, tmp_path):
    table = pd.read_csv(accounting, dtype=str, keep_default_na=False)
    first = table.index[table["status"] == "included"][0]
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")  # a preamble and nothing else
    table.loc[first, "path"] = str(broken)
    edited = tmp_path / "accounting.csv"
    table.to_csv(edited, index=False)
    counts = run_inference(model, edited, tmp_path / "p.csv")
    assert counts["quality_rejected"] == 1
    rejected = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False).iloc[0]
    assert rejected["status"] == "quality_rejected" and rejected["detail"]


def test_vanished_file_stops_the_run(model, accounting, tmp_path):
    table = pd.read_csv(accounting, dtype=str, keep_default_na=False)
    first = table.index[table["status"] == "included"][0]
    table.loc[first, "path"] = str(tmp_path / "gone.dcm")
    edited = tmp_path / "accounting.csv"
    table.to_csv(edited, index=False)
    with pytest.raises(IngestError, match=r"gone\.dcm is listed as included"):
        run_inference(model, edited, tmp_path / "p.csv")
