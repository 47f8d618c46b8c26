"""Resampling to the model's physical spacing keeps millimetres as millimetres."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from validation.model.preprocess import Preprocessing, preprocess_batch, preprocess_frames


def _band(spacing_mm: float, thickness_mm: float, rows: int = 200, cols: int = 60) -> np.ndarray:
    depth = (np.arange(rows) + 0.5) * spacing_mm
    band = (np.abs(depth - 20.0) < thickness_mm / 2).astype(np.uint8) * 255
    return np.repeat(band[:, None], cols, axis=1)[None]


@pytest.mark.parametrize("spacing", [0.3, 0.42, 0.5, 0.7])
def test_band_thickness_in_mm_survives_resampling(spacing):
    settings = Preprocessing(target_spacing_mm=0.5, size=96, frames=2)
    band = _band(spacing, 10.0)
    drawn_mm = band[0, :, 0].sum() / 255 * spacing  # the band as sampled: whole pixels
    out = preprocess_frames(band, (spacing, spacing), settings)
    assert out.shape == (2, 96, 96)
    profile = out[0, :, 48].numpy()
    thickness_mm = profile.sum() * settings.target_spacing_mm  # area under a unit-height band
    assert thickness_mm == pytest.approx(drawn_mm, abs=0.05)
    assert drawn_mm == pytest.approx(10.0, abs=spacing)


def test_short_loop_is_repeated_and_values_scaled():
    settings = Preprocessing(frames=8)
    out = preprocess_frames(np.full((3, 40, 40), 255, np.uint8), (0.5, 0.5), settings)
    assert out.shape == (8, settings.size, settings.size)
    assert float(out.max()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("frames", "spacing"),
    [(np.zeros((2, 2, 2, 2), np.uint8), (0.5, 0.5)), (np.zeros((2, 8, 8), np.uint8), (0.0, 0.5))],
)
def test_bad_input_is_refused(frames, spacing):
    with pytest.raises(ValueError):
        preprocess_frames(frames, spacing, Preprocessing())


def test_batch_equals_one_by_one():

    rng = np.random.default_rng(0)
    settings = Preprocessing()
    loops = [
        (rng.integers(0, 255, (8, 152, 152), dtype=np.uint8), (0.42, 0.42)),
        (rng.integers(0, 255, (8, 176, 176), dtype=np.uint8), (0.36, 0.36)),
        (rng.integers(0, 255, (8, 152, 152), dtype=np.uint8), (0.42, 0.42)),
        (rng.integers(0, 255, (5, 152, 152), dtype=np.uint8), (0.42, 0.42)),
    ]
    batch = preprocess_batch(loops, settings)
    for i, (frames, spacing) in enumerate(loops):
        assert torch.equal(batch[i], preprocess_frames(frames, spacing, settings))


def test_the_crop_rule_keeps_the_top_or_the_central_rows():
    """A tall image (200 rows at the model's spacing, 96 kept): ``top_centre`` keeps rows 0-95,
    ``centre`` rows 52-147; a short one is padded below or on both sides."""
    settings = Preprocessing(target_spacing_mm=0.5, size=96, frames=1)
    rows = np.repeat(np.arange(200, dtype=np.uint8)[:, None], 96, axis=1)[None]
    top = preprocess_batch([(rows, (0.5, 0.5))], settings)[0, 0, :, 48] * 255
    centre = preprocess_batch([(rows, (0.5, 0.5))], settings, crop="centre")[0, 0, :, 48] * 255
    assert top.round().tolist() == list(range(96))
    assert centre.round().tolist() == list(range(52, 148))
    short = np.full((1, 40, 96), 200, dtype=np.uint8)
    below = preprocess_batch([(short, (0.5, 0.5))], settings)[0, 0, :, 48]
    around = preprocess_batch([(short, (0.5, 0.5))], settings, crop="centre")[0, 0, :, 48]
    assert below[:40].min() > 0 and below[40:].max() == 0
    assert around[:28].max() == 0 and around[28:68].min() > 0 and around[68:].max() == 0
    with pytest.raises(ValueError, match=r"crop must be one of \['centre', 'top_centre'\]"):
        preprocess_batch([(short, (0.5, 0.5))], settings, crop="middle")
