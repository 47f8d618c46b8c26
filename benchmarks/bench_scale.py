"""Scale: ingest and infer N studies in one partition on this machine, in bounded memory.

Target (issue 3): 50,000 studies ingest and infer on a 2-core machine without holding them all
in memory. This generates one site x vendor partition of ``--studies`` demo studies (streamed to
disk, about 190 kB each: 50,000 need about 10 GB and 20 minutes to make), then runs the same
`mval ingest` and `mval infer` commands the workflow runs, each in its own process, and prints
their wall time, rate and peak resident memory. Peak memory that stays flat as N grows is the
evidence that nothing holds the whole partition.

    .venv/bin/python -m benchmarks.bench_scale --studies 50000 --scratch /tmp/mval-50k
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT

SITE = """id: s01
name: Scale test site
partitions:
  - vendor: GE
    source: {kind: folder, path: data/test/s01/GE}
reference: {path: data/reference/s01.csv}
"""


def _run(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run a stage in a child process; return (seconds, peak RSS of that child in MiB)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(command)} failed with status {status}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=5000)
    p.add_argument("--scratch", type=Path)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="mval-scale-"))
    (scratch / "sites").mkdir(parents=True, exist_ok=True)
    (scratch / "sites" / "s01.yaml").write_text(SITE)
    mval = str(Path(sys.executable).parent / "mval")
    marker = scratch / "data" / "demo-summary.json"
    if not marker.exists():
        seconds, rss = _run(
            [
                mval,
                "-q",
                "demo",
                "generate",
                "--sites",
                "sites",
                "--out",
                "data",
                "--n-studies",
                str(args.studies),
                "--seed",
                "9",
            ],
            scratch,
        )
        print(f"generate: {args.studies} studies in {seconds:.0f} s (peak RSS {rss:.0f} MiB)")
    out = scratch / "results"
    # the workflow runs every stage from the project root: give the scratch project the
    # protocol (with its lock) and the model, so paths resolve as they do there
    if not (scratch / "protocols").exists():
        shutil.copytree(ROOT / "protocols", scratch / "protocols")
    if not (scratch / "models").exists():
        (scratch / "models").symlink_to(ROOT / "models", target_is_directory=True)
    seconds, rss = _run(
        [
            mval,
            "-q",
            "ingest",
            "--site",
            "sites/s01.yaml",
            "--vendor",
            "GE",
            "--out",
            str(out / "ingest"),
        ],
        scratch,
    )
    print(
        f"ingest:   {args.studies / seconds:.0f} files/s, {seconds:.1f} s, peak RSS {rss:.0f} MiB"
    )
    seconds, rss = _run(
        [
            mval,
            "-q",
            "infer",
            "--protocol",
            "protocols/demo.yaml",
            "--accounting",
            str(out / "ingest" / "accounting.csv"),
            "--out",
            str(out / "predictions.csv"),
            "--threads",
            str(args.threads),
        ],
        scratch,
    )
    print(
        f"infer:    {args.studies / seconds:.0f} studies/s, {seconds:.1f} s, peak RSS {rss:.0f} MiB"
    )
    print(f"self:     peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
