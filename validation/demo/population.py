"""Patients, their true septal thickness, and the three expert readers of the demo."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validation.demo.profiles import LVH_THRESHOLD_MM

#: Each reader's systematic bias (mm) and random error SD (mm) when measuring IVSd with calipers.
READERS: tuple[tuple[str, float, float], ...] = (
    ("reader_1", 0.30, 1.20),
    ("reader_2", -0.25, 1.35),
    ("reader_3", 0.10, 1.10),
)
QUALITY_GRADES = ("good", "adequate", "poor")


@dataclass(frozen=True)
class Patient:
    """One patient's characteristics and true end-diastolic septal thickness."""

    age: int
    sex: str  # "M" or "F"
    height_m: float
    weight_kg: float
    ivsd_mm: float
    quality: str

    @property
    def bmi(self) -> float:
        return self.weight_kg / self.height_m**2


def sample_patient(rng: np.random.Generator, *, age_shift: float = 0.0) -> Patient:
    """Draw one adult referred for echocardiography.

    IVSd rises with age, male sex and BMI; about a third of patients have a hypertensive or
    hypertrophic septum (IVSd of 11 mm or more).
    """
    sex = "M" if rng.random() < 0.52 else "F"
    age = int(np.clip(rng.normal(60.0 + age_shift, 14.0), 18, 95))
    height = float(rng.normal(1.76 if sex == "M" else 1.63, 0.07))
    bmi = float(np.clip(rng.lognormal(np.log(27.0), 0.17), 16.0, 50.0))
    weight = bmi * height**2
    ivsd = (
        (9.2 if sex == "M" else 8.3)
        + 0.025 * (age - 60)
        + 0.07 * (bmi - 27.0)
        + rng.normal(0.0, 0.9)
    )
    if rng.random() < 0.28:
        ivsd += rng.uniform(1.5, 5.5)
    quality = str(rng.choice(QUALITY_GRADES, p=(0.55, 0.33, 0.12)))
    return Patient(
        age=age,
        sex=sex,
        height_m=round(height, 2),
        weight_kg=round(weight, 1),
        ivsd_mm=float(np.clip(ivsd, 5.5, 18.0)),
        quality=quality,
    )


def read_reference(ivsd_mm: float, rng: np.random.Generator) -> dict[str, float | int]:
    """Three blinded readers' measurements, their consensus (mean) and the LVH label."""
    readings = {
        name: round(float(ivsd_mm + bias + rng.normal(0.0, sd)), 1) for name, bias, sd in READERS
    }
    consensus = round(float(np.mean(list(readings.values()))), 2)
    return {
        **{f"{name}_ivsd_mm": value for name, value in readings.items()},
        "consensus_ivsd_mm": consensus,
        "lvh": int(consensus >= LVH_THRESHOLD_MM),
    }
