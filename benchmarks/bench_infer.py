"""Inference speed: `mval infer` end to end against a bare batched forward pass.

Target (issue 3): end-to-end inference (read and hash each file, decode, resample, forward,
write the predictions table) runs at >= 80% of the rate of a bare batched forward pass of the
locked model over the same, already preprocessed tensors. Both run in this process with the same
threads and batch size, alternately; the best of ``--repeats`` is kept.

    .venv/bin/python -m benchmarks.bench_infer --studies 600 --threads 1
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from benchmarks._common import ROOT, best_of, demo_partitions, parser
from validation.ingest.dicom import read_frames
from validation.ingest.scan import ingest_partition
from validation.model.infer import run_inference
from validation.model.preprocess import preprocess_frames
from validation.model.registry import load_locked_model


def main() -> None:
    p = parser(__doc__.splitlines()[0], 600)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the rule's threads)")
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args()
    _, sites = demo_partitions(args.studies, scratch=args.scratch)
    torch.set_num_threads(args.threads)
    model = load_locked_model(ROOT / "models" / "ivsd-cnn" / "1.0.0")
    work = Path(tempfile.mkdtemp(prefix="mval-bench-infer-"))
    accounting = []
    for partition in (p for s in sites for p in s.partitions):
        out = work / partition.site / partition.vendor
        ingest_partition(partition, out)
        accounting.append(out / "accounting.csv")

    # the bare forward pass sees exactly the tensors inference makes
    import pandas as pd

    paths = [
        row.path
        for table in (pd.read_csv(a, dtype=str, keep_default_na=False) for a in accounting)
        for row in table[table["status"] == "included"].itertuples()
    ]
    prep = model.card.preprocessing
    tensors = [preprocess_frames(*read_frames(path), prep) for path in paths]
    batches = [
        torch.stack(tensors[i : i + args.batch_size])
        for i in range(0, len(tensors), args.batch_size)
    ]

    def bare() -> None:
        with torch.inference_mode():
            for batch in batches:
                model.module(batch)

    def end_to_end() -> None:
        for table in accounting:
            run_inference(
                model, table, work / "pred.csv", batch_size=args.batch_size, threads=args.threads
            )

    best = best_of({"bare": bare, "infer": end_to_end}, args.repeats)
    n = len(paths)
    ratio = best["bare"] / best["infer"]
    print(f"studies: {n}, batch size {args.batch_size}, torch threads {args.threads}")
    print(f"bare batched forward:  {n / best['bare']:.1f} studies/s")
    print(f"mval infer end to end: {n / best['infer']:.1f} studies/s")
    print(f"ratio infer/bare: {ratio:.2f} (target >= 0.80) {'OK' if ratio >= 0.8 else 'MISSED'}")


if __name__ == "__main__":
    main()
