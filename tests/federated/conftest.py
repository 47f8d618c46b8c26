"""A small study for the federated tests: the repo's protocol, lock, models and site files in a
temporary project, with hand-made workflow outputs (accounting, predictions, reference) per site
and an Ed25519 key pair per site."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from validation.federated.keys import generate_keys, registered_keys
from validation.lock import read_lock
from validation.sites import load_sites, site_files

SITES = ("s01", "s02", "s03", "s04")
N_PER_PARTITION = 3


def _write_site_outputs(root: Path, site) -> None:
    record = read_lock(root / "protocols" / "demo.yaml")
    references = []
    for v_index, partition in enumerate(site.partitions):
        vendor = partition.vendor
        rows, predictions = [], {m["version"]: [] for m in record.models}
        for i in range(N_PER_PARTITION):
            sop = f"2.25.1{site.id[1:]}{v_index:02d}{i:04d}"
            study = f"2.25.2{site.id[1:]}{v_index:02d}{i:04d}"
            rows.append(
                {
                    "site": site.id,
                    "vendor": vendor,
                    "path": f"data/demo/test/{site.id}/{vendor}/DOE^JANE-{i}/IM_0001.dcm",
                    "sop_instance_uid": sop,
                    "study_instance_uid": study,
                    "patient_id": f"{site.id.upper()}-{vendor}{i:05d}",
                    "status": "included",
                    "reason": "",
                    "detail": "",
                    "manufacturer": vendor,
                    "scanner_model": "X",
                    "software_versions": "1",
                    "study_date": "20260301",
                    "patient_age": "56",
                    "patient_sex": "M",
                    "patient_bmi": "25.1",
                    "spacing_mm": "0.42x0.42",
                    "frames": "8",
                    "file_bytes": "1000",
                    "patient_name": "DOE^JANE",  # must never leave the site
                }
            )
            for model in record.models:
                predictions[model["version"]].append(
                    {
                        "site": site.id,
                        "vendor": vendor,
                        "sop_instance_uid": sop,
                        "study_instance_uid": study,
                        "file_sha256": "0" * 64,
                        "status": "predicted",
                        "detail": "",
                        "measurement": f"{9 + i * 0.5:.4f}",
                        "probability": "0.1",
                        "model_name": model["model_name"],
                        "model_version": model["version"],
                        "model_sha256": model["weights_sha256"],
                    }
                )
            references.append(
                {
                    "study_instance_uid": study,
                    "reader_1_ivsd_mm": "9.1",
                    "reader_2_ivsd_mm": "9.3",
                    "reader_3_ivsd_mm": "9.2",
                    "consensus_ivsd_mm": "9.2",
                    "lvh": "0",
                    "image_quality": "good",
                    "reader_names": "Dr A; Dr B",  # not on the allow-list
                }
            )
        # an excluded file whose message names another file's path
        rows.append(
            {
                **rows[0],
                "path": f"data/demo/test/{site.id}/{vendor}/incoming/dup.dcm",
                "status": "excluded",
                "reason": "duplicate_sop_instance",
                "detail": f"same SOP Instance UID as {rows[0]['path']}",
            }
        )
        folder = root / "results" / "demo" / "ingest" / site.id / vendor
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(folder / "accounting.csv", index=False)
        manifest = {
            "site": site.id,
            "vendor": vendor,
            "source": str(partition.source),
            "received": len(rows),
            "included": N_PER_PARTITION,
            "excluded": 1,
            "excluded_by_reason": {"duplicate_sop_instance": 1},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))
        for version, table in predictions.items():
            target = root / "results" / "demo" / "predictions" / version / site.id / f"{vendor}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(table).to_csv(target, index=False)
    site.reference_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(references).to_csv(site.reference_path, index=False)


@pytest.fixture
def study(repo_root, tmp_path, monkeypatch) -> Path:
    """A project folder (the current directory during the test) with every site's outputs and
    keys: ``keys/<site>.key`` at the sites, ``sites/keys/<site>.pub`` at the centre."""
    for name in ("protocols", "models", "sites"):
        shutil.copytree(repo_root / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    for site in load_sites(site_files("sites")):
        _write_site_outputs(tmp_path, site)
        _, pub = generate_keys(site.id, "keys")
        (tmp_path / "sites" / "keys").mkdir(exist_ok=True)
        shutil.copy(pub, tmp_path / "sites" / "keys" / pub.name)
    return tmp_path


@pytest.fixture
def centre(study):
    """What the coordinating centre knows: the protocol, its sites and the registered keys."""
    sites = load_sites(site_files("sites"))
    return {
        "protocol_path": "protocols/demo.yaml",
        "sites": sites,
        "keys": registered_keys("sites/keys", [s.id for s in sites]),
    }
