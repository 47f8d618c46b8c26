"""Model folders for the tests: real TorchScript or ONNX weights beside a card that records
their digests, built from the demo model's card."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import torch
import yaml

from validation.hashing import sha256_bytes
from validation.model.card import CARD_NAME, write_card
from validation.model.formats import load_weights, weights_state_digest
from validation.model.net import IVSdModel

DEMO = Path(__file__).resolve().parents[2] / "models" / "ivsd-cnn" / "1.0.0"
MEASUREMENT = {
    "name": "ivsd_mm",
    "role": "measurement",
    "unit": "mm",
    "shape": ["batch"],
    "description": "IVSd in mm",
}
PROBABILITY = {
    "name": "lvh_probability",
    "role": "probability",
    "shape": ["batch"],
    "description": "probability of LVH",
}


def demo_net() -> IVSdModel:
    """The demo model as an ``nn.Module`` holding the committed 1.0.0 tensors."""
    net = IVSdModel()
    net.load_state_dict(torch.jit.load(str(DEMO / "model.pt")).state_dict())
    return net.eval()


def torchscript_bytes(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module.eval()), buffer)
    return buffer.getvalue()


def onnx_bytes(module: torch.nn.Module, names: list[str]) -> bytes:
    """``module`` exported to ONNX with a dynamic batch axis (docs/models.md)."""
    buffer = io.BytesIO()
    torch.onnx.export(
        module.eval(),
        (torch.zeros(2, 8, 96, 96),),
        buffer,
        input_names=["frames"],
        output_names=names,
        dynamic_axes={"frames": {0: "batch"}, **{n: {0: "batch"} for n in names}},
        dynamo=False,  # the TorchScript-based exporter: needs no onnxscript
    )
    return buffer.getvalue()


def model_dir(
    folder: Path,
    weights: bytes,
    outputs: list[dict[str, Any]] | None = None,
    *,
    weights_format: str = "torchscript",
    adapter: str | None = None,
    digests: bool = True,
) -> Path:
    """``folder`` holding ``weights`` and a card (the demo's, these weights and outputs)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = "model.onnx" if weights_format == "onnx" else "model.pt"
    (folder / name).write_bytes(weights)
    card = copy.deepcopy(yaml.safe_load((DEMO / CARD_NAME).read_text()))
    card["weights"] = {"file": name, "format": weights_format}
    if digests:
        card["weights"]["sha256"] = sha256_bytes(weights)
        module = load_weights(weights, weights_format, folder / name)
        card["weights"]["state_sha256"] = weights_state_digest(module)
    card["outputs"] = outputs or [MEASUREMENT, PROBABILITY]
    if adapter:
        card["adapter"] = adapter
    write_card(folder, card)
    return folder
