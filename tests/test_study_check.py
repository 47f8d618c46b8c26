"""``mval study check``: every problem of a study's files at once, with file and line, no image
read and no reference value shown.

Each test builds a small project in its own folder (the repository's protocol and locked models,
one site file, a partition folder and a reference file) and runs the check there, as a user runs
it from the project's root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.orthanc import free_port
from validation.cli import main
from validation.study_check import check_study
from validation.workflow import Layout, study_check_options

HEADER = (
    "study_instance_uid,reader_1_ivsd_mm,reader_2_ivsd_mm,reader_3_ivsd_mm,consensus_ivsd_mm,lvh"
)
ROWS = ["1.2.826.0.1.1,10,10.5,11,10.5,0", "1.2.826.0.1.2,12,12,12.5,12.2,1"]
SITE = """\
id: s01
name: Test hospital
partitions:
  - vendor: GE
    source: {kind: folder, path: data/s01/GE}
reference:
  path: data/reference/s01.csv
"""


@pytest.fixture
def project(tmp_path, repo_root, monkeypatch) -> Path:
    """A clean one-site study in the current folder (the check resolves paths against it)."""
    (tmp_path / "protocols").mkdir()
    shutil.copy(repo_root / "protocols" / "demo.yaml", tmp_path / "protocols" / "demo.yaml")
    (tmp_path / "models").symlink_to(repo_root / "models")
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "s01.yaml").write_text(SITE)
    (tmp_path / "data" / "s01" / "GE").mkdir(parents=True)
    (tmp_path / "data" / "s01" / "GE" / "a.dcm").write_bytes(b"not read by the check")
    (tmp_path / "data" / "reference").mkdir()
    _reference(tmp_path, HEADER, *ROWS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _reference(root: Path, *lines: str) -> Path:
    path = root / "data" / "reference" / "s01.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _check():
    return check_study("protocols/demo.yaml", "sites")


def _found(check) -> list[str]:
    return [str(f) for f in check.findings]


def test_a_clean_study_passes(project):
    check = _check()
    assert check.passed and check.findings == ()
    assert check.counts == {
        "site_files": 1,
        "partitions": 1,
        "reference_files": 1,
        "reference_rows": 2,
        "models": 2,
    }


def test_a_reference_file_missing_a_column_is_named_with_file_and_column(project):
    _reference(project, HEADER.replace(",lvh", ""), *(r[:-2] for r in ROWS))
    assert _found(_check())[0].startswith(
        "data/reference/s01.csv:1: lvh: required by the protocol but missing"
    )


def test_duplicate_study_keys_are_reported_by_line(project):
    _reference(project, HEADER, *ROWS, ROWS[0])
    assert _found(_check()) == [
        "data/reference/s01.csv:4: study_instance_uid: repeats the study key of line 2"
    ]


def test_a_non_numeric_value_is_reported_with_its_row_and_not_shown(project):
    _reference(project, HEADER, ROWS[0], ROWS[1].replace("12.2", "12.2 mm"))
    check = _check()
    assert "data/reference/s01.csv:3: consensus_ivsd_mm: not a number" in _found(check)
    assert not check.passed


def test_reference_values_are_never_printed(project, capsys):
    secret = "17.3"
    _reference(project, HEADER, ROWS[0], ROWS[1].replace("12.2", "x" + secret), ROWS[0])
    assert main(["study", "check", "--protocol", "protocols/demo.yaml", "--sites", "sites"]) == 2
    printed = capsys.readouterr()
    assert "data/reference/s01.csv:3: consensus_ivsd_mm: not a number" in printed.out
    for value in (secret, "1.2.826.0.1.1", "10.5"):
        assert value not in printed.out + printed.err


def test_a_missing_partition_folder_is_reported_at_its_line_in_the_site_file(project):
    shutil.rmtree(project / "data" / "s01" / "GE")
    assert _found(_check()) == [
        "sites/s01.yaml:5: partitions[0].source.path: partition folder data/s01/GE does not exist"
    ]


def test_an_empty_partition_folder_is_a_warning_only(project):
    (project / "data" / "s01" / "GE" / "a.dcm").unlink()
    check = _check()
    assert check.passed
    assert [f.severity for f in check.findings] == ["warning"]
    assert "is empty" in check.findings[0].message


def test_an_unreachable_dicomweb_server_is_an_error_naming_the_url(project):
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    (project / "sites" / "s01.yaml").write_text(
        SITE.replace("{kind: folder, path: data/s01/GE}", f"{{kind: dicomweb, url: {url}}}")
    )
    (finding,) = _check().findings
    assert (finding.file, finding.line, finding.field) == (
        "sites/s01.yaml",
        5,
        "partitions[0].source.url",
    )
    assert f"DICOMweb server {url} cannot be reached" in finding.message


def test_a_mapped_site_passes(project):
    _reference(
        project,
        "StudyUID,R1,R2,R3,IVSd_consensus,LVH",
        *ROWS,
    )
    (project / "sites" / "s01.yaml").write_text(
        SITE + "  key: StudyUID\n  columns:\n    consensus_ivsd_mm: IVSd_consensus\n    lvh: LVH\n"
        "    reader_1_ivsd_mm: R1\n    reader_2_ivsd_mm: R2\n    reader_3_ivsd_mm: R3\n"
    )
    assert _check().findings == ()
    (project / "sites" / "s01.yaml").write_text(SITE + "  columns: {lvh: LVH_flag}\n")
    found = _found(_check())
    assert len(found) == 6  # the key and four columns are not mapped, LVH_flag is not there
    assert found[1] == (
        "data/reference/s01.csv:1: lvh (site column 'LVH_flag'): reference.columns maps it to "
        "a column the file lacks (the file's columns: StudyUID, R1, R2, R3, IVSd_consensus, LVH)"
    )


def test_a_protocol_yaml_error_has_its_line(project):
    path = project / "protocols" / "demo.yaml"
    lines = path.read_text().splitlines()
    lines[5] = lines[5] + " [unclosed"
    path.write_text("\n".join(lines) + "\n")
    (finding,) = _check().findings
    assert finding.file == "protocols/demo.yaml" and finding.line is not None
    assert finding.field == "protocol" and "malformed YAML" in finding.message


def test_a_protocol_schema_error_and_a_consistency_error_have_their_lines(project):
    path = project / "protocols" / "demo.yaml"
    text = path.read_text()
    path.write_text(text.replace("    threshold: 0.5\n", "    threshold: 5\n"))
    (finding,) = _check().findings
    line = text.splitlines().index("    threshold: 0.5") + 1
    assert str(finding) == (
        f"protocols/demo.yaml:{line}: outputs.finding.threshold: 5 is greater than the maximum of 1"
    )
    path.write_text(text.replace("  alpha: 0.05\n", "  alpha: 0.10\n"))
    (finding,) = _check().findings
    assert finding.field == "multiplicity.alpha"
    assert finding.line == text.splitlines().index("  alpha: 0.05") + 1


def test_a_card_whose_outputs_do_not_give_what_the_protocol_judges(project, repo_root):
    """A model measuring in cm under a protocol in mm, and one without a probability under a
    protocol with a finding, are found before any run, at the card's line."""
    (project / "models").unlink()
    shutil.copytree(repo_root / "models", project / "models")
    card = project / "models" / "ivsd-cnn" / "1.0.0" / "model-card.yaml"
    data = yaml.safe_load(card.read_text())
    data["outputs"] = data["outputs"][:1]  # the measurement only
    data["outputs"][0]["unit"] = "cm"
    card.write_text(yaml.safe_dump(data, sort_keys=False))
    found = {(f.file, f.field): f.message for f in _check().findings}
    path = "models/ivsd-cnn/1.0.0/model-card.yaml"
    assert found[(path, "outputs")] == (
        "no probability or logit output, but the protocol judges a finding"
    )
    assert found[(path, "outputs[0]")] == (
        "output 'ivsd_mm' is in cm, the protocol's measurement in mm"
    )


