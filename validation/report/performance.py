"""Report context of the performance sections (being written)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def performance_context(results: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Context for the performance sections."""
    return {}
