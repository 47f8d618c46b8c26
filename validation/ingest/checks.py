"""Per-file acceptance checks, each giving a reason code when a file must be excluded.

The codes are stable (scripts and the STARD flow diagram count them); the detail says what was
found in that file.
"""

from __future__ import annotations

from pydicom.uid import UltrasoundMultiFrameImageStorage

from validation.ingest.header import Header
from validation.vendors import manufacturer_matches

ACCEPTED_SOP_CLASSES = {UltrasoundMultiFrameImageStorage: "Ultrasound Multi-frame Image"}

#: Attributes that the DICOM PS3.15 Basic Application Level Confidentiality Profile (Table E.1-1)
#: removes (X) or empties (Z): any of them holding a value means identifying headers were left in.
IDENTIFYING_ATTRIBUTES = (
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "MedicalRecordLocator",
    "MilitaryRank",
    "BranchOfService",
    "PatientComments",
    "AdditionalPatientHistory",
    "InstitutionAddress",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "PhysiciansOfRecord",
    "PerformingPhysicianName",
    "OperatorsName",
    "RequestingPhysician",
)

#: Reason codes, in the order the checks run, with the sentence the report uses.
REASONS: dict[str, str] = {
    "unreadable": "file could not be read as DICOM (corrupt or truncated header)",
    "not_dicom": "not a DICOM file",
    "truncated": "pixel data truncated",
    "wrong_sop_class": "wrong SOP class or modality",
    "wrong_vendor": "manufacturer is not the partition's vendor",
    "no_spacing": "no physical pixel spacing",
    "identifying_headers": "identifying headers left in",
    "duplicate_sop_instance": "duplicate SOP Instance UID",
}


def check_header(
    header: Header, *, vendor: str, manufacturer_pattern: str | None = None
) -> tuple[str, str] | None:
    """Run the header checks; return ``(reason, detail)`` for the first failure, else None."""
    sop_class, modality = header.sop_class_uid, header.modality
    if sop_class not in ACCEPTED_SOP_CLASSES or modality != "US":
        expected = ", ".join(f"{uid} ({name})" for uid, name in ACCEPTED_SOP_CLASSES.items())
        return (
            "wrong_sop_class",
            f"SOP class {sop_class or 'missing'}, modality {modality or 'missing'}; "
            f"expected {expected} with modality US",
        )
    if not manufacturer_matches(vendor, header.manufacturer, manufacturer_pattern):
        return "wrong_vendor", f"Manufacturer {header.manufacturer!r} is not vendor {vendor!r}"
    if header.spacing_mm is None:
        return "no_spacing", header.spacing_problem
    if header.identifying or header.identity_removed != "YES":
        found = ", ".join(header.identifying) or "none of the listed attributes"
        return (
            "identifying_headers",
            f"PatientIdentityRemoved is {header.identity_removed or 'absent'} (must be YES); "
            f"identifying attributes with a value: {found}",
        )
    return None
