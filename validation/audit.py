"""An append-only, hash-chained audit trail of every stage (JSON lines).

Each entry holds its sequence number, UTC time, stage, the inputs and outputs with their sha256,
the software version and the previous entry's hash; its own ``hash`` is the sha256 of the entry
without that field. ``audit.head`` beside the log holds the count and the last hash, so that a
removed final entry is caught too. Stages running in parallel (Snakemake jobs) append under an
exclusive ``flock``.

``mval audit verify results/<protocol>/audit.jsonl`` detects an edited, removed, inserted or
reordered entry.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sys
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from validation import __version__
from validation.exceptions import AuditError
from validation.hashing import sha256_file, sha256_json

GENESIS = "0" * 64


def head_path(log: Path) -> Path:
    return log.with_name(log.name + ".head")


@contextmanager
def _exclusive(log: Path):
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log.with_name(log.name + ".lock"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)


def _files(paths: Iterable[str | Path]) -> list[dict[str, str]]:
    records = []
    for path in paths:
        path = Path(path)
        digest = sha256_file(path) if path.is_file() else "(missing)"
        records.append({"path": path.as_posix(), "sha256": digest})
    return records


def _entry_hash(entry: dict[str, Any]) -> str:
    return sha256_json({k: v for k, v in entry.items() if k != "hash"})


def append(
    log: str | Path,
    stage: str,
    *,
    inputs: Iterable[str | Path] = (),
    outputs: Iterable[str | Path] = (),
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one entry for ``stage`` (hashing its input and output files) and return it."""
    log = Path(log)
    inputs, outputs = _files(inputs), _files(outputs)  # hash outside the lock
    with _exclusive(log):
        count, previous = _read_head(log)
        entry = {
            "seq": count + 1,
            "time_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "stage": stage,
            "inputs": inputs,
            "outputs": outputs,
            "details": details or {},
            "software": {"mval": __version__, "python": sys.version.split()[0]},
            "prev": previous,
        }
        entry["hash"] = _entry_hash(entry)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        _write_head(log, entry["seq"], entry["hash"])
    return entry


def _read_head(log: Path) -> tuple[int, str]:
    head = head_path(log)
    if not head.exists():
        if log.exists() and log.stat().st_size > 0:
            raise AuditError(f"{log} has entries but its head file {head} is missing")
        return 0, GENESIS
    data = json.loads(head.read_text())
    return int(data["count"]), str(data["hash"])


def _write_head(log: Path, count: int, last: str) -> None:
    head = head_path(log)
    tmp = head.with_suffix(".tmp")
    tmp.write_text(json.dumps({"count": count, "hash": last}) + "\n")
    os.replace(tmp, head)


def verify(log: str | Path) -> int:
    """Check the whole chain; return the number of entries.

    Raises
    ------
    AuditError
        Naming the first line that is malformed, edited, out of order, or missing, or a head that
        does not match the log's end (a removed last entry).
    """
    log = Path(log)
    if not log.is_file():
        raise AuditError(f"audit log {log} not found")
    previous, seq = GENESIS, 0
    with open(log, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                raise AuditError(f"{log}:{number}: not a JSON entry") from None
            if entry.get("hash") != _entry_hash(entry):
                raise AuditError(f"{log}:{number}: entry was edited (its hash does not match)")
            if entry.get("prev") != previous or entry.get("seq") != seq + 1:
                raise AuditError(
                    f"{log}:{number}: chain broken (expected seq {seq + 1} after {previous[:12]}…,"
                    f" found seq {entry.get('seq')} after {str(entry.get('prev'))[:12]}…): an "
                    "entry was removed, inserted or reordered"
                )
            previous, seq = entry["hash"], entry["seq"]
    count, last = _read_head(log)
    if (count, last) != (seq, previous):
        raise AuditError(
            f"{log}: ends at entry {seq} but {head_path(log)} records {count} entries ending in "
            f"{last[:12]}…: entries were removed from the end"
        )
    return seq
