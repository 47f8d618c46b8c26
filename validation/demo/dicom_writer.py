"""Write a demo cine loop as a real DICOM Ultrasound Multi-frame Image with pydicom."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    UltrasoundMultiFrameImageStorage,
)

from validation import __version__
from validation.demo.population import Patient
from validation.demo.profiles import VendorProfile

#: DICOM PS3.16 CID 7050 codes for the de-identification that was applied.
_DEID_METHODS = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113108", "Retain Patient Characteristics Option"),
)


def demo_uid(*parts: object) -> str:
    """A deterministic UID in the 2.25 (UUID-derived) form, from a hash of the given parts.

    DICOM PS3.5 B.2: "2.25." followed by a 128-bit integer in decimal (at most 44 characters).
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


@dataclass(frozen=True)
class StudyRecord:
    """What is written into one study's headers."""

    patient_id: str
    study_uid: str
    series_uid: str
    sop_uid: str
    study_date: dt.date
    vendor: VendorProfile
    scanner_model: str
    software_version: str
    device_serial: str
    patient: Patient
    institution: str


def build_dataset(record: StudyRecord, frames: np.ndarray) -> Dataset:
    """Build a de-identified US Multi-frame Image dataset holding ``frames`` (uint8, T×H×W)."""
    profile = record.vendor
    n_frames, rows, cols = frames.shape
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = record.sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationVersionName = f"MVAL_{__version__}"[:16]

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "TRANSTHORACIC", "0001"]
    ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.SOPInstanceUID = record.sop_uid
    date = record.study_date.strftime("%Y%m%d")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "093000"
    ds.AccessionNumber = ""
    ds.Modality = "US"
    ds.Manufacturer = profile.manufacturer
    ds.InstitutionName = record.institution
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Echocardiogram, transthoracic"
    ds.SeriesDescription = "PLAX 2D"
    ds.BodyPartExamined = "HEART"
    ds.PatientOrientation = ""  # type 2C: unknown for a sector scan
    ds.ManufacturerModelName = record.scanner_model
    ds.SoftwareVersions = record.software_version
    ds.DeviceSerialNumber = record.device_serial

    patient = record.patient
    ds.PatientName = f"DEMO^{record.patient_id}"
    ds.PatientID = record.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{patient.age:03d}Y"
    ds.PatientSize = f"{patient.height_m:.2f}"
    ds.PatientWeight = f"{patient.weight_kg:.1f}"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "DICOM PS3.15 Basic Profile, Retain Patient Characteristics"
    ds.DeidentificationMethodCodeSequence = Sequence(
        [_code(value, meaning) for value, meaning in _DEID_METHODS]
    )

    ds.StudyInstanceUID = record.study_uid
    ds.SeriesInstanceUID = record.series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.FrameTime = f"{profile.frame_time_ms:.1f}"
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.CineRate = round(1000.0 / profile.frame_time_ms)
    ds.HeartRate = 70
    ds.NumberOfFrames = n_frames
    ds.SequenceOfUltrasoundRegions = Sequence([_region(profile, rows, cols)])

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    ds.PixelData = np.ascontiguousarray(frames, dtype=np.uint8).tobytes()
    return ds


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _region(profile: VendorProfile, rows: int, cols: int) -> Dataset:
    """One 2D tissue region covering the image, with its physical pixel size in cm."""
    region = Dataset()
    region.RegionSpatialFormat = 1  # 2D
    region.RegionDataType = 1  # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0 = 0
    region.RegionLocationMinY0 = 0
    region.RegionLocationMaxX1 = cols - 1
    region.RegionLocationMaxY1 = rows - 1
    region.PhysicalUnitsXDirection = 3  # cm
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = profile.spacing_mm / 10.0
    region.PhysicalDeltaY = profile.spacing_mm / 10.0
    region.ReferencePixelX0 = cols // 2
    region.ReferencePixelY0 = 0
    return region


def write_dataset(ds: Dataset, path: Path) -> None:
    """Write ``ds`` as a DICOM Part 10 file, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
