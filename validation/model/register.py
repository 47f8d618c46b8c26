"""``mval model register <dir>``: record the weights' digests in the model card.

The file's sha256 (``weights.sha256``) and the state digest of its tensors
(``weights.state_sha256``, :mod:`validation.model.formats`) are computed from the weights. A
digest the card lacks is filled in; one it records is checked, and a card whose digest differs
from the weights' is refused, never overwritten: a changed weights file or a card copied from
another model must be looked at by a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from validation.exceptions import ModelIntegrityError
from validation.hashing import sha256_bytes
from validation.model.card import CARD_NAME, write_card
from validation.model.formats import load_weights, weights_state_digest
from validation.model.registry import read_weights

_KEYS = {"sha256": "file sha256", "state_sha256": "state digest"}


@dataclass(frozen=True)
class Registration:
    """What ``register_model`` found and did."""

    card_path: Path
    weights_path: Path
    digests: dict[str, str]  # weights key -> computed digest
    filled: tuple[str, ...]  # keys written into the card
    verified: tuple[str, ...]  # keys the card already held, equal to the computed ones
    written: bool  # the card file was rewritten

    def lines(self) -> list[str]:
        """What was done, one line per digest, for the command line."""
        out = []
        for key, value in self.digests.items():
            if key in self.filled:
                state = "filled in" if self.written else "missing (not written: --check)"
            else:
                state = "verified"
            out.append(f"{self.card_path}: weights.{key} {value} ({_KEYS[key]}): {state}")
        return out


def register_model(model_dir: str | Path, *, write: bool = True) -> Registration:
    """Compute the weights' digests and fill the ones the card lacks.

    Parameters
    ----------
    model_dir : path
        The model version's folder (``model-card.yaml`` and its weights file).
    write : bool
        Fill missing digests into the card; without it only check (``mval model register
        --check``).

    Returns
    -------
    Registration
        The digests, which were filled in and which verified.

    Raises
    ------
    ModelIntegrityError
        When the card records a digest that differs from the weights' (naming the card, the
        weights file and both digests), or the weights cannot be read or loaded.
    """
    card, weights, data = read_weights(model_dir)
    card_path = Path(model_dir) / CARD_NAME
    module = load_weights(data, card.format, weights)
    digests = {"sha256": sha256_bytes(data), "state_sha256": weights_state_digest(module)}
    recorded = {"sha256": card.sha256, "state_sha256": card.state_sha256}
    for key, actual in digests.items():
        if recorded[key] is not None and recorded[key] != actual:
            raise ModelIntegrityError(
                f"model card {card_path}: weights.{key} ({_KEYS[key]}) {recorded[key]} differs "
                f"from {actual} computed from {weights}; the card is not changed (check which "
                "is right: a changed weights file, or a card of other weights)"
            )
    missing = tuple(k for k in digests if recorded[k] is None)
    verified = tuple(k for k in digests if k not in missing)
    written = bool(missing) and write
    if written:
        _fill(card_path, card.fields, {k: digests[k] for k in missing})
    return Registration(card_path, weights, digests, missing, verified, written)


def _fill(card_path: Path, fields: dict, values: dict[str, str]) -> None:
    """Write ``values`` into the card's ``weights`` block, keeping the rest of the file as it is
    (comments, order) when the block is plain block-style YAML; else rewrite the whole card."""
    expected = {**fields, "weights": {**fields["weights"], **values}}
    text = card_path.read_text()
    match = re.search(r"^weights:[ \t]*(#.*)?\n((?:[ \t]*(?:#.*)?\n)*)([ \t]+)\S", text, re.M)
    if match:
        indent = match.group(3)
        lines = "".join(f"{indent}{key}: {value}\n" for key, value in values.items())
        updated = text[: match.start(2)] + lines + text[match.start(2) :]
        if yaml.safe_load(updated) == expected:
            card_path.write_text(updated)
            return
    write_card(card_path.parent, expected)
