"""Independence of the test data from the model's development data (sites, vendors, patients).

A validation is only evidence if the model never saw the test patients (FDA 2025 draft guidance
on AI-enabled device software functions, section on data management; GMLP principle 4:
"training data sets are independent of test sets"). What can be checked here is checked on
the analysed studies: no test site is a development site, and no test patient identifier
carries a development site's prefix. What cannot be checked (the development cohort's own
patient list is not part of the submission's data) is taken from the model card's declaration,
and the record says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from validation.analysis.tables import require_columns

#: Columns of the study table that :func:`data_independence` reads.
INDEPENDENCE_COLUMNS: tuple[str, ...] = ("site", "vendor", "patient_id")
#: How many offending identifiers the record lists (the count is always complete).
MAX_EXAMPLES = 5


def _ids(values: Any, name: str) -> list[str]:
    """A list of non-empty strings from a card field or argument, or raise."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of strings; got {type(values).__name__}.")
    out = [str(v).strip() for v in values]
    if any(not v for v in out):
        raise ValueError(f"{name} must not hold empty identifiers; got {list(values)!r}.")
    return out


def _prefix(site: str) -> str:
    """The patient-identifier prefix of a site: ``"d01"`` -> ``"D01-"``."""
    return f"{site.upper()}-"


def data_independence(
    studies: pd.DataFrame, card: Mapping[str, Any], sites: Sequence[str]
) -> dict[str, Any]:
    """Check that the test data are independent of the model's development data.

    Parameters
    ----------
    studies : DataFrame
        The analysed study table (``analysed.csv``) with ``site``, ``vendor`` and
        ``patient_id``.
    card : mapping
        The locked model's card (``model-card.yaml`` fields); ``card["training_data"]``
        may give ``sites``, ``vendors``, ``studies_fit``, ``studies_holdout``, ``cohort``
        and an ``independence`` declaration.
    sites : sequence of str
        The ids of the test sites of this study (the ``sites/*.yaml`` ids).

    Returns
    -------
    dict
        ``development`` (``cohort, sites, vendors, studies_fit, studies_holdout,
        declaration`` from the card), ``test`` (``sites``, ``sites_analysed``,
        ``sites_not_declared`` (analysed sites missing from ``sites``), ``vendors``,
        ``n_studies``, ``n_patients``), ``site_overlap`` (list; must be empty),
        ``vendors_not_in_development`` (list), ``patients`` (``n_checked``, ``n_missing_id``,
        ``prefixes``, ``n_with_development_prefix``, ``examples``, ``n_with_own_site_prefix``,
        ``n_at_several_sites``), ``checks`` (a list of ``{"check", "result", "passed",
        "basis"}``, basis ``"verified"`` on the data or ``"declared"`` by the card),
        ``independent`` (True, False, or None when the card names no development site)
        and ``statement`` (plain words: what was verified and what relies on the card).

    Raises
    ------
    TypeError
        If ``studies`` is not a DataFrame, ``card`` not a mapping, or ``sites`` (or a card
        list) not a list of strings.
    ValueError
        If a required column is missing, ``sites`` is empty or holds empty ids.

    Notes
    -----
    Site ids are compared case-insensitively. The patient check relies on the convention that
    a patient identifier starts with its site's id and a hyphen (``D01-...`` at development
    site ``d01``); ``n_with_own_site_prefix`` shows how far the test data follow it, and the
    statement warns when they do not, since the prefix check is then weak. A patient seen at
    two test sites is counted in ``n_at_several_sites`` (not a development overlap, but
    worth knowing: the analysis clusters by patient).

    Examples
    --------
    >>> studies = pd.DataFrame({"site": ["s01", "s01", "s02"],
    ...                         "vendor": ["GE", "GE", "Canon"],
    ...                         "patient_id": ["S01-1", "S01-1", "S02-7"]})
    >>> card = {"training_data": {"sites": ["d01"], "vendors": ["GE", "Philips"]}}
    >>> out = data_independence(studies, card, ["s01", "s02"])
    >>> out["independent"], out["site_overlap"], out["vendors_not_in_development"]
    (True, [], ['Canon'])
    >>> out["test"]["n_patients"], out["patients"]["n_with_development_prefix"]
    (2, 0)
    """
    require_columns(studies, INDEPENDENCE_COLUMNS, "studies")
    if not isinstance(card, Mapping):
        raise TypeError(f"card must be a mapping (the model card); got {type(card).__name__}.")
    test_sites = _ids(sites, "sites")
    if not test_sites:
        raise ValueError("sites must name at least one test site; got an empty list.")
    training = card.get("training_data") or {}
    if not isinstance(training, Mapping):
        raise TypeError(f"card['training_data'] must be a mapping; got {type(training).__name__}.")
    dev_sites = _ids(training.get("sites"), "card['training_data']['sites']")
    dev_vendors = _ids(training.get("vendors"), "card['training_data']['vendors']")

    dev_lower = {s.lower() for s in dev_sites}
    analysed_sites = sorted({str(s) for s in studies["site"].dropna()})
    overlap = sorted(
        {s for s in (*test_sites, *analysed_sites) if s.lower() in dev_lower}, key=str.lower
    )
    unknown_sites = sorted(set(analysed_sites) - set(test_sites))
    test_vendors = sorted({str(v) for v in studies["vendor"].dropna()})
    dev_vendor_lower = {v.lower() for v in dev_vendors}
    new_vendors = [v for v in test_vendors if v.lower() not in dev_vendor_lower]

    ids = studies["patient_id"].where(studies["patient_id"].notna(), "").astype(str).str.strip()
    n_missing = int((ids == "").sum())
    known = studies.assign(_pid=ids)[ids != ""]
    patients = pd.Series(sorted(set(known["_pid"])), dtype=object)
    upper = patients.str.upper()
    prefixes = [_prefix(s) for s in dev_sites]
    hits = (
        patients[upper.map(lambda pid: any(pid.startswith(p) for p in prefixes))]
        if prefixes
        else patients.iloc[:0]
    )
    own = pd.Series(
        [
            pid.upper().startswith(_prefix(site))
            for pid, site in zip(known["_pid"], known["site"].astype(str), strict=True)
        ],
        index=known.index,
        dtype=bool,
    )
    n_own = int(known.loc[own, "_pid"].nunique())
    several = int((known.groupby("_pid")["site"].nunique() > 1).sum())

    verifiable = bool(dev_sites)
    declaration = training.get("independence")
    found = _Findings(
        test_sites=test_sites,
        dev_sites=dev_sites,
        overlap=overlap,
        prefixes=prefixes,
        new_vendors=new_vendors,
        declaration=declaration,
        verifiable=verifiable,
        independent=(not overlap and hits.empty) if verifiable else None,
        n_patients=int(patients.size),
        n_hits=int(hits.size),
        n_own=n_own,
        n_missing=n_missing,
    )
    return {
        "development": {
            "cohort": training.get("cohort"),
            "sites": dev_sites,
            "vendors": dev_vendors,
            "studies_fit": training.get("studies_fit"),
            "studies_holdout": training.get("studies_holdout"),
            "declaration": declaration,
        },
        "test": {
            "sites": test_sites,
            "sites_analysed": analysed_sites,
            "sites_not_declared": unknown_sites,
            "vendors": test_vendors,
            "n_studies": len(studies),
            "n_patients": int(patients.size),
        },
        "site_overlap": overlap,
        "vendors_not_in_development": new_vendors,
        "patients": {
            "n_checked": int(patients.size),
            "n_missing_id": n_missing,
            "prefixes": prefixes,
            "n_with_development_prefix": int(hits.size),
            "examples": [str(p) for p in hits.iloc[:MAX_EXAMPLES]],
            "n_with_own_site_prefix": n_own,
            "n_at_several_sites": several,
        },
        "checks": _checks(found),
        "independent": found.independent,
        "statement": _statement(found),
    }


