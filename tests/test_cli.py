"""The command line maps each error class to its exit code with a one-line message."""

from __future__ import annotations

import pytest

from validation.cli import main


def test_protocol_check_ok(repo_root, capsys):
    assert main(["protocol", "check", str(repo_root / "protocols" / "demo.yaml")]) == 0
    assert "valid; 7 endpoints (5 primary)" in capsys.readouterr().out


def test_malformed_protocol_exit_code_3(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n")
    assert main(["protocol", "check", str(bad)]) == 3
    err = capsys.readouterr().err
    assert "mval protocol: error:" in err and "malformed YAML" in err


def test_missing_partition_folder_exit_code_4(tmp_path, repo_root, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the site file's data paths resolve here, where nothing exists
    code = main(
        [
            "ingest",
            "--site",
            str(repo_root / "sites" / "s01.yaml"),
            "--vendor",
            "GE",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 4
    assert "does not exist" in capsys.readouterr().err


def test_unknown_vendor_is_a_config_error(repo_root, tmp_path, capsys):
    code = main(
        [
            "ingest",
            "--site",
            str(repo_root / "sites" / "s01.yaml"),
            "--vendor",
            "Esaote",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "no partition for vendor 'Esaote'" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("mval ")
