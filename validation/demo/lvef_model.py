"""lvef-net: a tiny, analytically designed torch model of the LVEF example.

The model reads an apical four-chamber cine loop (batch, 16, 112, 112) in [0, 1] at 1.25 mm per
pixel, as :func:`validation.model.preprocess.preprocess_batch` makes it (resampled to the
spacing, the top 112 rows and central 112 columns). Its weights are fixed, not learnt:

1. each frame is smoothed with a Gaussian (sigma 1.5 pixels, as a matrix product: rows and
   columns), which averages the speckle out;
2. the blood pool is what is darker than a fraction of the loop's mean brightness inside a
   region of interest (a wedge under the sector's apex, where the LV lies): a sigmoid of the
   distance to that threshold gives a soft cavity mask, so gain and contrast cancel out;
3. the cavity's area in each frame is the sum of the soft mask; with the volume proxy
   ``V ~ A^(3/2)`` (a cavity that keeps its shape, :mod:`validation.demo.lvef`) the raw EF is
   ``100 (1 - (min A / max A)^(3/2))``;
4. a linear calibration (slope, intercept), the only fitted numbers, is fitted by least squares
   of the true EF on the raw EF over a development cohort of the generator (its own seed and
   site, disjoint from the test sites), then clamped to [0, 100] %;
5. the probability of a reduced EF is ``sigmoid((40 - EF) / 3)``.

It returns ``(ef_percent, reduced_ef_probability)``, each of shape (batch,), the order of the
card's ``outputs`` list. ``python -m validation.demo.lvef_model models/lvef-net/1.0.0`` writes
the TorchScript weights and the model card.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from validation import __version__
from validation.demo.lvef import (
    REDUCED_EF_PERCENT,
    VENDORS,
    LvefSite,
    synthesize_lvef_study,
)
from validation.exceptions import ConfigError
from validation.model.card import CARD_NAME, Preprocessing, weights_record
from validation.model.preprocess import preprocess_batch

NAME = "lvef-net"
VERSION = "1.0.0"
PREPROCESSING = Preprocessing(target_spacing_mm=1.25, size=112, frames=16)
#: The development cohort that fits the calibration: its own site, never a test site.
DEVELOPMENT_SITE = LvefSite("d21", "LVEF development site D21", ("GE", "Philips"), ("",) * 5)
DEVELOPMENT_SEED = 20261201
DEVELOPMENT_STUDIES = 96
#: Region of interest: a wedge from 10 mm above the image (the sector's apex), 35 degrees
#: half-angle, 10 to 124 mm deep and at most 60 mm either side of the axis.
ROI = {"apex_mm": 10.0, "half_angle_deg": 35.0, "depth_mm": (10.0, 124.0), "half_width_mm": 60.0}


class LvefNet(nn.Module):
    """(batch, frames, size, size) in [0, 1] -> (EF in %, probability of EF below 40 %)."""

    def __init__(self, settings: Preprocessing = PREPROCESSING, smoothing_px: float = 1.5) -> None:
        super().__init__()
        # separable Gaussian smoothing as a (size, size) matrix: rows S @ frame @ S^T; each row
        # sums to 1 (near the border, the mean of the pixels there), 3 sigma wide
        index = torch.arange(settings.size, dtype=torch.float64)
        distance = index[:, None] - index[None, :]
        weight = torch.exp(-0.5 * (distance / smoothing_px) ** 2)
        weight = weight * (distance.abs() <= math.ceil(3 * smoothing_px))
        self.register_buffer("smoothing", (weight / weight.sum(1, keepdim=True)).float())
        self.register_buffer("roi", _roi(settings.size, settings.target_spacing_mm))
        self.register_buffer("threshold", torch.tensor([0.6, 0.08]))  # fraction, softness
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))  # slope, intercept
        self.register_buffer("logistic", torch.tensor([REDUCED_EF_PERCENT, 3.0]))  # EF %, scale

    def cavity_areas(self, frames: torch.Tensor) -> torch.Tensor:
        """The blood pool's soft area in each frame (batch, frames), in pixels."""
        n_frames = frames.shape[1]
        smooth = self.smoothing @ frames @ self.smoothing.T
        level = (smooth * self.roi).sum(dim=(1, 2, 3)) / (self.roi.sum() * n_frames)
        level = level.clamp_min(1e-3)[:, None, None, None]
        dark = torch.sigmoid((self.threshold[0] * level - smooth) / (self.threshold[1] * level))
        return (dark * self.roi).sum(dim=(2, 3))

    def raw_ef(self, frames: torch.Tensor) -> torch.Tensor:
        """Uncalibrated EF (%) from the smallest and largest cavity area (area^1.5 proxy)."""
        areas = self.cavity_areas(frames)
        ratio = areas.min(dim=1).values / areas.max(dim=1).values.clamp_min(1e-6)
        return 100.0 * (1.0 - ratio.clamp(0.0, 1.0) ** 1.5)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ef = self.calibration[0] * self.raw_ef(frames) + self.calibration[1]
        ef = ef.clamp(0.0, 100.0)
        probability = torch.sigmoid((self.logistic[0] - ef) / self.logistic[1])
        return ef, probability


