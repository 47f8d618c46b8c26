"""Fixtures of this test folder: a real Orthanc DICOMweb server (see tests/orthanc.py)."""

from tests.orthanc import orthanc  # noqa: F401  (registers the session fixture)
