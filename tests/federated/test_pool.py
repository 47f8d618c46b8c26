"""Pooling refuses before any analysis: a refused bundle, two for one site, a missing site."""

from __future__ import annotations

import pytest

from validation.exceptions import AnalysisError, BundleError
from validation.federated.bundle import export_bundle
from validation.federated.pool import check_bundles, verify_all


def _export(site: str) -> str:
    out = f"inbox/{site}.bundle"
    export_bundle(
        f"sites/{site}.yaml", "protocols/demo.yaml", "results/demo", f"keys/{site}.key", out
    )
    return out


def test_every_site_verified_in_study_order(study, centre):
    paths = [_export(s) for s in ("s04", "s02", "s01", "s03")]
    bundles = verify_all(paths, **centre)
    assert [b.site for b in bundles] == ["s01", "s02", "s03", "s04"]


def test_two_bundles_for_one_site_are_refused(study, centre):
    first = _export("s01")
    second = "inbox/s01-again.bundle"
    export_bundle("sites/s01.yaml", "protocols/demo.yaml", "results/demo", "keys/s01.key", second)
    with pytest.raises(BundleError, match=r"\(site s01\) refused: a second bundle for site s01"):
        verify_all([first, second], **centre)


def test_a_missing_site_stops_the_pooling(study, centre):
    paths = [_export(s) for s in ("s01", "s02")]
    with pytest.raises(AnalysisError, match="no bundle from site"):
        verify_all(paths, **centre)
    assert [b.site for b in verify_all(paths, **centre, require_all=False)] == ["s01", "s02"]
    with pytest.raises(AnalysisError, match="got none"):
        verify_all([], **centre)


def test_check_bundles_gives_every_bundle_a_verdict_and_goes_on_after_a_refusal(study, centre):
    paths = [_export("s01"), "inbox/missing.bundle", _export("s02"), "inbox/s01.bundle"]
    verdicts = check_bundles(paths, **centre)
    assert [v.path for v in verdicts] == paths
    assert [v.record()["verdict"] for v in verdicts] == ["OK", "REFUSED", "OK", "REFUSED"]
    assert [v.site for v in verdicts] == ["s01", None, "s02", "s01"]
    assert verdicts[1].record()["reason"] == "file not found"
    assert "a second bundle for site s01 (the first is inbox/s01.bundle)" in (
        verdicts[3].refusal.reason
    )
    # pooling stops at the first refusal, the same one
    with pytest.raises(BundleError) as refused:
        verify_all(paths, **centre)
    assert str(refused.value) == str(verdicts[1].refusal)
