"""The protocol loader: schema validation with clear, located messages."""

from __future__ import annotations

import copy

import pytest
import yaml

from validation.exceptions import ProtocolError
from validation.protocol import (
    MEASUREMENT_METRICS,
    BootstrapPlan,
    Concept,
    Finding,
    Goal,
    HeterogeneityPlan,
    Measurement,
    MultiplicityPlan,
    build_protocol,
    load_protocol,
)
from validation.schema import load_schema
from validation.stats import DEFAULT_RESAMPLES


def _write(tmp_path, data, name="p.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def demo_data(repo_root):
    return yaml.safe_load((repo_root / "protocols" / "demo.yaml").read_text())


def test_demo_protocol_loads(repo_root):
    protocol = load_protocol(repo_root / "protocols" / "demo.yaml")
    assert protocol.stem == "demo"
    assert len(protocol.sha256) == 64
    assert {e.metric for e in protocol.endpoints} >= {"bias", "sensitivity", "specificity"}


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ProtocolError, match=r"nope\.yaml: file not found"):
        load_protocol(tmp_path / "nope.yaml")


def test_malformed_yaml_gives_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("id: demo\nendpoints: [\n  - x: 1\n")
    with pytest.raises(ProtocolError, match=r"bad.yaml: malformed YAML at line \d+"):
        load_protocol(path)


def test_schema_violation_names_location(tmp_path, demo_data):
    demo_data["endpoints"][1]["metric"] = "accuracy"
    demo_data["analysis"]["confidence"] = 1.5
    with pytest.raises(ProtocolError) as info:
        load_protocol(_write(tmp_path, demo_data))
    message = str(info.value)
    assert "analysis.confidence" in message
    assert "endpoints[1].metric" in message and "'accuracy'" in message


def test_duplicate_endpoint_ids_refused(tmp_path, demo_data):
    demo_data["endpoints"][1]["id"] = demo_data["endpoints"][0]["id"]
    with pytest.raises(ProtocolError, match="endpoint ids must be unique"):
        load_protocol(_write(tmp_path, demo_data))


def test_unsorted_bands_refused(tmp_path, demo_data):
    demo_data["analysis"]["age_bands"] = [18, 60, 40]
    with pytest.raises(ProtocolError, match="age_bands must be strictly increasing"):
        load_protocol(_write(tmp_path, demo_data))


@pytest.mark.parametrize(
    ("goal", "low", "high", "expected"),
    [
        (Goal(lower=0.8), 0.81, 0.95, True),
        (Goal(lower=0.8), 0.79, 0.95, False),  # point estimate may clear it; the bound does not
        (Goal(lower=-1.0, upper=1.0), -0.2, 1.01, False),
        (Goal(lower=-1.0, upper=1.0), -0.99, 0.99, True),
        (Goal(upper=3.0), float("nan"), float("nan"), None),
    ],
)
def test_goal_judged_on_ci_bound(goal, low, high, expected):
    assert goal.met(low, high) is expected


def test_acceptance_by_must_name_known_endpoints(tmp_path, demo_data):
    demo_data["analysis"]["acceptance_by"] = {"vendor": ["ivsd-bias", "auc"]}
    with pytest.raises(ProtocolError, match=r"acceptance_by\.vendor names unknown endpoint"):
        load_protocol(_write(tmp_path, demo_data))


def test_acceptance_by_dimension_must_be_a_stratum(tmp_path, demo_data):
    demo_data["analysis"]["strata"] = ["site"]
    with pytest.raises(ProtocolError, match=r"not in analysis\.strata"):
        load_protocol(_write(tmp_path, demo_data))


# ------------------------------------------------------------------ several locked versions


def test_demo_protocol_names_a_released_version_and_a_candidate(repo_root):
    protocol = load_protocol(repo_root / "protocols" / "demo.yaml")
    assert protocol.released.version == "1.0.0" and protocol.released.role == "released"
    assert [m.version for m in protocol.candidates] == ["1.1.0"]
    assert protocol.model_path == protocol.released.path  # the released version by default
    assert set(protocol.comparison.margins) == {e.id for e in protocol.endpoints}
    with pytest.raises(
        ProtocolError, match=r"no model version '2\.0\.0'.*\['1\.0\.0', '1\.1\.0'\]"
    ):
        protocol.model_version("2.0.0")


def test_single_model_protocol_is_its_released_version(tmp_path, demo_data):
    released = demo_data["models"][0]
    data = {k: v for k, v in demo_data.items() if k not in ("models", "comparison")}
    data["model"] = {"path": released["path"], "sha256": released["sha256"]}
    protocol = load_protocol(_write(tmp_path, data))
    assert [(m.version, m.role) for m in protocol.models] == [("1.0.0", "released")]
    assert protocol.candidates == () and protocol.comparison.margins == {}


def test_model_and_models_together_are_refused(tmp_path, demo_data):
    demo_data["model"] = {"path": "models/x", "sha256": "0" * 64}
    with pytest.raises(ProtocolError, match=r"either with `model`.*not both"):
        load_protocol(_write(tmp_path, demo_data))
    del demo_data["model"], demo_data["models"]
    with pytest.raises(ProtocolError, match="got neither"):
        load_protocol(_write(tmp_path, demo_data))


