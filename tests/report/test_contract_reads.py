"""The reports read no field of their input that its schema does not declare.

The report's context is built and its HTML rendered from a recording copy of the fixture's
results.json (every key read is noted, by the context builders and by the templates alike);
every noted path must be declared by ``validation/schemas/results.schema.json``; likewise the
surveillance report and ``surveillance.schema.json``. The check itself is checked: a read of an
undeclared field is caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import validation.report.evidence.context as evidence_context
import validation.report.surveillance.context as surveillance_context
from tests.report.tracing import traced, undeclared
from tests.surveillance.fake_surveillance import build_surveillance
from validation.report import load_results, render_evidence_html
from validation.report.surveillance import render_surveillance_html
from validation.schemas import schema


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["510k", "de-novo"])
def test_the_evidence_report_reads_only_declared_fields(
    versions_results: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, table = load_results(versions_results)  # validated against the schema here
    proxy, reads = traced(results)
    # the traced copy is the same document: skip re-validating it (jsonschema's reads would
    # be noted as the report's)
    monkeypatch.setattr(evidence_context, "check_results", lambda *a, **k: None)
    render_evidence_html(evidence_context.build_context(proxy, table, kind=kind))
    assert len(reads) > 300  # the report reads the whole document, not a corner of it
    assert undeclared(reads, schema("results")) == []


def test_an_undeclared_read_is_caught() -> None:
    contract = schema("results")
    document = {
        "flow": {"received": 3},
        "software": {"packages": {"numpy": "2.3"}},
        "versions": {"analyses": {"1.1.0": {"flow": {}}}},
        "model": {"card": {"name": "m"}},
    }
    proxy, reads = traced(document)
    proxy["flow"].get("received")
    proxy["flow"].get("received_twice")  # not in the schema
    proxy["software"]["packages"].get("numpy")  # package name -> version: any key
    proxy["versions"]["analyses"]["1.1.0"].get("flow")  # a version key holds dots
    proxy["model"]["card"].get("name")  # the model card's own schema
    proxy["model"]["card"].get("no_such_card_field")
    proxy.get("no_such_block")
    assert undeclared(reads, contract) == [
        "flow.received_twice",
        "model.card.no_such_card_field",
        "no_such_block",
    ]


@pytest.mark.slow
def test_the_surveillance_report_reads_only_declared_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = build_surveillance()  # validated against the schema when built
    proxy, reads = traced(data)
    monkeypatch.setattr(surveillance_context, "check_surveillance", lambda *a, **k: None)
    render_surveillance_html(surveillance_context.build_surveillance_context(proxy))
    assert len(reads) > 200
    assert undeclared(reads, schema("surveillance")) == []
