"""Train the demo model, reproducibly, on the development cohort only.

``mval demo train-model`` runs this. The development cohort comes from the development sites
(:data:`validation.demo.profiles.DEVELOPMENT_SITES`) and vendors; no test-site study is ever made
here, so the prospective test data stay independent.

The default settings reproduce the released version 1.0.0 (GE, Philips, Siemens). A later version
(the demo's candidate 1.1.0 adds the development sites' Canon studies) records in its model card a
``change`` block: what changed against the released version, that version's weights sha256 and why.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from validation import __version__
from validation.demo import MODEL_NAME
from validation.demo.generate import development_studies
from validation.demo.imaging import septal_thickness_by_frame
from validation.demo.net import IVSdModel
from validation.demo.population import read_reference
from validation.demo.profiles import (
    DEVELOPMENT_SITES,
    DEVELOPMENT_VENDORS,
    LVH_THRESHOLD_MM,
    VENDORS,
    WEAK_VENDOR,
)
from validation.exceptions import ConfigError
from validation.model.card import CARD_NAME, read_card, weights_record, write_card
from validation.model.preprocess import Preprocessing, _crop_or_pad

log = logging.getLogger(__name__)

#: The released (locked) version of the demo model, which the default settings reproduce.
RELEASED_VERSION = "1.0.0"


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that determines the trained weights."""

    n_studies: int = 3000
    seed: int = 20240611
    epochs: int = 14
    batch_size: int = 128
    learning_rate: float = 2e-3
    holdout_fraction: float = 0.15
    vendors: tuple[str, ...] = DEVELOPMENT_VENDORS


def _cohort(settings: TrainingSettings, prep: Preprocessing):
    """Preprocessed frames (uint8), per-frame thickness, ED truth and the readers' consensus."""
    frames, thickness, ivsd, consensus = [], [], [], []
    for study in development_studies(
        settings.n_studies, seed=settings.seed, vendors=settings.vendors
    ):
        frames.append(_training_frames(study.frames, study.record.vendor.spacing_mm, prep))
        thickness.append(
            septal_thickness_by_frame(study.anatomy, study.frames.shape[0])[: prep.frames]
        )
        ivsd.append(study.anatomy.ivsd_mm)
        rng = np.random.default_rng([settings.seed, 99, len(ivsd)])
        consensus.append(read_reference(study.anatomy.ivsd_mm, rng)["consensus_ivsd_mm"])
    return (
        torch.stack(frames),
        torch.tensor(np.array(thickness), dtype=torch.float32),
        np.array(ivsd),
        np.array(consensus),
    )


def _training_frames(frames: np.ndarray, spacing_mm: float, prep: Preprocessing) -> torch.Tensor:
    """One loop resampled as for the released version's training, quantized to uint8.

    The resampling of :func:`~validation.model.preprocess.preprocess_frames`, in the order 1.0.0
    was trained with: scaled to [0, 1] *before* resampling. Since inference learnt to scale after
    resampling (commit 6f60a69, faster on batches), the two orders differ by float rounding only
    (about 3 pixels in 10,000 move by one grey level once quantized), but that moved the trained
    weights: kept here, the default settings reproduce 1.0.0's tensors (``state_sha256``).
    """
    index = np.arange(prep.frames) % frames.shape[0]
    x = torch.from_numpy(np.ascontiguousarray(frames[index])).to(torch.float32).div_(255.0)
    rows = max(1, round(frames.shape[1] * spacing_mm / prep.target_spacing_mm))
    cols = max(1, round(frames.shape[2] * spacing_mm / prep.target_spacing_mm))
    x = F.interpolate(
        x[:, None], size=(rows, cols), mode="bilinear", antialias=True, align_corners=False
    )[:, 0]
    return (_crop_or_pad(x, prep.size) * 255.0).round().to(torch.uint8)