@pytest.mark.parametrize("roles", [["candidate", "candidate"], ["released", "released"]])
def test_exactly_one_released_version(tmp_path, demo_data, roles):
    for model, role in zip(demo_data["models"], roles, strict=True):
        model["role"] = role
    with pytest.raises(ProtocolError, match="exactly one version with role: released"):
        load_protocol(_write(tmp_path, demo_data))


def test_versions_must_be_unique(tmp_path, demo_data):
    demo_data["models"][1]["version"] = "1.0.0"
    with pytest.raises(ProtocolError, match=r"versions must be unique, repeated: \['1\.0\.0'\]"):
        load_protocol(_write(tmp_path, demo_data))


def test_candidate_needs_a_comparison_block(tmp_path, demo_data):
    del demo_data["comparison"]
    with pytest.raises(ProtocolError, match=r"candidate version\(s\) \['1\.1\.0'\].*comparison"):
        load_protocol(_write(tmp_path, demo_data))


def test_every_endpoint_needs_a_margin(tmp_path, demo_data):
    del demo_data["comparison"]["margins"]["lvh-auc"]
    demo_data["comparison"]["margins"]["lvh-ppv"] = 0.05
    with pytest.raises(
        ProtocolError, match=r"unknown endpoint\(s\) \['lvh-ppv'\]; missing \['lvh-auc'\]"
    ):
        load_protocol(_write(tmp_path, demo_data))


def test_margins_must_be_positive(tmp_path, demo_data):
    demo_data["comparison"]["margins"]["ivsd-mae"] = 0
    with pytest.raises(ProtocolError, match=r"comparison\.margins\.ivsd-mae"):
        load_protocol(_write(tmp_path, demo_data))


def test_comparison_strata_must_be_known(tmp_path, demo_data):
    demo_data["comparison"]["by"] = {"scanner": ["ivsd-bias"]}
    with pytest.raises(ProtocolError, match=r"comparison\.by names 'scanner'"):
        load_protocol(_write(tmp_path, demo_data))


# ------------------------------------------------------------------ typed sections and defaults


def _minimal(demo_data):
    """The demo protocol without any optional setting."""
    data = copy.deepcopy(demo_data)
    for key in ("sponsor", "registered", "sample_size", "multiplicity"):
        del data[key]
    del data["outputs"]["measurement"]["precision"], data["reference_standard"]["readers"]
    for key in ("loa_multiplier", "bootstrap", "heterogeneity", "acceptance_by", "cluster"):
        del data["analysis"][key]
    del data["analysis"]["age_bands"], data["analysis"]["bmi_bands"]
    del data["comparison"]["by"], data["comparison"]["rationale"]
    for endpoint in data["endpoints"]:
        endpoint.pop("primary", None)
        endpoint.pop("rationale", None)
    return data


def test_defaults_come_from_the_schema_once_at_load(tmp_path, demo_data):
    protocol = load_protocol(_write(tmp_path, _minimal(demo_data)))
    schema = load_schema("protocol")["properties"]
    analysis = schema["analysis"]["properties"]
    plan = protocol.analysis
    assert (
        plan.bootstrap.n_resamples == analysis["bootstrap"]["properties"]["n_resamples"]["default"]
    )
    assert plan.bootstrap.method == "bca" and plan.bootstrap.label == "BCa"
    assert plan.loa_multiplier == analysis["loa_multiplier"]["default"] == 1.96
    assert plan.heterogeneity == HeterogeneityPlan(method="REML", q_alpha=0.1, i2_threshold=0.5)
    assert plan.age_bands == tuple(analysis["age_bands"]["default"])
    assert plan.bmi_bands == tuple(analysis["bmi_bands"]["default"])
    assert plan.deming_error_ratio == 1.0 and plan.cluster is None and plan.acceptance_by == {}
    measurement = schema["outputs"]["properties"]["measurement"]["properties"]
    assert protocol.measurement.precision == measurement["precision"]["default"] == 1
    assert protocol.reference_standard.readers == ()
    assert protocol.sponsor == "" and protocol.sample_size == "" and protocol.registered is None
    assert all(e.primary and e.rationale == "" for e in protocol.endpoints)
    # the multiplicity plan: schema defaults, alpha and order derived from the protocol
    assert protocol.multiplicity == MultiplicityPlan(
        procedure="intersection-union",
        secondary="holm",
        alpha=0.05,
        order=tuple(e.id for e in protocol.endpoints),
        rationale="",
    )
    assert protocol.comparison.by == {} and protocol.comparison.rationale == ""
    # the record of results.json holds what was applied
    assert protocol.record("analysis")["bootstrap"] == {"n_resamples": 2000, "method": "bca"}


def test_the_default_number_of_resamples_is_the_toolkits():
    default = load_schema("protocol")["properties"]["analysis"]["properties"]["bootstrap"]
    assert default["properties"]["n_resamples"]["default"] == DEFAULT_RESAMPLES


