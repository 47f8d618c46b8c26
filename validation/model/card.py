"""Model cards: what a locked model is, what it was trained on, and the sha256 of its weights."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from validation.exceptions import ModelIntegrityError
from validation.schema import load_yaml, validate

if TYPE_CHECKING:  # reading a card needs no torch (the workflow reads cards when it loads)
    import torch

CARD_NAME = "model-card.yaml"


@dataclass(frozen=True)
class Preprocessing:
    """Preprocessing settings; they are part of a locked model and hashed with it."""

    target_spacing_mm: float = 0.5
    size: int = 96
    frames: int = 8

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class ModelCard:
    """The model card of one locked model version (FDA 2025 draft guidance, Appendix E)."""

    name: str
    version: str
    weights: str
    sha256: str
    preprocessing: Preprocessing
    fields: dict[str, Any]

    @property
    def directory_name(self) -> str:
        return f"{self.name}/{self.version}"


def state_digest(module: torch.nn.Module) -> str:
    """sha256 over a module's parameters and buffers (names, dtypes, shapes, values).

    Unlike the TorchScript file's sha256 (the archive carries a random serialization id), this
    digest is the same whenever training reproduces the same tensors.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()


def read_card(model_dir: str | Path) -> ModelCard:
    """Read and validate ``<model_dir>/model-card.yaml``."""
    path = Path(model_dir) / CARD_NAME
    data = load_yaml(path, error=ModelIntegrityError)
    validate(data, "model-card", source=path, error=ModelIntegrityError)
    return ModelCard(
        name=data["name"],
        version=str(data["version"]),
        weights=data["weights"]["file"],
        sha256=data["weights"]["sha256"],
        preprocessing=Preprocessing(**data["preprocessing"]),
        fields=data,
    )


def write_card(model_dir: str | Path, card: dict[str, Any]) -> Path:
    """Write a model card (validated first) to ``<model_dir>/model-card.yaml``."""
    path = Path(model_dir) / CARD_NAME
    validate(card, "model-card", source=path, error=ModelIntegrityError)
    path.write_text(
        "# Model card (FDA AI-enabled device software functions draft guidance, Appendix E).\n"
        + yaml.safe_dump(card, sort_keys=False, allow_unicode=True, width=100)
    )
    return path
