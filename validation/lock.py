"""Locks: the protocol and the model, hashed and frozen before anyone sees the reference standard.

``mval lock protocols/demo.yaml`` writes ``protocols/demo.lock.json`` beside the protocol: the
sha256 of the protocol file, of every locked model version's weights and the state digest of their
tensors (both checked against the model card: the tensors' digest is computed from the loaded
weights), their preprocessing settings and contract (format, adapter, input tensor, outputs), the
software version and the UTC time. Before inference and again at
unblinding the workflow verifies it: a changed weights file of any version (the released one or
a candidate), a protocol edited after its lock or a missing lock stops the run with a message
that names the file and both sha256.

The record's top-level model fields describe the released version (as in lock records of
version 1, which named a single model); ``models`` lists every version, released first.
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
from validation.model.card import CARD_NAME, ModelCard
from validation.protocol import ModelVersion, Protocol, load_protocol

LOCK_VERSION = 2  # 2: every locked model version in `models`


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
    models: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.models:  # a version-1 record: its single model is the released version
            released = {
                "version": Path(self.model_path).name,
                "role": "released",
                "locked_utc": self.locked_utc,
                **{key: getattr(self, key) for key in _MODEL_KEYS},
            }
            object.__setattr__(self, "models", (released,))
        else:
            object.__setattr__(self, "models", tuple(dict(m) for m in self.models))

    def model(self, version: str) -> dict[str, Any]:
        """The locked entry of ``version``.

        Raises
        ------
        ModelIntegrityError
            When the lock has no such version (the protocol names a version added after it).
        """
        for entry in self.models:
            if entry["version"] == version:
                return entry
        raise ModelIntegrityError(
            f"model version {version!r} is not in the lock record (locked versions: "
            f"{[m['version'] for m in self.models]}); a version added after the lock must be "
            "locked with a new protocol file"
        )

    @property
    def locked_at(self) -> dt.datetime:
        return dt.datetime.strptime(self.locked_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


_MODEL_KEYS = (
    "model_path",
    "model_name",
    "model_version",
    "weights_file",
    "weights_sha256",
    "state_sha256",
    "preprocessing",
)


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
    ModelIntegrityError
        When the card records no state digest, or one that differs from the loaded tensors'
        (``mval model register`` fills a missing one).
    """
    protocol = load_protocol(protocol_path)
    target = lock_path(protocol.path)
    if target.exists():
        raise LockError(
            f"{target} already exists (locked {_read(target).get('locked_utc', '?')}); a lock is "
            "never overwritten"
        )
    locked_utc = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    models = [_model_entry(protocol, model, locked_utc) for model in protocol.models]
    models.sort(key=lambda m: m["role"] != "released")
    released = models[0]
    record = LockRecord(
        version=LOCK_VERSION,
        locked_utc=locked_utc,
        protocol_path=protocol.path.as_posix(),
        protocol_sha256=protocol.sha256,
        **{key: released[key] for key in _MODEL_KEYS},
        software={"mval": __version__},
        models=tuple(models),
    )
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2) + "\n")
    os.replace(tmp, target)
    return record


def _model_entry(protocol: Protocol, model: ModelVersion, locked_utc: str) -> dict[str, Any]:
    """One version's lock entry, after verifying its weights against card and protocol."""
    from validation.model.registry import load_locked_model, verify_state  # torch: when used

    locked = load_locked_model(model.path, model.sha256)
    card = locked.card
    state = verify_state(locked)  # the tensors' digest against the card's
    if protocol.versioned and card.version != model.version:
        raise ModelIntegrityError(
            f"protocol {protocol.path} names version {model.version!r} for {model.path}, but its "
            f"model card says version {card.version!r}"
        )
    check_outputs_judged(protocol, card, model.path)
    return {
        "version": model.version,
        "role": model.role,
        "locked_utc": locked_utc,
        "model_path": model.path.as_posix(),
        "model_name": card.name,
        "model_version": card.version,
        "weights_file": card.weights,
        "weights_sha256": card.sha256,
        "state_sha256": state,
        "preprocessing": card.preprocessing.to_dict(),
        "reading_rules": _reading_rules(protocol, card),
        "contract": _contract(card),
    }


