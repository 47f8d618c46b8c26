"""Colour to the model's grey input (validation.ingest.pixels.to_grey), value by value.

The BT.601 luma weights and the partial-range Y (16-235 for 8 bits) are those of DICOM PS3.3
C.7.6.3.1.2 (YBR_FULL and YBR_PARTIAL_422 definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from validation.ingest.dicom import Unmeasurable
from validation.ingest.pixels import to_grey
from validation.ingest.rules import ImageRules

RULES = ImageRules()


def test_rgb_is_its_bt601_luminance():
    rgb = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]]], dtype=np.uint8)
    grey = to_grey(rgb, "RGB", rules=RULES)
    # 0.299 * 255 = 76.2, 0.587 * 255 = 149.7, 0.114 * 255 = 29.1, 2.99 + 11.74 + 3.42 = 18.15
    assert grey.tolist() == [[[76, 150, 29, 18]]] and grey.dtype == np.uint8


def test_grey_stored_as_rgb_gives_its_grey_values_exactly():
    grey = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    assert np.array_equal(to_grey(np.repeat(grey[..., None], 3, axis=-1), "RGB", rules=RULES), grey)


def test_full_range_ycbcr_is_its_y_and_partial_range_is_stretched():
    ybr = np.zeros((1, 1, 3, 3), dtype=np.uint8)
    ybr[..., 0] = [16, 125, 235]
    ybr[..., 1:] = 128
    assert to_grey(ybr, "YBR_FULL_422", rules=RULES).tolist() == [[[16, 125, 235]]]
    assert to_grey(ybr, "YBR_PARTIAL_422", rules=RULES).tolist() == [[[0, 127, 255]]]


def test_monochrome1_is_inverted_by_its_bits():
    grey = np.array([[[0, 100, 4095]]], dtype=np.uint16)
    assert to_grey(grey, "MONOCHROME1", rules=RULES, bits_stored=12).tolist() == [[[4095, 3995, 0]]]


def test_colour_is_refused_where_the_card_reads_grey_only_and_palettes_always():
    rgb = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    with pytest.raises(Unmeasurable) as info:
        to_grey(rgb, "RGB", rules=ImageRules(colour="reject"))
    assert info.value.reason == "unsupported_photometric"
    with pytest.raises(Unmeasurable):
        to_grey(rgb, "PALETTE COLOR", rules=RULES)
