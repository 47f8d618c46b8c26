"""Method comparison and reference-standard quality use the stats functions as they are."""

from __future__ import annotations

import numpy as np
import pytest

from validation.analysis.method_comparison import method_comparison, reference_quality
from validation.protocol import load_protocol
from validation.stats.regression import deming, passing_bablok
from validation.stats.reliability import icc, lin_ccc

from .test_endpoints import _studies


@pytest.fixture(scope="module")
def protocol(repo_root):
    return load_protocol(repo_root / "protocols" / "demo.yaml")


def test_regressions_and_ccc_are_model_on_reference(protocol):
    studies = _studies(n=200, seed=2)
    res = method_comparison(studies, protocol)
    x, y = studies["reference"].to_numpy(), studies["measurement"].to_numpy()
    assert res["deming"]["slope"] == deming(x, y).slope
    assert res["passing_bablok"]["intercept"] == passing_bablok(x, y).intercept
    assert res["ccc"]["estimate"] == lin_ccc(x, y).ccc
    icc21 = next(r for r in res["icc"] if r["form"] == "ICC(2,1)")
    assert icc21["estimate"] == pytest.approx(
        icc(np.column_stack([x, y])).loc["ICC(2,1)", "estimate"]
    )
    assert -1 <= res["kappa"]["ci_low"] <= res["kappa"]["estimate"] <= res["kappa"]["ci_high"] <= 1


def test_too_few_studies_give_only_n(protocol):
    assert method_comparison(_studies(n=2), protocol) == {"n": 2}


def test_reader_agreement_from_the_protocols_readers(protocol):
    studies = _studies(n=300, seed=5)
    rng = np.random.default_rng(0)
    for i in (1, 2, 3):
        studies[f"reader_{i}_ivsd_mm"] = studies["reference"] + rng.normal(0, 1.0, 300)
    res = reference_quality(studies, protocol)
    assert res["readers"] == ["reader_1_ivsd_mm", "reader_2_ivsd_mm", "reader_3_ivsd_mm"]
    assert len(res["pairs"]) == 3
    # each reader's error SD is 1.0 mm; the pairwise estimate recovers it
    assert res["reader_sd"] == pytest.approx(1.0, abs=0.1)
    single = next(r for r in res["icc"] if r["form"] == "ICC(2,1)")
    assert 0 < single["ci_low"] < single["estimate"] < single["ci_high"] < 1


def test_no_readers_no_reader_statistics(protocol):
    assert reference_quality(_studies(n=50), protocol) == {"readers": []}
