"""Analysis: unblinding, pre-specified endpoints, strata and acceptance.

All statistics come from :mod:`validation.stats`.
"""
