"""The signed envelope around a bundle's payload: one header line, then the payload bytes.

A bundle file is::

    MVAL-SITE-BUNDLE 1\\n
    {"algorithm":"Ed25519","key_id":...,"payload_bytes":...,"payload_sha256":...,
     "signature":...,"site":...}\\n           (one line of canonical JSON)
    <payload: an uncompressed tar archive>

The Ed25519 signature covers the magic line, the header without its ``signature`` field and
every byte of the payload (tar headers and padding included), so any changed byte anywhere is
caught: in the payload or the header by the signature, in the signature itself because it then
no longer verifies. The header must be canonical JSON (sorted keys, no spaces, lower-case hex):
a header that parses to the same values but differs in a byte is refused too.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from validation.federated.keys import key_id

MAGIC = b"MVAL-SITE-BUNDLE 1\n"
ALGORITHM = "Ed25519"
_HEADER_KEYS = {"algorithm", "key_id", "payload_bytes", "payload_sha256", "signature", "site"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX128 = re.compile(r"^[0-9a-f]{128}$")


class EnvelopeError(ValueError):
    """The envelope is malformed, unsigned or its signature does not verify."""


@dataclass(frozen=True)
class Envelope:
    """A bundle file split into its signed header and payload (not yet verified)."""

    site: str
    key_id: str
    signature: bytes
    payload: bytes
    header: dict


def _canonical(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")


def _message(header: dict, payload: bytes) -> bytes:
    unsigned = {k: v for k, v in header.items() if k != "signature"}
    return MAGIC + _canonical(unsigned) + b"\n" + payload


def seal(payload: bytes, site: str, key: Ed25519PrivateKey) -> bytes:
    """Sign ``payload`` for ``site`` with ``key`` and return the bundle file's bytes.

    Examples
    --------
    >>> key = Ed25519PrivateKey.generate()
    >>> data = seal(b"payload", "s01", key)
    >>> opened = open_envelope(data)
    >>> opened.site, opened.payload, verify_signature(opened, key.public_key())
    ('s01', b'payload', None)
    """
    header = {
        "algorithm": ALGORITHM,
        "key_id": key_id(key),
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "site": site,
    }
    header["signature"] = key.sign(_message(header, payload)).hex()
    return MAGIC + _canonical(header) + b"\n" + payload


def open_envelope(data: bytes) -> Envelope:
    """Split a bundle file into header and payload, checking the envelope's form (not the
    signature: see :func:`verify_signature`).

    Raises
    ------
    EnvelopeError
        A bare archive or other file without the envelope (unsigned), a header that is not
        canonical JSON with exactly the expected fields, an empty signature, or a payload whose
        length or sha256 differs from the header's.
    """
    if not data.startswith(MAGIC):
        if data[257:262] == b"ustar":
            raise EnvelopeError(
                "unsigned: a bare tar archive without the signed envelope "
                f"(a bundle starts with {MAGIC.decode().strip()!r}; make it with `mval bundle "
                "export --key <site>.key`)"
            )
        raise EnvelopeError(
            f"not a site bundle (expected it to start with {MAGIC.decode().strip()!r}, got "
            f"{data[: len(MAGIC)]!r}); it may be unsigned or damaged"
        )
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise EnvelopeError("envelope header line is not terminated (file truncated?)")
    line, payload = data[len(MAGIC) : end], data[end + 1 :]
    try:
        header = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"envelope header is not valid JSON ({exc}): damaged") from None
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        got = sorted(header) if isinstance(header, dict) else type(header).__name__
        raise EnvelopeError(f"envelope header must have fields {sorted(_HEADER_KEYS)}, got {got}")
    if not header["signature"]:
        raise EnvelopeError("unsigned: the envelope has an empty signature")
    if _canonical(header) != line:
        raise EnvelopeError(
            "envelope header is not in its signed canonical form: it was changed after signing"
        )
    if header["algorithm"] != ALGORITHM:
        raise EnvelopeError(f"signature algorithm must be {ALGORITHM}, got {header['algorithm']!r}")
    if not isinstance(header["signature"], str) or not _HEX128.match(header["signature"]):
        raise EnvelopeError("signature must be 128 lower-case hex digits (an Ed25519 signature)")
    if not isinstance(header["key_id"], str) or not _HEX64.match(header["key_id"]):
        raise EnvelopeError("key_id must be 64 lower-case hex digits")
    if header["payload_bytes"] != len(payload):
        raise EnvelopeError(
            f"payload is {len(payload)} bytes but the envelope says {header['payload_bytes']}: "
            "truncated or extended after signing"
        )
    actual = hashlib.sha256(payload).hexdigest()
    if actual != header["payload_sha256"]:
        raise EnvelopeError(
            f"payload changed after signing: expected sha256 {header['payload_sha256']}, got "
            f"sha256 {actual}"
        )
    return Envelope(
        site=str(header["site"]),
        key_id=header["key_id"],
        signature=bytes.fromhex(header["signature"]),
        payload=payload,
        header=header,
    )


def claimed_site(data: bytes) -> str | None:
    """The site a (possibly damaged) bundle's header names, for messages; None if unreadable."""
    if not data.startswith(MAGIC):
        return None
    line = data[len(MAGIC) : data.find(b"\n", len(MAGIC))]
    try:
        site = json.loads(line.decode("ascii")).get("site")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None
    return site if isinstance(site, str) and len(site) < 64 else None


def verify_signature(envelope: Envelope, public: Ed25519PublicKey) -> None:
    """Check the envelope's signature with ``public`` (the key registered for its site).

    Raises
    ------
    EnvelopeError
        The envelope names another key, or the signature does not verify.
    """
    expected = key_id(public)
    if envelope.key_id != expected:
        raise EnvelopeError(
            f"signed by key {envelope.key_id[:16]}…, but the key registered for site "
            f"{envelope.site} is {expected[:16]}…"
        )
    try:
        public.verify(envelope.signature, _message(envelope.header, envelope.payload))
    except InvalidSignature:
        raise EnvelopeError(
            f"signature does not verify with the key registered for site {envelope.site} "
            f"({expected[:16]}…): the bundle was changed after signing"
        ) from None
