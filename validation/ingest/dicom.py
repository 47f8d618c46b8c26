"""Reading what the toolkit needs from ultrasound DICOM objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


class Unmeasurable(ValueError):
    """An image the model cannot measure as stored: excluded with :attr:`reason` (a code of
    :data:`validation.ingest.checks.REASONS`) and the message as its detail."""

    reason = "unmeasurable"

    def __init__(self, detail: str, reason: str | None = None) -> None:
        super().__init__(detail)
        if reason is not None:
            self.reason = reason


class SpacingError(Unmeasurable):
    """The object carries no usable physical pixel spacing."""

    reason = "no_spacing"


#: How a study with several distinct 2D regions is read (the model card's ``inputs.regions``):
#: ``single`` excludes it (``ambiguous_regions``), ``largest`` reads the largest region (a tie
#: is still ambiguous).
REGION_RULES = ("single", "largest")
#: Where the physical pixel size may come from (the protocol's ``images.spacing_sources``):
#: the 2D region's PhysicalDeltaX/Y (``ultrasound_regions``), or ``PixelSpacing`` for the whole
#: image when the object has no usable region (``pixel_spacing``).
SPACING_SOURCES = ("ultrasound_regions", "pixel_spacing")


@dataclass(frozen=True)
class Region:
    """The part of the image the model reads, in pixels (bounds inclusive), and its spacing."""

    x0: int
    y0: int
    x1: int
    y1: int
    spacing_mm: tuple[float, float]  # (row, column)
    source: str  # one of SPACING_SOURCES

    @property
    def rows(self) -> int:
        return self.y1 - self.y0 + 1

    @property
    def columns(self) -> int:
        return self.x1 - self.x0 + 1

    def describe(self) -> str:
        """``x 0-159, y 0-159 (ultrasound_regions)``: the accounting's record of the crop."""
        return f"x {self.x0}-{self.x1}, y {self.y0}-{self.y1} ({self.source})"


def select_region(
    regions: Iterable[Mapping[str, float | int | None]],
    *,
    rows: int,
    columns: int,
    rule: str = "single",
) -> Region:
    """The 2D (B-mode) region the model reads, from ``SequenceOfUltrasoundRegions`` items.

    ``regions`` are the items as mappings from the keywords of :data:`REGION_KEYWORDS` to
    values (None when absent). Regions that are not 2D (M-mode, Doppler strips, waveforms),
    have no positive PhysicalDeltaX/Y in cm, or start outside the ``rows`` x ``columns`` image
    are ignored (bounds past its edge are clipped to it, a common off-by-one of exporters);
    copies of one box (a tissue region and its colour-flow overlay) count once.

    Raises
    ------
    SpacingError
        When no 2D region is usable.
    Unmeasurable
        ``ambiguous_regions``: several distinct 2D regions and the rule ``single``, or a tie
        for the largest under ``largest``.
    """
    if rule not in REGION_RULES:
        raise ValueError(f"rule must be one of {REGION_RULES}, got {rule!r}")
    boxes: dict[tuple[int, int, int, int], tuple[float, float]] = {}
    for region in regions:
        if int(region.get("RegionSpatialFormat") or 0) != 1:
            continue
        units = (region.get("PhysicalUnitsYDirection"), region.get("PhysicalUnitsXDirection"))
        deltas = (region.get("PhysicalDeltaY"), region.get("PhysicalDeltaX"))
        if units != (_CM, _CM) or None in deltas:
            continue
        dy, dx = (abs(float(d)) * 10.0 for d in deltas)  # type: ignore[arg-type]
        box = tuple(
            int(region.get(k) or 0)
            for k in (
                "RegionLocationMinX0",
                "RegionLocationMinY0",
                "RegionLocationMaxX1",
                "RegionLocationMaxY1",
            )
        )
        x0, y0, x1, y1 = box
        # a bound one past the image (a common off-by-one of exporters) is clipped to it
        x1, y1 = min(x1, columns - 1), min(y1, rows - 1)
        if not (dy > 0 and dx > 0) or not (0 <= x0 < x1 and 0 <= y0 < y1):
            continue
        boxes.setdefault((x0, y0, x1, y1), (dy, dx))
    if not boxes:
        raise SpacingError(
            "no 2D region inside the image with PhysicalDeltaX/Y in cm "
            "(SequenceOfUltrasoundRegions)"
        )
    ordered = sorted(boxes, key=lambda b: (b[2] - b[0] + 1) * (b[3] - b[1] + 1), reverse=True)
    if len(ordered) > 1:
        area = [(b[2] - b[0] + 1) * (b[3] - b[1] + 1) for b in ordered[:2]]
        if rule == "single" or area[0] == area[1]:
            listed = "; ".join(f"x {b[0]}-{b[2]}, y {b[1]}-{b[3]}" for b in ordered)
            why = "the model card reads a single 2D region" if rule == "single" else "a tie"
            raise Unmeasurable(
                f"{len(ordered)} distinct 2D regions ({listed}); {why}", "ambiguous_regions"
            )
    x0, y0, x1, y1 = ordered[0]
    return Region(x0, y0, x1, y1, boxes[ordered[0]], "ultrasound_regions")


