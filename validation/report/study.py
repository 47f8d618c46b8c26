"""Report context of the study sections (being written)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def study_context(results: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Context for the study sections."""
    return {}
