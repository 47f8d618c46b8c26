"""The appendix of the frozen validation baseline: its file, its sources and its segments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from validation.report.segments import is_pooled, segment_key, segment_label


def baseline(data: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline file and its sources, and every segment's summary (pooled ones last)."""
    b = data["baseline"]
    segments = sorted(b["segments"], key=lambda s: (is_pooled(segment_key(s)), segment_key(s)))
    return {
        "path": b["path"],
        "sha256": b["sha256"],
        "sources": [{"path": s["path"], "sha256": s["sha256"]} for s in b["sources"]],
        "segments": [
            dict(
                s,
                segment=segment_label(*segment_key(s)),
                pooled=is_pooled(segment_key(s)),
                software_versions=[str(v) for v in s["software_versions"] or []],
                scanner_models=[str(v) for v in s["scanner_models"] or []],
            )
            for s in segments
        ],
    }
