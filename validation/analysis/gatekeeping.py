"""Serial gatekeeping: the one multiplicity rule of the goals and of the version comparison.

The protocol's endpoints are one-sided null hypotheses, one per endpoint: "the goal is not
met" (:mod:`validation.analysis.acceptance`) or "the candidate is inferior by the margin or
more" (:mod:`validation.analysis.comparison`). :func:`serial_gatekeeping` decides them under
the protocol's multiplicity plan (:class:`validation.protocol.MultiplicityPlan`), by this rule:

1. **Families.** The primary endpoints form the primary family, the secondary endpoints the
   secondary family, each in the plan's ``order`` (endpoints it does not name follow, in the
   protocol's order).
2. **Levels.** The family-wise error rate ``alpha`` is two-sided: each hypothesis is a
   one-sided test at ``alpha / 2``, the level at which a two-sided ``1 - alpha`` interval's
   bound touches the goal.
3. **Within a family.** ``intersection-union``: every hypothesis is tested at the full
   one-sided level without adjustment, and the family succeeds only if every one is rejected
   (Berger 1982; FDA 2022, co-primary endpoints). The test of each is its confidence bound:
   a hypothesis is rejected when its goal is met on the protocol's two-sided interval, whose
   level the protocol loader ties to ``1 - alpha`` for such a family; the inverted p-value is
   reported beside it. ``holm``, ``bonferroni``, ``fixed-sequence``: the procedure of
   :func:`validation.stats.multiplicity_adjust` at ``alpha / 2`` on the one-sided p-values;
   a hypothesis is rejected when its adjusted p-value is at most ``alpha / 2``.
4. **Undefined p-values** (an interval that cannot be computed) count as 1: never rejected.
5. **The gate.** The secondary family is tested only if every hypothesis of the primary
   family is rejected and every stratum the protocol judges succeeds; otherwise none of its
   hypotheses is tested (serial gatekeeper: Dmitrienko & Tamhane 2007; Dmitrienko, Tamhane &
   Wiens 2008). Testing each family at the full ``alpha`` behind such a gate keeps the
   family-wise error rate over both families at ``alpha`` (a closed testing procedure in
   which every intersection containing a primary hypothesis is tested by the primary
   family's test).
6. **Success.** The claim (the study's acceptance, or a candidate's non-inferiority)
   succeeds exactly when the gate opens: every primary hypothesis rejected and every judged
   stratum met. Secondary results never decide it.

References
----------
.. [1] Berger RL. Multiparameter hypothesis testing and acceptance sampling. Technometrics.
   1982;24(4):295-300.
.. [2] Dmitrienko A, Tamhane AC. Gatekeeping procedures with clinical trial applications.
   Pharm Stat. 2007;6(3):171-180.
.. [3] Dmitrienko A, Tamhane AC, Wiens BL. General multistage gatekeeping procedures. Biom J.
   2008;50(5):667-677.
.. [4] U.S. Food and Drug Administration. Multiple Endpoints in Clinical Trials: Guidance for
   Industry. October 2022 (sections on co-primary endpoints, the Holm, Bonferroni and
   fixed-sequence procedures, and hierarchical families of endpoints).
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from validation.protocol import MultiplicityPlan, Procedure
from validation.stats.multiplicity import MultiplicityResult, multiplicity_adjust

__all__ = ["Decision", "Gatekeeping", "Hypothesis", "serial_gatekeeping"]


@dataclass(frozen=True)
class Hypothesis:
    """One endpoint's one-sided null hypothesis.

    Attributes
    ----------
    id : str
        The endpoint id.
    primary : bool
        Primary (the gatekeeper family) or secondary.
    p_value : float
        One-sided p-value, from the inverted interval; NaN when undefined.
    met : bool or None
        Whether the goal (or margin) is met on the protocol's two-sided confidence bound;
        None when the interval is undefined.
    """

    id: str
    primary: bool
    p_value: float
    met: bool | None


@dataclass(frozen=True)
class Decision:
    """A hypothesis after the multiplicity procedure.

    ``adjusted_p`` is NaN and ``tested`` False when the procedure did not reach it (its family
    was behind a closed gate, or a fixed sequence stopped before it).
    """

    id: str
    primary: bool
    p_value: float
    adjusted_p: float
    tested: bool
    rejected: bool


@dataclass(frozen=True)
class Gatekeeping:
    """Result of :func:`serial_gatekeeping`.

    Attributes
    ----------
    plan : MultiplicityPlan
        The protocol's plan (procedures, ``alpha``, order, rationale).
    strata_met : bool
        Every stratum the protocol judges succeeded.
    gate_open : bool
        The secondary family was tested: every primary hypothesis rejected and
        ``strata_met``. This is also the claim's success (rule 6 of the module).
    primary, secondary : MultiplicityResult or None
        Each family's procedure result, in testing order; None for an empty family and for
        the secondary family behind a closed gate.
    decisions : tuple of Decision
        One per hypothesis, primary family first, each family in testing order.
    """

    plan: MultiplicityPlan
    strata_met: bool
    gate_open: bool
    primary: MultiplicityResult | None
    secondary: MultiplicityResult | None
    decisions: tuple[Decision, ...]

    def decision(self, hypothesis_id: str) -> Decision:
        """The decision on ``hypothesis_id``.

        Raises
        ------
        KeyError
            When no hypothesis has that id.
        """
        for decision in self.decisions:
            if decision.id == hypothesis_id:
                return decision
        raise KeyError(
            f"no hypothesis {hypothesis_id!r}; the hypotheses are {[d.id for d in self.decisions]}"
        )

    def annotate(
        self,
        rows: Sequence[MutableMapping[str, Any]],
        *,
        key: str,
        passed: str,
        failed: str,
    ) -> None:
        """Write ``p_value``, ``adjusted_p``, ``tested`` and ``verdict`` into result rows.

        Each row is found by its id under ``key``; rows of no hypothesis are left alone. A
        tested row's verdict becomes ``passed`` or ``failed`` by its rejection, an untested
        one's ``NOT TESTED``; a row whose verdict is ``NOT EVALUABLE`` (undefined interval)
        and that was tested keeps it.
        """
        by_id = {d.id: d for d in self.decisions}
        for row in rows:
            decision = by_id.get(row[key])
            if decision is None:
                continue
            row["p_value"] = decision.p_value
            row["adjusted_p"] = decision.adjusted_p
            row["tested"] = decision.tested
            if not decision.tested:
                row["verdict"] = "NOT TESTED"
            elif row["verdict"] != "NOT EVALUABLE":
                row["verdict"] = passed if decision.rejected else failed

    def statement(self, *, noun: str, bound: str, scope: str = "", judged: bool) -> str:
        """The plan in one paragraph, for the report.

        Parameters
        ----------
        noun : str
            What a hypothesis is called (``"endpoint"``, ``"comparison"``).
        bound : str
            What each one-sided test is (``"goal bound"``, ``"non-inferiority bound"``).
        scope : str, optional
            Appended to the family-wise error rate (e.g. ``" per candidate"``).
        judged : bool
            The protocol judges strata, which the gate waits for too.
        """
        plan = self.plan
        n_primary = sum(d.primary for d in self.decisions)
        n_secondary = len(self.decisions) - n_primary
        text = (
            f"Family-wise error rate {plan.alpha:g}{scope} (two-sided; each {bound} one-sided "
            f"at {plan.one_sided_alpha:g}). Primary {noun}s ({n_primary}): "
            f"{_describe(plan.procedure, noun)}."
        )
        if n_secondary:
            text += (
                f" Secondary {noun}s ({n_secondary}): tested only if every primary {noun}"
                + (" and every judged stratum" if judged else "")
                + f" succeeds, by {_describe(plan.secondary, noun)}."
            )
        return text

    def record(self, statement: str) -> dict[str, Any]:
        """The ``multiplicity`` block of ``results.json`` (the analysis, and each candidate's
        comparison): ``procedure``, ``secondary``, ``alpha`` (family-wise, two-sided),
        ``one_sided_alpha``, ``gate_open``, ``strata_met``, ``rationale`` and ``statement``.
        """
        return {
            "procedure": self.plan.procedure,
            "secondary": self.plan.secondary,
            "alpha": self.plan.alpha,
            "one_sided_alpha": self.plan.one_sided_alpha,
            "gate_open": self.gate_open,
            "strata_met": self.strata_met,
            "rationale": self.plan.rationale,
            "statement": statement,
        }


def serial_gatekeeping(
    hypotheses: Sequence[Hypothesis], plan: MultiplicityPlan, *, strata_met: bool = True
) -> Gatekeeping:
    """Decide the endpoints' hypotheses under the protocol's multiplicity plan.

    The rule is stated once, in the module documentation: primary family under
    ``plan.procedure``, secondary family under ``plan.secondary`` only when every primary
    hypothesis is rejected and ``strata_met`` (serial gatekeeping), each at one-sided
    ``plan.alpha / 2``.

    Parameters
    ----------
    hypotheses : sequence of Hypothesis
        One per endpoint, with unique ids.
    plan : MultiplicityPlan
        The protocol's multiplicity plan (:attr:`validation.protocol.Protocol.multiplicity`).
    strata_met : bool, default True
        Every stratum the protocol judges succeeded (the gate waits for them too).

    Returns
    -------
    Gatekeeping
        The decisions, each family's procedure result, and whether the gate opened.

    Raises
    ------
    ValueError
        When two hypotheses share an id.

    References
    ----------
    .. [1] Dmitrienko A, Tamhane AC. Gatekeeping procedures with clinical trial
       applications. Pharm Stat. 2007;6(3):171-180.
    .. [2] U.S. Food and Drug Administration. Multiple Endpoints in Clinical Trials:
       Guidance for Industry. October 2022.

    Examples
    --------
    >>> from validation.protocol import MultiplicityPlan
    >>> plan = MultiplicityPlan("holm", "holm", 0.05, ("a", "b", "c"), "")
    >>> result = serial_gatekeeping(
    ...     [Hypothesis("a", True, 0.004, True), Hypothesis("b", True, 0.02, True),
    ...      Hypothesis("c", False, 0.01, True)], plan)
    >>> result.gate_open, [d.rejected for d in result.decisions]
    (True, [True, True, True])
    >>> serial_gatekeeping([Hypothesis("a", True, 0.03, False),
    ...     Hypothesis("c", False, 0.001, True)], plan).decision("c").tested
    False
    """
    ids = [h.id for h in hypotheses]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"hypotheses must have unique ids; repeated: {repeated}")
    rank = {hypothesis_id: i for i, hypothesis_id in enumerate(plan.order)}
    ordered = sorted(hypotheses, key=lambda h: rank.get(h.id, len(rank)))
    primary = [h for h in ordered if h.primary]
    secondary = [h for h in ordered if not h.primary]
    first, first_rejected = _family(primary, plan.procedure, plan.one_sided_alpha)
    gate_open = strata_met and all(first_rejected)
    second, second_rejected = (
        _family(secondary, plan.secondary, plan.one_sided_alpha) if gate_open else (None, [])
    )
    decisions = [
        *_decisions(primary, first, first_rejected),
        *_decisions(secondary, second, second_rejected),
    ]
    return Gatekeeping(
        plan=plan,
        strata_met=strata_met,
        gate_open=gate_open,
        primary=first,
        secondary=second,
        decisions=tuple(decisions),
    )


def _family(
    members: list[Hypothesis], procedure: Procedure, level: float
) -> tuple[MultiplicityResult | None, list[bool]]:
    """One family's procedure result and each member's rejection (rules 3 and 4)."""
    if not members:
        return None, []
    p = [h.p_value if math.isfinite(h.p_value) else 1.0 for h in members]
    result = multiplicity_adjust(
        p,
        procedure=("none" if procedure == "intersection-union" else procedure),
        alpha=level,
        labels=[h.id for h in members],
    )
    if procedure == "intersection-union":
        return result, [h.met is True for h in members]
    return result, list(result.rejected)


def _decisions(
    members: list[Hypothesis], family: MultiplicityResult | None, rejected: list[bool]
) -> list[Decision]:
    if family is None:
        return [Decision(h.id, h.primary, h.p_value, math.nan, False, False) for h in members]
    return [
        Decision(
            h.id,
            h.primary,
            h.p_value,
            family.adjusted_p[i],
            family.tested[i],
            rejected[i] and family.tested[i],
        )
        for i, h in enumerate(members)
    ]


_DESCRIBE = {
    "intersection-union": "every {noun} must succeed (intersection-union test), so each is "
    "tested at the full level without adjustment",
    "holm": "Holm's step-down procedure",
    "bonferroni": "Bonferroni's procedure",
    "fixed-sequence": "a fixed sequence (each {noun} tested at the full level, in the "
    "pre-specified order, only if every earlier one succeeded)",
}


def _describe(procedure: str, noun: str) -> str:
    return _DESCRIBE[procedure].format(noun=noun)
