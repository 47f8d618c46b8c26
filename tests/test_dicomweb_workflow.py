"""A DICOMweb partition through the same commands the workflow runs, against a real Orthanc:
ingest (QIDO-RS + WADO-RS), inference, and the SR results stored back with STOW-RS."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.orthanc import DICOMWEB_PLUGIN, ORTHANC_BINARY, OrthancServer, require
from validation.cli import main


@pytest.fixture(scope="module")
def pacs(tmp_path_factory, tiny_demo: Path) -> Iterator[OrthancServer]:
    """An Orthanc of its own, holding the tiny demo's s02/Siemens partition."""
    binary = require(shutil.which(ORTHANC_BINARY) or ORTHANC_BINARY, "Orthanc server binary")
    plugin = require(DICOMWEB_PLUGIN, "Orthanc DICOMweb plugin (orthanc-dicomweb)")
    server = OrthancServer(tmp_path_factory.mktemp("pacs"))
    server.start(binary, plugin)
    try:
        for path in sorted((tiny_demo / "data/demo/test/s02/Siemens").rglob("*.dcm")):
            server.upload(path)
        yield server
    finally:
        server.stop()


def test_dicomweb_partition_ingest_infer_and_stow(
    pacs, tiny_demo, repo_root, tmp_path, monkeypatch
):
    site = tmp_path / "s02.yaml"
    site.write_text(
        "id: s02\nname: PACS site\npartitions:\n  - vendor: Siemens\n"
        f"    source: {{kind: dicomweb, url: '{pacs.dicomweb_url}'}}\n"
        "reference: {path: data/demo/reference/s02.csv}\n"
    )
    out = tmp_path / "ingest"
    assert main(["ingest", "--site", str(site), "--vendor", "Siemens", "--out", str(out)]) == 0
    accounting = pd.read_csv(out / "accounting.csv", dtype=str, keep_default_na=False)
    held = pacs.sop_instance_uids()
    # every instance the server holds is accounted for, with the planted exclusions
    assert set(accounting["sop_instance_uid"]) == held
    assert "identifying_headers" in set(accounting["reason"])
    assert accounting["path"].str.contains("/dicomweb/").all()

    monkeypatch.chdir(repo_root)  # the protocol names its model relative to the project root
    predictions = tmp_path / "predictions.csv"
    assert (
        main(
            [
                "infer",
                "--protocol",
                "protocols/demo.yaml",
                "--accounting",
                str(out / "accounting.csv"),
                "--out",
                str(predictions),
            ]
        )
        == 0
    )
    table = pd.read_csv(predictions, dtype=str)
    assert (table["status"] == "predicted").sum() == (accounting["status"] == "included").sum()

    sr_dir = tmp_path / "sr"
    assert (
        main(
            [
                "sr",
                "--protocol",
                "protocols/demo.yaml",
                "--predictions",
                str(predictions),
                "--accounting",
                str(out / "accounting.csv"),
                "--out",
                str(sr_dir),
                "--stow",
                pacs.dicomweb_url,
            ]
        )
        == 0
    )
    index = pd.read_csv(sr_dir / "index.csv", dtype=str)
    stored = pacs.sop_instance_uids({"Modality": "SR"})
    assert set(index["sr_sop_instance_uid"]) <= stored and len(index) == len(table)
