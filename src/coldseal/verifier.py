"""Verification: trust nothing that the signed manifest does not fix.

Order of checks (each fails closed, with one clear reason):

1. the manifest parses strictly and carries at least ``threshold`` valid
   signatures by distinct trusted keys;
2. its name is the one the caller expects, it has not expired, its version
   is at least ``min_version`` and not older than the trust state's;
3. the KEK is the one the data key was wrapped under, and unwraps it;
4. the payload has exactly the manifest's size; the chunk table matches its
   signed hash; the whole Merkle tree recomputes from its leaves to the
   signed root;
5. every chunk is read, its leaf checked, decrypted and decompressed by the
   C core on every granted core, a bounded window in flight; the file index
   (the stream's last chunks) is verified and checked first;
6. with ``out``, files are written into a temporary folder renamed into
   place only after the last chunk verified; the trust state is advanced.

Without a KEK, step 5 checks every chunk's leaf against the tree (the tree
is over ciphertext): a keyless audit that proves integrity without being
able to read the code.
"""

from __future__ import annotations

import functools
import hmac
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from coldseal import _native, audit, limits, trust_state
from coldseal._atomic import AtomicFolder
from coldseal._cpus import granted_cpus
from coldseal._parallel import ThreadContexts, ordered_map
from coldseal.errors import IntegrityError, StorageError, UsageError
from coldseal.extract import Extractor
from coldseal.format import index as index_format
from coldseal.format import manifest as mf
from coldseal.format import tail
from coldseal.format.paths import FILE
from coldseal.keyproviders import DekContext
from coldseal.storage import open_storage

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator, Sequence

    from coldseal._native import Secret
    from coldseal.format.index import Entry
    from coldseal.keyproviders import KeyProvider
    from coldseal.keys import PublicKey
    from coldseal.storage import Storage


@dataclass
class Report:
    """What a verification established, and what it cost."""

    name: str
    version: int
    archive_id: str
    merkle_root: str
    signers: list[str]
    chunks: int
    plain_bytes: int
    sealed_bytes: int
    files: int
    decrypted: bool
    extracted_to: str | None
    threads: int
    seconds: dict[str, float] = field(default_factory=dict)
    io: dict[str, float] = field(default_factory=dict)
    manifest_digest: str = ""
    kek_id: str = ""
    expires: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class _Archive:
    """The state verification builds up, phase by phase."""

    storage: Storage
    manifest: mf.Manifest
    spans: list[tuple[int, int]]
    leaves: bytes


def load_manifest(storage: Storage) -> mf.SignedManifest:
    """Read and strictly parse the manifest object."""
    return mf.decode(storage.read_object(mf.MANIFEST_FILE, mf.MAX_MANIFEST_BYTES))


def admit(
    signed: mf.SignedManifest,
    event: dict[str, Any],
    trust: Sequence[PublicKey],
    *,
    threshold: int = 1,
    name: str | None = None,
    min_version: int | None = None,
    allow_expired: bool = False,
) -> list[str]:
    """Record the manifest in the audit ``event``, then apply :func:`check_policy`.

    The public fields go in first, so a refused archive is still named in
    the audit line; returns the trusted signers (also recorded).
    """
    manifest = signed.manifest
    event.update(
        name=manifest.name,
        version=manifest.version,
        archive_id=manifest.archive_id.hex(),
        merkle_root=manifest.merkle_root.hex(),
        manifest_digest=_native.b3_hash(signed.encode()).hex(),
        kek_id=manifest.dek.kek_id,
    )
    signers = check_policy(
        signed,
        trust,
        threshold=threshold,
        name=name,
        min_version=min_version,
        allow_expired=allow_expired,
    )
    event["signers"] = signers
    return signers


