"""Locked models: preprocessing, loading with integrity checks, batched inference."""
