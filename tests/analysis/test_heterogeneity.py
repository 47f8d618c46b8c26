"""Across-site pooling in the analysis: per-site inputs, scales and the poolability flag."""

from __future__ import annotations

import math

import numpy as np
import pytest

from validation.analysis.heterogeneity import site_heterogeneity
from validation.protocol import load_protocol
from validation.stats.meta import random_effects

from .test_endpoints import _studies


@pytest.fixture(scope="module")
def protocol(repo_root):
    return load_protocol(repo_root / "protocols" / "demo.yaml")


def _four_sites(site_bias=(0.0, 0.0, 0.0, 0.0), n=600, seed=3):
    studies = _studies(n=n, seed=seed, canon_bias=0.0)
    studies["site"] = np.repeat(["s01", "s02", "s03", "s04"], n // 4)
    shift = dict(zip(["s01", "s02", "s03", "s04"], site_bias, strict=True))
    studies["measurement"] = studies["measurement"] + studies["site"].map(shift)
    studies["difference"] = studies["measurement"] - studies["reference"]
    studies["predicted"] = (studies["measurement"] >= 11).astype(int)
    return studies


def test_bias_is_pooled_from_site_means_and_their_variances(protocol):
    studies = _four_sites()
    res = site_heterogeneity(studies, protocol)["metrics"]["bias"]
    groups = studies.groupby("site")["difference"]
    expected = random_effects(
        groups.mean().to_numpy(), (groups.var(ddof=1) / groups.size()).to_numpy(), method="REML"
    )
    assert res["estimate"] == pytest.approx(expected.estimate)
    assert res["tau2"] == pytest.approx(expected.tau2)
    assert res["i2"] == pytest.approx(expected.i2)
    assert [s["site"] for s in res["sites"]] == ["s01", "s02", "s03", "s04"]
    assert len(res["leave_one_out"]) == 4


def test_sensitivity_is_pooled_on_the_logit_scale(protocol):
    studies = _four_sites()
    res = site_heterogeneity(studies, protocol)["metrics"]["sensitivity"]
    y, v = [], []
    for _, g in studies.groupby("site"):
        pos = g[g["label"] == 1]
        tp = int((pos["predicted"] == 1).sum())
        y.append(math.log(tp / (len(pos) - tp)))
        v.append(1 / tp + 1 / (len(pos) - tp))
    expected = random_effects(y, v, method="REML")
    assert res["estimate"] == pytest.approx(1 / (1 + math.exp(-expected.estimate)))
    assert 0 < res["ci_low"] < res["estimate"] < res["ci_high"] < 1


def test_a_deviant_site_makes_the_bias_not_poolable(protocol):
    agreeing = site_heterogeneity(_four_sites(), protocol)["metrics"]["bias"]
    deviant = site_heterogeneity(_four_sites((0, 0, 0, 1.5)), protocol)["metrics"]["bias"]
    assert agreeing["poolable"] is True
    assert deviant["poolable"] is False
    assert deviant["i2"] > 0.5
    without_s04 = next(r for r in deviant["leave_one_out"] if r["omitted"] == "s04")
    assert abs(without_s04["estimate"]) < abs(deviant["estimate"])


def test_a_single_site_is_reported_as_not_estimable(protocol):
    studies = _studies(n=100, seed=1)
    studies["site"] = "s01"
    studies["difference"] = studies["measurement"] - studies["reference"]
    res = site_heterogeneity(studies, protocol)["metrics"]["bias"]
    assert res["estimable"] is False and len(res["sites"]) == 1
