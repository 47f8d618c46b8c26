"""The model's outputs for one image as a DICOM Structured Report (TID 1500 Measurement Report).

A site's PACS can store, show and query the device's results beside the images when they are
DICOM: :func:`build_measurement_sr` makes a Comprehensive 3D SR document, a new series in the
source image's study, that holds what the protocol declares (``outputs``):

* the measurement, named by the protocol's concept (e.g. a LOINC code of DICOM CID 12300 "Core
  Echo Measurement") in its UCUM unit, in a measurement group with the protocol's anatomical
  site as finding site;
* the finding in a second group whose finding type is the protocol's concept (e.g. a SNOMED CT
  disorder): the model's probability (DCM 122157 "Probability",
  UCUM unit ``1``) and the qualitative evaluation *present* (SCT 52101004) or *absent*
  (SCT 272519000) at the locked threshold;
* the algorithm (TID 4019: name, version, and parameters ``model_sha256=...`` and
  ``threshold=...``), the device observer (TID 1004) and the source image, both as the
  source of each measurement and in the image library (TID 1600).

A protocol that declares no concept for its measurement or finding gets a private code
(coding scheme designator ``99MVAL``, PS3.16 8.2: the value is the protocol's name, the meaning
its description). The document is flagged PRELIMINARY and UNVERIFIED: no person has verified
it. UIDs are derived from the source SOP Instance UID and the model's sha256 (:func:`sr_uids`),
so writing the SR again for the same image and model gives the same instance, which a PACS
stores only once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass

import highdicom as hd
from highdicom.sr import (
    AlgorithmIdentification,
    CodedConcept,
    Comprehensive3DSR,
    DeviceObserverIdentifyingAttributes,
    FindingSite,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    QualitativeEvaluation,
    SourceImageForMeasurement,
    SourceImageForMeasurementGroup,
    TrackingIdentifier,
)
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from validation.protocol import Concept, Finding
from validation.protocol import Measurement as MeasurementSpec
from validation.units import unit_meaning

#: The coding scheme designator of the codes made for a protocol that declares no concept.
PRIVATE_SCHEME = "99MVAL"
PROBABILITY_CONCEPT = CodedConcept("122157", "DCM", "Probability")
PRESENT = CodedConcept("52101004", "SCT", "Present")
ABSENT = CodedConcept("272519000", "SCT", "Absent")
PROCEDURE = CodedConcept("433236007", "SCT", "Transthoracic echocardiography")
NO_UNITS = CodedConcept("1", "UCUM", "no units")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID")
#: Patient and study attributes highdicom copies from the source: Type 2, empty when absent.
_COPIED = (
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
)


@dataclass(frozen=True)
class SRUids:
    """The deterministic UIDs of one image's SR for one model."""

    sop_instance_uid: str
    series_instance_uid: str
    device_observer_uid: str


