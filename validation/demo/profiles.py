"""Vendor acquisition profiles and the study population of the synthetic demo.

Each vendor has its own scanner models, software versions, pixel spacing, speckle, gain and
resolution. One scanner, Canon's Aplio i900, carries the planted image-quality effect: high-gain
*blooming* widens the bright septal band by about 1.6 mm, and the development cohort that trained
the released demo model (1.0.0) has no Canon images, so that model overestimates IVSd on that
vendor. The development sites also hold Canon studies, from which the candidate version (1.1.0)
learns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from validation.exceptions import ConfigError


@dataclass(frozen=True)
class VendorProfile:
    """How one ultrasound vendor's cine loops look in the demo."""

    key: str
    manufacturer: str
    models: tuple[str, ...]
    software_versions: tuple[str, ...]
    spacing_mm: float  # physical size of a pixel (square pixels)
    rows: int
    columns: int
    n_frames: int
    frame_time_ms: float
    speckle_shape: float  # gamma shape of the multiplicative speckle: smaller is grainier
    speckle_size_mm: float
    blur_axial_mm: float  # point-spread function, along the beam
    blur_lateral_mm: float
    gain: float
    bloom_mm: float = 0.0  # planted: extra apparent wall thickness from high-gain blooming


def _profiles(**columns: tuple[Any, ...]) -> dict[str, VendorProfile]:
    """The profiles from a table given by column (one value per vendor, in the same order)."""
    rows = zip(*columns.values(), strict=True)
    return {row[0]: VendorProfile(**dict(zip(columns, row, strict=True))) for row in rows}


#: The vendors' profiles, one column per attribute: compare the vendors along a line.
VENDORS: dict[str, VendorProfile] = _profiles(
    key=("GE", "Philips", "Siemens", "Canon"),
    manufacturer=("GE Healthcare", "Philips", "Siemens Healthineers", "Canon Medical Systems"),
    models=(
        ("Vivid E95", "Vivid S70N"),
        ("EPIQ CVx", "Affiniti 70"),
        ("ACUSON SC2000", "ACUSON Sequoia"),
        ("Aplio i900",),
    ),
    software_versions=(
        ("EchoPAC 204", "EchoPAC 206"),
        ("9.0.3", "10.0.1"),
        ("VB10A", "VA30B"),
        ("V7.0", "V7.2"),
    ),
    spacing_mm=(0.42, 0.36, 0.48, 0.40),
    rows=(152, 176, 136, 160),
    columns=(152, 176, 136, 160),
    n_frames=(8, 8, 8, 8),
    frame_time_ms=(33.3, 25.0, 40.0, 30.0),
    speckle_shape=(2.2, 2.8, 1.8, 2.0),
    speckle_size_mm=(0.7, 0.6, 0.9, 0.8),
    blur_axial_mm=(0.45, 0.40, 0.55, 0.60),
    blur_lateral_mm=(0.8, 0.7, 1.0, 1.1),
    gain=(1.00, 0.92, 1.08, 1.25),
    bloom_mm=(0.0, 0.0, 0.0, 1.6),
)

#: The scanner that carries the planted image-quality effect.
WEAK_VENDOR = "Canon"

#: Vendors of the released demo model's (1.0.0) development cohort: the default training vendors.
DEVELOPMENT_VENDORS: tuple[str, ...] = ("GE", "Philips", "Siemens")


@dataclass(frozen=True)
class DevelopmentSite:
    """A development site: its data train the demo model and never enter the test cohort."""

    id: str
    name: str
    vendors: tuple[str, ...]


#: Each site's vendors, in the order that development_studies deals studies to them. Canon comes
#: last at both sites, so leaving it out (the 1.0.0 vendors) deals exactly the 1.0.0 cohort.
DEVELOPMENT_SITES: tuple[DevelopmentSite, ...] = (
    DevelopmentSite(
        "d01", "Development site D01 (academic centre)", ("GE", "Philips", "Siemens", "Canon")
    ),
    DevelopmentSite("d02", "Development site D02 (community hospital)", ("GE", "Philips", "Canon")),
)

#: LVH reference definition of the demo: consensus IVSd at end-diastole of at least 11 mm.
LVH_THRESHOLD_MM = 11.0

#: When the test cohort's studies were acquired (the prospective validation period); the
#: post-market months follow it.
TEST_PERIOD = (dt.date(2026, 1, 5), dt.date(2026, 6, 26))


def profile_of(vendor: str) -> VendorProfile:
    """The acquisition profile of a vendor key."""
    try:
        return VENDORS[vendor]
    except KeyError:
        raise ConfigError(f"unknown demo vendor {vendor!r}; known: {sorted(VENDORS)}") from None
