"""A second worked example: a small LV ejection fraction (LVEF) study, as a hospital holds it.

Two sites (h01, h02), two vendors each (GE, Philips), a few dozen transthoracic studies: one
apical four-chamber-like cine loop per study (DICOM US Multi-frame Image, 16 frames over one
heart beat, physical pixel size in ``SequenceOfUltrasoundRegions``), and per site a reference
CSV of two readers' LVEF, their consensus and a reduced-EF label. The sites name their columns
their own way (h01 ``StudyUID`` / ``EF_biplane_pct`` / ``reduced_ef``, h02 ``study_uid`` /
``LVEF_consensus`` / ``EF_below_40``), so the study exercises the site files' column mapping.

Geometry and the true EF. The left-ventricular cavity is a dark ellipse (semi-axes ``a`` along
the long axis, ``b`` across it) inside a bright myocardial wall, its apex near the transducer.
Over the beat the cavity keeps its shape and its apex: both semi-axes scale by ``s(t)``, 1 at
end-diastole and ``s_es`` at end-systole. The LV volume is the single-plane area-length volume

    V = 8 A^2 / (3 pi L),   A = pi a b,  L = 2 a   =>   V = (4/3) pi a b^2,

the volume of the prolate ellipsoid the ellipse outlines, and the true ejection fraction is

    EF = 100 (EDV - ESV) / EDV = 100 (1 - s_es^3),

which, because the shape is kept, equals the area proxy ``100 (1 - (A_es / A_ed)^(3/2))``: a
method that measures only the cavity's area recovers it. :func:`area_length_volume` and
:func:`ejection_fraction` compute it from the axes.

What a hospital would have: de-identified headers (pseudonymous ``H01-GE00001`` patient IDs,
``PatientIdentityRemoved YES``), vendor-specific pixel size, image size, gain and contrast,
speckle, near-field clutter on poorer windows. What it would not have, the true EF, is written
apart (``truth.csv``) for tests and for judging the example.

Run ``python -m validation.demo.lvef --out data/lvef --seed 7 --n 48``: the repository's
``sites/lvef/*.yaml`` read exactly that layout.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from scipy import ndimage

from validation.demo.dicom_writer import StudyRecord, build_dataset, demo_uid, write_dataset
from validation.demo.population import sample_patient
from validation.demo.profiles import TEST_PERIOD, VendorProfile
from validation.exceptions import ConfigError
from validation.hashing import sha256_file

#: Reduced ejection fraction: the reference's positive rule (consensus LVEF below 40 %).
REDUCED_EF_PERCENT = 40.0

#: The cardiac cycle: one beat at 70 per minute in 16 frames.
N_FRAMES = 16
HEART_RATE = 70

#: The ultrasound sector: apex this far above the image, this half-angle (degrees).
SECTOR_APEX_MM = 10.0
SECTOR_HALF_ANGLE_DEG = 42.0

#: Each vendor's acquisition: pixel size, image size, speckle, point-spread, gain; and contrast
#: (the exponent of the display curve, applied after the gain) in :data:`CONTRAST`.
VENDORS: dict[str, VendorProfile] = {
    "GE": VendorProfile(
        key="GE",
        manufacturer="GE Healthcare",
        models=("Vivid E95", "Vivid S70N"),
        software_versions=("EchoPAC 204", "EchoPAC 206"),
        spacing_mm=1.20,
        rows=112,
        columns=112,
        n_frames=N_FRAMES,
        frame_time_ms=60_000.0 / HEART_RATE / N_FRAMES,
        speckle_shape=2.2,
        speckle_size_mm=1.6,
        blur_axial_mm=1.2,
        blur_lateral_mm=2.0,
        gain=1.00,
    ),
    "Philips": VendorProfile(
        key="Philips",
        manufacturer="Philips",
        models=("EPIQ CVx", "Affiniti 70"),
        software_versions=("9.0.3", "10.0.1"),
        spacing_mm=1.10,
        rows=120,
        columns=120,
        n_frames=N_FRAMES,
        frame_time_ms=60_000.0 / HEART_RATE / N_FRAMES,
        speckle_shape=2.8,
        speckle_size_mm=1.3,
        blur_axial_mm=1.0,
        blur_lateral_mm=1.7,
        gain=0.82,
    ),
}
CONTRAST = {"GE": 0.80, "Philips": 1.10}


@dataclass(frozen=True)
class LvefSite:
    """A test site of the LVEF example and how its reference file names its columns."""

    id: str
    name: str
    vendors: tuple[str, ...]
    #: this site's names for: key, reader 1, reader 2, consensus, reduced-EF label
    columns: tuple[str, str, str, str, str]


SITES: tuple[LvefSite, ...] = (
    LvefSite(
        "h01",
        "Lakeside General Hospital",
        ("GE", "Philips"),
        ("StudyUID", "EF_reader_A_pct", "EF_reader_B_pct", "EF_biplane_pct", "reduced_ef"),
    ),
    LvefSite(
        "h02",
        "Hillcrest Heart Centre",
        ("GE", "Philips"),
        ("study_uid", "LVEF_reader1", "LVEF_reader2", "LVEF_consensus", "EF_below_40"),
    ),
)

#: Each reader's systematic bias and random error SD (EF points); their mean, the consensus,
#: errs by about 4 points (SD) around the truth.
READERS = ((1.0, 5.5), (-1.5, 5.5))
_EDGE_MM = 0.6  # softness of tissue boundaries
_CLUTTER = {"good": 0.0, "adequate": 0.04, "poor": 0.10}  # near-field haze, grey level
_NOISE = {"good": 0.03, "adequate": 0.05, "poor": 0.08}
MANIFEST = ".lvef-demo-manifest.json"


@dataclass(frozen=True)
class LeftVentricle:
    """One study's LV in the apical four-chamber window (millimetres, degrees)."""

    semi_long_mm: float  # a at end-diastole
    semi_short_mm: float  # b at end-diastole
    end_systolic_scale: float  # s_es: both semi-axes at end-systole, relative to end-diastole
    apex_depth_mm: float
    lateral_mm: float  # the apex's offset from the sector's axis
    tilt_deg: float
    wall_mm: float  # myocardial thickness at end-diastole
    ed_frame: int
    quality: str  # good, adequate, poor

    @property
    def ef_percent(self) -> float:
        """The true LVEF: area-length volumes at end-diastole and end-systole."""
        a, b, s = self.semi_long_mm, self.semi_short_mm, self.end_systolic_scale
        return ejection_fraction((a, b), (s * a, s * b))


