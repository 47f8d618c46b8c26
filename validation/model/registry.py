"""Load a locked model version: verify its weights' sha256 before anything runs."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import torch

from validation.exceptions import IntegrityError, ModelIntegrityError
from validation.hashing import sha256_bytes
from validation.model.card import CARD_NAME, ModelCard, read_card


@dataclass(frozen=True)
class LockedModel:
    """A model whose weights were verified against the sha256 on record."""

    card: ModelCard
    weights_path: Path
    sha256: str
    module: torch.jit.ScriptModule

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> str:
        return self.card.version


def read_verified_weights(
    model_dir: str | Path, expected_sha256: str | None = None
) -> tuple[ModelCard, Path, bytes]:
    """Read the weights once and check them against the card's and the protocol's sha256.

    Raises
    ------
    IntegrityError
        Naming the weights file, the expected and the actual sha256.
    ModelIntegrityError
        When the card or the weights file is missing.
    """
    card = read_card(model_dir)
    weights = Path(model_dir) / card.weights
    try:
        data = weights.read_bytes()
    except FileNotFoundError:
        raise ModelIntegrityError(
            f"model weights {weights} not found (named by {Path(model_dir) / CARD_NAME})"
        ) from None
    actual = sha256_bytes(data)
    if actual != card.sha256:
        raise IntegrityError(str(weights), card.sha256, actual, what="model weights")
    if expected_sha256 is not None and actual != expected_sha256:
        raise IntegrityError(
            str(weights), expected_sha256, actual, what="model weights (sha256 in the protocol)"
        )
    return card, weights, data


def load_locked_model(model_dir: str | Path, expected_sha256: str | None = None) -> LockedModel:
    """Verify, then load, a TorchScript model on the CPU in evaluation mode.

    The bytes hashed are the bytes deserialised, so the file cannot change between check and use.
    """
    card, weights, data = read_verified_weights(model_dir, expected_sha256)
    try:
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:
        raise ModelIntegrityError(f"model weights {weights} cannot be loaded: {exc}") from exc
    module.eval()
    return LockedModel(card=card, weights_path=weights, sha256=card.sha256, module=module)
