"""Phase 1, core primitives: each timed next to its reference in the same session.

Groups and the ratio compare.py derives from them:

* ``blake3``: C BLAKE3 vs the ``blake3`` package, one thread, 64 MiB (>= 1.0).
* ``aes-gcm-open``: the core's AES-GCM open vs a bare EVP loop on the same
  buffers (>= 0.95).
* ``open-chunks``: cs_open_chunk on 1 MiB incompressible chunks on all cores
  (Python threads, and the core's pthread batch) vs
  L = cores / (1/AES + 1/BLAKE3) from the two one-thread rates above (>= 0.90),
  and vs a naive one-thread Python loop (cryptography + blake3) (>= 2.5).
"""

from __future__ import annotations

import blake3
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from benchmarks._corpus import CACHE, MIB, SealedArchive
from coldseal import _native
from coldseal._parallel import ChunkOpener
from coldseal.bench.limits import load_evp

ROUNDS = 7


def run(benchmark, fn, nbytes: int, **info: object) -> None:
    benchmark.extra_info["bytes"] = nbytes
    benchmark.extra_info.update(info)
    benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="blake3")
def test_blake3_coldseal(benchmark, random_64mib: bytes) -> None:
    expected = blake3.blake3(random_64mib).digest()
    run(
        benchmark,
        lambda: _native.b3_hash(random_64mib),
        len(random_64mib),
        tier=_native.TIER_NAMES[_native.b3_best_tier()],
    )
    assert _native.b3_hash(random_64mib) == expected


@pytest.mark.benchmark(group="blake3")
def test_blake3_reference(benchmark, random_64mib: bytes) -> None:
    run(benchmark, lambda: blake3.blake3(random_64mib).digest(), len(random_64mib))


@pytest.mark.benchmark(group="aes-gcm-open")
def test_aes_open_coldseal(benchmark, sealed_archive: SealedArchive) -> None:
    a = sealed_archive
    # AES-GCM alone over the same messages the bare loop opens.
    messages = [
        AESGCM(a.dek).encrypt(
            i.to_bytes(8, "little") + bytes(4), a.plain[i * MIB : (i + 1) * MIB], a.aad(i)
        )
        for i in range(len(a.sealed))
    ]
    ctx = _native.AeadContext(a.dek)
    out = memoryview(a.out)
    nonces = [i.to_bytes(8, "little") + bytes(4) for i in range(len(messages))]
    aads = [a.aad(i) for i in range(len(messages))]

    def open_all() -> None:
        for i, msg in enumerate(messages):
            ctx.open_into(nonces[i], aads[i], msg, out[i * MIB : (i + 1) * MIB])

    run(benchmark, open_all, len(a.plain))
    assert a.out == a.plain


@pytest.mark.benchmark(group="aes-gcm-open")
def test_aes_open_bare_evp(benchmark, sealed_archive: SealedArchive) -> None:
    a = sealed_archive
    evp = load_evp(CACHE)
    assert evp is not None, "the bare EVP loop needs a C compiler and OpenSSL headers"
    joined = b"".join(
        AESGCM(a.dek).encrypt(
            i.to_bytes(8, "little") + bytes(4), a.plain[i * MIB : (i + 1) * MIB], a.aad(i)
        )
        for i in range(len(a.sealed))
    )
    aads = b"".join(a.aad(i) for i in range(len(a.sealed)))
    out = bytearray(len(a.plain))
    n = len(a.sealed)

    def open_all() -> None:
        failures = evp.lib.evp_gcm_open_loop(
            a.dek, evp.ffi.from_buffer(joined), MIB, n, aads, 32, evp.ffi.from_buffer(out)
        )
        assert failures == 0

    run(benchmark, open_all, len(a.plain))
    assert out == a.plain


@pytest.mark.benchmark(group="open-chunks")
def test_open_chunks_python_threads(benchmark, sealed_archive: SealedArchive, cores: int) -> None:
    a = sealed_archive
    jobs = a.jobs()
    with ChunkOpener(a.dek, a.archive_id, a.chunk, cores) as opener:
        run(benchmark, lambda: opener.open_all(jobs), len(a.plain), threads=cores)
    assert a.out == a.plain


@pytest.mark.benchmark(group="open-chunks")
def test_open_chunks_c_pool(benchmark, sealed_archive: SealedArchive, cores: int) -> None:
    a = sealed_archive
    jobs = a.jobs()
    run(
        benchmark,
        lambda: _native.open_chunks(a.dek, a.archive_id, a.chunk, jobs, cores),
        len(a.plain),
        threads=cores,
    )
    assert a.out == a.plain


@pytest.mark.benchmark(group="open-chunks")
def test_open_chunk_one_thread(benchmark, sealed_archive: SealedArchive) -> None:
    a = sealed_archive
    jobs = a.jobs()
    ctx = _native.ChunkContext(a.dek, a.archive_id, a.chunk)

    def open_all() -> None:
        for job in jobs:
            ctx.open_into(job.index, job.sealed, job.leaf, job.out)

    run(benchmark, open_all, len(a.plain), threads=1)
    assert a.out == a.plain


@pytest.mark.benchmark(group="open-chunks")
def test_open_chunks_naive_python(benchmark, sealed_archive: SealedArchive) -> None:
    a = sealed_archive
    aesgcm = AESGCM(a.dek)

    def open_all() -> None:
        for i, (body, leaf) in enumerate(zip(a.sealed, a.leaves, strict=False)):
            got = blake3.blake3(
                body + i.to_bytes(8, "little"), derive_key_context="coldseal v1 chunk leaf"
            ).digest()
            assert got == leaf
            plain = aesgcm.decrypt(i.to_bytes(8, "little") + bytes(4), body, a.aad(i))
            a.out[i * MIB : (i + 1) * MIB] = plain

    run(benchmark, open_all, len(a.plain), threads=1)
    assert a.out == a.plain
