"""Open the chunks of one archive on every granted core with Python threads.

cffi releases the GIL for the whole of each ``cs_open_chunk`` call (about a
millisecond per MiB), so plain threads, each owning one
:class:`~coldseal._native.ChunkContext`, keep every core busy. The
alternative, the core's own pthread pool behind ``cs_open_chunks``, is
measured against this in ``benchmarks/test_core.py``; ``docs/parallelism.md``
records why this one is used.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Self

from coldseal import _native

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from coldseal._native import BytesLike, OpenJob


class ChunkOpener:
    """A pool of threads that verify and open chunks of one archive.

    Each worker thread lazily creates its own chunk context (key schedule,
    zstd context, scratch buffer) and keeps it for the pool's life, so no
    context is ever shared between threads.
    """

    def __init__(self, dek: BytesLike, archive_id: BytesLike, max_chunk: int, threads: int) -> None:
        """Start a pool of ``threads`` workers for chunks of up to ``max_chunk`` bytes."""
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._dek = bytes(dek)
        self._archive_id = bytes(archive_id)
        self._max_chunk = max_chunk
        self._local = threading.local()
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="coldseal-open")

    def _context(self) -> _native.ChunkContext:
        ctx: _native.ChunkContext | None = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = _native.ChunkContext(self._dek, self._archive_id, self._max_chunk)
            self._local.ctx = ctx
        return ctx

    def _open(self, job: OpenJob) -> None:
        self._context().open_into(job.index, job.sealed, job.leaf, job.out)

    def submit(self, job: OpenJob) -> Future[None]:
        """Queue one chunk; the future raises IntegrityError if it fails."""
        return self._pool.submit(self._open, job)

    def open_all(self, jobs: Iterable[OpenJob]) -> None:
        """Open every job, then raise the first failure in job order, if any."""
        futures = [self.submit(job) for job in jobs]
        first: BaseException | None = None
        for future in futures:
            error = future.exception()
            if error is not None and first is None:
                first = error
        if first is not None:
            raise first

    def close(self) -> None:
        """Stop the workers; their contexts (and key schedules) are freed."""
        self._pool.shutdown(wait=True)
        self._dek = b""

    def __enter__(self) -> Self:
        """Use the pool as a context manager."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the pool."""
        self.close()