def area_length_volume(area_mm2: float, length_mm: float) -> float:
    """Single-plane area-length LV volume ``8 A^2 / (3 pi L)`` in mL (area mm², length mm).

    For an ellipse of semi-axes ``a`` (along ``L = 2a``) and ``b`` this is ``(4/3) pi a b^2``,
    the prolate ellipsoid's volume.

    Examples
    --------
    >>> a, b = 40.0, 20.0
    >>> ellipsoid_ml = 4 / 3 * math.pi * a * b * b / 1000
    >>> math.isclose(area_length_volume(math.pi * a * b, 2 * a), ellipsoid_ml)
    True
    """
    return 8.0 * area_mm2**2 / (3.0 * math.pi * length_mm) / 1000.0


def ejection_fraction(diastole: tuple[float, float], systole: tuple[float, float]) -> float:
    """EF (%) from the cavity's (semi-long, semi-short) axes (mm) at end-diastole and -systole.

    Examples
    --------
    >>> round(ejection_fraction((40.0, 20.0), (40.0 * 0.8, 20.0 * 0.8)), 2)  # 1 - 0.8**3
    48.8
    """
    (a_d, b_d), (a_s, b_s) = diastole, systole
    edv = area_length_volume(math.pi * a_d * b_d, 2.0 * a_d)
    esv = area_length_volume(math.pi * a_s * b_s, 2.0 * a_s)
    return 100.0 * (edv - esv) / edv


def sample_ef(rng: np.random.Generator) -> float:
    """A referred population's true LVEF: about a third reduced (below 40 %)."""
    if rng.random() < 0.35:
        return float(rng.uniform(15.0, 42.0))
    return float(np.clip(rng.normal(58.0, 7.0), 38.0, 75.0))


