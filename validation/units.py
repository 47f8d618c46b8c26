"""Units of a measurement: UCUM codes as the protocol writes them, as reports show them.

The protocol names its measurement's unit by its UCUM code (``outputs.measurement.unit``; the
DICOM SR's units are UCUM codes, PS3.16 CID 82). Reports print the code's usual symbol after a
space, ``%`` included (the SI Brochure's form, 5.4.3). A unitless quantity (``1``) prints no
symbol.
"""

from __future__ import annotations

#: UCUM code -> (symbol shown in reports, code meaning for the DICOM SR) for the common
#: quantities of imaging measurements; any other code is shown and meant as written.
_KNOWN: dict[str, tuple[str, str]] = {
    "mm": ("mm", "mm"),
    "cm": ("cm", "cm"),
    "m": ("m", "m"),
    "%": ("%", "%"),
    "ms": ("ms", "ms"),
    "s": ("s", "s"),
    "mL": ("mL", "mL"),
    "ml": ("mL", "mL"),
    "mL/m2": ("mL/m²", "mL/m2"),
    "g": ("g", "g"),
    "g/m2": ("g/m²", "g/m2"),
    "cm2": ("cm²", "cm2"),
    "mm2": ("mm²", "mm2"),
    "cm/s": ("cm/s", "cm/s"),
    "m/s": ("m/s", "m/s"),
    "mm[Hg]": ("mmHg", "mmHg"),
    "/min": ("/min", "/min"),
    "[hnsf'U]": ("HU", "Hounsfield unit"),
    "1": ("", "no units"),
}


def unit_symbol(code: str) -> str:
    """The symbol a report prints after a value of unit ``code`` ("" for unitless).

    Examples
    --------
    >>> unit_symbol("mm"), unit_symbol("mL/m2"), unit_symbol("1")
    ('mm', 'mL/m²', '')
    """
    return _KNOWN.get(code, (code, code))[0]


def unit_meaning(code: str) -> str:
    """The Code Meaning of UCUM ``code`` in a DICOM SR.

    Examples
    --------
    >>> unit_meaning("1"), unit_meaning("%")
    ('no units', '%')
    """
    return _KNOWN.get(code, (code, code))[1]


def with_unit(text: str, code: str) -> str:
    """``text`` followed by the unit's symbol (a space between; nothing for unitless).

    Examples
    --------
    >>> with_unit("+0.41", "mm"), with_unit("62.0", "%"), with_unit("0.95", "1")
    ('+0.41 mm', '62.0 %', '0.95')
    """
    symbol = unit_symbol(code)
    return f"{text} {symbol}" if symbol else text
