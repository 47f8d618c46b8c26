"""The dataset manifest: every received file of every partition, with the sha256 of its content.

Written beside ``results.json`` as ``manifest.json`` and embedded in the evidence PDF. Each
included file carries the sha256 inference computed while reading it; each partition carries
the sha256 of its accounting and predictions tables and a digest over its files' sha256 (sorted
by SOP Instance UID), so a reviewer can check a partition with one number.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from validation.hashing import sha256_file

MANIFEST_VERSION = 1


def _files_digest(files: pd.DataFrame) -> str:
    ordered = files.sort_values("sop_instance_uid")
    text = "\n".join(
        f"{u} {h}" for u, h in zip(ordered["sop_instance_uid"], ordered["file_sha256"], strict=True)
    )
    return hashlib.sha256(text.encode()).hexdigest()


def build_manifest(
    accounting: pd.DataFrame,
    accounting_paths: list[Path],
    prediction_paths: list[Path],
) -> dict[str, Any]:
    """The manifest of the received data (see the module docstring).

    ``accounting`` is the merged accounting of all partitions (one row per received file).
    """
    predictions = {}
    for path in prediction_paths:
        path = Path(path)
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        predictions[(path.parent.name, path.stem)] = (table, sha256_file(path))
    accounting_sha = {
        (Path(p).parent.parent.name, Path(p).parent.name): sha256_file(p) for p in accounting_paths
    }
    partitions, files = [], []
    for keys, group in accounting.groupby(["site", "vendor"], sort=True):
        site, vendor = str(keys[0]), str(keys[1])
        table, predictions_sha = predictions.get((site, vendor), (pd.DataFrame(), ""))
        hashes = table.set_index("sop_instance_uid")["file_sha256"].to_dict() if len(table) else {}
        rows = group.assign(file_sha256=group["sop_instance_uid"].map(hashes).fillna(""))
        hashed = rows[rows["file_sha256"] != ""]
        partitions.append(
            {
                "site": site,
                "vendor": vendor,
                "received": len(rows),
                "included": int((rows["status"] == "included").sum()),
                "files_sha256": _files_digest(hashed),
                "accounting_sha256": accounting_sha.get((site, vendor), ""),
                "predictions_sha256": predictions_sha,
            }
        )
        for r in rows.itertuples():
            files.append(
                {
                    "site": site,
                    "vendor": vendor,
                    "path": r.path,
                    "sop_instance_uid": r.sop_instance_uid,
                    "status": r.status,
                    "reason": r.reason,
                    "sha256": r.file_sha256,
                }
            )
    return {"version": MANIFEST_VERSION, "partitions": partitions, "files": files}
