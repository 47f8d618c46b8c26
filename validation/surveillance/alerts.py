"""Alarm episodes: the alerts a quality team acts on, from the tidy monthly signal rows.

An episode is a run of consecutive alarmed months of one signal in one segment (any of the
signal's variables alarming counts). Its onset is the first alarmed month; its statistic and
threshold are those that triggered it (at onset); its evidence quotes what was seen then.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from validation.numbers import number_or_none

SIGNAL_ORDER = (
    "integrity",
    "header",
    "population",
    "input",
    "output_mean",
    "output_positive_rate",
    "performance",
)


def alert_episodes(signals: pd.DataFrame, months: list[str]) -> list[dict[str, Any]]:
    """One entry per (segment, signal) alarm episode, ordered by onset, segment and signal.

    Parameters
    ----------
    signals : DataFrame
        ``signals.csv`` rows (month, site, vendor, signal, variable, statistic, threshold,
        alarm, n, detail).
    months : list of str
        The monitored months, in order (consecutive months make one episode).

    Returns
    -------
    list of dict
        ``site``, ``vendor``, ``signal``, ``onset``, ``statistic``, ``threshold``,
        ``evidence``, ``months`` (the alarmed months) and ``variables`` (those in alarm).

    Examples
    --------
    >>> rows = pd.DataFrame({"month": ["2027-01", "2027-02", "2027-04"], "site": "s01",
    ...     "vendor": "GE", "signal": "header", "variable": "header", "statistic": 3.0,
    ...     "threshold": 0.0, "alarm": True, "n": 3, "detail": "new value"})
    >>> [(a["onset"], a["months"]) for a in alert_episodes(
    ...     rows, ["2027-01", "2027-02", "2027-03", "2027-04"])]
    [('2027-01', ['2027-01', '2027-02']), ('2027-04', ['2027-04'])]
    """
    alarmed = signals[signals["alarm"].astype(bool)]
    if alarmed.empty:
        return []
    position = {month: i for i, month in enumerate(months)}
    alerts = []
    for (site, vendor, signal), group in alarmed.groupby(["site", "vendor", "signal"], sort=False):
        by_month = {m: g for m, g in group.groupby("month", sort=False)}
        ordered = sorted(by_month, key=position.__getitem__)
        episodes: list[list[str]] = []
        for month in ordered:
            if episodes and position[month] == position[episodes[-1][-1]] + 1:
                episodes[-1].append(month)
            else:
                episodes.append([month])
        for episode in episodes:
            onset_rows = by_month[episode[0]]
            first = onset_rows.iloc[0]
            variables = sorted({v for m in episode for v in by_month[m]["variable"].astype(str)})
            evidence = "; ".join(
                f"{row.variable}: {row.detail}" if row.variable != signal else str(row.detail)
                for row in onset_rows.itertuples(index=False)
            )
            span = (
                f"alarmed in {len(episode)} consecutive month(s), {episode[0]} to {episode[-1]}"
                if len(episode) > 1
                else f"alarmed in {episode[0]}"
            )
            alerts.append(
                {
                    "site": site,
                    "vendor": vendor,
                    "signal": signal,
                    "onset": episode[0],
                    "statistic": number_or_none(first["statistic"]),
                    "threshold": number_or_none(first["threshold"]),
                    "evidence": f"{evidence} ({span})",
                    "months": episode,
                    "variables": variables,
                }
            )
    rank = {name: i for i, name in enumerate(SIGNAL_ORDER)}
    alerts.sort(
        key=lambda a: (
            a["onset"],
            a["site"] == "*",
            a["site"],
            a["vendor"],
            rank.get(a["signal"], len(rank)),
        )
    )
    return alerts
