"""Shared fixtures: the repository root and a tiny demo study generated once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_STUDIES = 48  # 4 per partition, the generator's minimum


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> Path:
    """A project-like folder with the repo's site files and a tiny generated demo study."""
    from validation.demo.generate import generate_test_cohort
    from validation.sites import load_sites, site_files

    root = tmp_path_factory.mktemp("tiny-demo")
    shutil.copytree(ROOT / "sites", root / "sites")
    sites = load_sites(site_files(root / "sites"), root=root)
    generate_test_cohort(sites, n_studies=TINY_STUDIES, seed=11, out=root / "data" / "demo")
    return root
