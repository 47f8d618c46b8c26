"""Resample ultrasound frames to the model's physical pixel spacing.

The model sees every vendor's images at the same physical scale (``target_spacing_mm`` per pixel),
so a thickness in pixels means the same number of millimetres whatever the scanner.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Preprocessing:
    """Preprocessing settings; they are part of a locked model and hashed with it."""

    target_spacing_mm: float = 0.5
    size: int = 96
    frames: int = 8

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def preprocess_frames(
    frames: np.ndarray, spacing_mm: tuple[float, float], settings: Preprocessing
) -> torch.Tensor:
    """Resample a cine loop to the model's spacing and size.

    Parameters
    ----------
    frames : ndarray of shape (frames, rows, columns), uint8
        The cine loop as stored.
    spacing_mm : (row_spacing, column_spacing)
        Physical size of a pixel in mm (from ``SequenceOfUltrasoundRegions``).
    settings : Preprocessing
        The locked model's preprocessing.

    Returns
    -------
    Tensor of shape (settings.frames, size, size), float32 in [0, 1]
        Frames beyond ``settings.frames`` are dropped; a shorter loop is padded by repeating it.
    """
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3:
        raise ValueError(f"frames must have shape (frames, rows, columns), got {frames.shape}")
    dy, dx = spacing_mm
    if not (dy > 0 and dx > 0):
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm}")
    index = np.arange(settings.frames) % frames.shape[0]
    x = torch.from_numpy(np.ascontiguousarray(frames[index])).to(torch.float32).div_(255.0)
    rows = max(1, round(frames.shape[1] * dy / settings.target_spacing_mm))
    cols = max(1, round(frames.shape[2] * dx / settings.target_spacing_mm))
    x = F.interpolate(
        x[:, None], size=(rows, cols), mode="bilinear", antialias=True, align_corners=False
    )[:, 0]
    return _crop_or_pad(x, settings.size)


def _crop_or_pad(x: torch.Tensor, size: int) -> torch.Tensor:
    """Keep the top ``size`` rows (the near field holds the septum) and the central columns."""
    _, rows, cols = x.shape
    out = x.new_zeros((x.shape[0], size, size))
    r = min(rows, size)
    c0_src = max(0, (cols - size) // 2)
    c0_dst = max(0, (size - cols) // 2)
    c = min(cols, size)
    out[:, :r, c0_dst : c0_dst + c] = x[:, :r, c0_src : c0_src + c]
    return out
