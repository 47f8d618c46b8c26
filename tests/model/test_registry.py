"""A locked model runs only if its weights match the sha256 on record."""

from __future__ import annotations

import shutil

import pytest
import torch

from validation.exceptions import IntegrityError, ModelIntegrityError
from validation.hashing import sha256_file
from validation.model.card import read_card, state_digest
from validation.model.registry import load_locked_model

MODEL = "models/ivsd-cnn/1.0.0"


@pytest.fixture
def model_copy(repo_root, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(repo_root / MODEL, target)
    return target


def test_committed_model_card_hash_matches_weights(repo_root):
    card = read_card(repo_root / MODEL)
    assert sha256_file(repo_root / MODEL / card.weights) == card.sha256


def test_loads_and_predicts_in_mm(model_copy):
    model = load_locked_model(model_copy)
    prep = model.card.preprocessing
    ivsd, probability = model.module(torch.zeros(2, prep.frames, prep.size, prep.size))
    assert ivsd.shape == (2,) and probability.shape == (2,)
    assert bool(((probability >= 0) & (probability <= 1)).all())


def test_flipped_byte_is_refused_naming_file_and_both_hashes(model_copy):
    card = read_card(model_copy)
    weights = model_copy / card.weights
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as info:
        load_locked_model(model_copy)
    message = str(info.value)
    assert str(weights) in message
    assert card.sha256 in message and sha256_file(weights) in message


def test_protocol_hash_must_match_too(model_copy):
    with pytest.raises(IntegrityError, match="sha256 in the protocol"):
        load_locked_model(model_copy, expected_sha256="0" * 64)


def test_missing_weights(model_copy):
    (model_copy / read_card(model_copy).weights).unlink()
    with pytest.raises(ModelIntegrityError, match="not found"):
        load_locked_model(model_copy)


def test_committed_weights_hold_the_tensors_training_reproduces(repo_root):
    """Retraining reproduces these tensors (state_sha256); the archive bytes carry a random id."""
    card = read_card(repo_root / MODEL)
    module = torch.jit.load(str(repo_root / MODEL / card.weights))
    assert state_digest(module) == card.fields["weights"]["state_sha256"]
