"""Header scanning speed: `mval ingest`'s per-file checks against a bare pydicom loop.

Target (issue 3): the ingest scan runs at >= 80% of the rate of a bare
``pydicom.dcmread(path, stop_before_pixels=True)`` loop over the same files. Both are timed in
the same process, alternately, and the best of ``--repeats`` runs is kept (machines are noisy).

    .venv/bin/python -m benchmarks.bench_ingest --studies 1200
"""

from __future__ import annotations

import pydicom

from benchmarks._common import best_of, demo_partitions, parser
from validation.ingest.scan import iter_files, scan_partition


def main() -> None:
    args = parser(__doc__.splitlines()[0], 1200).parse_args()
    _, sites = demo_partitions(args.studies, scratch=args.scratch)
    partitions = [p for s in sites for p in s.partitions]
    files = [f for p in partitions for f in iter_files(p.source_path)]

    def bare() -> None:
        for path in files:
            try:
                pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # the bare loop skips what it cannot read
                pass

    def toolkit() -> None:
        for partition in partitions:
            scan_partition(partition)

    best = best_of({"bare": bare, "ingest": toolkit}, args.repeats)
    ratio = best["bare"] / best["ingest"]
    print(f"files: {len(files)}")
    print(f"bare dcmread(stop_before_pixels): {len(files) / best['bare']:.0f} files/s")
    print(f"mval ingest scan:                 {len(files) / best['ingest']:.0f} files/s")
    print(f"ratio ingest/bare: {ratio:.2f} (target >= 0.80) {'OK' if ratio >= 0.8 else 'MISSED'}")


if __name__ == "__main__":
    main()
