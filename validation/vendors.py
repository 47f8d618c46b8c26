"""Ultrasound vendors: the partition key and the DICOM Manufacturer names that belong to it."""

from __future__ import annotations

import re

#: Manufacturer strings seen in the field for each vendor key (case-insensitive regexes).
MANUFACTURER_PATTERNS: dict[str, str] = {
    "GE": r"^(GE\b|GE Healthcare|GE Vingmed|GE Medical)",
    "Philips": r"^Philips",
    "Siemens": r"^(Siemens|ACUSON)",
    "Canon": r"^(Canon|Toshiba)",
    "Samsung": r"^Samsung",
    "Mindray": r"^Mindray",
    "Esaote": r"^Esaote",
    "Fujifilm": r"^(Fujifilm|Hitachi)",
}


def manufacturer_matches(vendor: str, manufacturer: str, pattern: str | None = None) -> bool:
    """Whether a DICOM ``Manufacturer`` belongs to the partition's ``vendor``.

    ``pattern`` (from the site file) overrides the built-in names; an unknown vendor key without a
    pattern matches a Manufacturer that starts with the key itself.
    """
    regex = pattern or MANUFACTURER_PATTERNS.get(vendor) or rf"^{re.escape(vendor)}"
    return re.search(regex, manufacturer.strip(), flags=re.IGNORECASE) is not None
