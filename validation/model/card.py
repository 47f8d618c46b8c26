"""Model cards: what a locked model is, what it reads and returns, and the digests of its weights.

The card is the model's contract (``docs/models.md``): its ``weights`` (file, format, the file's
sha256 and the state digest of its tensors), the input tensor it reads (``preprocessing`` gives
frames, size and spacing, the one place they are stated; ``inputs`` the channels, scaling and crop
rule), and its ``outputs``, a list in the order of the forward's return tuple. Inference checks
every batch against it (:mod:`validation.model.contract`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from validation.exceptions import ModelIntegrityError
from validation.hashing import sha256_file
from validation.schema import load_yaml, validate

if TYPE_CHECKING:  # reading a card needs no torch (the workflow reads cards when it loads)
    import torch

CARD_NAME = "model-card.yaml"
#: The roles an output can play; a ``logit`` becomes a probability with the sigmoid.
ROLES = ("measurement", "probability", "logit")
#: The weights formats the loader reads (:mod:`validation.model.registry`).
FORMATS = ("torchscript", "onnx")


@dataclass(frozen=True)
class Preprocessing:
    """Preprocessing settings; they are part of a locked model and hashed with it."""

    target_spacing_mm: float = 0.5
    size: int = 96
    frames: int = 8

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class InputTensor:
    """The tensor the model's forward reads: ``(batch, frames, size, size)`` float32.

    ``frames``, ``size`` and ``spacing_mm`` come from the card's ``preprocessing`` block (the one
    place they are stated); ``channels``, ``scaling`` and ``crop`` from its ``inputs``.
    """

    frames: int
    size: int
    spacing_mm: float
    channels: int = 1  # grey: one channel, no channel axis
    scaling: str = "unit"  # grey values 0..255 scaled to [0, 1]
    crop: str = "top_centre"  # the top `size` rows (near field) and the central `size` columns

    @property
    def shape(self) -> tuple[str | int, ...]:
        return ("batch", self.frames, self.size, self.size)


@dataclass(frozen=True)
class OutputSpec:
    """One output of the model's forward, as its card declares it.

    Parameters
    ----------
    name : str
        The output's name (a dict-returning model is matched by it).
    role : {"measurement", "probability", "logit"}
        What the value is; a logit becomes a probability with the sigmoid.
    description : str
        The output in words.
    unit : str, optional
        UCUM unit of a measurement (``mm``, ``%``, ``ms``, ``1``); None for the other roles.
    shape : tuple of str
        ``("batch",)``: one value per study.
    """

    name: str
    role: str
    description: str
    unit: str | None = None
    shape: tuple[str, ...] = ("batch",)

    @property
    def column_role(self) -> str:
        """The prediction-table role it fills: a logit fills ``probability``."""
        return "probability" if self.role == "logit" else self.role


@dataclass(frozen=True)
class ModelCard:
    """The model card of one locked model version (FDA 2025 draft guidance, Appendix E).

    ``sha256`` and ``state_sha256`` are None when the card does not record them yet
    (``mval model register`` fills them in); a model runs only with both verified.
    """

    name: str
    version: str
    weights: str
    sha256: str | None
    preprocessing: Preprocessing
    fields: dict[str, Any]
    format: str = "torchscript"
    state_sha256: str | None = None
    outputs: tuple[OutputSpec, ...] = ()
    adapter: str | None = None

    @property
    def directory_name(self) -> str:
        return f"{self.name}/{self.version}"

    def mismatches(
        self, measurement_unit: str | None, finding: bool
    ) -> list[tuple[int | None, str]]:
        """How the card's outputs fail what a protocol judges: a protocol with a measurement in
        ``measurement_unit`` needs a ``measurement`` output in that unit, one with a
        ``finding`` a ``probability`` or ``logit`` output. Each problem comes with the index of
        the card's output it is about (None for a missing output).

        Examples
        --------
        >>> card = ModelCard("m", "1", "m.pt", None, Preprocessing(), {},
        ...                  outputs=(OutputSpec("ef", "measurement", "EF", unit="%"),))
        >>> for index, problem in card.mismatches("mm", True):
        ...     print(index, problem)
        0 output 'ef' is in %, the protocol's measurement in mm
        None no probability or logit output, but the protocol judges a finding
        """
        problems: list[tuple[int | None, str]] = []
        roles = {o.column_role: (i, o) for i, o in enumerate(self.outputs)}
        if measurement_unit is not None:
            if "measurement" not in roles:
                problems.append((None, "no measurement output, but the protocol judges one"))
            else:
                index, output = roles["measurement"]
                if output.unit != measurement_unit:
                    problems.append(
                        (
                            index,
                            f"output {output.name!r} is in {output.unit}, the protocol's "
                            f"measurement in {measurement_unit}",
                        )
                    )
        if finding and "probability" not in roles:
            problems.append(
                (None, "no probability or logit output, but the protocol judges a finding")
            )
        return problems

    @property
    def label(self) -> str:
        """``name version``, as error messages name the model."""
        return f"{self.name} {self.version}"

    @property
    def tensor(self) -> InputTensor:
        """The input tensor contract (frames, size, spacing from ``preprocessing``)."""
        inputs = self.fields.get("inputs") or {}
        defaults = InputTensor(0, 0, 0.0)
        return InputTensor(
            frames=self.preprocessing.frames,
            size=self.preprocessing.size,
            spacing_mm=self.preprocessing.target_spacing_mm,
            channels=int(inputs.get("channels", defaults.channels)),
            scaling=str(inputs.get("scaling", defaults.scaling)),
            crop=str(inputs.get("crop", defaults.crop)),
        )

    def output(self, role: str) -> OutputSpec | None:
        """The output filling prediction role ``role`` (``measurement``, ``probability``)."""
        return next((o for o in self.outputs if o.column_role == role), None)


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


def weights_record(path: Path, module: torch.nn.Module) -> dict[str, Any]:
    """The card's ``weights`` block of a TorchScript file saved from ``module``: its file name,
    format, sha256, parameter count and state digest (:func:`state_digest`)."""
    return {
        "file": path.name,
        "format": "torchscript",
        "sha256": sha256_file(path),
        "parameters": int(sum(p.numel() for p in module.parameters())),
        "state_sha256": state_digest(module),
    }


def read_card(model_dir: str | Path) -> ModelCard:
    """Read and validate ``<model_dir>/model-card.yaml``.

    Raises
    ------
    ModelIntegrityError
        When the card is missing, breaks its schema, names an output twice or gives two outputs
        the same role (each role fills one column of the predictions).
    """
    path = Path(model_dir) / CARD_NAME
    data = load_yaml(path, error=ModelIntegrityError)
    validate(data, "model-card", source=path, error=ModelIntegrityError)
    weights = data["weights"]
    return ModelCard(
        name=data["name"],
        version=str(data["version"]),
        weights=weights["file"],
        sha256=weights.get("sha256"),
        preprocessing=Preprocessing(**data["preprocessing"]),
        fields=data,
        format=weights["format"],
        state_sha256=weights.get("state_sha256"),
        outputs=_outputs(data["outputs"], path),
        adapter=data.get("adapter"),
    )


def _outputs(items: list[Mapping[str, Any]], path: Path) -> tuple[OutputSpec, ...]:
    """The card's outputs (schema-checked), each name and each prediction role once."""
    outputs = tuple(
        OutputSpec(
            name=str(o["name"]),
            role=str(o["role"]),
            description=str(o.get("description", "")),
            unit=None if o.get("unit") is None else str(o["unit"]),
            shape=tuple(str(s) for s in o.get("shape", ["batch"])),
        )
        for o in items
    )
    for attribute in ("name", "column_role"):
        values = [getattr(o, attribute) for o in outputs]
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            what = "name" if attribute == "name" else "role (a logit counts as a probability)"
            raise ModelIntegrityError(
                f"{path}: outputs: each {what} may appear once, got {repeated} more than once"
            )
    return outputs


def write_card(model_dir: str | Path, card: dict[str, Any]) -> Path:
    """Write a model card (validated first) to ``<model_dir>/model-card.yaml``."""
    path = Path(model_dir) / CARD_NAME
    validate(card, "model-card", source=path, error=ModelIntegrityError)
    path.write_text(
        "# Model card (FDA AI-enabled device software functions draft guidance, Appendix E).\n"
        + yaml.safe_dump(card, sort_keys=False, allow_unicode=True, width=100)
    )
    return path
