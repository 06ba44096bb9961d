"""The payload's tail: the chunk table and the Merkle tree after the chunks.

Payload layout::

    sealed chunk 0 | sealed chunk 1 | ... | chunk table | tree

The chunk table is one u64 (little-endian) per chunk: the payload offset
where that chunk ends, so chunk i spans [end[i-1], end[i]) with end[-1] = 0.
Its BLAKE3 (derive-key context "coldseal v1 chunk table") is in the manifest.
The tree is every row of the Merkle tree, leaves first and root last, 32
bytes per hash; the verifier recomputes all of it from the leaves and
compares, and the root must equal the manifest's.
"""

from __future__ import annotations

import hmac
import struct
from typing import TYPE_CHECKING

from coldseal.errors import IntegrityError
from coldseal.format.manifest import HASH_LEN

if TYPE_CHECKING:
    from coldseal.format.manifest import Manifest

TABLE_CONTEXT = "coldseal v1 chunk table"
TAG_LEN = 16


def encode_table(ends: list[int]) -> bytes:
    """The chunk table for chunks ending at ``ends``."""
    return struct.pack(f"<{len(ends)}Q", *ends)


def table_hash(table: bytes | bytearray | memoryview) -> bytes:
    """The manifest's ``table_hash`` of a chunk table."""
    from coldseal.hashing import blake3  # noqa: PLC0415 - loads the C core

    return blake3(table, derive_key_context=TABLE_CONTEXT)


def parse_table(table: bytes | bytearray | memoryview, manifest: Manifest) -> list[tuple[int, int]]:
    """Check a chunk table against the manifest; returns each chunk's (offset, length)."""
    n = manifest.chunk_count
    if len(table) != 8 * n:
        raise IntegrityError("chunk table has the wrong length")
    if not hmac.compare_digest(table_hash(table), manifest.table_hash):
        raise IntegrityError("chunk table does not match the manifest")
    ends = struct.unpack(f"<{n}Q", table)
    spans = []
    start = 0
    for i, end in enumerate(ends):
        length = end - start
        if not TAG_LEN < length <= manifest.chunk_plain_len(i) + TAG_LEN:
            raise IntegrityError(f"chunk table: chunk {i} has an impossible length")
        spans.append((start, length))
        start = end
    if start != manifest.table_offset:
        raise IntegrityError("chunk table does not end where the manifest says")
    first_index_chunk = manifest.index_offset // manifest.chunk_size
    if n and spans[min(first_index_chunk, n - 1)][0] != manifest.index_sealed_offset:
        raise IntegrityError("index_sealed_offset disagrees with the chunk table")
    return spans


def check_tree(tree: bytes | bytearray | memoryview, manifest: Manifest) -> bytes:
    """Recompute the whole stored tree from its leaves; returns the leaves."""
    from coldseal import _native  # noqa: PLC0415

    n = manifest.chunk_count
    if len(tree) != HASH_LEN * _native.merkle_tree_len(n):
        raise IntegrityError("Merkle tree has the wrong length")
    leaves = bytes(tree[: HASH_LEN * n])
    root = _native.merkle_root(leaves)
    if not hmac.compare_digest(root, manifest.merkle_root):
        raise IntegrityError("Merkle root does not match the signed manifest")
    if n and not hmac.compare_digest(_native.merkle_tree(leaves), bytes(tree)):
        raise IntegrityError("Merkle tree's inner nodes do not match its leaves")
    return leaves
