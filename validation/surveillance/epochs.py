"""Model-version epochs: a segment's monitoring restarts when its site switches model version.

Each site runs one locked model version at a time (its site file's ``deployments``; the
protocol's released version before the first entry). The inputs (integrity, headers,
population) do not depend on the model and are monitored across a switch. The model's outputs
and its agreement with the audited reference do: from the month a site switches, each of its
segments is a new *epoch*, compared with the switched-to version's own validation baseline
(its predictions on the same validation studies), with fresh control charts and audited-bias
windows that never reach back before the switch. The switch is an event, not an alarm.

Inside the engine an epoch after the first is a segment of its own, keyed by a label
(``"s01~1"``, :data:`SEP`) in place of the site; every output is mapped back to the real site
with the epoch's ``model_version`` (:meth:`EpochPlan.relabel`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from validation.sites import version_at
from validation.surveillance.baseline import POOLED, released_version, version_segments

#: Separates a site from its epoch number in the engine's internal segment labels.
SEP = "~"


@dataclass(frozen=True)
class Epoch:
    """Months ``start`` to ``end`` (inclusive) of ``site`` read by model ``version``."""

    site: str
    index: int
    version: str
    start: str
    end: str

    @property
    def label(self) -> str:
        """The engine's site label of this epoch's segments (the site itself for the first)."""
        return self.site if self.index == 0 else f"{self.site}{SEP}{self.index}"


@dataclass(frozen=True)
class EpochPlan:
    """Every site's epochs over the monitored months, and the segments the model signals use."""

    released: str
    months: tuple[str, ...]
    epochs: dict[str, tuple[Epoch, ...]]
    segments: dict[tuple[str, str], dict]
    released_segments: dict[tuple[str, str], dict]

    @property
    def extra(self) -> int:
        """Model segments beyond one per site x vendor (the post-switch epochs' streams)."""
        return sum(1 for key in self.segments if key[0] != POOLED and SEP in key[0])

    def epoch_of(self, label: str) -> Epoch | None:
        site = label.split(SEP, 1)[0]
        for epoch in self.epochs.get(site, ()):
            if epoch.label == label:
                return epoch
        return None

    def version(self, site: str, month: str) -> str:
        for epoch in self.epochs.get(site, ()):
            if epoch.start <= month <= epoch.end:
                return epoch.version
        return self.released

    def active(self, label: str, month: str) -> bool:
        """Whether the model segment ``label`` is monitored in ``month`` (pooled: always)."""
        if label == POOLED:
            return True
        epoch = self.epoch_of(label)
        return epoch is None or epoch.start <= month <= epoch.end

    def label_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Prepared rows with each post-switch epoch's rows under its label (a copy; the rows
        themselves when no site changes version)."""
        if not self.extra:
            return rows
        out = rows.copy()
        site = out["site"].to_numpy(object).copy()
        month = out["month"].to_numpy(object)
        for epochs in self.epochs.values():
            for epoch in epochs[1:]:
                here = (site == epoch.site) & (month >= epoch.start) & (month <= epoch.end)
                site[here] = epoch.label
        out["site"] = site
        return out

    def pooled_offsets(self, sites: pd.Series, vendors: pd.Series) -> np.ndarray:
        """Per labelled row, its segment's validation bias under the running version minus
        that under the released version: the pooled audited-bias change subtracts it, so the
        pooled segment is judged against each study's own version's baseline."""
        per_key: dict[tuple[str, str], float] = {}
        for (label, vendor), segment in self.segments.items():
            site = label.split(SEP, 1)[0]
            released = self.released_segments.get((site, vendor))
            if label == POOLED or segment is released:
                continue
            now, then = _bias(segment), _bias(released)
            if now is not None and then is not None:
                per_key[(label, vendor)] = now - then
        if not per_key or len(sites) == 0:
            return np.zeros(len(sites))
        index = pd.MultiIndex.from_arrays([sites.astype(str), vendors.astype(str)])
        return pd.Series(per_key).reindex(index).fillna(0.0).to_numpy(float)

    def keep(self, row: Mapping[str, Any]) -> bool:
        return self.active(str(row["site"]), str(row["month"]))

    def relabel(self, record: dict[str, Any], month: str | None = None) -> dict[str, Any]:
        """``record`` with its site label mapped back to the site and ``model_version`` added
        (the epoch's, or the version running that ``month``; empty for pooled)."""
        label = str(record.get("site", ""))
        if label == POOLED:
            return {**record, "model_version": ""}
        site = label.split(SEP, 1)[0]
        month = month or record.get("month")
        epoch = self.epoch_of(label)
        if SEP in label or not month:  # a post-switch epoch, or a record of a whole epoch
            version = epoch.version if epoch is not None else self.released
        else:  # a month of a segment: the version running then
            version = self.version(site, str(month))
        return {**record, "site": site, "model_version": version}

    def events(self, sha256: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every version change inside the monitored months: an event, never an alarm."""
        out = []
        for site, epochs in self.epochs.items():
            for before, after in pairwise(epochs):
                vendors = [v for (s, v) in self.segments if s == after.label]
                segments = [f"{site}/{v}" for v in vendors]
                out.append(
                    {
                        "site": site,
                        "month": after.start,
                        "from_version": before.version,
                        "to_version": after.version,
                        "from_sha256": sha256.get(before.version, ""),
                        "to_sha256": sha256.get(after.version, ""),
                        "segments": segments,
                        "text": (
                            f"{site}: model {before.version} -> {after.version} from "
                            f"{after.start}; new baseline for {', '.join(segments)}"
                        ),
                    }
                )
        return sorted(out, key=lambda e: (e["month"], e["site"]))

    def record(self) -> list[dict[str, Any]]:
        """The ``deployments.epochs`` block: per site, its epochs in the monitored months."""
        return [
            {
                "site": e.site,
                "epoch": e.index,
                "model_version": e.version,
                "start": e.start,
                "end": e.end,
            }
            for site in sorted(self.epochs)
            for e in self.epochs[site]
        ]


def _bias(segment: Mapping[str, Any] | None) -> float | None:
    agreement = (segment or {}).get("agreement") or {}
    value = agreement.get("bias")
    return None if value is None else float(value)


def build_epochs(
    baseline: dict[str, Any],
    segments: dict[tuple[str, str], dict],
    months: Sequence[str],
    deployments: Mapping[str, Sequence[tuple[str, str]]] | None,
) -> EpochPlan:
    """The epochs of every site over ``months`` and the model segments' baselines.

    Parameters
    ----------
    baseline : dict
        The frozen baseline (its released ``segments`` and candidate ``versions``).
    segments : dict
        The released baseline's segments, ``(site, vendor) -> record``, pooled last.
    months : sequence of str
        The monitored months.
    deployments : mapping, optional
        Site -> ``(from month, version)`` entries in month order (a site not named runs the
        released version throughout).

    Raises
    ------
    AnalysisError
        A deployed version has no summaries in the baseline (see
        :func:`validation.surveillance.baseline.version_segments`).
    """
    released = released_version(baseline)
    deployments = deployments or {}
    sites = sorted({site for site, _ in segments if site != POOLED})
    by_version: dict[str, dict[tuple[str, str], dict]] = {}

    def lookup(version: str) -> dict[tuple[str, str], dict]:
        if version not in by_version:
            by_version[version] = (
                dict(segments)
                if version == released
                else {(s["site"], s["vendor"]): s for s in version_segments(baseline, version)}
            )
        return by_version[version]

    epochs: dict[str, tuple[Epoch, ...]] = {}
    for site in sites:
        runs: list[list[Any]] = []
        for month in months:
            version = version_at(deployments.get(site, ()), month, released)
            if runs and runs[-1][0] == version:
                runs[-1][2] = month
            else:
                runs.append([version, month, month])
        epochs[site] = tuple(
            Epoch(site=site, index=i, version=v, start=a, end=b) for i, (v, a, b) in enumerate(runs)
        )
    model_segments: dict[tuple[str, str], dict] = {}
    for site, vendor in segments:
        if site == POOLED:
            continue
        for epoch in epochs.get(site, ()):
            model_segments[(epoch.label, vendor)] = lookup(epoch.version).get(
                (site, vendor), {"site": site, "vendor": vendor, "n": 0}
            )
    model_segments[(POOLED, POOLED)] = segments[(POOLED, POOLED)]
    return EpochPlan(
        released=released,
        months=tuple(months),
        epochs=epochs,
        segments=model_segments,
        released_segments=dict(segments),
    )


def filter_rows(plan: EpochPlan, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (signals or records keyed by site label and month) of months their epoch covers."""
    return [row for row in rows if plan.keep(row)]
