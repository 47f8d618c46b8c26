"""The weights formats a locked model can come in: TorchScript and ONNX.

Both load on the CPU into a callable with the standard forward: a frames tensor
``(batch, frames, size, size)`` float32 in, the outputs (a tensor, a tuple or a dict of tensors)
out. Each has a *state digest*, the sha256 of its tensors, which (unlike the file's sha256) is the
same whenever training reproduces the same tensors:

- TorchScript: the parameters and buffers (:func:`validation.model.card.state_digest`);
- ONNX: the graph's initializers, sorted by name; for each its name, numpy dtype and shape
  (``name|float32|(12, 1, 5, 5)|``), then its values as little-endian C-order bytes
  (:func:`onnx_state_digest`). Constants inside the graph's nodes are not initializers: the
  file's sha256 covers them.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from validation.exceptions import ModelIntegrityError
from validation.model.card import state_digest


class OnnxModel:
    """An ONNX model run by onnxruntime on the CPU, called like a TorchScript module.

    Parameters
    ----------
    data : bytes
        The ``.onnx`` file's bytes (the ones whose sha256 was verified). The model must be one
        file (no external data) with one input, ``(batch, frames, size, size)`` float32.
    source : path
        The weights file, for messages.

    Notes
    -----
    Called with a torch tensor, it returns the graph's outputs as a tuple of torch tensors in
    the graph's output order, which the card's ``outputs`` list follows. ``session`` is the
    ``onnxruntime.InferenceSession`` (for an adapter that needs more than one input).
    """

    def __init__(self, data: bytes, source: str | Path) -> None:
        import onnxruntime

        self.source = Path(source)
        self._data = data
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        try:
            self.session = onnxruntime.InferenceSession(
                data, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelIntegrityError(f"ONNX model {source} cannot be loaded: {exc}") from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelIntegrityError(
                f"ONNX model {source} has {len(inputs)} inputs "
                f"({[i.name for i in inputs]}), expected one (the frames tensor); give the card "
                "an adapter for a model with more"
            )
        self.input_name = inputs[0].name
        self.output_names = tuple(o.name for o in self.session.get_outputs())

    def __call__(self, frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
        array = frames.detach().cpu().numpy()
        results = self.session.run(None, {self.input_name: array})
        return tuple(torch.from_numpy(np.asarray(r)) for r in results)

    def state_digest(self) -> str:
        """sha256 over the initializers (see the module's docstring)."""
        return onnx_state_digest(self._data, self.source)


def onnx_state_digest(data: bytes, source: str | Path = "ONNX model") -> str:
    """sha256 over an ONNX model's initializers: names, dtypes, shapes and values.

    Raises
    ------
    ModelIntegrityError
        When the bytes are not an ONNX model, or it keeps tensors in external data files.
    """
    import onnx
    from onnx import numpy_helper

    try:
        proto = onnx.load_from_string(data)
    except Exception as exc:
        raise ModelIntegrityError(f"{source} is not an ONNX model: {exc}") from exc
    digest = hashlib.sha256()
    for init in sorted(proto.graph.initializer, key=lambda t: t.name):
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise ModelIntegrityError(
                f"{source}: initializer {init.name!r} is stored in an external data file; save "
                "the model as one file (onnx.save_model(..., save_as_external_data=False))"
            )
        array = np.ascontiguousarray(numpy_helper.to_array(init))
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        digest.update(f"{init.name}|{array.dtype.name}|{tuple(array.shape)}|".encode())
        digest.update(little.tobytes())
    return digest.hexdigest()


def load_weights(data: bytes, weights_format: str, source: str | Path) -> Any:
    """The model in ``data`` (``torchscript`` or ``onnx``), on the CPU, in evaluation mode.

    Raises
    ------
    ModelIntegrityError
        When the bytes cannot be loaded as ``weights_format``.
    """
    if weights_format == "onnx":
        return OnnxModel(data, source)
    if weights_format != "torchscript":
        raise ModelIntegrityError(
            f"weights {source}: format must be torchscript or onnx, got {weights_format!r}"
        )
    try:
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:
        raise ModelIntegrityError(f"model weights {source} cannot be loaded: {exc}") from exc
    module.eval()
    return module


def weights_state_digest(module: Any) -> str:
    """The state digest of a loaded model (TorchScript module or :class:`OnnxModel`)."""
    if isinstance(module, OnnxModel):
        return module.state_digest()
    return state_digest(module)
