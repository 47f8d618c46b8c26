"""The demo writes only its own folder and replaces only its own, unchanged files (issue 17).

The bug: ``mval demo generate`` deleted every folder partition of every site in ``sites:`` and
rewrote each site's reference file, so a hospital's folder named in a site file lost all its
files. These checks run the real generators (the test cohort, 4 studies per partition of the
repository's 12; a 1-month post-market demo) into temporary projects and hash every file of a
user's study folder before and after.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from validation.demo.generate import generate_test_cohort
from validation.demo.postmarket import generate_postmarket
from validation.demo.record import RECORD, claim, seal
from validation.demo.scenario import PostmarketSettings
from validation.exceptions import DemoOutputError
from validation.hashing import sha256_file
from validation.sites import load_sites, site_files

N_STUDIES, SEED = 48, 5
#: ``mval`` as a child process of this Python (the command's exit code and stderr, as a user sees)
MAIN = "import sys; from validation.cli import main; sys.exit(main())"


def _hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (hidden ones too), by relative path."""
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _user_study(root: Path) -> Path:
    """A hospital's study folder (DICOM-like files in vendor folders, a reference CSV) and a
    site file reading it, as a user sets up a study of their own."""
    study = root / "hospital"
    for name in ("GE/P001/IM_0001.dcm", "GE/P002/IM_0001.dcm", "Philips/P003/IM_0001.dcm"):
        (study / name).parent.mkdir(parents=True, exist_ok=True)
        (study / name).write_bytes(b"DICM" + name.encode() * 20)
    (study / "reference.csv").write_text(
        "study_instance_uid,consensus_ivsd_mm,lvh\n1.2.3,10.5,0\n1.2.4,12.0,1\n"
    )
    (root / "study-sites").mkdir()
    (root / "study-sites" / "h01.yaml").write_text(
        "id: h01\nname: Harbour Hospital\npartitions:\n"
        "  - {vendor: GE, source: {kind: folder, path: hospital/GE}}\n"
        "  - {vendor: Philips, source: {kind: folder, path: hospital/Philips}}\n"
        "reference: {path: hospital/reference.csv}\n"
    )
    return study


def _demo_project(root: Path, repo_root: Path) -> list:
    shutil.copytree(repo_root / "sites", root / "sites")
    return load_sites(site_files(root / "sites"), root=root)


