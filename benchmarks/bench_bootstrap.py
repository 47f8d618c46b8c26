"""Cluster bootstrap speed: sensitivity, specificity and bias with BCa intervals per stratum.

Target (issue: patient-level cluster bootstrap): a 2,000-replicate patient-cluster bootstrap
of sensitivity, specificity and Bland-Altman bias, each with its BCa interval, in every one
of 50 strata of 20,000 studies (about 12,000 patients with 1-3 studies each) takes under
10 s on the 2-core machine.

Timed in the same process, on the same data:

* ``cluster_bootstrap_table`` (count matrix @ per-patient sums, closed-form jackknife),
  the best of ``--repeats`` runs;
* baseline 1, ``scipy.stats.bootstrap`` (BCa, vectorised, ``paired=True``) on the
  per-patient sums of each stratum, once per stratum and metric (150 calls): the same
  cluster bootstrap with a good general-purpose tool. Seeded with each stratum's generator
  it draws the same resamples, so its intervals must equal ours (checked);
* baseline 2, a straightforward loop: per replicate, draw patients with replacement, gather
  their studies with pandas and compute the three metrics; per left-out patient, the same
  for the jackknife. Timed on ``--naive-strata`` strata with ``--naive-replicates``
  replicates and extrapolated (linearly in replicates and in studies) to the full job.

Peak memory: numpy allocations traced by ``tracemalloc`` during one run of ours, and the
process's peak resident set size.

    .venv/bin/python -m benchmarks.bench_bootstrap
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks._common import best_of
from validation.stats.bootstrap import _stratum_seed, cluster_bootstrap_table

TARGET_S = 10.0


def cohort(n_studies: int, n_patients: int, n_strata: int, seed: int) -> pd.DataFrame:
    """Studies of patients with 1-3 studies each, patients nested in strata (sites).

    Patient effects make studies of a patient correlated: the LVH reference status is mostly
    a patient trait, the model's score has a patient random effect, and so has the
    measurement error of the wall thickness.
    """
    rng = np.random.default_rng(seed)
    mean_size = n_studies / n_patients
    p3 = max(0.0, (mean_size - 1.0) / 2.0 - 0.1)  # 1, 2 or 3 studies with mean ~ mean_size
    p2 = mean_size - 1.0 - 2.0 * p3
    sizes = rng.choice([1, 2, 3], p=[1.0 - p2 - p3, p2, p3], size=n_patients)
    patient = np.repeat(np.arange(n_patients), sizes)[:n_studies]
    if patient.shape[0] < n_studies:  # top up with one-study patients
        extra = np.arange(n_patients, n_patients + n_studies - patient.shape[0])
        patient = np.concatenate([patient, extra])
    n_pat = int(patient.max()) + 1
    site_weights = rng.dirichlet(np.full(n_strata, 3.0))
    site_of = rng.choice(n_strata, p=site_weights, size=n_pat)
    lvh_patient = rng.random(n_pat) < 0.3
    lvh = np.where(rng.random(n_studies) < 0.9, lvh_patient[patient], rng.random(n_studies) < 0.3)
    score = 1.8 * lvh + rng.normal(0.0, 0.7, n_pat)[patient] + rng.normal(0.0, 0.7, n_studies)
    pred = score > 0.9
    diff = 0.2 + rng.normal(0.0, 0.6, n_pat)[patient] + rng.normal(0.0, 0.8, n_studies)
    return pd.DataFrame(
        {
            "patient": patient,
            "site": np.char.add("site-", np.char.zfill(site_of[patient].astype(str), 2)),
            "label": lvh,
            "predicted": pred,
            "diff": diff,
        }
    )


def ratios(df: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ref, pred = df["label"].to_numpy(), df["predicted"].to_numpy()
    return {
        "sensitivity": (ref & pred, ref),
        "specificity": (~ref & ~pred, ~ref),
        "bias": (df["diff"].to_numpy(), np.ones(len(df))),
    }


def ours(df: pd.DataFrame, n_resamples: int, seed: int) -> pd.DataFrame:
    return cluster_bootstrap_table(
        ratios(df),
        clusters=df["patient"].to_numpy(),
        by=df["site"].to_numpy(),
        n_resamples=n_resamples,
        seed=seed,
        method="bca",
    )


def scipy_baseline(df: pd.DataFrame, n_resamples: int, seed: int) -> pd.DataFrame:
    """scipy.stats.bootstrap (BCa) on per-patient sums, one call per stratum and metric."""
    rows = []
    frame = df.assign(
        tp=df.label & df.predicted, tn=~df.label & ~df.predicted, neg=~df.label, one=1.0
    )
    sums = frame.groupby(["site", "patient"], sort=True)[
        ["tp", "label", "tn", "neg", "diff", "one"]
    ]
    sums = sums.sum().astype(float)
    pairs = {
        "sensitivity": ("tp", "label"),
        "specificity": ("tn", "neg"),
        "bias": ("diff", "one"),
    }

    def ratio(num: np.ndarray, den: np.ndarray, axis: int = -1) -> np.ndarray:
        return num.sum(axis=axis) / den.sum(axis=axis)

    for site, group in sums.groupby(level="site", sort=True):
        for metric, (num, den) in pairs.items():
            res = stats.bootstrap(
                (group[num].to_numpy(), group[den].to_numpy()),
                ratio,
                paired=True,
                n_resamples=n_resamples,
                method="BCa",
                rng=np.random.default_rng(_stratum_seed(seed, str(site))),
            )
            ci = res.confidence_interval
            rows.append({"metric": metric, "stratum": site, "ci_low": ci.low, "ci_high": ci.high})
    return pd.DataFrame(rows)


def _metrics(d: pd.DataFrame) -> tuple[float, float, float]:
    ref, pred = d["label"], d["predicted"]
    return (
        (ref & pred).sum() / ref.sum(),
        (~ref & ~pred).sum() / (~ref).sum(),
        d["diff"].mean(),
    )


def naive_stratum(d: pd.DataFrame, n_resamples: int, rng: np.random.Generator) -> None:
    """Per replicate: draw patients, gather their studies with pandas, compute the metrics."""
    by_patient = d.groupby("patient").indices
    patients = np.fromiter(by_patient, dtype=np.int64)
    reps = []
    for _ in range(n_resamples):
        drawn = rng.choice(patients, size=patients.shape[0], replace=True)
        rows = np.concatenate([by_patient[p] for p in drawn])
        reps.append(_metrics(d.iloc[rows]))
    jack = [_metrics(d[d["patient"] != p]) for p in patients]  # BCa acceleration
    del reps, jack


def naive_estimate(df: pd.DataFrame, n_strata: int, n_resamples: int, seed: int) -> float:
    """Seconds the naive loop would take on the whole job, extrapolated from a sample."""
    rng = np.random.default_rng(seed)
    sites = sorted(df["site"].unique())
    chosen = rng.choice(len(sites), size=n_strata, replace=False)
    timed_studies = 0
    start = time.perf_counter()
    for i in chosen:
        d = df[df["site"] == sites[i]].reset_index(drop=True)
        timed_studies += len(d)
        naive_stratum(d, n_resamples, rng)
    elapsed = time.perf_counter() - start
    return elapsed * (len(df) / timed_studies) * (2000 / n_resamples)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=20_000)
    p.add_argument("--patients", type=int, default=12_000)
    p.add_argument("--strata", type=int, default=50)
    p.add_argument("--resamples", type=int, default=2_000)
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the best is kept)")
    p.add_argument("--seed", type=int, default=20_240_601)
    p.add_argument("--naive-strata", type=int, default=2, help="strata timed for the loop")
    p.add_argument("--naive-replicates", type=int, default=100, help="its replicates")
    args = p.parse_args()

    df = cohort(args.studies, args.patients, args.strata, args.seed)
    n_pat = df["patient"].nunique()
    per_patient = df.groupby("patient").size().value_counts().sort_index()
    sizes = df.groupby("site").size()
    mix = ", ".join(f"{v:,} with {k}" for k, v in per_patient.items())
    print(f"{len(df):,} studies of {n_pat:,} patients ({mix} studies)")
    print(
        f"{sizes.shape[0]} strata of {sizes.min()}-{sizes.max()} studies; "
        f"B = {args.resamples:,}, BCa, seed {args.seed}"
    )

    table = ours(df, args.resamples, args.seed)
    best = best_of({"ours": lambda: ours(df, args.resamples, args.seed)}, args.repeats)["ours"]

    tracemalloc.start()
    ours(df, args.resamples, args.seed)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # includes data, imports

    start = time.perf_counter()
    reference = scipy_baseline(df, args.resamples, args.seed)
    scipy_s = time.perf_counter() - start
    merged = table.merge(reference, on=["metric", "stratum"], suffixes=("", "_scipy"))
    assert len(merged) == len(table) == 3 * args.strata
    gap = np.nanmax(
        np.abs(
            merged[["ci_low", "ci_high"]].to_numpy()
            - merged[["ci_low_scipy", "ci_high_scipy"]].to_numpy()
        )
    )
    assert gap < 1e-9, f"intervals differ from scipy's by {gap}"

    naive_s = naive_estimate(df, args.naive_strata, args.naive_replicates, args.seed)

    study_level = cluster_bootstrap_table(
        ratios(df), clusters=None, by=df["site"].to_numpy(), n_resamples=args.resamples, seed=1
    )

    verdict = "OK" if best < TARGET_S else "MISSED"
    print(
        f"  cluster_bootstrap_table, {len(table)} intervals: {best:7.3f} s (best of {args.repeats})"
    )
    print(f"    target < {TARGET_S:g} s: {verdict} ({TARGET_S / best:.0f}x under)")
    print(f"    peak traced memory {peak / 2**20:.1f} MiB; process peak RSS {rss:.0f} MiB")
    print(
        f"  scipy.stats.bootstrap on patient sums, {len(reference)} calls: {scipy_s:7.3f} s "
        f"(ratio {scipy_s / best:.1f}x; same draws, intervals equal within {gap:.0e})"
    )
    print(
        f"  naive pandas loop, extrapolated from {args.naive_strata} strata x "
        f"{args.naive_replicates} replicates: {naive_s:7.1f} s (ratio {naive_s / best:.0f}x)"
    )
    width = (table.ci_high - table.ci_low).groupby(table.metric).median()
    naive = (study_level.ci_high - study_level.ci_low).groupby(study_level.metric).median()
    print(
        "  median CI width, patient bootstrap / study-level bootstrap: "
        + ", ".join(f"{k} {width[k]:.3f} / {naive[k]:.3f}" for k in width.index)
    )


if __name__ == "__main__":
    main()
