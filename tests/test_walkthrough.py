"""The README's "Validate your own model" walk-through, command by command, on the LVEF example.

A new site, a new model and a new measurement (an ejection fraction in %, a reduced-EF flag, two
hospitals whose reference files name their columns their own way) go from their files to both
outputs a regulatory team reads: the evidence PDF and the DICOM SRs. The test follows the
README's commands (it reads them from the README, so the two cannot drift apart) and then checks
that what users see names LVEF, %, and the protocol's codes, and nothing of the IVSd demo; and
that the user's study folder is byte for byte what it was.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pydicom
import pytest
import yaml

from tests.outputs import pdf_layout_text, sr_items
from tests.project import BIN, copy_project, run
from validation.protocol import MEASUREMENT_METRICS

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[1] / "README.md"
#: What only the IVSd demo may say.
DEMO_WORDS = re.compile(r"IVSd|LVH|septal|septum|hypertroph", re.IGNORECASE)


def _walkthrough_commands() -> list[str]:
    """The commands of the README's walk-through, in order (inline code spans of its list)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Validate your own model", 1)[1].split("\n## ", 1)[0]
    commands = []
    for span in re.findall(r"`([^`]+)`", section.replace("\n   ", " ")):
        span = " ".join(span.split())
        if span.startswith(("python -m ", "mval ", "snakemake ")):
            commands.append(span)
    return commands


def _tool(command: str) -> list[str]:
    """A README command with the project's environment in front, as the README says."""
    words = command.split()
    return [str(BIN / words[0]), *words[1:]]


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_readme_lists_every_step():
    commands = _walkthrough_commands()
    firsts = [" ".join(c.split()[:3]) for c in commands]
    assert firsts == [
        "python -m validation.demo.lvef",
        "mval model register",
        "mval protocol check",
        "mval lock protocols/lvef.yaml",
        "mval study check",
        "snakemake --cores 4",
    ], commands


@pytest.fixture(scope="module")
def walked(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    project = copy_project(repo_root, tmp_path_factory.mktemp("walkthrough"))
    # the example's lock is made by the walk-through, never shipped
    assert not (project / "protocols" / "lvef.lock.json").exists()
    outputs = []
    study = None
    for command in _walkthrough_commands():
        if command.startswith("snakemake"):
            study = _tree_digest(project / "data" / "lvef")
            command = command.replace("--cores 4", "--cores 2")
        outputs.append(run(project, *_tool(command), timeout=2400))
    return {"project": project, "outputs": outputs, "study_before": study}


def test_the_study_folder_survives_the_run_byte_for_byte(walked):
    project = walked["project"]
    assert walked["study_before"] == _tree_digest(project / "data" / "lvef")


def test_the_report_names_the_measurement_its_unit_and_finding_only(walked):
    project = walked["project"]
    results = json.loads((project / "results" / "lvef" / "analysis" / "results.json").read_text())
    outputs = results["protocol"]["outputs"]
    assert outputs["measurement"]["unit"] == "%" and outputs["finding"]["label"] == "Reduced EF"
    bias = next(e for e in results["endpoints"] if e["metric"] == "bias")
    assert bias["unit"] == "%" and bias["goal"] == {"lower": -5.0, "upper": 5.0}
    pdf = project / "results" / "lvef" / "report" / "510k.pdf"
    text = pdf_layout_text(pdf)
    assert "LVEF" in text and "Reduced EF" in text
    assert not DEMO_WORDS.findall(text), sorted(set(DEMO_WORDS.findall(text)))
    assert "500.0%" not in text  # a ±5-point goal is not a proportion
    # millimetres appear only where the images are described (pixel spacing, the model's field)
    images = ("pixel", "resampling", "region", "deep")
    in_mm = [line for line in text.splitlines() if re.search(r"\d mm\b", line)]
    assert in_mm and all(any(w in line.lower() for w in images) for line in in_mm), in_mm


def test_the_srs_hold_the_protocols_concepts_and_unit(walked):
    project = walked["project"]
    srs = sorted((project / "results" / "lvef" / "sr").rglob("*.dcm"))
    assert srs
    for path in srs[:4]:
        ds = pydicom.dcmread(path)
        names, units = set(), set()
        for item in sr_items(ds):
            if "ConceptNameCodeSequence" in item:
                code = item.ConceptNameCodeSequence[0]
                names.add((code.CodeValue, code.CodingSchemeDesignator))
            for value in item.get("MeasuredValueSequence", []):
                unit = value.MeasurementUnitsCodeSequence[0]
                units.add((unit.CodeValue, unit.CodingSchemeDesignator))
        assert ("18043-0", "LN") in names  # the protocol's LVEF concept
        assert ("%", "UCUM") in units and ("mm", "UCUM") not in units
        assert ("79969-2", "LN") not in names and ("55827005", "SCT") not in names
        assert not DEMO_WORDS.search(str(ds.ContentSequence))


def _one_output(project: Path, keep: str) -> str:
    """A copy of the LVEF protocol and config declaring only the measurement or the finding;
    returns the config's path."""
    protocol = yaml.safe_load((project / "protocols" / "lvef.yaml").read_text())
    measuring = keep == "measurement"
    drop_output, drop_column = ("finding", "label") if measuring else ("measurement", "measurement")
    del protocol["outputs"][drop_output], protocol["reference_standard"][drop_column]
    if not measuring:
        del protocol["reference_standard"]["readers"]
    protocol["endpoints"] = [
        e for e in protocol["endpoints"] if (e["metric"] in MEASUREMENT_METRICS) == measuring
    ]
    protocol.pop("multiplicity", None)
    protocol["analysis"].pop("acceptance_by", None)
    stem = f"lvef-{keep}"
    (project / "protocols" / f"{stem}.yaml").write_text(yaml.safe_dump(protocol, sort_keys=False))
    config = yaml.safe_load((project / "config" / "lvef.yaml").read_text())
    config |= {"protocol": f"protocols/{stem}.yaml", "reports": ["510k"]}
    (project / "config" / f"{stem}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return f"config/{stem}.yaml"


@pytest.mark.parametrize("keep", ["measurement", "finding"])
def test_a_protocol_with_one_output_gets_a_report_without_the_others_sections(walked, keep):
    project = walked["project"]
    config = _one_output(project, keep)
    stem = Path(config).stem
    run(project, str(BIN / "mval"), "lock", f"protocols/{stem}.yaml")
    run(project, str(BIN / "snakemake"), "--cores", "2", "--configfile", config, timeout=2400)
    results = json.loads((project / "results" / stem / "analysis" / "results.json").read_text())
    text = pdf_layout_text(project / "results" / stem / "report" / "510k.pdf")
    if keep == "measurement":
        assert results["classification"] is None and results["agreement"]["n"] == 48
        assert "Bland-Altman" in text and "ROC curve" not in text
        assert "Diagnostic accuracy of the device" not in text
    else:
        assert results["agreement"] is None and results["classification"]["n"] == 48
        assert "ROC curve" in text and "Bland-Altman" not in text
        assert "Measurement results" not in text
