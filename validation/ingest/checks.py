"""Per-file acceptance checks, each giving a reason code when a file must be excluded.

The codes are stable (scripts and the STARD flow diagram count them); the detail says what was
found in that file.
"""

from __future__ import annotations

from pydicom.uid import UID, UltrasoundImageStorage, UltrasoundMultiFrameImageStorage

from validation.ingest.decoders import is_supported, syntax_name
from validation.ingest.header import COLOUR, GREY, Header
from validation.ingest.rules import ImageRules
from validation.vendors import manufacturer_matches

ACCEPTED_SOP_CLASSES = {UltrasoundMultiFrameImageStorage: "Ultrasound Multi-frame Image"}
#: Single-frame image storage classes of ultrasound (the current one and the retired one).
SINGLE_FRAME_SOP_CLASSES = {UltrasoundImageStorage, "1.2.840.10008.5.1.4.1.1.6"}
#: The Media Storage Directory SOP class (a DICOMDIR file of an export medium).
MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"
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
    "dicomdir": "DICOMDIR (the export medium's directory, not an image)",
    "non_image_object": "not an image (structured report, presentation state or other object)",
    "truncated": "pixel data truncated",
    "wrong_sop_class": "wrong SOP class or modality",
    "single_frame": "single-frame image (the model reads cine loops)",
    "wrong_vendor": "manufacturer is not the partition's vendor",
    "unsupported_encoding": "pixel data encoding without a decoder (video or private)",
    "unsupported_photometric": "colour model the model card does not read",
    "no_spacing": "no physical pixel spacing",
    "ambiguous_regions": "several 2D image regions and no rule to choose one",
    "too_few_frames": "fewer frames than the model needs",
    "region_too_small": "image region smaller than the model needs",
    "identifying_headers": "identifying headers left in",
    "duplicate_sop_instance": "duplicate SOP Instance UID",
}


def check_header(
    header: Header,
    *,
    vendor: str,
    manufacturer_pattern: str | None = None,
    rules: ImageRules | None = None,
) -> tuple[str, str] | None:
    """Run the header checks; return ``(reason, detail)`` for the first failure, else None.

    ``rules`` (default :class:`~validation.ingest.rules.ImageRules`) are the models' reading
    rules: their fewest frames and their colour rule (the region was chosen by them when the
    header was read).
    """
    rules = rules or ImageRules()
    sop_class, modality = header.sop_class_uid, header.modality
    if sop_class == MEDIA_DIRECTORY:
        return "dicomdir", "Media Storage Directory (DICOMDIR): lists the files of an export"
    if sop_class and header.rows == 0 and sop_class not in ACCEPTED_SOP_CLASSES:
        name = UID(sop_class).name
        return "non_image_object", f"SOP class {sop_class} ({name}) holds no image"
    single = sop_class in SINGLE_FRAME_SOP_CLASSES and modality == "US"
    if single and rules.min_frames > 1:
        return (
            "single_frame",
            f"SOP class {sop_class} (Ultrasound Image): one frame, no loop; the model card "
            f"needs at least {rules.min_frames} frames",
        )
    if not single and (sop_class not in ACCEPTED_SOP_CLASSES or modality != "US"):
        expected = ", ".join(f"{uid} ({name})" for uid, name in ACCEPTED_SOP_CLASSES.items())
        return (
            "wrong_sop_class",
            f"SOP class {sop_class or 'missing'}, modality {modality or 'missing'}; "
            f"expected {expected} with modality US",
        )
    if not manufacturer_matches(vendor, header.manufacturer, manufacturer_pattern):
        return "wrong_vendor", f"Manufacturer {header.manufacturer!r} is not vendor {vendor!r}"
    if header.transfer_syntax and not is_supported(header.transfer_syntax):
        return (
            "unsupported_encoding",
            f"transfer syntax {syntax_name(header.transfer_syntax)} has no pixel decoder",
        )
    photometric = header.photometric or "MONOCHROME2"
    if photometric not in GREY + COLOUR or (photometric in COLOUR and rules.colour == "reject"):
        read = ", ".join(GREY + (COLOUR if rules.colour != "reject" else ()))
        return (
            "unsupported_photometric",
            f"PhotometricInterpretation {photometric} ({header.samples_per_pixel} samples); "
            f"the model card reads {read}",
        )
    if header.region is None:
        return header.region_problem or ("no_spacing", "no region")
    if header.frames < rules.min_frames:
        return (
            "too_few_frames",
            f"{header.frames} frame(s); the model card needs at least {rules.min_frames}",
        )
    region = header.region
    depth, width = region.rows * region.spacing_mm[0], region.columns * region.spacing_mm[1]
    if depth < rules.min_region_mm[0] or width < rules.min_region_mm[1]:
        return (
            "region_too_small",
            f"2D region {depth:.1f} x {width:.1f} mm (depth x width); the model card needs at "
            f"least {rules.min_region_mm[0]:g} x {rules.min_region_mm[1]:g} mm",
        )
    if header.identifying or header.identity_removed != "YES":
        found = ", ".join(header.identifying) or "none of the listed attributes"
        return (
            "identifying_headers",
            f"PatientIdentityRemoved is {header.identity_removed or 'absent'} (must be YES); "
            f"identifying attributes with a value: {found}",
        )
    return None