def derived_uid(*parts: object) -> str:
    """A UID in the 2.25 form (DICOM PS3.5 B.2) from a sha256 of the given parts.

    The same scheme as the demo's UIDs: ``"2.25."`` and the first 128 bits of the digest as a
    decimal integer (at most 44 characters).

    Examples
    --------
    >>> derived_uid("sr", "1.2.3", "ab" * 32)[:5]
    '2.25.'
    >>> derived_uid("a") == derived_uid("a") != derived_uid("b")
    True
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def sr_uids(study_instance_uid: str, source_sop_instance_uid: str, model_sha256: str) -> SRUids:
    """The SR's SOP Instance UID (per source image and model), its series (per study and model)
    and the device observer UID (per model)."""
    return SRUids(
        sop_instance_uid=derived_uid("mval-sr", source_sop_instance_uid, model_sha256),
        series_instance_uid=derived_uid("mval-sr-series", study_instance_uid, model_sha256),
        device_observer_uid=derived_uid("mval-device", model_sha256),
    )


def build_measurement_sr(
    source: Dataset,
    *,
    measurement: float | None = None,
    probability: float | None = None,
    quantity: MeasurementSpec | None = None,
    finding: Finding | None = None,
    algorithm_name: str,
    algorithm_version: str,
    model_sha256: str,
    series_number: int = 900,
    instance_number: int = 1,
    manufacturer: str = "mval",
    created: dt.datetime | None = None,
) -> Comprehensive3DSR:
    """Build the TID 1500 Measurement Report SR of one source image's model outputs.

    Parameters
    ----------
    source : pydicom.Dataset
        The source image's header (``stop_before_pixels=True`` is enough): its patient and
        study become the SR's, and it is referenced as the source of the measurements.
    measurement : float, optional
        The model's measurement in the unit of ``quantity`` (finite); given with ``quantity``.
    probability : float, optional
        The model's probability of the finding, in [0, 1]; given with ``finding``.
    quantity : validation.protocol.Measurement, optional
        The protocol's measurement (``outputs.measurement``): its concept, UCUM unit and site.
    finding : validation.protocol.Finding, optional
        The protocol's finding (``outputs.finding``): its concept and the locked threshold in
        [0, 1] (*present* when ``probability >= threshold``). At least one of ``quantity`` and
        ``finding`` is given.
    algorithm_name, algorithm_version : str
        The locked model's name and version (TID 4019).
    model_sha256 : str
        The sha256 of the model weights (64 lower-case hex digits); recorded as an algorithm
        parameter and part of the SR's UIDs.
    series_number, instance_number : int, default 900 and 1
        Series Number and Instance Number of the SR (positive).
    manufacturer : str, default "mval"
        Manufacturer of the equipment creating the SR.
    created : datetime, optional
        Content Date/Time and Instance Creation Date/Time; now by default. Passing a fixed value
        makes the file byte-for-byte reproducible.

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
        The SR document, PRELIMINARY and UNVERIFIED, in a new series of the source's study.

    Raises
    ------
    ValueError
        When an argument is out of range or the source lacks SOP Class, SOP Instance or Study
        Instance UID; the message names the argument, what was expected and what came.
    TypeError
        When ``source`` is not a pydicom Dataset.

    Notes
    -----
    Comprehensive 3D SR is the IOD highdicom documents for TID 1500; these documents hold no
    spatial coordinates, so an Enhanced SR would hold the same tree. The source image is
    referenced as a whole (no frame numbers): the predictions do not record which frame the
    model found to be end-diastolic.

    Examples
    --------
    >>> import pydicom
    >>> header = pydicom.dcmread("IM_0001.dcm", stop_before_pixels=True)  # doctest: +SKIP
    >>> sr = build_measurement_sr(  # doctest: +SKIP
    ...     header, measurement=62.5, quantity=protocol.measurement,
    ...     algorithm_name="lvef-net", algorithm_version="1.0.0", model_sha256="ab" * 32,
    ... )
    >>> sr.save_as("sr.dcm", enforce_file_format=True)  # doctest: +SKIP
    """
    _check_arguments(source, model_sha256, series_number, instance_number)
    _check_outputs(measurement, probability, quantity, finding)
    for name, text in (
        ("algorithm_name", algorithm_name),
        ("algorithm_version", algorithm_version),
    ):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    evidence = _evidence(source)
    uids = sr_uids(evidence.StudyInstanceUID, evidence.SOPInstanceUID, model_sha256)
    algorithm = AlgorithmIdentification(
        name=algorithm_name,
        version=algorithm_version,
        parameters=[f"model_sha256={model_sha256}"]
        + ([] if finding is None else [f"threshold={finding.threshold:g}"]),
    )
    imaging = []
    if quantity is not None and measurement is not None:
        imaging.append(_measurement_group(evidence, measurement, quantity, algorithm, uids))
    if finding is not None and probability is not None:
        imaging.append(_finding_group(evidence, probability, finding, algorithm, uids))
    report = MeasurementReport(
        observation_context=_observation_context(
            uids, algorithm_name, algorithm_version, manufacturer
        ),
        procedure_reported=PROCEDURE,
        imaging_measurements=imaging,
        referenced_images=[evidence],
    )
    created = created or dt.datetime.now()
    sr = Comprehensive3DSR(
        evidence=[evidence],
        content=report,
        series_instance_uid=uids.series_instance_uid,
        series_number=series_number,
        sop_instance_uid=uids.sop_instance_uid,
        instance_number=instance_number,
        manufacturer=manufacturer,
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=f"AI measurements: {algorithm_name} {algorithm_version}"[:64],
        content_date=created.date(),
        content_time=created.time(),
    )
    sr.InstanceCreationDate = sr.ContentDate
    sr.InstanceCreationTime = sr.ContentTime
    for equipment in sr.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in equipment:  # highdicom stamps "now": use ``created``
            equipment.ContributionDateTime = created.strftime("%Y%m%d%H%M%S.%f")
    sr.SoftwareVersions = f"{algorithm_name} {algorithm_version}"[:64]
    return sr


def finding_present(probability: float, threshold: float) -> bool:
    """The finding at the locked threshold (probability at or above it)."""
    return probability >= threshold


def coded(concept: Concept | None, *, name: str, meaning: str) -> CodedConcept:
    """The protocol's concept as a highdicom code, or a private ``99MVAL`` code ``name``."""
    if concept is None:
        return CodedConcept(name, PRIVATE_SCHEME, meaning[:64] or name)
    return CodedConcept(concept.value, concept.scheme, concept.meaning, concept.version)


