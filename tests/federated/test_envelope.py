"""The signed envelope: every single changed byte of a bundle file is refused."""

from __future__ import annotations

import io
import tarfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validation.federated.envelope import (
    MAGIC,
    EnvelopeError,
    open_envelope,
    seal,
    verify_signature,
)


def _payload() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        data = b"site,vendor\ns01,GE\n"
        info = tarfile.TarInfo("predictions.csv")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _check(data: bytes, public) -> None:
    verify_signature(open_envelope(data), public)


def test_sealed_envelope_opens_and_verifies():
    key = Ed25519PrivateKey.generate()
    payload = _payload()
    data = seal(payload, "s01", key)
    assert data.startswith(MAGIC)
    envelope = open_envelope(data)
    assert (envelope.site, envelope.payload) == ("s01", payload)
    _check(data, key.public_key())


def test_every_single_changed_byte_is_refused():
    """Flip each byte of the file in turn (magic, header, signature, tar headers, member data,
    tar padding, end-of-archive blocks): every variant is refused."""
    key = Ed25519PrivateKey.generate()
    data = seal(_payload(), "s01", key)
    accepted = []
    for position in range(len(data)):
        for flip in (0x01, 0x80):
            changed = bytearray(data)
            changed[position] ^= flip
            try:
                _check(bytes(changed), key.public_key())
            except EnvelopeError:
                continue
            accepted.append((position, flip))
    assert accepted == []


def test_truncated_or_extended_file_is_refused():
    key = Ed25519PrivateKey.generate()
    data = seal(_payload(), "s01", key)
    with pytest.raises(EnvelopeError, match="truncated or extended"):
        open_envelope(data[:-512])  # a whole tar block less
    with pytest.raises(EnvelopeError, match="truncated or extended"):
        open_envelope(data + b"\0" * 512)


def test_unsigned_archive_is_refused():
    with pytest.raises(EnvelopeError, match="unsigned: a bare tar archive"):
        open_envelope(_payload())
    with pytest.raises(EnvelopeError, match="not a site bundle"):
        open_envelope(b"PK\x03\x04 a zip")


def test_empty_signature_is_refused():
    key = Ed25519PrivateKey.generate()
    data = seal(_payload(), "s01", key)
    start = data.index(b'"signature":"') + len(b'"signature":"')
    end = data.index(b'"', start)
    with pytest.raises(EnvelopeError, match="unsigned: the envelope has an empty signature"):
        open_envelope(data[:start] + data[end:])


def test_header_reformatted_without_changing_values_is_refused():
    key = Ed25519PrivateKey.generate()
    data = seal(_payload(), "s01", key)
    spaced = data.replace(b'","site":', b'", "site":', 1)
    with pytest.raises(EnvelopeError, match="canonical form"):
        open_envelope(spaced)


def test_signature_by_another_key_is_refused():
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    data = seal(_payload(), "s01", other)
    with pytest.raises(EnvelopeError, match="but the key registered for site s01 is"):
        _check(data, key.public_key())
