"""Report context of the regulatory sections (being written)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def regulatory_context(results: Mapping[str, Any], table: pd.DataFrame, *, kind: str) -> dict[str, Any]:
    """Context for the regulatory sections."""
    return {}
