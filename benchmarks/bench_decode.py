"""Decoding colour JPEG echo exports: the toolkit's reader against a bare pydicom loop.

Target (issue 16): reading a colour JPEG baseline (YBR_FULL_422) export into the model's grey,
cropped frames (:func:`validation.ingest.pixels.decode_cine`) runs at >= 80% of the rate of a
bare ``pydicom.dcmread(path).pixel_array`` loop over the same files. The files are the demo's
studies re-encoded by dcmtk's ``dcmcjpeg`` (:mod:`validation.demo.exports`, form
``colour_jpeg_baseline``). Both loops are timed in the same process, alternately, and the best
of ``--repeats`` runs is kept (machines are noisy).

    .venv/bin/python -m benchmarks.bench_decode --studies 240
"""

from __future__ import annotations

from pathlib import Path

import pydicom

from benchmarks._common import best_of, demo_partitions, parser
from validation.demo.exports import write_form
from validation.ingest.pixels import decode_cine
from validation.ingest.rules import ImageRules
from validation.ingest.scan import scan_partition


def main() -> None:
    args = parser(__doc__.splitlines()[0], 240).parse_args()
    scratch, sites = demo_partitions(args.studies, scratch=args.scratch)
    sources = [  # the studies ingestion includes (the planted bad files left out)
        Path(row.path)
        for s in sites
        for p in s.partitions
        for row in scan_partition(p)
        if row.status == "included"
    ]
    out = scratch / "colour-jpeg"
    files = [
        path if path.exists() else write_form("colour_jpeg_baseline", source, path)
        for i, source in enumerate(sources)
        for path in [out / f"{i:05d}.dcm"]
    ]
    rules = ImageRules(min_frames=8)

    def bare() -> None:
        for path in files:
            _ = pydicom.dcmread(path).pixel_array

    def toolkit() -> None:
        for path in files:
            decode_cine(path.read_bytes(), rules)

    best = best_of({"bare": bare, "decode": toolkit}, args.repeats)
    ratio = best["bare"] / best["decode"]
    print(f"files: {len(files)} colour JPEG baseline (YBR_FULL_422) cine loops")
    print(
        f"bare dcmread().pixel_array: {len(files) / best['bare']:.0f} files/s "
        f"({1000 * best['bare'] / len(files):.2f} ms per study)"
    )
    print(
        f"mval decode_cine (grey, cropped): {len(files) / best['decode']:.0f} files/s "
        f"({1000 * best['decode'] / len(files):.2f} ms per study)"
    )
    print(f"ratio decode/bare: {ratio:.2f} (target >= 0.80) {'OK' if ratio >= 0.8 else 'MISSED'}")


if __name__ == "__main__":
    main()
