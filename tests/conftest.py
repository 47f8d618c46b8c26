"""Shared fixtures: the repository root, a tiny demo study generated once per session, and the
tiny demo study run once per session through the whole workflow.

The test tiers (markers registered in ``pyproject.toml``): ``slow`` (long simulations and
renders), ``service`` (starts an external service: Orthanc, Slurm) and ``e2e`` (runs the
Snakemake workflow). ``make check`` runs the rest, ``make test`` everything. A test that uses a
fixture of :data:`MARKED_FIXTURES` (directly or through another fixture) gets that fixture's
marker here, so the fast tier never starts a service or a workflow run.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from tests.orthanc import orthanc, orthanc_server  # noqa: F401 (fixtures for every folder)
from tests.project import TINY, TINY_STUDIES, copy_project, copy_run, snakemake

ROOT = Path(__file__).resolve().parents[1]
#: Seed of the ``tiny_demo`` cohort (generated in Python; the workflow's tiny run has its own).
TINY_DEMO_SEED = 11

#: Fixtures that start a service or run the workflow, and the marker of every test using one.
MARKED_FIXTURES = {
    "tiny_run": "e2e",
    "orthanc_server": "service",
    "slurm_cluster": "service",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses a fixture of :data:`MARKED_FIXTURES` with its marker."""
    for item in items:
        used = getattr(item, "fixturenames", ())
        for fixture, marker in MARKED_FIXTURES.items():
            if fixture in used and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


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
    generate_test_cohort(
        sites, n_studies=TINY_STUDIES, seed=TINY_DEMO_SEED, out=root / "data" / "demo"
    )
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project in which ``snakemake --cores 2`` ran the tiny demo study once for
    the whole session (default target: results, both evidence reports, every SR export).

    Read it, never change it: a test that changes files or runs Snakemake for real takes
    ``tiny_run_copy``. Every test using it is marked ``e2e`` (see :data:`MARKED_FIXTURES`).
    Under pytest-xdist the workers share one run: the first to need it runs it while holding a
    lock in the session's common temporary folder, the others wait for it and read it.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the workers' temporary folders are its subfolders
    workdir, done = shared / "tiny-run", shared / "tiny-run.done"
    with open(shared / "tiny-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                if workdir.exists():  # a run that failed in another worker
                    shutil.rmtree(workdir)
                snakemake(copy_project(ROOT, workdir), "--cores", "2", *TINY)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return workdir


@pytest.fixture
def tiny_run_copy(tiny_run: Path, tmp_path: Path) -> Path:
    """A private copy of the finished tiny run: Snakemake there re-runs only what a test
    changes."""
    return copy_run(tiny_run, tmp_path / "tiny-run")
