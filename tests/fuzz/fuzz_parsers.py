"""Coverage-guided fuzzing (atheris) of every Python parser of untrusted bytes.

Targets, one per parser:

* ``manifest``: ``format.manifest.decode`` (canonical JSON, envelope, body);
  an accepted input must re-encode to exactly its own bytes.
* ``index``: ``format.index.decode``, with the content size taken from the
  input's own header so the entry parser is reached; an accepted index must
  re-encode to its own bytes.
* ``table``: ``format.tail.parse_table`` against a manifest whose table hash
  is the input's (so only the bounds checks stand in the way); accepted
  spans must be contiguous and within the per-chunk bounds.
* ``zip``: ``sources.open_source`` on the input as a ``.zip`` file, then the
  whole logical stream; only the first MiB of declared content is streamed.
* ``keys``: the three key-file loaders (public key, signing key, KEK).

Each target allows only the documented error class for bad input
(IntegrityError for archive structures, UsageError/StorageError for user
inputs); any other exception, or a broken invariant, is a finding and
libFuzzer saves the input.

Usage: python tests/fuzz/fuzz_parsers.py TARGET [libFuzzer args] [CORPUS...]
       python tests/fuzz/fuzz_parsers.py --seeds DIR   (write seed inputs)
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["coldseal", "zipfile"]):
    import zipfile

    from coldseal import sources
    from coldseal.errors import IntegrityError, StorageError, UsageError
    from coldseal.format import index as index_format
    from coldseal.format import manifest as mf
    from coldseal.format import tail
    from coldseal.keys import Kek, PublicKey, SigningKey


_TMP = Path(tempfile.mkdtemp(prefix="coldseal-fuzz-"))
_STREAM_CAP = 1 << 20


def _manifest(data: bytes) -> None:
    try:
        signed = mf.decode(data)
    except mf.ManifestError:
        return
    if signed.encode() != data:
        raise AssertionError("an accepted manifest does not re-encode to its own bytes")


def _index(data: bytes) -> None:
    content = int.from_bytes(data[16:24], "little") if len(data) >= 24 else 0
    try:
        entries = index_format.decode(data, content)
    except IntegrityError:
        return
    if index_format.encode(entries) != data:
        raise AssertionError("an accepted index does not re-encode to its own bytes")


def _table_manifest(table: bytes, chunk_size: int, plain_size: int) -> mf.Manifest:
    n = len(table) // 8
    ends = [int.from_bytes(table[8 * i : 8 * i + 8], "little") for i in range(n)]
    end = ends[-1] if ends else 0
    return mf.Manifest(
        name="fuzz",
        archive_id=bytes(16),
        version=1,
        created=0,
        expires=None,
        plain_size=plain_size,
        chunk_size=chunk_size,
        chunk_count=n,
        payload_size=0,
        table_offset=end,
        tree_offset=end + 8 * n,
        table_hash=tail.table_hash(table),
        index_offset=0,
        index_size=plain_size,
        index_sealed_offset=0,
        merkle_root=bytes(32),
        dek=mf.WrappedDek(mf.DEK_SCHEME_LOCAL, "0" * 16, b""),
    )


def _table(data: bytes) -> None:
    if len(data) < 2:
        return
    chunk_size = mf.MIN_CHUNK << (data[0] % 13)
    table = data[2 : 2 + 8 * 512]
    table = table[: len(table) - len(table) % 8]
    n = len(table) // 8
    plain_size = max(0, n * chunk_size - data[1] * 37) if n else 0
    if n and -(-plain_size // chunk_size) != n:
        plain_size = (n - 1) * chunk_size + 1
    manifest = _table_manifest(table, chunk_size, plain_size)
    try:
        spans = tail.parse_table(table, manifest)
    except IntegrityError:
        return
    start = 0
    for i, (offset, length) in enumerate(spans):
        if offset != start or not 16 < length <= manifest.chunk_plain_len(i) + 16:
            raise AssertionError("parse_table accepted an impossible span")
        start = offset + length


def _zip(data: bytes) -> None:
    path = _TMP / "input.zip"
    path.write_bytes(data)
    try:
        source = sources.open_source(path)
    except (UsageError, StorageError):
        return
    try:
        if source.content_size > _STREAM_CAP:
            return
        got = sum(len(block) for block in source.blocks())
        if got != source.size:
            raise AssertionError("the stream is not as long as the scan said")
    except (UsageError, StorageError):
        return
    finally:
        source.close()


def _keys(data: bytes) -> None:
    path = _TMP / "key"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    for loader in (PublicKey.load, SigningKey.load, Kek.load):
        with contextlib.suppress(UsageError):
            loader(path)  # F3 (docs/fuzzing.md), fixed: every bad key file is a UsageError


TARGETS = {"manifest": _manifest, "index": _index, "table": _table, "zip": _zip, "keys": _keys}


def write_seeds(root: Path) -> None:
    """Seed inputs for every target, from a freshly sealed example archive."""
    from coldseal._cli import main  # noqa: PLC0415

    work = Path(tempfile.mkdtemp(prefix="coldseal-seeds-"))
    hello = Path(__file__).resolve().parents[2] / "src" / "coldseal" / "examples" / "hello_app"
    keys, sealed = work / "keys", work / "sealed"
    assert main(["keygen", str(keys)]) == 0
    args = ["seal", str(hello), str(sealed), "--signing-key", str(keys / "signing.key")]
    assert main([*args, "--kek", str(keys / "data.kek"), "--chunk-size", "4K"]) == 0
    for name in TARGETS:
        (root / name).mkdir(parents=True, exist_ok=True)
    manifest_bytes = (sealed / "manifest.json").read_bytes()
    (root / "manifest" / "sealed").write_bytes(manifest_bytes)
    source = sources.open_source(hello)
    (root / "index" / "hello").write_bytes(source.index_bytes)
    source.close()
    m = mf.decode(manifest_bytes).manifest
    payload = (sealed / m.payload).read_bytes()
    table = payload[m.table_offset : m.tree_offset]
    (root / "table" / "hello").write_bytes(bytes([0, 0]) + table)
    zpath = work / "hello.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(hello.rglob("*")):
            z.write(f, f.relative_to(hello).as_posix())
        link = zipfile.ZipInfo("link")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "handler.py")
    (root / "zip" / "hello").write_bytes(zpath.read_bytes())
    for name in ("signing.pub", "signing.key", "data.kek"):
        (root / "keys" / name).write_bytes((keys / name).read_bytes())


def main() -> None:
    """Run one target under libFuzzer (atheris), or write the seeds."""
    if len(sys.argv) >= 3 and sys.argv[1] == "--seeds":
        write_seeds(Path(sys.argv[2]))
        return
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.stderr.write(f"usage: fuzz_parsers.py {{{','.join(TARGETS)}}} [libFuzzer args]\n")
        sys.exit(2)
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
