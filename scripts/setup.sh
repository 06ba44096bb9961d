#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh Debian/Ubuntu machine: system
# libraries the C core links against, a virtualenv in .venv, and coldseal
# installed into it (editable) with its test, dev and bench extras.
# Usage: scripts/setup.sh        (re-running is cheap: steps already done are skipped)
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for pkg in libssl-dev libzstd-dev gcc zstd unzip clang; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_pkgs[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.coldseal-installed
inputs=$( (echo "${COLDSEAL_CFLAGS:-}"; cat pyproject.toml build_ext.py native/*.h native/*.c native/*/*.[ch] src/coldseal/_version.py 2>/dev/null) | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  echo "setup: installing coldseal into .venv (log: .venv/setup.log)" >&2
  if ! { .venv/bin/python -m pip install -q --upgrade pip "setuptools>=77" wheel cffi &&
         .venv/bin/python -m pip install -q --no-build-isolation -e ".[test,dev,bench,dask,fuzz]"; } \
       >.venv/setup.log 2>&1; then
    tail -n 40 .venv/setup.log >&2
    echo "setup: installing coldseal failed; see .venv/setup.log" >&2
    exit 1
  fi
  echo "$inputs" > "$stamp"
fi
