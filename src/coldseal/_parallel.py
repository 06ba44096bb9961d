"""Run chunk work on every granted core with Python threads.

cffi releases the GIL for the whole of each core call (about a millisecond
per MiB of chunk), so plain threads, each owning its own
:class:`~coldseal._native.ChunkContext`, keep every core busy. The
alternative, the core's own pthread pool behind ``cs_open_chunks``, is
measured against this in ``benchmarks/test_core.py``; ``docs/parallelism.md``
records why this one is used.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Self, TypeVar

from coldseal import _native

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

    from coldseal._native import BytesLike, OpenJob

T = TypeVar("T")
R = TypeVar("R")


class ThreadContexts:
    """One chunk context per thread, created on first use, for one archive."""

    def __init__(
        self, dek: BytesLike | _native.Secret, archive_id: BytesLike, max_chunk: int, level: int = 3
    ) -> None:
        """Remember how to build contexts; none is built until a thread asks."""
        self._dek = _native.Secret.copy_of(dek)
        self._archive_id = bytes(archive_id)
        self._max_chunk = max_chunk
        self._level = level
        self._local = threading.local()

    def get(self) -> _native.ChunkContext:
        """This thread's context."""
        ctx: _native.ChunkContext | None = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = _native.ChunkContext(self._dek, self._archive_id, self._max_chunk, self._level)
            self._local.ctx = ctx
        return ctx

    def close(self) -> None:
        """Wipe the key copy; contexts die with their threads."""
        self._dek.close()


def ordered_map(fn: Callable[[T], R], items: Iterable[T], threads: int, window: int) -> Iterator[R]:
    """``map(fn, items)`` on ``threads`` threads, in order, at most ``window`` in flight.

    The window bounds memory whatever the number of items. If a call fails,
    or the consumer stops early, queued calls are cancelled and running ones
    finish before the exception propagates.
    """
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="coldseal")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class ChunkOpener:
    """A pool of threads that verify and open chunks of one archive."""

    def __init__(
        self, dek: BytesLike | _native.Secret, archive_id: BytesLike, max_chunk: int, threads: int
    ) -> None:
        """Start a pool of ``threads`` workers for chunks of up to ``max_chunk`` bytes."""
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._contexts = ThreadContexts(dek, archive_id, max_chunk)
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="coldseal-open")

    def _open(self, job: OpenJob) -> None:
        self._contexts.get().open_into(job.index, job.sealed, job.leaf, job.out)

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
        self._contexts.close()

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
