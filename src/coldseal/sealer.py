"""Sealing: a folder or a .zip in, a SEALED folder out.

The input is scanned and checked first (unsafe entries are refused before
anything is written), then streamed as fixed-size plaintext chunks through
the C core on every granted core, a bounded window of chunks in flight, and
written in order to the payload. The chunk table, the Merkle tree and the
signed manifest follow, and the finished folder is renamed into place.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coldseal import _native, audit
from coldseal._atomic import AtomicFolder
from coldseal._cpus import granted_cpus
from coldseal._parallel import ThreadContexts, ordered_map
from coldseal.errors import StorageError, UsageError
from coldseal.format import manifest as mf
from coldseal.format import tail
from coldseal.keyproviders import DekContext
from coldseal.sources import default_name, open_source

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from coldseal._native import Secret
    from coldseal.keyproviders import KeyProvider
    from coldseal.keys import SigningKey
    from coldseal.sources import Source

DEFAULT_CHUNK_SIZE = 1 << 20
DEFAULT_LEVEL = 3


@dataclass(frozen=True)
class SealReport:
    """What a seal produced."""

    path: str
    name: str
    version: int
    archive_id: str
    merkle_root: str
    files: int
    plain_bytes: int
    sealed_bytes: int
    chunks: int
    chunk_size: int
    threads: int
    seconds: float
    kek_id: str = ""


@dataclass(frozen=True)
class _Layout:
    """Where the sealer put things in the payload."""

    chunk_count: int
    payload_size: int
    table_offset: int
    table_hash: bytes
    index_sealed_offset: int
    merkle_root: bytes


def _chunks(source: Source, chunk_size: int) -> Iterator[tuple[int, bytearray, int]]:
    """The logical stream cut into (index, buffer, length) chunks."""
    index = 0
    buf = bytearray(chunk_size)
    fill = 0
    for block in source.blocks():
        view = memoryview(block)
        while view:
            take = min(chunk_size - fill, len(view))
            buf[fill : fill + take] = view[:take]
            fill += take
            view = view[take:]
            if fill == chunk_size:
                yield index, buf, fill
                index += 1
                buf = bytearray(chunk_size)
                fill = 0
    if fill:
        yield index, buf, fill


def seal(
    source_path: str | os.PathLike[str],
    sealed_path: str | os.PathLike[str],
    *,
    signing_keys: list[SigningKey],
    kek: KeyProvider,
    name: str | None = None,
    version: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    level: int = DEFAULT_LEVEL,
    threads: int | None = None,
    expires: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_violation: Callable[[dict[str, Any]], None] | None = None,
) -> SealReport:
    """Seal a folder or .zip into the folder ``sealed_path`` (created atomically).

    ``version`` defaults to the creation time in seconds, so successive seals
    of one archive increase without bookkeeping. ``expires`` is a Unix time
    after which verifiers refuse the archive. ``progress(done, total)`` is
    called with plaintext bytes as chunks are written.
    ``on_event``/``on_violation`` receive the audit event, as for
    :func:`coldseal.verify`.
    """
    with audit.reporting("seal", on_event, on_violation) as event:
        event.update(source=str(source_path), name=name)
        report = _seal(
            source_path,
            sealed_path,
            signing_keys=signing_keys,
            kek=kek,
            name=name,
            version=version,
            chunk_size=chunk_size,
            level=level,
            threads=threads,
            expires=expires,
            progress=progress,
        )
        event.update(
            name=report.name,
            version=report.version,
            archive_id=report.archive_id,
            merkle_root=report.merkle_root,
            kek_id=report.kek_id,
            signers=sorted(k.key_id for k in signing_keys),
            seconds={"seal": round(report.seconds, 6)},
        )
        return report


def _seal(
    source_path: str | os.PathLike[str],
    sealed_path: str | os.PathLike[str],
    *,
    signing_keys: list[SigningKey],
    kek: KeyProvider,
    name: str | None = None,
    version: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    level: int = DEFAULT_LEVEL,
    threads: int | None = None,
    expires: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SealReport:
    """The body of :func:`seal`."""
    started = time.monotonic()
    name = name if name is not None else default_name(source_path)
    if not mf.NAME_RE.fullmatch(name):
        raise UsageError(
            f"archive name {name!r} must be 1-128 of A-Z a-z 0-9 . _ + @ - (starting with a "
            "letter or digit); pass --name"
        )
    if not signing_keys:
        raise UsageError("at least one signing key is needed")
    if not mf.MIN_CHUNK <= chunk_size <= mf.MAX_CHUNK:
        raise UsageError(f"chunk size must be between {mf.MIN_CHUNK} and {mf.MAX_CHUNK} bytes")
    created = int(time.time())
    version = created if version is None else version
    if not 0 <= version <= mf.MAX_VERSION:
        raise UsageError(f"version must be between 0 and {mf.MAX_VERSION}")
    if expires is not None and expires <= created:
        raise UsageError("the expiry time is in the past")
    threads = threads or granted_cpus()

    source = open_source(source_path)
    try:
        if source.size > mf.MAX_PLAIN_SIZE or len(source.index_bytes) > mf.MAX_INDEX_SIZE:
            raise UsageError("input is larger than an archive may be")
        with AtomicFolder(sealed_path) as folder:
            archive_id = os.urandom(mf.ARCHIVE_ID_LEN)
            dek, wrapped = kek.new_data_key(DekContext(name, archive_id))
            try:
                layout = _write_payload(
                    source,
                    folder.path,
                    archive_id,
                    dek,
                    chunk_size,
                    level,
                    threads,
                    progress,
                )
            finally:
                dek.close()
            manifest = mf.Manifest(
                name=name,
                archive_id=archive_id,
                version=version,
                created=created,
                expires=expires,
                dek=wrapped,
                plain_size=source.size,
                chunk_size=chunk_size,
                chunk_count=layout.chunk_count,
                payload_size=layout.payload_size,
                table_offset=layout.table_offset,
                tree_offset=layout.table_offset + 8 * layout.chunk_count,
                table_hash=layout.table_hash,
                index_offset=source.content_size,
                index_size=len(source.index_bytes),
                index_sealed_offset=layout.index_sealed_offset,
                merkle_root=layout.merkle_root,
            )
            signed = mf.sign(manifest, signing_keys)
            _write_file(folder.path / mf.MANIFEST_FILE, signed.encode())
            folder.commit()
    finally:
        source.close()
    return SealReport(
        path=str(sealed_path),
        name=name,
        version=version,
        archive_id=archive_id.hex(),
        merkle_root=manifest.merkle_root.hex(),
        files=sum(1 for e in source.entries if e.kind == 1),
        plain_bytes=source.size,
        sealed_bytes=manifest.payload_size,
        chunks=manifest.chunk_count,
        chunk_size=chunk_size,
        threads=threads,
        seconds=time.monotonic() - started,
        kek_id=manifest.dek.kek_id,
    )


def _write_file(path: Path, data: bytes) -> None:
    try:
        with path.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise StorageError(f"{path}: cannot write ({error.strerror})") from None


def _write_payload(
    source: Source,
    folder: Path,
    archive_id: bytes,
    dek: Secret,
    chunk_size: int,
    level: int,
    threads: int,
    progress: Callable[[int, int], None] | None,
) -> _Layout:
    """Seal every chunk into the payload file; returns where everything landed."""
    contexts = ThreadContexts(dek, archive_id, chunk_size, level)
    bound = _native.sealed_bound(chunk_size)

    def seal_one(item: tuple[int, bytearray, int]) -> tuple[bytearray, int, bytes]:
        index, buf, length = item
        out = bytearray(bound)
        size, leaf = contexts.get().seal_into(index, memoryview(buf)[:length], out)
        return out, size, leaf

    def read_and_seal(index: int) -> tuple[bytearray, int, bytes]:
        # Folder inputs: each worker preads its own chunk, so reading the
        # tree runs on every core too, not only on the writing thread.
        length = min(chunk_size, source.size - index * chunk_size)
        buf = bytearray(length)
        source.read_range(index * chunk_size, memoryview(buf))
        return seal_one((index, buf, length))

    path = folder / mf.payload_name(archive_id)
    ends: list[int] = []
    leaves = bytearray()
    index_chunk = source.content_size // chunk_size
    index_sealed_offset = 0
    offset = 0
    try:
        with path.open("xb") as payload:
            window = 2 * threads + 2
            if source.random_access:
                count = -(-source.size // chunk_size)
                results = ordered_map(read_and_seal, range(count), threads, window)
            else:
                results = ordered_map(seal_one, _chunks(source, chunk_size), threads, window)
            for i, (sealed, size, leaf) in enumerate(results):
                if i == index_chunk:
                    index_sealed_offset = offset
                payload.write(memoryview(sealed)[:size])
                offset += size
                ends.append(offset)
                leaves += leaf
                if progress is not None:
                    progress(min(len(ends) * chunk_size, source.size), source.size)
            table = tail.encode_table(ends)
            tree = _native.merkle_tree(bytes(leaves))
            payload.write(table)
            payload.write(tree)
            payload.flush()
            os.fsync(payload.fileno())
    except OSError as error:
        raise StorageError(f"{path}: cannot write ({error.strerror})") from None
    finally:
        contexts.close()
    return _Layout(
        chunk_count=len(ends),
        payload_size=offset + len(table) + len(tree),
        table_offset=offset,
        table_hash=tail.table_hash(table),
        index_sealed_offset=index_sealed_offset,
        merkle_root=_native.merkle_root(bytes(leaves)),
    )
