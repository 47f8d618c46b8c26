"""rules/federated.smk: the site and centre targets resolve; the default target is untouched."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.project import TINY_DEMO as DEMO
from tests.project import copy_project, snakemake


def _dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return snakemake(workdir, "-n", "--cores", "2", *args, check=False, timeout=300)


def _counts(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)\s*$", out, flags=re.MULTILINE)}


@pytest.fixture(scope="module")
def project(repo_root, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("project")
    copy_project(repo_root, workdir)
    (workdir / "keys").mkdir()
    (workdir / "keys" / "s02.key").write_text("placeholder: a dry run does not read it\n")
    return workdir


def test_site_target_builds_only_that_sites_partitions(project):
    result = _dry_run(project, "federated_site", "--config", DEMO, "federated={site: s02}")
    assert result.returncode == 0, result.stderr
    counts = _counts(result.stdout)
    assert counts["site_bundle"] == 1 and counts["ingest"] == 3 and counts["infer"] == 6
    assert "analyze" not in counts  # a site never unblinds
    assert "results/demo/federated/bundles/s02.bundle" in result.stdout


def test_site_target_without_a_site_says_what_to_set(project):
    result = _dry_run(project, "federated_site", "--config", DEMO)
    assert result.returncode != 0
    assert "federated.site: expected the id of this site" in result.stdout + result.stderr


def test_centre_target_waits_for_every_sites_bundle_and_key(project):
    result = _dry_run(project, "federated", "--config", DEMO)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "results/demo/federated/inbox/s04.bundle" in text and "sites/keys/s01.pub" in text


def test_default_target_has_no_federated_job(project):
    counts = _counts(_dry_run(project, "--config", DEMO).stdout)
    assert counts["analyze"] == 1
    assert not {"site_bundle", "federated_pool", "federated_report"} & set(counts)


def test_config_schema_refuses_an_unknown_federated_key(project):
    result = _dry_run(project, "--config", DEMO, "federated={inbox: x}")
    assert result.returncode != 0
    assert "federated" in result.stdout + result.stderr
