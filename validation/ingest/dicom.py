"""Reading what the toolkit needs from ultrasound DICOM objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

#: PhysicalUnits code for centimetres (DICOM PS3.3 C.8.5.5.1.15).
_CM = 3


class SpacingError(ValueError):
    """The object carries no usable physical pixel spacing."""


def physical_spacing_mm(ds: Dataset) -> tuple[float, float]:
    """(row, column) pixel spacing in mm from the largest 2D tissue region.

    Reads ``SequenceOfUltrasoundRegions`` (DICOM PS3.3 C.8.5.5): PhysicalDeltaY/X in cm when
    PhysicalUnitsY/XDirection is 3.

    Raises
    ------
    SpacingError
        When no 2D region gives a positive spacing in cm.
    """
    regions = ds.get("SequenceOfUltrasoundRegions")
    if not regions:
        raise SpacingError("no SequenceOfUltrasoundRegions")
    best: tuple[int, tuple[float, float]] | None = None
    for region in regions:
        if int(region.get("RegionSpatialFormat", 0)) != 1:
            continue
        units = (region.get("PhysicalUnitsYDirection"), region.get("PhysicalUnitsXDirection"))
        deltas = (region.get("PhysicalDeltaY"), region.get("PhysicalDeltaX"))
        if units != (_CM, _CM) or None in deltas:
            continue
        dy, dx = (abs(float(d)) * 10.0 for d in deltas)
        if not (dy > 0 and dx > 0):
            continue
        area = (
            int(region.get("RegionLocationMaxX1", 0)) - int(region.get("RegionLocationMinX0", 0))
        ) * (int(region.get("RegionLocationMaxY1", 0)) - int(region.get("RegionLocationMinY0", 0)))
        if best is None or area > best[0]:
            best = (area, (dy, dx))
    if best is None:
        raise SpacingError("no 2D region with PhysicalDeltaX/Y in cm")
    return best[1]


def read_frames(path: str | Path) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a cine loop's frames (frames, rows, columns) and its spacing in mm."""
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array
    if frames.ndim == 2:
        frames = frames[None]
    return frames, physical_spacing_mm(ds)
