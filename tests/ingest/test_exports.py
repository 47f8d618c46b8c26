"""Clinical export forms: every standard encoding, colour, multi-region layouts and objects that
are not loops, made at test time from demo studies with dcmtk's transcoders and pydicom
(:mod:`validation.demo.exports`), read by the ingest checks and the locked demo model.

Each form gives the source study's measurement exactly (lossless forms), within
``LOSSY_TOLERANCE_MM`` (lossy forms), or is excluded at ingestion with its specific reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import torch

from tests.orthanc import require
from validation.demo.dicom_writer import build_dataset
from validation.demo.exports import FORMS, LOSSY_TOLERANCE_MM, write_form
from validation.demo.generate import synthesize_study
from validation.exceptions import DecoderMissingError
from validation.ingest import decoders
from validation.ingest.checks import IDENTIFYING_ATTRIBUTES, REASONS, check_header
from validation.ingest.header import read_header
from validation.ingest.pixels import decode_cine
from validation.ingest.rules import ImageRules, model_rules
from validation.ingest.scan import ingest_partition, scan_partition
from validation.model.infer import run_inference
from validation.model.preprocess import preprocess_batch
from validation.model.registry import LockedModel, load_locked_model
from validation.protocol import load_protocol
from validation.sites import Partition

#: One study of a vendor whose images the released model knows (GE) and one it does not (Canon).
SOURCES = {"GE": 0, "Canon": 3}


@pytest.fixture(scope="module")
def model(repo_root: Path) -> LockedModel:
    return load_locked_model(repo_root / "models" / "ivsd-cnn" / "1.0.0")


@pytest.fixture(scope="module")
def rules(repo_root: Path, model: LockedModel) -> ImageRules:
    """The released demo model's rules under the demo protocol (8 frames, one region)."""
    return model_rules(load_protocol(repo_root / "protocols" / "demo.yaml"), model.card)


@pytest.fixture(scope="module")
def forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """Per vendor: the source study (``source``) and every export form of it."""
    require(shutil.which("dcmcjpls"), "dcmcjpls (dcmtk)")
    root = tmp_path_factory.mktemp("exports")
    made: dict[str, dict[str, Path]] = {}
    for vendor, index in SOURCES.items():
        study = synthesize_study(11, "test", 0, "s01", "Site 1", vendor, index)
        source = root / vendor / "source.dcm"
        source.parent.mkdir(parents=True)
        build_dataset(study.record, study.frames).save_as(source, enforce_file_format=True)
        made[vendor] = {"source": source}
        for name in FORMS:
            made[vendor][name] = write_form(name, source, root / vendor / f"{name}.dcm")
    return made


def _copy_as_another_instance(source: Path, target: Path) -> None:
    """Copy a form with a new SOP Instance UID (the forms of one study share the source's)."""
    ds = pydicom.dcmread(source)
    if "SOPInstanceUID" in ds:
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(target)


def _outcome(path: Path, vendor: str, rules: ImageRules) -> str:
    """``included`` or the exclusion reason of the ingest checks."""
    ds = pydicom.dcmread(path, defer_size=4096)
    failure = check_header(
        read_header(ds, IDENTIFYING_ATTRIBUTES, rules), vendor=vendor, rules=rules
    )
    return "included" if failure is None else failure[0]


def _measure(model: LockedModel, rules: ImageRules, path: Path) -> float:
    """The model's IVSd (mm) on a file, read as inference reads it."""
    frames, spacing = decode_cine(path.read_bytes(), rules)
    with torch.inference_mode():
        ivsd, _ = model.module(preprocess_batch([(frames, spacing)], model.card.preprocessing))
    return float(ivsd[0])


@pytest.mark.parametrize("vendor", list(SOURCES))
@pytest.mark.parametrize("name", list(FORMS))
def test_each_form_is_read_as_its_source_or_excluded_with_its_reason(
    forms, model, rules, name, vendor
):
    expected = FORMS[name].expected
    path = forms[vendor][name]
    outcome = _outcome(path, vendor, rules)
    if expected.outcome == "excluded":
        assert outcome == expected.reason, (name, outcome)
        assert expected.reason in REASONS
        return
    assert outcome == "included", (name, outcome)
    source = _measure(model, rules, forms[vendor]["source"])
    measured = _measure(model, rules, path)
    if expected.outcome == "identical":
        assert measured == source, (name, measured, source)
    else:
        assert abs(measured - source) <= LOSSY_TOLERANCE_MM, (name, measured, source)


