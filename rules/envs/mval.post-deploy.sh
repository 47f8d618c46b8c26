#!/usr/bin/env bash
# Run by Snakemake inside the new conda environment: install this checkout's mval package.
set -euo pipefail
python -m pip install --no-deps -e "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