def _roi(size: int, spacing_mm: float) -> torch.Tensor:
    """The region of interest (size, size) as 0/1, in the top_centre crop's coordinates."""
    centre = (torch.arange(size, dtype=torch.float64) + 0.5) * spacing_mm
    depth = centre[:, None]
    lateral = (centre - size * spacing_mm / 2.0)[None, :]
    low, high = ROI["depth_mm"]
    wedge = lateral.abs() <= math.tan(math.radians(ROI["half_angle_deg"])) * (
        depth + ROI["apex_mm"]
    )
    inside = wedge & (depth >= low) & (depth <= high) & (lateral.abs() <= ROI["half_width_mm"])
    return inside.to(torch.float32)


def development_cohort(
    n_studies: int = DEVELOPMENT_STUDIES, *, seed: int = DEVELOPMENT_SEED
) -> tuple[torch.Tensor, np.ndarray]:
    """The development loops preprocessed as inference does them, and their true EF (%)."""
    loops, truth = [], []
    vendors = DEVELOPMENT_SITE.vendors
    for index in range(n_studies):
        vendor = vendors[index % len(vendors)]
        study = synthesize_lvef_study(seed, "development", 0, DEVELOPMENT_SITE, vendor, index)
        spacing = VENDORS[vendor].spacing_mm
        loops.append((study.frames, (spacing, spacing)))
        truth.append(study.ventricle.ef_percent)
    return preprocess_batch(loops, PREPROCESSING), np.array(truth)


def calibrate(model: LvefNet, frames: torch.Tensor, truth: np.ndarray) -> dict[str, float]:
    """Fit the calibration (least squares of the true EF on the raw EF); return the fit."""
    with torch.inference_mode():
        raw = model.raw_ef(frames).double().numpy()
    slope, intercept = np.polyfit(raw, truth, 1)
    model.calibration.copy_(torch.tensor([slope, intercept], dtype=torch.float32))
    with torch.inference_mode():
        ef = model(frames)[0].double().numpy()
    return {
        "slope": float(slope),
        "intercept": float(intercept),
        "mae_pct_vs_truth": float(np.mean(np.abs(ef - truth))),
    }


def write_lvef_model(model_dir: Path) -> dict:
    """Build and calibrate lvef-net, save it as TorchScript and write its model card.

    Parameters
    ----------
    model_dir : Path
        The version's folder (``models/lvef-net/1.0.0``): ``model.pt`` and ``model-card.yaml``
        are written there. A folder holding another model's card is refused.

    Returns
    -------
    dict
        The model card (``weights.sha256`` the file's sha256, ``weights.state_sha256`` the
        tensors' digest, :func:`validation.model.card.state_digest`).

    Raises
    ------
    ConfigError
        When ``model_dir`` holds a card of another model or version.
    """
    model_dir = Path(model_dir)
    card_path = model_dir / CARD_NAME
    if card_path.is_file():
        existing = yaml.safe_load(card_path.read_text()) or {}
        if (existing.get("name"), str(existing.get("version"))) != (NAME, VERSION):
            raise ConfigError(
                f"{model_dir} holds the card of {existing.get('name')} "
                f"{existing.get('version')}; {NAME} {VERSION} is not written there"
            )
    model = LvefNet().eval()
    frames, truth = development_cohort()
    fit = calibrate(model, frames, truth)
    model_dir.mkdir(parents=True, exist_ok=True)
    weights = model_dir / "model.pt"
    torch.jit.save(torch.jit.script(model), str(weights))
    card = _card(model, weights, fit)
    card_path.write_text(
        "# Model card (FDA AI-enabled device software functions draft guidance, Appendix E).\n"
        + yaml.safe_dump(card, sort_keys=False, allow_unicode=True, width=100)
    )
    return card