def train(
    out_dir: str | Path,
    settings: TrainingSettings | None = None,
    *,
    version: str = RELEASED_VERSION,
    previous_dir: str | Path | None = None,
) -> dict:
    """Train, calibrate, script and save the demo model with its model card; return the card.

    Parameters
    ----------
    out_dir : path
        Folder for ``model.pt`` and ``model-card.yaml``. A card already there must be of
        ``version``: another version's folder is never overwritten.
    settings : TrainingSettings, optional
        Everything that determines the weights; the default reproduces the released version.
    version : str
        The version recorded in the card. Any version other than :data:`RELEASED_VERSION` gets a
        ``change`` block against the released version.
    previous_dir : path, optional
        The released version's folder, whose card gives the previous weights sha256 and vendors;
        default ``<out_dir>/../1.0.0``. If it has no card, the sha256 is recorded as null.
    """
    settings = settings or TrainingSettings()
    out_dir = Path(out_dir)
    _check_vendors(settings.vendors)
    _check_out_dir(out_dir, version)
    change = None
    if version != RELEASED_VERSION:
        previous = Path(previous_dir) if previous_dir else out_dir.parent / RELEASED_VERSION
        change = _change(settings, previous)
    prep = Preprocessing()
    torch.manual_seed(settings.seed)
    torch.use_deterministic_algorithms(True)
    frames, thickness, ivsd, consensus = _cohort(settings, prep)
    n = len(ivsd)
    order = np.random.default_rng(settings.seed).permutation(n)
    n_hold = int(n * settings.holdout_fraction)
    hold, fit = order[:n_hold], order[n_hold:]

    model = IVSdModel()
    encoder = model.encoder
    optimiser = torch.optim.AdamW(
        encoder.parameters(), lr=settings.learning_rate, weight_decay=1e-4
    )
    x_fit = frames[fit].reshape(-1, 1, prep.size, prep.size)
    y_fit = thickness[fit].reshape(-1)
    steps = settings.epochs * ((len(y_fit) + settings.batch_size - 1) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, settings.learning_rate, total_steps=steps
    )
    generator = torch.Generator().manual_seed(settings.seed)
    loss_fn = nn.SmoothL1Loss()
    for epoch in range(settings.epochs):
        encoder.train()
        permutation = torch.randperm(len(y_fit), generator=generator)
        total = 0.0
        for start in range(0, len(y_fit), settings.batch_size):
            idx = permutation[start : start + settings.batch_size]
            x = x_fit[idx].to(torch.float32).div_(255.0)
            x = _augment(x, generator)
            loss = loss_fn(encoder(x), y_fit[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        log.info("epoch %d/%d: loss %.4f", epoch + 1, settings.epochs, total / len(y_fit))

    model.eval()
    raw_hold = _predict_raw(model, frames[hold])
    slope, intercept = np.polyfit(raw_hold, ivsd[hold], 1)
    model.calibration.copy_(torch.tensor([slope, intercept], dtype=torch.float32))
    calibrated = slope * raw_hold + intercept
    midpoint, scale = _fit_logistic(calibrated, (consensus[hold] >= LVH_THRESHOLD_MM).astype(int))
    model.logistic.copy_(torch.tensor([midpoint, scale], dtype=torch.float32))
    mae = float(np.mean(np.abs(calibrated - ivsd[hold])))
    log.info("hold-out MAE against the true IVSd: %.3f mm", mae)

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "model.pt"
    torch.jit.save(torch.jit.script(model), str(weights))
    card = _card(settings, prep, weights, model, n - n_hold, n_hold, mae, version, change)
    write_card(out_dir, card)
    return card


def _check_vendors(vendors: tuple[str, ...]) -> None:
    """Every training vendor must be known and held by a development site, never dropped."""
    if not vendors:
        raise ConfigError("the demo model needs at least one training vendor, got none")
    unknown = [v for v in vendors if v not in VENDORS]
    if unknown:
        raise ConfigError(f"unknown demo vendor(s) {unknown}; known: {sorted(VENDORS)}")
    held = {v for site in DEVELOPMENT_SITES for v in site.vendors}
    missing = [v for v in vendors if v not in held]
    if missing:
        raise ConfigError(
            f"no development site has {missing} studies; development sites hold {sorted(held)}"
        )


def _check_out_dir(out_dir: Path, version: str) -> None:
    if (out_dir / CARD_NAME).exists():
        existing = read_card(out_dir).version
        if existing != version:
            raise ConfigError(
                f"{out_dir} holds version {existing}; a {version} model is not written there"
            )


def _change(settings: TrainingSettings, previous_dir: Path) -> dict:
    """What changed against the released version, that version's weights and why."""
    previous: dict = {"version": RELEASED_VERSION, "weights_sha256": None, "state_sha256": None}
    previous_vendors: list[str] = list(DEVELOPMENT_VENDORS)
    if (previous_dir / CARD_NAME).exists():
        card = read_card(previous_dir)
        previous = {
            "version": card.version,
            "weights_sha256": card.sha256,
            "state_sha256": card.fields["weights"].get("state_sha256"),
        }
        previous_vendors = list(card.fields["training_data"].get("vendors", previous_vendors))
    else:
        log.warning(
            "no model card in %s: the previous weights sha256 is recorded as null", previous_dir
        )
    added = [v for v in settings.vendors if v not in previous_vendors]
    removed = [v for v in previous_vendors if v not in settings.vendors]
    if added:
        scanners = ", ".join(f"{v} {' / '.join(VENDORS[v].models)}" for v in added)
        what = f"development cohort extended with {scanners} studies from the development sites"
    else:
        what = "retrained on the development cohort with changed training settings"
    if WEAK_VENDOR in added:
        why = (
            f"the released version {previous['version']} over-reads IVSd on {WEAK_VENDOR}: its "
            f"development cohort had no {WEAK_VENDOR} images, whose high-gain blooming widens "
            "the septal band"
        )
    elif added:
        why = (
            f"the released version {previous['version']} was not trained on "
            f"{', '.join(added)} images"
        )
    else:
        why = "not stated: no development vendor was added"
    return {
        "previous_version": previous["version"],
        "previous_weights_sha256": previous["weights_sha256"],
        "previous_state_sha256": previous["state_sha256"],
        "description": what,
        "vendors_added": added,
        "vendors_removed": removed,
        "rationale": why,
    }


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Left-right flips and gain/gamma changes: geometry is untouched, so labels hold."""
    flip = torch.rand(x.shape[0], generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    gain = 0.8 + 0.4 * torch.rand(x.shape[0], 1, 1, 1, generator=generator)
    gamma = 0.8 + 0.4 * torch.rand(x.shape[0], 1, 1, 1, generator=generator)
    return (x * gain).clamp(0.0, 1.0).pow(gamma)


@torch.inference_mode()
def _predict_raw(model: IVSdModel, frames: torch.Tensor) -> np.ndarray:
    out = []
    for start in range(0, len(frames), 64):
        x = frames[start : start + 64].to(torch.float32).div_(255.0)
        b, t, h, w = x.shape
        per_frame = model.encoder(x.reshape(b * t, 1, h, w)).reshape(b, t)
        out.append(per_frame.min(dim=1).values.numpy())
    return np.concatenate(out)


def _fit_logistic(ivsd: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood logistic fit of the LVH label on IVSd; returns (midpoint, scale)."""
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=1e6).fit(ivsd[:, None], label)
    a, b = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    return -b / a, 1.0 / a


def _card(settings, prep, weights, model, n_fit, n_hold, mae, version, change) -> dict:
    card = {
        "name": MODEL_NAME,
        "version": version,
        "description": "Demo CNN that measures the interventricular septal thickness at "
        "end-diastole (IVSd) on parasternal long-axis echocardiography cine loops and gives the "
        "probability of left-ventricular hypertrophy. Synthetic demonstration model: not a "
        "medical device.",
        "weights": weights_record(weights, model),
        "preprocessing": prep.to_dict(),
        "inputs": {
            "modality": "US",
            "sop_class": "1.2.840.10008.5.1.4.1.1.3.1 (Ultrasound Multi-frame Image)",
            "view": "parasternal long axis, 2D cine",
            "required_attributes": ["SequenceOfUltrasoundRegions.PhysicalDeltaX/Y"],
            # the input tensor contract; frames, size and spacing are the preprocessing block's
            "channels": 1,
            "scaling": "unit",
            "crop": "top_centre",
            # the reading rules (validation.ingest.rules): trained on grey loops of this length
            "colour": "luminance",
            "min_frames": prep.frames,
            "min_region_mm": [prep.size * prep.target_spacing_mm] * 2,  # the field it sees
            "regions": "single",
        },
        "outputs": [  # in the order of IVSdModel.forward's return tuple
            {
                "name": "ivsd_mm",
                "role": "measurement",
                "unit": "mm",
                "shape": ["batch"],
                "description": "IVSd at end-diastole in mm (minimum septal thickness over the "
                "loop)",
            },
            {
                "name": "lvh_probability",
                "role": "probability",
                "shape": ["batch"],
                "description": f"probability that IVSd is {LVH_THRESHOLD_MM:g} mm or more "
                "(left-ventricular hypertrophy)",
            },
        ],
        "intended_use": "Measurement of IVSd and flagging of left-ventricular hypertrophy on "
        "adult transthoracic echocardiograms, to assist a qualified reader who confirms every "
        "measurement.",
        "training_data": {
            "cohort": "development (synthetic)",
            "sites": [
                site.id
                for site in DEVELOPMENT_SITES
                if any(v in settings.vendors for v in site.vendors)
            ],
            "vendors": list(settings.vendors),
            "studies_fit": n_fit,
            "studies_holdout": n_hold,
            "seed": settings.seed,
            "independence": "development sites and patients are disjoint from every test site",
        },
        "performance": {"holdout_mae_mm_vs_truth": round(mae, 3)},
        "limitations": [
            "Not trained on images from vendors outside the training vendors list.",
            "Single parasternal long-axis view; no view classification.",
        ],
        "training": {
            "epochs": settings.epochs,
            "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate,
            "torch": str(torch.__version__),
            "mval": __version__,
            "trained_on": dt.date.today().isoformat(),
        },
    }
    if change is not None:
        card["change"] = change
    return card
