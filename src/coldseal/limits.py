"""Memory limits: what verifying an archive will hold, computed before anything is allocated.

Every length in a manifest is bounded by the format (docs/FORMAT.md, section
6), but within those bounds a signed archive still decides how much memory
verification needs: its chunk table and Merkle tree grow with the chunk
count, its file index with the number of paths, and every buffer in flight
with its chunk size. ``fit_threads`` adds those up from the signed manifest
before the payload is touched and, if they do not fit in the configured
budget, first runs fewer worker threads (each one keeps buffers in flight)
and refuses the archive only if even one thread would not fit. The
estimates are upper bounds of what coldseal itself allocates; the
interpreter and its libraries come on top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from coldseal.errors import IntegrityError, UsageError

if TYPE_CHECKING:
    from coldseal.format.manifest import Manifest

DEFAULT_MAX_MEMORY: Final = 1 << 30
# Python objects per chunk while its span is held: a (start, length) tuple
# and its ints, plus the unpacked table entry (measured at ~150 bytes).
PER_CHUNK_OBJECTS: Final = 192
# Decoded file-index entries as Python objects, per byte of encoded index
# (the worst case is one-byte paths: 24 bytes encoded, ~350 bytes decoded).
INDEX_OBJECT_FACTOR: Final = 16
# A chunk context's fixed part in C: AES and zstd contexts (zstd's
# decompression context is ~95 KiB), besides its scratch of one chunk.
CONTEXT_BYTES: Final = 256 << 10


def layout_bytes(m: Manifest) -> int:
    """Chunk table and tree as read, the leaves copied out, the tree recomputed, the spans."""
    from coldseal._native import HASH_LEN, merkle_tree_len  # noqa: PLC0415 - keeps the CLI light

    n = m.chunk_count
    tree = HASH_LEN * merkle_tree_len(n)
    return 8 * n + tree + HASH_LEN * n + tree + HASH_LEN * ((n + 1) // 2) + PER_CHUNK_OBJECTS * n


def index_bytes(m: Manifest) -> int:
    """The file index's chunks as read, and its entries decoded."""
    return (INDEX_OBJECT_FACTOR + 1) * m.index_size + 2 * m.chunk_size


# Plaintext one coalesced read may expand to, as a multiple of its size:
# code compresses 3-4x, so ordinary archives keep their full-size reads
# (measured: with a cap of 1x, S3 extraction of the benchmark's code tree
# took a median 6.0 s against 4.2 s, as reads shrank to a third).
PLAIN_EXPANSION: Final = 4


def group_plain_limit(request_size: int, chunk_size: int) -> int:
    """Most plaintext bytes one group of chunks may hold when it is kept for extraction.

    Without it a run of highly compressible chunks coalesced into one small
    ranged read would expand to (chunks in the run) x (chunk size) at once.
    """
    return PLAIN_EXPANSION * max(request_size, chunk_size)


def window_bytes(m: Manifest, threads: int, request_size: int, io_workers: int) -> int:
    """Buffers in flight: sealed reads and kept plaintext per group, scratch per thread.

    Local reads: 2 x threads + 2 groups in flight, each read and opened by one
    worker. Remote: io_workers + 2 groups fetched (sealed bytes only), and
    threads + 2 being opened or waiting for the consumer with their plaintext.
    """
    from coldseal._native import TAG_LEN  # noqa: PLC0415 - keeps the CLI light

    sealed = max(request_size, m.chunk_size + TAG_LEN)
    plain = group_plain_limit(request_size, m.chunk_size)
    if io_workers == 0:
        groups = (2 * threads + 2) * (sealed + plain)
    else:
        groups = (io_workers + 2) * sealed + (threads + 2) * (sealed + plain)
    return groups + threads * (2 * m.chunk_size + CONTEXT_BYTES)


def fit_threads(
    m: Manifest, threads: int, *, request_size: int, io_workers: int, max_memory: int
) -> int:
    """The most worker threads (at most ``threads``) whose buffers fit in ``max_memory``.

    Raises IntegrityError when the archive does not fit even with one thread.
    """
    if max_memory <= 0:
        raise UsageError("the memory limit must be positive")
    fixed = layout_bytes(m) + index_bytes(m)
    for t in range(threads, 0, -1):
        if fixed + window_bytes(m, t, request_size, io_workers) <= max_memory:
            return t
    need = fixed + window_bytes(m, 1, request_size, io_workers)
    raise IntegrityError(
        f"archive {m.name} version {m.version} needs about {need >> 20} MiB of memory to verify "
        f"({m.chunk_count} chunks of {m.chunk_size} bytes, a {m.index_size}-byte file index), "
        f"over the limit of {max_memory >> 20} MiB (--max-memory)"
    )
