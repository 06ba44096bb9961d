"""Benchmark inputs built in memory, deterministic where it matters."""

from __future__ import annotations

import os

from coldseal import _native

MIB = 1 << 20


class SealedArchive:
    """64 incompressible 1 MiB chunks sealed by the core, plus what opens them."""

    def __init__(self, plain: bytes) -> None:
        self.dek = os.urandom(32)
        self.archive_id = os.urandom(16)
        self.chunk = MIB
        ctx = _native.ChunkContext(self.dek, self.archive_id, self.chunk)
        self.plain = plain
        self.sealed: list[bytes] = []
        self.leaves: list[bytes] = []
        for i, off in enumerate(range(0, len(plain), self.chunk)):
            body, leaf = ctx.seal(i, plain[off : off + self.chunk])
            self.sealed.append(body)
            self.leaves.append(leaf)
        self.out = bytearray(len(plain))

    def jobs(self) -> list[_native.OpenJob]:
        view = memoryview(self.out)
        return [
            _native.OpenJob(i, body, leaf, view[i * self.chunk : (i + 1) * self.chunk])
            for i, (body, leaf) in enumerate(zip(self.sealed, self.leaves, strict=False))
        ]

    def aad(self, index: int) -> bytes:
        return self.archive_id + index.to_bytes(8, "little") + self.chunk.to_bytes(8, "little")
