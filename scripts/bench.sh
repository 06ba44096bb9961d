#!/usr/bin/env bash
# Run the benchmarks for real (1 GiB archives, a site-packages tree) and print
# the ratios each issue targets, all measured side by side in this one run.
# Usage: scripts/bench.sh [pytest args, e.g. -k verify]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p reports
.venv/bin/python -m pytest benchmarks -q -p no:randomly --benchmark-enable \
  --benchmark-json=reports/bench.json --benchmark-columns=min,median,max "$@"
.venv/bin/python benchmarks/compare.py reports/bench.json --json reports/ratios.json
