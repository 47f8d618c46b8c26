"""Synthetic baselines and production histories, without DICOM, for the surveillance engine.

The engine (:func:`validation.surveillance.run.evaluate`) takes tables; these functions make
such tables from a simple generative model, fast enough for a million predictions. They serve
the tests (planted shifts must be found, in-control histories must keep the stated
false-alarm rate), the benchmark, and anyone who wants to see how the settings behave on
their own segment sizes before relying on them.

Model, per segment (site x vendor): the true IVSd ~ N(mu_s, 2 mm); the model reads it with a
bias of 0.3 mm and an error SD of 0.6 mm (plus a planted shift, if any); the LVH probability is
logistic in the reading (1/2 at 11 mm); the reference reading is the truth plus 0.4 mm reader
noise, LVH when it is 11 mm or more. Age ~ N(60, 12) (whole years), BMI ~ N(28, 4.5), sex 50/50;
pixel spacing, frames, software versions and scanner models are the vendor's; a share of the
files is excluded at ingest as truncated. An audited share of each month's studies gets a label
1, 2 or 3 months later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from validation.surveillance.baseline import baseline_record
from validation.surveillance.batch import BATCH_COLUMNS
from validation.surveillance.signals import month_range

VENDORS = {
    "GE": (("EchoPAC 204", "EchoPAC 206"), ("Vivid E95", "Vivid S70N"), "0.4200x0.4200"),
    "Philips": (("9.0.3", "10.0.1"), ("EPIQ CVx", "Affiniti 70"), "0.3600x0.3600"),
    "Siemens": (("VB10A", "VA30B"), ("ACUSON SC2000", "ACUSON Sequoia"), "0.4800x0.4800"),
    "Canon": (("V7.0", "V7.2"), ("Aplio i900",), "0.4000x0.4000"),
}
TRUE_SD_MM = 2.0
MODEL_BIAS_MM = 0.3
MODEL_SD_MM = 0.6
READER_SD_MM = 0.4
LVH_MM = 11.0
LAG_PROBABILITIES = {1: 0.45, 2: 0.35, 3: 0.20}
#: The protocol block of a synthetic baseline: the demo protocol's threshold and goals.
PROTOCOL = {
    "id": "synthetic",
    "version": "1",
    "path": "",
    "sha256": "",
    "threshold": 0.5,
    "outputs": {
        "measurement": {"name": "ivsd", "label": "IVSd", "unit": "mm", "precision": 1},
        "finding": {"name": "lvh", "label": "LVH", "threshold": 0.5},
    },
    "confidence": 0.95,
    "loa_multiplier": 1.96,
    "goals": [
        {"id": "ivsd-bias", "metric": "bias", "goal": {"lower": -1.0, "upper": 1.0}, "label": ""},
        {"id": "ivsd-loa-lower", "metric": "loa_low", "goal": {"lower": -3.0}, "label": ""},
        {"id": "ivsd-loa-upper", "metric": "loa_high", "goal": {"upper": 3.0}, "label": ""},
        {"id": "lvh-sensitivity", "metric": "sensitivity", "goal": {"lower": 0.75}, "label": ""},
        {"id": "lvh-specificity", "metric": "specificity", "goal": {"lower": 0.80}, "label": ""},
    ],
}
MODEL_SHA256 = "0" * 64


@dataclass(frozen=True)
class Shift:
    """From ``month`` on, ``site`` x ``vendor`` reads ``delta_mm`` higher; optionally its
    headers carry a new ``software_version``."""

    site: str
    vendor: str
    month: str
    delta_mm: float
    software_version: str | None = None


def segment_means(segments: list[tuple[str, str]], seed: int) -> dict[tuple[str, str], float]:
    """True mean IVSd of each segment (9 to 11 mm), deterministic from the seed."""
    rng = np.random.default_rng([seed, 1])
    return {key: float(rng.uniform(9.0, 11.0)) for key in segments}


def _studies(
    rng: np.random.Generator,
    sites: np.ndarray,
    vendors: np.ndarray,
    means: np.ndarray,
    shift_mm: np.ndarray,
) -> dict[str, np.ndarray]:
    """One synthetic study per element of the (equal-length) arrays."""
    n = sites.shape[0]
    truth = rng.normal(means, TRUE_SD_MM)
    reading = truth + MODEL_BIAS_MM + rng.normal(0.0, MODEL_SD_MM, n) + shift_mm
    reference = np.round(truth + rng.normal(0.0, READER_SD_MM, n), 2)
    versions = np.empty(n, dtype=object)
    models = np.empty(n, dtype=object)
    spacing = np.empty(n, dtype=object)
    pick = rng.random(n)
    for vendor, (vendor_versions, vendor_models, vendor_spacing) in VENDORS.items():
        here = vendors == vendor
        if not here.any():
            continue
        versions[here] = np.asarray(vendor_versions, dtype=object)[
            (pick[here] * len(vendor_versions)).astype(int)
        ]
        models[here] = np.asarray(vendor_models, dtype=object)[
            (pick[here] * 7 % 1 * len(vendor_models)).astype(int)
        ]
        spacing[here] = vendor_spacing
    return {
        "site": sites,
        "vendor": vendors,
        "measurement": np.round(reading, 4),
        "probability": np.round(1.0 / (1.0 + np.exp(-2.0 * (reading - LVH_MM))), 6),
        "reference": reference,
        "lvh": (reference >= LVH_MM).astype(int),
        "age": np.clip(np.round(rng.normal(60.0, 12.0, n)), 18, 99).astype(int),
        "bmi": np.round(np.clip(rng.normal(28.0, 4.5, n), 15.0, 60.0), 1),
        "sex": np.where(rng.random(n) < 0.5, "F", "M"),
        "software_versions": versions,
        "scanner_model": models,
        "spacing_mm": spacing,
    }


def synthetic_validation(
    segments: list[tuple[str, str]],
    n_per_segment: int,
    *,
    seed: int,
    exclusion_rate: float = 0.03,
    means: dict[tuple[str, str], float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A validation study's analysed studies and ingest accounting (``analysed.csv`` and
    ``accounting.csv`` columns the baseline reads), ``n_per_segment`` files per segment."""
    means = means or segment_means(segments, seed)
    rng = np.random.default_rng([seed, 2])
    sites = np.repeat([s for s, _ in segments], n_per_segment)
    vendors = np.repeat([v for _, v in segments], n_per_segment)
    mean = np.repeat([means[key] for key in segments], n_per_segment)
    s = _studies(rng, sites, vendors, mean, np.zeros(sites.shape[0]))
    excluded = rng.random(sites.shape[0]) < exclusion_rate
    studies = pd.DataFrame(
        {k: s[k] for k in ("site", "vendor", "measurement", "probability", "age", "bmi", "sex")}
        | {"reference": s["reference"], "label": s["lvh"]}
    )[~excluded].reset_index(drop=True)
    accounting = pd.DataFrame(
        {
            "site": sites,
            "vendor": vendors,
            "status": np.where(excluded, "excluded", "included"),
            "software_versions": s["software_versions"],
            "scanner_model": s["scanner_model"],
            "spacing_mm": s["spacing_mm"],
            "frames": "8",
        }
    )
    return studies, accounting


