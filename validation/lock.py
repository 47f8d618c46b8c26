"""Locks: the protocol and the model, hashed and frozen before anyone sees the reference standard.

``mval lock protocols/demo.yaml`` writes ``protocols/demo.lock.json`` beside the protocol: the
sha256 of the protocol file, of the model weights (and of their tensors), the preprocessing
settings, the software version and the UTC time. Before inference and again at unblinding the
workflow verifies it: a changed weights file, a protocol edited after its lock or a missing lock
stops the run with a message that names the file and both sha256.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from validation import __version__
from validation.exceptions import IntegrityError, LockError, LockMissingError, ModelIntegrityError
from validation.hashing import sha256_file
from validation.model.registry import read_verified_weights
from validation.protocol import load_protocol

LOCK_VERSION = 1


@dataclass(frozen=True)
class LockRecord:
    """What was frozen, and when."""

    version: int
    locked_utc: str
    protocol_path: str
    protocol_sha256: str
    model_path: str
    model_name: str
    model_version: str
    weights_file: str
    weights_sha256: str
    state_sha256: str
    preprocessing: dict[str, Any]
    software: dict[str, str]

    @property
    def locked_at(self) -> dt.datetime:
        return dt.datetime.strptime(self.locked_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def lock_path(protocol_path: str | Path) -> Path:
    """``protocols/<stem>.lock.json`` for ``protocols/<stem>.yaml``."""
    protocol_path = Path(protocol_path)
    return protocol_path.with_name(f"{protocol_path.stem}.lock.json")


def create_lock(protocol_path: str | Path, *, now: dt.datetime | None = None) -> LockRecord:
    """Verify the protocol's model, then write the lock record beside the protocol.

    An existing lock is never overwritten: re-locking after unblinding would defeat it. To lock a
    new version of a protocol, give it a new file (and so a new results folder), or delete the old
    lock deliberately, which version control records.

    Raises
    ------
    LockError
        When a lock record already exists.
    IntegrityError
        When the weights differ from the model card's or the protocol's sha256.
    """
    protocol = load_protocol(protocol_path)
    target = lock_path(protocol.path)
    if target.exists():
        raise LockError(
            f"{target} already exists (locked {_read(target).get('locked_utc', '?')}); a lock is "
            "never overwritten"
        )
    card, _, _ = read_verified_weights(protocol.model_path, protocol.model_sha256)
    now = now or dt.datetime.now(dt.UTC)
    record = LockRecord(
        version=LOCK_VERSION,
        locked_utc=now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        protocol_path=protocol.path.as_posix(),
        protocol_sha256=protocol.sha256,
        model_path=protocol.model_path.as_posix(),
        model_name=card.name,
        model_version=card.version,
        weights_file=card.weights,
        weights_sha256=card.sha256,
        state_sha256=card.fields["weights"].get("state_sha256", ""),
        preprocessing=card.preprocessing.to_dict(),
        software={"mval": __version__},
    )
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2) + "\n")
    os.replace(tmp, target)
    return record


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LockError(f"{path}: not a valid lock record (invalid JSON: {exc})") from None
    if not isinstance(data, dict):
        raise LockError(f"{path}: not a valid lock record (expected a JSON object)")
    return data


def read_lock(protocol_path: str | Path) -> LockRecord:
    """Read the lock record of a protocol, without checking it against the files."""
    path = lock_path(protocol_path)
    if not path.is_file():
        raise LockMissingError(
            f"{protocol_path} has no lock record ({path} is missing): run "
            f"`mval lock {protocol_path}` before inference"
        )
    data = _read(path)
    try:
        return LockRecord(**data)
    except TypeError as exc:
        raise LockError(f"{path}: not a valid lock record ({exc})") from None


def verify_lock(protocol_path: str | Path) -> LockRecord:
    """Check the protocol and the model on disk against their lock record.

    Raises
    ------
    LockError
        No lock, or a malformed one.
    IntegrityError
        The protocol was edited after its lock, or the weights changed: the message names the
        file, the sha256 on record and the sha256 found.
    ModelIntegrityError
        The model directory or its preprocessing differ from the locked ones.
    """
    record = read_lock(protocol_path)
    protocol_path = Path(protocol_path)
    actual = sha256_file(protocol_path)
    if actual != record.protocol_sha256:
        raise IntegrityError(
            str(protocol_path),
            record.protocol_sha256,
            actual,
            what="protocol (edited after its lock)",
        )
    protocol = load_protocol(protocol_path)
    if protocol.model_path.as_posix() != record.model_path:
        raise ModelIntegrityError(
            f"protocol {protocol_path} names model {protocol.model_path}, "
            f"but its lock records {record.model_path}"
        )
    weights = protocol.model_path / record.weights_file
    actual = sha256_file(weights) if weights.is_file() else "(file missing)"
    if actual != record.weights_sha256:
        raise IntegrityError(
            str(weights),
            record.weights_sha256,
            actual,
            what="model weights (changed after the lock)",
        )
    card, _, _ = read_verified_weights(protocol.model_path, record.weights_sha256)
    if card.preprocessing.to_dict() != record.preprocessing:
        raise ModelIntegrityError(
            f"model {protocol.model_path}: preprocessing {card.preprocessing.to_dict()} differs "
            f"from the locked {record.preprocessing}"
        )
    return record


def lock_status(protocol_path: str | Path, *, required: bool) -> dict[str, Any]:
    """The lock's state for ``results.json``: verified, or (when not required) why not.

    With ``required`` any problem is raised; without it, it is recorded and the report becomes
    a DRAFT.
    """
    try:
        record = verify_lock(protocol_path)
    except (LockError, ModelIntegrityError) as exc:
        if required:
            raise
        status = "absent" if isinstance(exc, LockMissingError) else "invalid"
        return {"status": status, "valid": False, "detail": str(exc)}
    return {
        "status": "valid",
        "valid": True,
        "detail": f"protocol and model verified against {lock_path(protocol_path)}",
        "file": lock_path(protocol_path).as_posix(),
        "file_sha256": sha256_file(lock_path(protocol_path)),
        "locked_utc": record.locked_utc,
        "record": asdict(record),
    }
