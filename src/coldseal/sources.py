"""Inputs to seal: a folder or a .zip, scanned and streamed deterministically.

An input is read as a sorted list of entries, then as one logical stream.

The stream is every regular file's bytes back to back in path order,
followed by the file index (see :mod:`coldseal.format.index`). Nothing about
the input's own packaging (zip compression, timestamps, owners) survives, so
the same tree always gives the same plaintext. Unsafe entries are refused
before anything is written.
"""

from __future__ import annotations

import bisect
import errno
import functools
import lzma
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from coldseal.errors import ColdsealError, StorageError, UsageError
from coldseal.format import index as index_format
from coldseal.format.paths import DIR, FILE, MAX_PATH_BYTES, SYMLINK, check_tree

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

READ_BLOCK = 1 << 20

# What reading a malformed zip raises besides OSError: zipfile's own errors,
# the decompressors' errors, a non-UTF-8 name flagged as UTF-8, an
# unsupported method or version, an encrypted member. Most of these were
# found by fuzzing (tests/fuzz/fuzz_parsers.py, target "zip").
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    OSError,
)


def _zip_failure(where: object, error: BaseException) -> ColdsealError:
    """The error for a failed zip read: unreadable input (exit 2) unless the disk failed.

    A bogus offset makes a seek fail with EINVAL and a bad bzip2 stream is an
    OSError without errno: both are the zip's fault, not the storage's.
    """
    if isinstance(error, OSError) and error.errno not in (None, errno.EINVAL):
        return StorageError(f"{where}: cannot read input ({error.strerror or error})")
    return UsageError(f"{where}: not a readable zip file ({error})")


@dataclass(frozen=True)
class SourceEntry:
    """An entry of the input: its index entry and how to read its bytes."""

    entry: index_format.Entry
    open: Callable[[], IO[bytes]] | None = None


class Source:
    """A scanned input: entries laid out, index encoded, ready to stream."""

    def __init__(
        self,
        entries: list[SourceEntry],
        closer: Callable[[], None] | None = None,
        root: Path | None = None,
    ) -> None:
        """Lay out ``entries`` and encode the index; refuses unsafe trees.

        With ``root`` (a folder input), any range of the stream can be read
        directly with :meth:`read_range`, from many threads at once.
        """
        check_tree([(s.entry.path, s.entry.kind, s.entry.target) for s in entries], sealing=True)
        openers = {s.entry.path: s.open for s in entries}
        self.entries = index_format.layout([s.entry for s in entries])
        self._openers = openers
        self.index_bytes = index_format.encode(self.entries)
        self.content_size = sum(e.size for e in self.entries if e.kind == FILE)
        self.size = self.content_size + len(self.index_bytes)
        self._closer = closer
        self.root = root
        self._files = [e for e in self.entries if e.kind == FILE and e.size]
        self._starts = [e.offset for e in self._files]

    @property
    def random_access(self) -> bool:
        """Whether :meth:`read_range` works (folder inputs)."""
        return self.root is not None

    def read_range(self, offset: int, out: memoryview) -> None:
        """Fill ``out`` with the stream's bytes from ``offset`` (folder inputs only).

        Each file is read with pread into its place in ``out``; a file whose
        size changed since the scan is refused.
        """
        assert self.root is not None
        end = offset + len(out)
        pos = offset
        i = max(0, bisect.bisect_right(self._starts, offset) - 1)
        while pos < min(end, self.content_size):
            e = self._files[i]
            i += 1
            if e.offset + e.size <= pos:
                continue
            start, stop = pos - e.offset, min(e.size, end - e.offset)
            path = self.root / e.path
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    if os.fstat(fd).st_size != e.size:
                        raise UsageError(f"{e.path}: changed size while it was being sealed")
                    target = out[pos - offset : pos - offset + stop - start]
                    done = 0
                    while done < len(target):
                        n = os.preadv(fd, [target[done:]], start + done)
                        if n == 0:
                            raise UsageError(f"{e.path}: changed size while it was being sealed")
                        done += n
                finally:
                    os.close(fd)
            except OSError as error:
                raise StorageError(f"{path}: cannot read input ({error.strerror})") from None
            pos = e.offset + stop
        if end > self.content_size:
            lo = max(offset, self.content_size)
            out[lo - offset :] = self.index_bytes[lo - self.content_size : end - self.content_size]

    def blocks(self) -> Iterator[bytes]:
        """The logical stream in pieces: file contents in order, then the index."""
        for e in self.entries:
            if e.kind != FILE:
                continue
            opener = self._openers[e.path]
            assert opener is not None
            remaining = e.size
            try:
                with opener() as handle:
                    while remaining:
                        piece = handle.read(min(READ_BLOCK, remaining))
                        if not piece:
                            break
                        remaining -= len(piece)
                        yield piece
                    extra = handle.read(1) if remaining == 0 else b""
            except _ZIP_ERRORS as error:
                raise _zip_failure(e.path, error) from None
            if remaining or extra:
                raise UsageError(f"{e.path}: changed size while it was being sealed")
        yield self.index_bytes

    def close(self) -> None:
        """Release the input (the open zip file, if any)."""
        if self._closer is not None:
            self._closer()