@pytest.mark.parametrize("name", ["rgb", "ybr_full_422", "rgb_jpeg_ls", "canvas_banner"])
def test_lossless_forms_give_the_source_pixels(forms, rules, name):
    """Colour stored from grey gives back the grey values; a canvas is cropped to its region."""
    source, _ = decode_cine(forms["GE"]["source"].read_bytes(), rules)
    frames, _ = decode_cine(forms["GE"][name].read_bytes(), rules)
    assert frames.dtype == source.dtype and np.array_equal(frames, source)


def test_pixel_spacing_is_read_where_the_protocol_allows_it(forms, model, rules):
    path = forms["GE"]["pixel_spacing_only"]
    allowed = ImageRules(
        regions=rules.regions,
        min_frames=rules.min_frames,
        spacing_sources=("ultrasound_regions", "pixel_spacing"),
    )
    assert _outcome(path, "GE", rules) == "no_spacing"
    assert _outcome(path, "GE", allowed) == "included"
    header = read_header(pydicom.dcmread(path, defer_size=4096), IDENTIFYING_ATTRIBUTES, allowed)
    assert header.region is not None and header.region.source == "pixel_spacing"
    assert _measure(model, allowed, path) == _measure(model, rules, forms["GE"]["source"])


def test_a_single_frame_image_is_read_when_the_model_reads_one_frame(forms, rules):
    """A still-image model (card ``min_frames: 1``) reads Ultrasound Image Storage; a cine
    model refuses it, naming its need."""
    still = ImageRules(min_frames=1)
    assert _outcome(forms["GE"]["single_frame_class"], "GE", still) == "included"
    assert _outcome(forms["GE"]["single_frame_class"], "GE", rules) == "single_frame"
    frames, _ = decode_cine(forms["GE"]["single_frame_class"].read_bytes(), still)
    assert frames.shape[0] == 1 and frames.ndim == 3


def test_the_largest_rule_reads_one_of_two_views_only_when_they_differ(forms, rules):
    """Two views of the same size are a tie: still ambiguous under ``largest``."""
    largest = ImageRules(regions="largest", min_frames=rules.min_frames)
    assert _outcome(forms["GE"]["two_views"], "GE", largest) == "ambiguous_regions"