def _contract(card: ModelCard) -> dict[str, Any]:
    """What the version's forward is held to: format, adapter, input tensor and outputs."""
    return json.loads(
        json.dumps(
            {
                "format": card.format,
                "adapter": card.adapter,
                "input": asdict(card.tensor),
                "outputs": [asdict(o) for o in card.outputs],
            }
        )
    )


def _reading_rules(protocol: Protocol, card: ModelCard) -> dict[str, Any]:
    """How the version reads images (its card's inputs, the protocol's spacing sources)."""
    from validation.ingest.rules import model_rules

    return json.loads(json.dumps(asdict(model_rules(protocol, card))))  # tuples as lists


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
    """Check the protocol and every locked model version on disk against the lock record.

    Raises
    ------
    LockError
        No lock, or a malformed one.
    IntegrityError
        The protocol was edited after its lock, or the weights changed: the message names the
        file, the sha256 on record and the sha256 found.
    ModelIntegrityError
        The model directory, its preprocessing, reading rules or contract differ from the locked
        ones, or the card's state digest differs from the loaded tensors'.
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
    for model in protocol.models:
        _verify_model(protocol, model, record.model(model.version))
    return record


def check_outputs_judged(protocol: Protocol, card: ModelCard, folder: Path) -> None:
    """The card's outputs give what the protocol judges (:meth:`ModelCard.mismatches`); a
    model measuring in another unit, or without the probability of the finding, is refused."""
    unit = None if protocol.measurement is None else protocol.measurement.unit
    problems = card.mismatches(unit, protocol.finding is not None)
    if problems:
        raise ModelIntegrityError(
            f"{folder / CARD_NAME}: {card.label} does not give what protocol {protocol.path} "
            "judges: " + "; ".join(text for _, text in problems)
        )


def _verify_model(protocol: Protocol, model: ModelVersion, entry: dict[str, Any]) -> None:
    """One version's folder, weights and preprocessing against its lock entry."""
    if model.path.as_posix() != entry["model_path"] or model.role != entry["role"]:
        raise ModelIntegrityError(
            f"protocol {protocol.path} names model {model.path} ({model.role}) for version "
            f"{model.version!r}, but its lock records {entry['model_path']} ({entry['role']})"
        )
    weights = model.path / entry["weights_file"]
    actual = sha256_file(weights) if weights.is_file() else "(file missing)"
    if actual != entry["weights_sha256"]:
        raise IntegrityError(
            str(weights),
            entry["weights_sha256"],
            actual,
            what=f"model weights of {model.role} version {model.version} (changed after the lock)",
        )
    from validation.model.registry import load_locked_model, verify_state  # torch: when used

    locked = load_locked_model(model.path, entry["weights_sha256"])
    card = locked.card
    state = verify_state(locked)  # the tensors' digest against the card's
    if entry.get("state_sha256") and state != entry["state_sha256"]:
        raise IntegrityError(
            str(weights),
            entry["state_sha256"],
            state,
            what=f"model tensors (state digest) of {model.role} version {model.version}",
        )
    if card.preprocessing.to_dict() != entry["preprocessing"]:
        raise ModelIntegrityError(
            f"model {model.path}: preprocessing {card.preprocessing.to_dict()} differs "
            f"from the locked {entry['preprocessing']}"
        )
    # locks written before the reading rules existed do not record them
    if "reading_rules" in entry:
        rules = _reading_rules(protocol, card)
        if rules != entry["reading_rules"]:
            raise ModelIntegrityError(
                f"model {model.path}: its card's reading rules (inputs) {rules} differ from the "
                f"locked {entry['reading_rules']}"
            )
    if "contract" in entry and _contract(card) != entry["contract"]:  # locks since issue 17
        raise ModelIntegrityError(
            f"model {model.path}: its card's contract (format, adapter, input, outputs) "
            f"{_contract(card)} differs from the locked {entry['contract']}"
        )


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
