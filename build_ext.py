"""Build the coldseal C core into the ``coldseal._core`` extension with cffi.

The cdef is sliced out of ``native/coldseal.h`` between its ``cffi:begin`` and
``cffi:end`` markers, so the bytes cffi parses are the bytes the compiler
sees. Every ``.c`` file under ``native/`` (except fuzz harnesses) is compiled
into the extension; libcrypto and libzstd come from the system.

Environment knobs (all optional):

* ``COLDSEAL_SANITIZE=address,undefined`` builds with those sanitizers
  (used by CI's sanitizer job, see ``scripts/sanitize.sh``).
* ``COLDSEAL_NO_WERROR=1`` drops ``-Werror`` for packagers on compilers newer
  than the ones CI checks.
* ``COLDSEAL_CFLAGS`` adds flags, e.g. ``-DCS_NO_AVX2`` to compile a BLAKE3
  tier out.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent
NATIVE = ROOT / "native"
HEADER = NATIVE / "coldseal.h"


def _cdef() -> str:
    text = HEADER.read_text(encoding="utf-8")
    begin, end = "/* cffi:begin */", "/* cffi:end */"
    return text[text.index(begin) + len(begin) : text.index(end)]


def _version() -> str:
    text = (ROOT / "src" / "coldseal" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r'__version__ = "([^"]+)"', text)
    if match is None:
        msg = "src/coldseal/_version.py has no __version__"
        raise RuntimeError(msg)
    return match.group(1)


def _sources(*, absolute: bool = False) -> list[str]:
    paths = sorted(p for p in NATIVE.rglob("*.c") if "fuzz" not in p.relative_to(NATIVE).parts)
    # setuptools wants paths relative to the project; a standalone compile
    # (which runs in its own temporary folder) needs absolute ones.
    return [str(p if absolute else p.relative_to(ROOT)) for p in paths]


def _compile_args() -> list[str]:
    args = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-strict-aliasing"]
    if os.environ.get("COLDSEAL_NO_WERROR") != "1":
        args.append("-Werror")
    sanitize = os.environ.get("COLDSEAL_SANITIZE", "")
    if sanitize:
        args += [
            f"-fsanitize={sanitize}",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all",
            "-g",
        ]
    args += shlex.split(os.environ.get("COLDSEAL_CFLAGS", ""))
    return args


def _link_args() -> list[str]:
    sanitize = os.environ.get("COLDSEAL_SANITIZE", "")
    return [f"-fsanitize={sanitize}"] if sanitize else []


def make_ffi(*, absolute_paths: bool = False) -> FFI:
    """The FFI builder for ``coldseal._core``."""
    ffi = FFI()
    ffi.cdef(_cdef())
    ffi.set_source(
        "coldseal._core",
        '#include "coldseal.h"\n',
        sources=_sources(absolute=absolute_paths),
        include_dirs=[str(NATIVE)],
        libraries=["crypto", "zstd", "pthread"],
        define_macros=[("CS_VERSION", f'"{_version()}"'), ("_POSIX_C_SOURCE", "200809L")],
        extra_compile_args=_compile_args(),
        extra_link_args=_link_args(),
    )
    return ffi


ffibuilder = make_ffi()

if __name__ == "__main__":
    # Standalone build into a folder: python build_ext.py OUTDIR; prints the .so path.
    import sys

    out = make_ffi(absolute_paths=True).compile(tmpdir=sys.argv[1] if len(sys.argv) > 1 else ".")
    sys.stdout.write(f"{out}\n")
