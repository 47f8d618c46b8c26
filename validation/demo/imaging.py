"""Synthetic parasternal-long-axis-like cine loops with a known septal thickness.

The septum is a bright band between the right-ventricular (above) and left-ventricular (below)
cavities, drawn in physical millimetres and sampled at the vendor's pixel spacing, so that the
thickness in mm is exact whatever the spacing. End-diastole is the frame where the septum is
thinnest; it contracts by 30-45 % in systole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from validation.demo.profiles import VendorProfile

_EDGE_MM = 0.12  # softness of tissue boundaries: keeps sub-pixel thickness visible
_QUALITY_CLUTTER = {"good": 0.0, "adequate": 0.05, "poor": 0.12}
_QUALITY_NOISE = {"good": 0.03, "adequate": 0.06, "poor": 0.10}


@dataclass(frozen=True)
class Anatomy:
    """The geometry of one study's heart in the parasternal long-axis window (millimetres)."""

    ivsd_mm: float  # septal thickness at end-diastole: the ground truth
    septum_depth_mm: float  # depth of the septum's centre below the transducer face
    tilt_deg: float
    rv_mm: float
    lvidd_mm: float
    pw_mm: float
    contraction: float  # systolic thickening fraction of the septum
    ed_frame: int
    quality: str  # good, adequate, poor
    trabeculation_mm: float = 0.0  # right-ventricular trabeculation lying against the septum
    trabeculation_gap_mm: float = 0.0
    bulge_mm: float = 0.0  # basal septal bulge ("sigmoid septum"), commoner with age
    bulge_position_mm: float = 0.0  # along the septum; negative is basal (left of the image)


def sample_anatomy(
    ivsd_mm: float, n_frames: int, quality: str, rng: np.random.Generator, *, age: int = 60
) -> Anatomy:
    """Draw the rest of a heart's geometry around a given end-diastolic septal thickness.

    Two caliper pitfalls are drawn too. Readers measure IVSd at the mid-septum, perpendicular to
    it, and leave out right-ventricular trabeculation and a basal septal bulge (a "sigmoid
    septum", commoner in the elderly); the image shows both.
    """
    trabeculated = bool(rng.random() < 0.4)
    bulging = bool(rng.random() < float(np.clip(0.1 + 0.012 * (age - 50), 0.05, 0.6)))
    return Anatomy(
        ivsd_mm=float(ivsd_mm),
        septum_depth_mm=float(rng.uniform(20.0, 27.0)),
        tilt_deg=float(rng.uniform(-12.0, 12.0)),
        rv_mm=float(rng.uniform(6.0, 11.0)),
        lvidd_mm=float(rng.uniform(38.0, 54.0)),
        pw_mm=float(np.clip(ivsd_mm * rng.uniform(0.85, 1.05), 5.0, 18.0)),
        contraction=float(rng.uniform(0.30, 0.45)),
        ed_frame=int(rng.integers(0, n_frames)),
        quality=quality,
        # a classic caliper pitfall: RV trabeculation (or the moderator band) hugging the septum,
        # which readers exclude but which blurs into the septal echo in the image
        trabeculation_mm=float(rng.uniform(0.8, 2.2)) if trabeculated else 0.0,
        trabeculation_gap_mm=float(rng.uniform(0.1, 1.0)) if trabeculated else 0.0,
        bulge_mm=float(rng.uniform(1.5, 4.0)) if bulging else 0.0,
        bulge_position_mm=float(rng.uniform(-22.0, -6.0)),
    )


def _step(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x / _EDGE_MM))


def septal_thickness_by_frame(anatomy: Anatomy, n_frames: int) -> np.ndarray:
    """Septal thickness (mm) in each frame: thinnest at end-diastole."""
    phase = 2.0 * np.pi * (np.arange(n_frames) - anatomy.ed_frame) / n_frames
    systole = 0.5 * (1.0 - np.cos(phase))
    return anatomy.ivsd_mm * (1.0 + anatomy.contraction * systole)


