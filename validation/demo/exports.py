"""Re-encode a grey demo study into the forms clinical echo exports arrive in.

Echo machines and PACS rarely export what the demo generator writes (uncompressed grey, one
region covering the image). :func:`write_form` rewrites one study as each form of
:data:`FORMS`, with pydicom and with dcmtk's transcoders (``dcmconv``, ``dcmcrle``,
``dcmcjpeg``, ``dcmcjpls``: Debian package ``dcmtk``) as a hospital's system would: other
transfer syntaxes, colour (RGB, YCbCr, 4:2:2) stored from the grey pixels, the image inside a
larger canvas with a banner, a second view or a Doppler strip beside it, a single frame, no
ultrasound regions, and objects that are not images at all. Each form says what reading it
must give (:class:`Expected`): the source's measurement exactly (lossless forms), within a
tolerance (lossy forms), or an exclusion with its reason.

A toolkit user checks their own installation with them (``mval demo exports``); the tests
build them at test time from the demo's studies.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.sequence import Sequence
from pydicom.uid import (
    JPEG2000,
    MPEG4HP41,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    JPEG2000Lossless,
    UltrasoundImageStorage,
    generate_uid,
)

from validation.exceptions import ConfigError

#: Largest difference (mm) allowed between a lossy form's measurement and its source's.
LOSSY_TOLERANCE_MM = 0.1


@dataclass(frozen=True)
class Expected:
    """What reading a form must give: ``identical`` (lossless), ``close`` (lossy, within
    :data:`LOSSY_TOLERANCE_MM`) or ``excluded`` with ``reason``."""

    outcome: str
    reason: str = ""


@dataclass(frozen=True)
class Form:
    """One export form: how it is made and what reading it must give."""

    name: str
    description: str
    make: Callable[[Dataset, Path], None]
    expected: Expected


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigError(f"{name} not found: install dcmtk (Debian package dcmtk)")
    return path


def _save(ds: Dataset, path: Path, syntax: str = ExplicitVRLittleEndian) -> None:
    ds = copy.deepcopy(ds)
    ds.file_meta.TransferSyntaxUID = syntax
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _dcmtk(*command: str, source: Dataset, out: Path) -> None:
    """Save ``source`` uncompressed beside ``out``, run a dcmtk transcoder ``in -> out``."""
    staged = out.with_suffix(".in.dcm")
    _save(source, staged)
    try:
        subprocess.run(
            [_tool(command[0]), *command[1:], str(staged), str(out)],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        staged.unlink(missing_ok=True)


def _frames(ds: Dataset) -> np.ndarray:
    frames = ds.pixel_array
    return frames if frames.ndim == 3 else frames[None]


def _as_colour(ds: Dataset, *, planar: int = 0, photometric: str = "RGB") -> Dataset:
    """``ds`` with its grey pixels stored as three samples (R = G = B, or their YCbCr)."""
    grey = _frames(ds)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    out = copy.deepcopy(ds)
    out.SamplesPerPixel = 3
    out.PlanarConfiguration = planar
    out.PhotometricInterpretation = photometric
    if photometric == "RGB":
        pixels = rgb
    elif photometric == "YBR_FULL":
        pixels = convert_color_space(rgb, "RGB", "YBR_FULL")
    elif photometric == "YBR_FULL_422":  # per pixel pair: Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2)
        ybr = convert_color_space(rgb, "RGB", "YBR_FULL").astype(np.uint16)
        pairs = np.empty((*ybr.shape[:2], ybr.shape[2] // 2, 4), dtype=np.uint8)
        pairs[..., 0], pairs[..., 1] = ybr[..., 0::2, 0], ybr[..., 1::2, 0]
        pairs[..., 2] = (ybr[..., 0::2, 1] + ybr[..., 1::2, 1]) // 2
        pairs[..., 3] = (ybr[..., 0::2, 2] + ybr[..., 1::2, 2]) // 2
        out.PixelData = pairs.tobytes()
        return out
    else:  # pragma: no cover (a programming error)
        raise ValueError(photometric)
    if planar:
        pixels = pixels.transpose(0, 3, 1, 2)
    out.PixelData = np.ascontiguousarray(pixels).tobytes()
    return out


def _region(
    ds: Dataset, x0: int, y0: int, *, fmt: int = 1, kind: int = 1, width: int = 0, height: int = 0
) -> Dataset:
    """A copy of the source's region moved to (x0, y0), optionally another size and format."""
    region = copy.deepcopy(ds.SequenceOfUltrasoundRegions[0])
    width = width or int(region.RegionLocationMaxX1) - int(region.RegionLocationMinX0) + 1
    height = height or int(region.RegionLocationMaxY1) - int(region.RegionLocationMinY0) + 1
    region.RegionSpatialFormat, region.RegionDataType = fmt, kind
    region.RegionLocationMinX0, region.RegionLocationMinY0 = x0, y0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = x0 + width - 1, y0 + height - 1
    if fmt != 1:  # a spectral Doppler strip: time (s) across, velocity (cm/s) down
        region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = 4, 7
        region.PhysicalDeltaX, region.PhysicalDeltaY = 0.01, 1.0
    return region


