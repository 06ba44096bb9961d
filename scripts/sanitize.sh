#!/usr/bin/env bash
# Build the C core with AddressSanitizer + UndefinedBehaviorSanitizer into a
# throw-away copy of the package and run the given pytest arguments against
# it (default: the core's tests). Any sanitizer report aborts the run.
# Usage: scripts/sanitize.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
env -u COLDSEAL_CFLAGS -u COLDSEAL_SANITIZE bash scripts/setup.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r src/coldseal "$work/coldseal"
rm -f "$work"/coldseal/_core*.so
so=$(COLDSEAL_SANITIZE=address,undefined .venv/bin/python build_ext.py "$work/build" | tail -n 1)
cp "$so" "$work/coldseal/"
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
export LD_PRELOAD="$asan $ubsan"
# Python's own allocations are not ours to judge: leak checks off; every
# other report is fatal.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONPATH="$work"
export PYTHONMALLOC=malloc
if [ $# -eq 0 ]; then set -- tests/core; fi
.venv/bin/python -c "import coldseal._core as c, sys; assert c.__file__.startswith(sys.argv[1]), c.__file__" "$work"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
