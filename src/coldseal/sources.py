"""Inputs to seal: a folder or a .zip, scanned and streamed deterministically.

An input is read as a sorted list of entries, then as one logical stream.

The stream is every regular file's bytes back to back in path order,
followed by the file index (see :mod:`coldseal.format.index`). Nothing about
the input's own packaging (zip compression, timestamps, owners) survives, so
the same tree always gives the same plaintext. Unsafe entries are refused
before anything is written.
"""

from __future__ import annotations

import functools
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from coldseal.errors import StorageError, UsageError
from coldseal.format import index as index_format
from coldseal.format.paths import DIR, FILE, MAX_PATH_BYTES, SYMLINK, check_tree

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class SourceEntry:
    """An entry of the input: its index entry and how to read its bytes."""

    entry: index_format.Entry
    open: Callable[[], IO[bytes]] | None = None


class Source:
    """A scanned input: entries laid out, index encoded, ready to stream."""

    def __init__(
        self, entries: list[SourceEntry], closer: Callable[[], None] | None = None
    ) -> None:
        """Lay out ``entries`` and encode the index; refuses unsafe trees."""
        check_tree([(s.entry.path, s.entry.kind, s.entry.target) for s in entries], sealing=True)
        openers = {s.entry.path: s.open for s in entries}
        self.entries = index_format.layout([s.entry for s in entries])
        self._openers = openers
        self.index_bytes = index_format.encode(self.entries)
        self.content_size = sum(e.size for e in self.entries if e.kind == FILE)
        self.size = self.content_size + len(self.index_bytes)
        self._closer = closer

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
            except (OSError, zipfile.BadZipFile, EOFError) as error:
                raise StorageError(f"{e.path}: cannot read input ({error})") from None
            if remaining or extra:
                raise UsageError(f"{e.path}: changed size while it was being sealed")
        yield self.index_bytes

    def close(self) -> None:
        """Release the input (the open zip file, if any)."""
        if self._closer is not None:
            self._closer()


def _open_binary(path: Path) -> IO[bytes]:
    return path.open("rb")


def _folder_entries(root: Path) -> list[SourceEntry]:
    entries: list[SourceEntry] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=_walk_error):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames) + sorted(filenames):
            full = base / name
            rel = full.relative_to(root).as_posix()
            try:
                st = full.lstat()
            except OSError as error:
                raise StorageError(f"{full}: cannot stat ({error.strerror})") from None
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                entries.append(SourceEntry(index_format.Entry(rel, DIR, mode)))
            elif stat.S_ISREG(st.st_mode):
                entries.append(
                    SourceEntry(
                        index_format.Entry(rel, FILE, mode, size=st.st_size),
                        open=functools.partial(_open_binary, full),
                    )
                )
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(full)
                entries.append(SourceEntry(index_format.Entry(rel, SYMLINK, 0o777, target=target)))
            else:
                raise UsageError(
                    f"unsafe entry {rel!r}: devices, fifos and sockets cannot be sealed"
                )
    return entries


def _walk_error(error: OSError) -> None:
    raise StorageError(f"{error.filename}: cannot read folder ({error.strerror})")


def _zip_entries(path: Path) -> tuple[list[SourceEntry], Callable[[], None]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise UsageError(f"{path}: not a readable zip file ({error})") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot open ({error.strerror})") from None
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
    except (zipfile.BadZipFile, NotImplementedError, EOFError, RuntimeError) as error:
        archive.close()
        raise UsageError(f"{path}: not a readable zip file ({error})") from None
    except BaseException:
        archive.close()
        raise
    return entries, archive.close


def open_source(path: str | os.PathLike[str]) -> Source:
    """Scan a folder or a .zip file into a Source."""
    p = Path(path)
    if p.is_dir():
        return Source(_folder_entries(p))
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
