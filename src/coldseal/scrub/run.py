"""The scrub driver: listing in, bounded tasks out, one record per archive.

How the work is cut and fed (the reasons are measurements of Dask on this
kind of machine, see ``docs/scale.md``):

* small archives are packed into one task until it holds about
  ``task_seconds`` of estimated work, because a task costs a few
  milliseconds of scheduling; the estimate (a fixed cost per archive plus
  bytes at a rate) starts from defaults and learns from finished records;
* at most ``window`` tasks are in flight, refilled as results arrive, and
  the listing is pulled only to refill the window: Dask applies no
  backpressure of its own, and the driver's memory stays flat;
* integrity verdicts are final; storage verdicts get one second pass after
  the first, in case the fault was transient;
* a task that ended in an exception (a killed worker the scheduler gave up
  on, a bug) is re-run one archive per task, so a poison archive is named
  in an ``error`` record and the rest of its batch is still verified.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from coldseal.scrub.report import Summary
from coldseal.scrub.task import ArchiveRef, Record, Status

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from coldseal.scrub.engines import Engine
    from coldseal.scrub.task import Options

DEFAULT_TASK_SECONDS = 1.0
MAX_BATCH = 256


class CostModel:
    """Seconds one archive is expected to take: a fixed part plus bytes at a rate."""

    SMALL = 1 << 20
    LARGE = 8 << 20

    def __init__(self, fixed_s: float = 0.03, rate: float = 100e6) -> None:
        """Start from ``fixed_s`` per archive and ``rate`` bytes per second."""
        self.fixed_s = fixed_s
        self.rate = rate

    def estimate(self, ref: ArchiveRef) -> float:
        """Expected seconds for ``ref``."""
        return self.fixed_s + ref.bytes / self.rate

    def learn(self, record: Record) -> None:
        """Move the estimates towards what a fully verified archive cost."""
        if record.status not in (Status.OK, Status.EXPIRED, Status.EXPIRING):
            return
        if record.bytes < self.SMALL:
            self.fixed_s += 0.2 * (record.seconds - self.fixed_s)
        elif record.bytes >= self.LARGE:
            rate = record.bytes / max(record.seconds - self.fixed_s, 1e-3)
            self.rate += 0.2 * (rate - self.rate)


@dataclass(frozen=True)
class _Task:
    batch: list[ArchiveRef]
    attempt: int  # 1: first pass, 2: the storage second pass
    single: bool  # a re-run of one archive of a crashed batch


def batches(
    refs: Iterable[ArchiveRef], model: CostModel, task_seconds: float, workers: int = 1
) -> Iterator[list[ArchiveRef]]:
    """Pack ``refs`` into batches of about ``task_seconds`` of estimated work.

    The listing is read a bounded stretch ahead (about two tasks per worker).
    Once it has ended, the work left is cut finer, into about one
    ``2 * workers``-th of what remains per batch (down to a tenth of
    ``task_seconds``): a small scrub still spreads over every worker, and the
    last tasks are short, so workers finish together instead of one of them
    working through a last big batch alone.
    """
    spread = 2 * workers
    source = iter(refs)
    ahead: deque[tuple[ArchiveRef, float]] = deque()
    buffered = 0.0
    exhausted = False
    while True:
        while (
            not exhausted and buffered < spread * task_seconds and len(ahead) < spread * MAX_BATCH
        ):
            ref = next(source, None)
            if ref is None:
                exhausted = True
                break
            cost = model.estimate(ref)
            ahead.append((ref, cost))
            buffered += cost
        if not ahead:
            return
        target = task_seconds
        if exhausted:
            target = min(task_seconds, max(buffered / spread, task_seconds / 10))
        batch: list[ArchiveRef] = []
        cost = 0.0
        while ahead and cost < target and len(batch) < MAX_BATCH:
            ref, estimate = ahead.popleft()
            batch.append(ref)
            cost += estimate
            buffered -= estimate
        yield batch


def scrub(
    listing: Iterable[ArchiveRef | Record],
    engine: Engine,
    options: Options,
    sink: Callable[[Record], None],
    *,
    task_seconds: float = DEFAULT_TASK_SECONDS,
    window: int | None = None,
) -> Summary:
    """Verify every archive of ``listing`` on ``engine``, passing each final record to ``sink``.

    ``listing`` yields archives to verify, and records already decided (an
    incomplete prefix), in listing order; it is consumed lazily. Returns the
    summary; its ``exit_code`` follows the CLI contract.
    """
    started = time.monotonic()
    summary = Summary(engine=engine.name, workers=engine.workers)
    limit = window or 2 * summary.workers + 2
    model = CostModel()
    retry: list[ArchiveRef] = []

    def emit(record: Record) -> None:
        summary.add(record)
        sink(record)

    def archives() -> Iterator[ArchiveRef]:
        for item in listing:
            if isinstance(item, Record):
                emit(item)
            else:
                yield item

    def finished(task: _Task, outcome: list[Record] | BaseException) -> Iterator[_Task]:
        """Emit a task's records; yield the tasks it leaves to run."""
        if isinstance(outcome, BaseException):
            if not task.single:
                summary.split_tasks += len(task.batch)
                for ref in task.batch:
                    yield _Task([ref], task.attempt, single=True)
                return
            (ref,) = task.batch
            emit(
                Record(
                    ref.url,
                    Status.ERROR,
                    ref.bytes,
                    reason=f"the task verifying this archive failed twice, the second time "
                    f"alone ({_describe(outcome)}); a poison archive, or a broken worker",
                    attempts=task.attempt,
                )
            )
            return
        for record in outcome:
            model.learn(record)
            if record.status is Status.STORAGE and task.attempt == 1:
                retry.append(ArchiveRef(record.url, record.bytes))
            else:
                emit(replace(record, attempts=task.attempt))

    def run_pass(todo: Iterator[list[ArchiveRef]], attempt: int) -> None:
        inflight: dict[object, _Task] = {}
        extra: deque[_Task] = deque()
        exhausted = False
        while True:
            while len(inflight) < limit:
                if extra:
                    task = extra.popleft()
                else:
                    batch = None if exhausted else next(todo, None)
                    if batch is None:
                        exhausted = True
                        break
                    task = _Task(batch, attempt, single=False)
                inflight[engine.submit(task.batch, options)] = task
                summary.tasks += 1
            if not inflight:
                return
            for handle in engine.wait(list(inflight)):
                task = inflight.pop(handle)
                extra.extend(finished(task, engine.outcome(handle)))

    run_pass(batches(archives(), model, task_seconds, summary.workers), 1)
    if retry:
        summary.second_pass = len(retry)
        again, retry = retry, []
        run_pass(batches(again, model, task_seconds, summary.workers), 2)
    summary.seconds = time.monotonic() - started
    return summary


def _describe(error: BaseException) -> str:
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
