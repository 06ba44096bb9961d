"""Phase 2, seal: a code tree sealed by coldseal next to ``zstd -3`` on the same bytes.

* ``seal-tree``: seal of a real site-packages tree vs ``zstd -3`` on the
  same logical stream with the same thread count (>= 0.8x its throughput).
  Sealing also encrypts, hashes and signs; zstd alone is the floor of what
  any compressing publisher pays.

With --benchmark-disable (the test run) a generated code tree stands in.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks import _corpus
from coldseal.sealer import seal

ROUNDS = 3


@pytest.fixture(scope="module")
def code_tree(full_scale: bool) -> Path:
    return _corpus.code_tree(full_scale)


@pytest.mark.benchmark(group="seal-tree")
def test_seal_tree_coldseal(
    benchmark, code_tree: Path, bench_keys, tmp_path_factory, cores: int
) -> None:
    _, kek, signer = bench_keys
    dest = tmp_path_factory.mktemp("s") / "sealed"
    stream = _corpus.logical_stream(code_tree)
    benchmark.extra_info.update(bytes=stream.stat().st_size, threads=cores)
    benchmark.pedantic(
        lambda: seal(code_tree, dest, signing_keys=[signer], kek=kek, name="t", threads=cores),
        setup=lambda: shutil.rmtree(dest, ignore_errors=True),
        rounds=ROUNDS,
        iterations=1,
    )


@pytest.mark.benchmark(group="seal-tree")
def test_seal_tree_zstd(benchmark, code_tree: Path, tmp_path_factory, cores: int) -> None:
    stream = _corpus.logical_stream(code_tree)
    out = tmp_path_factory.mktemp("z") / "out.zst"
    benchmark.extra_info.update(bytes=stream.stat().st_size, threads=cores)
    benchmark.pedantic(
        lambda: subprocess.run(
            ["zstd", "-3", f"-T{cores}", "-q", "-f", str(stream), "-o", str(out)], check=True
        ),
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )
