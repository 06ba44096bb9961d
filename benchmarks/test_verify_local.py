"""Phase 3, full verify from local disk, timed next to its references in one run.

Groups and the ratios compare.py derives:

* ``verify-1g``: verify (no --out) of a 1 GiB incompressible archive on all
  cores vs L = cores / (1/AES + 1/BLAKE3) from test_core.py (>= 0.85), vs a
  naive one-thread Python verify (cryptography + blake3 per chunk) (>= 2.5),
  and vs the keyless verify (hash only) of the same archive.
* ``extract-tree``: ``coldseal verify --out`` of a real site-packages tree vs
  ``unzip`` of the same tree as a deflate zip (<= 1.0x the time).
* ``rss``: peak RSS verifying 1 GiB vs 128 MiB (<= 1.2x).

With --benchmark-disable (the test run) inputs shrink so the file is a smoke test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import blake3
import pytest
import pyzstd
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from benchmarks import _corpus
from benchmarks._corpus import MIB
from coldseal.bench.corpus import tree_bytes
from coldseal.bench.measure import Keys, run_child
from coldseal.storage.local import LocalStorage
from coldseal.verifier import load_layout, load_manifest, verify

ROUNDS = 3
CLI = str(Path(sys.executable).with_name("coldseal"))


def run(benchmark, fn, nbytes: int, setup=None, rounds: int = ROUNDS, **info: object) -> None:
    benchmark.extra_info["bytes"] = nbytes
    benchmark.extra_info.update(info)
    if setup is None:
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    else:
        benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)


@pytest.fixture(scope="module")
def big_archive(full_scale: bool) -> Path:
    return _corpus.sealed(_corpus.random_tree((1024 if full_scale else 32) * MIB))


@pytest.mark.benchmark(group="verify-1g")
def test_verify_all_cores(benchmark, big_archive: Path, bench_keys, cores: int) -> None:
    pub, kek, _ = bench_keys
    size = load_manifest(LocalStorage(big_archive)).manifest.plain_size
    run(
        benchmark,
        lambda: verify(big_archive, trust=[pub], kek=kek, threads=cores),
        size,
        threads=cores,
    )


@pytest.mark.benchmark(group="verify-1g")
def test_verify_hash_only(benchmark, big_archive: Path, bench_keys, cores: int) -> None:
    pub, _, _ = bench_keys
    size = load_manifest(LocalStorage(big_archive)).manifest.plain_size
    run(
        benchmark,
        lambda: verify(big_archive, trust=[pub], kek=None, threads=cores),
        size,
        threads=cores,
    )


@pytest.mark.benchmark(group="verify-1g")
def test_verify_naive_python(benchmark, big_archive: Path, bench_keys) -> None:
    pub, kek, _ = bench_keys
    storage = LocalStorage(big_archive)
    signed = load_manifest(storage)
    m = signed.manifest
    assert signed.trusted_signers([pub])
    spans, leaves = load_layout(storage, m)
    dek = kek.unwrap(m.dek.wrapped, m.archive_id)
    aesgcm = AESGCM(bytes(dek.byte(i) for i in range(len(dek))))
    path = big_archive / m.payload

    def naive() -> None:
        with path.open("rb") as f:
            for i, (offset, length) in enumerate(spans):
                f.seek(offset)
                sealed = f.read(length)
                leaf = blake3.blake3(
                    sealed + i.to_bytes(8, "little"), derive_key_context="coldseal v1 chunk leaf"
                ).digest()
                assert leaf == leaves[32 * i : 32 * i + 32]
                plain_len = m.chunk_plain_len(i)
                aad = m.archive_id + i.to_bytes(8, "little") + plain_len.to_bytes(8, "little")
                body = aesgcm.decrypt(i.to_bytes(8, "little") + bytes(4), sealed, aad)
                if len(body) != plain_len:  # only the index chunk compresses here
                    body = pyzstd.decompress(body)
                assert len(body) == plain_len

    run(benchmark, naive, m.plain_size, rounds=1 if m.plain_size > 256 * MIB else ROUNDS, threads=1)


@pytest.fixture(scope="module")
def code_tree(full_scale: bool) -> Path:
    return _corpus.code_tree(full_scale)


@pytest.mark.benchmark(group="extract-tree")
def test_extract_tree_coldseal_cli(
    benchmark, code_tree: Path, tmp_path_factory, cores: int
) -> None:
    sealed = _corpus.sealed(code_tree)
    k = _corpus.keys()
    out = tmp_path_factory.mktemp("x") / "out"
    size = load_manifest(LocalStorage(sealed)).manifest.plain_size

    def setup() -> None:
        shutil.rmtree(out, ignore_errors=True)

    def extract() -> None:
        subprocess.run(
            [
                CLI,
                "verify",
                str(sealed),
                "--trust",
                str(k / "signing.pub"),
                "--kek",
                str(k / "data.kek"),
                "--out",
                str(out),
            ],
            check=True,
        )

    run(benchmark, extract, size, setup=setup, threads=cores)


@pytest.mark.benchmark(group="extract-tree")
def test_extract_tree_unzip(benchmark, code_tree: Path, tmp_path_factory) -> None:
    zipped = _corpus.deflate_zip(code_tree)
    out = tmp_path_factory.mktemp("u") / "out"
    size = tree_bytes(code_tree)

    def setup() -> None:
        shutil.rmtree(out, ignore_errors=True)

    run(
        benchmark,
        lambda: subprocess.run(["unzip", "-q", str(zipped), "-d", str(out)], check=True),
        size,
        setup=setup,
    )


@pytest.mark.benchmark(group="rss")
def test_peak_rss_big_vs_small(benchmark, full_scale: bool, big_archive: Path, cores: int) -> None:
    # Each figure is the verifying child's own VmHWM (coldseal.bench.measure.run_child):
    # wait4's ru_maxrss would include this pytest process's high-water mark.
    small = _corpus.sealed(_corpus.random_tree((128 if full_scale else 8) * MIB))
    keys = Keys.load(_corpus.keys())
    rss: dict[str, float] = {}

    def measure() -> None:
        for label, archive in (("small", small), ("big", big_archive)):
            child = run_child("verify", str(archive), keys, threads=cores, rounds=1)
            rss[label] = child.peak_rss_mib

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info["rss_small_kib"] = rss["small"] * 1024
    benchmark.extra_info["rss_big_kib"] = rss["big"] * 1024
