"""Decode a cine loop from a file's bytes: native pixel data straight from the buffer.

For uncompressed ("native") 8- or 16-bit grayscale pixel data the frames are a view of the bytes
already read (``numpy.frombuffer``), with no copy and no pydicom pixel handler; anything else
(compressed transfer syntaxes, colour, big-endian) goes through pydicom's ``pixel_array``.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from validation.ingest.checks import IDENTIFYING_ATTRIBUTES
from validation.ingest.dicom import SpacingError
from validation.ingest.header import read_header

_PIXEL_DATA = 0x7FE00010
_NATIVE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}


def decode_cine(data: bytes) -> tuple[np.ndarray, tuple[float, float]]:
    """Frames (frames, rows, columns) and the (row, column) spacing in mm of a DICOM file.

    Raises
    ------
    SpacingError
        When the object has no usable physical spacing.
    ValueError
        When the pixel data are missing or shorter than the header says.
    """
    ds = pydicom.dcmread(io.BytesIO(data), defer_size=4096)
    header = read_header(ds, IDENTIFYING_ATTRIBUTES)
    if header.spacing_mm is None:
        raise SpacingError(header.spacing_problem)
    element = ds.get_item(_PIXEL_DATA, keep_deferred=True)
    if element is None:
        raise ValueError("no pixel data")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    native = (
        isinstance(element, RawDataElement)
        and syntax in _NATIVE
        and header.samples_per_pixel == 1
        and header.bits_allocated in (8, 16)
        and str(ds.get("PixelRepresentation", 0)) == "0"
        and element.length != 0xFFFFFFFF
    )
    if not native:
        frames = pydicom.dcmread(io.BytesIO(data)).pixel_array
        return (frames if frames.ndim == 3 else frames[None]), header.spacing_mm
    dtype = np.dtype(np.uint8) if header.bits_allocated == 8 else np.dtype("<u2")
    count = header.frames * header.rows * header.columns
    if element.value_tell + count * dtype.itemsize > len(data):
        raise ValueError(
            f"pixel data truncated: need {count * dtype.itemsize} bytes at offset "
            f"{element.value_tell}, file holds {len(data)}"
        )
    frames = np.frombuffer(data, dtype=dtype, count=count, offset=element.value_tell)
    return frames.reshape(header.frames, header.rows, header.columns), header.spacing_mm
