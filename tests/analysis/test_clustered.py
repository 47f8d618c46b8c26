"""Patients with several studies: the endpoints switch to patient-level intervals."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from validation.analysis.endpoints import assess
from validation.protocol import build_protocol, load_protocol
from validation.stats import bland_altman_repeated, cluster_bootstrap_ratio

from .test_endpoints import _studies


@pytest.fixture(scope="module")
def protocol(repo_root):
    return load_protocol(repo_root / "protocols" / "demo.yaml")


def _duplicated(n_patients=150, seed=8):
    """Every patient imaged twice: the second study repeats the first with new noise."""
    first = _studies(n=n_patients, seed=seed, canon_bias=0.0)
    second = first.copy()
    rng = np.random.default_rng(seed + 1)
    second["measurement"] = second["measurement"] + rng.normal(0, 0.1, n_patients)
    out = pd.concat((first, second), ignore_index=True)
    out["predicted"] = (out["measurement"] >= 11).astype(int)
    return out


def test_independent_studies_keep_the_study_level_intervals(protocol):
    res = assess(_studies(n=200, seed=3), protocol)
    assert res.clustered == {} and res.patients is None


def test_repeated_patients_use_patient_level_methods(protocol):
    studies = _duplicated()
    res = assess(studies, protocol)
    assert res.patients == 150
    metrics = res.metrics()
    expected = bland_altman_repeated(
        studies["patient_id"], studies["measurement"], studies["reference"]
    )
    assert metrics["loa_high"].ci_high == pytest.approx(expected.loa_high_ci.high)
    ref, pred = studies["label"] == 1, studies["predicted"] == 1
    sens = cluster_bootstrap_ratio(
        (ref & pred).to_numpy(),
        ref.to_numpy(),
        clusters=studies["patient_id"].to_numpy(),
        seed=protocol.analysis.seed,
        n_resamples=protocol.bootstrap.n_resamples,
    )
    assert metrics["sensitivity"].ci_low == pytest.approx(sens.ci_low)
    assert "patient cluster bootstrap" in metrics["sensitivity"].method
    assert "Bland & Altman 2007" in metrics["bias"].method


def test_patient_level_intervals_are_wider_than_the_naive_ones(protocol):
    studies = _duplicated()
    clustered = assess(studies, protocol).metrics()
    data = copy.deepcopy(protocol.data)
    del data["analysis"]["cluster"]
    naive_protocol = build_protocol(data, path=protocol.path, sha256=protocol.sha256)
    naive = assess(studies, naive_protocol).metrics()
    for metric in ("bias", "mae", "sensitivity", "auc"):
        width = clustered[metric].ci_high - clustered[metric].ci_low
        naive_width = naive[metric].ci_high - naive[metric].ci_low
        assert width > 1.2 * naive_width, metric
