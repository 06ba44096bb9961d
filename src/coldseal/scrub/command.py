"""The ``coldseal scrub`` command: options in, report, audit events and exit status out.

Per archive it writes one report line, one audit event (``--audit-log``) and,
for an integrity failure, runs the violation hook (``--on-violation``) with
that archive's event, on the driver, as results arrive. The command's own
audit event follows at the end, as for every command.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from coldseal.errors import IntegrityError, StorageError

if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from coldseal.scrub.engines import Engine
    from coldseal.scrub.report import Summary
    from coldseal.scrub.task import Record

DAY_S = 86400


def make_engine(kind: str, *, scheduler: str | None, workers: int | None) -> Engine:
    """The engine ``kind`` (``local`` or ``dask``) names."""
    from coldseal.errors import UsageError  # noqa: PLC0415
    from coldseal.scrub.engines import DaskEngine, LocalEngine  # noqa: PLC0415

    if kind == "dask":
        return DaskEngine(scheduler, workers)
    if scheduler is not None:
        raise UsageError("--scheduler needs --engine dask")
    return LocalEngine(workers)


def run(args: argparse.Namespace) -> int:
    """Scrub ``args.url`` as the parsed command line says; returns the exit status."""
    from coldseal import audit  # noqa: PLC0415
    from coldseal.keys import PublicKey  # noqa: PLC0415
    from coldseal.scrub.listing import group_archives, list_objects  # noqa: PLC0415
    from coldseal.scrub.report import ReportFile  # noqa: PLC0415
    from coldseal.scrub.run import scrub  # noqa: PLC0415
    from coldseal.scrub.task import Options, Status, _load_kek  # noqa: PLC0415
    from coldseal.storage.s3 import parse_url  # noqa: PLC0415

    bucket, _ = parse_url(args.url)
    trust = tuple(PublicKey.load(p).raw for p in args.trust)
    kek_spec = None if args.no_decrypt else args.kek
    if kek_spec is not None and args.engine == "local":
        # Same machine as the workers: a KEK that does not load is a usage error now,
        # not one error record per archive later.
        _load_kek(kek_spec).close()
    options = Options(
        trust=trust,
        kek=kek_spec,
        endpoint_url=args.endpoint_url,
        threads=args.verify_threads,
        archive_deadline=args.archive_deadline,
        expiring_within=args.expiring_within * DAY_S,
    )
    hook, log = args.on_violation, args.audit_log
    # Violations are reported per archive below; the command-level event must not run it again.
    args.on_violation = None
    hook_problems: list[str] = []
    # With the report on stdout, the lines for people go to stderr.
    human = sys.stderr if args.report == "-" else sys.stdout

    def sink(record: Record) -> None:
        if report is not None:
            report.write(record.to_json())
        if record.status not in (Status.OK, Status.EXPIRING):
            human.write(f"{record.status.value:10} {record.url}: {record.reason}\n")
        if not (hook or log):
            return
        event = audit.make_event(
            "scrub-archive",
            record.status.value,
            **{k: v for k, v in record.to_json().items() if k != "status"},
        )
        if log:
            audit.append(log, event)
        if hook and record.status is Status.INTEGRITY:
            problem = audit.run_hook(hook, event)
            if problem:
                hook_problems.append(problem)

    report = ReportFile(args.report) if args.report else None
    try:
        engine = make_engine(args.engine, scheduler=args.scheduler, workers=args.workers)
        try:
            objects = list_objects(args.url, endpoint_url=args.endpoint_url)
            summary = scrub(
                group_archives(objects, bucket),
                engine,
                options,
                sink,
                task_seconds=args.task_seconds,
            )
        finally:
            engine.close()
        if report is not None:
            report.write(summary.to_json())
            report.commit()
    except BaseException:
        if report is not None:
            report.abort()
        raise
    for problem in hook_problems[:1]:
        sys.stderr.write(f"coldseal: warning: {problem}\n")
    return _conclude(args, summary, human)


def _conclude(args: argparse.Namespace, summary: Summary, human: TextIO) -> int:
    counts = ", ".join(f"{n} {s}" for s, n in summary.counts.items() if n)
    args.event.update(archives=summary.archives, counts=summary.counts, seconds=summary.seconds)
    if args.json:
        human.write(json.dumps(summary.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        human.write(
            f"scrubbed {summary.archives} archives ({summary.bytes} bytes) under {args.url} in "
            f"{summary.seconds:.2f} s on {summary.engine} with {summary.workers} workers: "
            f"{counts or 'none found'}\n"
        )
    code = summary.exit_code
    if code == 0:
        return 0
    failed = {s: n for s, n in summary.counts.items() if n and s in summary.first}
    first = summary.first["integrity" if code == 1 else next(iter(failed))]
    message = (
        f"scrub of {args.url}: "
        + ", ".join(f"{n} archive(s) {s}" for s, n in failed.items())
        + f"; first: {first.url}: {first.reason}"
    )
    raise (IntegrityError if code == 1 else StorageError)(message)
