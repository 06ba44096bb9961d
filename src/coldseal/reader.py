"""Lazy, verified access: read one file of an archive, pay for its chunks only.

``coldseal.open(source, trust=..., kek=...)`` costs three sequential round
trips before the first verified byte of a file:

1. one GET of the manifest (its size bounded by the range asked for), then
   the signature, name, expiry and version checks;
2. one ranged GET from ``index_sealed_offset`` to the end of the payload: the
   encrypted file index, the chunk table and the Merkle tree. The whole tree
   is recomputed from its leaves and checked against the signed root, and the
   index chunks are opened and parsed;
3. one ranged GET of the chunks the read touches, each checked against its
   (now trusted) leaf, decrypted and decompressed by the core before any byte
   is returned.

What it fetches is the manifest, the index, ~40 bytes of table and tree per
chunk, and the chunks read — never the rest of the archive. Verified chunks
are kept in a small LRU cache; sequential reads prefetch the next chunks.
All of it is safe to use from many threads at once.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Self

from coldseal import audit, limits
from coldseal._parallel import ThreadContexts
from coldseal.errors import IntegrityError, UsageError
from coldseal.format import index as index_format
from coldseal.format import manifest as mf
from coldseal.format import tail
from coldseal.format.paths import DIR, FILE, SYMLINK
from coldseal.storage import open_storage
from coldseal.verifier import admit, unwrap_dek

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from coldseal.format.index import Entry
    from coldseal.keyproviders import KeyProvider
    from coldseal.keys import PublicKey
    from coldseal.storage import Storage

DEFAULT_CACHE_BYTES = 64 << 20
PREFETCH_CHUNKS = 2
_KINDS = {FILE: "file", DIR: "dir", SYMLINK: "symlink"}


@dataclass(frozen=True)
class FileInfo:
    """What the index says about one path."""

    path: str
    kind: str
    mode: int
    size: int
    target: str | None = None


class _Flight:
    """A chunk some thread is fetching; others wait for it instead of refetching."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.data: bytes | None = None
        self.error: BaseException | None = None


