"""Phase 6, import: ``import coldseal`` in a fresh interpreter next to its references.

* ``import``: cumulative ``-X importtime`` of ``coldseal`` (<= 25 ms), next
  to ``zipfile`` (what the unverified status quo imports) in the same run, and
  the bare interpreter start (``python -c pass``) that every cold start pays
  before either.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

ROUNDS = 7


def importtime_us(module: str) -> int:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    pattern = re.compile(rf"\|\s+(\d+)\s+\|\s+{re.escape(module)}$")
    return [int(m.group(1)) for line in result.stderr.splitlines() if (m := pattern.search(line))][
        -1
    ]


@pytest.mark.benchmark(group="import")
def test_import_time(benchmark) -> None:
    samples: list[int] = []
    benchmark.pedantic(
        lambda: samples.append(importtime_us("coldseal")), rounds=ROUNDS, iterations=1
    )
    benchmark.extra_info["import_us_min"] = min(samples)


@pytest.mark.benchmark(group="import")
def test_import_time_zipfile_reference(benchmark) -> None:
    samples: list[int] = []
    benchmark.pedantic(
        lambda: samples.append(importtime_us("zipfile")), rounds=ROUNDS, iterations=1
    )
    benchmark.extra_info["zipfile_import_us_min"] = min(samples)


@pytest.mark.benchmark(group="import")
def test_interpreter_start_reference(benchmark) -> None:
    benchmark.pedantic(
        lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
        rounds=ROUNDS,
        iterations=1,
    )
