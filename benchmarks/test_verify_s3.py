"""Phase 4, full verify from S3 (a local SeaweedFS), timed next to its references.

* ``s3-extract``: ``verify --out`` of a real site-packages tree from S3 vs the
  unverified status quo, one GET of the same tree as a deflate zip plus
  ``zipfile`` extraction (<= 1.0x the time, aim <= 0.5x).
* ``s3-pipeline``: bytes/s of verify's ranged, verifying pipeline vs raw
  parallel ranged GETs of the same payload with the same client and
  concurrency (>= 0.8x); the verify report's network/CPU split gives the idle
  share (<= 10 %).
"""

from __future__ import annotations

import io
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor

import obstore
import pytest

from benchmarks import _corpus
from benchmarks._corpus import MIB
from coldseal.keys import Kek, PublicKey
from coldseal.publisher import publish
from coldseal.storage.s3 import make_store
from coldseal.verifier import verify

ROUNDS = 3


@pytest.fixture(scope="module")
def trust() -> tuple[PublicKey, Kek]:
    k = _corpus.keys()
    return PublicKey.load(k / "signing.pub"), Kek.load(k / "data.kek")


@pytest.fixture(scope="module")
def tree_on_s3(s3, full_scale: bool) -> tuple[str, str, int]:
    tree = _corpus.code_tree(full_scale)
    sealed = _corpus.sealed(tree)
    publish(sealed, "s3://coldseal/bench/tree")
    zipped = _corpus.deflate_zip(tree)
    obstore.put(make_store("coldseal", "bench", None), "tree.zip", zipped.read_bytes())
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
    return "s3://coldseal/bench/tree", "tree.zip", size


@pytest.mark.benchmark(group="s3-extract")
def test_s3_verify_out(benchmark, tree_on_s3, trust, tmp_path_factory, cores: int) -> None:
    url, _, size = tree_on_s3
    pub, kek = trust
    out = tmp_path_factory.mktemp("v") / "out"
    benchmark.extra_info["bytes"] = size
    benchmark.pedantic(
        lambda: verify(url, trust=[pub], kek=kek, out=out, threads=cores),
        setup=lambda: shutil.rmtree(out, ignore_errors=True),
        rounds=ROUNDS,
        iterations=1,
    )


@pytest.mark.benchmark(group="s3-extract")
def test_s3_get_zip_and_extract(benchmark, tree_on_s3, tmp_path_factory) -> None:
    _, zip_name, size = tree_on_s3
    out = tmp_path_factory.mktemp("z") / "out"
    store = make_store("coldseal", "bench", None)

    def status_quo() -> None:
        data = obstore.get(store, zip_name).bytes()
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            z.extractall(out)

    benchmark.extra_info["bytes"] = size
    benchmark.pedantic(
        status_quo,
        setup=lambda: shutil.rmtree(out, ignore_errors=True),
        rounds=ROUNDS,
        iterations=1,
    )


@pytest.fixture(scope="module")
def random_on_s3(s3, full_scale: bool) -> tuple[str, str, int]:
    sealed = _corpus.sealed(_corpus.random_tree((256 if full_scale else 16) * MIB))
    publish(sealed, "s3://coldseal/bench/random")
    payload = next(sealed.glob("payload-*"))
    return "s3://coldseal/bench/random", payload.name, payload.stat().st_size


@pytest.mark.benchmark(group="s3-pipeline")
def test_s3_verify_pipeline(benchmark, random_on_s3, trust, cores: int) -> None:
    url, _, size = random_on_s3
    pub, kek = trust
    reports = []

    def run() -> None:
        reports.append(verify(url, trust=[pub], kek=kek, threads=cores))

    benchmark.extra_info["bytes"] = size
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    best = min(reports, key=lambda r: sum(r.seconds.values()))
    wall = sum(best.seconds.values())
    io_ = best.io
    busy = max(io_["cpu_seconds"] / cores, io_["network_seconds"] / 8)
    benchmark.extra_info.update(
        s3_requests=io_["requests"],
        s3_network_seconds=io_["network_seconds"],
        s3_cpu_seconds=io_["cpu_seconds"],
        s3_wall_seconds=wall,
        s3_idle_share=max(0.0, 1 - busy / wall),
    )


@pytest.mark.benchmark(group="s3-pipeline")
def test_s3_raw_parallel_gets(benchmark, random_on_s3) -> None:
    url, payload, size = random_on_s3
    store = make_store("coldseal", "bench/random", None)
    step = 8 * MIB
    ranges = [(o, min(o + step, size)) for o in range(0, size, step)]

    def fetch(r: tuple[int, int]) -> int:
        return len(obstore.get_range(store, payload, start=r[0], end=r[1]))

    def run() -> None:
        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(fetch, ranges)) == size

    benchmark.extra_info["bytes"] = size
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert url