class Archive:
    """A sealed archive opened for lazy, verified reads (see :func:`open`)."""

    def __init__(
        self,
        storage: Storage,
        signed: mf.SignedManifest,
        spans: list[tuple[int, int]],
        leaves: bytes,
        entries: list[Entry],
        contexts: ThreadContexts,
        cache_bytes: int,
    ) -> None:
        """Use :func:`open`; this constructor takes already verified parts."""
        self.manifest = signed.manifest
        self.name = self.manifest.name
        self.version = self.manifest.version
        self._storage = storage
        self._spans = spans
        self._leaves = leaves
        self._entries = {e.path: e for e in entries}
        self._children: dict[str, list[str]] = {}
        for e in entries:
            parent, _, _ = e.path.rpartition("/")
            self._children.setdefault(parent, []).append(e.path)
        self._contexts = contexts
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = cache_bytes
        self._flights: dict[int, _Flight] = {}
        self._lock = threading.Lock()
        self._prefetcher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="coldseal-prefetch")
        self._closed = False

    # ---- the tree ---------------------------------------------------------------

    def _entry(self, path: str) -> Entry:
        entry = self._entries.get(path.strip("/"))
        if entry is None:
            raise FileNotFoundError(f"{path}: not in archive {self.name}")
        return entry

    def namelist(self) -> list[str]:
        """Every path in the archive, sorted."""
        return sorted(self._entries)

    def stat(self, path: str) -> FileInfo:
        """Kind, mode and size of ``path``."""
        e = self._entry(path)
        return FileInfo(e.path, _KINDS[e.kind], e.mode, e.size, e.target)

    def exists(self, path: str) -> bool:
        """Whether ``path`` is in the archive (the root always is)."""
        return path.strip("/") == "" or path.strip("/") in self._entries

    def is_file(self, path: str) -> bool:
        """Whether ``path`` is a regular file of the archive."""
        e = self._entries.get(path.strip("/"))
        return e is not None and e.kind == FILE

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a folder of the archive (or its root)."""
        p = path.strip("/")
        return (
            p == "" or p in self._children or (p in self._entries and self._entries[p].kind == DIR)
        )

    def iterdir(self, path: str = "") -> list[str]:
        """Paths directly inside the folder ``path``."""
        return sorted(self._children.get(path.strip("/"), []))

    # ---- bytes --------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        """The verified bytes of the file ``path``."""
        e = self._entry(path)
        if e.kind != FILE:
            raise IsADirectoryError(f"{path}: not a regular file")
        return self.read_range(e, 0, e.size)

    def open(self, path: str) -> io.RawIOBase:
        """A seekable binary file object over the verified bytes of ``path``.

        Unbuffered on purpose: a read touches exactly the chunks its bytes
        are in (verified chunks are cached by the archive anyway).
        """
        e = self._entry(path)
        if e.kind != FILE:
            raise IsADirectoryError(f"{path}: not a regular file")
        return _ArchiveFile(self, e)

    def read_range(self, entry: Entry, offset: int, length: int) -> bytes:
        """``length`` verified bytes of ``entry`` from ``offset`` (clipped to the file)."""
        offset = max(0, min(offset, entry.size))
        length = max(0, min(length, entry.size - offset))
        if length == 0:
            return b""
        start = entry.offset + offset
        end = start + length
        size = self.manifest.chunk_size
        first, last = start // size, (end - 1) // size
        chunks = self._chunks(first, last)
        joined = b"".join(chunks) if len(chunks) > 1 else chunks[0]
        return bytes(joined[start - first * size : end - first * size])

    def prefetch(self, first: int, count: int = PREFETCH_CHUNKS) -> None:
        """Start fetching chunks ``first``… in the background, if not cached."""
        last = min(first + count, self.manifest.chunk_count) - 1
        with self._lock:
            wanted = [
                i for i in range(first, last + 1) if i not in self._cache and i not in self._flights
            ]
        if wanted and not self._closed:
            future = self._prefetcher.submit(self._chunks, wanted[0], wanted[-1])
            future.add_done_callback(lambda f: f.exception())  # errors surface on real reads

    def _chunks(self, first: int, last: int) -> list[bytes]:
        """Verified plaintext of chunks ``first``..``last``, fetching what is missing."""
        if self._closed:
            raise ValueError("archive is closed")
        got: dict[int, bytes] = {}
        mine: list[int] = []
        waits: dict[int, _Flight] = {}
        with self._lock:
            for i in range(first, last + 1):
                if i in self._cache:
                    self._cache.move_to_end(i)
                    got[i] = self._cache[i]
                elif i in self._flights:
                    waits[i] = self._flights[i]
                else:
                    self._flights[i] = _Flight()
                    mine.append(i)
        try:
            for run in _runs(mine):
                got.update(self._fetch_run(run))
        except BaseException as error:
            with self._lock:
                for i in mine:
                    flight = self._flights.pop(i, None)
                    if flight is not None and not flight.done.is_set():
                        flight.error = error
                        flight.done.set()
            raise
        for i, flight in waits.items():
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.data is not None
            got[i] = flight.data
        return [got[i] for i in range(first, last + 1)]

    def _fetch_run(self, run: range) -> dict[int, bytes]:
        """One GET for consecutive chunks; open each and publish it to waiters and cache."""
        m = self.manifest
        start = self._spans[run.start][0]
        end_offset, end_len = self._spans[run[-1]]
        data = memoryview(self._storage.fetch(m.payload, start, end_offset + end_len - start))
        if len(data) != end_offset + end_len - start:
            raise IntegrityError(f"{self._storage.describe(m.payload)}: shorter than its table")
        ctx = self._contexts.get()
        out: dict[int, bytes] = {}
        for i in run:
            offset, length = self._spans[i]
            plain = bytearray(m.chunk_plain_len(i))
            try:
                ctx.open_into(
                    i,
                    data[offset - start : offset - start + length],
                    self._leaves[32 * i : 32 * i + 32],
                    plain,
                )
            except IntegrityError as error:
                raise IntegrityError(
                    f"chunk {i} of {self.name} failed verification", status=error.status, chunk=i
                ) from None
            out[i] = bytes(plain)
            with self._lock:
                self._remember(i, out[i])
                flight = self._flights.pop(i)
            flight.data = out[i]
            flight.done.set()
        return out

    def _remember(self, index: int, data: bytes) -> None:
        """Cache a verified chunk, evicting the least recently used (lock held)."""
        self._cache[index] = data
        self._cache_bytes += len(data)
        while self._cache_bytes > self._cache_limit and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= len(old)

    # ---- lifetime ---------------------------------------------------------------

    def close(self) -> None:
        """Stop prefetching, wipe the key, drop the cache, release storage."""
        if self._closed:
            return
        self._closed = True
        self._prefetcher.shutdown(wait=True, cancel_futures=True)
        self._contexts.close()
        with self._lock:
            self._cache.clear()
            self._cache_bytes = 0
        self._storage.close()

    def __enter__(self) -> Self:
        """Use as a context manager."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the archive."""
        self.close()

    def __repr__(self) -> str:
        """Name and version only."""
        return f"Archive(name={self.name!r}, version={self.version})"


def _runs(indices: list[int]) -> list[range]:
    """Consecutive runs of sorted chunk indices."""
    runs: list[range] = []
    for i in indices:
        if runs and runs[-1].stop == i:
            runs[-1] = range(runs[-1].start, i + 1)
        else:
            runs.append(range(i, i + 1))
    return runs


