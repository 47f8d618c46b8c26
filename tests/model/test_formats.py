"""Weights formats: the demo model exported to ONNX gives, through our loader, the numbers of the
torch original on real preprocessed studies; the state digests of both formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from onnx import numpy_helper

from tests.model.models import DEMO, demo_net, model_dir, onnx_bytes
from validation.exceptions import ModelIntegrityError
from validation.ingest.pixels import decode_cine
from validation.ingest.rules import ImageRules
from validation.ingest.scan import ingest_partition
from validation.model.card import read_card
from validation.model.contract import check_outputs
from validation.model.formats import OnnxModel, load_weights, onnx_state_digest
from validation.model.preprocess import preprocess_batch
from validation.model.registry import load_locked_model, verify_state
from validation.sites import load_sites, site_files

NAMES = ["ivsd_mm", "lvh_probability"]


@pytest.fixture(scope="module")
def frames(tiny_demo, tmp_path_factory) -> torch.Tensor:
    """The included studies of a tiny-demo partition, decoded and preprocessed."""
    site = load_sites(site_files(tiny_demo / "sites"), root=tiny_demo)[0]
    out = tmp_path_factory.mktemp("ingest")
    ingest_partition(site.partitions[0], out)
    table = pd.read_csv(out / "accounting.csv", dtype=str, keep_default_na=False)
    loops = [
        decode_cine(Path(p).read_bytes(), ImageRules())
        for p in table.loc[table["status"] == "included", "path"]
    ]
    assert len(loops) >= 2
    return preprocess_batch(loops, read_card(DEMO).preprocessing)


@pytest.fixture(scope="module")
def exported() -> bytes:
    return onnx_bytes(demo_net(), NAMES)


def test_onnx_export_gives_the_torch_numbers(frames, exported, tmp_path):
    folder = model_dir(tmp_path / "m", exported, weights_format="onnx")
    model = load_locked_model(folder)
    assert isinstance(model.module, OnnxModel)
    got = check_outputs(model.card, model.forward(frames), len(frames))
    with torch.inference_mode():
        ivsd, probability = demo_net()(frames)
    np.testing.assert_allclose(got["measurement"], ivsd.double().numpy(), rtol=1e-5)
    np.testing.assert_allclose(got["probability"], probability.double().numpy(), rtol=1e-5)
    assert not np.allclose(got["measurement"], got["measurement"][0])  # real, varied studies
    assert verify_state(model) == model.card.state_sha256


def test_onnx_state_digest_covers_the_initializers(exported):
    digest = onnx_state_digest(exported)
    assert digest == onnx_state_digest(onnx_bytes(demo_net(), NAMES))  # same tensors, same digest
    proto = onnx.load_from_string(exported)
    first = proto.graph.initializer[0]
    changed = numpy_helper.to_array(first).copy()
    changed.flat[0] += 1e-3
    first.CopyFrom(numpy_helper.from_array(changed, first.name))
    assert onnx_state_digest(proto.SerializeToString()) != digest


def test_torchscript_state_digest_is_the_demo_cards(repo_root):
    model = load_locked_model(repo_root / "models/ivsd-cnn/1.0.0")
    assert verify_state(model) == model.state_digest() == model.card.state_sha256


def test_bytes_that_are_not_onnx_are_refused(tmp_path):
    with pytest.raises(ModelIntegrityError, match=r"ONNX model .*x\.onnx cannot be loaded"):
        load_weights(b"not a model", "onnx", tmp_path / "x.onnx")
