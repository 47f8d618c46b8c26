from __future__ import annotations

import pytest

from validation.vendors import manufacturer_matches


@pytest.mark.parametrize(
    ("vendor", "manufacturer", "expected"),
    [
        ("GE", "GE Healthcare", True),
        ("GE", "GE Vingmed Ultrasound", True),
        ("GE", "General Electric Lighting", False),
        ("Siemens", "ACUSON", True),
        ("Canon", "TOSHIBA_MEC_US", True),
        ("Philips", "GE Healthcare", False),
        ("Acme", "Acme Imaging", True),
    ],
)
def test_manufacturer_matches(vendor, manufacturer, expected):
    assert manufacturer_matches(vendor, manufacturer) is expected


def test_site_pattern_overrides():
    assert manufacturer_matches("GE", "Vivid", pattern="^Vivid")
