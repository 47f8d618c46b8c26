"""Fast header facts for ingestion: raw element values, without pydicom's value conversion.

Ingestion reads thousands of headers and needs about twenty values from each. pydicom parses
the file quickly but converting an element on access costs far more than reading it, so this
module decodes the few values it needs straight from the raw elements (text, US, and the
``SequenceOfUltrasoundRegions`` items in little-endian encodings). Anything unusual (big-endian,
nested sequences, an element pydicom already converted) falls back to pydicom's own conversion,
so the result is always what pydicom would give; a test checks the two paths agree.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import cache

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from validation.ingest.dicom import (
    REGION_KEYWORDS,
    Region,
    Unmeasurable,
    choose_region,
    image_region,
)
from validation.ingest.rules import ImageRules

#: Photometric interpretations the reader turns into the model's grey input.
GREY = ("MONOCHROME1", "MONOCHROME2")
COLOUR = (
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_PARTIAL_422",
    "YBR_PARTIAL_420",
    "YBR_ICT",
    "YBR_RCT",
)
#: The other defined terms of PhotometricInterpretation (PS3.3 C.7.6.3.1.2): read but refused.
_OTHER_PHOTOMETRIC = ("PALETTE COLOR", "HSV", "ARGB", "CMYK", "XYB")
#: A UID: digits and dots, at most 64 characters (PS3.5 9.1).
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")

_US_VRS = {"US"}
_REGION_TAGS = {tag_for_keyword(k): k for k in REGION_KEYWORDS}
#: Explicit-VR value representations with a 4-byte length (DICOM PS3.5 7.1.2).
_LONG_VRS = {
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"
}  # fmt: skip
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD


class _Unusual(Exception):
    """An encoding the fast path does not handle: use pydicom's conversion instead."""


@dataclass(frozen=True)
class Header:
    """What ingestion needs from one object's header."""

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    patient_id: str
    modality: str
    manufacturer: str
    scanner_model: str
    software_versions: str
    study_date: str
    patient_age: str
    patient_sex: str
    patient_size: str
    patient_weight: str
    identity_removed: str
    frames: int
    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    transfer_syntax: str
    photometric: str
    region: Region | None
    region_problem: tuple[str, str] | None  # (reason, detail) when region is None
    identifying: tuple[str, ...]

    @property
    def spacing_mm(self) -> tuple[float, float] | None:
        return None if self.region is None else self.region.spacing_mm

    @property
    def spacing_problem(self) -> str:
        return "" if self.region_problem is None else self.region_problem[1]


#: The text fields of :class:`Header` and the DICOM keyword each is read from.
_TEXT_FIELDS = {
    "sop_class_uid": "SOPClassUID",
    "sop_instance_uid": "SOPInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "patient_id": "PatientID",
    "modality": "Modality",
    "manufacturer": "Manufacturer",
    "scanner_model": "ManufacturerModelName",
    "software_versions": "SoftwareVersions",
    "study_date": "StudyDate",
    "patient_age": "PatientAge",
    "patient_sex": "PatientSex",
    "patient_size": "PatientSize",
    "patient_weight": "PatientWeight",
}
#: The integer fields: the DICOM keyword and the value when the element is absent.
_INTEGER_FIELDS = {
    "frames": ("NumberOfFrames", 1),
    "rows": ("Rows", 0),
    "columns": ("Columns", 0),
    "samples_per_pixel": ("SamplesPerPixel", 1),
    "bits_allocated": ("BitsAllocated", 8),
}


def read_header(
    ds: Dataset, identifying_keywords: tuple[str, ...], rules: ImageRules | None = None
) -> Header:
    """Collect the header facts of ``ds`` (read with deferred pixel data).

    ``identifying_keywords`` are the attributes that must hold no value in a de-identified
    object; those that do are listed in ``Header.identifying``. The region the model reads
    is chosen by ``rules`` (default :class:`~validation.ingest.rules.ImageRules`).
    """
    rules = rules or ImageRules()
    read = _Reader(ds)
    integers = {field: read.integer(*how) for field, how in _INTEGER_FIELDS.items()}
    region, problem = None, None
    try:
        region = _region(ds, read, rules, integers["rows"], integers["columns"])
    except Unmeasurable as exc:
        problem = (exc.reason, str(exc))
    meta = getattr(ds, "file_meta", None)
    texts = {field: read.text(keyword) for field, keyword in _TEXT_FIELDS.items()}
    if not texts["sop_class_uid"] and meta is not None:  # e.g. a DICOMDIR: only its meta says
        texts["sop_class_uid"] = str(meta.get("MediaStorageSOPClassUID", ""))
    return Header(
        **texts,
        identity_removed=read.text("PatientIdentityRemoved").upper(),
        **integers,
        transfer_syntax=_defined_uid(meta.get("TransferSyntaxUID", "") if meta is not None else ""),
        photometric=_defined_photometric(read.text("PhotometricInterpretation")),
        region=region,
        region_problem=problem,
        identifying=tuple(k for k in identifying_keywords if read.has_value(k)),
    )


