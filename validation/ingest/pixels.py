"""Decode a cine loop from a file's bytes into the model's grey input, cropped to its region.

Every transfer syntax of :mod:`validation.ingest.decoders` is read, with the decoder that table
prefers. Colour becomes the luminance the model card asks for (``inputs.colour: luminance``):
the Y channel of a YCbCr image as decoded (YBR_FULL, YBR_FULL_422, the JPEG colour exports;
partial-range Y stretched to 0-255), ``0.299 R + 0.587 G + 0.114 B`` of an RGB image (ITU-R
BT.601, the weights of DICOM's YBR_FULL, PS3.3 C.7.6.3.1.2), rounded, so that a grey image
stored as colour gives back its grey values exactly. MONOCHROME1 is inverted. The frames are
then cropped to the 2D region the header declares (:func:`validation.ingest.dicom.select_region`),
so banners, a larger canvas or a second view never reach the model.

For uncompressed 8- or 16-bit grey pixel data the frames are a view of the bytes already read
(``numpy.frombuffer``), with no copy and no pydicom decoder.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from validation.ingest.checks import IDENTIFYING_ATTRIBUTES
from validation.ingest.decoders import plugin_for
from validation.ingest.dicom import Unmeasurable
from validation.ingest.header import Header, read_header
from validation.ingest.rules import ImageRules

_PIXEL_DATA = 0x7FE00010
_NATIVE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
#: ITU-R BT.601 luma weights of R, G and B.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def decode_cine(
    data: bytes, rules: ImageRules | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Grey frames (frames, rows, columns) of a DICOM file's region, and its (row, column)
    spacing in mm.

    Parameters
    ----------
    data : bytes
        The whole file.
    rules : ImageRules, optional
        The model's reading rules (region choice, spacing sources, colour); default
        :class:`~validation.ingest.rules.ImageRules`.

    Raises
    ------
    Unmeasurable
        When the header gives no region to read (``no_spacing``, ``ambiguous_regions``) or the
        colour model is not one the rules read.
    DecoderMissingError
        When the transfer syntax needs a decoder that is not installed.
    ValueError
        When the pixel data are missing or shorter than the header says, or cannot be decoded.
    """
    rules = rules or ImageRules()
    ds = pydicom.dcmread(io.BytesIO(data), defer_size=4096)
    header = read_header(ds, IDENTIFYING_ATTRIBUTES, rules)
    if header.region is None:
        reason, detail = header.region_problem or ("no_spacing", "no region")
        raise Unmeasurable(detail, reason)
    region = header.region
    frames = _native_grey(ds, header, data)
    if frames is None:
        frames = _decoded_grey(data, header, rules)
    return frames[:, region.y0 : region.y1 + 1, region.x0 : region.x1 + 1], region.spacing_mm


def _native_grey(ds: pydicom.Dataset, header: Header, data: bytes) -> np.ndarray | None:
    """Uncompressed 8/16-bit MONOCHROME2 frames as a view of ``data``, or None for any other
    encoding."""
    element = ds.get_item(_PIXEL_DATA, keep_deferred=True)
    if element is None:
        raise ValueError("no pixel data")
    native = (
        isinstance(element, RawDataElement)
        and header.transfer_syntax in _NATIVE
        and header.samples_per_pixel == 1
        and header.photometric in ("", "MONOCHROME2")
        and header.bits_allocated in (8, 16)
        and str(ds.get("PixelRepresentation", 0)) == "0"
        and element.length != 0xFFFFFFFF
    )
    if not native:
        return None
    dtype = np.dtype(np.uint8) if header.bits_allocated == 8 else np.dtype("<u2")
    count = header.frames * header.rows * header.columns
    if element.value_tell + count * dtype.itemsize > len(data):
        raise ValueError(
            f"pixel data truncated: need {count * dtype.itemsize} bytes at offset "
            f"{element.value_tell}, file holds {len(data)}"
        )
    frames = np.frombuffer(data, dtype=dtype, count=count, offset=element.value_tell)
    return frames.reshape(header.frames, header.rows, header.columns)


def _decoded_grey(data: bytes, header: Header, rules: ImageRules) -> np.ndarray:
    """Decode with the preferred plugin, in the colour space the decoder delivers, then to
    grey (frames, rows, columns)."""
    plugin = plugin_for(header.transfer_syntax or ExplicitVRLittleEndian)
    decoder = get_decoder(UID(header.transfer_syntax or ExplicitVRLittleEndian))
    options = {"decoding_plugin": plugin} if plugin else {}
    ds = pydicom.dcmread(io.BytesIO(data))
    array, meta = decoder.as_array(ds, as_rgb=False, **options)
    photometric = str(meta.get("photometric_interpretation") or header.photometric)
    samples = int(meta.get("samples_per_pixel") or header.samples_per_pixel)
    frames = int(meta.get("number_of_frames") or header.frames)
    if frames == 1 and array.ndim == (3 if samples > 1 else 2):
        array = array[None]
    expected = 4 if samples > 1 else 3
    if array.ndim != expected:
        raise ValueError(f"decoded pixel data have shape {array.shape}, expected {expected} axes")
    return to_grey(array, photometric, rules=rules, bits_stored=int(ds.get("BitsStored", 8)))


def to_grey(
    array: np.ndarray, photometric: str, *, rules: ImageRules, bits_stored: int = 8
) -> np.ndarray:
    """Decoded frames (frames, rows, columns[, samples]) in ``photometric`` as grey.

    Examples
    --------
    >>> rgb = np.full((1, 2, 2, 3), 90, dtype=np.uint8)  # a grey image stored as RGB
    >>> to_grey(rgb, "RGB", rules=ImageRules())[0, 0]
    array([90, 90], dtype=uint8)
    """
    if photometric == "MONOCHROME2":
        return array
    if photometric == "MONOCHROME1":
        return (2**bits_stored - 1) - array
    if rules.colour != "luminance":
        raise Unmeasurable(
            f"PhotometricInterpretation {photometric}; the model card reads grey only",
            "unsupported_photometric",
        )
    if photometric == "RGB":
        luma = array.astype(np.float32) @ LUMA_WEIGHTS.astype(np.float32)
        return np.rint(luma).astype(array.dtype)
    if photometric in ("YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"):
        return np.ascontiguousarray(array[..., 0])
    if photometric in ("YBR_PARTIAL_422", "YBR_PARTIAL_420"):
        top = 2**bits_stored - 1
        y = (array[..., 0].astype(np.float32) - 16 * (top / 255)) * (255 / 219)
        return np.clip(np.rint(y), 0, top).astype(array.dtype)
    raise Unmeasurable(
        f"PhotometricInterpretation {photometric} is not read", "unsupported_photometric"
    )
