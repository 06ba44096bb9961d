"""``coldseal scrub`` throughput on one bucket against a local SeaweedFS.

* ``scrub``: archives/s and bytes/s of a decrypting scrub, 1 vs 2 workers,
  local thread pool vs a Dask LocalCluster (started outside the timing).
* ``scrub-keyless``: keyless (signatures + ciphertext leaves) vs decrypting,
  2 local workers.
* per-task overhead: each run records the verify seconds its records add up
  to; ``compare.py`` turns ``1 - verify / (wall x workers)`` into the share of
  worker time not spent verifying (scheduling, packing, idle).

The bucket is mostly small archives (the packing case) plus a few large ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from benchmarks import _corpus
from benchmarks._corpus import MIB
from coldseal.keys import Kek, PublicKey, SigningKey
from coldseal.publisher import publish
from coldseal.scrub import Options, scrub
from coldseal.scrub.engines import DaskEngine, LocalEngine
from coldseal.scrub.listing import group_archives, list_objects
from coldseal.sealer import seal

if TYPE_CHECKING:
    from tests import s3server

ROUNDS = 3
URL = "s3://coldseal/bench-fleet"


@pytest.fixture(scope="module")
def fleet(s3: s3server.S3Server, full_scale: bool, tmp_path_factory: pytest.TempPathFactory) -> int:
    """Publish the bucket; returns its sealed bytes."""
    k = _corpus.keys()
    signing, kek = SigningKey.load(k / "signing.key"), Kek.load(k / "data.kek")
    work = tmp_path_factory.mktemp("bench-fleet")
    small, large, large_size = (60, 4, 32 * MIB) if full_scale else (10, 1, 2 * MIB)
    total = 0
    for i in range(small + large):
        src = work / "src" / f"a{i:03d}"
        src.mkdir(parents=True)
        if i < small:
            (src / "handler.py").write_text(f"def handler(e, c):\n    return {i}\n" * (50 + 40 * i))
            (src / "vendor.bin").write_bytes(os.urandom(8_000 + 3_000 * i))
        else:
            (src / "layer.bin").write_bytes(os.urandom(large_size))
        sealed = work / "sealed" / src.name
        report = seal(src, sealed, signing_keys=[signing], kek=kek, name=src.name, version=1)
        total += report.sealed_bytes
        publish(sealed, f"{URL}/{src.name}")
    kek.close()
    return total


@pytest.fixture(scope="module")
def options() -> tuple[Options, Options]:
    k = _corpus.keys()
    trust = (PublicKey.load(k / "signing.pub").raw,)
    return Options(trust=trust, kek=str(k / "data.kek")), Options(trust=trust)


@pytest.fixture(scope="module")
def dask1(s3: s3server.S3Server) -> Iterator[DaskEngine]:
    engine = DaskEngine(workers=1)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def dask2(s3: s3server.S3Server) -> Iterator[DaskEngine]:
    engine = DaskEngine(workers=2)
    yield engine
    engine.close()


def _bench(benchmark, engine, options: Options, fleet: int) -> None:
    summaries = []

    def run() -> None:
        records = []
        summary = scrub(
            group_archives(list_objects(URL), "coldseal"), engine, options, records.append
        )
        assert summary.exit_code == 0
        assert all(r.status.value == "ok" for r in records)
        summaries.append(summary)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    best = min(summaries, key=lambda s: s.seconds)
    benchmark.extra_info.update(
        bytes=fleet,
        archives=best.archives,
        tasks=best.tasks,
        workers=best.workers,
        wall_seconds=round(best.seconds, 6),
        verify_seconds=round(best.verify_seconds, 6),
    )


@pytest.mark.benchmark(group="scrub")
def test_scrub_local_1_worker(benchmark, fleet, options) -> None:
    engine = LocalEngine(1)
    try:
        _bench(benchmark, engine, options[0], fleet)
    finally:
        engine.close()


@pytest.mark.benchmark(group="scrub")
def test_scrub_local_2_workers(benchmark, fleet, options) -> None:
    engine = LocalEngine(2)
    try:
        _bench(benchmark, engine, options[0], fleet)
    finally:
        engine.close()


@pytest.mark.benchmark(group="scrub")
def test_scrub_dask_1_worker(benchmark, fleet, options, dask1) -> None:
    _bench(benchmark, dask1, options[0], fleet)


@pytest.mark.benchmark(group="scrub")
def test_scrub_dask_2_workers(benchmark, fleet, options, dask2) -> None:
    _bench(benchmark, dask2, options[0], fleet)


@pytest.mark.benchmark(group="scrub-keyless")
def test_scrub_keyless_local_2_workers(benchmark, fleet, options) -> None:
    engine = LocalEngine(2)
    try:
        _bench(benchmark, engine, options[1], fleet)
    finally:
        engine.close()
