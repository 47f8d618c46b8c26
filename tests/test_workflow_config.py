"""The workflow config: command-line values typed, then validated against the schema."""

from __future__ import annotations

import pytest
import yaml

from validation import workflow as wf
from validation.exceptions import ConfigError


@pytest.fixture
def config(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text())


def test_repo_config_is_valid(config):
    wf.check_config(config)
    assert wf.results_dir(config) == "results/demo"


def test_command_line_strings_are_typed(config):
    config["demo"] = {"enabled": "true", "n_studies": "48", "seed": "5", "out": "data/demo"}
    wf.check_config(config)
    assert config["demo"] == {"enabled": True, "n_studies": 48, "seed": 5, "out": "data/demo"}


def test_bad_value_is_named(config):
    config["demo"]["n_studies"] = "many"
    with pytest.raises(ConfigError, match=r"demo\.n_studies: 'many' is not of type 'integer'"):
        wf.check_config(config)


def test_unknown_key_is_refused(config):
    config["cores"] = 8
    with pytest.raises(ConfigError, match="Additional properties"):
        wf.check_config(config)


def test_partitions_and_paths(config, repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    parts = wf.partitions(config)
    assert len(parts) == 12 and ("s01", "GE") in parts
    assert wf.accounting_path(config, "s01", "GE") == "results/demo/ingest/s01/GE/accounting.csv"
    assert wf.model_versions(config) == ["1.0.0", "1.1.0"]
    assert wf.candidate_versions(config) == ["1.1.0"]
    # one predictions file per partition x locked version; the released one by default
    assert wf.predictions_path(config, "s01", "GE") == "results/demo/predictions/1.0.0/s01/GE.csv"
    assert (
        wf.predictions_path(config, "s01", "GE", "1.1.0")
        == "results/demo/predictions/1.1.0/s01/GE.csv"
    )
    assert len(wf.all_candidate_predictions(config)) == 12
    assert wf.candidate_options(config).startswith(
        "--candidate 1.1.0 results/demo/predictions/1.1.0/s01/GE.csv "
    )
    assert wf.candidate_analysed(config) == ["results/demo/analysis/versions/1.1.0/analysed.csv"]
    assert len(wf.all_model_files(config)) == 4
