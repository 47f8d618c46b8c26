"""Site key pairs: generation, file modes, loading, key ids, the centre's register."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from validation.exceptions import ConfigError
from validation.federated.keys import (
    generate_keys,
    key_id,
    load_private_key,
    load_public_key,
    registered_keys,
)


def test_keys_round_trip(tmp_path):
    key, pub = generate_keys("s01", tmp_path)
    assert (key.name, pub.name) == ("s01.key", "s01.pub")
    assert key.stat().st_mode & 0o777 == 0o600
    private, public = load_private_key(key), load_public_key(pub)
    assert key_id(private) == key_id(public)
    signature = private.sign(b"message")
    public.verify(signature, b"message")  # raises if it does not verify
    assert b"BEGIN PUBLIC KEY" in pub.read_bytes() and b"BEGIN PRIVATE KEY" in key.read_bytes()


def test_existing_key_is_never_overwritten(tmp_path):
    generate_keys("s01", tmp_path)
    with pytest.raises(ConfigError, match="never overwritten"):
        generate_keys("s01", tmp_path)
    key, _ = generate_keys("s01", tmp_path, overwrite=True)
    assert key.stat().st_mode & 0o777 == 0o600


def test_bad_site_id_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"site: expected a site id .* got '\.\./x'"):
        generate_keys("../x", tmp_path)


def test_private_key_readable_by_others_is_refused(tmp_path):
    key, _ = generate_keys("s01", tmp_path)
    os.chmod(key, 0o644)
    with pytest.raises(ConfigError, match=r"readable by others.*expected mode 0600"):
        load_private_key(key)


def test_a_key_of_another_kind_is_refused(tmp_path):
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    path = tmp_path / "s01.pub"
    path.write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(ConfigError, match="expected an Ed25519 key"):
        load_public_key(path)
    path.write_text("not a key")
    with pytest.raises(ConfigError, match="is not a PEM public key"):
        load_public_key(path)


def test_register_refuses_a_key_for_a_site_outside_the_study(tmp_path):
    for site in ("s01", "s09"):
        generate_keys(site, tmp_path)
    assert set(registered_keys(tmp_path)) == {"s01", "s09"}
    with pytest.raises(ConfigError, match="site 's09', which is not in the study"):
        registered_keys(tmp_path, ["s01", "s02"])
    with pytest.raises(ConfigError, match="not found"):
        registered_keys(tmp_path / "missing", ["s01"])
