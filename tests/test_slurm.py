"""The workflow on a real Slurm cluster: ``snakemake --profile profiles/slurm`` gives what a local
run gives.

A one-node Slurm cluster (``slurmctld`` + ``slurmd`` + ``munged`` on this machine, see
:mod:`tests.slurm_cluster`) runs the tiny demo study through the Slurm executor plugin with the
repository's profile, in a copy of the project; the local run it is compared with is the session's
tiny run (``snakemake --cores 2``, fixture ``tiny_run`` in ``tests/conftest.py``).
The test checks that the jobs really went through Slurm (job ids from ``sbatch``, allocated and
completed by ``slurmctld``, each rule run as a job step on the node; the local rules not
submitted; SR export grouped with its inference) and that the two runs agree: predictions byte
for byte and ``results.json`` in everything but its creation time, unblinding time and report id.

Without root or without the Debian packages ``slurm-wlm`` and ``munge`` the test skips, or fails
when the environment variable ``CI`` is set.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.project import N_PARTITIONS, N_VERSIONS, TINY, copy_project, snakemake
from tests.slurm_cluster import SlurmCluster, slurm_cluster  # noqa: F401 (session fixture)

RESULTS = Path("results") / "demo"
# results.json fields that record when and as which report a run happened, not what it found
VOLATILE = {("created_utc",), ("report_id",), ("lock", "unblinded_utc")}
# the partition whose SR export is asked for, to run one inference + SR group job
SR_PARTITION = ("s01", "GE")
# test-only polling: first status check after 2 s, then every 2 s (growing while nothing ends)
FAST_POLLING = [
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "2",
]


def _without(results: dict, paths: set[tuple[str, ...]]) -> dict:
    results = json.loads(json.dumps(results))
    for path in paths:
        node = results
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1])
    return results


def _targets() -> list[str]:
    site, vendor = SR_PARTITION
    return [
        str(RESULTS / "analysis" / "results.json"),
        str(RESULTS / "sr" / site / vendor / "index.csv"),
    ]


@pytest.mark.e2e
@pytest.mark.service
def test_workflow_on_slurm_equals_local_run(
    repo_root: Path,
    tmp_path: Path,
    slurm_cluster: SlurmCluster,  # noqa: F811 (the fixture imported above)
    tiny_run: Path,
) -> None:
    on_slurm = copy_project(repo_root, tmp_path / "slurm")
    local = tiny_run  # the same study run by `snakemake --cores 2` (read only)
    profile = ["--profile", "profiles/slurm", "--slurm-status-command", "squeue"]
    # squeue, not sacct: this cluster has no slurmdbd (see profiles/slurm/config.yaml)
    cluster_args = [*profile, *FAST_POLLING, "--slurm-keep-successful-logs"]

    started = time.monotonic()
    run = snakemake(on_slurm, *_targets(), *cluster_args, *TINY, env=slurm_cluster.env, check=False)
    slurm_seconds = time.monotonic() - started
    log = run.stdout + run.stderr
    assert run.returncode == 0, (
        f"snakemake --profile profiles/slurm failed (exit {run.returncode}):\n{log[-6000:]}\n"
        f"{_slurm_job_logs(on_slurm)}\n{slurm_cluster.logs()}"
    )

    # --- the jobs went through Slurm ---------------------------------------------------------
    submitted = dict(re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+)", log))
    slurm_ids = set(submitted.values())
    # demo, one ingest per partition, one inference per partition and version, analyze
    expected_jobs = 1 + N_PARTITIONS + N_PARTITIONS * N_VERSIONS + 1
    assert len(slurm_ids) == len(submitted) == expected_jobs, (len(submitted), log[-4000:])
    controller = slurm_cluster.log_path("slurmctld").read_text(errors="replace")
    # started by the main scheduler ("sched: Allocate") or by backfill ("_start_job: Started")
    allocated = set(
        re.findall(r"(?:sched: Allocate JobId=|_start_job: Started JobId=)(\d+) ", controller)
    )
    succeeded = set(re.findall(r"_job_complete: JobId=(\d+) WEXITSTATUS 0", controller))
    assert slurm_ids <= allocated, (sorted(slurm_ids - allocated), slurm_cluster.logs())
    assert slurm_ids <= succeeded, (sorted(slurm_ids - succeeded), slurm_cluster.logs())
    # inside each allocation the rule ran as a job step (srun) on the node
    node_log = slurm_cluster.log_path("slurmd").read_text(errors="replace")
    stepped = set(re.findall(r"launch task StepId=(\d+)\.\d+ request", node_log))
    assert slurm_ids <= stepped, (sorted(slurm_ids - stepped), slurm_cluster.logs())
    # Slurm's own output of every job, kept under .snakemake/slurm_logs/<rule or group>/
    slurm_logs = {p.stem for p in (on_slurm / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert slurm_ids <= slurm_logs
    # the lock check ran on the submit node, not as a Slurm job
    assert re.search(r"^localrule lock_check:", log, re.M)
    assert not re.search(r"^rule lock_check:", log, re.M)
    # the SR export rode in the same Slurm job as the inference it reads
    groups = list((on_slurm / ".snakemake" / "slurm_logs").glob("group_infer_sr*"))
    assert groups, "no group job infer_sr was submitted"
    group_logs = "".join(p.read_text(errors="replace") for g in groups for p in g.rglob("*.log"))
    assert "rule sr:" in group_logs and "rule infer:" in group_logs
    assert (on_slurm / RESULTS / "sr" / SR_PARTITION[0] / SR_PARTITION[1] / "index.csv").is_file()

    # --- and gave what a local run gives --------------------------------------------------------
    predictions = sorted(
        p.relative_to(local / RESULTS / "predictions")
        for p in (local / RESULTS / "predictions").rglob("*.csv")
    )
    assert len(predictions) == N_PARTITIONS * N_VERSIONS
    for relative in predictions:
        from_slurm = on_slurm / RESULTS / "predictions" / relative
        assert (
            from_slurm.read_bytes() == (local / RESULTS / "predictions" / relative).read_bytes()
        ), f"predictions differ: {relative}"
    for table in ("analysed.csv", "manifest.json"):
        assert (on_slurm / RESULTS / "analysis" / table).read_bytes() == (
            local / RESULTS / "analysis" / table
        ).read_bytes(), table

    results_slurm = json.loads((on_slurm / RESULTS / "analysis" / "results.json").read_text())
    results_local = json.loads((local / RESULTS / "analysis" / "results.json").read_text())
    # what must agree, said first for a readable failure; then everything else
    for key in ("endpoints", "flow", "multiplicity", "overall_verdict", "comparison", "model"):
        assert results_slurm[key] == results_local[key], key
    assert _without(results_slurm, VOLATILE) == _without(results_local, VOLATILE)
    print(f"Slurm run {slurm_seconds:.0f} s ({len(slurm_ids)} Slurm jobs)")


def _slurm_job_logs(workdir: Path, lines: int = 40) -> str:
    """The tails of the Slurm jobs' own logs (``.snakemake/slurm_logs``), for failure messages."""
    parts = []
    for path in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[-5:]:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {path} ---\n" + "\n".join(tail))
    return "\n".join(parts)
