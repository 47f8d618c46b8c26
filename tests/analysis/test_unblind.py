"""Unblinding joins each study to its own site's reference and counts every file once."""

from __future__ import annotations

import pandas as pd
import pytest

from validation.analysis.unblind import unblind
from validation.exceptions import AnalysisError
from validation.ingest.scan import ACCOUNTING_COLUMNS
from validation.model.infer import PREDICTION_COLUMNS
from validation.protocol import load_protocol
from validation.sites import Partition, Site


def _site(tmp_path, site_id):
    return Site(
        site_id,
        site_id.upper(),
        "",
        (Partition(site_id, "GE", "folder", tmp_path),),
        tmp_path / f"{site_id}.csv",
        tmp_path / f"{site_id}.yaml",
    )


def _acc(site, sop, study, path, status="included", reason=""):
    row = dict.fromkeys(ACCOUNTING_COLUMNS, "")
    row.update(
        site=site,
        vendor="GE",
        path=path,
        sop_instance_uid=sop,
        study_instance_uid=study,
        status=status,
        reason=reason,
        patient_age="60",
        patient_sex="F",
        patient_bmi="27.0",
        scanner_model="Vivid E95",
        patient_id=f"P-{sop}",
    )
    return row


def _pred(site, sop, study, mm):
    row = dict.fromkeys(PREDICTION_COLUMNS, "")
    row.update(
        site=site,
        vendor="GE",
        sop_instance_uid=sop,
        study_instance_uid=study,
        status="predicted",
        measurement=str(mm),
        probability="0.2",
        model_sha256="x",
    )
    return row


@pytest.fixture
def case(tmp_path, repo_root):
    protocol = load_protocol(repo_root / "protocols" / "demo.yaml")
    sites = [_site(tmp_path, "s01"), _site(tmp_path, "s02")]
    acc1 = [
        _acc("s01", "1.1", "9.1", "a/1.dcm"),
        _acc("s01", "1.2", "9.2", "a/2.dcm"),
        _acc("s01", "", "", "a/x.txt", "excluded", "not_dicom"),
    ]
    acc2 = [
        _acc("s02", "1.1", "9.1", "b/1.dcm"),  # the same instance sent to a second site
        _acc("s02", "1.3", "9.3", "b/3.dcm"),
    ]
    pred1 = [_pred("s01", "1.1", "9.1", 10.0), _pred("s01", "1.2", "9.2", 12.0)]
    pred2 = [_pred("s02", "1.1", "9.1", 10.0), _pred("s02", "1.3", "9.3", 9.0)]
    paths = {}
    for name, rows in {"acc1": acc1, "acc2": acc2, "pred1": pred1, "pred2": pred2}.items():
        paths[name] = tmp_path / f"{name}.csv"
        pd.DataFrame(rows).to_csv(paths[name], index=False)
    ref = ["reader_1_ivsd_mm", "reader_2_ivsd_mm", "reader_3_ivsd_mm"]
    pd.DataFrame(
        [
            {
                "study_instance_uid": "9.1",
                "consensus_ivsd_mm": 10.2,
                "lvh": 0,
                **dict.fromkeys(ref, 10.2),
            }
        ]
    ).to_csv(tmp_path / "s01.csv", index=False)
    # s02's reader also read study 9.2 of s01: that row must not join s01's study
    pd.DataFrame(
        [
            {
                "study_instance_uid": "9.3",
                "consensus_ivsd_mm": 9.5,
                "lvh": 0,
                **dict.fromkeys(ref, 9.5),
            },
            {
                "study_instance_uid": "9.2",
                "consensus_ivsd_mm": 12.1,
                "lvh": 1,
                **dict.fromkeys(ref, 12.1),
            },
        ]
    ).to_csv(tmp_path / "s02.csv", index=False)
    return protocol, sites, paths


def test_cross_partition_duplicate_is_excluded_and_counts_add_up(case):
    protocol, sites, paths = case
    result = unblind(
        protocol, sites, [paths["acc1"], paths["acc2"]], [paths["pred1"], paths["pred2"]]
    )
    dup = result.accounting[
        (result.accounting["site"] == "s02") & (result.accounting["sop_instance_uid"] == "1.1")
    ]
    assert dup["status"].item() == "excluded"
    assert dup["reason"].item() == "duplicate_sop_instance"
    assert "a/1.dcm" in dup["detail"].item() and "s01/GE" in dup["detail"].item()
    flow = result.flow
    assert flow == {
        **flow,
        "received": 5,
        "excluded_at_ingest": 2,
        "included": 3,
        "no_reference": 1,
        "analysed": 2,
    }
    assert flow["excluded_by_reason"] == {"not_dicom": 1, "duplicate_sop_instance": 1}
    # 9.2 (site s01) has no reference at s01; s02's row for 9.2 is not used
    assert sorted(result.studies["study_instance_uid"]) == ["9.1", "9.3"]


def test_missing_prediction_is_an_error(case):
    protocol, sites, paths = case
    with pytest.raises(AnalysisError, match="have no prediction"):
        unblind(protocol, sites, [paths["acc1"], paths["acc2"]], [paths["pred1"]])
