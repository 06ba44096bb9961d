#!/usr/bin/env bash
# Run every check the project has, from a fresh machine: set-up, lint, types,
# the test suite (benchmarks run once each as smoke tests), the whole suite
# again over a core built with AddressSanitizer + UndefinedBehaviorSanitizer,
# and the BLAKE3 tests on a build with every SIMD tier compiled out.
# Usage: scripts/test.sh [extra pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== lint and types" >&2
.venv/bin/ruff check src tests benchmarks scripts build_ext.py setup.py
.venv/bin/ruff format --check src tests benchmarks scripts build_ext.py setup.py
.venv/bin/mypy

echo "== test suite" >&2
.venv/bin/python -m pytest tests benchmarks --benchmark-disable --run-slow -q "$@"

echo "== the whole suite again, with the C core built under ASan + UBSan" >&2
bash scripts/sanitize.sh tests

echo "== BLAKE3 and chunk tests with the SIMD tiers compiled out" >&2
COLDSEAL_CFLAGS="-DCS_NO_SSE41 -DCS_NO_AVX2 -DCS_NO_AVX512" \
  bash scripts/sanitize.sh tests/core/test_blake3.py tests/core/test_chunk.py

# ---- hardening (issue 7): fuzzing, ThreadSanitizer ----------------------------
echo "== fuzzing: each libFuzzer (C core) and atheris (Python parsers) target for 3 s" >&2
fuzz_work=$(mktemp -d)
FUZZ_WORK=$fuzz_work bash scripts/fuzz.sh 3 && rm -rf "$fuzz_work"

echo "== ThreadSanitizer: the core's threaded paths (batch pool, per-thread contexts)" >&2
bash scripts/tsan.sh 3
