"""A DICOMweb partition through the same commands the workflow runs, against a real Orthanc:
ingest (QIDO-RS + WADO-RS), inference, and the SR results stored back with STOW-RS."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.orthanc import OrthancServer
from validation.cli import main


@pytest.fixture(scope="module")
def pacs(orthanc: OrthancServer, tiny_demo: Path) -> OrthancServer:
    """The session's Orthanc (emptied for this module), holding the tiny demo's s02/Siemens
    partition and nothing else."""
    for path in sorted((tiny_demo / "data/demo/test/s02/Siemens").rglob("*.dcm")):
        orthanc.upload(path)
    return orthanc


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