def test_a_partition_mixing_grey_colour_and_broken_files_predicts_every_measurable_study(
    forms, model, rules, tmp_path
):
    folder = tmp_path / "GE"
    folder.mkdir()
    measurable = [n for n, f in FORMS.items() if f.expected.outcome != "excluded"]
    for name in FORMS:  # the same study in every form, each as a separate instance
        _copy_as_another_instance(forms["GE"][name], folder / f"{name}.dcm")
    # a colour JPEG whose compressed stream is cut short: complete header, broken pixels
    broken = pydicom.dcmread(folder / "colour_jpeg_baseline.dcm")
    broken.SOPInstanceUID = broken.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    fragments = list(pydicom.encaps.generate_fragments(broken.PixelData))
    broken.PixelData = pydicom.encaps.encapsulate([f[: len(f) // 3] for f in fragments])
    broken.save_as(folder / "broken_jpeg.dcm")
    (folder / "notes.txt").write_text("not DICOM")

    partition = Partition(site="s01", vendor="GE", source_kind="folder", source_path=folder)
    summary = ingest_partition(partition, tmp_path / "ingest", rules)
    accounting = pd.read_csv(
        tmp_path / "ingest" / "accounting.csv", dtype=str, keep_default_na=False
    )
    assert summary["received"] == len(FORMS) + 2 == len(accounting)
    assert summary["included"] + summary["excluded"] == summary["received"]
    included = accounting[accounting["status"] == "included"]
    assert sorted(Path(p).stem for p in included["path"]) == sorted([*measurable, "broken_jpeg"])
    stems = accounting["path"].map(lambda p: Path(p).stem)
    reasons = dict(zip(stems, accounting["reason"], strict=True))
    for name, form in FORMS.items():
        if form.expected.outcome == "excluded":
            assert reasons[name] == form.expected.reason, name
    assert reasons["notes"] == "not_dicom"

    counts = run_inference(
        model, tmp_path / "ingest" / "accounting.csv", tmp_path / "p.csv", rules=rules, batch_size=4
    )
    assert counts == {"predicted": len(measurable), "quality_rejected": 1}
    table = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    rejected = table[table["status"] == "quality_rejected"]
    assert len(rejected) == 1 and rejected["detail"].iloc[0]
    predicted = table[table["status"] == "predicted"]["measurement"].astype(float)
    source = _measure(model, rules, forms["GE"]["source"])
    assert (predicted - source).abs().max() <= LOSSY_TOLERANCE_MM


def test_a_missing_decoder_is_an_environment_error_naming_syntax_and_package(
    forms, rules, monkeypatch
):
    syntax = pydicom.dcmread(forms["GE"]["jpeg_lossless_sv1"]).file_meta.TransferSyntaxUID
    monkeypatch.setitem(decoders.PLUGINS, syntax, (("no-such-plugin", "python-gdcm"),))
    decoders.plugin_for.cache_clear()
    try:
        with pytest.raises(
            DecoderMissingError, match=r"1\.2\.840\.10008\.1\.2\.4\.70.*python-gdcm"
        ):
            decode_cine(forms["GE"]["jpeg_lossless_sv1"].read_bytes(), rules)
    finally:
        decoders.plugin_for.cache_clear()


def test_a_folder_of_several_vendors_routes_each_file_to_its_partition_once(forms, rules, tmp_path):
    """A PACS export holding both vendors' studies, a structured report and a text file: each
    vendor's partition accounts for its own files, the first partition for the rest; no file
    is counted twice and none is a false wrong_vendor."""
    folder = tmp_path / "export"
    folder.mkdir()
    for vendor in SOURCES:
        for name in ("source", "rgb", "one_frame", "structured_report"):
            _copy_as_another_instance(forms[vendor][name], folder / f"{vendor}-{name}.dcm")
    (folder / "README.txt").write_text("export of 2026-12-07")
    partitions = tuple(
        Partition(site="s01", vendor=v, source_kind="folder", source_path=folder) for v in SOURCES
    )
    accounted = {}
    for partition in partitions:
        rows = scan_partition(partition, rules, partitions)
        accounted[partition.vendor] = {Path(r.path).name: r for r in rows}
    names = [set(rows) for rows in accounted.values()]
    assert set.union(*names) == {p.name for p in folder.iterdir()}
    assert not set.intersection(*names)  # none counted twice
    for vendor, rows in accounted.items():
        assert all(r.reason != "wrong_vendor" for r in rows.values())
        assert rows[f"{vendor}-source.dcm"].status == "included"
        assert rows[f"{vendor}-one_frame.dcm"].reason == "too_few_frames"
    assert "README.txt" in accounted["GE"]  # the first partition takes what no vendor made
    # the same files in separate folders give each partition the same rows
    alone = tmp_path / "alone"
    for name in accounted["Canon"]:
        (alone / name).parent.mkdir(exist_ok=True)
        shutil.copy(folder / name, alone / name)
    by_itself = scan_partition(
        Partition(site="s01", vendor="Canon", source_kind="folder", source_path=alone), rules
    )
    assert [(Path(r.path).name, r.reason) for r in by_itself] == [
        (name, r.reason) for name, r in accounted["Canon"].items()
    ]


def test_mval_demo_exports_writes_the_forms_asked_for(forms, tmp_path, capsys):
    from validation.cli import main

    source = forms["GE"]["source"]
    assert (
        main(
            [
                "demo",
                "exports",
                "--source",
                str(source),
                "--out",
                str(tmp_path),
                "--forms",
                "rgb",
                "video",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rgb.dcm", "video.dcm"]
    printed = capsys.readouterr().out
    assert "identical" in printed and "excluded (unsupported_encoding)" in printed
    assert (
        main(
            ["demo", "exports", "--source", str(source), "--out", str(tmp_path), "--forms", "nope"]
        )
        == 2
    )
