"""The LVEF worked example: a deterministic study as a hospital holds it, and a model that reads it.

The model is run the way inference runs it: each file's bytes decoded by the ingest reader
(:func:`validation.ingest.pixels.decode_cine`, spacing from ``SequenceOfUltrasoundRegions``),
resampled and cropped by :func:`validation.model.preprocess.preprocess_batch`, the committed
TorchScript weights loaded with ``torch.jit.load``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math

import numpy as np
import pandas as pd
import pydicom
import pytest
import torch
import yaml
from pydicom.uid import UltrasoundMultiFrameImageStorage

from validation.demo.lvef import (
    MANIFEST,
    READERS,
    SITES,
    VENDORS,
    LeftVentricle,
    area_length_volume,
    cavity_scale_by_frame,
    ejection_fraction,
    generate_lvef_study,
    main,
)
from validation.demo.lvef_model import PREPROCESSING, LvefNet, write_lvef_model
from validation.exceptions import ConfigError
from validation.hashing import sha256_file
from validation.ingest.pixels import decode_cine
from validation.ingest.rules import ImageRules
from validation.model.card import state_digest
from validation.model.preprocess import preprocess_batch
from validation.protocol import load_protocol
from validation.schema import load_yaml, validate

N_STUDIES = 24  # 6 per site x vendor partition
SEED = 7


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("lvef") / "data" / "lvef"
    return out, generate_lvef_study(out, n_studies=N_STUDIES, seed=SEED)


@pytest.fixture(scope="module")
def model_dir(repo_root):
    return repo_root / "models" / "lvef-net" / "1.0.0"


def _dicom_files(out):
    return sorted(out.glob("test/*/*/*/IM_0001.dcm"))


def _pixel_hashes(out):
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(pydicom.dcmread(p).PixelData).hexdigest()
        for p in _dicom_files(out)
    }


def _inference_inputs(out):
    """(study UID, loop tensor) of every file, read and preprocessed as inference does."""
    rules = ImageRules(min_frames=PREPROCESSING.frames)
    uids, loops = [], []
    for path in _dicom_files(out):
        data = path.read_bytes()
        uids.append(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).StudyInstanceUID)
        loops.append(decode_cine(data, rules))
    return uids, preprocess_batch(loops, PREPROCESSING)


# --- the generator -------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_study(study, tmp_path):
    out, _ = study
    again = tmp_path / "again"
    generate_lvef_study(again, n_studies=N_STUDIES, seed=SEED)
    for site in SITES:
        name = f"reference/{site.id}.csv"
        assert (again / name).read_bytes() == (out / name).read_bytes()
    assert _pixel_hashes(again) == _pixel_hashes(out)
    assert (again / "truth.csv").read_bytes() == (out / "truth.csv").read_bytes()

    other = tmp_path / "other"
    generate_lvef_study(other, n_studies=N_STUDIES, seed=SEED + 1)
    assert set(_pixel_hashes(other).values()).isdisjoint(_pixel_hashes(out).values())


def test_summary_counts_partitions_and_reduced_ef(study):
    out, summary = study
    assert summary["partitions"] == {f"{s.id}/{v}": 6 for s in SITES for v in s.vendors}
    assert len(_dicom_files(out)) == N_STUDIES
    truth = pd.read_csv(out / "truth.csv")
    assert len(truth) == N_STUDIES and truth["study_instance_uid"].is_unique
    labels = sum(
        int(pd.read_csv(out / "reference" / f"{s.id}.csv")[s.columns[4]].sum()) for s in SITES
    )
    assert summary["reduced_ef"] == labels > 0


def test_files_read_back_as_deidentified_us_cine_with_spacing(study):
    out, _ = study
    for path in _dicom_files(out):
        ds = pydicom.dcmread(path)
        vendor = path.parts[-3]
        profile = VENDORS[vendor]
        assert ds.SOPClassUID == UltrasoundMultiFrameImageStorage
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        assert int(ds.NumberOfFrames) == 16
        assert ds.pixel_array.shape == (16, profile.rows, profile.columns)
        assert ds.SeriesDescription == "A4C 2D"
        region = ds.SequenceOfUltrasoundRegions[0]
        assert region.PhysicalUnitsXDirection == region.PhysicalUnitsYDirection == 3  # cm
        assert (
            region.PhysicalDeltaX == region.PhysicalDeltaY == pytest.approx(profile.spacing_mm / 10)
        )
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.PatientID == path.parts[-2] and ds.PatientName == f"DEMO^{ds.PatientID}"
        assert ds.PatientBirthDate == ""
        frames, spacing = decode_cine(path.read_bytes())
        assert spacing == pytest.approx((profile.spacing_mm, profile.spacing_mm))
        assert frames.shape == (16, profile.rows, profile.columns)


def test_reference_files_use_each_sites_own_column_names(study):
    out, _ = study
    truth = pd.read_csv(out / "truth.csv").set_index("study_instance_uid")
    seen = []
    for site in SITES:
        key, reader_1, reader_2, consensus, label = site.columns
        table = pd.read_csv(out / "reference" / f"{site.id}.csv", dtype={key: str})
        assert list(table.columns) == [*site.columns, "image_quality"]
        assert table[key].is_unique
        assert np.allclose(table[[reader_1, reader_2]].mean(axis=1), table[consensus], atol=0.01)
        assert (table[label] == (table[consensus] < 40.0).astype(int)).all()
        assert set(truth.loc[table[key], "site"]) == {site.id}
        seen.append(table[consensus].to_numpy() - truth.loc[table[key], "true_ef_pct"].to_numpy())
    # the consensus errs around the truth by the readers' mean bias and about 4 points
    error = np.concatenate(seen)
    assert abs(error.mean() - np.mean([bias for bias, _ in READERS])) < 3.0
    assert 1.5 < error.std() < 7.0


def test_repository_site_files_read_the_generators_layout_and_columns(repo_root):
    for site in SITES:
        data = load_yaml(repo_root / "sites" / "lvef" / f"{site.id}.yaml")
        assert data["id"] == site.id and data["name"] == site.name
        assert [p["vendor"] for p in data["partitions"]] == list(site.vendors)
        for partition in data["partitions"]:
            assert partition["source"] == {
                "kind": "folder",
                "path": f"data/lvef/test/{site.id}/{partition['vendor']}",
            }
        reference = data["reference"]
        assert reference["path"] == f"data/lvef/reference/{site.id}.csv"
        key, reader_1, reader_2, consensus, label = site.columns
        assert reference["key"] == key
        assert reference["columns"] == {
            "consensus_lvef_pct": consensus,
            "reduced_ef": label,
            "reader_1_lvef_pct": reader_1,
            "reader_2_lvef_pct": reader_2,
        }
        validate(data, "site", source=f"sites/lvef/{site.id}.yaml")


def test_the_ellipse_volume_is_the_area_length_volume_and_ef_is_one_minus_scale_cubed():
    lv = LeftVentricle(40.0, 22.0, 0.8, 15.0, 0.0, 0.0, 9.0, 3, "good")
    assert lv.ef_percent == pytest.approx(100 * (1 - 0.8**3))
    # the area proxy a method measuring only areas uses gives the same EF
    assert lv.ef_percent == pytest.approx(100 * (1 - (0.8**2) ** 1.5))
    assert area_length_volume(math.pi * 40 * 22, 80) == pytest.approx(
        4 / 3 * math.pi * 40 * 22**2 / 1000
    )
    assert ejection_fraction((40, 22), (40, 22)) == 0.0
    scale = cavity_scale_by_frame(lv)
    assert scale[3] == 1.0 and scale.max() == 1.0
    assert scale.min() == pytest.approx(0.8) and int(np.argmin(scale)) == (3 + 8) % 16


def test_refuses_a_folder_with_files_it_did_not_write_and_deletes_nothing(tmp_path):
    out = tmp_path / "lvef"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"notes\.txt"):
        generate_lvef_study(out, n_studies=16, seed=1)
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["--out", str(out), "--n", "16"]) == ConfigError.exit_code


def test_rewrites_its_own_folder_and_removes_what_the_earlier_run_wrote(tmp_path):
    out = tmp_path / "lvef"
    generate_lvef_study(out, n_studies=20, seed=1)
    assert len(_dicom_files(out)) == 20
    generate_lvef_study(out, n_studies=16, seed=1)
    assert len(_dicom_files(out)) == 16
    manifest = json.loads((out / MANIFEST).read_text())
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == set(manifest["files"]) | {MANIFEST}
    assert all(sha256_file(out / name) == digest for name, digest in manifest["files"].items())


@pytest.mark.parametrize("n_studies", [15, 2.5, True])
def test_refuses_too_few_or_non_integer_studies(tmp_path, n_studies):
    with pytest.raises(ConfigError, match="n_studies"):
        generate_lvef_study(tmp_path / "x", n_studies=n_studies, seed=1)
    assert not (tmp_path / "x").exists()


# --- the model -----------------------------------------------------------------------------


def test_model_recovers_the_true_ef_from_the_dicom_files(study, model_dir):
    out, _ = study
    uids, x = _inference_inputs(out)
    model = torch.jit.load(str(model_dir / "model.pt"))
    with torch.inference_mode():
        ef, probability = model(x)
    assert ef.shape == probability.shape == (len(uids),)
    truth = pd.read_csv(out / "truth.csv").set_index("study_instance_uid")
    true_ef = truth.loc[uids, "true_ef_pct"].to_numpy()
    error = ef.double().numpy() - true_ef
    assert np.mean(np.abs(error)) < 2.0, error  # measured: about 0.6 EF points
    assert np.max(np.abs(error)) < 5.0, error
    # away from the threshold, the flag agrees with the truth
    clear = np.abs(true_ef - 40.0) > 5.0
    flagged = probability.numpy() >= 0.5
    assert clear.sum() > N_STUDIES // 2
    assert (flagged[clear] == (true_ef[clear] < 40.0)).all()


def test_torchscript_file_equals_the_eager_module(study, model_dir):
    out, _ = study
    scripted = torch.jit.load(str(model_dir / "model.pt"))
    eager = LvefNet().eval()
    eager.load_state_dict(scripted.state_dict())
    _, x = _inference_inputs(out)
    with torch.inference_mode():
        for a, b in zip(scripted(x), eager(x), strict=True):
            assert torch.equal(a, b)
    assert state_digest(eager) == state_digest(scripted)


def test_card_records_the_weights_digests_and_the_outputs_in_forward_order(model_dir):
    card = load_yaml(model_dir / "model-card.yaml")
    weights = model_dir / card["weights"]["file"]
    assert card["weights"]["sha256"] == sha256_file(weights)
    assert card["weights"]["state_sha256"] == state_digest(torch.jit.load(str(weights)))
    assert card["preprocessing"] == PREPROCESSING.to_dict()
    assert [(o["name"], o["role"], o.get("unit")) for o in card["outputs"]] == [
        ("ef_percent", "measurement", "%"),
        ("reduced_ef_probability", "probability", None),
    ]
    assert all(o["shape"] == ["batch"] for o in card["outputs"])
    assert {"channels": 1, "scaling": "unit", "crop": "top_centre"}.items() <= card[
        "inputs"
    ].items()


def test_card_validates_against_the_model_card_schema(model_dir):
    card = load_yaml(model_dir / "model-card.yaml")
    validate(card, "model-card", source="model-card.yaml")


@pytest.mark.slow
def test_write_lvef_model_reproduces_the_committed_tensors(tmp_path, model_dir):
    card = write_lvef_model(tmp_path / "1.0.0")
    committed = load_yaml(model_dir / "model-card.yaml")
    assert card["weights"]["state_sha256"] == committed["weights"]["state_sha256"]
    assert card["performance"] == committed["performance"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model-card.yaml").write_text(
        yaml.safe_dump({"name": "ivsd-cnn", "version": "1.0.0"})
    )
    with pytest.raises(ConfigError, match="ivsd-cnn"):
        write_lvef_model(tmp_path / "other")


# --- the example's protocol and config -----------------------------------------------------


def test_protocol_declares_lvef_and_reduced_ef_and_locks_the_committed_model(repo_root):
    protocol = load_yaml(repo_root / "protocols" / "lvef.yaml")
    measurement, finding = protocol["outputs"]["measurement"], protocol["outputs"]["finding"]
    assert (measurement["name"], measurement["unit"], measurement["precision"]) == ("lvef", "%", 1)
    assert finding["name"] == "reduced_ef" and finding["threshold"] == 0.5
    (model,) = protocol["models"]
    assert model["role"] == "released"
    assert model["sha256"] == sha256_file(repo_root / model["path"] / "model.pt")
    ref = protocol["reference_standard"]
    assert (ref["measurement"], ref["label"]) == ("consensus_lvef_pct", "reduced_ef")
    goals = {e["id"]: e["goal"] for e in protocol["endpoints"]}
    assert goals["lvef-bias"] == {"lower": -5.0, "upper": 5.0}
    assert goals["lvef-loa-lower"] == {"lower": -12.0}
    assert goals["lvef-loa-upper"] == {"upper": 12.0}
    assert goals["lvef-mae"] == {"upper": 6.0}
    loaded = load_protocol(repo_root / "protocols" / "lvef.yaml")
    assert loaded.measurement.label == "LVEF" and loaded.finding.label == "Reduced EF"


def test_config_is_a_valid_workflow_config_without_the_demo(repo_root):
    config = load_yaml(repo_root / "config" / "lvef.yaml")
    validate(config, "workflow-config", source="config/lvef.yaml")
    assert config["demo"] == {"enabled": False}
    assert (config["protocol"], config["sites"]) == ("protocols/lvef.yaml", "sites/lvef")
