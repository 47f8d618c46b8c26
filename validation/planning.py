"""Sample-size plans before a validation study: the numbers, their table and their sources.

``mval plan`` prints these. The statistics are :mod:`validation.stats.sample_size`'s; this module
chooses the designs a planner asks for (an accuracy goal is sized by the exact binomial and the
normal approximation side by side), and lays the result out as a plain-text table or a JSON
record that names each formula's published source.
"""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass
from typing import Any, Literal

from validation.stats.sample_size import (
    BlandAltmanSampleSize,
    ProportionSampleSize,
    sample_size_bland_altman,
    sample_size_proportion,
)

#: The published source of each formula, by method.
REFERENCES = {
    "buderer": "Buderer NMF. Acad Emerg Med 1996;3(9):895-900",
    "exact": "Flahault A et al. J Clin Epidemiol 2005;58(8):859-862; Chu H, Cole SR. J Clin "
    "Epidemiol 2007;60(11):1201-1202",
    "normal": "Obuchowski NA. Stat Methods Med Res 1998;7(4):371-392; Li J, Fine J. Stat Med "
    "2004;23(16):2537-2550",
    "lu": "Lu MJ et al. Int J Biostat 2016;12(2):20150039",
}
#: The power of a goal design when none is given.
DEFAULT_POWER = 0.8


@dataclass(frozen=True)
class Plan:
    """A sample-size plan: its table for a reader and its record for a program.

    Attributes
    ----------
    kind : {"accuracy", "agreement"}
        The design family.
    table : str
        The plain-text table (title, rows, notes) ``mval plan`` prints.
    record : dict
        ``{"plan": kind, "results": [...]}``: every result's fields and its reference, as
        ``mval plan --json`` prints it.
    """

    kind: str
    table: str
    record: dict[str, Any]


def accuracy_plan(
    expected: float,
    *,
    metric: Literal["sensitivity", "specificity"],
    lower_bound: float | None = None,
    half_width: float | None = None,
    prevalence: float | None = None,
    power: float | None = None,
    confidence: float = 0.95,
) -> Plan:
    """Cases and total for a sensitivity or specificity: against a goal, or to a precision.

    Parameters
    ----------
    expected : float
        The expected sensitivity (or specificity).
    metric : {"sensitivity", "specificity"}
        Which one.
    lower_bound : float, optional
        A performance goal the lower confidence limit must clear (a goal design, sized by the
        exact binomial and by the normal approximation). Give this or ``half_width``.
    half_width : float, optional
        The confidence interval's largest half-width (a precision design, Buderer 1996).
    prevalence : float, optional
        Expected prevalence among enrolled subjects; without it, a sample of subjects with the
        condition only (sensitivity) or without it only (specificity).
    power : float, optional
        With ``lower_bound``: the power (default :data:`DEFAULT_POWER`).
    confidence : float, default 0.95
        Two-sided confidence level of the interval the study will report.

    Returns
    -------
    Plan
        The exact and normal-approximation sizes (goal), or Buderer's (precision).

    Raises
    ------
    ValueError, TypeError
        As :func:`validation.stats.sample_size.sample_size_proportion` (naming its
        arguments, and ``expected`` for the expected value).

    Examples
    --------
    >>> plan = accuracy_plan(0.9, metric="sensitivity", half_width=0.1, prevalence=0.2)
    >>> plan.record["results"][0]["n_total"]
    173
    """
    share = prevalence if prevalence is not None else 1.0 if metric == "sensitivity" else 0.0
    methods: tuple[str, ...]
    if lower_bound is not None:  # a goal design: the exact and the normal-approximation size
        methods = ("exact", "normal")
        results = [
            sample_size_proportion(
                expected,
                lower_bound=lower_bound,
                power=DEFAULT_POWER if power is None else power,
                method=method,
                confidence=confidence,
                prevalence=share,
                metric=metric,
            )
            for method in ("exact", "normal")
        ]
    else:
        methods = ("buderer",)
        results = [
            sample_size_proportion(
                expected,
                half_width=half_width,
                confidence=confidence,
                prevalence=share,
                metric=metric,
            )
        ]
    record = {
        "plan": "accuracy",
        "results": [
            {**dataclasses.asdict(res), "reference": REFERENCES[method]}
            for res, method in zip(results, methods, strict=True)
        ],
    }
    table = _accuracy_table(metric, expected, prevalence, results)
    return Plan("accuracy", table, record)