def pixel_spacing_region(value: object, *, rows: int, columns: int) -> Region:
    """The whole image, with ``PixelSpacing`` (row, column spacing in mm, text ``"r\\c"``).

    Raises
    ------
    SpacingError
        When the value is absent or not two positive numbers.
    """
    text = value if isinstance(value, str) else "\\".join(str(v) for v in value or ())
    try:
        dy, dx = (float(part) for part in text.split("\\"))
    except ValueError:
        raise SpacingError(f"PixelSpacing {text!r} is not two numbers") from None
    if not (dy > 0 and dx > 0 and rows > 0 and columns > 0):
        raise SpacingError(f"PixelSpacing {text!r} is not positive")
    return Region(0, 0, columns - 1, rows - 1, (dy, dx), "pixel_spacing")


def choose_region(
    regions: Iterable[Mapping[str, float | int | None]],
    pixel_spacing: object,
    *,
    rows: int,
    columns: int,
    rule: str = "single",
    sources: tuple[str, ...] = SPACING_SOURCES[:1],
) -> Region:
    """The region the model reads: the 2D ultrasound region (:func:`select_region`), else the
    whole image with ``PixelSpacing`` when ``sources`` allow it (:func:`pixel_spacing_region`).

    Raises
    ------
    SpacingError, Unmeasurable
        As :func:`select_region` (with PixelSpacing's own problem added when it was tried).
    """
    regions = list(regions)
    try:
        if not regions:
            raise SpacingError("no SequenceOfUltrasoundRegions")
        return select_region(regions, rows=rows, columns=columns, rule=rule)
    except SpacingError as exc:
        if "pixel_spacing" not in sources or not pixel_spacing:
            raise
        try:
            return pixel_spacing_region(pixel_spacing, rows=rows, columns=columns)
        except SpacingError as second:
            raise SpacingError(f"{exc}; {second}") from None


def image_region(
    ds: Dataset, *, rule: str = "single", sources: tuple[str, ...] = SPACING_SOURCES[:1]
) -> Region:
    """:func:`choose_region` of a dataset (pydicom's conversion of the header)."""
    items = ds.get("SequenceOfUltrasoundRegions") or []
    return choose_region(
        [{keyword: item.get(keyword) for keyword in REGION_KEYWORDS} for item in items],
        ds.get("PixelSpacing"),
        rows=int(ds.get("Rows") or 0),
        columns=int(ds.get("Columns") or 0),
        rule=rule,
        sources=sources,
    )


def physical_spacing_mm(ds: Dataset) -> tuple[float, float]:
    """(row, column) pixel spacing in mm of the largest 2D ultrasound region of ``ds``.

    Raises
    ------
    SpacingError
        When the sequence is absent or no 2D region gives a positive spacing in cm.
    """
    return image_region(ds, rule="largest").spacing_mm


def read_frames(path: str | Path) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a cine loop's frames (frames, rows, columns) and its spacing in mm."""
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array
    if frames.ndim == 2:
        frames = frames[None]
    return frames, physical_spacing_mm(ds)
