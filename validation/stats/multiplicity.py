"""Family-wise error control across co-primary and secondary endpoints.

A validation protocol usually judges several endpoints (e.g. sensitivity and specificity as
co-primary, then AUC and per-subgroup results as secondary), each against a pre-declared
goal. Each endpoint's goal test yields a p-value (one-sided, against its goal); this module
decides which goals are met while keeping the family-wise type I error rate (FWER) at
``alpha``:

* :func:`holm` - Holm's (1979) step-down procedure (no ordering needed);
* :func:`bonferroni` - the single-step Bonferroni procedure;
* :func:`fixed_sequence` - hierarchical testing in a pre-specified order, each at full alpha,
  stopping at the first goal not met (Maurer, Hothorn & Lehmacher 1995);
* :func:`multiplicity_adjust` - dispatches on a protocol's ``procedure`` name, including
  ``"none"`` for co-primary endpoints that must *all* succeed.

Every result records, for each hypothesis, the level its raw p-value was compared with
(``local_alpha``), so the analysis can report each endpoint's confidence interval at the
matching level (:meth:`MultiplicityResult.matching_confidence`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from validation.stats._checks import (
    check_choice,
    check_labels,
    check_numeric_array,
    check_open_unit,
)

__all__ = [
    "MultiplicityProcedure",
    "MultiplicityResult",
    "bonferroni",
    "fixed_sequence",
    "holm",
    "multiplicity_adjust",
]

MultiplicityProcedure = Literal["holm", "bonferroni", "fixed-sequence", "none"]
_PROCEDURES: tuple[MultiplicityProcedure, ...] = get_args(MultiplicityProcedure)

_COLUMNS: tuple[str, ...] = (
    "hypothesis",
    "order",
    "p",
    "adjusted_p",
    "local_alpha",
    "tested",
    "rejected",
    "procedure",
    "alpha",
)


@dataclass(frozen=True)
class MultiplicityResult:
    """Result of :func:`holm`, :func:`bonferroni`, :func:`fixed_sequence` and
    :func:`multiplicity_adjust`. All tuples are in the input order.

    Attributes
    ----------
    procedure : str
        ``"holm"``, ``"bonferroni"``, ``"fixed-sequence"`` or ``"none"``.
    alpha : float
        Family-wise error rate the procedure controls (for ``"none"``: the per-test level).
    labels : tuple of str
        Hypothesis (endpoint) names.
    p_values : tuple of float
        Raw p-values.
    adjusted_p : tuple of float
        Multiplicity-adjusted p-values: hypothesis i is rejected iff
        ``adjusted_p[i] <= alpha``.
    local_alpha : tuple of float
        The level the raw p-value was compared with; NaN for hypotheses the procedure never
        reached (it stopped earlier).
    tested : tuple of bool
        Whether the procedure reached the hypothesis.
    rejected : tuple of bool
        Whether the null hypothesis was rejected (the endpoint's goal is met).
    """

    procedure: str
    alpha: float
    labels: tuple[str, ...]
    p_values: tuple[float, ...]
    adjusted_p: tuple[float, ...]
    local_alpha: tuple[float, ...]
    tested: tuple[bool, ...]
    rejected: tuple[bool, ...]

    @property
    def n_rejected(self) -> int:
        """Number of rejected hypotheses."""
        return sum(self.rejected)

    @property
    def all_rejected(self) -> bool:
        """True when every hypothesis is rejected (all co-primary goals met)."""
        return all(self.rejected)

    def matching_confidence(
        self, *, sided: Literal["one-sided", "two-sided"] = "one-sided"
    ) -> tuple[float, ...]:
        """Two-sided confidence level whose interval agrees with each decision.

        A one-sided test at level ``a`` against a goal rejects exactly when the goal lies
        outside the two-sided ``1 - 2a`` interval on the relevant side; a two-sided test at
        level ``a`` corresponds to the ``1 - a`` interval. This returns ``1 - 2a`` (or
        ``1 - a``) for each hypothesis, with ``a = local_alpha``, and NaN for hypotheses
        the procedure never reached. It is exact only for tests that invert to intervals
        (the same statistic and reference distribution).

        Parameters
        ----------
        sided : {"one-sided", "two-sided"}, default "one-sided"
            How the p-values were computed.

        Returns
        -------
        tuple of float
            One level per hypothesis, in input order.

        Raises
        ------
        ValueError
            On an unknown ``sided``, or when a one-sided ``local_alpha`` is 0.5 or more
            (no two-sided interval corresponds).

        Examples
        --------
        >>> res = bonferroni([0.001, 0.2], alpha=0.05)
        >>> [round(c, 4) for c in res.matching_confidence()]
        [0.95, 0.95]
        """
        check_choice(sided, "sided", ("one-sided", "two-sided"))
        factor = 2.0 if sided == "one-sided" else 1.0
        levels = []
        for a in self.local_alpha:
            if math.isnan(a):
                levels.append(math.nan)
                continue
            if factor * a >= 1.0:
                raise ValueError(
                    f"a one-sided local level of {a} has no matching two-sided interval "
                    f"(1 - 2 * {a} <= 0); use a smaller alpha."
                )
            levels.append(1.0 - factor * a)
        return tuple(levels)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per hypothesis in input order.

        Returns
        -------
        pandas.DataFrame
            Columns ``hypothesis, order, p, adjusted_p, local_alpha, tested, rejected,
            procedure, alpha``; ``order`` is the 1-based position at which the procedure
            examined the hypothesis (sorted p-values for Holm, the given order for
            fixed-sequence, the input position otherwise).
        """
        if self.procedure == "holm":
            ranks = np.empty(len(self.p_values), dtype=int)
            ranks[np.argsort(np.asarray(self.p_values), kind="stable")] = np.arange(
                1, len(self.p_values) + 1
            )
            order = ranks.tolist()
        else:
            order = list(range(1, len(self.p_values) + 1))
        return pd.DataFrame(
            {
                "hypothesis": list(self.labels),
                "order": order,
                "p": list(self.p_values),
                "adjusted_p": list(self.adjusted_p),
                "local_alpha": list(self.local_alpha),
                "tested": list(self.tested),
                "rejected": list(self.rejected),
                "procedure": self.procedure,
                "alpha": self.alpha,
            },
            columns=list(_COLUMNS),
        )


# --------------------------------------------------------------------------- input checks


def _check_p_values(p_values: ArrayLike) -> NDArray[np.float64]:
    p = check_numeric_array(p_values, "p_values")
    outside = (p < 0.0) | (p > 1.0)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"p_values must lie in [0, 1]; found {int(outside.sum())} value(s) outside, the "
            f"first at index {first} ({p[first]})."
        )
    return p


