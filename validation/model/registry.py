"""Load a locked model version: verify its weights' sha256 before anything runs.

The weights are TorchScript or ONNX (the card's ``weights.format``,
:mod:`validation.model.formats`).
A card may name an ``adapter``, ``package.module:callable``: it is called with the loaded model
(the TorchScript module, or the :class:`~validation.model.formats.OnnxModel`) and returns the
standard forward, a callable taking the frames tensor ``(batch, frames, size, size)`` float32
and returning the outputs the card lists (a tensor, a tuple/list in the card's order, or a dict
by name). It is the plug-in point for a model whose own forward differs (other input layout,
extra arguments, a richer return value)::

    # mypackage/adapters.py
    def channels_first(module):
        def forward(frames):                    # (batch, frames, size, size)
            out = module(frames[:, None])       # the model wants (batch, 1, frames, size, size)
            return {"ivsd_mm": out["ivsd"], "lvh_logit": out["lvh"]}
        return forward

    # model-card.yaml
    adapter: mypackage.adapters:channels_first
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from validation.exceptions import IntegrityError, ModelContractError, ModelIntegrityError
from validation.hashing import sha256_bytes
from validation.model.card import CARD_NAME, ModelCard, read_card
from validation.model.formats import load_weights, weights_state_digest


@dataclass(frozen=True)
class LockedModel:
    """A model whose weights were verified against the sha256 on record.

    ``module`` is the model as loaded (a TorchScript module or an
    :class:`~validation.model.formats.OnnxModel`); ``forward`` is what inference calls: the
    module itself, or what the card's adapter made of it.
    """

    card: ModelCard
    weights_path: Path
    sha256: str
    module: Any
    forward: Callable[..., Any]

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> str:
        return self.card.version

    def state_digest(self) -> str:
        """The state digest computed from the loaded weights (not the card's record)."""
        return weights_state_digest(self.module)


def read_weights(model_dir: str | Path) -> tuple[ModelCard, Path, bytes]:
    """The card and the weights' bytes, unverified (for ``mval model register``).

    Raises
    ------
    ModelIntegrityError
        When the card or the weights file is missing.
    """
    card = read_card(model_dir)
    weights = Path(model_dir) / card.weights
    try:
        return card, weights, weights.read_bytes()
    except FileNotFoundError:
        raise ModelIntegrityError(
            f"model weights {weights} not found (named by {Path(model_dir) / CARD_NAME})"
        ) from None


def read_verified_weights(
    model_dir: str | Path, expected_sha256: str | None = None
) -> tuple[ModelCard, Path, bytes]:
    """Read the weights once and check them against the card's and the protocol's sha256.

    Raises
    ------
    IntegrityError
        Naming the weights file, the expected and the actual sha256.
    ModelIntegrityError
        When the card or the weights file is missing, or the card records no sha256.
    """
    card, weights, data = read_weights(model_dir)
    actual = sha256_bytes(data)
    if card.sha256 is None:
        raise ModelIntegrityError(
            f"model card {Path(model_dir) / CARD_NAME} records no weights.sha256 (the file's is "
            f"{actual}): run `mval model register {model_dir}`"
        )
    if actual != card.sha256:
        raise IntegrityError(str(weights), card.sha256, actual, what="model weights")
    if expected_sha256 is not None and actual != expected_sha256:
        raise IntegrityError(
            str(weights), expected_sha256, actual, what="model weights (sha256 in the protocol)"
        )
    return card, weights, data


def load_locked_model(model_dir: str | Path, expected_sha256: str | None = None) -> LockedModel:
    """Verify, then load, a TorchScript or ONNX model on the CPU in evaluation mode.

    The bytes hashed are the bytes deserialised, so the file cannot change between check and use.
    The card's adapter, if any, wraps the loaded model into the standard forward.

    Raises
    ------
    IntegrityError
        The weights differ from the card's or the protocol's sha256.
    ModelIntegrityError
        The card or the weights are missing, the weights cannot be loaded, or the adapter
        cannot be imported.
    ModelContractError
        The adapter did not return a callable.
    """
    card, weights, data = read_verified_weights(model_dir, expected_sha256)
    module = load_weights(data, card.format, weights)
    forward = _adapt(card, module, Path(model_dir) / CARD_NAME) if card.adapter else module
    return LockedModel(
        card=card, weights_path=weights, sha256=str(card.sha256), module=module, forward=forward
    )


def verify_state(model: LockedModel) -> str:
    """Check the card's ``weights.state_sha256`` against the loaded tensors; return the digest.

    Raises
    ------
    ModelIntegrityError
        When the card records no state digest, or one that differs from the tensors' (the
        message names the card, the weights file and both digests).
    """
    actual = model.state_digest()
    card_path = model.weights_path.parent / CARD_NAME
    if model.card.state_sha256 is None:
        raise ModelIntegrityError(
            f"model card {card_path} records no weights.state_sha256 (the tensors of "
            f"{model.weights_path} give {actual}): run `mval model register "
            f"{model.weights_path.parent}`"
        )
    if actual != model.card.state_sha256:
        raise ModelIntegrityError(
            f"model card {card_path}: weights.state_sha256 {model.card.state_sha256} differs "
            f"from the state digest {actual} of the tensors in {model.weights_path}"
        )
    return actual


def _adapt(card: ModelCard, module: Any, card_path: Path) -> Callable[..., Any]:
    """The standard forward the card's ``adapter`` makes of ``module``."""
    spec = str(card.adapter)
    module_name, _, attribute = spec.partition(":")
    try:
        adapter = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ModelIntegrityError(
            f"model card {card_path}: adapter {spec!r} cannot be imported: {exc}"
        ) from exc
    try:
        forward = adapter(module)
    except Exception as exc:
        raise ModelIntegrityError(
            f"model card {card_path}: adapter {spec!r} failed on the loaded model: {exc}"
        ) from exc
    if not callable(forward):
        raise ModelContractError(
            f"{card.label}: adapter {spec!r} returned {type(forward).__name__}, expected a "
            "callable taking the frames tensor (batch, frames, size, size)"
        )
    return forward
