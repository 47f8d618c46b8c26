"""The protocol loader: schema validation with clear, located messages."""

from __future__ import annotations

import pytest
import yaml

from validation.exceptions import ProtocolError
from validation.protocol import Goal, load_protocol


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