def _canvas(ds: Dataset, layout: str) -> Dataset:
    """The source image inside a larger canvas, as ultrasound systems export a screen.

    ``banner``: a 40-pixel banner of text-like bright marks above the image, 24 pixels of
    margin left and right; ``two_views``: a second, different view (the source flipped) to the
    right, each with its own 2D region; ``doppler``: a spectral Doppler strip (its own region,
    not 2D) below the image.
    """
    grey = _frames(ds)
    frames, rows, cols = grey.shape
    rng = np.random.default_rng(7)
    if layout == "banner":
        canvas = np.zeros((frames, rows + 40 + 8, cols + 48), dtype=np.uint8)
        canvas[:, 8:30, 30:-30] = rng.integers(150, 255, (frames, 22, cols - 12), dtype=np.uint8)
        canvas[:, 48:, 24 : 24 + cols] = grey
        regions = [_region(ds, 24, 48)]
    elif layout == "two_views":
        canvas = np.zeros((frames, rows, 2 * cols + 16), dtype=np.uint8)
        canvas[:, :, :cols] = grey
        canvas[:, :, cols + 16 :] = grey[:, :, ::-1]
        regions = [_region(ds, 0, 0), _region(ds, cols + 16, 0)]
    elif layout == "doppler":
        strip = 48
        canvas = np.zeros((frames, rows + strip, cols), dtype=np.uint8)
        canvas[:, :rows] = grey
        canvas[:, rows:] = rng.integers(0, 200, (frames, strip, cols), dtype=np.uint8)
        regions = [_region(ds, 0, 0), _region(ds, 0, rows, fmt=3, kind=3, height=strip)]
    else:  # pragma: no cover (a programming error)
        raise ValueError(layout)
    out = copy.deepcopy(ds)
    out.Rows, out.Columns = canvas.shape[1:]
    out.SequenceOfUltrasoundRegions = Sequence(regions)
    out.PixelData = canvas.tobytes()
    return out


def _one_frame(ds: Dataset, *, colour: bool = False, sop_class: str | None = None) -> Dataset:
    out = copy.deepcopy(ds)
    out.NumberOfFrames = 1
    out.PixelData = _frames(ds)[:1].tobytes()
    if colour:
        out = _as_colour(out)
        del out.NumberOfFrames  # a one-frame colour image often has none
    if sop_class is not None:
        out.SOPClassUID = out.file_meta.MediaStorageSOPClassUID = sop_class
        for keyword in ("NumberOfFrames", "FrameTime", "FrameIncrementPointer", "CineRate"):
            if keyword in out:
                delattr(out, keyword)
    return out


def _small(ds: Dataset, pixels: int = 96) -> Dataset:
    """The top-left ``pixels`` x ``pixels`` of the image, its region shrunk to match."""
    out = copy.deepcopy(ds)
    out.Rows = out.Columns = pixels
    out.SequenceOfUltrasoundRegions = Sequence([_region(ds, 0, 0, width=pixels, height=pixels)])
    out.PixelData = np.ascontiguousarray(_frames(ds)[:, :pixels, :pixels]).tobytes()
    return out


def _pixel_spacing_only(ds: Dataset) -> Dataset:
    out = copy.deepcopy(ds)
    region = out.SequenceOfUltrasoundRegions[0]
    delta = float(region.PhysicalDeltaY) * 10.0, float(region.PhysicalDeltaX) * 10.0
    del out.SequenceOfUltrasoundRegions
    out.PixelSpacing = [f"{delta[0]:.6g}", f"{delta[1]:.6g}"]
    return out


