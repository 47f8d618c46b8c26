"""Reading what the toolkit needs from ultrasound DICOM objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

#: PhysicalUnits code for centimetres (DICOM PS3.3 C.8.5.5.1.15).
_CM = 3

#: The attributes of one ultrasound region that the spacing depends on.
REGION_KEYWORDS = (
    "RegionSpatialFormat",
    "RegionLocationMinX0",
    "RegionLocationMinY0",
    "RegionLocationMaxX1",
    "RegionLocationMaxY1",
    "PhysicalUnitsXDirection",
    "PhysicalUnitsYDirection",
    "PhysicalDeltaX",
    "PhysicalDeltaY",
)


class SpacingError(ValueError):
    """The object carries no usable physical pixel spacing."""


def spacing_from_regions(
    regions: Iterable[Mapping[str, float | int | None]],
) -> tuple[float, float]:
    """(row, column) pixel spacing in mm from the largest 2D region with deltas in cm.

    ``regions`` are the items of ``SequenceOfUltrasoundRegions`` (DICOM PS3.3 C.8.5.5) as
    mappings from the keywords of :data:`REGION_KEYWORDS` to values (None when absent).

    Raises
    ------
    SpacingError
        When no 2D region gives a positive spacing in cm.
    """
    best: tuple[int, tuple[float, float]] | None = None
    for region in regions:
        if int(region.get("RegionSpatialFormat") or 0) != 1:
            continue
        units = (region.get("PhysicalUnitsYDirection"), region.get("PhysicalUnitsXDirection"))
        deltas = (region.get("PhysicalDeltaY"), region.get("PhysicalDeltaX"))
        if units != (_CM, _CM) or None in deltas:
            continue
        dy, dx = (abs(float(d)) * 10.0 for d in deltas)
        if not (dy > 0 and dx > 0):
            continue
        width = int(region.get("RegionLocationMaxX1") or 0) - int(
            region.get("RegionLocationMinX0") or 0
        )
        height = int(region.get("RegionLocationMaxY1") or 0) - int(
            region.get("RegionLocationMinY0") or 0
        )
        if best is None or width * height > best[0]:
            best = (width * height, (dy, dx))
    if best is None:
        raise SpacingError("no 2D region with PhysicalDeltaX/Y in cm")
    return best[1]


def physical_spacing_mm(ds: Dataset) -> tuple[float, float]:
    """(row, column) pixel spacing in mm from a dataset's ``SequenceOfUltrasoundRegions``.

    Raises
    ------
    SpacingError
        When the sequence is absent or no 2D region gives a positive spacing in cm.
    """
    regions = ds.get("SequenceOfUltrasoundRegions")
    if not regions:
        raise SpacingError("no SequenceOfUltrasoundRegions")
    return spacing_from_regions(
        {keyword: region.get(keyword) for keyword in REGION_KEYWORDS} for region in regions
    )


def read_frames(path: str | Path) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a cine loop's frames (frames, rows, columns) and its spacing in mm."""
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array
    if frames.ndim == 2:
        frames = frames[None]
    return frames, physical_spacing_mm(ds)
