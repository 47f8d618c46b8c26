"""The synthetic demo study: a product feature, deterministic from a seed.

Only the command line and the workflow import this package (see DESIGN.md, "Directions").
"""