def test_changed_weights_are_named_in_the_card_and_the_protocol(project, repo_root):
    (project / "models").unlink()
    shutil.copytree(repo_root / "models", project / "models")
    weights = project / "models" / "ivsd-cnn" / "1.1.0" / "model.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    card, protocol = _check().findings
    assert (card.file, card.field) == ("models/ivsd-cnn/1.1.0/model-card.yaml", "weights.sha256")
    assert (protocol.file, protocol.field) == ("protocols/demo.yaml", "models[1].sha256")
    text = (project / "protocols" / "demo.yaml").read_text().splitlines()
    assert protocol.line == next(i for i, t in enumerate(text, 1) if "3a4c1350" in t)
    assert "models/ivsd-cnn/1.1.0/model.pt has sha256" in protocol.message


def test_the_check_lists_several_problems_at_once(project, capsys):
    (project / "sites" / "s02.yaml").write_text(
        SITE.replace("id: s01", "id: s02").replace("name: Test hospital\n", "")
    )
    shutil.rmtree(project / "data" / "s01" / "GE")
    _reference(project, HEADER, ROWS[0], ROWS[0], ROWS[1].replace(",1", ",2"))
    out = project / "results" / "demo" / "study-check.json"
    code = main(
        [
            "study",
            "check",
            "--protocol",
            "protocols/demo.yaml",
            "--sites",
            "sites",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out.splitlines()
    assert code == 2
    assert printed[:4] == [
        "sites/s02.yaml:1: (top level): 'name' is a required property",
        "sites/s01.yaml:5: partitions[0].source.path: partition folder data/s01/GE does not exist",
        "data/reference/s01.csv:3: study_instance_uid: repeats the study key of line 2",
        "data/reference/s01.csv:4: lvh: a label must be 0 or 1",
    ]
    assert printed[-1].startswith("study check failed: 4 errors, 0 warnings")
    record = json.loads(out.read_text())
    assert record["status"] == "failed" and record["errors"] == 4
    assert {f["line"] for f in record["findings"]} == {5, 3, 4, 1}


def test_implausible_readings_for_the_unit_are_a_warning_with_lines_only(project):
    protocol = project / "protocols" / "demo.yaml"
    protocol.write_text(protocol.read_text().replace("    range: [2, 30]\n", ""))
    _reference(project, HEADER, ROWS[0], ROWS[1].replace("12.2", "-12.2"))
    check = _check()
    assert check.passed
    (warning,) = check.warnings
    assert str(warning) == (
        "data/reference/s01.csv:3: consensus_ivsd_mm: warning: 1 reading(s) outside the "
        "plausible range (0 to 2500 mm) on lines 3: a unit mix-up or a slip?"
    )


def test_readings_outside_the_protocols_range_are_errors_with_lines_only(project):
    _reference(project, HEADER, ROWS[0], ROWS[1].replace("12.2", "99.9"))
    check = _check()
    assert not check.passed
    (error,) = check.findings
    assert str(error) == (
        "data/reference/s01.csv:3: consensus_ivsd_mm: outside the protocol's range 2 to 30 "
        "(a slip?)"
    )
    assert "99.9" not in str(error)  # the sealed reference shows no value


def test_the_analysis_refuses_readings_outside_the_protocols_range(project):
    """The range holds at unblinding too, not only when the check ran first."""
    from validation.exceptions import AnalysisError
    from validation.protocol import load_protocol
    from validation.reference import read_reference
    from validation.sites import load_sites, site_files

    _reference(project, HEADER, ROWS[0], ROWS[1].replace("12.2", "99.9"))
    protocol = load_protocol("protocols/demo.yaml")
    (site,) = load_sites(site_files(project / "sites"), root=project)
    with pytest.raises(AnalysisError, match=r"s01.csv:3: consensus_ivsd_mm: outside the protocol"):
        read_reference(
            site,
            protocol.reference_standard,
            value_range=protocol.measurement.range,
            error=AnalysisError,
        )


def test_only_the_named_sites_data_are_checked(project):
    (project / "sites" / "s02.yaml").write_text(
        SITE.replace("id: s01", "id: s02").replace("s01", "s02")
    )
    assert not check_study("protocols/demo.yaml", "sites").passed  # s02 has no data here
    assert check_study("protocols/demo.yaml", "sites", only=["s01"]).findings == ()


def test_the_config_is_checked_and_names_protocol_and_sites(project):
    (project / "config.yaml").write_text(
        "protocol: protocols/demo.yaml\nsites: sites\nreports: [pdf]\n"
    )
    check = check_study(config="config.yaml")
    assert _found(check) == ["config.yaml:3: reports[0]: 'pdf' is not one of ['510k', 'de-novo']"]


def test_the_demo_study_passes(tiny_demo, repo_root, tmp_path, monkeypatch, capsys):
    for name in ("sites", "data"):
        (tmp_path / name).symlink_to(tiny_demo / name)
    for name in ("models", "protocols"):
        (tmp_path / name).symlink_to(repo_root / name)
    monkeypatch.chdir(tmp_path)
    out = Layout("results/demo").study_check
    assert (
        main(
            ["study", "check", "--config", str(repo_root / "config" / "config.yaml"), "--out", out]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("study check passed: 0 errors, 0 warnings")
    record = json.loads(Path(out).read_text())
    assert record["counts"]["site_files"] == 4 and record["counts"]["partitions"] == 12


def test_the_workflow_checks_only_a_federated_sites_own_data():
    assert study_check_options({"federated": {"site": "s02"}}) == "--site s02"
    assert study_check_options({"federated": {}}) == ""
    assert Layout("results/demo").study_check == "results/demo/study-check.json"
