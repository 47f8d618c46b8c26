"""The audit trail catches edited, removed, inserted and reordered entries."""

from __future__ import annotations

import json
import threading

import pytest

from validation.audit import append, head_path, verify
from validation.exceptions import AuditError


@pytest.fixture
def log(tmp_path):
    data = tmp_path / "in.csv"
    data.write_text("a,b\n1,2\n")
    path = tmp_path / "audit.jsonl"
    for stage in ("ingest", "infer", "analyze", "report"):
        append(path, stage, inputs=[data], outputs=[data], details={"n": 1})
    return path


def _lines(path):
    return path.read_text().splitlines()


def test_intact_chain_verifies(log):
    assert verify(log) == 4
    first = json.loads(_lines(log)[0])
    assert first["inputs"][0]["sha256"] and first["software"]["mval"]


def test_edited_entry(log):
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["stage"] = "infer-again"
    lines[1] = json.dumps(entry, sort_keys=True)
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(AuditError, match=r":2: entry was edited"):
        verify(log)


def test_removed_middle_entry(log):
    lines = _lines(log)
    log.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with pytest.raises(AuditError, match=r":2: chain broken"):
        verify(log)


def test_reordered_entries(log):
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(AuditError, match="chain broken"):
        verify(log)


def test_removed_last_entry(log):
    log.write_text("\n".join(_lines(log)[:-1]) + "\n")
    with pytest.raises(AuditError, match="removed from the end"):
        verify(log)


def test_missing_head_is_refused(log):
    head_path(log).unlink()
    with pytest.raises(AuditError, match="head file"):
        verify(log)


def test_parallel_appends_keep_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    threads = [threading.Thread(target=append, args=(path, f"job{i}")) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verify(path) == 16
