"""Site bundles: export at a site, verification at the coordinating centre, every refusal."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from validation.exceptions import BundleError
from validation.federated.bundle import MANIFEST, _tar, export_bundle, verify_bundle
from validation.federated.envelope import MAGIC, open_envelope, seal
from validation.federated.keys import load_private_key
from validation.hashing import sha256_file


def _export(site: str = "s01", key: str | None = None, out: str | None = None) -> Path:
    out = Path(out or f"bundles/{site}.bundle")
    export_bundle(
        f"sites/{site}.yaml", "protocols/demo.yaml", "results/demo", key or f"keys/{site}.key", out
    )
    return out


def _members(path: Path) -> dict[str, bytes]:
    payload = open_envelope(path.read_bytes()).payload
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive}


def _resign(path: Path, members: dict[str, bytes], site: str, key: str) -> None:
    """A bundle re-made by someone holding ``key`` (e.g. another site, or a careless tool)."""
    path.write_bytes(seal(_tar(members), site, load_private_key(key)))


def _refused(path, centre, *patterns: str) -> BundleError:
    with pytest.raises(BundleError) as caught:
        verify_bundle(path, **centre)
    message = str(caught.value)
    assert message.startswith(f"bundle {path}"), message
    for pattern in patterns:
        assert pattern in message, message
    assert caught.value.exit_code == 11
    return caught.value


def test_exported_bundle_verifies(study, centre):
    path = _export()
    bundle = verify_bundle(path, **centre)
    assert bundle.site == "s01" and bundle.sha256 == sha256_file(path)
    assert bundle.manifest["protocol"]["sha256"] == sha256_file("protocols/demo.yaml")
    assert bundle.manifest["lock"]["sha256"] == sha256_file("protocols/demo.lock.json")
    assert {m["version"] for m in bundle.manifest["lock"]["models"]} == {"1.0.0", "1.1.0"}
    names = set(bundle.members)
    assert "reference/s01.csv" in names and "lock/demo.lock.json" in names
    for vendor in ("GE", "Philips", "Canon"):
        assert f"ingest/s01/{vendor}/accounting.csv" in names
        for version in ("1.0.0", "1.1.0"):
            assert f"predictions/{version}/s01/{vendor}.csv" in names
    listed = {f["path"]: f for f in bundle.manifest["files"]}
    assert listed["predictions/1.0.0/s01/GE.csv"]["rows"] == 3
    # predictions and reference leave verbatim when nothing in them is withheld
    assert listed["predictions/1.0.0/s01/GE.csv"]["sha256"] == sha256_file(
        "results/demo/predictions/1.0.0/s01/GE.csv"
    )


def test_bundle_holds_no_pixels_and_no_identifying_data(study, centre):
    members = _members(_export())
    manifest = json.loads(members.pop(MANIFEST))
    withheld = {(w["column"], w["reason"]) for w in manifest["withheld"]}
    assert ("patient_name", "identifying") in withheld
    assert ("reader_names", "not on the export allow-list") in withheld
    for name, data in members.items():
        assert data[128:132] != b"DICM" and b"\0" not in data, name
        text = data.decode("utf-8")
        for secret in ("DOE^JANE", "patient_name", "reader_names", "data/demo/test", "Dr A"):
            assert secret not in text, (name, secret)
    source = json.loads(members["ingest/s01/GE/manifest.json"])
    assert source["source"] == "withheld"


def test_patient_keys_that_are_not_pseudonyms_stop_the_export(study):
    path = Path("results/demo/ingest/s01/GE/accounting.csv")
    path.write_text(path.read_text().replace("S01-GE00001", "123-45-6789"))
    with pytest.raises(BundleError, match="patient_id must hold study pseudonyms") as caught:
        _export()
    assert "123-45-6789" not in str(caught.value) and "(site s01)" in str(caught.value)
    assert not Path("bundles/s01.bundle").exists()


def test_predictions_by_other_weights_stop_the_export(study):
    path = Path("results/demo/predictions/1.1.0/s01/Canon.csv")
    lock = json.loads(Path("protocols/demo.lock.json").read_text())
    locked = lock["models"][1]["weights_sha256"]
    path.write_text(path.read_text().replace(locked, "f" * 64))
    with pytest.raises(BundleError, match=f"made by model sha256 {'f' * 64}.*records {locked}"):
        _export()


def _flip(path: Path, position: int) -> Path:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    changed = path.with_name(f"flipped-{position}.bundle")
    changed.write_bytes(bytes(data))
    return changed


def _offsets(path: Path) -> dict[str, int]:
    """Byte positions in the bundle file: in the signature, the manifest, a predictions file,
    a tar header (a member's mtime), tar padding and the end-of-archive blocks."""
    data = path.read_bytes()
    payload_start = data.index(b"\n", len(MAGIC)) + 1
    offsets = {
        "signature": data.index(b'"signature":"') + 20,
        "key id": data.index(b'"key_id":"') + 12,
        "site in the envelope": data.index(b'"site":"') + 9,
        "end-of-archive block": len(data) - 10,
    }
    with tarfile.open(fileobj=io.BytesIO(data[payload_start:]), mode="r:") as archive:
        for member in archive:
            if member.name == MANIFEST:
                offsets["manifest"] = payload_start + member.offset_data + 40
            if member.name == "predictions/1.0.0/s01/GE.csv":
                offsets["predictions file"] = payload_start + member.offset_data + member.size - 5
                offsets["tar padding"] = payload_start + member.offset_data + member.size + 3
                offsets["tar header"] = payload_start + member.offset + 140  # its mtime field
    return offsets


def test_one_changed_byte_anywhere_is_refused(study, centre):
    path = _export()
    offsets = _offsets(path)
    assert len(offsets) == 8
    for where, position in offsets.items():
        changed = _flip(path, position)
        with pytest.raises(BundleError) as caught:
            verify_bundle(changed, **centre)
        message = str(caught.value)
        assert message.startswith(f"bundle {changed}"), (where, message)
        assert "refused:" in message, (where, message)


def test_changed_payload_names_site_and_reason(study, centre):
    path = _export()
    changed = _flip(path, _offsets(path)["predictions file"])
    _refused(changed, centre, "(site s01)", "payload changed after signing")
    data = bytearray(path.read_bytes())
    position = _offsets(path)["signature"]
    data[position] = ord("1") if data[position] == ord("0") else ord("0")  # still valid hex
    changed = path.with_name("other-signature.bundle")
    changed.write_bytes(bytes(data))
    _refused(changed, centre, "(site s01)", "signature does not verify", "changed after signing")


def test_unsigned_bundle_is_refused(study, centre):
    path = _export()
    bare = path.with_name("bare.tar")
    bare.write_bytes(open_envelope(path.read_bytes()).payload)
    _refused(bare, centre, "unsigned: a bare tar archive")


def test_bundle_signed_with_another_sites_key_is_refused(study, centre):
    path = _export("s01", key="keys/s02.key")
    _refused(
        path,
        centre,
        "(site s01)",
        "but the key registered for site s01 is",
        "that is the key registered for site s02",
    )


def test_site_signing_for_another_site_is_refused(study, centre):
    """s02 takes s01's bundle and signs it as its own: the manifest still says s01."""
    path = _export("s01")
    members = _members(path)
    _resign(path, members, "s02", "keys/s02.key")
    _refused(path, centre, "(site s02)", "manifest.json names site 's01'")


def test_file_not_matching_its_manifest_sha256_is_refused(study, centre):
    path = _export()
    members = _members(path)
    members["predictions/1.0.0/s01/GE.csv"] += b"s01,GE,extra\n"
    _resign(path, members, "s01", "keys/s01.key")  # signed, but the manifest was not updated
    _refused(path, centre, "predictions/1.0.0/s01/GE.csv changed: manifest sha256")


def test_protocol_changed_at_the_centre_is_refused_naming_both_hashes(study, centre):
    path = _export()
    theirs = sha256_file("protocols/demo.yaml")
    with open("protocols/demo.yaml", "a") as handle:
        handle.write("# edited\n")
    ours = sha256_file("protocols/demo.yaml")
    _refused(path, centre, f"protocol sha256 {theirs}", f"has sha256 {ours}")


def test_other_lock_record_is_refused_naming_both_hashes(study, centre):
    path = _export()
    theirs = sha256_file("protocols/demo.lock.json")
    Path("protocols/demo.lock.json").write_text(Path("protocols/demo.lock.json").read_text() + "\n")
    ours = sha256_file("protocols/demo.lock.json")
    _refused(path, centre, f"lock record sha256 {theirs}", f"demo.lock.json has sha256 {ours}")


def test_site_outside_the_study_is_refused(study, centre):
    path = _export()
    others = {**centre, "sites": [s for s in centre["sites"] if s.id != "s01"]}
    _refused(path, others, "site 's01' is not in the study")
    unregistered = {**centre, "keys": {k: v for k, v in centre["keys"].items() if k != "s01"}}
    _refused(path, unregistered, "no public key is registered for site s01")


def test_identifying_column_smuggled_into_a_signed_bundle_is_refused(study, centre):
    path = _export()
    members = _members(path)
    name = "predictions/1.0.0/s01/GE.csv"
    lines = members[name].decode().splitlines()
    members[name] = (
        "\n".join([lines[0] + ",patient_name", *(f"{x},DOE^JANE" for x in lines[1:])]) + "\n"
    ).encode()
    manifest = json.loads(members[MANIFEST])
    for entry in manifest["files"]:
        if entry["path"] == name:
            from validation.hashing import sha256_bytes

            entry["sha256"] = sha256_bytes(members[name])
    members[MANIFEST] = json.dumps(manifest).encode()
    _resign(path, members, "s01", "keys/s01.key")
    _refused(path, centre, "identifying column 'patient_name'")


def test_incomplete_bundle_is_refused(study, centre):
    path = _export()
    members = _members(path)
    del members["predictions/1.1.0/s01/Canon.csv"]
    manifest = json.loads(members[MANIFEST])
    manifest["files"] = [f for f in manifest["files"] if f["path"] in members]
    members[MANIFEST] = json.dumps(manifest).encode()
    _resign(path, members, "s01", "keys/s01.key")
    _refused(path, centre, "incomplete: predictions/1.1.0/s01/Canon.csv missing")


def test_a_mapped_sites_reference_leaves_with_the_protocols_column_names(study, centre):
    reference = Path("data/demo/reference/s01.csv")
    table = pd.read_csv(reference, dtype=str, keep_default_na=False)
    renamed = {"study_instance_uid": "StudyUID", "consensus_ivsd_mm": "IVSd_cons", "lvh": "LVH"}
    table.rename(columns=renamed).to_csv(reference, index=False)
    site_file = Path("sites/s01.yaml")
    site_file.write_text(
        site_file.read_text().replace(
            "  key: study_instance_uid\n",
            "  key: StudyUID\n  columns: {consensus_ivsd_mm: IVSd_cons, lvh: LVH}\n",
        )
    )
    bundle = verify_bundle(_export(), **centre)
    released = pd.read_csv(io.BytesIO(bundle.members["reference/s01.csv"]), dtype=str)
    assert {"study_instance_uid", "consensus_ivsd_mm", "lvh"} <= set(released.columns)
    assert not {"StudyUID", "IVSd_cons", "LVH"} & set(released.columns)
    assert released["consensus_ivsd_mm"].tolist() == table["consensus_ivsd_mm"].tolist()