def _open_binary(path: str) -> IO[bytes]:
    return open(path, "rb")  # noqa: PTH123 - the caller closes it


def _folder_entries(root: Path) -> list[SourceEntry]:
    entries: list[SourceEntry] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        folder = os.path.join(root, rel_dir) if rel_dir else str(root)  # noqa: PTH118
        try:
            with os.scandir(folder) as it:
                items = sorted(it, key=lambda d: d.name)
        except OSError as error:
            raise StorageError(f"{folder}: cannot read folder ({error.strerror})") from None
        for item in items:
            rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
            try:
                st = item.stat(follow_symlinks=False)
            except OSError as error:
                raise StorageError(f"{item.path}: cannot stat ({error.strerror})") from None
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                entries.append(SourceEntry(index_format.Entry(rel, DIR, mode)))
                stack.append(rel)
            elif stat.S_ISREG(st.st_mode):
                entries.append(
                    SourceEntry(
                        index_format.Entry(rel, FILE, mode, size=st.st_size),
                        open=functools.partial(_open_binary, item.path),
                    )
                )
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(item.path)
                entries.append(SourceEntry(index_format.Entry(rel, SYMLINK, 0o777, target=target)))
            else:
                raise UsageError(
                    f"unsafe entry {rel!r}: devices, fifos and sockets cannot be sealed"
                )
    return entries


def _zip_entries(path: Path) -> tuple[list[SourceEntry], Callable[[], None]]:
    try:
        archive = zipfile.ZipFile(path)
    except OSError as error:
        raise UsageError(f"{path}: cannot open ({error.strerror})") from None
    except _ZIP_ERRORS as error:
        raise UsageError(f"{path}: not a readable zip file ({error})") from None
    entries: list[SourceEntry] = []
    seen: set[str] = set()
    try:
        for info in archive.infolist():
            name = info.filename
            is_dir = name.endswith("/")
            rel = name.rstrip("/") if is_dir else name
            if rel in seen:
                raise UsageError(f"unsafe entry {rel!r}: duplicate path")
            seen.add(rel)
            unix_mode = info.external_attr >> 16
            perm = stat.S_IMODE(unix_mode)
            if is_dir or stat.S_ISDIR(unix_mode):
                entries.append(SourceEntry(index_format.Entry(rel, DIR, perm or 0o755)))
            elif stat.S_ISLNK(unix_mode):
                if info.file_size > MAX_PATH_BYTES:
                    raise UsageError(f"unsafe entry {rel!r}: symlink target too long")
                target = archive.read(info).decode("utf-8", "surrogateescape")
                entries.append(SourceEntry(index_format.Entry(rel, SYMLINK, 0o777, target=target)))
            elif unix_mode and not stat.S_ISREG(unix_mode):
                raise UsageError(
                    f"unsafe entry {rel!r}: devices, fifos and sockets cannot be sealed"
                )
            else:
                entries.append(
                    SourceEntry(
                        index_format.Entry(rel, FILE, perm or 0o644, size=info.file_size),
                        open=functools.partial(archive.open, info),
                    )
                )
    except ColdsealError:
        archive.close()
        raise
    except _ZIP_ERRORS as error:
        archive.close()
        raise _zip_failure(path, error) from None
    except BaseException:
        archive.close()
        raise
    return entries, archive.close


def open_source(path: str | os.PathLike[str]) -> Source:
    """Scan a folder or a .zip file into a Source."""
    p = Path(path)
    if p.is_dir():
        return Source(_folder_entries(p), root=p)
    if p.is_file():
        entries, closer = _zip_entries(p)
        try:
            return Source(entries, closer)
        except BaseException:
            closer()
            raise
    if not p.exists():
        raise UsageError(f"{p}: no such file or folder")
    raise UsageError(f"{p}: not a folder or a .zip file")


def default_name(path: str | os.PathLike[str]) -> str:
    """An archive name from an input path: its base name without ``.zip``."""
    name = Path(path).resolve().name
    return name[:-4] if name.lower().endswith(".zip") else name
