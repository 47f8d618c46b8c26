"""Shared set-up of the benchmarks: a demo partition generated once into a scratch folder."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from validation.demo.generate import generate_test_cohort
from validation.sites import load_sites, site_files

ROOT = Path(__file__).resolve().parents[1]


def demo_partitions(n_studies: int, seed: int = 3, scratch: Path | None = None):
    """Generate the demo study (all partitions) into a scratch project; return its sites."""
    scratch = scratch or Path(tempfile.mkdtemp(prefix="mval-bench-"))
    if not (scratch / "sites").exists():
        shutil.copytree(ROOT / "sites", scratch / "sites")
    sites = load_sites(site_files(scratch / "sites"), root=scratch)
    if not (scratch / "data" / "demo" / "demo-summary.json").exists():
        generate_test_cohort(sites, n_studies=n_studies, seed=seed, out=scratch / "data" / "demo")
    return scratch, sites


def parser(description: str, default_studies: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--studies", type=int, default=default_studies, help="demo studies to make")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the best is kept)")
    p.add_argument("--scratch", type=Path, help="reuse this scratch folder (kept)")
    return p


def best_of(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Best wall time of each run over ``repeats`` rounds, the runs alternating in each round."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