class _ArchiveFile(io.RawIOBase):
    """Raw, seekable reads of one archive file; sequential reads prefetch ahead."""

    def __init__(self, archive: Archive, entry: Entry) -> None:
        super().__init__()
        self._archive = archive
        self._entry = entry
        self._pos = 0
        self.name = entry.path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._entry.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._archive.read_range(self._entry, self._pos, len(buffer))
        n = len(data)
        memoryview(buffer)[:n] = data
        self._pos += n
        if n and self._pos < self._entry.size:
            size = self._archive.manifest.chunk_size
            self._archive.prefetch((self._entry.offset + self._pos) // size + 1)
        return n


def open_archive(
    source: str | os.PathLike[str],
    *,
    trust: Sequence[PublicKey],
    kek: KeyProvider,
    name: str | None = None,
    min_version: int | None = None,
    threshold: int = 1,
    endpoint_url: str | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_violation: Callable[[dict[str, Any]], None] | None = None,
    max_memory: int = limits.DEFAULT_MAX_MEMORY,
) -> Archive:
    """Open a sealed archive (folder or s3:// URL) for lazy, verified reads.

    Checks the manifest's signatures and policy (as :func:`coldseal.verify`
    does), the chunk table and the whole Merkle tree, and reads the file
    index; file bytes are fetched and verified only when read.
    ``max_memory`` bounds what the open holds for the table, tree and index
    (see :mod:`coldseal.limits`). Raises IntegrityError, UsageError or
    StorageError. ``on_event`` and ``on_violation`` receive the open's audit
    event as for :func:`coldseal.verify`.
    """
    with audit.reporting("open", on_event, on_violation) as event:
        event["source"] = str(source)
        return _open_archive(
            event,
            source,
            trust=trust,
            kek=kek,
            name=name,
            min_version=min_version,
            threshold=threshold,
            endpoint_url=endpoint_url,
            cache_bytes=cache_bytes,
            max_memory=max_memory,
        )


def _open_archive(
    event: dict[str, Any],
    source: str | os.PathLike[str],
    *,
    trust: Sequence[PublicKey],
    kek: KeyProvider,
    name: str | None = None,
    min_version: int | None = None,
    threshold: int = 1,
    endpoint_url: str | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    max_memory: int = limits.DEFAULT_MAX_MEMORY,
) -> Archive:
    """The body of :func:`open_archive`, filling ``event`` as facts become known."""
    storage = open_storage(source, endpoint_url=endpoint_url)
    contexts: ThreadContexts | None = None
    try:
        raw = storage.fetch(mf.MANIFEST_FILE, 0, mf.MAX_MANIFEST_BYTES + 1)
        if len(raw) > mf.MAX_MANIFEST_BYTES:
            raise IntegrityError(f"{storage.describe(mf.MANIFEST_FILE)}: over the size limit")
        signed = mf.decode(bytes(raw))
        m = signed.manifest
        admit(signed, event, trust, threshold=threshold, name=name, min_version=min_version)
        # The tail read below holds the index chunks, the table and the tree.
        limits.fit_threads(m, 1, request_size=0, io_workers=0, max_memory=max_memory)
        dek = unwrap_dek(kek, m)
        try:
            contexts = ThreadContexts(dek, m.archive_id, m.chunk_size)
        finally:
            dek.close()
        base = m.index_sealed_offset
        tail_bytes = memoryview(storage.fetch(m.payload, base, m.payload_size - base))
        if len(tail_bytes) != m.payload_size - base or storage.size(m.payload) != m.payload_size:
            raise IntegrityError(f"{storage.describe(m.payload)} does not have the manifest's size")
        spans = tail.parse_table(tail_bytes[m.table_offset - base : m.tree_offset - base], m)
        leaves = tail.check_tree(tail_bytes[m.tree_offset - base :], m)
        ctx = contexts.get()
        first = m.index_offset // m.chunk_size
        index = bytearray()
        for i in range(first, m.chunk_count):
            offset, length = spans[i]
            plain = bytearray(m.chunk_plain_len(i))
            ctx.open_into(
                i,
                tail_bytes[offset - base : offset - base + length],
                leaves[32 * i : 32 * i + 32],
                plain,
            )
            index += plain
        del index[: m.index_offset - first * m.chunk_size]
        entries = index_format.decode(index, m.index_offset)
        return Archive(storage, signed, spans, leaves, entries, contexts, cache_bytes)
    except BaseException:
        # The contexts hold a copy of the DEK: wipe it when the open fails too.
        if contexts is not None:
            contexts.close()
        storage.close()
        raise


open = open_archive  # noqa: A001 - coldseal.open reads like the builtin on purpose


def cat(archive: Archive, path: str, out: IO[bytes]) -> int:
    """Write the verified bytes of ``path`` to ``out`` chunk by chunk; returns bytes written."""
    e = archive._entry(path)  # noqa: SLF001 - same module family
    if e.kind != FILE:
        raise UsageError(f"{path}: not a regular file")
    size = archive.manifest.chunk_size
    written = 0
    while written < e.size:
        piece = archive.read_range(e, written, size)
        out.write(piece)
        written += len(piece)
    return written
