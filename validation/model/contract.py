"""Every batch's outputs checked against the model card's ``outputs`` list.

A forward may return one tensor (a one-element tuple), a tuple or list (matched by position to
the card's outputs) or a dict (matched by name). Each output must be a tensor (or numpy array)
of shape exactly ``(batch,)``, of a floating dtype, all finite; a ``probability`` lies in
[0, 1]; a ``logit`` is turned into a probability with the sigmoid. A violation is a defect of
the model or its card, not of a study, so it raises :class:`ModelContractError` and stops the
run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from scipy.special import expit

from validation.exceptions import ModelContractError
from validation.model.card import ModelCard, OutputSpec


def check_outputs(card: ModelCard, returned: Any, batch: int) -> dict[str, np.ndarray]:
    """The forward's return for a batch of ``batch`` studies, checked, by prediction role.

    Parameters
    ----------
    card : ModelCard
        The model's card; its ``outputs`` say what should come, in which order.
    returned : tensor, tuple, list or dict
        What the forward returned.
    batch : int
        The number of studies in the batch.

    Returns
    -------
    dict of str to ndarray
        ``{"measurement": values, "probability": values}`` (the roles the card declares), each
        float64 of shape ``(batch,)``; a logit output comes as its sigmoid, under
        ``probability``.

    Raises
    ------
    ModelContractError
        Naming the model, the output and what came, e.g. ``ivsd-cnn 1.0.0: output 'ivsd_mm'
        has shape (2, 2), expected (2,) (one value per study)``.

    Examples
    --------
    >>> from validation.model.card import ModelCard, OutputSpec, Preprocessing
    >>> card = ModelCard("m", "1", "m.pt", None, Preprocessing(), {},
    ...                  outputs=(OutputSpec("p", "logit", "LVH logit"),))
    >>> check_outputs(card, torch.tensor([0.0, 2.0]), 2)["probability"].round(3)
    array([0.5  , 0.881])
    """
    values = _by_output(card, returned)
    out = {}
    for spec, value in zip(card.outputs, values, strict=True):
        out[spec.column_role] = _check(card, spec, value, batch)
    return out


def _by_output(card: ModelCard, returned: Any) -> list[Any]:
    """The returned values in the order of the card's outputs."""
    names = [o.name for o in card.outputs]
    if isinstance(returned, Mapping):
        got = [str(k) for k in returned]
        if sorted(got) != sorted(names):
            raise ModelContractError(
                f"{card.label}: the forward returned a dict with keys {got}, expected the card's "
                f"outputs {names}"
            )
        return [returned[n] for n in names]
    if isinstance(returned, torch.Tensor | np.ndarray):
        returned = (returned,)
    if not isinstance(returned, tuple | list):
        raise ModelContractError(
            f"{card.label}: the forward returned {type(returned).__name__}, expected a tensor, "
            f"a tuple or a dict of the card's outputs {names}"
        )
    if len(returned) != len(names):
        raise ModelContractError(
            f"{card.label}: the forward returned {len(returned)} output(s), expected "
            f"{len(names)} (the card's outputs {names}, in this order)"
        )
    return list(returned)


def _check(card: ModelCard, spec: OutputSpec, value: Any, batch: int) -> np.ndarray:
    """One output's values, checked: shape (batch,), floating, finite, a probability in range."""
    where = f"{card.label}: output {spec.name!r}"
    if isinstance(value, torch.Tensor):
        floating = value.is_floating_point()
        dtype = str(value.dtype).removeprefix("torch.")
        array = value.detach().cpu().double().numpy() if floating else None
    elif isinstance(value, np.ndarray):
        floating = np.issubdtype(value.dtype, np.floating)
        dtype = value.dtype.name
        array = value.astype(np.float64) if floating else None
    else:
        raise ModelContractError(f"{where} is a {type(value).__name__}, expected a tensor")
    if tuple(value.shape) != (batch,):
        raise ModelContractError(
            f"{where} has shape {tuple(value.shape)}, expected ({batch},) (one value per study)"
        )
    if array is None:
        raise ModelContractError(f"{where} has dtype {dtype}, expected a floating dtype")
    bad = ~np.isfinite(array)
    if bad.any():
        raise ModelContractError(
            f"{where} is not finite for {int(bad.sum())} of {batch} studies "
            f"(first: {array[bad][0]} at position {int(np.flatnonzero(bad)[0])})"
        )
    if spec.role == "logit":
        return expit(array)
    if spec.role == "probability":
        outside = (array < 0) | (array > 1)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise ModelContractError(
                f"{where} is a probability but {int(outside.sum())} of {batch} values lie "
                f"outside [0, 1] (first: {array[i]} at position {i})"
            )
    return array
