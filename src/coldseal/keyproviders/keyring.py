"""A keyring: a folder of local KEKs named by key id, one of them current.

Layout: ``DIR/<key id>.kek`` files (the ``data.kek`` format, mode 0600) and
``DIR/CURRENT``, one line naming the id new archives are wrapped under. To
rotate, add a new KEK and make it current; archives wrapped under the old
one still open, because unwrapping looks the KEK up by the id the manifest
records. Once every archive is rewrapped (``coldseal rekey``), delete the old
file. Only the one KEK a command needs is ever read into memory.

The folder (and ``CURRENT``) must not be writable by group or others:
whoever can plant a KEK and point ``CURRENT`` at it can read every archive
sealed afterwards.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Self

from coldseal._atomic import replace_file
from coldseal.errors import IntegrityError, StorageError, UsageError
from coldseal.keys import KEK_MAGIC, Kek

if TYPE_CHECKING:
    from coldseal._native import Secret
    from coldseal.format.manifest import WrappedDek
    from coldseal.keyproviders import DekContext

CURRENT = "CURRENT"
SUFFIX = ".kek"
MAX_KEYS = 1024
_ID = re.compile(r"[0-9a-f]{16}")


class Keyring:
    """KEKs in one folder, looked up by the key id a manifest records."""

    scheme = Kek.scheme

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        """Open (without reading any key) the keyring in ``folder``."""
        self.folder = Path(folder)
        self.spec = f"keyring:{self.folder}"
        _check_private(self.folder, "keyring folder", directory=True)
        self._loaded: dict[str, Kek] = {}

    def ids(self) -> list[str]:
        """The key ids held, sorted."""
        found = []
        try:
            with os.scandir(self.folder) as entries:
                for entry in entries:
                    stem = entry.name.removesuffix(SUFFIX)
                    if entry.name.endswith(SUFFIX) and _ID.fullmatch(stem):
                        found.append(stem)
                        if len(found) > MAX_KEYS:
                            raise UsageError(f"{self.folder}: more than {MAX_KEYS} keys")
        except OSError as error:
            raise StorageError(f"{self.folder}: cannot list ({error.strerror})") from None
        return sorted(found)

    def current_id(self) -> str:
        """The id new archives are wrapped under: CURRENT, or the only key."""
        path = self.folder / CURRENT
        if path.exists():
            _check_private(path, "keyring CURRENT file", directory=False)
            try:
                text = path.read_bytes()[:64].decode("ascii", "replace").strip()
            except OSError as error:
                raise StorageError(f"{path}: cannot read ({error.strerror})") from None
            if not _ID.fullmatch(text):
                raise UsageError(f"{path}: must hold one key id (16 lowercase hex digits)")
            return text
        ids = self.ids()
        if len(ids) == 1:
            return ids[0]
        raise UsageError(
            f"keyring {self.folder} holds {len(ids)} keys and no {CURRENT} file naming the "
            f"one to wrap new archives under (run: coldseal keyring use {self.folder} ID)"
        )

    def get(self, kid: str) -> Kek:
        """The KEK with id ``kid``; IntegrityError if the keyring lacks it."""
        kek = self._loaded.get(kid)
        if kek is not None:
            return kek
        path = self.folder / f"{kid}{SUFFIX}"
        if not _ID.fullmatch(kid) or not path.exists():
            raise IntegrityError(
                f"the data key is wrapped under KEK {kid}, which keyring {self.folder} "
                "does not hold"
            )
        kek = Kek.load(path)
        if kek.key_id != kid:
            kek.close()
            raise UsageError(f"{path} holds KEK {kek.key_id}; a keyring file is named by its id")
        self._loaded[kid] = kek
        return kek

    def new_data_key(self, archive: DekContext) -> tuple[Secret, WrappedDek]:
        """A fresh DEK wrapped under the current KEK."""
        return self.get(self.current_id()).new_data_key(archive)

    def wrap_data_key(self, dek: Secret, archive: DekContext) -> WrappedDek:
        """Wrap ``dek`` under the current KEK."""
        return self.get(self.current_id()).wrap_data_key(dek, archive)

    def unwrap_data_key(self, wrapped: WrappedDek, archive: DekContext) -> Secret:
        """Unwrap with the KEK the manifest names."""
        if wrapped.scheme != self.scheme:
            raise UsageError(f"the data key is wrapped by {wrapped.scheme}, not a local KEK")
        return self.get(wrapped.kek_id).unwrap_data_key(wrapped, archive)

    def close(self) -> None:
        """Wipe every KEK read so far."""
        for kek in self._loaded.values():
            kek.close()
        self._loaded.clear()

    def __enter__(self) -> Self:
        """Use as a context manager that wipes any key material on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Wipe any key material."""
        self.close()

    def __repr__(self) -> str:
        """The folder, never a key."""
        return f"Keyring({str(self.folder)!r})"


def _check_private(path: Path, what: str, *, directory: bool) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what}") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read {what} ({error.strerror})") from None
    if directory != stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path}: not a {'folder' if directory else 'regular file'}")
    if st.st_mode & 0o022:
        raise UsageError(
            f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run: chmod go-w {path}"
        )


def init_folder(folder: Path) -> None:
    """Create a keyring folder (0700) if it does not exist."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"{folder}: cannot create ({error.strerror})") from None


def add(folder: str | os.PathLike[str], kek: Kek, *, make_current: bool) -> str:
    """Store ``kek`` in the keyring (never overwriting); returns its id."""
    path = Path(folder)
    init_folder(path)
    _check_private(path, "keyring folder", directory=True)
    target = path / f"{kek.key_id}{SUFFIX}"
    if not target.exists():
        text = kek.file_bytes()
        try:
            replace_file(target, text, 0o600, "write")
        finally:
            text[:] = bytes(len(text))
    if make_current:
        use(path, kek.key_id)
    return kek.key_id


def use(folder: str | os.PathLike[str], kid: str) -> None:
    """Make ``kid`` the KEK new archives are wrapped under."""
    path = Path(folder)
    if not _ID.fullmatch(kid) or not (path / f"{kid}{SUFFIX}").exists():
        raise UsageError(f"keyring {path} holds no KEK {kid[:40]!r}")
    ring = Keyring(path)
    ring.get(kid)  # it must exist and hold what its name says
    ring.close()
    replace_file(path / CURRENT, f"{kid}\n".encode(), 0o600, "write")


__all__ = ["CURRENT", "KEK_MAGIC", "Keyring", "add", "init_folder", "use"]
