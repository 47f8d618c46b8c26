"""Which decoder reads each DICOM transfer syntax, and whether this environment has it.

pydicom decodes pixel data through plugins; several can read the same transfer syntax, at
different speeds and under different licences. The toolkit names one preferred plugin per
syntax, with a fallback, all installed with the package (``pyproject.toml``):

* JPEG baseline and extended (8 bit): Pillow (libjpeg-turbo: the fastest here on the colour
  ``YBR_FULL_422`` loops echo machines export), then GDCM;
* JPEG extended 12 bit and JPEG Lossless (process 14, and its selection value 1): GDCM
  (``python-gdcm``, BSD licence; the other decoder, ``pylibjpeg-libjpeg``, is GPL);
* JPEG-LS lossless and near-lossless: ``pyjpegls`` (CharLS, BSD), then GDCM;
* JPEG 2000 and High-Throughput JPEG 2000: ``pylibjpeg`` with ``pylibjpeg-openjpeg``
  (OpenJPEG, MIT/BSD; the only one that reads HTJ2K), then GDCM, then Pillow;
* RLE Lossless: ``pylibjpeg`` with ``pylibjpeg-rle`` (about 4 times pydicom's own NumPy RLE
  decoder here), then pydicom's own;
* uncompressed (implicit and explicit VR, big endian) and deflated: pydicom itself.

Video transfer syntaxes (MPEG-2, MPEG-4, HEVC) have no decoder for pydicom on PyPI; a file
using one, or a transfer syntax this table does not know (a private one), is excluded with
reason ``unsupported_encoding``. A known syntax whose decoders are all missing is a
:class:`~validation.exceptions.DecoderMissingError`: an environment to fix, never a study's
exclusion.
"""

from __future__ import annotations

from functools import cache

from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from validation.exceptions import DecoderMissingError

#: Transfer syntaxes pydicom reads without a plugin.
NATIVE = frozenset(
    {
        ImplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        ExplicitVRBigEndian,
        DeflatedExplicitVRLittleEndian,
    }
)

_PILLOW, _GDCM = ("pillow", "pillow"), ("gdcm", "python-gdcm")
_OPENJPEG, _JPEGLS = ("pylibjpeg", "pylibjpeg-openjpeg"), ("pyjpegls", "pyjpegls")
_J2K = (_OPENJPEG, _GDCM, _PILLOW)

#: Per compressed transfer syntax: the pydicom decoding plugins in order of preference, each
#: with the PyPI package that provides it.
PLUGINS: dict[str, tuple[tuple[str, str], ...]] = {
    JPEGBaseline8Bit: (_PILLOW, _GDCM),
    JPEGExtended12Bit: (_GDCM, _PILLOW),
    JPEGLossless: (_GDCM,),
    JPEGLosslessSV1: (_GDCM,),
    JPEGLSLossless: (_JPEGLS, _GDCM),
    JPEGLSNearLossless: (_JPEGLS, _GDCM),
    JPEG2000Lossless: _J2K,
    JPEG2000: _J2K,
    HTJ2KLossless: (_OPENJPEG,),
    HTJ2KLosslessRPCL: (_OPENJPEG,),
    HTJ2K: (_OPENJPEG,),
    RLELossless: (("pylibjpeg", "pylibjpeg-rle"), ("pydicom", "pydicom")),
}

#: The decoder packages whose versions a results file records (with the other software).
DECODER_PACKAGES = (
    "pillow",
    "python-gdcm",
    "pyjpegls",
    "pylibjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-rle",
)


def is_supported(syntax: str) -> bool:
    """Whether the toolkit reads pixel data in ``syntax`` at all (video and unknown: no)."""
    return syntax in NATIVE or syntax in PLUGINS


def syntax_name(syntax: str) -> str:
    """``1.2.840.10008.1.2.4.70 (JPEG Lossless, Non-Hierarchical, First-Order Prediction)``."""
    name = UID(syntax).name
    return f"{syntax} ({name})" if name and name != syntax else syntax


@cache
def plugin_for(syntax: str) -> str | None:
    """The pydicom decoding plugin to use for ``syntax``; None for the native syntaxes.

    Raises
    ------
    DecoderMissingError
        When no plugin for a supported compressed syntax is installed (the message names the
        packages that would decode it).
    ValueError
        For a syntax :func:`is_supported` refuses.
    """
    if syntax in NATIVE:
        return None
    if syntax not in PLUGINS:
        raise ValueError(f"transfer syntax {syntax_name(syntax)} is not supported")
    from pydicom.pixels import get_decoder

    available = set(get_decoder(UID(syntax)).available_plugins)
    for plugin, _ in PLUGINS[syntax]:
        if plugin in available:
            return plugin
    packages = " or ".join(package for _, package in PLUGINS[syntax])
    raise DecoderMissingError(
        f"transfer syntax {syntax_name(syntax)} needs a decoder that is not installed: "
        f"pip install {packages}"
    )