_tag_of = cache(tag_for_keyword)


def _defined_uid(value: object) -> str:
    """The value if it is a UID, else ``OTHER``: the header's text never reaches an output."""
    text = str(value or "").strip()
    return text if not text or (len(text) <= 64 and _UID.match(text)) else "OTHER"


def _defined_photometric(value: str) -> str:
    """A defined term of PhotometricInterpretation, else ``OTHER`` (free text never passes)."""
    text = value.strip().upper()
    return text if not text or text in (*GREY, *COLOUR, *_OTHER_PHOTOMETRIC) else "OTHER"


class _Reader:
    """Element values of one dataset: decoded from the raw bytes where that is exact."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.elements = dict(ds.items())  # tag -> element as stored (raw or converted)

    def raw(self, keyword: str):
        """The element as stored (deferred values left unread), or None when absent."""
        return self.elements.get(_tag_of(keyword))

    def text(self, keyword: str) -> str:
        """The element's text, several values joined by a backslash as stored; '' if absent."""
        element = self.raw(keyword)
        if element is None:
            return ""
        if isinstance(element, RawDataElement) and element.value is not None:
            if element.VR not in _US_VRS:
                return element.value.decode("latin-1").strip(" \x00")
        value = self.ds[keyword].value  # converted by pydicom
        if value is None:
            return ""
        if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
            return "\\".join(str(v) for v in value)
        return str(value).strip()

    def integer(self, keyword: str, default: int) -> int:
        element = self.raw(keyword)
        if element is None:
            return default
        if isinstance(element, RawDataElement) and element.value is not None:
            if element.VR == "US" and len(element.value) == 2:
                return struct.unpack("<H" if element.is_little_endian else ">H", element.value)[0]
            if element.VR == "IS":
                text = element.value.decode("latin-1").strip(" \x00")
                return int(text) if text else default
        value = self.ds[keyword].value
        return default if value in (None, "") else int(value)

    def has_value(self, keyword: str) -> bool:
        element = self.raw(keyword)
        if element is None:
            return False
        if isinstance(element, RawDataElement):
            if element.value is None:  # deferred: long enough to hold something
                return element.length > 0
            return element.value.strip(b" \x00") != b""
        value = element.value
        return value not in (None, "", b"") and not (hasattr(value, "__len__") and len(value) == 0)


def _region(ds: Dataset, read: _Reader, rules: ImageRules, rows: int, columns: int) -> Region:
    """The region the model reads: from the raw regions where that is exact, else as
    :func:`validation.ingest.dicom.image_region` gives it."""
    element = read.raw("SequenceOfUltrasoundRegions")
    if (
        isinstance(element, RawDataElement)
        and element.value is not None
        and element.is_little_endian
    ):
        try:
            regions = list(_regions(element.value, implicit=element.is_implicit_VR))
        except (_Unusual, struct.error):
            regions = None
        if regions is not None:
            return choose_region(
                regions,
                read.text("PixelSpacing"),
                rows=rows,
                columns=columns,
                rule=rules.regions,
                sources=rules.spacing_sources,
            )
    return image_region(ds, rule=rules.regions, sources=rules.spacing_sources)


def _regions(data: bytes, *, implicit: bool):
    """Yield each item of a raw little-endian sequence value as {keyword: value}."""
    pos, end = 0, len(data)
    while pos + 8 <= end:
        tag, length = _tag(data, pos), struct.unpack_from("<I", data, pos + 4)[0]
        pos += 8
        if tag == _SEQ_END:
            return
        if tag != _ITEM:
            raise _Unusual
        item_end = end if length == 0xFFFFFFFF else pos + length
        region: dict[str, float | int | None] = dict.fromkeys(REGION_KEYWORDS)
        while pos < item_end:
            tag = _tag(data, pos)
            if tag == _ITEM_END:
                pos += 8
                break
            if implicit:
                vr, size, pos = None, struct.unpack_from("<I", data, pos + 4)[0], pos + 8
            else:
                vr = data[pos + 4 : pos + 6]
                if vr in _LONG_VRS:
                    size, pos = struct.unpack_from("<I", data, pos + 8)[0], pos + 12
                else:
                    size, pos = struct.unpack_from("<H", data, pos + 6)[0], pos + 8
            if size == 0xFFFFFFFF or vr == b"SQ":
                raise _Unusual  # a nested sequence: let pydicom do it
            keyword = _REGION_TAGS.get(tag)
            if keyword is not None:
                region[keyword] = _number(data[pos : pos + size], keyword)
            pos += size
        yield region


def _tag(data: bytes, pos: int) -> int:
    group, element = struct.unpack_from("<HH", data, pos)
    return (group << 16) | element


def _number(value: bytes, keyword: str) -> float | int:
    if keyword.startswith("PhysicalDelta"):
        if len(value) != 8:
            raise _Unusual
        return struct.unpack("<d", value)[0]
    if len(value) == 2:
        return struct.unpack("<H", value)[0]
    if len(value) == 4:
        return struct.unpack("<I", value)[0]
    raise _Unusual
