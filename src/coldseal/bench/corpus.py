"""Benchmark corpora: generated deterministically, cached between runs, never committed.

Three kinds of input, as a deployment archive holds them:

* ``random``: one incompressible blob (an AES-CTR keystream under a fixed key,
  so every run and every machine gets the same bytes) plus a small
  ``handler.py``, which the lazy-open measurements read;
* ``code``: a tree of text-like Python modules generated from a seeded
  vocabulary, compressible roughly as real source is;
* ``site-packages``: a copy of this interpreter's site-packages (real code,
  real file-size distribution), without caches and without coldseal itself.

Everything lives under one cache folder; a ``.complete`` marker is written
last, so an interrupted generation is redone rather than trusted.
"""

from __future__ import annotations

import random
import shutil
import site
import zipfile
from pathlib import Path

MIB = 1 << 20
KIND_RANDOM = "random"
KIND_CODE = "code"
KIND_SITE = "site-packages"
KINDS = (KIND_RANDOM, KIND_CODE, KIND_SITE)

HANDLER = '''"""A Lambda-style handler: the one small file a lazy open reads."""


def handler(event, context):
    return {"statusCode": 200, "body": f"hello {event.get('name', 'world')}"}
'''

# Tokens the generated modules are made of.
_WORDS = (  # noqa: SIM905 - as a list literal this is 64 lines of one word each
    "def class return import from self value result items config request response "
    "handler event context data buffer offset length index chunk archive manifest if "
    "else elif for while try except finally with as yield lambda None True False "
    "append extend update get set keys values len range list dict str int bytes "
    "logger debug info error raise ValueError KeyError path name version parse load"
).split()


def _keystream(size: int, seed: int) -> bytes:
    """``size`` deterministic incompressible bytes (AES-256-CTR over zeros)."""
    from cryptography.hazmat.primitives.ciphers import (  # noqa: PLC0415
        Cipher,
        algorithms,
        modes,
    )

    key = seed.to_bytes(32, "little")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    return encryptor.update(bytes(size)) + encryptor.finalize()


def _code_block(rng: random.Random) -> str:
    """One Python-looking function of a few hundred characters."""
    name = f"{rng.choice(_WORDS)}_{rng.randrange(1000)}"
    body = [f"def {name}({rng.choice(_WORDS)}, {rng.choice(_WORDS)}=None):"]
    for _ in range(rng.randrange(2, 9)):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 10)))
        body.append(f"    {rng.choice(_WORDS)} = {words!r}")
    body.append(f"    return {rng.choice(_WORDS)}")
    return "\n".join(body) + "\n\n"


