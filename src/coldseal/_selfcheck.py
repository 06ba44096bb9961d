"""The self-check: seal and open chunks of the bundled sample, report throughput.

It exercises the whole C core (zstd, AES-256-GCM, BLAKE3 leaves, the Merkle
root) on this machine's fastest BLAKE3 tier and every granted core, checks
that every chunk opens back to its plaintext and that a flipped bit is
refused, and reports bytes per second. It needs no keys or files.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from coldseal import _native
from coldseal._cpus import granted_cpus
from coldseal._parallel import ChunkOpener, ThreadContexts, ordered_map
from coldseal.errors import IntegrityError
from coldseal.examples import HELLO_APP

CHUNK = 1 << 20


def sample_stream(size: int, seed: int = 2026) -> bytes:
    """``size`` bytes: the sample app's files with numbered variations, half random.

    Half of the chunks are text-like (they compress), half incompressible, the
    mix a deployment zip with a few binaries in it tends to have.
    """
    files = sorted(p for p in HELLO_APP.rglob("*") if p.is_file())
    text = b"".join(p.read_bytes() for p in files)
    rng = random.Random(seed)  # noqa: S311 - reproducible filler, not key material
    out = bytearray()
    chunk_no = 0
    while len(out) < size:
        if chunk_no % 2 == 0:
            piece = bytearray()
            while len(piece) < CHUNK:
                piece += text.replace(b"name", b"name%d" % rng.randrange(1 << 30))
            out += piece[:CHUNK]
        else:
            out += rng.randbytes(CHUNK)
        chunk_no += 1
    return bytes(out[:size])


def run(size: int = 64 << 20, threads: int | None = None) -> dict[str, Any]:
    """Seal and open ``size`` bytes in 1 MiB chunks; return the measurements."""
    threads = threads or granted_cpus()
    data = sample_stream(size)
    view = memoryview(data)
    dek, archive_id = os.urandom(_native.KEY_LEN), os.urandom(_native.ARCHIVE_ID_LEN)
    spans = [(i, off, min(CHUNK, size - off)) for i, off in enumerate(range(0, size, CHUNK))]

    contexts = ThreadContexts(dek, archive_id, CHUNK)

    def seal(span: tuple[int, int, int]) -> tuple[bytes, bytes]:
        index, off, length = span
        return contexts.get().seal(index, view[off : off + length])

    start = time.perf_counter()
    sealed = list(ordered_map(seal, spans, threads, 2 * threads + 2))
    contexts.close()
    seal_s = time.perf_counter() - start
    leaves = b"".join(leaf for _, leaf in sealed)
    root = _native.merkle_root(leaves)

    out = bytearray(size)
    out_view = memoryview(out)
    jobs = [
        _native.OpenJob(index, body, leaf, out_view[off : off + length])
        for (index, off, length), (body, leaf) in zip(spans, sealed, strict=False)
    ]
    start = time.perf_counter()
    with ChunkOpener(dek, archive_id, CHUNK, threads) as opener:
        opener.open_all(jobs)
    open_s = time.perf_counter() - start
    if out != data:
        raise IntegrityError("self-check: opened bytes differ from the sealed ones")

    # A single flipped bit anywhere must be refused, and leave zeros behind.
    tampered = bytearray(sealed[0][0])
    tampered[len(tampered) // 2] ^= 0x10
    probe = bytearray(b"\xff" * spans[0][2])
    try:
        _native.ChunkContext(dek, archive_id, CHUNK).open_into(0, tampered, sealed[0][1], probe)
    except IntegrityError:
        refused = not any(probe)
    else:
        refused = False
    if not refused:
        raise IntegrityError("self-check: a tampered chunk was not refused")

    sealed_bytes = sum(len(body) for body, _ in sealed)
    return {
        "bytes": size,
        "chunks": len(spans),
        "chunk_size": CHUNK,
        "sealed_bytes": sealed_bytes,
        "threads": threads,
        "blake3_tier": _native.TIER_NAMES[_native.b3_best_tier()],
        "seal_seconds": seal_s,
        "open_seconds": open_s,
        "seal_mib_per_s": size / seal_s / (1 << 20),
        "open_mib_per_s": size / open_s / (1 << 20),
        "merkle_root": root.hex(),
        "tamper_refused": refused,
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a few human-readable lines."""
    return "\n".join(
        [
            (
                f"self-check passed: {report['chunks']} chunks of {report['chunk_size'] >> 10} KiB "
                f"({report['bytes'] / (1 << 20):.0f} MiB, sealed to "
                f"{report['sealed_bytes'] / report['bytes']:.0%})"
            ),
            f"  BLAKE3 tier {report['blake3_tier']}, {report['threads']} thread(s)",
            f"  seal (zstd + AES-256-GCM + BLAKE3):  {report['seal_mib_per_s']:8.0f} MiB/s",
            f"  open (BLAKE3 + AES-256-GCM + zstd):  {report['open_mib_per_s']:8.0f} MiB/s",
            f"  Merkle root {report['merkle_root']}",
            "  a flipped bit was refused and left no plaintext behind",
        ]
    )
