"""The fast header reader gives exactly what pydicom's own conversion gives."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from validation.demo.dicom_writer import build_dataset
from validation.demo.generate import synthesize_study
from validation.ingest.checks import IDENTIFYING_ATTRIBUTES, check_header
from validation.ingest.dicom import SpacingError, physical_spacing_mm
from validation.ingest.header import read_header
from validation.ingest.rules import ImageRules


def _bytes(ds: Dataset, implicit: bool = False) -> bytes:
    buffer = io.BytesIO()
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _roundtrip(ds: Dataset, *, implicit: bool = False) -> Dataset:
    return pydicom.dcmread(io.BytesIO(_bytes(ds, implicit)), defer_size=4096)


@pytest.fixture
def dataset():
    study = synthesize_study(4, "test", 0, "s01", "Site", "Philips", 2)
    return build_dataset(study.record, study.frames)


@pytest.mark.parametrize("implicit", [False, True])
def test_fast_path_matches_pydicom(dataset, implicit):
    ds = _roundtrip(dataset, implicit=implicit)
    header = read_header(ds, IDENTIFYING_ATTRIBUTES)
    reference = pydicom.dcmread(io.BytesIO(_bytes(dataset, implicit)))
    assert header.sop_instance_uid == reference.SOPInstanceUID
    assert header.study_instance_uid == reference.StudyInstanceUID
    assert header.manufacturer == reference.Manufacturer
    assert header.patient_age == reference.PatientAge
    assert (header.rows, header.columns, header.frames) == (
        reference.Rows,
        reference.Columns,
        int(reference.NumberOfFrames),
    )
    assert header.spacing_mm == pytest.approx(physical_spacing_mm(reference))
    assert header.identity_removed == "YES" and header.identifying == ()


def test_regions_by_rule_and_other_units_are_ignored(dataset):
    """Two distinct 2D regions and a Doppler strip: the rule ``largest`` reads the larger 2D
    region; the default rule ``single`` excludes the study as ambiguous."""
    small, large = Dataset(), Dataset()
    for region, size, delta in ((small, 20, 0.02), (large, 100, 0.05)):
        region.RegionSpatialFormat = 1
        region.RegionLocationMinX0 = region.RegionLocationMinY0 = 0
        region.RegionLocationMaxX1 = region.RegionLocationMaxY1 = size
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
        region.PhysicalDeltaX = region.PhysicalDeltaY = delta
    doppler = Dataset()
    doppler.RegionSpatialFormat = 3  # spectral: not a 2D image region
    doppler.PhysicalUnitsXDirection, doppler.PhysicalUnitsYDirection = 4, 7
    dataset.SequenceOfUltrasoundRegions = [small, doppler, large]
    largest = read_header(
        _roundtrip(dataset), IDENTIFYING_ATTRIBUTES, ImageRules(regions="largest")
    )
    assert largest.spacing_mm == pytest.approx((0.5, 0.5))
    assert (largest.region.x1, largest.region.y1) == (100, 100)
    single = read_header(_roundtrip(dataset), IDENTIFYING_ATTRIBUTES)
    assert single.region is None and single.region_problem[0] == "ambiguous_regions"
    assert "2 distinct 2D regions" in single.region_problem[1]
    dataset.SequenceOfUltrasoundRegions = [small, doppler]  # one 2D region: no choice to make
    assert read_header(_roundtrip(dataset), IDENTIFYING_ATTRIBUTES).spacing_mm == pytest.approx(
        (0.2, 0.2)
    )


def test_no_usable_region(dataset):
    dataset.SequenceOfUltrasoundRegions[0].PhysicalUnitsXDirection = 4  # seconds, not cm
    header = read_header(_roundtrip(dataset), IDENTIFYING_ATTRIBUTES)
    assert header.spacing_mm is None and "in cm" in header.spacing_problem
    with pytest.raises(SpacingError):
        physical_spacing_mm(_roundtrip(dataset))


def test_identifying_values_found_empty_ones_not(dataset):
    dataset.PatientBirthDate = "19580312"
    dataset.OtherPatientIDs = "MRN-1"
    dataset.PatientAddress = ""  # present but empty: allowed (type 2 style)
    header = read_header(_roundtrip(dataset), IDENTIFYING_ATTRIBUTES)
    assert header.identifying == ("PatientBirthDate", "OtherPatientIDs")


def test_converted_elements_fall_back_to_pydicom(dataset):
    ds = _roundtrip(dataset)
    _ = ds.Manufacturer, ds.Rows, ds.SequenceOfUltrasoundRegions  # converted now
    header = read_header(ds, IDENTIFYING_ATTRIBUTES)
    assert header.manufacturer == "Philips" and header.rows == ds.Rows
    assert header.spacing_mm == pytest.approx(physical_spacing_mm(ds))


def test_a_region_bound_one_past_the_image_is_clipped(dataset):
    region = dataset.SequenceOfUltrasoundRegions[0]
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = dataset.Columns, dataset.Rows
    header = read_header(_roundtrip(dataset), IDENTIFYING_ATTRIBUTES)
    assert (header.region.x1, header.region.y1) == (dataset.Columns - 1, dataset.Rows - 1)
    region.RegionLocationMinX0 = dataset.Columns  # starts outside the image: not usable
    header = read_header(_roundtrip(dataset), IDENTIFYING_ATTRIBUTES)
    assert header.region is None and header.region_problem[0] == "no_spacing"


def test_undefined_header_text_is_not_copied(dataset):
    """PhotometricInterpretation and the transfer syntax reach the accounting only as defined
    terms and UIDs: other text in them (here a name) becomes OTHER."""
    dataset.PhotometricInterpretation = "JOHN SMITH"
    dataset.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    header = read_header(_roundtrip(dataset), IDENTIFYING_ATTRIBUTES)
    assert header.photometric == "OTHER" and header.transfer_syntax == "1.2.840.10008.1.2.1"
    failure = check_header(header, vendor="Philips")
    assert failure[0] == "unsupported_photometric" and "JOHN" not in failure[1]
