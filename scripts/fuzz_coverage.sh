#!/usr/bin/env bash
# Line and branch coverage of the C core reached by the fuzz corpora: builds
# each native/fuzz target with clang's source-based coverage, replays its
# corpus (checked-in seeds plus what runs of scripts/fuzz.sh found in the
# work folder) without fuzzing, and prints llvm-cov's per-file report of
# native/. Used to record the figures in docs/fuzzing.md.
# Usage: scripts/fuzz_coverage.sh   (FUZZ_WORK as for scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${FUZZ_WORK:-.fuzz-work}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/coldseal/_version.py)
flags=(-std=c11 -O1 -g -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping
       -D_POSIX_C_SOURCE=200809L "-DCS_VERSION=\"$version\"" -Inative)
profiles=()
objects=()
for src in native/fuzz/fuzz_*.c; do
  t=$(basename "$src" .c)
  clang "${flags[@]}" "$src" native/*.c native/blake3/*.c -lcrypto -lzstd -lpthread -o "$out/$t"
  corpora=("native/fuzz/corpus/$t")
  [ -d "$work/corpus/$t" ] && corpora+=("$work/corpus/$t")
  LLVM_PROFILE_FILE="$out/$t.profraw" "$out/$t" -runs=0 "${corpora[@]}" >/dev/null 2>&1
  profiles+=("$out/$t.profraw")
  objects+=(-object "$out/$t")
done
llvm-profdata merge -sparse "${profiles[@]}" -o "$out/all.profdata"
llvm-cov report "${objects[@]:1}" -instr-profile="$out/all.profdata" native/*.c native/blake3/*.c