def synthetic_baseline(
    segments: list[tuple[str, str]],
    n_per_segment: int,
    *,
    seed: int,
    exclusion_rate: float = 0.03,
    means: dict[tuple[str, str], float] | None = None,
) -> dict:
    """A baseline record of a synthetic validation study (:func:`synthetic_validation`)."""
    studies, accounting = synthetic_validation(
        segments, n_per_segment, seed=seed, exclusion_rate=exclusion_rate, means=means
    )
    return baseline_record(
        studies,
        accounting,
        protocol=PROTOCOL,
        model={"name": "synthetic", "version": "1", "sha256": MODEL_SHA256},
    )


def synthetic_history(
    segments: list[tuple[str, str]],
    months: list[str],
    per_month: int,
    *,
    seed: int,
    shift: Shift | None = None,
    exclusion_rate: float = 0.03,
    audit_fraction: float = 0.25,
    means: dict[tuple[str, str], float] | None = None,
    model_sha256: str = MODEL_SHA256,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Production batch rows (``batch.csv`` columns) and label rows of every month.

    Labels carry their arrival month (1-3 months after acquisition), possibly after the last
    month; :func:`~validation.surveillance.run.evaluate` keeps those arrived by ``as_of``.
    """
    means = means or segment_means(segments, seed)
    rng = np.random.default_rng([seed, 3])
    n_seg = len(segments)
    total = n_seg * len(months) * per_month
    month_of = np.repeat(np.asarray(months, dtype=object), n_seg * per_month)
    seg_index = np.tile(np.repeat(np.arange(n_seg), per_month), len(months))
    sites = np.asarray([s for s, _ in segments], dtype=object)[seg_index]
    vendors = np.asarray([v for _, v in segments], dtype=object)[seg_index]
    mean = np.asarray([means[key] for key in segments])[seg_index]
    shifted = np.zeros(total, dtype=bool)
    if shift is not None:
        shifted = (sites == shift.site) & (vendors == shift.vendor) & (month_of >= shift.month)
    s = _studies(rng, sites, vendors, mean, np.where(shifted, shift.delta_mm if shift else 0, 0))
    if shift is not None and shift.software_version is not None:
        s["software_versions"][shifted] = shift.software_version
    excluded = rng.random(total) < exclusion_rate
    ids = np.arange(total)
    sop = np.char.add(f"2.25.{seed}.1.", ids.astype(str)).astype(object)
    study_uid = np.char.add(f"2.25.{seed}.2.", ids.astype(str)).astype(object)
    batch = pd.DataFrame(
        {
            "month": month_of,
            "site": sites,
            "vendor": vendors,
            "status": np.where(excluded, "excluded", "predicted"),
            "reason": np.where(excluded, "truncated", ""),
            "sop_instance_uid": sop,
            "study_instance_uid": study_uid,
            "patient_id": np.char.add("P", ids.astype(str)).astype(object),
            "software_versions": s["software_versions"],
            "scanner_model": s["scanner_model"],
            "patient_age": s["age"].astype(str),
            "patient_sex": s["sex"],
            "patient_bmi": s["bmi"].astype(str),
            "measurement": np.where(excluded, "", s["measurement"].astype(str)),
            "probability": np.where(excluded, "", s["probability"].astype(str)),
            "model_sha256": np.where(excluded, "", model_sha256),
            "model_version": "",
            "spacing_mm": s["spacing_mm"],
            "frames": "8",
            "detail": "",
        },
        columns=BATCH_COLUMNS,
    )
    audited = ~excluded & (rng.random(total) < audit_fraction)
    lags = rng.choice(list(LAG_PROBABILITIES), p=list(LAG_PROBABILITIES.values()), size=total)
    start = months[0]
    later = month_range(start, _add_months(months[-1], max(LAG_PROBABILITIES)))
    position = {m: i for i, m in enumerate(later)}
    arrived = np.asarray(later, dtype=object)[
        np.fromiter((position[m] for m in month_of), dtype=int, count=total) + lags
    ]
    labels = pd.DataFrame(
        {
            "study_instance_uid": study_uid[audited],
            "site": sites[audited],
            "vendor": vendors[audited],
            "acquired": month_of[audited],
            "arrived": arrived[audited],
            "reference": s["reference"][audited].astype(str),
            "label": s["lvh"][audited].astype(str),
        }
    )
    return batch, labels


def _add_months(month: str, count: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + count
    return f"{index // 12}-{index % 12 + 1:02d}"