def sample_ventricle(ef_percent: float, quality: str, rng: np.random.Generator) -> LeftVentricle:
    """The rest of an LV's geometry around a true EF, inside the field every vendor images."""
    return LeftVentricle(
        semi_long_mm=float(rng.uniform(37.0, 46.0)),
        semi_short_mm=float(rng.uniform(19.0, 25.0)),
        end_systolic_scale=float((1.0 - ef_percent / 100.0) ** (1.0 / 3.0)),
        apex_depth_mm=float(rng.uniform(14.0, 20.0)),
        lateral_mm=float(rng.uniform(-3.0, 3.0)),
        tilt_deg=float(rng.uniform(-5.0, 5.0)),
        wall_mm=float(rng.uniform(8.0, 11.0)),
        ed_frame=int(rng.integers(0, N_FRAMES)),
        quality=quality,
    )


def cavity_scale_by_frame(lv: LeftVentricle, n_frames: int = N_FRAMES) -> np.ndarray:
    """``s(t)``: 1 at end-diastole, ``s_es`` half a beat later, a cosine in between."""
    phase = 2.0 * np.pi * (np.arange(n_frames) - lv.ed_frame) / n_frames
    return 1.0 - (1.0 - lv.end_systolic_scale) * 0.5 * (1.0 - np.cos(phase))


def _step(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x / _EDGE_MM))


def render_a4c(
    lv: LeftVentricle, profile: VendorProfile, contrast: float, rng: np.random.Generator
) -> np.ndarray:
    """Render one apical four-chamber-like loop as uint8 frames (frames, rows, columns).

    Tissue is mid-grey, the myocardium bright, the blood pool dark; multiplicative speckle, the
    vendor's point-spread, additive noise, gain and contrast follow, then the sector.
    """
    n_frames, rows, cols, dx = profile.n_frames, profile.rows, profile.columns, profile.spacing_mm
    y = (np.arange(rows) + 0.5) * dx
    x = (np.arange(cols) - cols / 2.0 + 0.5) * dx
    yy, xx = np.meshgrid(y, x, indexing="ij")
    theta = np.deg2rad(lv.tilt_deg)
    dy, dxx = yy - lv.apex_depth_mm, xx - lv.lateral_mm
    along = dy * np.cos(theta) + dxx * np.sin(theta)  # from the apex towards the base
    across = -dy * np.sin(theta) + dxx * np.cos(theta)

    scale = cavity_scale_by_frame(lv, n_frames)
    frames = np.empty((n_frames, rows, cols))
    for t, s in enumerate(scale):
        a, b = lv.semi_long_mm * s, lv.semi_short_mm * s
        wall = lv.wall_mm / s**0.7  # the wall thickens as the cavity shrinks
        inner = np.hypot((along - a) / a, across / b)
        outer = np.hypot((along - a) / (a + wall), across / (b + wall))
        cavity = _step((1.0 - inner) * b)
        myocardium = _step((1.0 - outer) * (b + wall))
        frames[t] = 0.50 + (0.80 - 0.50) * myocardium - (0.80 - 0.04) * cavity
    frames += _CLUTTER[lv.quality] * np.exp(-yy / 25.0)  # near-field haze

    speckle = rng.gamma(profile.speckle_shape, 1.0 / profile.speckle_shape, frames.shape)
    grain = profile.speckle_size_mm / dx / 2.0
    speckle = ndimage.gaussian_filter(speckle, sigma=(0, grain, grain))
    speckle = 1.0 + (speckle - speckle.mean()) / max(speckle.std(), 1e-6) * 0.35
    image = frames * np.clip(speckle, 0.05, None)
    image = ndimage.gaussian_filter(
        image, sigma=(0, profile.blur_axial_mm / dx / 2.355, profile.blur_lateral_mm / dx / 2.355)
    )
    image += rng.normal(0.0, _NOISE[lv.quality], image.shape)
    image = np.clip(image * profile.gain, 0.0, 1.0) ** contrast
    angle = np.abs(np.arctan2(xx, yy + SECTOR_APEX_MM))
    image *= angle <= np.deg2rad(SECTOR_HALF_ANGLE_DEG)
    return np.round(image * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class LvefStudy:
    """One generated study before it is written."""

    record: StudyRecord
    ventricle: LeftVentricle
    frames: np.ndarray


def synthesize_lvef_study(
    seed: int, cohort: str, site_index: int, site: LvefSite, vendor: str, index: int
) -> LvefStudy:
    """One study, deterministic from its key (``cohort`` is ``test`` or ``development``)."""
    cohorts = ("test", "development")
    if cohort not in cohorts:
        raise ConfigError(f"cohort must be one of {cohorts}, got {cohort!r}")
    profile = VENDORS[vendor]
    rng = np.random.default_rng(
        [seed, 17, cohorts.index(cohort), site_index, sorted(VENDORS).index(vendor), index]
    )
    patient = sample_patient(rng)  # age, sex, height, weight, image quality (its IVSd unused)
    ventricle = sample_ventricle(sample_ef(rng), patient.quality, rng)
    frames = render_a4c(ventricle, profile, CONTRAST[vendor], rng)
    start, end = TEST_PERIOD
    key = ("lvef", seed, cohort, site.id, vendor, index)
    record = StudyRecord(
        patient_id=f"{site.id.upper()}-{vendor[:2].upper()}{index:05d}",
        study_uid=demo_uid("study", *key),
        series_uid=demo_uid("series", *key),
        sop_uid=demo_uid("sop", *key),
        study_date=start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1))),
        vendor=profile,
        scanner_model=profile.models[int(rng.integers(len(profile.models)))],
        software_version=profile.software_versions[
            int(rng.integers(len(profile.software_versions)))
        ],
        device_serial=f"{vendor[:2].upper()}{site_index:02d}{int(rng.integers(100, 999))}",
        patient=patient,
        institution=site.name,
    )
    return LvefStudy(record=record, ventricle=ventricle, frames=frames)