def check_policy(
    signed: mf.SignedManifest,
    trust: Sequence[PublicKey],
    *,
    threshold: int = 1,
    name: str | None = None,
    min_version: int | None = None,
    now: float | None = None,
    allow_expired: bool = False,
) -> list[str]:
    """Signatures, name, expiry and minimum version; returns the trusted signers.

    ``allow_expired`` skips only the expiry check, for callers (scrub) that
    verify an expired archive's bytes and report its expiry themselves.
    """
    if threshold < 1:
        raise UsageError("the signature threshold must be at least 1")
    if not trust:
        raise UsageError("no trusted public key given")
    manifest = signed.manifest
    signers = signed.trusted_signers(list(trust))
    if len(signers) < threshold:
        present = ", ".join(sorted(signed.signatures)) or "none"
        raise IntegrityError(
            f"manifest has {len(signers)} valid signature(s) by trusted keys, {threshold} "
            f"required (signed by key ids: {present}; trusted: "
            f"{', '.join(k.key_id for k in trust)})"
        )
    if name is not None and manifest.name != name:
        raise IntegrityError(f"archive is named {manifest.name!r}, expected {name!r}")
    current = time.time() if now is None else now
    if not allow_expired and manifest.expires is not None and current >= manifest.expires:
        raise IntegrityError(
            f"archive {manifest.name} version {manifest.version} expired at "
            f"{time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(manifest.expires))}"
        )
    if min_version is not None and manifest.version < min_version:
        raise IntegrityError(
            f"rollback: {manifest.name} version {manifest.version} is below the minimum "
            f"{min_version}"
        )
    return signers


def load_layout(storage: Storage, manifest: mf.Manifest) -> tuple[list[tuple[int, int]], bytes]:
    """Payload size, chunk table and Merkle tree, checked against the manifest."""
    size = storage.size(manifest.payload)
    if size != manifest.payload_size:
        raise IntegrityError(
            f"{storage.describe(manifest.payload)} is {size} bytes, the manifest says "
            f"{manifest.payload_size}"
        )
    tail_len = manifest.payload_size - manifest.table_offset
    buf = bytearray(tail_len)
    storage.read_into(manifest.payload, manifest.table_offset, memoryview(buf))
    split = manifest.tree_offset - manifest.table_offset
    spans = tail.parse_table(memoryview(buf)[:split], manifest)
    leaves = tail.check_tree(memoryview(buf)[split:], manifest)
    return spans, leaves


def plan_groups(
    spans: list[tuple[int, int]],
    indices: range,
    request_size: int,
    *,
    plain: tuple[int, int] | None = None,
) -> list[range]:
    """Cut consecutive chunks into runs of at most ``request_size`` sealed bytes.

    Each run is one ranged read; a chunk larger than the request size is a
    run of its own. With ``plain = (chunk_size, limit)`` a run also holds at
    most ``limit`` plaintext bytes, so well-compressed chunks cannot make one
    small read expand into an unbounded amount of kept plaintext.
    """
    groups: list[range] = []
    start: int | None = None
    size = 0
    count = 0
    per_chunk, plain_limit = plain if plain is not None else (0, 0)
    for i in indices:
        length = spans[i][1]
        if start is not None and (
            size + length > request_size or (plain and (count + 1) * per_chunk > plain_limit)
        ):
            groups.append(range(start, i))
            start = None
        if start is None:
            start, size, count = i, 0, 0
        size += length
        count += 1
    if start is not None:
        groups.append(range(start, indices.stop))
    return groups


# A run of chunks ready to check: (chunk indices, their sealed bytes from the
# first chunk's offset, the pooled buffer holding them or None if the bytes
# are a zero-copy slice of a ranged read's own buffer).
_Unit = tuple[range, memoryview, "bytearray | None"]


