"""Where scrub tasks run: a local thread pool, or a Dask cluster.

Both engines run :func:`coldseal.scrub.task.scrub_batch` and expose the same
four calls to the driver (submit, wait for the first of a set to finish,
take an outcome, close); everything about batching, windows and retries is
the driver's, so it is the same for both. Dask is imported only when a
:class:`DaskEngine` is made.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import TYPE_CHECKING, Any, Protocol

from coldseal._cpus import granted_cpus
from coldseal.errors import StorageError, UsageError
from coldseal.scrub.task import scrub_batch

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from coldseal.scrub.task import ArchiveRef, Options, Record

    TaskFn = Callable[[Sequence[ArchiveRef], Options], list[Record]]

CONNECT_TIMEOUT_S = 30.0


class Engine(Protocol):
    """What the driver needs from an engine."""

    name: str

    @property
    def workers(self) -> int:
        """Tasks that can run at once."""
        ...

    def submit(self, batch: list[ArchiveRef], options: Options) -> Any:  # noqa: ANN401 - a future
        """Start a task; returns a handle for :meth:`wait` and :meth:`outcome`."""
        ...

    def wait(self, handles: Sequence[Any]) -> list[Any]:
        """Block until at least one of ``handles`` has finished; return the finished."""
        ...

    def outcome(self, handle: Any) -> list[Record] | BaseException:  # noqa: ANN401
        """The task's records, or the exception that ended it."""
        ...

    def close(self) -> None:
        """Stop whatever the engine started."""
        ...


class LocalEngine:
    """Tasks on a pool of threads in this process (verify releases the GIL)."""

    name = "local"

    def __init__(self, workers: int | None = None, *, task: TaskFn = scrub_batch) -> None:
        """A pool of ``workers`` threads (default: the CPUs this process is granted)."""
        self._workers = workers or granted_cpus()
        self._task = task
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="coldseal-scrub")

    @property
    def workers(self) -> int:
        """Threads in the pool."""
        return self._workers

    def submit(self, batch: list[ArchiveRef], options: Options) -> Future[list[Record]]:
        """Queue one task on the pool."""
        return self._pool.submit(self._task, batch, options)

    def wait(self, handles: Sequence[Future[list[Record]]]) -> list[Future[list[Record]]]:
        """The finished handles, once at least one is."""
        done, _ = wait_futures(handles, return_when=FIRST_COMPLETED)
        return list(done)

    def outcome(self, handle: Future[list[Record]]) -> list[Record] | BaseException:
        """Records, or the exception that escaped the task."""
        error = handle.exception()
        return error if error is not None else handle.result()

    def close(self) -> None:
        """Cancel queued tasks and wait for running ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskEngine:
    """Tasks on a Dask cluster: the scheduler at ``scheduler``, or a LocalCluster.

    The LocalCluster has ``workers`` single-threaded worker processes under
    nannies (default: the CPUs this process is granted), so a worker killed
    mid-task is restarted and its task rerun elsewhere by the scheduler.
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        *,
        task: TaskFn = scrub_batch,
    ) -> None:
        """Connect to ``scheduler`` (tcp:// or tls://), or start a LocalCluster."""
        try:
            import distributed  # noqa: PLC0415 - only this engine needs Dask
        except ImportError:
            raise UsageError("--engine dask needs Dask: pip install 'coldseal[dask]'") from None
        # Dask's API is untyped; it stays behind this one Any-typed module handle.
        self._distributed: Any = distributed
        dist = self._distributed
        self._task = task
        self._cluster: Any = None
        try:
            if scheduler is None:
                self._cluster = dist.LocalCluster(
                    n_workers=workers or granted_cpus(),
                    threads_per_worker=1,
                    processes=True,
                    # Loopback only; no dashboard, and its HTTP routes on a free port
                    # rather than the 8787 another cluster on the machine may hold.
                    host="127.0.0.1",
                    dashboard_address=None,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.ERROR,
                )
                self.client: Any = dist.Client(self._cluster)
            else:
                self.client = dist.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            self.close()
            where = scheduler or "a local Dask cluster"
            raise StorageError(f"cannot reach {where} ({error})") from None
        except ValueError as error:
            self.close()
            raise UsageError(f"bad Dask scheduler address {scheduler!r} ({error})") from None

    @property
    def workers(self) -> int:
        """Worker threads across the cluster right now (at least 1)."""
        info = self.client.scheduler_info(n_workers=-1)
        return max(1, sum(int(w.get("nthreads", 1)) for w in info["workers"].values()))

    def submit(self, batch: list[ArchiveRef], options: Options) -> Any:  # noqa: ANN401
        """Send one task (names and options only) to the scheduler."""
        return self.client.submit(self._task, batch, options, pure=False)

    def wait(self, handles: Sequence[Any]) -> list[Any]:
        """The finished futures, once at least one is."""
        done, _ = self._distributed.wait(list(handles), return_when="FIRST_COMPLETED")
        return list(done)

    def outcome(self, handle: Any) -> list[Record] | BaseException:  # noqa: ANN401
        """Records, or what ended the task instead.

        That is the task's exception, KilledWorker after repeated worker
        deaths, or a CancelledError if the scheduler lost the task.
        """
        try:
            if handle.status == "finished":
                records: list[Record] = handle.result()
                return records
            error: BaseException = handle.exception()  # raises if it was cancelled
        except (Exception, asyncio.CancelledError) as cancelled:  # noqa: BLE001 - an outcome too
            return cancelled
        finally:
            handle.release()
        return error

    def close(self) -> None:
        """Close the client, and the LocalCluster if this engine started one."""
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