def build_a4c_dataset(study: LvefStudy) -> Dataset:
    """The study's DICOM dataset: the demo's writer, with this example's view and heart rate.

    :func:`validation.demo.dicom_writer.build_dataset` writes a parasternal long-axis series at
    70 per minute; the apical view is set here (a ``series_description`` and ``heart_rate``
    argument to the writer would do it there).
    """
    ds = build_dataset(study.record, study.frames)
    ds.SeriesDescription = "A4C 2D"
    ds.HeartRate = HEART_RATE
    return ds


def read_reference(ef_percent: float, rng: np.random.Generator) -> tuple[float, float, float, int]:
    """Two blinded readers' LVEF (%), their consensus and the reduced-EF label (0/1)."""
    readings = [round(float(ef_percent + bias + rng.normal(0.0, sd)), 1) for bias, sd in READERS]
    consensus = round(float(np.mean(readings)), 2)
    return readings[0], readings[1], consensus, int(consensus < REDUCED_EF_PERCENT)


def generate_lvef_study(out: Path, *, n_studies: int = 48, seed: int = 7) -> dict:
    """Write the LVEF example under ``out`` and return a summary.

    Parameters
    ----------
    out : Path
        The example's folder: ``test/<site>/<vendor>/<PatientID>/IM_0001.dcm``,
        ``reference/<site>.csv`` (each site's own column names), ``truth.csv`` (the true EF
        and geometry, which no hospital has), ``lvef-summary.json`` and a manifest of every
        file written with its sha256. Nothing is written or deleted outside ``out``. A folder
        this function wrote before is rewritten (its previous files removed first); a
        non-empty folder holding any file it did not write is refused.
    n_studies : int
        Studies over the four site × vendor partitions (at least 4 each), split evenly.
    seed : int
        Everything is deterministic from it.

    Returns
    -------
    dict
        ``seed``, ``n_studies``, ``partitions`` (``site/vendor`` -> studies), ``reduced_ef``
        (studies with a reduced consensus EF), ``references`` (site -> path), ``truth``,
        ``manifest``.

    Raises
    ------
    ConfigError
        When ``n_studies`` is too small or ``out`` holds files this generator did not write.
    """
    out = Path(out)
    partitions = [(i, site, v) for i, site in enumerate(SITES) for v in site.vendors]
    if isinstance(n_studies, bool) or not isinstance(n_studies, int):
        raise ConfigError(f"n_studies must be an integer, got {n_studies!r}")
    if n_studies < 4 * len(partitions):
        raise ConfigError(
            f"n_studies must be at least {4 * len(partitions)} (4 per site x vendor partition), "
            f"got {n_studies}"
        )
    _clear_previous(out)
    base, extra = divmod(n_studies, len(partitions))
    written: list[Path] = []
    truth: list[dict] = []
    references: dict[str, list[tuple]] = {site.id: [] for site in SITES}
    summary: dict = {"seed": seed, "n_studies": n_studies, "partitions": {}, "reduced_ef": 0}
    for k, (site_index, site, vendor) in enumerate(partitions):
        count = base + (1 if k < extra else 0)
        summary["partitions"][f"{site.id}/{vendor}"] = count
        for index in range(count):
            study = synthesize_lvef_study(seed, "test", site_index, site, vendor, index)
            path = out / "test" / site.id / vendor / study.record.patient_id / "IM_0001.dcm"
            write_dataset(build_a4c_dataset(study), path)
            written.append(path)
            rng = np.random.default_rng([seed, 18, site_index, len(vendor), index])
            reading = read_reference(study.ventricle.ef_percent, rng)
            references[site.id].append((study.record.study_uid, *reading, study.ventricle.quality))
            summary["reduced_ef"] += reading[3]
            truth.append(_truth_row(study, site.id, vendor))
    summary["references"] = {}
    for site in SITES:
        path = out / "reference" / f"{site.id}.csv"
        _write_csv(path, [*site.columns, "image_quality"], sorted(references[site.id]))
        summary["references"][site.id] = str(path)
        written.append(path)
    truth_path = out / "truth.csv"
    _write_csv(truth_path, list(truth[0]), [list(row.values()) for row in truth])
    summary["truth"] = str(truth_path)
    summary_path = out / "lvef-summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    written += [truth_path, summary_path]
    summary["manifest"] = str(_write_manifest(out, written))
    return summary


