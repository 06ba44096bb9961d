"""Writing verified files into a fresh folder.

Content arrives as the verified logical stream, in order; the extractor
cuts it into the index's files. Every path was checked by the index parser
(relative, no '..', parents are folders of the archive, symlinks stay
inside), the folder is new and private, and files are created with
``O_EXCL | O_NOFOLLOW``, so nothing can be written outside it. Symlinks are
created and folder modes applied last, once every file is in place.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from coldseal.errors import IntegrityError, StorageError
from coldseal.format.paths import DIR, FILE, SYMLINK

if TYPE_CHECKING:
    from pathlib import Path

    from coldseal.format.index import Entry

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Extractor:
    """Cuts the verified content stream into the files of the index."""

    def __init__(self, root: Path, entries: list[Entry]) -> None:
        """Prepare to extract ``entries`` under the (new, empty) folder ``root``."""
        self.root = root
        self.entries = entries
        self._files = [e for e in entries if e.kind == FILE]
        self._next = 0
        self._fd = -1
        self._left = 0
        self.files_written = 0
        try:
            for e in entries:
                if e.kind == DIR:
                    (root / e.path).mkdir(mode=0o700, parents=True, exist_ok=True)
                else:
                    (root / e.path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"{root}: cannot create folders ({error.strerror})") from None
        self._open_next()

    def _open_next(self) -> None:
        """Open the next file, creating any empty files on the way."""
        while self._next < len(self._files):
            e = self._files[self._next]
            self._next += 1
            try:
                fd = os.open(self.root / e.path, _CREATE, 0o600)
                if e.size == 0:
                    os.fchmod(fd, e.mode)
                    os.close(fd)
                    self.files_written += 1
                    continue
            except OSError as error:
                raise StorageError(
                    f"{self.root / e.path}: cannot create ({error.strerror})"
                ) from None
            self._fd, self._left, self._current = fd, e.size, e
            return
        self._fd = -1

    def feed(self, data: memoryview) -> None:
        """Write the next verified bytes of the content."""
        while len(data):
            if self._fd < 0:
                raise IntegrityError("file index: content is longer than its files")
            take = min(self._left, len(data))
            try:
                written = 0
                while written < take:
                    written += os.write(self._fd, data[written:take])
            except OSError as error:
                raise StorageError(
                    f"{self.root / self._current.path}: cannot write ({error.strerror})"
                ) from None
            data = data[take:]
            self._left -= take
            if self._left == 0:
                self._close_current()
                self._open_next()

    def _close_current(self) -> None:
        try:
            os.fchmod(self._fd, self._current.mode)
            os.close(self._fd)
        except OSError as error:
            raise StorageError(f"{self.root / self._current.path}: {error.strerror}") from None
        self._fd = -1
        self.files_written += 1

    def finish(self) -> None:
        """Create symlinks and apply folder modes; every file must be complete."""
        if self._fd >= 0 or self._next < len(self._files):
            raise IntegrityError("file index: content ended before its files")
        try:
            for e in self.entries:
                if e.kind == SYMLINK and e.target is not None:
                    os.symlink(e.target, self.root / e.path)
            # Deepest first, so a read-only folder is sealed after its children.
            for e in sorted(
                (e for e in self.entries if e.kind == DIR),
                key=lambda e: e.path.count("/"),
                reverse=True,
            ):
                os.chmod(self.root / e.path, e.mode, follow_symlinks=False)
        except OSError as error:
            raise StorageError(
                f"{self.root}: cannot finish extraction ({error.strerror})"
            ) from None

    def abort(self) -> None:
        """Close any open file (the folder itself is removed by its owner)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
