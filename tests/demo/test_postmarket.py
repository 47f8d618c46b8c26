"""The post-market demo generator: layout, determinism, late labels, audit share, planted shift.

Sources: there is no published reference for a synthetic-data generator, so the checks are the
contract of the surveillance design's "Data layout" (paths, columns, months from 2026-07, labels
arriving 1-3 months after acquisition, about a quarter audited) and an independent measurement:
the planted bias is read back with the real locked model (models/ivsd-cnn/1.0.0, loaded with its
sha256 check by ``validation.model.registry.load_locked_model`` and run by
``validation.model.infer.run_inference``) on the same studies written with and without the shift.

Small runs keep the module fast: the real site files (4 sites, 12 partitions), 4 months, 3
studies per partition and month, shift at month 3 (2026-09).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from validation.cli import main
from validation.demo.generate import synthesize_study
from validation.demo.postmarket import LABEL_COLUMNS, generate_postmarket
from validation.demo.scenario import (
    DEFAULT_SHIFT,
    PostmarketSettings,
    Shift,
    month_labels,
    parse_shift,
)
from validation.exceptions import ConfigError
from validation.schema import validate
from validation.sites import load_sites, site_files
from validation.workflow import (
    check_config,
    postmarket_inputs,
    postmarket_marker_path,
    postmarket_months,
    postmarket_settings,
    postmarket_shift_option,
)

SEED = 11  # the tiny_demo fixture's seed, so the test cohort can be compared
MONTHS, PER_MONTH = 4, 3
PARTITIONS = 12  # in the repository's sites/*.yaml
SHIFT = Shift(site="s02", vendor="GE", month=3, bias_mm=1.5)
SETTINGS = PostmarketSettings(
    months=MONTHS, studies_per_month=PER_MONTH, audit_fraction=0.25, seed=SEED, shift=SHIFT
)


def _cli_args(sites: Path, out: Path, *extra: str) -> list[str]:
    return [
        "-q",
        "demo",
        "postmarket",
        "--sites",
        str(sites),
        "--out",
        str(out),
        "--months",
        str(MONTHS),
        "--studies-per-month",
        str(PER_MONTH),
        "--audit-fraction",
        "0.25",
        "--seed",
        str(SEED),
        *extra,
    ]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def sites(repo_root):
    return load_sites(site_files(repo_root / "sites"), root=repo_root)


@pytest.fixture(scope="module")
def shifted(sites, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("postmarket-shifted")
    generate_postmarket(sites, out, SETTINGS)
    return out


@pytest.fixture(scope="module")
def in_control(repo_root, tmp_path_factory) -> Path:
    """The same run without a shift, through the command line."""
    out = tmp_path_factory.mktemp("postmarket-in-control")
    assert main(_cli_args(repo_root / "sites", out, "--no-shift")) == 0
    return out


@pytest.fixture(scope="module")
def headers(shifted) -> pd.DataFrame:
    rows = []
    for path in sorted((shifted / "batches").rglob("*.dcm")):
        month, site, vendor, patient = path.relative_to(shifted / "batches").parts[:4]
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        rows.append(
            {
                "path": path,
                "month": month,
                "site": site,
                "vendor": vendor,
                "folder": patient,
                "patient_id": ds.PatientID,
                "study_uid": ds.StudyInstanceUID,
                "sop_uid": ds.SOPInstanceUID,
                "study_date": ds.StudyDate,
                "software": ds.SoftwareVersions,
                "manufacturer": ds.Manufacturer,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def labels(shifted) -> pd.DataFrame:
    frames = [
        pd.read_csv(p, dtype={"label": int}) for p in sorted((shifted / "labels").glob("*.csv"))
    ]
    return pd.concat(frames, ignore_index=True)


def test_layout_months_partitions_and_dates(sites, shifted, headers):
    months = ["2026-07", "2026-08", "2026-09", "2026-10"]
    assert sorted(p.name for p in (shifted / "batches").iterdir()) == months
    assert sorted(p.name for p in (shifted / "labels").iterdir()) == [f"{m}.csv" for m in months]
    assert all(Path(p).name == "IM_0001.dcm" for p in headers["path"])
    # every partition of the site files, every month, studies_per_month studies each
    expected = {(s.id, p.vendor) for s in sites for p in s.partitions}
    assert len(expected) == PARTITIONS
    counts = headers.groupby(["month", "site", "vendor"]).size()
    assert set(counts.index) == {(m, s, v) for m in months for s, v in expected}
    assert (counts == PER_MONTH).all()
    # the folder is the PatientID; dated inside the batch's month; the vendor's manufacturer
    assert (headers["folder"] == headers["patient_id"]).all()
    assert (headers["study_date"].str[:6] == headers["month"].str.replace("-", "")).all()
    dates = pd.to_datetime(headers["study_date"], format="%Y%m%d")
    assert dates.min() >= pd.Timestamp("2026-07-01") and dates.max() <= pd.Timestamp("2026-10-31")
    assert headers.loc[headers["vendor"] == "GE", "manufacturer"].eq("GE Healthcare").all()


def test_patients_and_uids_are_new_every_time_and_not_the_test_cohorts(headers, tiny_demo):
    for column in ("patient_id", "study_uid", "sop_uid"):
        assert headers[column].is_unique, column
    test_uids = set()
    for reference in (tiny_demo / "data" / "demo" / "reference").glob("*.csv"):
        test_uids |= set(pd.read_csv(reference)["study_instance_uid"])
    test_patients = {
        pydicom.dcmread(p, stop_before_pixels=True).PatientID
        for p in (tiny_demo / "data" / "demo" / "test").rglob("IM_0001.dcm")
    }
    assert test_uids and test_patients
    assert not test_uids & set(headers["study_uid"])
    assert not test_patients & set(headers["patient_id"])


def test_same_arguments_same_bytes(repo_root, shifted, tmp_path):
    again = tmp_path / "again"
    shift = json.dumps({"site": "s02", "vendor": "GE", "month": 3, "bias_mm": 1.5})
    assert main(_cli_args(repo_root / "sites", again, "--shift", shift)) == 0
    first, second = _files(shifted), _files(again)
    assert (
        len(first) == MONTHS * PARTITIONS * PER_MONTH + MONTHS + 2
    )  # DICOM, label files, scenario, the demo's record
    assert first.keys() == second.keys()
    assert all(first[name] == second[name] for name in first)


def test_shorter_run_is_the_start_of_a_longer_one(sites, shifted, tmp_path):
    short = PostmarketSettings(months=2, studies_per_month=1, seed=SEED, shift=None)
    generate_postmarket(sites, tmp_path, short)
    for name, data in _files(tmp_path / "batches").items():
        assert (shifted / "batches" / name).read_bytes() == data


def test_the_shift_touches_only_its_segment_from_its_month(shifted, in_control):
    with_shift, without = _files(shifted / "batches"), _files(in_control / "batches")
    assert with_shift.keys() == without.keys()
    differ = {name for name in with_shift if with_shift[name] != without[name]}
    expected = {
        name for name in with_shift if name.startswith(("2026-09/s02/GE/", "2026-10/s02/GE/"))
    }
    assert differ == expected and len(expected) == 2 * PER_MONTH
    # labels are about the anatomy, not the image: the same with and without the shift
    assert _files(shifted / "labels") == _files(in_control / "labels")


def test_the_shift_changes_the_software_version_header(headers):
    segment = (headers["site"] == "s02") & (headers["vendor"] == "GE")
    after = segment & (headers["month"] >= "2026-09")
    assert headers.loc[after, "software"].eq("EchoPAC 206 upgrade").all()
    assert set(headers.loc[segment & ~after, "software"]) <= {"EchoPAC 204", "EchoPAC 206"}
    assert not headers.loc[~after, "software"].str.contains("upgrade").any()


def test_labels_arrive_one_to_three_months_late(labels, shifted, headers):
    assert tuple(labels.columns) == LABEL_COLUMNS
    for path in (shifted / "labels").glob("*.csv"):  # each file holds what arrived that month
        arrived = pd.read_csv(path)["arrived"]
        assert (arrived == path.stem).all()

    def index(month: pd.Series) -> pd.Series:
        year, mon = month.str[:4].astype(int), month.str[5:].astype(int)
        return year * 12 + mon

    lag = index(labels["arrived"]) - index(labels["acquired"])
    assert lag.between(1, 3).all()
    assert "2026-07" not in set(labels["arrived"])  # nothing arrives in the first month
    assert labels["study_instance_uid"].is_unique
    # each label is a study of that segment acquired in that month
    known = headers.set_index("study_uid")
    assert set(labels["study_instance_uid"]) <= set(known.index)
    rows = known.loc[labels["study_instance_uid"]]
    assert (rows["site"].to_numpy() == labels["site"].to_numpy()).all()
    assert (rows["vendor"].to_numpy() == labels["vendor"].to_numpy()).all()
    assert (rows["month"].to_numpy() == labels["acquired"].to_numpy()).all()
    assert (labels["label"] == (labels["reference"] >= 11.0)).all()


def test_audit_fraction_and_pending_labels(labels, shifted):
    scenario = json.loads((shifted / "scenario.json").read_text())
    n_month = PARTITIONS * PER_MONTH
    audited = int(np.floor(0.25 * n_month + 0.5))  # 9 of 36 studies a month
    # month 1: every label has arrived by month 4 (lags of at most 3 months)
    assert (labels["acquired"] == "2026-07").sum() == audited
    for month, census in scenario["census"].items():
        assert census["studies"] == n_month and census["audited"] == audited
        arrived = int((labels["acquired"] == month).sum())
        assert arrived + census["labels_pending"] == audited
        assert census["labels_arrived"] == int((labels["arrived"] == month).sum())
    assert scenario["census"]["2026-10"]["labels_pending"] == audited  # none arrived yet
    assert scenario["shift"]["onset"] == "2026-09"
    assert scenario["shift"]["software_version_after"] == "EchoPAC 206 upgrade"


def test_the_model_reads_the_shifted_segment_about_bias_mm_too_high(
    repo_root, shifted, in_control, tmp_path
):
    """Paired: the same studies (same patient, anatomy, speckle) with and without the shift.

    The paired difference of the model's readings has an SD of about 0.2 mm (measured on 60
    pairs per vendor when the blooming was calibrated), so the mean of these 6 pairs has a
    standard error of about 0.08 mm; a tolerance of 0.35 mm is over four standard errors, and
    a missing shift (difference exactly 0) or a doubled one (about 3 mm) fails.
    """
    from validation.model.infer import run_inference
    from validation.model.registry import load_locked_model

    rows = []
    for kind, root in (("shifted", shifted), ("in_control", in_control)):
        for month in ("2026-09", "2026-10"):
            for path in sorted((root / "batches" / month / "s02" / "GE").rglob("*.dcm")):
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                rows.append(
                    {
                        "site": "s02",
                        "vendor": "GE",
                        "sop_instance_uid": f"{kind}-{ds.SOPInstanceUID}",
                        "study_instance_uid": ds.StudyInstanceUID,
                        "path": str(path),
                        "status": "included",
                        "kind": kind,
                    }
                )
    accounting = pd.DataFrame(rows)
    accounting.to_csv(tmp_path / "accounting.csv", index=False)
    model = load_locked_model(repo_root / "models" / "ivsd-cnn" / "1.0.0")
    counts = run_inference(model, tmp_path / "accounting.csv", tmp_path / "predictions.csv")
    assert counts == {"predicted": 4 * PER_MONTH, "quality_rejected": 0}
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    accounting["measurement"] = predictions["measurement"].to_numpy()
    paired = accounting.pivot(index="study_instance_uid", columns="kind", values="measurement")
    difference = paired["shifted"] - paired["in_control"]
    assert len(difference) == 2 * PER_MONTH
    assert difference.mean() == pytest.approx(SHIFT.bias_mm, abs=0.35)
    assert (difference > 0.5).all()


def test_test_cohort_is_unchanged_by_the_postmarket_options():
    """The validation demo must stay byte-identical: pinned before the options were added."""
    study = synthesize_study(11, "test", 1, "s02", "St. Brendan Heart Institute", "GE", 3)
    assert hashlib.sha256(study.frames.tobytes()).hexdigest() == (
        "74952142ddbe9934120bc4d8983624b329e5bcaca870234dcca07da92a078a63"
    )
    assert study.record.study_uid == "2.25.53921681667063615167381798506735640777"
    assert study.record.study_date == dt.date(2026, 2, 24)
    explicit = synthesize_study(
        11,
        "test",
        1,
        "s02",
        "St. Brendan Heart Institute",
        "GE",
        3,
        period=None,
        extra_bloom_mm=0.0,
    )
    assert np.array_equal(explicit.frames, study.frames) and explicit.record == study.record


def test_month_labels_cross_the_year():
    assert month_labels(12)[0] == "2026-07" and month_labels(12)[6] == "2027-01"
    assert month_labels(12)[-1] == "2027-06" and len(month_labels(13)) == 13


def test_parse_shift():
    assert parse_shift(None) is None and parse_shift(False) is None
    assert parse_shift("null") is None and parse_shift("none") is None
    assert parse_shift({}) == DEFAULT_SHIFT
    assert parse_shift('{"site": "s01", "vendor": "Philips", "month": 5, "bias_mm": 2}') == (
        Shift("s01", "Philips", 5, 2.0)
    )
    with pytest.raises(ConfigError, match=r"unknown keys \['bias'\]"):
        parse_shift({"bias": 1.0})
    with pytest.raises(ConfigError, match=r"bias_mm must be a number from -1\.0 to 5\.0"):
        parse_shift({"bias_mm": 9})
    with pytest.raises(ConfigError, match=r"shift month must be an integer, got 2\.5"):
        parse_shift({"month": 2.5})
    with pytest.raises(ConfigError, match="unknown demo vendor 'Hitachi'"):
        parse_shift({"vendor": "Hitachi"})
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_shift("[1, 2]")


def test_settings_errors(sites, tmp_path):
    with pytest.raises(ConfigError, match="months must be from 1 to 120, got 0"):
        PostmarketSettings(months=0)
    with pytest.raises(ConfigError, match="audit_fraction must be a number from 0 to 1"):
        PostmarketSettings(audit_fraction=1.5)
    with pytest.raises(ConfigError, match="shift month 7 lies after the last of 3 months"):
        PostmarketSettings(months=3)
    with pytest.raises(ConfigError, match="shift segment s03/GE is not a partition"):
        generate_postmarket(sites, tmp_path, PostmarketSettings(shift=Shift("s03", "GE", 1, 1)))
    assert not (tmp_path / "scenario.json").exists()


def test_cli_reports_a_bad_shift_as_a_configuration_error(repo_root, tmp_path, capsys):
    code = main(_cli_args(repo_root / "sites", tmp_path, "--shift", "{site: s09, month: 2}"))
    assert code == ConfigError.exit_code == 2
    assert "shift segment s09/GE is not a partition" in capsys.readouterr().err


def test_workflow_defaults_when_the_demo_mapping_lacks_them():
    # what `--config 'demo={enabled: true}'` can leave: no seed, no postmarket block
    config = {"protocol": "protocols/demo.yaml", "sites": "sites", "demo": {"enabled": True}}
    check_config(config)
    assert postmarket_settings(config) == {
        "months": 12,
        "studies_per_month": 40,
        "audit_fraction": 0.5,
        "seed": 20261125,
        "shift": DEFAULT_SHIFT,
    }
    assert postmarket_marker_path(config) == "data/demo/postmarket/scenario.json"
    assert postmarket_inputs(config) == ["data/demo/postmarket/scenario.json"]
    assert postmarket_inputs({**config, "demo": {"enabled": False}}) == []
    assert postmarket_months(config)[6] == "2027-01"
    assert postmarket_shift_option(config) == (
        """--shift '{"site": "s02", "vendor": "GE", "month": 7, "bias_mm": 1.5}'"""
    )


def test_workflow_command_line_override_of_the_shift():
    # Snakemake hands nested --config values over as texts; check_config types them
    config = {
        "protocol": "protocols/demo.yaml",
        "sites": "sites",
        "demo": {
            "enabled": "true",
            "postmarket": {
                "shift": {"site": "s01", "vendor": "Philips", "month": "5", "bias_mm": "2.0"}
            },
        },
    }
    check_config(config)
    assert postmarket_settings(config)["shift"] == Shift("s01", "Philips", 5, 2.0)
    assert "--shift" in postmarket_shift_option(config)
    config["demo"]["postmarket"] = {"shift": "null", "months": "6"}
    check_config(config)
    assert postmarket_shift_option(config) == "--no-shift"
    assert postmarket_settings(config)["months"] == 6


def test_workflow_schema_rejects_a_bad_postmarket_block():
    bad = {
        "protocol": "protocols/demo.yaml",
        "sites": "sites",
        "demo": {"enabled": True, "postmarket": {"months": 0, "shift": {"bias": 1}}},
    }
    with pytest.raises(ConfigError) as error:
        validate(bad, "workflow-config", source="config")
    assert "demo.postmarket.months" in str(error.value)
    assert "demo.postmarket.shift" in str(error.value)
