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


# ---- on-disk corpora, cached between runs (never committed) ------------------

import shutil  # noqa: E402
import site  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

CACHE = Path(__file__).resolve().parent.parent / ".coldseal-cache" / "bench"


def keys() -> Path:
    """A key folder for benchmarks."""
    from coldseal.keys import keygen  # noqa: PLC0415

    folder = CACHE / "keys"
    if not (folder / "data.kek").exists():
        shutil.rmtree(folder, ignore_errors=True)
        keygen(folder)
    return folder


def site_packages_tree() -> Path:
    """A real code tree: a copy of this environment's site-packages, no caches."""
    dest = CACHE / "site-packages"
    marker = CACHE / "site-packages.complete"
    if not marker.exists():
        shutil.rmtree(dest, ignore_errors=True)
        src = next(Path(p) for p in site.getsitepackages() if p.endswith("site-packages"))
        shutil.copytree(
            src,
            dest,
            symlinks=True,
            ignore=shutil.ignore_patterns("__pycache__", "coldseal*", "__editable__*", "*.pth"),
        )
        marker.write_text("")
    return dest


def deflate_zip(tree: Path) -> Path:
    """The same tree as a plain deflate zip (the unverified status quo)."""
    dest = CACHE / f"{tree.name}.zip"
    if not dest.exists():
        tmp = dest.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(tree.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    z.write(path, path.relative_to(tree).as_posix())
        tmp.rename(dest)
    return dest


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


def random_tree(size: int) -> Path:
    """A folder holding one incompressible file of ``size`` bytes."""
    dest = CACHE / f"random-{size >> 20}m"
    marker = CACHE / f"random-{size >> 20}m.complete"
    if not marker.exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        with (dest / "blob.bin").open("wb") as out:
            for _ in range(size // MIB):
                out.write(os.urandom(MIB))
        marker.write_text("")
    return dest


def sealed(tree: Path, *, threads: int | None = None) -> Path:
    """``tree`` sealed with the benchmark keys (1 MiB chunks, level 3)."""
    from coldseal.keys import Kek, SigningKey  # noqa: PLC0415
    from coldseal.sealer import seal  # noqa: PLC0415

    dest = CACHE / f"{tree.name}.sealed"
    if not (dest / "manifest.json").exists():
        shutil.rmtree(dest, ignore_errors=True)
        k = keys()
        seal(
            tree,
            dest,
            signing_keys=[SigningKey.load(k / "signing.key")],
            kek=Kek.load(k / "data.kek"),
            name="bench",
            version=1,
            threads=threads,
        )
    return dest


HANDLER = '''"""A Lambda-style handler that pulls in a real package."""
import rich.console
import rich.text


def handler(event, context):
    return rich.text.Text(f"hello {event.get('name', 'world')}").plain
'''


def app_with_site_packages() -> Path:
    """site-packages plus a handler.py at its root that imports rich."""
    dest = CACHE / "app-site"
    marker = CACHE / "app-site.complete"
    if not marker.exists():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(site_packages_tree(), dest, symlinks=True)
        (dest / "handler.py").write_text(HANDLER)
        marker.write_text("")
    return dest


def big_with_handler(size: int) -> Path:
    """An incompressible blob of ``size`` bytes plus one small handler.py."""
    dest = CACHE / f"big-handler-{size >> 20}m"
    marker = CACHE / f"big-handler-{size >> 20}m.complete"
    if not marker.exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        shutil.copy(random_tree(size) / "blob.bin", dest / "blob.bin")
        (dest / "handler.py").write_text(HANDLER)
        marker.write_text("")
    return dest