def _check_outputs(
    measurement: float | None,
    probability: float | None,
    quantity: MeasurementSpec | None,
    finding: Finding | None,
) -> None:
    """Each value comes with its declaration, in range."""
    if quantity is None and finding is None:
        raise ValueError("quantity or finding must be given (the protocol's outputs)")
    for value, spec, names in (
        (measurement, quantity, ("measurement", "quantity")),
        (probability, finding, ("probability", "finding")),
    ):
        if (value is None) != (spec is None):
            given, lacking = names if value is not None else names[::-1]
            raise ValueError(f"{given} was given without {lacking}")
    if measurement is not None and not _is_number(measurement):
        raise ValueError(f"measurement must be a finite number, got {measurement!r}")
    if finding is not None:
        for name, value in (("probability", probability), ("threshold", finding.threshold)):
            if not _is_number(value) or not 0.0 <= float(value) <= 1.0:  # type: ignore[arg-type]
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def _check_arguments(
    source: Dataset, model_sha256: str, series_number: int, instance_number: int
) -> None:
    if not isinstance(source, Dataset):
        raise TypeError(f"source must be a pydicom Dataset, got {type(source).__name__}")
    missing = [name for name in _REQUIRED if not str(source.get(name, "")).strip()]
    if missing:
        raise ValueError(f"source must have {', '.join(_REQUIRED)}; it lacks {', '.join(missing)}")
    if not isinstance(model_sha256, str) or not _SHA256.match(model_sha256):
        raise ValueError(f"model_sha256 must be 64 lower-case hex digits, got {model_sha256!r}")
    for name, number in (("series_number", series_number), ("instance_number", instance_number)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"{name} must be a positive whole number, got {number!r}")


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _evidence(source: Dataset) -> Dataset:
    """A header-only copy of the source with the copied Type 2 attributes present."""
    evidence = Dataset()
    for element in source:
        if element.keyword != "PixelData":
            evidence.add(element)
    if hasattr(source, "file_meta"):
        evidence.file_meta = source.file_meta
    for keyword in _COPIED:
        if keyword not in evidence:
            setattr(evidence, keyword, "")
    return evidence


def _observation_context(
    uids: SRUids, algorithm_name: str, algorithm_version: str, manufacturer: str
) -> ObservationContext:
    device = DeviceObserverIdentifyingAttributes(
        uid=uids.device_observer_uid,
        name=algorithm_name,
        manufacturer_name=manufacturer,
        model_name=f"{algorithm_name} {algorithm_version}",
    )
    return ObservationContext(
        observer_device_context=ObserverContext(
            observer_type=codes.DCM.Device, observer_identifying_attributes=device
        )
    )


def _measurement_group(
    source: Dataset,
    value: float,
    quantity: MeasurementSpec,
    algorithm: AlgorithmIdentification,
    uids: SRUids,
) -> MeasurementsAndQualitativeEvaluations:
    sites = (
        [] if quantity.site is None else [FindingSite(coded(quantity.site, name="", meaning=""))]
    )
    name = coded(
        quantity.concept, name=quantity.name, meaning=quantity.description or quantity.label
    )
    measurement = Measurement(
        name=name,
        value=float(value),
        unit=CodedConcept(quantity.unit, "UCUM", unit_meaning(quantity.unit)),
        finding_sites=sites or None,
        algorithm_id=algorithm,
        referenced_images=[SourceImageForMeasurement.from_source_image(source)],
    )
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(quantity.label, uids),
        finding_sites=sites or None,
        algorithm_id=algorithm,
        measurements=[measurement],
        source_images=[SourceImageForMeasurementGroup.from_source_image(source)],
    )


def _finding_group(
    source: Dataset,
    probability: float,
    finding: Finding,
    algorithm: AlgorithmIdentification,
    uids: SRUids,
) -> MeasurementsAndQualitativeEvaluations:
    concept = coded(
        finding.concept, name=finding.name, meaning=finding.description or finding.label
    )
    measurement = Measurement(
        name=PROBABILITY_CONCEPT,
        value=float(probability),
        unit=NO_UNITS,
        algorithm_id=algorithm,
        referenced_images=[SourceImageForMeasurement.from_source_image(source)],
    )
    evaluation = PRESENT if finding_present(probability, finding.threshold) else ABSENT
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(finding.label, uids),
        finding_type=concept,
        algorithm_id=algorithm,
        measurements=[measurement],
        qualitative_evaluations=[QualitativeEvaluation(concept, evaluation)],
        source_images=[SourceImageForMeasurementGroup.from_source_image(source)],
    )


def _tracking(label: str, uids: SRUids) -> TrackingIdentifier:
    return TrackingIdentifier(
        uid=hd.UID(derived_uid("mval-tracking", label, uids.sop_instance_uid)), identifier=label
    )