@dataclass(frozen=True)
class _Findings:
    """What :func:`data_independence` found, for its checklist and its statement."""

    test_sites: list[str]
    dev_sites: list[str]
    overlap: list[str]  # test sites that are development sites
    prefixes: list[str]  # the development sites' patient-identifier prefixes
    new_vendors: list[str]  # test vendors the model was not developed on
    declaration: Any  # the card's independence declaration
    verifiable: bool  # the card names development sites
    independent: bool | None
    n_patients: int
    n_hits: int  # test patients with a development site's prefix
    n_own: int  # test patients with their own site's prefix
    n_missing: int  # studies without a patient identifier


def _checks(found: _Findings) -> list[dict[str, Any]]:
    """The rows of the independence checklist."""
    overlap, verifiable = found.overlap, found.verifiable
    n_hits, n_patients, declaration = found.n_hits, found.n_patients, found.declaration
    rows: list[dict[str, Any]] = [
        {
            "check": "No test site is a development site",
            "result": (
                "overlap: " + ", ".join(overlap)
                if overlap
                else "no overlap"
                if verifiable
                else "not checked: the model card names no development site"
            ),
            "passed": (not overlap) if verifiable else None,
            "basis": "verified",
        },
        {
            "check": "No test patient identifier carries a development site's prefix ("
            + (", ".join(found.prefixes) or "none declared")
            + ")",
            "result": (
                f"{n_hits} of {n_patients} test patients"
                if verifiable
                else "not checked: the model card names no development site"
            ),
            "passed": (n_hits == 0) if verifiable else None,
            "basis": "verified",
        },
        {
            "check": "Development patients are disjoint from the test patients",
            "result": str(declaration) if declaration else "not declared in the model card",
            "passed": None,
            "basis": "declared",
        },
        {
            "check": "Vendors in the test data that the model was not developed on",
            "result": ", ".join(found.new_vendors) if found.new_vendors else "none",
            "passed": None,
            "basis": "verified",
        },
    ]
    return rows


def _statement(found: _Findings) -> str:
    """Plain words: what was verified on the data, and what rests on the card's declaration."""
    overlap, n_hits, n_patients = found.overlap, found.n_hits, found.n_patients
    n_own, n_missing, declaration = found.n_own, found.n_missing, found.declaration
    if found.independent is None:
        verified = (
            "The model card names no development site, so the separation of development and "
            "test data could not be checked on the data."
        )
    else:
        verified = (
            f"Verified on the analysed data: the test sites ({', '.join(found.test_sites)}) "
            + (
                f"include development site(s) {', '.join(overlap)}"
                if overlap
                else f"do not include any development site ({', '.join(found.dev_sites)})"
            )
            + f", and {n_hits} of the {n_patients} test patients have an identifier with a "
            "development site's prefix."
        )
        if n_own < n_patients:
            verified += (
                f" Only {n_own} of the {n_patients} test patient identifiers carry their own "
                "site's prefix, so the identifier convention this check relies on is not "
                "followed throughout and the patient check is weak."
            )
    if n_missing:
        verified += (
            f" {n_missing} analysed {'study has' if n_missing == 1 else 'studies have'} no "
            "patient identifier and could not be checked."
        )
    declared = (
        f"Relies on the model card's declaration: \u201c{declaration}\u201d. The development "
        "cohort's patient list is not part of this study's data, so patient disjointness "
        "beyond the identifier check is declared by the developer, not verified here."
        if declaration
        else "The model card makes no declaration about patient independence; patient "
        "disjointness beyond the identifier check is not established."
    )
    return f"{verified} {declared}"
