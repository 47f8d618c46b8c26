"""Reading what users see, for the tests: a PDF's text as laid out, an SR's content tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom


def pdf_layout_text(path: Path) -> str:
    """The text of a PDF with its layout kept (``pdftotext -layout``): one table row per line."""
    return subprocess.run(
        [shutil.which("pdftotext") or "pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def sr_items(ds: pydicom.Dataset) -> list[pydicom.Dataset]:
    """Every content item of an SR tree, depth first."""
    found = []
    for item in ds.get("ContentSequence", []):
        found.append(item)
        found.extend(sr_items(item))
    return found