def agreement_plan(
    mean_diff: float,
    sd_diff: float,
    delta: float,
    *,
    confidence: float = 0.95,
    power: float = DEFAULT_POWER,
    loa_multiplier: float = 1.96,
) -> Plan:
    """Bland-Altman pairs so that both limits of agreement are shown within ``±delta``.

    Parameters are those of :func:`validation.stats.sample_size.sample_size_bland_altman`
    (Lu et al. 2016).

    Returns
    -------
    Plan
        The pairs needed and the power they reach.

    Raises
    ------
    ValueError, TypeError
        As :func:`~validation.stats.sample_size.sample_size_bland_altman`.

    Examples
    --------
    >>> agreement_plan(0.0, 3.3, 8.0).record["results"][0]["n"]
    145
    """
    res = sample_size_bland_altman(
        mean_diff,
        sd_diff,
        delta,
        confidence=confidence,
        power=power,
        loa_multiplier=loa_multiplier,
    )
    record = {
        "plan": "agreement",
        "results": [
            {**dataclasses.asdict(res), "method": "lu-2016", "reference": REFERENCES["lu"]}
        ],
    }
    return Plan("agreement", _agreement_table(res), record)


def _accuracy_table(
    metric: str,
    expected: float,
    prevalence: float | None,
    results: list[ProportionSampleSize],
) -> str:
    first = results[0]
    group = "with the condition" if metric == "sensitivity" else "without the condition"
    if prevalence is None:
        prevalence_text = f"not given: a sample of subjects {group} only"
    else:
        prevalence_text = f"{prevalence:g}"
    level = f"two-sided {first.confidence * 100:g}% confidence interval"
    rows = [(f"assumed {metric}", f"{expected:g}")]
    if len(results) == 1:
        rows += [
            ("half-width", f"±{first.half_width:g} ({level})"),
            ("prevalence", prevalence_text),
            ("", ""),
            (
                f"cases ({group})",
                f"{first.n_cases}  (z² p(1 - p) / d² = {first.n_cases_unrounded:.2f})",
            ),
            ("total to enrol", f"{first.n_total}"),
            ("formula", REFERENCES["buderer"]),
        ]
        return _table(f"Sample size: {metric} to a precision", rows, [])
    exact, normal = results
    rows += [
        (
            "performance goal",
            f"{first.lower_bound:g} (the lower limit of the {level} must clear it)",
        ),
        ("one-sided alpha", f"{first.alpha:.4g}"),
        ("power", f"{first.power:g}"),
        ("prevalence", prevalence_text),
        ("", ""),
        ("method", "cases   total   power"),
        (
            "exact binomial",
            f"{exact.n_cases:>5}   {exact.n_total:>5}   {exact.achieved_power:.3f}",
        ),
        (
            "normal approximation",
            f"{normal.n_cases:>5}   {normal.n_total:>5}   {normal.achieved_power:.3f}",
        ),
    ]
    notes = [f"cases: subjects {group}; total: subjects to enrol at the prevalence."]
    if exact.n_cases_first < exact.n_cases:
        notes.append(
            f"exact: {exact.n_cases_first} cases already reach the power, but some counts "
            f"below {exact.n_cases} do not (exact power is saw-toothed in n); from "
            f"{exact.n_cases} on, every count does."
        )
    notes += [f"exact: {REFERENCES['exact']}", f"normal: {REFERENCES['normal']}"]
    return _table(f"Sample size: {metric} against a performance goal", rows, notes)


def _agreement_table(res: BlandAltmanSampleSize) -> str:
    low = res.mean_diff - res.loa_multiplier * res.sd_diff
    high = res.mean_diff + res.loa_multiplier * res.sd_diff
    rows = [
        ("assumed mean difference", f"{res.mean_diff:g}"),
        ("assumed SD of differences", f"{res.sd_diff:g}"),
        (
            "expected limits of agreement",
            f"{low:.4g} to {high:.4g} (mean ± {res.loa_multiplier:g} SD)",
        ),
        (
            "clinical margin",
            f"±{res.delta:g} (both limits' {res.confidence * 100:g}% CIs must lie within)",
        ),
        ("power", f"{res.power:g}"),
        ("", ""),
        ("pairs needed", f"{res.n}  (power {res.achieved_power:.3f})"),
        ("formula", f"{REFERENCES['lu']}, equation 5"),
    ]
    return _table("Sample size: Bland-Altman agreement", rows, [])


def _table(title: str, rows: list[tuple[str, str]], notes: list[str]) -> str:
    """A plain two-column table (an empty label is a blank line), then wrapped notes."""
    width = max(len(label) for label, _ in rows)
    lines = [title, ""]
    lines += [f"  {label.ljust(width)}  {value}" if label else "" for label, value in rows]
    if notes:
        lines.append("")
        for note in notes:
            lines += textwrap.wrap(
                note, 96, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False
            )
    return "\n".join(lines)
