"""Locks: written once, verified before inference and at unblinding, naming files and hashes."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from validation.exceptions import IntegrityError, LockError, ModelIntegrityError
from validation.hashing import sha256_file
from validation.lock import create_lock, lock_path, lock_status, read_lock, verify_lock
from validation.model.card import read_card


@pytest.fixture
def project(repo_root, tmp_path, monkeypatch):
    """Protocol and model copied to a fresh folder, unlocked."""
    shutil.copytree(repo_root / "protocols", tmp_path / "protocols")
    shutil.copytree(repo_root / "models", tmp_path / "models")
    lock_path(tmp_path / "protocols" / "demo.yaml").unlink(missing_ok=True)
    monkeypatch.chdir(tmp_path)  # the protocol names its model relative to the project root
    return tmp_path


PROTOCOL = "protocols/demo.yaml"


def test_repo_demo_protocol_is_locked_and_verifies(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    record = verify_lock(PROTOCOL)
    assert record.protocol_sha256 == sha256_file(PROTOCOL)
    assert record.weights_sha256 == sha256_file("models/ivsd-cnn/1.0.0/model.pt")


def test_lock_records_hashes_settings_version_and_time(project):
    now = dt.datetime(2026, 2, 1, 8, 30, tzinfo=dt.UTC)
    record = create_lock(PROTOCOL, now=now)
    data = json.loads(lock_path(PROTOCOL).read_text())
    assert data["locked_utc"] == "2026-02-01T08:30:00Z" == record.locked_utc
    assert data["protocol_sha256"] == sha256_file(PROTOCOL)
    assert data["weights_sha256"] == sha256_file("models/ivsd-cnn/1.0.0/model.pt")
    assert data["preprocessing"] == {"target_spacing_mm": 0.5, "size": 96, "frames": 8}
    assert data["software"]["mval"]


def test_lock_is_never_overwritten(project):
    create_lock(PROTOCOL)
    with pytest.raises(LockError, match="already exists"):
        create_lock(PROTOCOL)


def test_missing_lock_stops_and_says_how_to_lock(project):
    with pytest.raises(LockError, match=r"mval lock protocols/demo\.yaml"):
        verify_lock(PROTOCOL)


def test_protocol_edited_after_lock(project):
    record = create_lock(PROTOCOL)
    with open(PROTOCOL, "a") as handle:
        handle.write("# a late edit\n")
    with pytest.raises(IntegrityError) as info:
        verify_lock(PROTOCOL)
    message = str(info.value)
    assert PROTOCOL in message and record.protocol_sha256 in message
    assert sha256_file(PROTOCOL) in message


def test_weights_changed_after_lock(project):
    record = create_lock(PROTOCOL)
    weights = project / "models/ivsd-cnn/1.0.0/model.pt"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as info:
        verify_lock(PROTOCOL)
    message = str(info.value)
    assert "models/ivsd-cnn/1.0.0/model.pt" in message
    assert record.weights_sha256 in message and sha256_file(weights) in message


def test_malformed_lock(project):
    lock_path(PROTOCOL).write_text("{not json")
    with pytest.raises(LockError, match="not a valid lock record"):
        verify_lock(PROTOCOL)


def test_draft_status_records_why(project):
    status = lock_status(PROTOCOL, required=False)
    assert status["valid"] is False and status["status"] == "absent"
    assert "no lock record" in status["detail"]
    create_lock(PROTOCOL)
    with open(PROTOCOL, "a") as handle:
        handle.write("# edit\n")
    status = lock_status(PROTOCOL, required=False)
    assert status["status"] == "invalid" and "edited after its lock" in status["detail"]
    with pytest.raises(IntegrityError):
        lock_status(PROTOCOL, required=True)


# ------------------------------------------------------------------ several locked versions


def test_every_version_is_locked_released_first(project):
    record = create_lock(PROTOCOL)
    assert [(m["version"], m["role"]) for m in record.models] == [
        ("1.0.0", "released"),
        ("1.1.0", "candidate"),
    ]
    candidate = record.model("1.1.0")
    assert candidate["weights_sha256"] == sha256_file("models/ivsd-cnn/1.1.0/model.pt")
    assert candidate["locked_utc"] == record.locked_utc
    # the top-level model fields stay those of the released version (lock records of version 1)
    assert record.weights_sha256 == record.model("1.0.0")["weights_sha256"]
    assert verify_lock(PROTOCOL).models == record.models


def test_tampered_candidate_stops_naming_its_file_and_both_hashes(project):
    record = create_lock(PROTOCOL)
    weights = project / "models/ivsd-cnn/1.1.0/model.pt"
    data = bytearray(weights.read_bytes())
    data[200] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as info:
        verify_lock(PROTOCOL)
    message = str(info.value)
    assert "models/ivsd-cnn/1.1.0/model.pt" in message and "candidate version 1.1.0" in message
    assert record.model("1.1.0")["weights_sha256"] in message and sha256_file(weights) in message
    # lock_status records the failure for a DRAFT run, and raises when a lock is required
    assert lock_status(PROTOCOL, required=False)["status"] == "invalid"
    with pytest.raises(IntegrityError):
        lock_status(PROTOCOL, required=True)


def test_reading_rules_changed_after_lock_stop_the_run(project):
    """The card's reading rules (inputs) decide which studies the model measures: a change
    after the lock is refused like changed weights."""
    record = create_lock(PROTOCOL)
    assert record.model("1.0.0")["reading_rules"]["min_frames"] == 8
    card = project / "models/ivsd-cnn/1.0.0/model-card.yaml"
    card.write_text(card.read_text().replace("  min_frames: 8\n", "  min_frames: 4\n"))
    with pytest.raises(
        ModelIntegrityError, match=r"models/ivsd-cnn/1.0.0.*reading rules.*min_frames"
    ):
        verify_lock(PROTOCOL)


def test_candidate_whose_card_names_another_version_is_not_locked(project):
    card = project / "models/ivsd-cnn/1.1.0/model-card.yaml"
    card.write_text(card.read_text().replace("version: 1.1.0", "version: 1.2.0", 1))
    with pytest.raises(
        ModelIntegrityError, match=r"names version '1\.1\.0'.*says version '1\.2\.0'"
    ):
        create_lock(PROTOCOL)
    assert not lock_path(PROTOCOL).exists()


def test_a_card_measuring_in_another_unit_is_not_locked(project):
    card = project / "models/ivsd-cnn/1.0.0/model-card.yaml"
    card.write_text(card.read_text().replace("unit: mm", "unit: cm", 1))
    with pytest.raises(
        ModelIntegrityError,
        match=r"ivsd-cnn 1\.0\.0 does not give what protocol .* judges: output 'ivsd_mm' is in "
        r"cm, the protocol's measurement in mm",
    ):
        create_lock(PROTOCOL)
    assert not lock_path(PROTOCOL).exists()


def test_version_one_lock_record_reads_as_its_released_model(project):
    create_lock(PROTOCOL)
    data = json.loads(lock_path(PROTOCOL).read_text())
    del data["models"]
    data["version"] = 1
    lock_path(PROTOCOL).write_text(json.dumps(data))
    record = read_lock(PROTOCOL)
    assert [m["version"] for m in record.models] == ["1.0.0"]
    # the protocol names a candidate the old record never locked: stop, saying so
    with pytest.raises(ModelIntegrityError, match=r"'1\.1\.0' is not in the lock record"):
        verify_lock(PROTOCOL)


def test_lock_refuses_a_card_whose_state_digest_is_wrong(project):
    card = project / "models/ivsd-cnn/1.1.0/model-card.yaml"
    right = read_card(card.parent).state_sha256
    card.write_text(card.read_text().replace(right, "a" * 64))
    with pytest.raises(ModelIntegrityError) as info:
        create_lock(PROTOCOL)
    message = str(info.value)
    assert "models/ivsd-cnn/1.1.0/model-card.yaml" in message
    assert "a" * 64 in message and right in message
    assert not lock_path(PROTOCOL).exists()


def test_state_digest_edited_in_the_card_after_the_lock_stops_the_run(project):
    create_lock(PROTOCOL)
    card = project / "models/ivsd-cnn/1.0.0/model-card.yaml"
    right = read_card(card.parent).state_sha256
    card.write_text(card.read_text().replace(right, "f" * 64))
    with pytest.raises(
        ModelIntegrityError, match="f" * 64 + " differs from the state digest " + right
    ):
        verify_lock(PROTOCOL)


def test_lock_records_the_contract_and_refuses_a_changed_one(project):
    record = create_lock(PROTOCOL)
    assert record.models[0]["state_sha256"] == read_card("models/ivsd-cnn/1.0.0").state_sha256
    outputs = [o["name"] for o in record.models[0]["contract"]["outputs"]]
    assert outputs == ["ivsd_mm", "lvh_probability"]
    card = project / "models/ivsd-cnn/1.0.0/model-card.yaml"
    card.write_text(card.read_text().replace("role: probability", "role: logit"))
    with pytest.raises(ModelIntegrityError, match="card's contract"):
        verify_lock(PROTOCOL)
