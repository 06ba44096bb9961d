"""Benchmark inputs: in-memory sealed chunks, and on-disk corpora from coldseal.bench.corpus.

The on-disk corpora (deterministic, cached in ``.coldseal-cache/bench``,
never committed) are the ones ``coldseal bench`` uses, so pytest-benchmark
and the budget report measure the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from coldseal import _native
from coldseal.bench.corpus import MIB, Corpus

CACHE = Path(__file__).resolve().parent.parent / ".coldseal-cache" / "bench"
CORPUS = Corpus(CACHE)
SMOKE_CODE_MIB = 8  # the generated code tree used instead of site-packages in smoke runs


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


def keys() -> Path:
    """The benchmark key folder."""
    return CORPUS.keys()


def code_tree(full_scale: bool) -> Path:
    """A real site-packages copy for real runs; a generated code tree for smoke runs."""
    return CORPUS.site_packages_tree() if full_scale else CORPUS.code_tree(SMOKE_CODE_MIB * MIB)


def random_tree(size: int) -> Path:
    """``blob.bin`` of ``size`` incompressible bytes plus a small ``handler.py``."""
    return CORPUS.random_tree(size)


def deflate_zip(tree: Path) -> Path:
    """The same tree as a plain zip (the unverified status quo)."""
    return CORPUS.zipped(tree)


def sealed(tree: Path) -> Path:
    """``tree`` sealed with the benchmark keys (1 MiB chunks, level 3)."""
    return CORPUS.sealed(tree)


def logical_stream(tree: Path) -> Path:
    """The tree's file bytes back to back, as the sealer streams them."""
    dest = CACHE / f"{tree.name}.stream"
    if not dest.exists():
        from coldseal.sources import open_source  # noqa: PLC0415

        source = open_source(tree)
        tmp = dest.with_suffix(".tmp")
        with tmp.open("wb") as out:
            for block in source.blocks():
                out.write(block)
        source.close()
        tmp.rename(dest)
    return dest


HANDLER = '''"""A Lambda-style handler that pulls in a real package."""
import rich.console
import rich.text


def handler(event, context):
    return rich.text.Text(f"hello {event.get('name', 'world')}").plain
'''


RICH_PACKAGES = ("rich", "markdown_it", "mdurl", "pygments")


def app_with_site_packages(full_scale: bool) -> Path:
    """site-packages plus a handler.py at its root that imports rich.

    Smoke runs copy only rich and what it imports, not the whole tree.
    """
    import shutil  # noqa: PLC0415

    name = "app-site" if full_scale else "app-rich"
    dest = CACHE / name
    marker = CACHE / f"{name}.complete"
    if not marker.exists():
        shutil.rmtree(dest, ignore_errors=True)
        site = CORPUS.site_packages_tree()
        if full_scale:
            shutil.copytree(site, dest, symlinks=True)
        else:
            for package in RICH_PACKAGES:
                shutil.copytree(site / package, dest / package, symlinks=True)
        (dest / "handler.py").write_text(HANDLER)
        marker.write_text("")
    return dest