def test_typed_sections_of_the_demo(repo_root):
    protocol = load_protocol(repo_root / "protocols" / "demo.yaml")
    assert protocol.title.startswith("Prospective multi-site") and protocol.version == "1.2"
    assert protocol.submission == "510k" and protocol.registered == "2026-01-02"
    assert protocol.measurement == Measurement(
        name="ivsd",
        label="IVSd",
        unit="mm",
        precision=1,
        description="Interventricular septal thickness at end-diastole",
        concept=Concept("79969-2", "LN", "Interventricular septum diastolic dimension 2D"),
        site=Concept("589001", "SCT", "Interventricular septum"),
        range=(2.0, 30.0),
    )
    assert protocol.measurement.digits == 2
    assert protocol.finding == Finding(
        name="lvh",
        label="LVH",
        threshold=0.5,
        description="Left-ventricular hypertrophy",
        positive="consensus IVSd of 11 mm or more",
        concept=Concept("55827005", "SCT", "Left ventricular hypertrophy"),
    )
    assert protocol.threshold == 0.5
    ref = protocol.reference_standard
    assert ref.columns == ("consensus_ivsd_mm", "lvh", *ref.readers) and len(ref.readers) == 3
    assert protocol.device.name == "EchoMeasure IVSd (demo)" and protocol.device.predicate
    assert protocol.bootstrap == BootstrapPlan(n_resamples=2000, method="bca")
    assert protocol.analysis.acceptance_by["vendor"] == (
        "ivsd-bias",
        "ivsd-loa-lower",
        "ivsd-loa-upper",
    )
    assert protocol.comparison.margins["lvh-auc"] == 0.03 and protocol.versioned
    assert protocol.comparison.record()["by"] == {
        "vendor": ["ivsd-bias", "ivsd-loa-lower", "ivsd-loa-upper"]
    }
    with pytest.raises(ProtocolError, match=r"no section 'nope'"):
        protocol.record("nope")


def test_a_protocol_may_declare_only_a_measurement_or_only_a_finding(tmp_path, demo_data):
    measuring = copy.deepcopy(demo_data)
    del measuring["outputs"]["finding"], measuring["reference_standard"]["label"]
    measuring["endpoints"] = [
        e for e in measuring["endpoints"] if e["metric"] in MEASUREMENT_METRICS
    ]
    measuring.pop("comparison"), measuring.pop("multiplicity")
    measuring["models"] = measuring["models"][:1]
    measuring["analysis"].pop("acceptance_by")
    protocol = load_protocol(_write(tmp_path, measuring))
    assert protocol.finding is None and protocol.threshold is None
    assert protocol.reference_standard.columns[0] == "consensus_ivsd_mm"
    assert "lvh" not in protocol.reference_standard.columns

    flagging = copy.deepcopy(demo_data)
    del flagging["outputs"]["measurement"], flagging["reference_standard"]["measurement"]
    flagging["reference_standard"].pop("readers")
    flagging["endpoints"] = [
        e for e in flagging["endpoints"] if e["metric"] not in MEASUREMENT_METRICS
    ]
    flagging.pop("comparison"), flagging.pop("multiplicity")
    flagging["models"] = flagging["models"][:1]
    flagging["analysis"].pop("acceptance_by")
    protocol = load_protocol(_write(tmp_path, flagging))
    assert protocol.measurement is None and protocol.reference_standard.columns == ("lvh",)


def test_an_endpoint_needs_its_output_and_an_output_its_reference_column(tmp_path, demo_data):
    data = copy.deepcopy(demo_data)
    del data["outputs"]["finding"]
    with pytest.raises(
        ProtocolError, match=r"endpoint 'lvh-sensitivity' \(sensitivity\) needs outputs.finding"
    ):
        load_protocol(_write(tmp_path, data))
    data = copy.deepcopy(demo_data)
    del data["reference_standard"]["measurement"]
    with pytest.raises(
        ProtocolError, match=r"reference_standard\.measurement must name its reference column"
    ):
        load_protocol(_write(tmp_path, data))
    data = copy.deepcopy(demo_data)
    data["outputs"] = {}
    with pytest.raises(ProtocolError, match="outputs"):
        load_protocol(_write(tmp_path, data))


def test_building_leaves_the_document_alone(repo_root, demo_data):
    before = copy.deepcopy(demo_data)
    protocol = build_protocol(demo_data, path=repo_root / "protocols" / "demo.yaml", sha256="0")
    assert demo_data == before and "deming_error_ratio" in protocol.data["analysis"]


def test_intersection_union_alpha_must_match_the_confidence(tmp_path, demo_data):
    demo_data["multiplicity"]["alpha"] = 0.025
    with pytest.raises(
        ProtocolError, match=r"multiplicity\.alpha is 0\.025, but an intersection-union family"
    ):
        load_protocol(_write(tmp_path, demo_data))
    demo_data["multiplicity"].update(procedure="holm", secondary="holm")
    assert load_protocol(_write(tmp_path, demo_data)).multiplicity.alpha == 0.025
