"""``mval plan``: sample sizes on the command line, their numbers and their usage errors.

The numbers are those of :mod:`validation.stats.sample_size`, whose tests check them against
published examples (Buderer 1996; Chu & Cole 2007 via R MKpower; Lu et al. 2016 via R
SimplyAgree); here Buderer's example (173 subjects for sensitivity 0.90, prevalence 0.20,
W = 0.10) is run through the command line as well.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from validation.cli import main


def _row(out: str, label: str) -> list[str]:
    """The fields after a table row's label."""
    for line in out.splitlines():
        if line.strip().startswith(label):
            return line.strip()[len(label) :].split()
    raise AssertionError(f"no row {label!r} in:\n{out}")


def test_accuracy_goal_table(capsys):
    code = main(
        ["plan", "accuracy", "--sensitivity", "0.90", "--goal", "0.75", "--prevalence", "0.3"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Sample size: sensitivity against a performance goal")
    assert _row(out, "exact binomial")[:3] == ["59", "197", "0.869"]
    assert _row(out, "normal approximation")[:3] == ["54", "180", "0.801"]
    assert _row(out, "one-sided alpha") == ["0.025"]
    assert _row(out, "power") == ["0.8"]  # the default
    assert "two-sided 95% confidence interval" in out
    assert "54 cases already reach the power" in out
    assert "Flahault" in out and "Li J, Fine J" in out


def test_accuracy_goal_reproduces_chu_and_cole(capsys):
    """Chu & Cole (2007) n2 = 40 for sensitivity 0.99 against 0.85, one-sided 5%, power 0.95."""
    argv = ["plan", "accuracy", "--sensitivity", "0.99", "--goal", "0.85"]
    code = main([*argv, "--power", "0.95", "--confidence", "0.90"])
    assert code == 0
    out = capsys.readouterr().out
    assert _row(out, "exact binomial")[:2] == ["40", "40"]  # no prevalence: cases only
    assert "a sample of subjects with the condition only" in out


def test_accuracy_precision_buderer_example(capsys):
    """Buderer (1996): sensitivity 0.90, prevalence 0.20, W = 0.10 -> 173 subjects."""
    argv = ["plan", "accuracy", "--sensitivity", "0.90", "--half-width", "0.10"]
    assert main([*argv, "--prevalence", "0.20"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Sample size: sensitivity to a precision")
    assert _row(out, "total to enrol") == ["173"]
    assert _row(out, "cases (with the condition)")[0] == "35"
    assert "Buderer NMF" in out


def test_accuracy_precision_specificity_uses_one_minus_prevalence(capsys):
    """Buderer (1996): specificity 0.85, prevalence 0.20, W = 0.10 -> 62 subjects."""
    argv = ["plan", "accuracy", "--specificity", "0.85", "--half-width", "0.1"]
    assert main([*argv, "--prevalence", "0.2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["plan"] == "accuracy"
    (result,) = payload["results"]
    assert result["n_total"] == 62 and result["n_cases"] == 49
    assert result["metric"] == "specificity" and result["design"] == "precision"
    assert result["reference"].startswith("Buderer")


def test_accuracy_goal_json(capsys):
    argv = ["plan", "accuracy", "--sensitivity", "0.9", "--goal", "0.75", "--prevalence", "0.3"]
    assert main([*argv, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    exact, normal = payload["results"]
    assert (exact["method"], exact["n_cases"], exact["n_total"]) == ("exact", 59, 197)
    assert exact["n_cases_first"] == 54 and exact["attained_alpha"] <= 0.025
    assert (normal["method"], normal["n_cases"], normal["n_total"]) == ("normal", 54, 180)
    assert normal["power"] == 0.8 and normal["prevalence"] == 0.3


def test_agreement_table(capsys):
    argv = ["plan", "agreement", "--mean-diff", "0.3", "--sd-diff", "1.0", "--delta", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Sample size: Bland-Altman agreement")
    assert _row(out, "pairs needed")[:3] == ["45", "(power", "0.804)"]
    assert _row(out, "expected limits of agreement")[:3] == ["-1.66", "to", "2.26"]
    assert "Lu MJ et al." in out


def test_agreement_json_reproduces_simplyagree_example(capsys):
    """SimplyAgree blandPowerCurve example: mu 0, SD 3.3, delta 8 -> 145 pairs at 80%."""
    assert main(["plan", "agreement", "--sd-diff", "3.3", "--delta", "8", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["n"] == 145 and result["mean_diff"] == 0.0 and result["power"] == 0.8
    assert result["method"] == "lu-2016"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["accuracy", "--sensitivity", "1.5", "--goal", "0.75"],
            "--sensitivity must be in the open interval (0, 1)",
        ),
        (
            ["accuracy", "--sensitivity", "0.7", "--goal", "0.75"],
            "--goal must be below --sensitivity",
        ),
        (
            ["accuracy", "--sensitivity", "0.9", "--goal", "0.75", "--power", "80"],
            "--power must be in the open interval (0, 1)",
        ),
        (
            ["accuracy", "--specificity", "0.9", "--half-width", "0.05", "--prevalence", "1"],
            "--prevalence must be below 1",
        ),
        (
            ["accuracy", "--sensitivity", "0.9", "--half-width", "0.05", "--power", "0.8"],
            "--power applies only with --goal",
        ),
        (
            ["accuracy", "--sensitivity", "0.9", "--half-width", "0.05", "--confidence", "95"],
            "--confidence must be in the open interval (0, 1)",
        ),
        (
            ["agreement", "--mean-diff", "0.3", "--sd-diff", "1", "--delta", "2"],
            "--delta must exceed |--mean-diff| + --loa-multiplier * --sd-diff",
        ),
        (["agreement", "--sd-diff", "-1", "--delta", "2"], "--sd-diff must be a positive"),
    ],
)
def test_bad_values_are_usage_errors(argv, message, capsys):
    assert main(["plan", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("mval plan: error: ")
    assert message in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["accuracy", "--sensitivity", "0.9"],  # neither --goal nor --half-width
        ["accuracy", "--sensitivity", "0.9", "--specificity", "0.8", "--goal", "0.7"],
        ["accuracy", "--goal", "0.7"],  # neither --sensitivity nor --specificity
        ["accuracy", "--sensitivity", "high", "--goal", "0.7"],
        ["agreement", "--delta", "3"],  # --sd-diff is required
        [],
    ],
)
def test_malformed_command_lines_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(["plan", *argv])
    assert info.value.code == 2
    assert "usage: mval plan" in capsys.readouterr().err


def test_plan_runs_as_a_program():
    """The installed entry point's exit code and output, as a scheduler would see them."""
    program = [sys.executable, "-m", "validation.cli", "plan", "agreement", "--sd-diff", "1"]
    ok = subprocess.run(
        [*program, "--delta", "3", "--power", "0.9"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"pairs needed\s+\d+\s+\(power 0\.9\d\d\)", ok.stdout)
    bad = subprocess.run(
        [*program, "--delta", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "mval plan: error: --delta must exceed" in bad.stderr