def _check_labels(labels: Sequence[Any] | None, m: int) -> tuple[str, ...]:
    if labels is None:
        return tuple(f"H{i}" for i in range(1, m + 1))
    return check_labels(labels, m, "hypothesis names", "p_values")


def _result(
    procedure: str,
    alpha: float,
    labels: tuple[str, ...],
    p: NDArray[np.float64],
    adjusted: NDArray[np.float64],
    local: NDArray[np.float64],
) -> MultiplicityResult:
    tested = ~np.isnan(local)
    rejected = adjusted <= alpha
    return MultiplicityResult(
        procedure=procedure,
        alpha=alpha,
        labels=labels,
        p_values=tuple(float(x) for x in p),
        adjusted_p=tuple(float(x) for x in adjusted),
        local_alpha=tuple(float(x) for x in local),
        tested=tuple(bool(x) for x in tested),
        rejected=tuple(bool(x) for x in rejected),
    )


# --------------------------------------------------------------------------- procedures


def _holm(p: NDArray[np.float64], alpha: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    m = p.shape[0]
    order = np.argsort(p, kind="stable")
    factors = np.arange(m, 0, -1, dtype=np.float64)  # m, m-1, ..., 1
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(factors * p[order]))
    thresholds = alpha / factors
    # The step-down stops at the first sorted p-value above its threshold; that hypothesis is
    # still tested, the later ones are not.
    failures = np.flatnonzero(p[order] > thresholds)
    reached = m if failures.size == 0 else int(failures[0]) + 1
    local_sorted = np.where(np.arange(m) < reached, thresholds, np.nan)
    adjusted = np.empty(m)
    local = np.empty(m)
    adjusted[order] = adjusted_sorted
    local[order] = local_sorted
    return adjusted, local