def plan_blocks(spans: list[tuple[int, int]], indices: range, block: int) -> list[tuple[int, int]]:
    """(offset, length) of the ranged reads covering ``indices``, cut at multiples of ``block``.

    Reads that never cross a ``block`` boundary line up with the parts the
    payload was uploaded in (publish uses the same size), which S3 serves
    cheapest; on the test server an unaligned 8 MiB read costs ~30 % more
    server CPU.
    """
    if not indices:
        return []
    start = spans[indices.start][0]
    end = spans[indices.stop - 1][0] + spans[indices.stop - 1][1]
    blocks = []
    offset = start
    while offset < end:
        stop = min(end, (offset // block + 1) * block)
        blocks.append((offset, stop - offset))
        offset = stop
    return blocks


def assemble_units(
    reader: _ChunkReader,
    spans: list[tuple[int, int]],
    indices: range,
    blocks: list[tuple[int, int]],
    fetched: Iterator[memoryview],
    *,
    max_run: int | None = None,
) -> Iterator[_Unit]:
    """Units of chunks, in order, from aligned blocks arriving in order.

    Chunks that end inside a block and start inside it become zero-copy
    units of at most ``max_run`` chunks (which bounds the plaintext a unit
    keeps when extracting); a chunk that straddles blocks is stitched into a
    pooled buffer. Only the blocks a straddling chunk still needs are kept.
    """
    held: list[tuple[int, memoryview]] = []  # (offset, bytes) of blocks still needed
    i = indices.start
    for (offset, _), data in zip(blocks, fetched, strict=True):
        held.append((offset, data))
        block_end = offset + data.nbytes
        run_start: int | None = None
        while i < indices.stop and spans[i][0] + spans[i][1] <= block_end:
            chunk_offset, chunk_len = spans[i]
            if chunk_offset >= offset:
                if run_start is not None and max_run is not None and i - run_start >= max_run:
                    yield _slice_unit(spans, run_start, i, offset, data)
                    run_start = None
                if run_start is None:
                    run_start = i
            else:
                parts = [
                    part[max(0, chunk_offset - o) : chunk_offset + chunk_len - o]
                    for o, part in held
                    if o < chunk_offset + chunk_len and o + part.nbytes > chunk_offset
                ]
                yield reader.stitch(range(i, i + 1), parts)
            i += 1
        if run_start is not None:
            yield _slice_unit(spans, run_start, i, offset, data)
        # Keep only what a chunk still open at the block's end needs.
        if i < indices.stop:
            held = [(o, part) for o, part in held if o + part.nbytes > spans[i][0]]
        else:
            held = []


def _slice_unit(
    spans: list[tuple[int, int]], start: int, stop: int, offset: int, data: memoryview
) -> _Unit:
    """The zero-copy unit of chunks ``start..stop-1``, all inside the block at ``offset``."""
    first = spans[start][0] - offset
    last = spans[stop - 1][0] + spans[stop - 1][1] - offset
    return range(start, stop), data[first:last], None


class _ChunkReader:
    """Reads runs of chunks, verifies and (with a DEK) opens them."""

    def __init__(self, archive: _Archive, dek: Secret | None) -> None:
        self.archive = archive
        m = archive.manifest
        self.contexts = ThreadContexts(dek, m.archive_id, m.chunk_size) if dek is not None else None
        self.cpu_seconds = 0.0
        # (start, end) of every read and every check, for the time split.
        self.read_spans: list[tuple[float, float]] = []
        self.check_spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._free: list[bytearray] = []
        self._plain_free: list[bytearray] = []
        self._local = threading.local()

    def _buffer(self, size: int, *, floor: int | None = None) -> bytearray:
        """A pooled buffer of at least ``size`` bytes (new ones at least ``floor``)."""
        with self._lock:
            for i, buf in enumerate(self._free):
                if len(buf) >= size:
                    return self._free.pop(i)
        return bytearray(max(size, self.archive.storage.request_size if floor is None else floor))

    def _plain_buffer(self) -> bytearray:
        with self._lock:
            if self._plain_free:
                return self._plain_free.pop()
        return bytearray(self.archive.manifest.chunk_size)

    def release(self, plain: bytearray) -> None:
        """Give a plaintext buffer from :meth:`read_group` back for reuse."""
        with self._lock:
            self._plain_free.append(plain)

    def _scratch(self) -> bytearray:
        """A per-thread plaintext buffer for chunks nobody keeps."""
        buf: bytearray | None = getattr(self._local, "scratch", None)
        if buf is None:
            buf = bytearray(self.archive.manifest.chunk_size)
            self._local.scratch = buf
        return buf

    def fetch(self, group: range) -> _Unit:
        """One ranged read of ``group``'s sealed bytes into a pooled buffer."""
        a = self.archive
        first = a.spans[group.start][0]
        last_offset, last_len = a.spans[group[-1]]
        size = last_offset + last_len - first
        sealed = self._buffer(size)
        started = time.monotonic()
        try:
            a.storage.read_into(a.manifest.payload, first, memoryview(sealed)[:size])
        except BaseException:
            self._give_back(sealed)
            raise
        self._note(self.read_spans, started)
        return group, memoryview(sealed)[:size], sealed

    def _note(self, spans: list[tuple[float, float]], started: float) -> None:
        with self._lock:
            spans.append((started, time.monotonic()))

    def fetch_block(self, block: tuple[int, int]) -> memoryview:
        """One aligned ranged read of the payload, in the client's own response buffer."""
        offset, length = block
        started = time.monotonic()
        data = self.archive.storage.fetch(self.archive.manifest.payload, offset, length)
        self._note(self.read_spans, started)
        view = memoryview(data)
        if view.nbytes != length:
            raise StorageError(
                f"{self.archive.storage.describe(self.archive.manifest.payload)} bytes "
                f"{offset}-{offset + length}: short read ({view.nbytes} bytes)"
            )
        return view

    def stitch(self, group: range, parts: list[memoryview]) -> _Unit:
        """A unit whose bytes straddle blocks: copied once into a pooled buffer."""
        size = sum(p.nbytes for p in parts)
        # One chunk at most: size new buffers for a chunk, not for a whole read.
        sealed = self._buffer(size, floor=_native.sealed_bound(self.archive.manifest.chunk_size))
        view = memoryview(sealed)
        pos = 0
        for part in parts:
            view[pos : pos + part.nbytes] = part
            pos += part.nbytes
        return group, view[:size], sealed

    def _give_back(self, sealed: bytearray) -> None:
        with self._lock:
            self._free.append(sealed)

    def check_group(self, fetched: _Unit, *, keep: bool) -> list[tuple[int, bytearray | None]]:
        """(plaintext length, plaintext buffer) per verified chunk of a fetched group.

        With ``keep``, each chunk's plaintext is in a pooled buffer of
        ``chunk_size`` bytes (its first ``length`` bytes) that the caller hands
        back with :meth:`release`; otherwise chunks are opened into per-thread
        scratch and only verified. Keyless, only ciphertext leaves are checked.
        """
        group, view, pooled = fetched
        a = self.archive
        first = a.spans[group.start][0]
        try:
            started = time.monotonic()
            out: list[tuple[int, bytearray | None]] = []
            for index in group:
                offset, length = a.spans[index]
                body = view[offset - first : offset - first + length]
                leaf = a.leaves[32 * index : 32 * index + 32]
                plain_len = a.manifest.chunk_plain_len(index)
                if self.contexts is None:
                    if not hmac.compare_digest(_native.merkle_leaf(index, body), leaf):
                        raise IntegrityError(f"chunk {index} failed verification", chunk=index)
                    out.append((plain_len, None))
                    continue
                plain = self._plain_buffer() if keep else self._scratch()
                self.contexts.get().open_into(index, body, leaf, memoryview(plain)[:plain_len])
                out.append((plain_len, plain if keep else None))
            del body
            with self._lock:
                self.cpu_seconds += time.monotonic() - started
                self.check_spans.append((started, time.monotonic()))
        finally:
            if pooled is not None:
                self._give_back(pooled)
        return out

    def read_group(self, group: range, *, keep: bool) -> list[tuple[int, bytearray | None]]:
        """Fetch and check ``group`` on the calling thread (see :meth:`check_group`)."""
        return self.check_group(self.fetch(group), keep=keep)

    def close(self) -> None:
        if self.contexts is not None:
            self.contexts.close()


def _read_chunks(
    reader: _ChunkReader, indices: range, threads: int, *, keep: bool
) -> Iterator[tuple[int, tuple[int, bytearray | None]]]:
    """(index, (length, plaintext)) for ``indices`` in order, reads and crypto overlapped.

    Local files: each worker reads a run and opens it (measured fastest, see
    docs/parallelism.md). Remote storage: a pool of I/O workers keeps
    ``storage.concurrency`` ranged reads in flight while a pool of one worker
    per CPU verifies what has arrived, so neither waits for the other.
    """
    a = reader.archive
    request = a.storage.request_size
    chunk = a.manifest.chunk_size
    plain_limit = limits.group_plain_limit(request, chunk) if keep else None
    check = functools.partial(reader.check_group, keep=keep)
    io_workers = a.storage.concurrency
    if io_workers == 0:
        plain = (chunk, plain_limit) if plain_limit is not None else None
        groups = plan_groups(a.spans, indices, request, plain=plain)
        fn = functools.partial(reader.read_group, keep=keep)
        for group, chunks in zip(
            groups, ordered_map(fn, groups, threads, 2 * threads + 2), strict=True
        ):
            yield from zip(group, chunks, strict=True)
        return
    blocks = plan_blocks(a.spans, indices, request)
    fetched = ordered_map(reader.fetch_block, blocks, io_workers, io_workers + 2)
    max_run = None if plain_limit is None else max(1, plain_limit // chunk)
    units = assemble_units(reader, a.spans, indices, blocks, fetched, max_run=max_run)

    # The unit's group travels with its result, so results stay matched to chunks.
    def check_unit(unit: _Unit) -> tuple[range, list[tuple[int, bytearray | None]]]:
        return unit[0], check(unit)

    for group, chunks in ordered_map(check_unit, units, threads, threads + 2):
        yield from zip(group, chunks, strict=True)


def _read_index(reader: _ChunkReader, manifest: mf.Manifest, threads: int) -> list[Entry]:
    """Verify the chunks holding the file index and parse it."""
    first = manifest.index_offset // manifest.chunk_size
    data = bytearray()
    for _, (length, plain) in _read_chunks(
        reader, range(first, manifest.chunk_count), threads, keep=True
    ):
        if plain is not None:
            data += memoryview(plain)[:length]
            reader.release(plain)
    del data[: manifest.index_offset - first * manifest.chunk_size]
    return index_format.decode(data, manifest.index_offset)


def verify(
    source: str | os.PathLike[str],
    *,
    trust: Sequence[PublicKey],
    kek: KeyProvider | None = None,
    name: str | None = None,
    out: str | os.PathLike[str] | None = None,
    min_version: int | None = None,
    state: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    threshold: int = 1,
    progress: Callable[[int, int], None] | None = None,
    endpoint_url: str | None = None,
    deadline: float | None = None,
    request_size: int | None = None,
    allow_expired: bool = False,
    storage: Storage | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_violation: Callable[[dict[str, Any]], None] | None = None,
    max_memory: int = limits.DEFAULT_MAX_MEMORY,
) -> Report:
    """Verify the sealed archive at ``source``; with ``out``, extract it there atomically.

    Raises IntegrityError (tampering, bad or untrusted signatures, rollback,
    wrong name or key), UsageError or StorageError; on any failure nothing is
    written. ``progress(done, total)`` is called with bytes as chunks verify.
    ``deadline`` (seconds) bounds the whole run; ``endpoint_url`` overrides
    ``AWS_ENDPOINT_URL`` and ``request_size`` sets the bytes per ranged GET
    for s3:// sources. ``allow_expired`` verifies an expired archive instead
    of refusing it (the report's ``expires`` says when it expired).
    ``storage``, an already opened backend for ``source``, is read instead
    of opening one (it then carries its own deadline); verify closes it.
    ``max_memory`` bounds the buffers verification holds (see
    :mod:`coldseal.limits`): fewer threads run if that is needed to fit, and
    an archive that does not fit at all is refused before it is read.
    ``on_event(event)`` receives the audit event of the
    run (the same fields as a ``--audit-log`` line, never key material) and
    ``on_violation(event)`` also receives it when verification fails for
    integrity reasons; see :func:`coldseal.audit.reporting`.
    """
    with audit.reporting("verify", on_event, on_violation) as event:
        event["source"] = str(source)
        return _verify(
            event,
            source,
            trust=trust,
            kek=kek,
            name=name,
            out=out,
            min_version=min_version,
            state=state,
            threads=threads,
            threshold=threshold,
            progress=progress,
            endpoint_url=endpoint_url,
            deadline=deadline,
            request_size=request_size,
            allow_expired=allow_expired,
            storage=storage,
            max_memory=max_memory,
        )


def _verify(
    event: dict[str, Any],
    source: str | os.PathLike[str],
    *,
    trust: Sequence[PublicKey],
    kek: KeyProvider | None = None,
    name: str | None = None,
    out: str | os.PathLike[str] | None = None,
    min_version: int | None = None,
    state: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    threshold: int = 1,
    progress: Callable[[int, int], None] | None = None,
    endpoint_url: str | None = None,
    deadline: float | None = None,
    request_size: int | None = None,
    allow_expired: bool = False,
    storage: Storage | None = None,
    max_memory: int = limits.DEFAULT_MAX_MEMORY,
) -> Report:
    """The body of :func:`verify`, filling ``event`` as facts become known."""
    if out is not None and kek is None:
        raise UsageError("extracting needs the KEK (--kek) to decrypt")
    threads = threads or granted_cpus()
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[phase] = timings.get(phase, 0.0) + now - clock
        clock = now

    if deadline is not None and deadline <= 0:
        raise UsageError("the deadline must be positive")
    until = None if deadline is None else time.monotonic() + deadline
    if storage is None:
        storage = open_storage(
            source, endpoint_url=endpoint_url, deadline=until, request_size=request_size
        )
    try:
        signed = load_manifest(storage)
        manifest = signed.manifest
        signers = admit(
            signed,
            event,
            trust,
            threshold=threshold,
            name=name,
            min_version=min_version,
            allow_expired=allow_expired,
        )
        if state is not None:
            with trust_state.locked(state) as archives:
                trust_state.check(archives, manifest)
        threads = limits.fit_threads(
            manifest,
            threads,
            request_size=storage.request_size,
            io_workers=storage.concurrency,
            max_memory=max_memory,
        )
        lap("manifest")
        dek = unwrap_dek(kek, manifest, until) if kek is not None else None
        lap("keys")
        try:
            spans, leaves = load_layout(storage, manifest)
            lap("layout")
            archive = _Archive(storage, manifest, spans, leaves)
            files, split = _verify_chunks(archive, dek, out, threads, progress, state, lap, until)
        finally:
            if dek is not None:
                dek.close()
        io_stats = {**storage.stats_json(), **split}
    finally:
        storage.close()
        event["seconds"] = {k: round(v, 6) for k, v in timings.items()}
    return Report(
        name=manifest.name,
        version=manifest.version,
        archive_id=manifest.archive_id.hex(),
        merkle_root=manifest.merkle_root.hex(),
        signers=signers,
        chunks=manifest.chunk_count,
        plain_bytes=manifest.plain_size,
        sealed_bytes=manifest.payload_size,
        files=files,
        decrypted=dek is not None,
        extracted_to=str(out) if out is not None else None,
        threads=threads,
        seconds=timings,
        io=io_stats,
        manifest_digest=event["manifest_digest"],
        kek_id=manifest.dek.kek_id,
        expires=manifest.expires,
    )


def unwrap_dek(kek: KeyProvider, manifest: mf.Manifest, deadline: float | None = None) -> Secret:
    """The archive's data key (close it after use); IntegrityError for the wrong KEK."""
    context = DekContext(manifest.name, manifest.archive_id, deadline)
    return kek.unwrap_data_key(manifest.dek, context)


def _verify_chunks(
    archive: _Archive,
    dek: Secret | None,
    out: str | os.PathLike[str] | None,
    threads: int,
    progress: Callable[[int, int], None] | None,
    state: str | os.PathLike[str] | None,
    lap: Callable[[str], None],
    until: float | None,
) -> tuple[int, dict[str, float]]:
    """Phase 5 and 6; returns the number of files in the index, and the time split."""
    m = archive.manifest
    reader = _ChunkReader(archive, dek)
    try:
        entries: list[Entry] | None = None
        if dek is not None:
            entries = _read_index(reader, m, threads)
            lap("index")
        folder = AtomicFolder(out) if out is not None else None
        extractor: Extractor | None = None
        try:
            if folder is not None and entries:
                extractor = Extractor(folder.path, entries)
            content_chunks = _content_chunk_range(m) if dek is not None else range(m.chunk_count)
            done = 0
            phase_start = time.monotonic()
            chunks = _read_chunks(reader, content_chunks, threads, keep=extractor is not None)
            for index, (plain_len, plain) in chunks:
                # Local reads have no network timeout to enforce the deadline:
                # check it here too, so a huge archive cannot run past it.
                if until is not None and time.monotonic() > until:
                    if plain is not None:
                        reader.release(plain)
                    raise StorageError("deadline exceeded while verifying chunks")
                if extractor is not None and plain is not None:
                    start = index * m.chunk_size
                    end = min(start + plain_len, m.index_offset)
                    extractor.feed(memoryview(plain)[: end - start])
                    reader.release(plain)
                done += plain_len
                if progress is not None:
                    progress(done, m.plain_size)
            split = time_split(reader, phase_start, time.monotonic())
            if extractor is not None:
                extractor.finish()
            lap("chunks")
            if state is not None:
                with trust_state.locked(state) as archives:
                    trust_state.check(archives, m)
                    trust_state.record(archives, m)
            if folder is not None:
                folder.commit()
                lap("extract")
        finally:
            if extractor is not None:
                extractor.abort()
            if folder is not None:
                folder.abort()
    finally:
        reader.close()
    files = 0 if entries is None else sum(1 for e in entries if e.kind == FILE)
    return files, {"cpu_seconds": round(reader.cpu_seconds, 6), **split}


def _covered(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Seconds of [lo, hi] covered by at least one of ``spans``."""
    total, reach = 0.0, lo
    for begin, finish in sorted(spans):
        start, end = max(begin, reach), min(finish, hi)
        if end > start:
            total += end - start
            reach = end
    return total


def time_split(reader: _ChunkReader, lo: float, hi: float) -> dict[str, float]:
    """Where the wall time of the chunk phase went: reading, checking, both, neither."""
    reading = _covered(reader.read_spans, lo, hi)
    checking = _covered(reader.check_spans, lo, hi)
    either = _covered(reader.read_spans + reader.check_spans, lo, hi)
    wall = max(hi - lo, 1e-9)
    return {
        "chunk_phase_seconds": round(wall, 6),
        "network_busy_seconds": round(reading, 6),
        "cpu_busy_seconds": round(checking, 6),
        "overlap_seconds": round(reading + checking - either, 6),
        "idle_seconds": round(wall - either, 6),
        "idle_share": round((wall - either) / wall, 4),
    }


def _content_chunk_range(m: mf.Manifest) -> range:
    """Chunks holding file content (the index chunks were verified already)."""
    if m.index_offset == 0:
        return range(0)
    return range((m.index_offset - 1) // m.chunk_size + 1)
