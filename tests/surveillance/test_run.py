"""``mval monitor run``: files in, files out, exit status, and the same outputs on every re-run.

Behavioural tests on synthetic deployments written as files (no DICOM; see conftest); the
statistics are tested elsewhere (tests/stats, test_signals.py, test_false_alarms.py).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.surveillance.conftest import READING_SD, write_deployment
from validation.cli import main
from validation.demo.deployment import Shift
from validation.exceptions import ALARM_EXIT, IntegrityError
from validation.surveillance.batch import write_batch
from validation.surveillance.run import run_surveillance

SHIFT = Shift("s02", "GE", "2027-01", 1.5 * READING_SD, "EchoPAC 206 upgrade")


def _run(paths, *extra: str, report: bool = False) -> int:
    return main(
        [
            "-q",
            "monitor",
            "run",
            "--protocol",
            str(paths["protocol"]),
            "--baseline",
            str(paths["analysis"]),
            "--batches",
            str(paths["batches"]),
            "--labels",
            str(paths["labels"]),
            "--out",
            str(paths["out"]),
            *([] if report else ["--no-report"]),
            *extra,
        ]
    )


def _outputs(out):
    surveillance = json.loads((out / "surveillance.json").read_text())
    surveillance.pop("created_utc")
    return (
        (out / "signals.csv").read_bytes(),
        (out / "alerts.json").read_bytes(),
        surveillance,
        (out / "baseline.json").read_bytes(),
    )


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    return write_deployment(tmp_path_factory.mktemp("shifted"), shift=SHIFT)


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    return write_deployment(tmp_path_factory.mktemp("quiet"), seed=3, baseline_n=2000)


def test_alarm_exit_code_and_the_workflow_override(shifted, capsys):
    assert _run(shifted) == ALARM_EXIT == 10
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "ALARM" and summary["alerts"] >= 2
    assert _run(shifted, "--alarm-exit-code", "0") == 0
    alerts = json.loads((shifted["out"] / "alerts.json").read_text())
    keys = {"site", "vendor", "signal", "onset", "statistic", "threshold", "evidence", "months"}
    assert all(keys <= set(a) for a in alerts)
    assert {"site": "s02", "vendor": "GE", "signal": "header", "onset": "2027-01"}.items() <= (
        next(a for a in alerts if a["signal"] == "header").items()
    )


@pytest.mark.slow
def test_no_alarm_exits_0(quiet, capsys):
    assert _run(quiet) == 0
    assert json.loads(capsys.readouterr().out.strip())["status"] == "NO ALARM"
    assert json.loads((quiet["out"] / "alerts.json").read_text()) == []


def test_running_twice_gives_identical_outputs(shifted):
    _run(shifted)
    first = _outputs(shifted["out"])
    _run(shifted)
    assert _outputs(shifted["out"]) == first


@pytest.mark.slow
def test_the_report_is_rendered_after_the_run_unless_no_report(tmp_path):
    """The surveillance package renders nothing; ``mval monitor run`` renders the report from
    the surveillance.json it wrote (through its contract), beside it, unless --no-report."""
    paths = write_deployment(tmp_path, months=["2026-07", "2026-08", "2026-09"])
    pdf = paths["out"] / "surveillance-report.pdf"
    assert _run(paths, "--alarm-exit-code", "0") == 0
    assert (paths["out"] / "surveillance.json").is_file() and not pdf.exists()
    assert _run(paths, "--alarm-exit-code", "0", report=True) == 0
    record = json.loads((paths["out"] / "surveillance.json").read_text())
    assert pdf.read_bytes().startswith(b"%PDF")
    html = pdf.with_suffix(".html").read_text(encoding="utf-8")
    status = "alarm" if record["alerts"] else "no-alarm"
    assert record["run_id"] in html and f'<body class="surveillance status-{status}">' in html


@pytest.mark.slow
def test_a_reprocessed_month_replaces_its_rows(tmp_path):
    paths = write_deployment(tmp_path, months=["2026-07", "2026-08", "2026-09"])
    _run(paths)
    first = _outputs(paths["out"])
    month = paths["batches"] / "2026-08" / "batch.csv"
    original = month.read_bytes()
    table = pd.read_csv(month, dtype=str, keep_default_na=False)
    write_batch(table.iloc[: len(table) // 2], month.parent, {"month": "2026-08"})  # partial re-run
    _run(paths)
    census = json.loads((paths["out"] / "surveillance.json").read_text())["census"]
    received = sum(r["received"] for r in census if r["month"] == "2026-08")
    assert received == len(table) // 2
    write_batch(table, month.parent, {"month": "2026-08"})  # in full: back to the first outputs
    assert month.read_bytes() == original
    _run(paths)
    assert _outputs(paths["out"]) == first


@pytest.mark.slow
def test_late_labels_update_earlier_months(tmp_path):
    paths = write_deployment(tmp_path, months=["2026-07", "2026-08", "2026-09", "2026-10"])
    later = sorted(paths["labels"].glob("*.csv"))
    held = tmp_path / "held"
    held.mkdir()
    for path in later:
        if path.stem > "2026-09":
            shutil.move(path, held / path.name)

    def labelled(month: str) -> int:
        record = json.loads((paths["out"] / "surveillance.json").read_text())
        return next(
            p["labelled"] for p in record["performance"] if p["site"] == "*" and p["month"] == month
        )

    _run(paths)
    before = labelled("2026-08")
    for path in held.iterdir():  # the labels that arrive in 2026-10 (and later)
        shutil.move(path, paths["labels"] / path.name)
    _run(paths)
    after = labelled("2026-08")
    arrived = pd.concat(pd.read_csv(p, dtype=str) for p in paths["labels"].glob("*.csv"))
    expected = arrived[(arrived["acquired"] == "2026-08") & (arrived["arrived"] <= "2026-10")]
    assert after == len(expected) > before


def test_tampered_baseline_stops_the_run(shifted, capsys):
    _run(shifted, "--alarm-exit-code", "0")
    path = shifted["out"] / "baseline.json"
    record = json.loads(path.read_text())
    record["segments"][0]["sd_measurement"] *= 1.5
    saved = path.read_text()
    path.write_text(json.dumps(record))
    try:
        assert _run(shifted) == 5
        err = capsys.readouterr().err
        assert "surveillance baseline" in err and str(path) in err
        assert record["sha256"] in err
    finally:
        path.write_text(saved)


def test_predictions_of_another_model_are_refused(tmp_path):
    paths = write_deployment(tmp_path, months=["2026-07", "2026-08"])
    month = paths["batches"] / "2026-08" / "batch.csv"
    table = pd.read_csv(month, dtype=str, keep_default_na=False)
    table.loc[table["status"] == "predicted", "model_sha256"] = "f" * 64
    write_batch(table, month.parent, {"month": "2026-08"})  # a month read by another model
    with pytest.raises(IntegrityError, match=r"2026-08/batch\.csv") as info:
        run_surveillance(
            paths["protocol"],
            baseline_dir=paths["analysis"],
            batches_dir=paths["batches"],
            labels_dir=paths["labels"],
            out=paths["out"],
        )
    assert "f" * 64 in str(info.value)


def test_bad_options_and_missing_batches(shifted, tmp_path, capsys):
    assert _run(shifted, "--as-of", "June") == 2
    assert "--as-of must be a month as YYYY-MM" in capsys.readouterr().err
    assert _run(shifted, "--familywise-alpha", "1.5") == 2
    assert "--familywise-alpha must be in (0, 1)" in capsys.readouterr().err
    empty = dict(shifted, batches=tmp_path / "nothing", out=tmp_path / "out")
    assert _run(empty) == 6
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_as_of_evaluates_the_past(shifted):
    _run(shifted, "--as-of", "2026-12", "--alarm-exit-code", "0")
    record = json.loads((shifted["out"] / "surveillance.json").read_text())
    assert record["months"][-1] == "2026-12" and record["as_of"] == "2026-12"
    assert not [a for a in record["alerts"] if (a["site"], a["vendor"]) == ("s02", "GE")]
