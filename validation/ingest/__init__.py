"""Ingestion: account for every file a partition receives.

Headers only: pixel data are never loaded at this stage.
"""