def _truth_row(study: LvefStudy, site: str, vendor: str) -> dict:
    lv = study.ventricle
    return {
        "study_instance_uid": study.record.study_uid,
        "site": site,
        "vendor": vendor,
        "true_ef_pct": round(lv.ef_percent, 4),
        "ed_semi_long_mm": round(lv.semi_long_mm, 4),
        "ed_semi_short_mm": round(lv.semi_short_mm, 4),
        "end_systolic_scale": round(lv.end_systolic_scale, 6),
        "ed_frame": lv.ed_frame,
        "image_quality": lv.quality,
    }


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _write_manifest(out: Path, written: list[Path]) -> Path:
    files = {p.relative_to(out).as_posix(): sha256_file(p) for p in sorted(written)}
    path = out / MANIFEST
    record = {"generator": "validation.demo.lvef", "files": files}
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def _clear_previous(out: Path) -> None:
    """Remove what an earlier run wrote in ``out``; refuse a folder holding anything else."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out must be a folder, got the file {out}")
    if not out.exists() or not any(out.iterdir()):
        return
    manifest = out / MANIFEST
    ours: set[str] = set()
    if manifest.is_file():
        ours = set(json.loads(manifest.read_text()).get("files", {}))
    present = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    foreign = sorted(present - ours - {MANIFEST})
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise ConfigError(
            f"{out} holds files the LVEF example did not write ({shown}); "
            "choose an empty or new folder"
        )
    for name in sorted(ours & present):
        (out / name).unlink()
    manifest.unlink(missing_ok=True)
    for folder in sorted((p for p in out.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m validation.demo.lvef --out data/lvef --seed 7 --n 48``."""
    parser = argparse.ArgumentParser(
        prog="python -m validation.demo.lvef", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=Path("data/lvef"), help="output folder")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n", type=int, default=48, help="studies over the 4 partitions")
    args = parser.parse_args(argv)
    try:
        summary = generate_lvef_study(args.out, n_studies=args.n, seed=args.seed)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"{summary['n_studies']} studies ({summary['reduced_ef']} with reduced EF) in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
