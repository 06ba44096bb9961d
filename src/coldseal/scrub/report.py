"""The scrub report: one JSON line per archive, streamed, and a summary.

Records are written as they arrive (completion order), so a scrub of any
number of archives holds none of them in memory; the file is written under a
temporary name beside the destination and renamed into place at the end, so
a report either is complete or does not exist. Its last line is the summary.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from coldseal.errors import StorageError
from coldseal.scrub.task import Status

if TYPE_CHECKING:
    from coldseal.scrub.task import Record

EXIT_OK, EXIT_INTEGRITY, EXIT_STORAGE = 0, 1, 3


@dataclass
class Summary:
    """Counts over every record of a scrub."""

    counts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Status})
    archives: int = 0
    bytes: int = 0
    verify_seconds: float = 0.0
    tasks: int = 0
    split_tasks: int = 0
    second_pass: int = 0
    seconds: float = 0.0
    engine: str = ""
    workers: int = 0
    first: dict[str, Record] = field(default_factory=dict)  # first failure of each kind

    def add(self, record: Record) -> None:
        """Count one record."""
        self.counts[record.status.value] += 1
        self.archives += 1
        self.bytes += record.bytes
        self.verify_seconds += record.seconds
        if record.status in (Status.INTEGRITY, Status.STORAGE, Status.ERROR):
            self.first.setdefault(record.status.value, record)

    @property
    def exit_code(self) -> int:
        """1 if any integrity failure, else 3 if any storage failure or error, else 0."""
        if self.counts[Status.INTEGRITY.value]:
            return EXIT_INTEGRITY
        if self.counts[Status.STORAGE.value] or self.counts[Status.ERROR.value]:
            return EXIT_STORAGE
        return EXIT_OK

    def to_json(self) -> dict[str, Any]:
        """The summary line of the report."""
        return {
            "summary": {
                "archives": self.archives,
                "counts": dict(self.counts),
                "bytes": self.bytes,
                "seconds": round(self.seconds, 6),
                "verify_seconds": round(self.verify_seconds, 6),
                "tasks": self.tasks,
                "split_tasks": self.split_tasks,
                "second_pass": self.second_pass,
                "engine": self.engine,
                "workers": self.workers,
                "exit_status": self.exit_code,
            }
        }


class ReportFile:
    """A JSON-lines report that appears whole at ``path`` on :meth:`commit` (``-``: stdout)."""

    def __init__(self, path: str) -> None:
        """Open a temporary file beside ``path`` (or use stdout for ``-``)."""
        self._final: Path | None = None
        self._tmp: Path | None = None
        if path == "-":
            self._out: IO[str] = sys.stdout
            return
        self._final = Path(path)
        self._tmp = self._final.parent / f".{self._final.name}.coldseal-{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            self._out = os.fdopen(fd, "w", encoding="utf-8")
        except OSError as error:
            raise StorageError(f"{path}: cannot write the report ({error.strerror})") from None

    def write(self, body: dict[str, Any]) -> None:
        """Append one JSON line."""
        try:
            self._out.write(json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n")
        except OSError as error:
            self.abort()
            raise StorageError(
                f"{self._final}: cannot write the report ({error.strerror})"
            ) from None

    def commit(self) -> None:
        """Flush, and move the finished report into place."""
        if self._tmp is None or self._final is None:
            self._out.flush()
            return
        try:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            os.rename(self._tmp, self._final)
        except OSError as error:
            self.abort()
            raise StorageError(
                f"{self._final}: cannot write the report ({error.strerror})"
            ) from None
        self._tmp = None

    def abort(self) -> None:
        """Drop an unfinished report."""
        if self._tmp is not None:
            self._out.close()
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