@pytest.fixture(scope="module")
def generated(repo_root, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A project with the demo generated once (n = 48, seed 5), and the hashes of its output."""
    root = tmp_path_factory.mktemp("demo-project")
    sites = _demo_project(root, repo_root)
    generate_test_cohort(sites, n_studies=N_STUDIES, seed=SEED, out=root / "data" / "demo")
    return root, _hashes(root / "data" / "demo")


@pytest.fixture
def project(generated, tmp_path) -> Path:
    """A private copy of the generated project (a test may change it)."""
    root, _ = generated
    return Path(shutil.copytree(root, tmp_path / "project"))


def _generate(root: Path, out: Path | None = None, sites: str = "sites") -> dict:
    loaded = load_sites(site_files(root / sites), root=root)
    return generate_test_cohort(
        loaded, n_studies=N_STUDIES, seed=SEED, out=out or root / "data" / "demo"
    )


def test_the_record_lists_every_written_file_with_its_sha256(generated):
    root, hashes = generated
    out = root / "data" / "demo"
    record = json.loads((out / RECORD).read_text())
    assert record["generator"] == "validation.demo.generate" and record["complete"] is True
    assert record["settings"]["seed"] == SEED and record["settings"]["n_studies"] == N_STUDIES
    assert record["files"] == {k: v for k, v in hashes.items() if k != RECORD}
    # the demo's own layout, and nothing else
    tops = {name.split("/")[0] for name in record["files"]}
    assert tops == {"test", "reference", "demo-summary.json"}
    assert (
        "reference/s01.csv" in record["files"]
        and "test/s01/GE/incoming/truncated.dcm" in (record["files"])
    )


def test_regenerating_over_its_own_output_gives_the_same_bytes(generated, project):
    _, before = generated
    _generate(project)
    assert _hashes(project / "data" / "demo") == before  # the record too: no clock in it


def test_regenerating_removes_its_own_files_that_a_smaller_run_does_not_write(project):
    out = project / "data" / "demo"
    loaded = load_sites(site_files(project / "sites"), root=project)
    generate_test_cohort(loaded, n_studies=60, seed=SEED, out=out)
    larger = set(_hashes(out))
    _generate(project)
    smaller = set(_hashes(out))
    assert smaller < larger  # 12 studies fewer, none left behind
    assert set(json.loads((out / RECORD).read_text())["files"]) == smaller - {RECORD}


@pytest.mark.parametrize(
    "foreign", ["notes.txt", "test/s01/GE/P_OWN/IM_0001.dcm", "reference/extra.csv"]
)
def test_a_file_it_did_not_write_refuses_naming_it(project, foreign):
    out = project / "data" / "demo"
    (out / foreign).parent.mkdir(parents=True, exist_ok=True)
    (out / foreign).write_text("a user's file\n")
    before = _hashes(project)
    with pytest.raises(DemoOutputError, match=rf"did not write: {foreign}\b") as error:
        _generate(project)
    assert str(out) in str(error.value)
    assert _hashes(project) == before  # nothing removed, nothing written


def test_a_file_it_wrote_and_that_changed_refuses_naming_it(project):
    out = project / "data" / "demo"
    reference = out / "reference" / "s02.csv"
    reference.write_text(reference.read_text() + "1.2.999,11.0,11.0,11.0,11.0,1,0.5\n")
    before = _hashes(project)
    with pytest.raises(DemoOutputError, match=r"changed since .*: reference/s02\.csv"):
        _generate(project)
    assert _hashes(project) == before


def test_a_folder_with_files_but_no_record_refuses(project, tmp_path):
    out = tmp_path / "somebody-else"
    (out / "scans").mkdir(parents=True)
    (out / "scans" / "a.dcm").write_bytes(b"DICM")
    with pytest.raises(DemoOutputError, match=r"holds no demo record .*: scans/a\.dcm"):
        claim(out, generator="validation.demo.generate")
    assert _hashes(out) == {"scans/a.dcm": sha256_file(out / "scans" / "a.dcm")}


def test_an_unfinished_run_or_another_generators_record_refuses(tmp_path):
    out = tmp_path / "out"
    claim(out, generator="validation.demo.generate")  # a run that never sealed
    (out / "a.dcm").write_bytes(b"DICM")
    with pytest.raises(DemoOutputError, match=r"did not finish .*\(a\.dcm\)"):
        claim(out, generator="validation.demo.generate")
    seal(out, generator="validation.demo.postmarket", settings={})
    with pytest.raises(DemoOutputError, match=r"written by 'validation\.demo\.postmarket'"):
        claim(out, generator="validation.demo.generate")
    assert (out / "a.dcm").read_bytes() == b"DICM"


def test_an_empty_folder_and_empty_subfolders_are_claimed(tmp_path):
    (tmp_path / "out" / "empty" / "deeper").mkdir(parents=True)
    claim(tmp_path / "out", generator="g")
    record = seal(tmp_path / "out", generator="g", settings={"seed": 1})
    assert record == {"generator": "g", "complete": True, "settings": {"seed": 1}, "files": {}}


def test_the_post_market_demo_inside_the_demo_folder_belongs_to_it(repo_root, project):
    """``<demo.out>/postmarket`` has its own record: each generator leaves the other's alone."""
    sites = load_sites(site_files(repo_root / "sites"), root=repo_root)
    out = project / "data" / "demo"
    settings = PostmarketSettings(months=1, studies_per_month=1, seed=SEED, shift=None)
    generate_postmarket(sites, out / "postmarket", settings)
    postmarket = _hashes(out / "postmarket")
    assert RECORD in postmarket and "scenario.json" in postmarket
    _generate(project)  # the test cohort again: the post-market folder is not its to check
    assert _hashes(out / "postmarket") == postmarket
    assert not any(
        k.startswith("postmarket/") for k in json.loads((out / RECORD).read_text())["files"]
    )
    generate_postmarket(sites, out / "postmarket", settings)  # and again over its own files
    assert _hashes(out / "postmarket") == postmarket
    (out / "postmarket" / "labels" / "2026-07.csv").write_text("edited\n")
    with pytest.raises(DemoOutputError, match=r"changed since .*: labels/2026-07\.csv"):
        generate_postmarket(sites, out / "postmarket", settings)


def test_a_users_study_folder_survives_the_demo_byte_for_byte(repo_root, tmp_path):
    """Issue 17: site files naming a hospital's folder; the demo writes nothing for them."""
    study = _user_study(tmp_path)
    before = _hashes(study)
    with pytest.raises(DemoOutputError, match=r"site h01 partition GE reads .*hospital/GE") as e:
        _generate(tmp_path, sites="study-sites")
    assert "site h01 reference is" in str(e.value) and "reference.csv" in str(e.value)
    with pytest.raises(DemoOutputError):  # the demo's folder being the hospital's: refused too
        _generate(tmp_path, out=study, sites="study-sites")
    assert _hashes(study) == before
    assert not (tmp_path / "data").exists()


def test_the_command_line_refuses_with_its_exit_code_and_no_traceback(tmp_path):
    study = _user_study(tmp_path)
    before = _hashes(study)
    result = subprocess.run(
        [sys.executable, "-c", MAIN, "-q", "demo", "generate", "--sites", "study-sites"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == DemoOutputError.exit_code == 14
    assert result.stderr.startswith("mval demo: error: demo output data/demo refused:")
    assert "Traceback" not in result.stderr and "hospital/GE" in result.stderr
    assert _hashes(study) == before
