"""A sealed archive in a local folder, read with ``pread``.

Reads go straight into the caller's buffer with ``os.preadv`` (no
intermediate bytes object), release the GIL, and are safe from many threads
at once: each object has one descriptor opened lazily and shared, and
``pread`` carries its own offset.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from coldseal.errors import StorageError, UsageError


class LocalStorage:
    """Objects are files in one folder."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        """Read from ``folder``, which must exist."""
        self.folder = Path(folder)
        if not self.folder.is_dir():
            if self.folder.exists():
                raise UsageError(f"{self.folder}: not a sealed archive folder")
            raise StorageError(f"{self.folder}: no such folder")
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()
        self._requests = 0
        self._bytes = 0
        self._seconds = 0.0

    request_size = 1 << 20
    concurrency = 0

    def stats_json(self) -> dict[str, float]:
        """Reads made and bytes read."""
        return {
            "requests": self._requests,
            "bytes_fetched": self._bytes,
            "retries": 0,
            "hedges": 0,
            "network_seconds": round(self._seconds, 6),
        }

    def describe(self, name: str) -> str:
        """The object's path."""
        return str(self.folder / name)

    def _fd(self, name: str) -> int:
        with self._lock:
            fd = self._fds.get(name)
            if fd is None:
                try:
                    fd = os.open(self.folder / name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
                except FileNotFoundError:
                    raise StorageError(f"{self.describe(name)}: missing") from None
                except OSError as error:
                    raise StorageError(f"{self.describe(name)}: {error.strerror}") from None
                self._fds[name] = fd
            return fd

    def size(self, name: str) -> int:
        """The file's size."""
        try:
            return os.fstat(self._fd(name)).st_size
        except OSError as error:
            raise StorageError(f"{self.describe(name)}: {error.strerror}") from None

    def read_object(self, name: str, max_size: int) -> bytes:
        """The whole file, refusing one larger than ``max_size``."""
        size = self.size(name)
        if size > max_size:
            from coldseal.errors import IntegrityError  # noqa: PLC0415

            raise IntegrityError(
                f"{self.describe(name)}: {size} bytes is over the {max_size}-byte limit"
            )
        buf = bytearray(size)
        self.read_into(name, 0, memoryview(buf))
        return bytes(buf)

    def read_into(self, name: str, offset: int, out: memoryview) -> None:
        """Fill ``out`` from ``offset``."""
        fd = self._fd(name)
        done = 0
        total = len(out)
        started = time.monotonic()
        while done < total:
            try:
                n = os.preadv(fd, [out[done:]], offset + done)
            except OSError as error:
                raise StorageError(
                    f"{self.describe(name)}: read at {offset + done} failed ({error.strerror})"
                ) from None
            if n == 0:
                raise StorageError(
                    f"{self.describe(name)}: ends before byte {offset + total} (truncated?)"
                )
            done += n
        with self._lock:
            self._requests += 1
            self._bytes += total
            self._seconds += time.monotonic() - started

    def fetch(self, name: str, offset: int, length: int) -> bytes | bytearray | memoryview:
        """Up to ``length`` bytes from ``offset`` (fewer at the file's end)."""
        size = self.size(name)
        buf = bytearray(max(0, min(length, size - offset)))
        if buf:
            self.read_into(name, offset, memoryview(buf))
        return buf

    def close(self) -> None:
        """Close every descriptor."""
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
