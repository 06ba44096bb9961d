#!/usr/bin/env bash
# Build the C core and tests/native/tsan_driver.c with ThreadSanitizer and
# run it: the batch pool, per-thread contexts over shared inputs, tree and
# hash work, sealing, and the BLAKE3 dispatcher's first use, all racing.
# Any TSan report, or a wrong result, fails the run. (What this covers and
# what it does not: docs/fuzzing.md, "ThreadSanitizer".)
# Usage: scripts/tsan.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${TSAN_CC:-clang}
command -v "$CC" >/dev/null || { echo "tsan: $CC not found (apt-get install clang)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/coldseal/_version.py)
"$CC" -std=c11 -O1 -g -Wall -Wextra -Werror -fno-omit-frame-pointer -fsanitize=thread \
  -D_POSIX_C_SOURCE=200809L "-DCS_VERSION=\"$version\"" -Inative \
  tests/native/tsan_driver.c native/*.c native/blake3/*.c \
  -lcrypto -lzstd -lpthread -o "$work/tsan_driver"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4" "$work/tsan_driver" "${1:-3}"