def _bonferroni(
    p: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    m = p.shape[0]
    return np.minimum(1.0, m * p), np.full(m, alpha / m)


def _fixed_sequence(
    p: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    m = p.shape[0]
    failures = np.flatnonzero(p > alpha)
    reached = m if failures.size == 0 else int(failures[0]) + 1
    return np.maximum.accumulate(p), np.where(np.arange(m) < reached, alpha, np.nan)


def _unadjusted(
    p: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return p.copy(), np.full(p.shape[0], alpha)


_PROCEDURE_STEPS = {
    "holm": _holm,
    "bonferroni": _bonferroni,
    "fixed-sequence": _fixed_sequence,
    "none": _unadjusted,
}


def _adjust(
    procedure: str, p_values: ArrayLike, alpha: float, labels: Sequence[Any] | None
) -> MultiplicityResult:
    """Check the inputs, run the named procedure and collect its result."""
    level = check_open_unit(alpha, "alpha", "0.05")
    p = _check_p_values(p_values)
    names = _check_labels(labels, p.shape[0])
    adjusted, local = _PROCEDURE_STEPS[procedure](p, level)
    return _result(procedure, level, names, p, adjusted, local)


def holm(
    p_values: ArrayLike, *, alpha: float = 0.05, labels: Sequence[Any] | None = None
) -> MultiplicityResult:
    """Holm's step-down (sequentially rejective Bonferroni) procedure.

    Parameters
    ----------
    p_values : array-like of shape (m,)
        Raw p-values in [0, 1], one per hypothesis (e.g. the one-sided p-value of each
        endpoint's test against its goal).
    alpha : float, default 0.05
        Family-wise error rate, in (0, 1).
    labels : sequence, optional
        Unique hypothesis names (default "H1", "H2", ...).

    Returns
    -------
    MultiplicityResult
        Adjusted p-values (as R ``p.adjust(p, method="holm")``), local levels, decisions.

    Raises
    ------
    ValueError
        On an empty input, NaN or values outside [0, 1], ``alpha`` outside (0, 1), or
        labels of the wrong length or duplicated.
    TypeError
        On non-numeric p-values.

    Notes
    -----
    Sort the p-values ``p_(1) <= ... <= p_(m)``; reject ``H_(1)`` if ``p_(1) <= alpha / m``,
    then ``H_(2)`` if ``p_(2) <= alpha / (m - 1)``, ..., and stop at the first hypothesis
    not rejected: it and all later ones are retained. Adjusted p-values are
    ``p~_(j) = min(1, max_{i <= j} (m - i + 1) p_(i))``. Holm's procedure is the closed
    testing procedure built on Bonferroni tests, so it controls the FWER strongly under
    any dependence between the tests and rejects everything Bonferroni rejects, and
    possibly more. Use it for a family of endpoints with no natural order (e.g. several
    secondary performance goals); when the protocol ranks them, :func:`fixed_sequence`
    can be more powerful for the leading ones.

    References
    ----------
    .. [1] Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat.
       1979;6(2):65-70.
    .. [2] Wright SP. Adjusted P-values for simultaneous inference. Biometrics.
       1992;48(4):1005-1013.
    .. [3] U.S. Food and Drug Administration. Multiple Endpoints in Clinical Trials:
       Guidance for Industry. October 2022 (section on the Holm procedure).

    Examples
    --------
    >>> res = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    >>> [round(x, 3) for x in res.adjusted_p]
    [0.03, 0.06, 0.06, 0.02]
    >>> res.rejected
    (True, False, False, True)
    >>> res.local_alpha[3], res.local_alpha[0]
    (0.0125, 0.016666666666666666)
    """
    return _adjust("holm", p_values, alpha, labels)


def bonferroni(
    p_values: ArrayLike, *, alpha: float = 0.05, labels: Sequence[Any] | None = None
) -> MultiplicityResult:
    """Single-step Bonferroni procedure: test every hypothesis at ``alpha / m``.

    Parameters
    ----------
    p_values : array-like of shape (m,)
        Raw p-values in [0, 1].
    alpha : float, default 0.05
        Family-wise error rate, in (0, 1).
    labels : sequence, optional
        Unique hypothesis names (default "H1", "H2", ...).

    Returns
    -------
    MultiplicityResult
        Adjusted p-values ``min(1, m p)`` (as R ``p.adjust(p, method="bonferroni")``),
        local levels ``alpha / m`` and decisions.

    Raises
    ------
    ValueError
        On an empty input, NaN or values outside [0, 1], ``alpha`` outside (0, 1), or bad
        labels.
    TypeError
        On non-numeric p-values.

    Notes
    -----
    Controls the FWER under any dependence. It is dominated by :func:`holm` (same
    guarantee, never fewer rejections); its one advantage is that each endpoint's level
    ``alpha / m`` is known before the data, so every endpoint's interval can be planned at
    the same confidence (e.g. ``1 - 2 alpha / m`` for one-sided goals).

    References
    ----------
    .. [1] Dunn OJ. Multiple comparisons among means. J Am Stat Assoc. 1961;56(293):52-64.

    Examples
    --------
    >>> res = bonferroni([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    >>> [round(x, 3) for x in res.adjusted_p]
    [0.04, 0.16, 0.12, 0.02]
    >>> res.rejected
    (True, False, False, True)
    """
    return _adjust("bonferroni", p_values, alpha, labels)


def fixed_sequence(
    p_values: ArrayLike, *, alpha: float = 0.05, labels: Sequence[Any] | None = None
) -> MultiplicityResult:
    """Fixed-sequence (hierarchical) testing in the given order, each at full ``alpha``.

    Parameters
    ----------
    p_values : array-like of shape (m,)
        Raw p-values in [0, 1], **in the pre-specified testing order** (most important
        endpoint first).
    alpha : float, default 0.05
        Family-wise error rate, in (0, 1); every tested hypothesis is tested at this level.
    labels : sequence, optional
        Unique hypothesis names (default "H1", "H2", ...).

    Returns
    -------
    MultiplicityResult
        Adjusted p-values ``max(p_1, ..., p_i)``, local levels (``alpha`` for tested
        hypotheses, NaN after the first non-rejection) and decisions.

    Raises
    ------
    ValueError
        On an empty input, NaN or values outside [0, 1], ``alpha`` outside (0, 1), or bad
        labels.
    TypeError
        On non-numeric p-values.

    Notes
    -----
    Test ``H_1`` at ``alpha``; if rejected test ``H_2`` at ``alpha``, and so on; at the
    first hypothesis not rejected, stop: it and every later hypothesis are retained, the
    later ones *untested* however small their p-values. This is the closed testing
    procedure whose intersection tests use the first hypothesis in the order, so the FWER
    is controlled strongly (Maurer, Hothorn & Lehmacher 1995). The adjusted p-value of
    ``H_i`` is ``max_{j <= i} p_j`` (Westfall & Krishen 2001). Use it when the protocol
    ranks endpoints (primary goal, then key secondary goals) and the order was fixed before
    unblinding; a failed early endpoint blocks all later claims, so place the endpoints
    most likely to succeed first.

    References
    ----------
    .. [1] Maurer W, Hothorn LA, Lehmacher W. Multiple comparisons in drug clinical trials
       and preclinical assays: a-priori ordered hypotheses. In: Vollmar J, ed. Biometrie in
       der chemisch-pharmazeutischen Industrie, Vol 6. Stuttgart: Fischer; 1995:3-18.
    .. [2] Westfall PH, Krishen A. Optimally weighted, fixed sequence and gatekeeper
       multiple testing procedures. J Stat Plan Inference. 2001;99(1):25-40.
    .. [3] U.S. Food and Drug Administration. Multiple Endpoints in Clinical Trials:
       Guidance for Industry. October 2022 (section on the fixed-sequence method).

    Examples
    --------
    >>> res = fixed_sequence([0.01, 0.04, 0.06, 0.001], alpha=0.05)
    >>> res.rejected
    (True, True, False, False)
    >>> res.tested
    (True, True, True, False)
    >>> [round(x, 3) for x in res.adjusted_p]
    [0.01, 0.04, 0.06, 0.06]
    """
    return _adjust("fixed-sequence", p_values, alpha, labels)


def multiplicity_adjust(
    p_values: ArrayLike,
    *,
    procedure: MultiplicityProcedure = "holm",
    alpha: float = 0.05,
    labels: Sequence[Any] | None = None,
) -> MultiplicityResult:
    """Apply the multiplicity procedure a protocol names.

    Parameters
    ----------
    p_values : array-like of shape (m,)
        Raw p-values in [0, 1] (in the testing order for ``"fixed-sequence"``).
    procedure : {"holm", "bonferroni", "fixed-sequence", "none"}, default "holm"
        ``"none"`` tests each hypothesis at ``alpha`` without adjustment; see Notes.
    alpha : float, default 0.05
        Family-wise error rate (per-test level for ``"none"``), in (0, 1).
    labels : sequence, optional
        Unique hypothesis names (default "H1", "H2", ...).

    Returns
    -------
    MultiplicityResult
        As returned by :func:`holm`, :func:`bonferroni` or :func:`fixed_sequence`; for
        ``"none"`` the adjusted p-values equal the raw ones and every local level is
        ``alpha``.

    Raises
    ------
    ValueError
        On an unknown ``procedure`` and the input errors of the procedures.
    TypeError
        On non-numeric p-values or a non-string ``procedure``.

    Notes
    -----
    Which procedure fits depends on the claim:

    * **Co-primary endpoints that must all succeed** (e.g. sensitivity *and* specificity
      goals): the study succeeds only if every null is rejected, an intersection-union
      test, whose type I error is at most ``alpha`` with each endpoint tested at ``alpha``
      (Berger 1982; FDA 2022 guidance on co-primary endpoints). Use ``"none"`` and read
      :attr:`MultiplicityResult.all_rejected`. Individual claims from a failed family are
      not supported.
    * **Success if any one of several endpoints succeeds**, or several individual claims
      (secondary endpoints): use ``"holm"`` (no order) or ``"fixed-sequence"`` (ranked
      endpoints); ``"bonferroni"`` only when levels must be fixed in advance.
    * A secondary family is usually tested only after the primary family succeeds
      (serial gatekeeping): call this function on the secondary family only when
      ``primary.all_rejected`` and spend the full alpha there.

    References
    ----------
    .. [1] Berger RL. Multiparameter hypothesis testing and acceptance sampling.
       Technometrics. 1982;24(4):295-300.
    .. [2] Dmitrienko A, D'Agostino RB Sr. Multiplicity considerations in clinical trials.
       N Engl J Med. 2018;378(22):2115-2122.
    .. [3] U.S. Food and Drug Administration. Multiple Endpoints in Clinical Trials:
       Guidance for Industry. October 2022.

    Examples
    --------
    >>> co_primary = multiplicity_adjust([0.003, 0.021], procedure="none",
    ...                                  labels=["sensitivity", "specificity"])
    >>> co_primary.all_rejected
    True
    >>> secondary = multiplicity_adjust([0.04, 0.01], procedure="holm")
    >>> secondary.rejected
    (True, True)
    """
    chosen = check_choice(procedure, "procedure", _PROCEDURES)
    return _adjust(chosen, p_values, alpha, labels)
