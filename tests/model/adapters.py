"""Adapters named by test model cards (``adapter: tests.model.adapters:<name>``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def channels_first(module: Any) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A model reading (batch, 1, frames, size, size) and returning {"lvh": p, "ivsd": mm}
    made into the standard forward: (batch, frames, size, size) -> (mm, p)."""

    def forward(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = module(frames[:, None])
        return out["ivsd"], out["lvh"]

    return forward


def not_a_forward(module: Any) -> int:
    """An adapter that breaks its own contract: it returns no callable."""
    return 3