def _card(model: LvefNet, weights: Path, fit: dict[str, float]) -> dict:
    prep = PREPROCESSING
    return {
        "name": NAME,
        "version": VERSION,
        "description": "Demo model that measures the left-ventricular ejection fraction (LVEF) "
        "on apical four-chamber echocardiography cine loops from the blood pool's area over "
        "the beat, and gives the probability of a reduced EF (below 40 %). Fixed weights and a "
        "linear calibration: synthetic demonstration model, not a medical device.",
        "weights": weights_record(weights, model),
        "preprocessing": prep.to_dict(),
        "inputs": {
            "modality": "US",
            "sop_class": "1.2.840.10008.5.1.4.1.1.3.1 (Ultrasound Multi-frame Image)",
            "view": "apical four-chamber, 2D cine over one heart beat",
            "required_attributes": ["SequenceOfUltrasoundRegions.PhysicalDeltaX/Y"],
            "channels": 1,
            "scaling": "unit",
            "crop": "top_centre",
            "colour": "luminance",
            "min_frames": prep.frames,
            # the region of interest must lie in the image: no zero padding enters it
            "min_region_mm": [128.0, 128.0],
            "regions": "single",
        },
        "outputs": [
            {
                "name": "ef_percent",
                "role": "measurement",
                "unit": "%",
                "shape": ["batch"],
                "description": "left-ventricular ejection fraction in %, from the blood "
                "pool's largest and smallest area over the loop",
            },
            {
                "name": "reduced_ef_probability",
                "role": "probability",
                "shape": ["batch"],
                "description": f"probability that the LVEF is below {REDUCED_EF_PERCENT:g} % "
                "(reduced ejection fraction)",
            },
        ],
        "intended_use": "Measurement of LVEF and flagging of a reduced EF on adult transthoracic "
        "apical four-chamber echocardiograms, to assist a qualified reader who confirms every "
        "measurement.",
        "architecture": {
            "smoothing": "fixed separable Gaussian, sigma 1.5 pixels (a matrix product on rows "
            "and columns)",
            "cavity": "soft threshold at 0.6 x the loop's mean brightness in a wedge-shaped "
            "region of interest (35 degrees, 10-124 mm deep)",
            "ef": "100 (1 - (min area / max area)^1.5), linear calibration, clamped to [0, 100]",
            "probability": f"sigmoid(({REDUCED_EF_PERCENT:g} - EF) / 3)",
        },
        "training_data": {
            "cohort": "development (synthetic): calibration only",
            "sites": [DEVELOPMENT_SITE.id],
            "vendors": list(DEVELOPMENT_SITE.vendors),
            "studies_fit": DEVELOPMENT_STUDIES,
            "seed": DEVELOPMENT_SEED,
            "independence": "the development site and its patients are disjoint from the test "
            "sites h01 and h02",
        },
        "performance": {
            "calibration_slope": round(fit["slope"], 4),
            "calibration_intercept": round(fit["intercept"], 4),
            "development_mae_pct_vs_truth": round(fit["mae_pct_vs_truth"], 3),
        },
        "limitations": [
            "Only the left ventricle is segmented: other dark structures inside the region of "
            "interest (right heart, atria, shadowing) are counted as blood pool.",
            "Assumes the cavity keeps its shape over the beat (area^1.5 volume proxy); "
            "foreshortened or regionally akinetic ventricles are mismeasured.",
            "Calibrated on GE and Philips synthetic loops only.",
        ],
        "training": {
            "method": "analytic weights; least-squares calibration",
            "torch": str(torch.__version__),
            "mval": __version__,
            "trained_on": dt.date.today().isoformat(),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m validation.demo.lvef_model models/lvef-net/1.0.0``."""
    parser = argparse.ArgumentParser(
        prog="python -m validation.demo.lvef_model", description=__doc__.splitlines()[0]
    )
    parser.add_argument("model_dir", type=Path, help="the version's folder")
    args = parser.parse_args(argv)
    try:
        card = write_lvef_model(args.model_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(
        f"{card['name']} {card['version']}: {args.model_dir / card['weights']['file']} "
        f"sha256 {card['weights']['sha256']}; development MAE "
        f"{card['performance']['development_mae_pct_vs_truth']} EF points"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
