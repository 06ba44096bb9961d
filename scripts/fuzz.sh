#!/usr/bin/env bash
# Build the libFuzzer targets in native/fuzz/ with clang (libFuzzer + ASan +
# UBSan) and run each one for a bounded time from the checked-in seed corpus;
# then the atheris targets of tests/fuzz/fuzz_parsers.py (the Python parsers)
# the same way. Any crash, sanitizer report, uncaught exception or broken
# invariant fails the run and leaves the offending input in the work folder.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 10 (CI); docs/fuzzing.md records long runs.
#   TARGET              default: every native/fuzz/fuzz_*.c, then py_manifest,
#                       py_index, py_table, py_zip, py_keys
# Environment: FUZZ_WORK (default .fuzz-work) keeps the growing corpus, logs
# and crash inputs between runs; FUZZ_JOBS runs that many targets at once.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
shift || true
work=${FUZZ_WORK:-.fuzz-work}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 2; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in native/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
  targets+=(py_manifest py_index py_table py_zip py_keys)
fi
c_targets=()
for t in "${targets[@]}"; do [[ $t == py_* ]] || c_targets+=("$t"); done

# Build: the core's sources once into objects, then one binary per target.
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/coldseal/_version.py)
flags=(-std=c11 -O1 -g -Wall -Wextra -Werror -fno-omit-frame-pointer
       -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
       -D_POSIX_C_SOURCE=200809L "-DCS_VERSION=\"$version\"" -Inative)
mkdir -p "$work/obj" "$work/bin"
objs=()
for src in native/*.c native/blake3/*.c; do
  obj="$work/obj/$(basename "$src" .c).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ native/coldseal.h -nt "$obj" ]; then
    "$CC" "${flags[@]}" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
for t in "${c_targets[@]}"; do
  "$CC" "${flags[@]}" -fsanitize=fuzzer native/fuzz/"$t".c "${objs[@]}" \
    -lcrypto -lzstd -lpthread -o "$work/bin/$t"
done

# Run: each target from its seeds plus whatever earlier runs found.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The Python targets' seeds come from a freshly sealed example archive.
if [[ " ${targets[*]} " == *" py_"* ]] && [ ! -d "$work/pyseeds" ]; then
  .venv/bin/python tests/fuzz/fuzz_parsers.py --seeds "$work/pyseeds.tmp" >"$work/pyseeds.log" 2>&1 ||
    { cat "$work/pyseeds.log" >&2; exit 1; }
  mv "$work/pyseeds.tmp" "$work/pyseeds"
fi
run_one() {
  local t=$1 corpus="$work/corpus/$1" log="$work/$1.log" cmd seeds
  mkdir -p "$corpus" "$work/crashes"
  if [[ $t == py_* ]]; then
    cmd=(.venv/bin/python tests/fuzz/fuzz_parsers.py "${t#py_}")
    seeds="$work/pyseeds/${t#py_}"
  else
    cmd=("$work/bin/$t")
    seeds="native/fuzz/corpus/$t"
  fi
  if "${cmd[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/crashes/$t-" \
      "$corpus" "$seeds" >"$log" 2>&1; then
    local execs cov
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    echo "fuzz: $t ok: ${execs:-?} executions in ${seconds}s, ${cov:-cov: ?} edges" >&2
  else
    echo "fuzz: $t FAILED (log: $log)" >&2
    tail -n 30 "$log" >&2
    return 1
  fi
}
status=0
jobs=${FUZZ_JOBS:-1}
if [ "$jobs" -le 1 ]; then
  for t in "${targets[@]}"; do run_one "$t" || status=1; done
else
  pids=()
  for t in "${targets[@]}"; do
    run_one "$t" & pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
fi
exit $status