def render_cine(anatomy: Anatomy, profile: VendorProfile, rng: np.random.Generator) -> np.ndarray:
    """Render one cine loop as uint8 frames of shape (frames, rows, columns)."""
    n_frames, rows, cols, dx = profile.n_frames, profile.rows, profile.columns, profile.spacing_mm
    y = (np.arange(rows, dtype=np.float64) + 0.5) * dx
    x = (np.arange(cols, dtype=np.float64) - cols / 2.0 + 0.5) * dx
    yy, xx = np.meshgrid(y, x, indexing="ij")
    theta = np.deg2rad(anatomy.tilt_deg)

    thickness = septal_thickness_by_frame(anatomy, n_frames)
    systole = thickness / anatomy.ivsd_mm - 1.0
    frames = np.empty((n_frames, rows, cols), dtype=np.float64)
    for t in range(n_frames):
        half = (thickness[t] + profile.bloom_mm) / 2.0
        lvid = anatomy.lvidd_mm * (1.0 - 0.8 * systole[t])
        pw = anatomy.pw_mm * (1.0 + systole[t]) + profile.bloom_mm
        centre = anatomy.septum_depth_mm + 1.5 * systole[t]
        d = (yy - centre) * np.cos(theta) - xx * np.sin(theta)
        along = (yy - centre) * np.sin(theta) + xx * np.cos(theta)
        # the bulge moves the septum's right-ventricular side (and what lies beyond it) outwards
        bulge = anatomy.bulge_mm * np.exp(-0.5 * ((along - anatomy.bulge_position_mm) / 5.0) ** 2)
        d_rv = d + bulge
        edges = (half, half + lvid, half + lvid + pw)
        s = [_step(d_rv - (-half - anatomy.rv_mm)), _step(d_rv + half)]
        s += [_step(d - e) for e in edges]
        trab_inner = -half - anatomy.trabeculation_gap_mm
        trabeculation = _step(d_rv - (trab_inner - anatomy.trabeculation_mm)) - _step(
            d_rv - trab_inner
        )
        echo = (
            0.50
            + (0.05 - 0.50) * (s[0] - s[1])  # right-ventricular cavity
            + (0.85 - 0.50) * (s[1] - s[2])  # interventricular septum
            + (0.04 - 0.50) * (s[2] - s[3])  # left-ventricular cavity
            + (0.80 - 0.50) * (s[3] - s[4])  # posterior wall
            + (0.35 - 0.50) * s[4]  # pericardium and beyond
            + (0.70 - 0.05) * trabeculation * (anatomy.trabeculation_mm > 0)
        )
        frames[t] = echo

    # cavity clutter from poor windows, then multiplicative speckle and the vendor's PSF
    frames += _QUALITY_CLUTTER[anatomy.quality] * (frames < 0.1)
    speckle = rng.gamma(profile.speckle_shape, 1.0 / profile.speckle_shape, frames.shape)
    grain = profile.speckle_size_mm / dx / 2.0
    speckle = ndimage.gaussian_filter(speckle, sigma=(0, grain, grain))
    speckle = 1.0 + (speckle - speckle.mean()) * (1.0 / max(speckle.std(), 1e-6)) * 0.35
    image = frames * np.clip(speckle, 0.05, None)
    image = ndimage.gaussian_filter(
        image, sigma=(0, profile.blur_axial_mm / dx / 2.355, profile.blur_lateral_mm / dx / 2.355)
    )
    image += rng.normal(0.0, _QUALITY_NOISE[anatomy.quality], image.shape)
    image = np.clip(image * profile.gain, 0.0, 1.0) ** 0.8

    # the ultrasound sector: apex 10 mm above the image, 40 degrees half-angle
    angle = np.abs(np.arctan2(xx, yy + 10.0))
    image *= angle <= np.deg2rad(40.0)
    return np.round(image * 255.0).astype(np.uint8)