def _code_modules(rng: random.Random, total: int) -> list[str]:
    """Modules of 2-32 KiB adding up to about ``total`` characters.

    Functions are drawn from a pool (8192 distinct ones, ~3 MB) rather than
    generated one by one: ten times faster, and a 1 MiB chunk still sees
    mostly distinct functions, as real code does.
    """
    pool = [_code_block(rng) for _ in range(min(8192, max(64, total // 300)))]
    modules, written = [], 0
    while written < total:
        target = min(rng.randrange(2048, 32768), total - written)
        parts, size = ['"""Generated module for coldseal benchmarks."""\n\n'], 0
        while size < target:
            block = rng.choice(pool)
            parts.append(block)
            size += len(block)
        text = "".join(parts)
        modules.append(text)
        written += len(text)
    return modules


class Corpus:
    """The cache folder of benchmark inputs and the functions that fill it."""

    def __init__(self, cache: Path) -> None:
        """Use (and create on demand) ``cache`` for every generated input."""
        self.cache = cache

    def _done(self, name: str) -> Path:
        return self.cache / f"{name}.complete"

    def keys(self) -> Path:
        """A key folder (signing.key, signing.pub, data.kek) for the benchmarks."""
        from coldseal.keys import keygen  # noqa: PLC0415

        folder = self.cache / "keys"
        if not (folder / "data.kek").exists():
            shutil.rmtree(folder, ignore_errors=True)
            self.cache.mkdir(parents=True, exist_ok=True)
            keygen(folder)
        return folder

    def tree(self, kind: str, size_mib: int = 0) -> Path:
        """The folder of corpus ``kind``; ``size_mib`` sizes random and code trees."""
        if kind == KIND_RANDOM:
            return self.random_tree(size_mib * MIB)
        if kind == KIND_CODE:
            return self.code_tree(size_mib * MIB)
        if kind == KIND_SITE:
            return self.site_packages_tree()
        raise ValueError(f"unknown corpus kind {kind!r}")

    def random_tree(self, size: int) -> Path:
        """``blob.bin`` of ``size`` incompressible bytes, plus ``handler.py``."""
        name = f"random-{size}"
        dest = self.cache / name
        if not self._done(name).exists():
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            with (dest / "blob.bin").open("wb") as out:
                for block in range(0, size, 64 * MIB):
                    out.write(_keystream(min(64 * MIB, size - block), seed=block // MIB + 1))
            (dest / "handler.py").write_text(HANDLER, encoding="utf-8")
            self._done(name).write_text("", encoding="utf-8")
        return dest

    def code_tree(self, size: int) -> Path:
        """Text-like Python modules (about 16 KiB each) adding up to about ``size`` bytes."""
        name = f"code-{size}"
        dest = self.cache / name
        if not self._done(name).exists():
            shutil.rmtree(dest, ignore_errors=True)
            rng = random.Random(size)  # noqa: S311 - reproducible filler, not key material
            for n, text in enumerate(_code_modules(rng, size)):
                folder = dest / f"pkg{n // 50:03d}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"mod{n:05d}.py").write_text(text, encoding="utf-8")
            (dest / "handler.py").write_text(HANDLER, encoding="utf-8")
            self._done(name).write_text("", encoding="utf-8")
        return dest

    def site_packages_tree(self) -> Path:
        """A real code tree: a copy of this environment's site-packages, no caches."""
        name = "site-packages"
        dest = self.cache / name
        if not self._done(name).exists():
            shutil.rmtree(dest, ignore_errors=True)
            src = next(Path(p) for p in site.getsitepackages() if p.endswith("site-packages"))
            shutil.copytree(
                src,
                dest,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "coldseal*", "__editable__*", "*.pth"),
            )
            (dest / "handler.py").write_text(HANDLER, encoding="utf-8")
            self._done(name).write_text("", encoding="utf-8")
        return dest

    def zipped(self, tree: Path) -> Path:
        """``tree`` as a plain zip (deflate; stored for incompressible files): the status quo."""
        dest = self.cache / f"{tree.name}.zip"
        if not dest.exists():
            tmp = dest.with_suffix(".tmp")
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                for path in sorted(tree.rglob("*")):
                    if path.is_file() and not path.is_symlink():
                        method = zipfile.ZIP_STORED if path.name == "blob.bin" else None
                        z.write(path, path.relative_to(tree).as_posix(), compress_type=method)
            tmp.rename(dest)
        return dest

    def sealed(self, tree: Path, *, chunk_size: int = MIB, level: int = 3) -> Path:
        """``tree`` sealed with the benchmark keys (cached per chunk size and level)."""
        from coldseal.keys import Kek, SigningKey  # noqa: PLC0415
        from coldseal.sealer import seal  # noqa: PLC0415

        dest = self.cache / f"{tree.name}.c{chunk_size}.l{level}.sealed"
        if not (dest / "manifest.json").exists():
            shutil.rmtree(dest, ignore_errors=True)
            k = self.keys()
            kek = Kek.load(k / "data.kek")
            try:
                seal(
                    tree,
                    dest,
                    signing_keys=[SigningKey.load(k / "signing.key")],
                    kek=kek,
                    name="bench",
                    version=1,
                    chunk_size=chunk_size,
                    level=level,
                )
            finally:
                kek.close()
        return dest


def tree_bytes(tree: Path) -> int:
    """The bytes of the regular files under ``tree``."""
    return sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
