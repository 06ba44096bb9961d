"""Folders that appear whole or not at all.

Output is written into a hidden temporary folder beside the destination and
renamed into place only when complete; on failure the temporary folder is
removed. The destination must not exist, or be an empty folder (rename(2)
replaces an empty directory atomically).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Self

from coldseal.errors import StorageError, UsageError


def fsync_dir(path: Path) -> None:
    """Make a folder's entries durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write all of ``data`` to ``fd`` with unbuffered ``os.write`` calls."""
    view = memoryview(data)
    while len(view) > 0:
        view = view[os.write(fd, view) :]


def replace_file(path: Path, data: bytes | bytearray, mode: int, what: str) -> None:
    """Replace ``path`` by ``data`` atomically and durably; ``what`` names it in errors.

    The bytes go into a new sibling file (``O_EXCL``, created with ``mode``)
    written with unbuffered ``os.write`` (no buffered copy of key text is
    left behind), fsynced, renamed over ``path``, and the folder is fsynced.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
        fsync_dir(path.parent)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"{path}: cannot {what} ({error.strerror})") from None


class AtomicFolder:
    """A temporary folder that becomes ``final`` on :meth:`commit`."""

    def __init__(self, final: str | os.PathLike[str]) -> None:
        """Check the destination and create the temporary folder next to it."""
        self.final = Path(final)
        if self.final.is_symlink() or (self.final.exists() and not self.final.is_dir()):
            raise UsageError(f"{self.final} exists and is not a folder")
        if self.final.is_dir() and any(self.final.iterdir()):
            raise UsageError(f"{self.final} exists and is not empty; choose a new folder")
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.path = (
                self.final.parent / f".{self.final.name}.coldseal-{secrets.token_hex(6)}.tmp"
            )
            self.path.mkdir(mode=0o700)
        except OSError as error:
            raise StorageError(
                f"{self.final.parent}: cannot create a folder ({error.strerror})"
            ) from None
        self._done = False

    def commit(self, mode: int = 0o755) -> None:
        """Rename the finished folder into place, durably."""
        try:
            fsync_dir(self.path)
            self.path.chmod(mode)
            os.rename(self.path, self.final)
            fsync_dir(self.final.parent)
        except OSError as error:
            self.abort()
            raise StorageError(
                f"{self.final}: cannot move the finished folder into place ({error.strerror})"
            ) from None
        self._done = True

    def abort(self) -> None:
        """Remove the temporary folder and everything in it."""
        if not self._done:
            shutil.rmtree(self.path, ignore_errors=True)
            self._done = True

    def __enter__(self) -> Self:
        """Use as a context manager: abort unless committed."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Abort if the block did not commit."""
        self.abort()
