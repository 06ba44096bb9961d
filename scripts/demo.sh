#!/usr/bin/env bash
# The main job on the built-in example: create keys, seal the bundled
# hello_app, verify and extract it, show that a tampered copy is refused,
# then run the core's self-check (throughput on this machine).
# Usage: scripts/demo.sh     (all set-up included; work happens in a temp folder)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cs=.venv/bin/coldseal
app=$(.venv/bin/python -c "from coldseal.examples import HELLO_APP; print(HELLO_APP)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== keygen"; $cs keygen "$work/keys"
echo "== seal"; $cs seal "$app" "$work/sealed" --signing-key "$work/keys/signing.key" \
  --kek "$work/keys/data.kek" --name hello_app --version 1
echo "== inspect"; $cs inspect "$work/sealed"
echo "== verify --out"
$cs verify "$work/sealed" --trust "$work/keys/signing.pub" --kek "$work/keys/data.kek" \
  --name hello_app --state "$work/trust.json" --out "$work/task"
PYTHONPATH="$work/task" .venv/bin/python -c \
  "from handler import handler; print('handler says:', handler({'name': 'cold start'}, None)['body'])"

echo "== a tampered copy is refused (exit 1, nothing extracted)"
cp -r "$work/sealed" "$work/tampered"
payload=$(ls "$work/tampered"/payload-*.bin)
printf '\x01' | dd of="$payload" bs=1 seek=100 conv=notrunc status=none
set +e
$cs verify "$work/tampered" --trust "$work/keys/signing.pub" --kek "$work/keys/data.kek" \
  --out "$work/task2"
code=$?
set -e
echo "exit status $code; extracted: $([ -e "$work/task2" ] && echo yes || echo no)"
[ "$code" -eq 1 ] && [ ! -e "$work/task2" ]

echo "== self-check of the C core"
$cs selfcheck --size 64M
