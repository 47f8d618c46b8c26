"""The workflow config: command-line values typed, validated and filled in from the schema's
defaults; the results layout it points to."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from validation import workflow as wf
from validation.cli import build_parser
from validation.demo.scenario import DEFAULT_SHIFT, PostmarketSettings
from validation.exceptions import ConfigError
from validation.schema import config_default, load_schema, validate
from validation.surveillance.signals import Settings


@pytest.fixture
def config(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text())


def test_repo_config_is_valid(config):
    wf.check_config(config)
    assert wf.results_dir(config) == "results/demo"


def test_command_line_strings_are_typed(config):
    config["demo"] = {"enabled": "true", "n_studies": "48", "seed": "5", "out": "data/demo"}
    wf.check_config(config)
    given = {key: config["demo"][key] for key in ("enabled", "n_studies", "seed", "out")}
    assert given == {"enabled": True, "n_studies": 48, "seed": 5, "out": "data/demo"}


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


def _schema_defaults(schema: dict, prefix: str = "") -> dict[str, object]:
    """``{dotted path: default}`` of every property of the schema that has one."""
    found = {}
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if "default" in sub:
            found[path] = sub["default"]
        found.update(_schema_defaults(sub, f"{path}."))
    return found


def _at(config: dict, path: str) -> object:
    for name in path.split("."):
        config = config[name]
    return config


def test_a_config_with_only_the_required_keys_gets_every_schema_default():
    config = {"protocol": "protocols/demo.yaml", "sites": "sites"}
    wf.check_config(config)
    defaults = _schema_defaults(load_schema("workflow-config"))
    # every block and every setting the config can leave out (counted, so none is forgotten)
    assert len(defaults) == 29
    for path, default in defaults.items():
        value = _at(config, path)
        if isinstance(default, dict):  # a block: its own default, then its settings' defaults
            assert default.items() <= value.items(), path
        else:
            assert value == default, path
    assert config["demo"]["enabled"] is False and config["reports"] == ["510k"]
    assert config["surveillance"]["arl0_months"] == 100.0 and config["federated"] == {
        "keys": "sites/keys"
    }
    assert set(config) == {"protocol", "sites", *(p for p in defaults if "." not in p)}


def test_given_values_are_kept_and_only_the_missing_ones_filled():
    config = {
        "protocol": "protocols/demo.yaml",
        "sites": "sites",
        "surveillance": {"arl0_months": "50"},
        "demo": {"enabled": "true", "postmarket": {"shift": "null"}},
    }
    wf.check_config(config)
    assert config["surveillance"]["arl0_months"] == 50
    assert config["surveillance"]["familywise_alpha"] == config_default(
        "surveillance.familywise_alpha"
    )
    # an explicit null shift stays null: no default is written over a given value
    assert config["demo"]["postmarket"]["shift"] == "null"
    assert wf.surveillance_options(config).split()[:4] == [
        "--familywise-alpha",
        "0.05",
        "--arl0-months",
        "50",
    ]


def test_a_partial_shift_is_not_filled_by_the_schema():
    # the shift's keys left out take the default shift's values in parse_shift, not here
    config = {
        "protocol": "protocols/demo.yaml",
        "sites": "sites",
        "demo": {"enabled": True, "postmarket": {"shift": {"month": 3}}},
    }
    wf.check_config(config)
    assert config["demo"]["postmarket"]["shift"] == {"month": 3}
    shift = wf.postmarket_settings(config)["shift"]
    assert (shift.site, shift.vendor, shift.month, shift.bias_mm) == ("s02", "GE", 3, 1.5)


def test_a_failing_anyof_branch_leaves_no_default_behind():
    schema_name = "workflow-config"
    instance = {"protocol": "p.yaml", "sites": "s", "demo": {"enabled": True}}
    instance["demo"]["postmarket"] = {"shift": {"site": "s01", "colour": "red"}}
    with pytest.raises(ConfigError, match="shift"):
        validate(instance, schema_name, source="test", defaults=True)
    assert instance["demo"]["postmarket"]["shift"] == {"site": "s01", "colour": "red"}


def test_command_line_defaults_are_the_schema_defaults():
    parser = build_parser()
    infer = parser.parse_args(["infer", "--protocol", "p", "--accounting", "a", "--out", "o"])
    assert (infer.batch_size, infer.threads) == (
        config_default("inference.batch_size"),
        config_default("inference.threads"),
    )
    month = ["--month", "2027-01", "--source", "s", "--protocol", "p", "--out", "o"]
    batch = parser.parse_args(["monitor", "batch", *month])
    assert (batch.batch_size, batch.threads) == (infer.batch_size, infer.threads)
    run = parser.parse_args(
        ["monitor", "run", "--protocol", "p", "--baseline", "b", "--batches", "m", "--out", "o"]
    )
    for name in wf.SURVEILLANCE_OPTIONS:
        default = config_default(f"surveillance.{name}")
        assert getattr(run, name) == default and type(getattr(run, name)) is type(default)
    generate = parser.parse_args(["demo", "generate"])
    assert (generate.out, generate.n_studies, generate.seed) == (
        config_default("demo.out"),
        config_default("demo.n_studies"),
        config_default("demo.seed"),
    )
    postmarket = parser.parse_args(["demo", "postmarket"])
    config = {"protocol": "protocols/demo.yaml", "sites": "sites"}
    wf.check_config(config)
    assert postmarket.out == wf.postmarket_dir(config)
    given = config["demo"]["postmarket"]
    assert (postmarket.months, postmarket.studies_per_month, postmarket.audit_fraction) == (
        given["months"],
        given["studies_per_month"],
        given["audit_fraction"],
    )
    assert postmarket.seed == config["demo"]["seed"]
    report = parser.parse_args(["report", "--results", "r", "--out", "o"])
    assert report.kind == config["reports"][0]


def test_settings_dataclasses_default_to_the_schema():
    config = {"protocol": "protocols/demo.yaml", "sites": "sites"}
    wf.check_config(config)
    settings = Settings()
    for name in wf.SURVEILLANCE_OPTIONS:
        assert getattr(settings, name) == config["surveillance"][name]
    demo = PostmarketSettings()
    assert dataclasses.asdict(DEFAULT_SHIFT) == config["demo"]["postmarket"]["shift"]
    assert (demo.months, demo.studies_per_month, demo.audit_fraction, demo.seed) == (
        config["demo"]["postmarket"]["months"],
        config["demo"]["postmarket"]["studies_per_month"],
        config["demo"]["postmarket"]["audit_fraction"],
        config["demo"]["seed"],
    )


def test_layout_paths_are_the_documented_ones():
    """The layout under results/<protocol>/ is a public interface: these strings never change
    without a migration note."""
    layout = wf.Layout("results/demo")
    assert layout.accounting("s01", "GE") == "results/demo/ingest/s01/GE/accounting.csv"
    assert layout.ingest_manifest() == "results/demo/ingest/{site}/{vendor}/manifest.json"
    assert layout.predictions() == "results/demo/predictions/{version}/{site}/{vendor}.csv"
    assert layout.sr_index("s01", "GE") == "results/demo/sr/s01/GE/index.csv"
    assert layout.lock_status == "results/demo/lock/lock-status.json"
    assert layout.audit == "results/demo/audit.jsonl"
    analysis = layout.analysis
    assert (analysis.results, analysis.studies, analysis.manifest, analysis.accounting) == (
        "results/demo/analysis/results.json",
        "results/demo/analysis/analysed.csv",
        "results/demo/analysis/manifest.json",
        "results/demo/ingest/accounting.csv",
    )
    assert analysis.version_studies("1.1.0") == "results/demo/analysis/versions/1.1.0/analysed.csv"
    assert layout.reports.pdf("510k") == "results/demo/report/510k.pdf"
    assert layout.reports.html() == "results/demo/report/{kind}.html"
    surveillance = layout.surveillance
    assert surveillance.batch() == "results/demo/surveillance/batches/{month}/batch.csv"
    assert surveillance.batch_summary("2027-01") == (
        "results/demo/surveillance/batches/2027-01/batch.json"
    )
    assert [surveillance.signals, surveillance.alerts, surveillance.record] == [
        "results/demo/surveillance/signals.csv",
        "results/demo/surveillance/alerts.json",
        "results/demo/surveillance/surveillance.json",
    ]
    assert surveillance.report_pdf == "results/demo/surveillance/surveillance-report.pdf"
    federated = layout.federated
    assert federated.bundle("s01") == "results/demo/federated/bundles/s01.bundle"
    assert federated.inbox == "results/demo/federated/inbox"
    assert federated.analysis.accounting == "results/demo/federated/analysis/accounting.csv"
    assert federated.analysis.bundles == "results/demo/federated/analysis/bundles.json"
    assert federated.reports.pdf("de-novo") == "results/demo/federated/report/de-novo.pdf"
    assert federated.pooled == "results/demo/federated/pooled"
    assert layout.log("infer") == "results/demo/logs/infer/{version}/{site}/{vendor}.log"
    assert layout.log("surveillance") == "results/demo/logs/surveillance/run.log"
    # relative to a results/<protocol>/ folder: the names inside a site bundle
    assert wf.Layout("").predictions("1.0.0", "s01", "GE") == "predictions/1.0.0/s01/GE.csv"
    assert wf.results_of(layout.lock_status) == "results/demo"
    assert wf.surveillance_files(surveillance.alerts) == surveillance


def test_every_rule_has_a_log_in_the_layout(repo_root):
    rules = set()
    for path in (repo_root / "rules").glob("*.smk"):
        rules |= set(
            re.findall(r"^rule (\w+):\n(?:(?!^rule ).)*?^    log:", path.read_text(), re.M | re.S)
        )
    assert rules == set(wf.LOGS)
