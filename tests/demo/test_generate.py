"""The demo generator is deterministic from its seed and plants what it documents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from validation.demo.generate import studies_per_partition, synthesize_study
from validation.demo.imaging import septal_thickness_by_frame
from validation.exceptions import ConfigError


def test_same_key_same_study_different_key_different_study():
    a = synthesize_study(1, "test", 0, "s01", "Site", "GE", 3)
    b = synthesize_study(1, "test", 0, "s01", "Site", "GE", 3)
    c = synthesize_study(2, "test", 0, "s01", "Site", "GE", 3)
    assert np.array_equal(a.frames, b.frames) and a.record == b.record
    assert a.record.sop_uid != c.record.sop_uid


def test_development_and_test_cohorts_never_share_uids_or_patients():
    dev = synthesize_study(1, "development", 0, "d01", "Dev", "GE", 0)
    test = synthesize_study(1, "test", 0, "s01", "Site", "GE", 0)
    assert dev.record.study_uid != test.record.study_uid
    assert dev.record.patient_id != test.record.patient_id


def test_end_diastole_is_the_thinnest_frame():
    study = synthesize_study(1, "test", 0, "s01", "Site", "Philips", 1)
    thickness = septal_thickness_by_frame(study.anatomy, study.frames.shape[0])
    assert int(np.argmin(thickness)) == study.anatomy.ed_frame
    assert thickness.min() == pytest.approx(study.anatomy.ivsd_mm)


def test_split_is_even_and_complete():
    assert studies_per_partition(50, 12) == [5, 5] + [4] * 10
    assert sum(studies_per_partition(600, 12)) == 600
    with pytest.raises(ConfigError):
        studies_per_partition(5, 0)


def test_tiny_demo_reference_files(tiny_demo):
    for site in ("s01", "s02", "s03", "s04"):
        table = pd.read_csv(tiny_demo / "data" / "demo" / "reference" / f"{site}.csv")
        assert {"consensus_ivsd_mm", "lvh", "reader_1_ivsd_mm", "image_quality"} <= set(
            table.columns
        )
        readers = table[["reader_1_ivsd_mm", "reader_2_ivsd_mm", "reader_3_ivsd_mm"]].mean(axis=1)
        assert np.allclose(readers, table["consensus_ivsd_mm"], atol=0.01)
        assert set(table["lvh"]) <= {0, 1}
        assert (table["lvh"] == (table["consensus_ivsd_mm"] >= 11.0)).all()