def _structured_report(ds: Dataset) -> Dataset:
    out = Dataset()
    out.file_meta = copy.deepcopy(ds.file_meta)
    out.SOPClassUID = out.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    out.SOPInstanceUID = out.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword in ("StudyInstanceUID", "PatientID", "Manufacturer", "PatientIdentityRemoved"):
        setattr(out, keyword, ds.get(keyword))
    out.Modality = "SR"
    out.ValueType, out.CompletionFlag, out.VerificationFlag = "CONTAINER", "COMPLETE", "UNVERIFIED"
    return out


def _video(ds: Dataset) -> Dataset:
    """The loop as if stored as an MPEG-4 stream (its bytes are not real video: nothing may
    try to decode it)."""
    out = copy.deepcopy(ds)
    out.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    out["PixelData"].VR = "OB"
    out.file_meta.TransferSyntaxUID = MPEG4HP41
    return out


def _pydicom(transform: Callable[[Dataset], Dataset], syntax: str = ExplicitVRLittleEndian):
    def make(ds: Dataset, out: Path) -> None:
        _save(transform(ds), out, syntax)

    return make


def _compressed(syntax: str, **options: object):
    def make(ds: Dataset, out: Path) -> None:
        compressed = copy.deepcopy(ds)
        compressed.compress(syntax, **options)
        _save(compressed, out, syntax)

    return make


def _htj2k(ds: Dataset, out: Path) -> None:
    """HTJ2K lossless, each frame encoded by OpenJPH through ``imagecodecs`` (pydicom has no
    HTJ2K encoder; the toolkit decodes it with OpenJPEG)."""
    try:
        import imagecodecs
    except ImportError:
        raise ConfigError(
            "the htj2k_lossless form needs imagecodecs: pip install imagecodecs"
        ) from None
    encoded = copy.deepcopy(ds)
    frames = [imagecodecs.htj2k_encode(frame, reversible=True) for frame in _frames(ds)]
    encoded.PixelData = encapsulate(frames)
    encoded["PixelData"].VR = "OB"
    encoded.LossyImageCompression = "00"
    _save(encoded, out, HTJ2KLossless)


def _via(*command: str, transform: Callable[[Dataset], Dataset] | None = None):
    def make(ds: Dataset, out: Path) -> None:
        _dcmtk(*command, source=transform(ds) if transform else ds, out=out)

    return make


