"""Resample ultrasound frames to the model's physical pixel spacing.

The model sees every vendor's images at the same physical scale (``target_spacing_mm`` per pixel),
so a thickness in pixels means the same number of millimetres whatever the scanner.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from validation.model.card import Preprocessing


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
    return preprocess_batch([(frames, spacing_mm)], settings)[0]


def preprocess_batch(
    loops: list[tuple[np.ndarray, tuple[float, float]]],
    settings: Preprocessing,
    *,
    crop: str = "top_centre",
) -> torch.Tensor:
    """:func:`preprocess_frames` for several loops: (len(loops), frames, size, size).

    Loops of the same shape and spacing (one vendor's scanner, as in a partition) are resampled
    in one call, which gives the same values as one call each and costs less. ``crop`` is the
    model card's crop rule (:data:`CROPS`).
    """
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {sorted(CROPS)}, got {crop!r}")
    out = torch.empty((len(loops), settings.frames, settings.size, settings.size))
    groups: dict[tuple, list[int]] = {}
    loops = [(check_loop(f, spacing), spacing) for f, spacing in loops]
    for i, (frames, (dy, dx)) in enumerate(loops):
        groups.setdefault((frames.shape, float(dy), float(dx)), []).append(i)
    for (shape, dy, dx), members in groups.items():
        index = np.arange(settings.frames) % shape[0]
        stack = np.stack([loops[i][0] for i in members])  # (n, frames, rows, columns)
        if shape[0] != settings.frames:
            stack = stack[:, index]
        x = torch.from_numpy(stack.astype(np.float32)).reshape(-1, 1, shape[1], shape[2])
        rows = max(1, round(shape[1] * dy / settings.target_spacing_mm))
        cols = max(1, round(shape[2] * dx / settings.target_spacing_mm))
        x = F.interpolate(
            x, size=(rows, cols), mode="bilinear", antialias=True, align_corners=False
        )
        # scaling to [0, 1] is linear, so it is done after resampling, on the smaller crop
        x = _crop_or_pad(x[:, 0], settings.size, top=CROPS[crop]).div_(255.0)
        out[members] = x.reshape(len(members), settings.frames, settings.size, settings.size)
    return out


def check_loop(frames: np.ndarray, spacing_mm: tuple[float, float]) -> np.ndarray:
    """``frames`` as (frames, rows, columns) (one 2D frame gets a frame axis), checked.

    Raises
    ------
    ValueError
        When the frames are not grey 2D frames with at least one pixel, or the spacing is not
        positive.
    """
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or 0 in frames.shape:
        raise ValueError(f"frames must have shape (frames, rows, columns), got {frames.shape}")
    dy, dx = spacing_mm
    if not (dy > 0 and dx > 0):
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm}")
    return frames


#: The model card's crop rules (``inputs.crop``): keep the top rows (the near field of a sector)
#: or the central rows; the central columns either way.
CROPS = {"top_centre": True, "centre": False}


def _crop_or_pad(x: torch.Tensor, size: int, *, top: bool = True) -> torch.Tensor:
    """A ``size`` x ``size`` window of every frame: the top ``size`` rows (``top``, the
    ``top_centre`` crop rule) or the central ones (``centre``), and the central columns; a
    smaller image is padded with zeros (below, or on both sides)."""
    _, rows, cols = x.shape
    out = x.new_zeros((x.shape[0], size, size))
    r, c = min(rows, size), min(cols, size)
    r0_src = 0 if top else max(0, (rows - size) // 2)
    r0_dst = 0 if top else max(0, (size - rows) // 2)
    c0_src = max(0, (cols - size) // 2)
    c0_dst = max(0, (size - cols) // 2)
    out[:, r0_dst : r0_dst + r, c0_dst : c0_dst + c] = x[
        :, r0_src : r0_src + r, c0_src : c0_src + c
    ]
    return out