def _dicomdir(ds: Dataset, out: Path) -> None:
    """A DICOMDIR of an export medium listing one image (made by dcmmkdir)."""
    media = out.parent / f"{out.stem}-media"
    image = media / "IMAGES" / "IM0001"
    _save(ds, image)
    subprocess.run(
        [_tool("dcmmkdir"), "--general-purpose", "+id", str(media), "+r", "+I"],
        cwd=media,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    shutil.move(media / "DICOMDIR", out)
    shutil.rmtree(media)


SAME, CLOSE = Expected("identical"), Expected("close")


def _excluded(reason: str) -> Expected:
    return Expected("excluded", reason)


#: Every export form, by name.
FORMS: dict[str, Form] = {
    form.name: form
    for form in (
        Form("implicit_vr", "implicit VR little endian", _via("dcmconv", "+ti"), SAME),
        Form("big_endian", "explicit VR big endian (retired)", _via("dcmconv", "+tb"), SAME),
        Form("deflated", "deflated explicit VR little endian", _via("dcmconv", "+td"), SAME),
        Form("rle", "RLE lossless", _via("dcmcrle"), SAME),
        Form(
            "jpeg_lossless_p14", "JPEG lossless, process 14 (SV 6)", _via("dcmcjpeg", "+el"), SAME
        ),
        Form("jpeg_lossless_sv1", "JPEG lossless, SV1", _via("dcmcjpeg", "+e1"), SAME),
        Form("jpeg_ls_lossless", "JPEG-LS lossless", _via("dcmcjpls", "+el"), SAME),
        Form("jpeg2000_lossless", "JPEG 2000 lossless", _compressed(JPEG2000Lossless), SAME),
        Form("htj2k_lossless", "High-Throughput JPEG 2000 lossless", _htj2k, SAME),
        Form("jpeg_baseline", "JPEG baseline (lossy), grey", _via("dcmcjpeg", "+eb"), CLOSE),
        Form("jpeg_extended", "JPEG extended (lossy), grey", _via("dcmcjpeg", "+ee"), CLOSE),
        Form("jpeg_ls_near", "JPEG-LS near-lossless", _via("dcmcjpls", "+en"), CLOSE),
        Form("jpeg2000_lossy", "JPEG 2000 (lossy)", _compressed(JPEG2000, j2k_psnr=[45]), CLOSE),
        Form("rgb", "RGB, pixel-interleaved", _pydicom(_as_colour), SAME),
        Form(
            "rgb_planar",
            "RGB, plane-interleaved",
            _pydicom(lambda d: _as_colour(d, planar=1)),
            SAME,
        ),
        Form(
            "ybr_full",
            "YBR_FULL, uncompressed",
            _pydicom(lambda d: _as_colour(d, photometric="YBR_FULL")),
            SAME,
        ),
        Form(
            "ybr_full_422",
            "YBR_FULL_422, uncompressed",
            _pydicom(lambda d: _as_colour(d, photometric="YBR_FULL_422")),
            SAME,
        ),
        Form(
            "ybr_full_422_deflated",
            "YBR_FULL_422, deflated",
            _pydicom(
                lambda d: _as_colour(d, photometric="YBR_FULL_422"), DeflatedExplicitVRLittleEndian
            ),
            SAME,
        ),
        Form("rgb_rle", "RGB, RLE lossless", _via("dcmcrle", transform=_as_colour), SAME),
        Form(
            "rgb_jpeg_ls",
            "RGB, JPEG-LS lossless",
            _via("dcmcjpls", "+el", transform=_as_colour),
            SAME,
        ),
        Form(
            "rgb_jpeg_lossless",
            "RGB, JPEG lossless SV1",
            _via("dcmcjpeg", "+e1", transform=_as_colour),
            SAME,
        ),
        Form(
            "colour_jpeg_baseline",
            "colour JPEG baseline, YBR_FULL_422 (the common echo export)",
            _via("dcmcjpeg", "+eb", transform=_as_colour),
            CLOSE,
        ),
        Form(
            "canvas_banner",
            "image in a larger canvas under a banner",
            _pydicom(lambda d: _canvas(d, "banner")),
            SAME,
        ),
        Form(
            "doppler_strip",
            "image above a spectral Doppler strip",
            _pydicom(lambda d: _canvas(d, "doppler")),
            SAME,
        ),
        Form(
            "two_views",
            "two 2D views side by side",
            _pydicom(lambda d: _canvas(d, "two_views")),
            _excluded("ambiguous_regions"),
        ),
        Form(
            "one_frame", "a one-frame loop, grey", _pydicom(_one_frame), _excluded("too_few_frames")
        ),
        Form(
            "one_frame_rgb",
            "a one-frame RGB image without NumberOfFrames",
            _pydicom(lambda d: _one_frame(d, colour=True)),
            _excluded("too_few_frames"),
        ),
        Form(
            "single_frame_class",
            "Ultrasound Image Storage (single-frame SOP class)",
            _pydicom(lambda d: _one_frame(d, sop_class=UltrasoundImageStorage)),
            _excluded("single_frame"),
        ),
        Form(
            "small_region",
            "a 96 x 96-pixel image (about 40 mm, smaller than the demo model's field)",
            _pydicom(_small),
            _excluded("region_too_small"),
        ),
        Form(
            "pixel_spacing_only",
            "PixelSpacing, no SequenceOfUltrasoundRegions",
            _pydicom(_pixel_spacing_only),
            _excluded("no_spacing"),
        ),
        Form(
            "video",
            "MPEG-4 video transfer syntax",
            _pydicom(_video, MPEG4HP41),
            _excluded("unsupported_encoding"),
        ),
        Form(
            "structured_report",
            "a structured report (no image)",
            _pydicom(_structured_report),
            _excluded("non_image_object"),
        ),
        Form("dicomdir", "DICOMDIR of the export medium", _dicomdir, _excluded("dicomdir")),
    )
}


def write_form(name: str, source: str | Path | Dataset, out: str | Path) -> Path:
    """Write ``source`` (a grey demo study, file or dataset) as the export form ``name``.

    Raises
    ------
    ConfigError
        An unknown form, or a dcmtk tool missing.
    """
    if name not in FORMS:
        raise ConfigError(f"unknown export form {name!r}; known: {', '.join(FORMS)}")
    ds = source if isinstance(source, Dataset) else pydicom.dcmread(source)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    FORMS[name].make(ds, out)
    return out
